"""pipeline("sign-translation"), checkpoint export, the `sign-translation` CLI, and pushing to a loopback Hub then
loading by repo id in fresh processes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hub_server import hub_client_env, hub_server, last_json_line, run_python  # noqa: F401 — hub_server: fixture
from huggingface_hub import ModelCard
from PIL import Image
from transformers import pipeline

from sign_translation import (
    FlaLlmConfig,
    FlaLlmForConditionalGeneration,
    MMSLTConfig,
    MMSLTForConditionalGeneration,
    SignTranslationPipeline,
    SignTranslationProcessor,
    SignVideoProcessor,
)
from sign_translation.cli import main as cli
from sign_translation.hub import export_checkpoint

SENTENCES = ["it will rain in the north", "there is wind in the south"]
REPO = Path(__file__).resolve().parents[1]


def _trained_checkpoint(folder: Path, tiny_tokenizer, family: str = "fla_llm") -> Path:
    """A tiny model fine-tuned for a few steps to say SENTENCES[0] for anything (so outputs are real text)."""
    torch.manual_seed(0)
    if family == "fla_llm":
        model = FlaLlmForConditionalGeneration(FlaLlmConfig.tiny(vocab_size=len(tiny_tokenizer), label_smoothing=0.0))
    else:
        model = MMSLTForConditionalGeneration(MMSLTConfig.tiny(vocab_size=len(tiny_tokenizer), label_smoothing=0.0,
                                                               llm_finetuning="full"))
    processor = SignTranslationProcessor(SignVideoProcessor(size=32, crop_size=28, frame_stride=2), tiny_tokenizer)
    labels = processor(text=[SENTENCES[0]] * 2)["labels"]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for _ in range(60):
        video = torch.randn(2, 12, 3, 28, 28)
        loss = model(pixel_values_videos=video, video_mask=torch.ones(2, 12, dtype=torch.long), labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    model.generation_config.num_beams = 2
    model.generation_config.max_new_tokens = 16
    return export_checkpoint(model, processor, folder, dataset_name="synthetic")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, tiny_tokenizer) -> Path:
    return _trained_checkpoint(tmp_path_factory.mktemp("fla_checkpoint"), tiny_tokenizer)


@pytest.fixture(scope="module")
def translator(checkpoint):
    return pipeline("sign-translation", model=str(checkpoint))


@pytest.fixture(scope="module")
def expected(translator, real_videos) -> str:
    """What the in-process model says (it was trained to say SENTENCES[0] whatever the video)."""
    import difflib

    text = translator(str(real_videos["SOUP.mp4"]))["translation_text"]
    assert difflib.SequenceMatcher(None, text, SENTENCES[0]).ratio() > 0.8, text
    return text


def test_export_writes_a_complete_checkpoint(checkpoint):
    files = {p.name for p in checkpoint.iterdir()}
    assert {"config.json", "model.safetensors", "generation_config.json", "processor_config.json", "tokenizer.json",
            "pipeline_sign_translation.py", "modeling_fla_llm.py", "processing_sign_translation.py",
            "README.md"} <= files
    config = json.loads((checkpoint / "config.json").read_text())
    assert config["custom_pipelines"]["sign-translation"]["impl"] == "pipeline_sign_translation.SignTranslationPipeline"
    assert config["auto_map"]["AutoModelForSeq2SeqLM"] == "modeling_fla_llm.FlaLlmForConditionalGeneration"
    card = ModelCard.load(checkpoint / "README.md")
    assert card.data.pipeline_tag == "video-text-to-text" and "sign-language" in card.data.tags
    assert 'pipeline("sign-translation"' in card.text


def test_pipeline_inputs_outputs_and_batching(translator, expected, real_videos, tmp_path):
    assert isinstance(translator, SignTranslationPipeline)
    path = str(real_videos["SOUP.mp4"])
    assert translator(path) == {"translation_text": expected}
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(8):
        Image.fromarray(np.full((40, 40, 3), 20 * i, np.uint8)).save(folder / f"images{i + 1:04d}.png")
    array = np.random.default_rng(0).integers(0, 255, (10, 40, 40, 3), dtype=np.uint8)
    inputs = [path, str(folder), array, torch.from_numpy(array).permute(0, 3, 1, 2)]
    one_by_one = translator(inputs, batch_size=1)
    batched = translator(inputs, batch_size=3)  # pads videos of different lengths; the mask keeps results equal
    assert isinstance(batched, list) and len(batched) == 4
    assert batched == one_by_one and all(r == {"translation_text": expected} for r in batched)


def test_generation_and_video_kwargs_pass_through(translator, expected, real_videos):
    path = str(real_videos["SOUP.mp4"])
    # the labels start with the language code and a bare "▁" piece: 4 new tokens give the first word
    short = translator(path, max_new_tokens=4, num_beams=1)["translation_text"]
    assert short and len(short) < len(expected) and expected.startswith(short)
    seen = {}
    original = translator.model.generate

    def spy(**kwargs):
        seen.update(kwargs)
        return original(**kwargs)

    translator.model.generate = spy
    try:
        translator(path, num_beams=3, frame_stride=4)
    finally:
        translator.model.generate = original
    assert seen["num_beams"] == 3 and seen["video_mask"].shape[1] == 11  # 41 frames, every 4th
    with pytest.raises(TypeError, match="unknown argument"):
        translator(path, frame_strde=2)


def test_all_four_real_videos_through_the_pipeline(translator, expected, real_videos):
    results = translator([str(p) for p in real_videos.values()], batch_size=2)
    assert [r["translation_text"] for r in results] == [expected] * 4


def test_mmslt_checkpoint_through_the_pipeline(tmp_path, tiny_tokenizer, real_videos):
    folder = _trained_checkpoint(tmp_path / "mmslt", tiny_tokenizer, family="mmslt")
    translator = pipeline("sign-translation", model=str(folder))
    result = translator(str(real_videos["video.mp4"]))
    assert result["translation_text"] and translator([str(real_videos["video.mp4"])] * 2, batch_size=2) == [result] * 2
    assert json.loads((folder / "config.json").read_text())["model_type"] == "mmslt"


PIPELINE_CODE = """
import json, sys
if sys.argv[2] == "remote":
    sys.modules["sign_translation"] = None  # the package is NOT importable: only the checkpoint's code
else:
    import sign_translation  # registers the task
from transformers import pipeline
kwargs = {"trust_remote_code": True} if sys.argv[2] == "remote" else {}
translator = pipeline("sign-translation", model=sys.argv[1], **kwargs)
print(json.dumps({"module": type(translator).__module__, "model": type(translator.model).__module__,
                  "out": translator(sys.argv[3:], batch_size=2)}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["package", "remote"])
def test_pipeline_in_a_fresh_process(checkpoint, expected, real_videos, tmp_path, mode):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules")}
    videos = [str(real_videos["SOUP.mp4"]), str(real_videos["test_video.mp4"])]
    result = subprocess.run([sys.executable, "-c", PIPELINE_CODE, str(checkpoint), mode, *videos],
                            capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    payload = last_json_line(result.stdout)
    assert payload["out"] == [{"translation_text": expected}] * 2
    if mode == "remote":
        assert "transformers_modules" in payload["module"] and "transformers_modules" in payload["model"]
    else:
        assert payload["module"] == "sign_translation.pipeline_sign_translation"


def test_cli_translate_prints_json_lines_and_writes_a_file(checkpoint, expected, real_videos, tmp_path, capsys):
    videos = [str(real_videos["SOUP.mp4"]), str(real_videos["video.mp4"])]
    code = cli(["-q", "translate", "--model", str(checkpoint), *videos, "--output", str(tmp_path / "out.jsonl")])
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert lines == [{"video": v, "translation_text": expected} for v in videos]
    assert [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()] == lines


def test_cli_errors_and_exit_codes(checkpoint, tmp_path, capsys):
    assert cli(["translate", "--model", str(checkpoint), str(tmp_path / "missing.mp4")]) == 2
    assert "not found" in capsys.readouterr().err
    (tmp_path / "notes.mp4").write_text("not a video")
    assert cli(["translate", "--model", str(checkpoint), str(tmp_path / "notes.mp4")]) == 2
    assert "notes.mp4" in capsys.readouterr().err
    assert cli(["translate", "--model", str(tmp_path / "no_such_model"), str(tmp_path / "notes.mp4")]) == 2
    assert "no_such_model" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli(["translate", str(tmp_path / "notes.mp4")])  # --model missing: argparse's usage error
    assert exit_info.value.code == 2
    assert cli(["push", str(tmp_path), "--repo-id", "x/y"]) == 2  # not a checkpoint folder


def test_cli_evaluate(checkpoint, expected, tiny_corpus, tmp_path, capsys):
    code = cli(["-q", "evaluate", "--model", str(checkpoint), "--data-dir", str(tiny_corpus), "--split", "test",
                "--output", str(tmp_path / "eval.json")])
    assert code == 0
    printed = capsys.readouterr().out
    assert "BLEU4" in printed and "ROUGE-L" in printed and "nrefs:1" in printed
    report = json.loads((tmp_path / "eval.json").read_text())
    assert len(report["translations"]) == 6 and 0 <= report["metrics"]["bleu4"] <= 100
    assert all(row["hypothesis"] == expected for row in report["translations"])


LOAD_BY_ID = """
import json, sys
if sys.argv[2] == "remote":
    sys.modules["sign_translation"] = None
else:
    import sign_translation
from transformers import pipeline
kwargs = {"trust_remote_code": True} if sys.argv[2] == "remote" else {}
print(json.dumps(pipeline("sign-translation", model=sys.argv[1], **kwargs)(sys.argv[3])))
"""


@pytest.mark.slow
def test_cli_push_then_pipeline_by_repo_id_in_a_fresh_environment(hub_server, checkpoint, expected, real_videos,  # noqa: F811
                                                                  tmp_path):
    env = hub_client_env(hub_server.endpoint, tmp_path / "hf_push")
    run_python("import sys; from sign_translation.cli import main; sys.exit(main(sys.argv[1:]))", env,
               args=["-q", "push", str(checkpoint), "--repo-id", "test-user/fla-tiny", "--dataset", "synthetic"])
    files = set(hub_server.list_files("test-user/fla-tiny"))
    assert {"config.json", "model.safetensors", "pipeline_sign_translation.py", "processor_config.json",
            "README.md", "modeling_fla_llm.py"} <= files
    card = ModelCard(hub_server.read_file("test-user/fla-tiny", "README.md").decode())
    assert card.data.library_name == "transformers" and "custom_code" in card.data.tags
    for mode in ("package", "remote"):  # empty HF cache each time
        fresh = hub_client_env(hub_server.endpoint, tmp_path / f"hf_{mode}")
        out = run_python(LOAD_BY_ID, fresh, args=["test-user/fla-tiny", mode, str(real_videos["SOUP.mp4"])])
        assert last_json_line(out.stdout) == {"translation_text": expected}


@pytest.mark.slow
def test_training_script_pushes_checkpoint_with_code_pipeline_and_our_card(hub_server, tiny_corpus, tmp_path):  # noqa: F811
    from test_training import TINY_STAGE1

    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({**TINY_STAGE1, "max_steps": 2, "save_strategy": "steps", "save_steps": 1,
                                  "test_split": ""}))
    env = hub_client_env(hub_server.endpoint, tmp_path / "hf_train")
    run_python("import sys; from sign_translation.train_scripts.run_fla_llm import main; main(sys.argv[1:])", env,
               args=["--recipe", str(recipe), "--data_dir", str(tiny_corpus), "--output_dir", str(tmp_path / "run"),
                     "--push_to_hub", "true", "--hub_model_id", "test-user/fla-stage1", "--hub_strategy", "every_save"],
               timeout=300)
    files = set(hub_server.list_files("test-user/fla-stage1"))
    assert {"config.json", "model.safetensors", "modeling_fla_llm.py", "visual_encoder.py", "processor_config.json",
            "tokenizer.json", "pipeline_sign_translation.py", "results.json", "README.md"} <= files
    # weights as safetensors only, no Trainer checkpoint folders (Trainer's own training_args.bin is kept)
    assert not any(f.startswith("checkpoint-") or f.endswith(".bin") and f != "training_args.bin" for f in files)
    commits = hub_server.commits("test-user/fla-stage1")
    assert len(commits) >= 3  # intermediate Trainer pushes + ours
    card = ModelCard(hub_server.read_file("test-user/fla-stage1", "README.md").decode())
    assert card.data.pipeline_tag == "video-text-to-text"  # our card, not the Trainer's
    config = json.loads(hub_server.read_file("test-user/fla-stage1", "config.json"))
    assert "sign-translation" in config["custom_pipelines"]
