"""Model cards and Hub pushes: the card rendered from config + training arguments + results, the completeness check,
and a real push → load-by-repo-id round trip against the loopback Hub in `tests/hub_server.py` (fresh processes,
empty caches, with and without the package installed)."""

import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch
from hub_server import hub_client_env, hub_server, last_json_line, run_python  # noqa: F401 — hub_server: fixture
from huggingface_hub import EvalResult, ModelCard

from sign_translation import (
    FlaLlmConfig,
    FlaLlmForConditionalGeneration,
    SignInputError,
    SignTranslationProcessor,
    SignVideoProcessor,
)
from sign_translation.hub import (
    check_checkpoint,
    count_parameters,
    push_checkpoint_to_hub,
    render_model_card,
    write_model_card,
)
from sign_translation.tokenization import train_mbart_tokenizer

VIDEO = Path(__file__).resolve().parent / "data" / "SOUP.mp4"
REPO_ID = "test-user/tiny-fla-llm"
SIGNATURE = "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.5.1"
RESULTS = {
    "train": {"epoch": 3.0, "train_loss": 4.25, "train_runtime": 12.5},
    "dev": {"dev_bleu1": 41.5, "dev_bleu2": 30.25, "dev_bleu3": 22.75, "dev_bleu4": 17.5, "dev_rouge_l": 40.25,
            "dev_loss": 3.5, "dev_num_examples": 519, "signature": SIGNATURE},
    "test": {"test_bleu1": 46.29, "test_bleu2": 35.33, "test_bleu3": 28.03, "test_bleu4": 23.09,
             "test_rouge_l": 45.27, "test_num_examples": 642, "signature": SIGNATURE},
}
STAGE1_ARGS = {"stage": 1, "optim": "sgd", "optim_args": "momentum=0.9", "learning_rate": 0.01,
               "lr_scheduler_type": "cosine", "per_device_train_batch_size": 8, "num_train_epochs": 75,
               "frame_stride": 4, "max_frames": 300, "image_size": 256, "crop_size": 224, "seed": 42,
               "output_dir": "/home/someone/runs/stage1"}
STAGE2_ARGS = {"stage": 2, "optim": "adamw_torch", "learning_rate": 1e-3, "llm_learning_rate": 1e-5,
               "lr_scheduler_type": "cosine", "per_device_train_batch_size": 16, "num_train_epochs": 40,
               "llm_name_or_path": "facebook/mbart-large-cc25", "seed": 42, "generation_num_beams": 5}


def greedy(model, processor) -> dict:
    batch = processor(videos=[str(VIDEO)])
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=8, num_beams=1, do_sample=False, output_scores=True,
                             return_dict_in_generate=True)
    return {"ids": out.sequences.tolist(), "scores": [s.tolist() for s in out.scores]}


# Code run in fresh client processes (sys.argv: repo id, video, trust_remote_code flag).
LOAD_CODE = """
import json, sys
if sys.argv[3] == "remote":
    sys.modules["sign_translation"] = None  # the package must not be importable: code comes from the repo
else:
    import sign_translation  # registers the classes with the Auto* factories
import torch
from transformers import AutoModelForSeq2SeqLM, AutoProcessor
remote = sys.argv[3] == "remote"
model = AutoModelForSeq2SeqLM.from_pretrained(sys.argv[1], trust_remote_code=remote).eval()
processor = AutoProcessor.from_pretrained(sys.argv[1], trust_remote_code=remote)
batch = processor(videos=[sys.argv[2]])
with torch.no_grad():
    out = model.generate(**batch, max_new_tokens=8, num_beams=1, do_sample=False, output_scores=True,
                         return_dict_in_generate=True)
print(json.dumps({
    "ids": out.sequences.tolist(), "scores": [s.tolist() for s in out.scores],
    "text": processor.batch_decode(out.sequences, skip_special_tokens=True),
    "model_module": type(model).__module__, "processor_module": type(processor).__module__,
    "video_processor_module": type(processor.video_processor).__module__,
}))
"""


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A saved tiny FLa-LLM checkpoint with results.json, Trainer leftovers that must not be uploaded, and what the
    in-process model generates for SOUP.mp4."""
    folder = tmp_path_factory.mktemp("tiny_fla_llm") / "output"
    torch.manual_seed(0)
    tokenizer = train_mbart_tokenizer(["it will rain in the north", "sunny in the south"] * 5, vocab_size=60)
    model = FlaLlmForConditionalGeneration(FlaLlmConfig.tiny(vocab_size=len(tokenizer))).eval()
    processor = SignTranslationProcessor(SignVideoProcessor(size=32, crop_size=28), tokenizer)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    (folder / "results.json").write_text(json.dumps(RESULTS))
    (folder / "training_args.json").write_text(json.dumps([STAGE1_ARGS, STAGE2_ARGS]))
    for leftover in ("checkpoint-5/optimizer.pt", "checkpoint-5/model.safetensors", "feature_cache/train-ab.arrow",
                     "training_args.bin", "translations_test.json", "config.json.tmp"):
        (folder / leftover).parent.mkdir(parents=True, exist_ok=True)
        (folder / leftover).write_bytes(b"not for the hub")
    return {"folder": folder, "reference": greedy(model, processor), "num_parameters": model.num_parameters()}


# ---------------------------------------------------------------------------------------------- model card
def test_card_metadata_sections_and_table(tiny_checkpoint):
    card = render_model_card(
        FlaLlmConfig.tiny(vocab_size=60),
        training_args=[STAGE1_ARGS, STAGE2_ARGS],
        eval_results={k: v for k, v in RESULTS.items() if k != "train"},
        train_metrics=RESULTS["train"],
        dataset_name="phoenix14t",
        model_id=REPO_ID,
        num_parameters=85_704,
    )
    parsed = ModelCard(str(card))  # parse the rendered text back, as the Hub would
    data = parsed.data
    assert data.pipeline_tag == "video-text-to-text" and data.library_name == "transformers"
    assert {"sign-language", "sign-language-translation", "custom_code", "fla-llm"} <= set(data.tags)
    assert data.license == "apache-2.0" and data.datasets == ["phoenix14t"] and data.language == ["de", "gsg"]
    assert data.base_model == "facebook/mbart-large-cc25"  # from the stage-2 arguments
    got = {(r.dataset_split, r.metric_name): r.metric_value for r in data.eval_results}
    for split in ("dev", "test"):
        for key, name in (("bleu1", "BLEU-1"), ("bleu4", "BLEU-4"), ("rouge_l", "ROUGE-L")):
            assert got[(split, name)] == RESULTS[split][f"{split}_{key}"]
    assert {r.metric_type for r in data.eval_results} == {"bleu", "rouge"}
    assert {r.task_type for r in data.eval_results} == {"translation"}
    assert {(r.dataset_type, r.dataset_name) for r in data.eval_results} == {("phoenix14t", "RWTH-PHOENIX-Weather 2014 T")}
    assert data.to_dict()["model-index"][0]["name"] == "tiny-fla-llm"

    text = parsed.text
    for section in ("## Model description", "## Intended uses and limitations", "## Training data",
                    "## Training procedure", "### Stage 1: visual initialising", "### Stage 2: LLM fine-tuning",
                    "## Evaluation", "## How to use", "## Citation"):
        assert section in text, section
    assert "| test | 46.29 | 35.33 | 28.03 | 23.09 | 45.27 | 642 |" in text
    assert "| dev | 41.50 | 30.25 | 22.75 | 17.50 | 40.25 | 519 |" in text
    assert SIGNATURE in text and "sacrebleu corpus BLEU" in text and "nlg-eval" in text
    assert 'pipeline("sign-translation", model="test-user/tiny-fla-llm")' in text
    assert "trust_remote_code=True" in text and "AutoModelForSeq2SeqLM" in text
    assert "| learning rate | 0.001 (adapter), 1e-05 (LLM) |" in text and "| optimizer | sgd (momentum=0.9) |" in text
    assert "every 4th frame, at most 300 frames" in text and "| label smoothing | 0.2 |" in text
    assert "/home/someone" not in text  # no paths of the author's machine
    assert "LLM | `mbart`, encoder-decoder, 2+2 layers, hidden 32" in text
    assert "not a substitute for a human interpreter" in text.lower()
    assert "@inproceedings{chen-etal-2024-factorized" in text and "2403.12556" in text


def test_card_accepts_flat_results_eval_result_lists_and_minimal_input():
    flat = render_model_card(FlaLlmConfig.tiny(vocab_size=60), eval_results={"bleu4": 12.5, "rouge_l": 30.0,
                                                                              "signature": SIGNATURE})
    results = flat.data.eval_results
    assert [(r.dataset_split, r.metric_name, r.metric_value) for r in results] == [
        ("test", "BLEU-4", 12.5), ("test", "ROUGE-L", 30.0)]
    assert "| test | — | — | — | 12.50 | 30.00 | — |" in flat.text

    given = [EvalResult(task_type="translation", dataset_type="csl_daily", dataset_name="CSL-Daily",
                        dataset_split="test", metric_type="bleu", metric_name="BLEU-4", metric_value=14.2)]
    card = render_model_card(FlaLlmConfig.tiny(vocab_size=60), eval_results=given, dataset_name="csl_daily",
                             license="cc-by-nc-4.0", language="zh")
    assert card.data.eval_results == given and card.data.license == "cc-by-nc-4.0" and card.data.language == ["zh"]
    assert "14.20" in card.text

    bare = render_model_card(FlaLlmConfig.tiny(vocab_size=60, architectures=["FlaLlmForVisualInitialization"]))
    assert bare.data.eval_results is None and "No evaluation results were recorded" in bare.text
    assert "output of stage 1 of 2" in bare.text and "Light-T translator" in bare.text
    assert "hyper-parameters of this stage were not recorded" in bare.text
    assert 'pipeline("sign-translation"' in bare.text and "from transformers import AutoModelForPreTraining," in bare.text

    with pytest.raises(SignInputError, match="bleu4"):
        render_model_card(FlaLlmConfig.tiny(vocab_size=60), eval_results={"bleu4": "high"})


def test_write_model_card_reads_the_checkpoint_folder(tiny_checkpoint):
    folder = tiny_checkpoint["folder"]
    assert count_parameters(folder) == tiny_checkpoint["num_parameters"]  # buffers are not parameters
    path = write_model_card(folder, dataset_name="phoenix14t")
    card = ModelCard.load(path)
    assert {(r.dataset_split, r.metric_name): r.metric_value for r in card.data.eval_results}[("test", "BLEU-4")] == 23.09
    assert "Parameters:" in card.text and "| learning rate | 0.01 |" in card.text  # training_args.json, stage 1
    assert "centre-cropped to 28×28" in card.text  # from processor_config.json
    assert not list(folder.glob("README.md.*"))  # atomic write leaves no temporary file


def test_push_refuses_an_incomplete_checkpoint(tiny_checkpoint, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_checkpoint["folder"], broken, ignore=shutil.ignore_patterns("checkpoint-*", "feature_cache"))
    for name in ("model.safetensors", "tokenizer.json", "visual_encoder.py"):
        (broken / name).unlink()
    (broken / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(SignInputError) as error:
        push_checkpoint_to_hub(broken, REPO_ID, endpoint="http://127.0.0.1:9")  # fails before any request
    message = str(error.value)
    assert str(broken) in message and "model weights *.safetensors" in message and "pytorch_model.bin" in message
    assert "tokenizer vocabulary file" in message
    assert "visual_encoder.py (code file for trust_remote_code=True)" in message  # imported by modeling_fla_llm.py
    config = json.loads((broken / "config.json").read_text())
    del config["auto_map"]
    (broken / "config.json").write_text(json.dumps(config))
    with pytest.raises(SignInputError, match="auto_map"):
        check_checkpoint(broken)
    with pytest.raises(SignInputError, match="not a folder"):
        check_checkpoint(tmp_path / "missing")


# ---------------------------------------------------------------------------------------------- loopback Hub
def _request(url: str, method: str = "GET"):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy
    try:
        with opener.open(urllib.request.Request(url, method=method)) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_loopback_hub_answers_like_the_hub(hub_server, tmp_path):  # noqa: F811 — the fixture
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b.txt").write_bytes(b"hello")
    oid = hub_server.add_folder("test-user/probe", tmp_path, message="add")
    status, headers, body = _request(f"{hub_server.endpoint}/test-user/probe/resolve/main/a/b.txt", "HEAD")
    assert status == 200 and body == b"" and headers["Content-Length"] == "5"
    assert headers["X-Repo-Commit"] == oid and headers["ETag"] == '"b6fc4c620b67d95f953a5c1c1230aaab5db5a1b0"'
    status, headers, body = _request(f"{hub_server.endpoint}/test-user/probe/resolve/{oid}/a/b.txt")
    assert status == 200 and body == b"hello"
    status, headers, _ = _request(f"{hub_server.endpoint}/test-user/probe/resolve/main/missing.json")
    assert status == 404 and headers["X-Error-Code"] == "EntryNotFound" and headers["X-Repo-Commit"] == oid
    status, headers, _ = _request(f"{hub_server.endpoint}/test-user/nope/resolve/main/config.json")
    assert status == 404 and headers["X-Error-Code"] == "RepoNotFound"
    status, headers, _ = _request(f"{hub_server.endpoint}/test-user/probe/resolve/dev/a/b.txt")
    assert status == 404 and headers["X-Error-Code"] == "RevisionNotFound"
    status, _, body = _request(f"{hub_server.endpoint}/api/models/test-user/probe/tree/main?recursive=true")
    assert [e["path"] for e in json.loads(body)] == [".gitattributes", "a", "a/b.txt"]
    assert hub_server.read_file("test-user/probe", "a/b.txt", revision=oid) == b"hello"
    assert [c.title for c in hub_server.commits("test-user/probe")] == ["add", "initial commit"]


@pytest.fixture(scope="module")
def pushed_repo(hub_server, tiny_checkpoint, tmp_path_factory):  # noqa: F811
    """`push_checkpoint_to_hub` run in a client process pointed at the loopback Hub."""
    env = hub_client_env(hub_server.endpoint, tmp_path_factory.mktemp("hf_home_push"))
    code = (
        "import json, sys\n"
        "from sign_translation.hub import push_checkpoint_to_hub\n"
        "info = push_checkpoint_to_hub(sys.argv[1], sys.argv[2], card_kwargs={'dataset_name': 'phoenix14t'})\n"
        "print(json.dumps({'oid': info.oid, 'url': info.commit_url}))\n"
    )
    result = run_python(code, env, args=[str(tiny_checkpoint["folder"]), REPO_ID])
    return {"repo_id": REPO_ID, **last_json_line(result.stdout)}


@pytest.mark.slow
def test_push_uploads_the_checkpoint_in_one_commit(hub_server, pushed_repo, tiny_checkpoint):  # noqa: F811
    files = hub_server.list_files(REPO_ID)
    local = {p.name for p in tiny_checkpoint["folder"].iterdir() if p.is_file()}
    expected = local - {"training_args.bin", "translations_test.json", "config.json.tmp"} | {".gitattributes"}
    assert set(files) == expected  # no checkpoint-*/, feature cache, pickles, temporary files
    assert {"README.md", "model.safetensors", "visual_encoder.py", "results.json"} <= set(files)
    commits = hub_server.commits(REPO_ID)
    assert [c.oid for c in commits][0] == pushed_repo["oid"] and len(commits) == 2  # one upload commit
    assert pushed_repo["url"].endswith(f"/{REPO_ID}/commit/{pushed_repo['oid']}")
    assert hub_server.read_file(REPO_ID, "model.safetensors") == (tiny_checkpoint["folder"] / "model.safetensors").read_bytes()
    assert not hub_server.unhandled


@pytest.mark.slow
def test_readme_on_the_hub_is_our_card(hub_server, pushed_repo):  # noqa: F811
    card = ModelCard(hub_server.read_file(REPO_ID, "README.md").decode())
    assert card.data.pipeline_tag == "video-text-to-text" and "sign-language-translation" in card.data.tags
    assert card.data.datasets == ["phoenix14t"]
    assert {(r.dataset_split, r.metric_name): r.metric_value for r in card.data.eval_results}[("test", "BLEU-4")] == 23.09
    assert f'pipeline("sign-translation", model="{REPO_ID}")' in card.text


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["package", "remote"])
def test_load_by_repo_id_in_a_fresh_process(hub_server, pushed_repo, tiny_checkpoint, tmp_path, mode):  # noqa: F811
    """Empty HF cache, online against the loopback Hub; `remote`: the package is not importable at all."""
    hf_home = tmp_path / "hf_home"
    env = hub_client_env(hub_server.endpoint, hf_home)
    result = last_json_line(run_python(LOAD_CODE, env, cwd=tmp_path, args=[REPO_ID, str(VIDEO), mode]).stdout)
    reference = tiny_checkpoint["reference"]
    assert result["ids"] == reference["ids"]
    torch.testing.assert_close(torch.tensor(result["scores"]), torch.tensor(reference["scores"]))
    assert len(result["text"]) == 1 and isinstance(result["text"][0], str)
    if mode == "remote":
        for key in ("model_module", "processor_module", "video_processor_module"):
            assert result[key].startswith("transformers_modules"), result
    else:
        assert result["model_module"].startswith("sign_translation."), result
    snapshots = list((hf_home / "hub" / "models--test-user--tiny-fla-llm" / "snapshots").iterdir())
    assert [s.name for s in snapshots] == [pushed_repo["oid"]]  # downloaded from the server into the empty cache
    assert not hub_server.unhandled
