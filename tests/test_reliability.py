"""Bad input, as users produce it, through the processor, pipeline, CLI, loaders, checkpoints and training scripts.

Every case asserts the clear message (naming the option/file, the value and what is allowed), that no Python
traceback reaches a CLI user, and — for batch commands — that every good result is still written. The
kill-at-any-moment resume tests are in test_reliability_resume.py.
"""

import csv
import gzip
import json
import logging
import os
import pickle
import re
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sign_translation import (
    FlaLlmConfig,
    FlaLlmForConditionalGeneration,
    FlaLlmForVisualInitialization,
    SignInputError,
    SignTranslationProcessor,
    SignVideoProcessor,
)
from sign_translation.cli import main as cli
from sign_translation.hub import export_checkpoint
from sign_translation.modeling.checkpoint_loading import CheckpointError, verify_checkpoint_files

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_loaders import PHOENIX_ROWS, write_csl_release, write_how2sign_csv, write_phoenix_release  # noqa: E402

# A folder nobody can create files in, even root (CI runs as root, so permission bits alone prove nothing).
UNWRITABLE = Path("/proc/self")


# ---------------------------------------------------------------------------------------------- fixtures
def _export(model, tiny_tokenizer, folder: Path) -> Path:
    processor = SignTranslationProcessor(SignVideoProcessor(size=32, crop_size=28, frame_stride=4), tiny_tokenizer)
    model.generation_config.num_beams = 1
    model.generation_config.max_new_tokens = 4
    return export_checkpoint(model.eval(), processor, folder, dataset_name="synthetic")


@pytest.fixture(scope="module")
def stage2_checkpoint(tmp_path_factory, tiny_tokenizer) -> Path:
    torch.manual_seed(0)
    model = FlaLlmForConditionalGeneration(FlaLlmConfig.tiny(vocab_size=len(tiny_tokenizer)))
    return _export(model, tiny_tokenizer, tmp_path_factory.mktemp("stage2"))


@pytest.fixture(scope="module")
def stage1_checkpoint(tmp_path_factory, tiny_tokenizer) -> Path:
    torch.manual_seed(0)
    model = FlaLlmForVisualInitialization(FlaLlmConfig.tiny(vocab_size=len(tiny_tokenizer)))
    return _export(model, tiny_tokenizer, tmp_path_factory.mktemp("stage1"))


@pytest.fixture(scope="module")
def videos(tmp_path_factory, real_videos) -> list[str]:
    """Five inputs, the third a corrupt file."""
    folder = tmp_path_factory.mktemp("videos")
    bad = folder / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    good = [str(p) for p in real_videos.values()]
    return [good[0], good[1], str(bad), good[2], good[3]]


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    try:
        code = cli(list(argv))
    except SystemExit as exit_:  # argparse
        code = exit_.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return code, out, err


def copy_checkpoint(source: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(source, target)
    return target


# ---------------------------------------------------------------------------------------------- processor / pipeline
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"frame_stride": 0}, r"frame_stride=0; expected an integer ≥ 1"),
        ({"frame_stride": -2}, r"frame_stride=-2"),
        ({"size": {"height": 0, "width": 0}}, r"size\['height'\]=0; expected a positive integer"),
        ({"crop_size": {"height": 28, "width": 0}}, r"crop_size\['width'\]=0"),
        ({"max_frames": 0}, r"max_frames=0; expected an integer ≥ 1 or None"),
        ({"num_frames": -3}, r"num_frames=-3"),
        ({"augment_probability": 1.5}, r"augment_probability=1.5; expected a probability"),
        ({"augment_scale": [1.2, 0.8]}, r"augment_scale=\[1.2, 0.8\]; expected \[min, max\]"),
        ({"fps": 0}, r"fps=0; expected a frame rate > 0"),
        ({"image_mean": [0.5, 0.5]}, r"image_mean=\[0.5, 0.5\]; expected a number or 3 numbers"),
        ({"image_std": [0.5, 0.0, 0.5]}, r"image_std=\[0.5, 0.0, 0.5\]; expected .* all > 0"),
        ({"image_std": float("nan")}, r"image_std=nan; expected"),
        ({"rescale_factor": "1/255"}, r"rescale_factor='1/255'; expected a finite number > 0"),
        ({"rescale_factor": 0}, r"rescale_factor=0; expected a finite number > 0"),
        ({"resample": 99}, r"resample=99; expected a PILImageResampling value .*2 \(BILINEAR\)"),
    ],
)
def test_processor_refuses_nonsense_at_construction_and_call(kwargs, message):
    with pytest.raises(SignInputError, match=message):
        SignVideoProcessor(**kwargs)
    processor = SignVideoProcessor(size=32, crop_size=28)
    with pytest.raises(SignInputError, match=message):
        processor(np.zeros((4, 32, 32, 3), np.uint8), **kwargs)


def test_a_crop_larger_than_the_resized_frame_is_refused_when_videos_are_processed():
    """transformers' center_crop would pad such a frame with zeros. Construction accepts the pair, as transformers'
    `from_dict(..., size=42, crop_size=84)` does (its common tests rely on it); processing refuses it."""
    video = np.zeros((4, 40, 40, 3), np.uint8)
    processor = SignVideoProcessor(size=32, crop_size={"height": 40, "width": 28})
    with pytest.raises(SignInputError, match=r"crop_size\['height'\]=40 is larger than size\['height'\]=32"):
        processor(video)
    with pytest.raises(SignInputError, match=r"crop_size\['width'\]=36 is larger than size\['width'\]=32"):
        SignVideoProcessor(size=32, crop_size=28)(video, crop_size={"height": 30, "width": 36})
    assert processor(video, do_center_crop=False)["pixel_values_videos"].shape == (1, 4, 3, 32, 32)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_beams": 0}, "num_beams=0; expected an integer ≥ 1"),
        ({"max_new_tokens": 0}, "max_new_tokens=0; expected an integer ≥ 1"),
        ({"batch_size": 0}, "batch_size=0; expected an integer ≥ 1"),
        ({"frame_stride": 0}, "frame_stride=0"),
    ],
)
def test_pipeline_refuses_nonsense_kwargs(stage2_checkpoint, real_videos, kwargs, message):
    from transformers import pipeline

    translator = pipeline("sign-translation", model=str(stage2_checkpoint))
    video = str(real_videos["SOUP.mp4"])
    with pytest.raises(ValueError, match=message):
        translator([video, video], **kwargs)


def test_pipeline_streams_a_generator_of_paths(stage2_checkpoint, real_videos):
    from transformers import pipeline

    translator = pipeline("sign-translation", model=str(stage2_checkpoint))
    paths = [str(p) for p in real_videos.values()]
    expected = [r["translation_text"] for r in translator(paths, batch_size=2)]
    streamed = translator((p for p in paths), batch_size=2)
    assert [r["translation_text"] for r in streamed] == expected


@pytest.mark.parametrize(("value", "shown"), [(5, "<int>"), (b"\x00\x00", "<bytes>"), (None, "<NoneType>")])
def test_pipeline_names_the_type_of_an_input_that_is_no_video(stage2_checkpoint, value, shown):
    from transformers import pipeline

    translator = pipeline("sign-translation", model=str(stage2_checkpoint))
    with pytest.raises(SignInputError, match=re.escape(f"{shown}: expected a video path, frame folder, numpy array")):
        translator(value)


def test_16_bit_png_frames_are_scaled_not_clipped(tmp_path):
    rng = np.random.default_rng(0)
    eight = rng.integers(0, 256, size=(3, 20, 24), dtype=np.uint8)
    for name, dtype, scale in (("f8", np.uint8, 1), ("f16", np.uint16, 257)):
        folder = tmp_path / name
        folder.mkdir()
        for i, frame in enumerate(eight):
            Image.fromarray(frame.astype(dtype) * scale).save(folder / f"images{i:04d}.png")
    assert Image.open(tmp_path / "f16" / "images0000.png").mode.startswith("I")  # really 16 bit
    processor = SignVideoProcessor(do_resize=False, do_center_crop=False, do_normalize=False, do_rescale=False)
    a = processor(str(tmp_path / "f8"))["pixel_values_videos"]
    b = processor(str(tmp_path / "f16"))["pixel_values_videos"]
    assert torch.equal(a, b) and a.max() > 200  # 16-bit values were clipped to 255 (all white) before


# ---------------------------------------------------------------------------------------------- checkpoints
def _damage(folder: Path, how: str) -> None:
    weights = folder / "model.safetensors"
    if how == "truncated":
        data = weights.read_bytes()
        weights.write_bytes(data[: len(data) // 2])
    elif how == "garbage":
        weights.write_bytes(os.urandom(4096))
    elif how == "bad_header_json":
        data = weights.read_bytes()
        (n,) = struct.unpack("<Q", data[:8])
        weights.write_bytes(data[:8] + b"{" * n + data[8 + n :])
    elif how == "extra_bytes":
        with open(weights, "ab") as f:
            f.write(b"\x00" * 100)
    elif how == "no_weights":
        weights.unlink()
    elif how == "no_config":
        (folder / "config.json").unlink()


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("truncated", r"is incomplete or corrupt: model.safetensors is truncated: its header announces \d+ bytes"),
        ("garbage", r"model.safetensors: not a safetensors file or truncated"),
        ("bad_header_json", r"the safetensors header is not valid JSON"),
        ("extra_bytes", r"the header's tensors cover \d+ bytes but the file holds \d+"),
        ("no_weights", r"is incomplete: it has config.json but no weights"),
        ("no_config", r"is incomplete: config.json is missing"),
    ],
)
def test_damaged_checkpoint_is_one_clear_error(stage2_checkpoint, tmp_path, capsys, real_videos, how, message):
    from transformers import pipeline

    folder = copy_checkpoint(stage2_checkpoint, tmp_path / "ckpt")
    _damage(folder, how)
    with pytest.raises(CheckpointError, match=message):
        verify_checkpoint_files(folder)
    if how != "no_config":  # without config.json transformers cannot even tell which class to ask
        with pytest.raises(CheckpointError, match=message):
            FlaLlmForConditionalGeneration.from_pretrained(folder)
        with pytest.raises(CheckpointError, match=message):
            pipeline("sign-translation", model=str(folder))
    code, out, err = run_cli(capsys, "translate", str(real_videos["SOUP.mp4"]), "--model", str(folder))
    assert code == 2 and out == "" and str(folder) in err and err.count("\n") == 1


def test_stage1_checkpoint_translates_as_stage1(stage1_checkpoint, real_videos, capsys):
    from transformers import AutoModelForSeq2SeqLM, pipeline

    assert isinstance(AutoModelForSeq2SeqLM.from_pretrained(stage1_checkpoint), FlaLlmForVisualInitialization)
    translator = pipeline("sign-translation", model=str(stage1_checkpoint))
    assert type(translator.model) is FlaLlmForVisualInitialization  # not a stage 2 around a random LLM
    reference = FlaLlmForVisualInitialization.from_pretrained(stage1_checkpoint)
    assert all(torch.equal(a, b) for a, b in zip(reference.state_dict().values(), translator.model.state_dict().values()))
    assert isinstance(translator(str(real_videos["SOUP.mp4"]))["translation_text"], str)
    config = json.loads((stage1_checkpoint / "config.json").read_text())
    # remote code: AutoModelForSeq2SeqLM is the stage-1 class itself (it translates with Light-T); AutoModel the front end
    assert config["auto_map"]["AutoModelForSeq2SeqLM"] == config["auto_map"]["AutoModelForPreTraining"]
    assert config["auto_map"]["AutoModel"] == "modeling_fla_llm.FlaLlmModel"
    code, out, _ = run_cli(capsys, "translate", str(real_videos["SOUP.mp4"]), "--model", str(stage1_checkpoint))
    assert code == 0 and json.loads(out)["video"].endswith("SOUP.mp4")


def test_missing_weights_are_an_error_not_a_random_initialisation(stage2_checkpoint):
    with pytest.raises(CheckpointError, match=r"lacks \d+ weight\(s\) that FlaLlmForVisualInitialization needs "
                                              r"\(it was saved from FlaLlmForConditionalGeneration\)"):
        FlaLlmForVisualInitialization.from_pretrained(stage2_checkpoint)


# ---------------------------------------------------------------------------------------------- CLI options
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["translate", "v.mp4", "--model", "m", "--batch-size", "0"], "--batch-size: expected an integer ≥ 1, got 0"),
        (["translate", "v.mp4", "--model", "m", "--batch-size", "-1"], "--batch-size: expected an integer ≥ 1, got -1"),
        (["translate", "v.mp4", "--model", "m", "--num-beams", "0"], "--num-beams: expected an integer ≥ 1, got 0"),
        (["translate", "v.mp4", "--model", "m", "--threads", "0"], "--threads: expected an integer ≥ 1, got 0"),
        (["evaluate", "--model", "m", "--data-dir", "d", "--max-samples", "0"], "--max-samples: expected an integer"),
        (["synth", "out", "--fps", "0"], "--fps: expected a finite number ≥ 1.0"),
        (["synth", "out", "--num-train", "-5"], "--num-train: expected an integer ≥ 0, got -5"),
        (["describe", "d", "o", "--frame-stride", "0"], "--frame-stride: expected an integer ≥ 1, got 0"),
        (["translate", "v.mp4", "--model", "m", "--batch-size", "two"], "expected an integer ≥ 1, got 'two'"),
        (["serve", "--model", "m", "--port", "99999"], "--port: expected an integer ≥ 0 and ≤ 65535, got 99999"),
        (["serve", "--model", "m", "--max-seconds", "-1"], "--max-seconds: expected a finite number > 0, got -1"),
        (["serve", "--model", "m", "--max-megabytes", "nan"], "--max-megabytes: expected a finite number > 0"),
        (["demo", "--num-train", "0"], "--num-train: expected an integer ≥ 1, got 0"),
        (["demo", "--stage1-steps", "0"], "--stage1-steps: expected an integer ≥ 1, got 0"),
        (["translate", "v.mp4", "--model", "m", "--device", "banana"], "--device: 'banana' is not a torch device"),
        (["evaluate", "--model", "m", "--data-dir", "d", "--device", "cuda:x"], "is not a torch device"),
        (["push", "ckpt", "--repo-id", "bad repo id!!"], "--repo-id: 'bad repo id!!' is not a Hub repo id"),
    ],
)
def test_cli_refuses_nonsense_options(capsys, argv, message):
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and message in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_cli_device_the_machine_lacks_is_one_line_before_loading(capsys):
    code, out, err = run_cli(capsys, "translate", "v.mp4", "--model", "no-such-folder/m", "--device", "cuda")
    assert code == 2
    assert "--device: 'cuda': no cuda device is available on this machine" in err
    assert "use --device cpu" in err and "Traceback" not in err + out


def test_cli_model_that_is_a_file_is_named(capsys, stage2_checkpoint, real_videos):
    code, out, err = run_cli(capsys, "translate", str(real_videos["SOUP.mp4"]), "--model",
                             str(stage2_checkpoint / "model.safetensors"))
    assert code == 2
    assert "model.safetensors: is a file; expected a checkpoint folder" in err


def test_cli_odd_image_size_is_refused_before_rendering(capsys, tmp_path):
    code, _, err = run_cli(capsys, "synth", str(tmp_path / "c"), "--image-size", "63")
    assert code == 2 and "--image-size 63: expected an even number" in err and not (tmp_path / "c").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["translate", "{video}", "--model", "{model}", "--output", "{tmp}/missing/out.jsonl"],
         "--output {tmp}/missing/out.jsonl: the folder {tmp}/missing does not exist"),
        (["translate", "{video}", "--model", "{model}", "--output", f"{UNWRITABLE}/out.jsonl"], "cannot write in"),
        (["evaluate", "--model", "{model}", "--data-dir", "{tmp}", "--output", f"{UNWRITABLE}/metrics.json"],
         "cannot write in"),
        (["synth", f"{UNWRITABLE}/corpus", "--num-train", "1"], "OUTPUT_DIR /proc/self/corpus: cannot create"),
        (["describe", "{tmp}", f"{UNWRITABLE}/desc"], "OUTPUT_DIR /proc/self/desc: cannot create"),
        (["translate", "{video}", "--model", "{tmp}/nope/"], "--model {tmp}/nope/: no such checkpoint folder"),
        # one slash, like a repo id `owner/name`, but a path: no Hub lookup, no "Repo id must use ..." message
        (["translate", "{video}", "--model", "/nonexistent-checkpoint"],
         "--model /nonexistent-checkpoint: no such checkpoint folder"),
        (["translate", "{video}", "--model", "./nope"], "--model ./nope: no such checkpoint folder"),
    ],
)
def test_outputs_are_checked_before_any_work(capsys, tmp_path, stage2_checkpoint, real_videos, argv, message):
    fill = {"video": str(real_videos["SOUP.mp4"]), "model": str(stage2_checkpoint), "tmp": str(tmp_path)}
    code, out, err = run_cli(capsys, *[a.format(**fill) for a in argv])
    assert code == 2 and message.format(**fill) in err and out == ""


def test_push_to_an_unreachable_hub_is_one_line(capsys, stage2_checkpoint, tmp_path, monkeypatch):
    from huggingface_hub import constants

    folder = copy_checkpoint(stage2_checkpoint, tmp_path / "ckpt")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    code, _, err = run_cli(capsys, "push", str(folder), "--repo-id", "me/model", "--token", "hf_x")
    assert code == 1 and "cannot reach the Hub at http://127.0.0.1:9" in err and "nothing was pushed" in err


def test_threads_option_is_applied_and_the_default_follows_the_load(tmp_path, monkeypatch, capsys):
    import sign_translation.cli as cli_module

    missing = str(tmp_path / "nope") + "/"  # fails right after the options are applied: no model is loaded
    before = torch.get_num_threads()
    try:
        assert cli(["translate", "v.mp4", "--model", missing, "--threads", "3"]) == 2
        assert torch.get_num_threads() == 3
        monkeypatch.setattr(cli_module.os, "sched_getaffinity", lambda pid: {0, 1})
        for load, expected in ((0.0, 2), (0.6, 1), (1.0, 1), (7.5, 1)):
            monkeypatch.setattr(cli_module.os, "getloadavg", lambda load=load: (load, load, load))
            assert cli_module.default_threads() == expected, load
        monkeypatch.setattr(cli_module.os, "sched_getaffinity", lambda pid: set(range(8)))
        monkeypatch.setattr(cli_module.os, "getloadavg", lambda: (2.2, 2.0, 2.0))
        assert cli_module.default_threads() == 6
        assert cli(["translate", "v.mp4", "--model", missing]) == 2  # no --threads: the default is applied
        assert torch.get_num_threads() == 6
    finally:
        torch.set_num_threads(before)
    capsys.readouterr()


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(SignInputError):
        cli(["translate", "v.mp4", "--model", str(tmp_path / "nope") + "/", "--debug"])


# ---------------------------------------------------------------------------------------------- batch commands
def test_translate_keeps_every_good_result_and_reports_the_bad_one(capsys, stage2_checkpoint, videos, tmp_path):
    output = tmp_path / "out.jsonl"
    missing = str(tmp_path / "gone.mp4")
    code, out, err = run_cli(capsys, "translate", *videos, missing, "--model", str(stage2_checkpoint),
                             "--batch-size", "2", "--output", str(output))
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert code == 1 and [row["video"] for row in lines] == [v for v in videos if "broken" not in v]
    assert out.splitlines() == output.read_text().splitlines()
    assert "2 of 6 video(s) could not be translated" in err
    assert f"{videos[2]}: " in err and "FFmpeg cannot open this file" in err
    assert f"{missing}: video file or frame folder not found" in err


def test_translate_fail_fast_stops_at_the_first_bad_video(capsys, stage2_checkpoint, videos, tmp_path):
    output = tmp_path / "out.jsonl"
    code, _, err = run_cli(capsys, "translate", *videos, "--model", str(stage2_checkpoint), "--batch-size", "1",
                           "--output", str(output), "--fail-fast")
    assert code == 1 and "--fail-fast" in err
    assert [json.loads(line)["video"] for line in output.read_text().splitlines()] == videos[:2]


def test_translate_output_is_atomic_and_keeps_partial_results_on_a_crash(capsys, stage2_checkpoint, videos,
                                                                          tmp_path, monkeypatch):
    """--output appears only by rename (never half-written); a crash mid-run still leaves the finished lines."""
    import sign_translation.cli as cli_module

    output = tmp_path / "out.jsonl"
    output.write_text("old results\n")
    real_translate_videos = cli_module.translate_videos
    seen_during_run = []

    def crash_on_second_batch(translator, *args, **kwargs):
        calls = []

        def flaky(inputs, **kw):
            calls.append(inputs)
            seen_during_run.append(output.read_text())
            if len(calls) == 2:
                raise MemoryError("simulated: the machine ran out of memory")
            return translator(inputs, **kw)

        return real_translate_videos(flaky, *args, **kwargs)

    monkeypatch.setattr(cli_module, "translate_videos", crash_on_second_batch)
    good = [v for v in videos if "broken" not in v]
    code = cli(["translate", *good, "--model", str(stage2_checkpoint), "--batch-size", "2", "--output", str(output)])
    assert code == 1 and "unexpected MemoryError: simulated" in capsys.readouterr().err
    assert seen_during_run == ["old results\n"] * 2  # the old file stays whole until the new one replaces it
    assert [json.loads(line)["video"] for line in output.read_text().splitlines()] == good[:2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]  # no temporary file left behind


def test_evaluate_scores_the_good_videos_and_lists_the_bad(capsys, stage2_checkpoint, videos, tmp_path):
    table = tmp_path / "test.csv"
    with open(table, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "video", "text", "split"])
        for i, video in enumerate(videos):
            writer.writerow([f"clip{i}", video, "it will rain", "test"])
    output = tmp_path / "metrics.json"
    code, out, err = run_cli(capsys, "evaluate", "--model", str(stage2_checkpoint), "--data-dir", str(table),
                             "--split", "test", "--output", str(output))
    assert output.is_file(), err
    result = json.loads(output.read_text())
    assert code == 1 and "4 videos; 1 failed and are left out" in out and "clip2: " in err
    assert [row["name"] for row in result["translations"]] == ["clip0", "clip1", "clip3", "clip4"]
    assert result["failed"][0]["name"] == "clip2" and result["metrics"]["num_failed"] == 1


# ---------------------------------------------------------------------------------------------- training scripts
def _script_args(corpus: Path, tmp_path: Path, *extra: str) -> list[str]:
    return ["--stage", "1", "--train_tokenizer_vocab_size", "120", "--data_dir", str(corpus),
            "--output_dir", str(tmp_path / "run"), *extra]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--frame_stride", "0"], "--frame_stride=0: expected an integer ≥ 1"),
        (["--max_train_samples", "-1"], "--max_train_samples=-1: expected an integer ≥ 1"),
        (["--image_size", "0"], "--image_size=0: expected an integer ≥ 1"),
        (["--augment_scale_min", "1.3"], "--augment_scale_max=1.2: expected a number ≥ 1.3"),
        (["--config_overrides", "{temporal_kernel_size: 5}"], "--config_overrides '{temporal_kernel_size: 5}': "
                                                              "not valid JSON"),
        (["--config_overrides", "[1, 2]"], "expected a JSON object of config fields, got list"),
        (["--config_overrides", '{"temporal_kernal_size": 5}'], "FlaLlmConfig has no field(s) ['temporal_kernal_size']"),
        (["--config_overrides", '{"temporal_kernel_size": 4}'], "temporal_kernel_size=4; expected an odd integer"),
        (["--recipe"], "--recipe needs a value"),
    ],
)
def test_training_script_refuses_nonsense_before_training(tiny_corpus, tmp_path, extra, message):
    from sign_translation.train_scripts import run_fla_llm

    with pytest.raises(ValueError) as error:
        run_fla_llm.main(_script_args(tiny_corpus, tmp_path, *extra))
    assert message in str(error.value)
    assert not (tmp_path / "run" / "model.safetensors").exists()


@pytest.mark.parametrize(("content", "message"), [("[1, 2]", "expected a JSON object"), ("{oops", "not valid JSON")])
def test_bad_recipe_file(tiny_corpus, tmp_path, content, message):
    from sign_translation.train_scripts import run_fla_llm

    recipe = tmp_path / "recipe.json"
    recipe.write_text(content)
    with pytest.raises(SignInputError, match=message):
        run_fla_llm.main(["--recipe", str(recipe), "--data_dir", str(tiny_corpus), "--output_dir", str(tmp_path)])


def test_training_script_error_is_one_line(capsys, monkeypatch):
    from sign_translation.validation import run_script

    monkeypatch.delenv("SIGN_TRANSLATION_DEBUG", raising=False)

    def main():
        raise SignInputError("--frame_stride=0: expected an integer ≥ 1")

    with pytest.raises(SystemExit) as exit_:
        run_script(main)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.endswith("error: --frame_stride=0: expected an integer ≥ 1\n")


# ---------------------------------------------------------------------------------------------- annotation files
def _reencode(path: Path, encoding: str) -> None:
    path.write_bytes(path.read_text(encoding="utf-8").encode(encoding))


def test_latin1_phoenix_corpus_is_detected_and_said(tmp_path, caplog):
    from sign_translation.data import load_phoenix14t

    root = write_phoenix_release(tmp_path / "P")
    manual = root / "annotations" / "manual"
    path = manual / "PHOENIX-2014-T.train.corpus.csv"
    path.write_text(path.read_text().replace("regen und schnee", "regen und schnee über süden"), encoding="latin-1")
    with caplog.at_level(logging.WARNING):
        train = load_phoenix14t(root, split="train")
    assert train[0]["text"] == "regen und schnee über süden"
    assert "PHOENIX-2014-T.train.corpus.csv is not UTF-8: read it as cp1252" in caplog.text
    assert load_phoenix14t(root, split="dev")[0]["text"] == PHOENIX_ROWS["dev"][0][3]


def test_wrong_or_unknown_encoding_is_named(tmp_path, capsys):
    from sign_translation.data import annotation_encoding, load_phoenix14t

    root = write_phoenix_release(tmp_path / "P")
    path = root / "annotations" / "manual" / "PHOENIX-2014-T.train.corpus.csv"
    path.write_text(path.read_text().replace("morgen scheint die sonne", "größer"), encoding="latin-1")
    with annotation_encoding("utf-8"), pytest.raises(SignInputError, match=r"not valid utf-8 at byte \d+"):
        load_phoenix14t(root, split="train")
    with annotation_encoding("latin-1"):
        assert load_phoenix14t(root, split="train")[-1]["text"] == "größer"
    code, _, err = run_cli(capsys, "evaluate", "--model", "m", "--data-dir", str(root), "--dataset", "phoenix14t",
                           "--encoding", "klingon")
    assert code == 2 and "--encoding klingon: unknown text encoding" in err


def test_latin1_how2sign_csv(tmp_path):
    from sign_translation.data import load_how2sign

    root = tmp_path / "How2Sign"
    path = root / "how2sign_realigned_test.csv"
    write_how2sign_csv(path, [("-abc", 0, 1, 0.0, 2.5, "Café, naïve résumé.")])
    _reencode(path, "latin-1")
    assert load_how2sign(root, split="test", on_missing_video="keep")[0]["text"] == "Café, naïve résumé."


def test_gbk_csl_daily_split_file(tmp_path, caplog):
    from sign_translation.data import load_csl_daily

    root = write_csl_release(tmp_path / "CSL")
    split_file = root / "sentence_label" / "split_1.txt"
    split_file.write_text(split_file.read_text() + "手语样本|train\n", encoding="utf-8")
    _reencode(split_file, "gbk")
    with caplog.at_level(logging.WARNING):
        loaded = load_csl_daily(root)
    assert len(loaded["train"]) == 1
    assert "split_1.txt is not UTF-8: read it as gb18030" in caplog.text and "手语样本" in caplog.text


@pytest.mark.parametrize("compressed", [False, True])
@pytest.mark.parametrize("opcode", [b"\x8d", b"\x8e"])  # BINUNICODE8 (str), BINBYTES8 (bytes)
def test_label_pickle_declaring_a_terabyte_string_is_refused_before_allocating(tmp_path, compressed, opcode):
    from sign_translation.data import load_pickle

    payload = b"\x80\x04" + opcode + struct.pack("<Q", 2**40) + b"abc"
    path = tmp_path / "labels.train"
    path.write_bytes(gzip.compress(payload) if compressed else payload)
    with pytest.raises(SignInputError, match=r"refused before allocating: expected 1099511627776 bytes"):
        load_pickle(path)


def test_plain_label_pickle_still_loads(tmp_path):
    from sign_translation.data import load_pickle

    path = tmp_path / "labels.dev"
    path.write_bytes(gzip.compress(pickle.dumps({"dev/a": {"text": "hallo" * 1000, "gloss": "A"}})))
    assert load_pickle(path)["dev/a"]["text"] == "hallo" * 1000


def test_training_output_dir_is_checked_before_training(tiny_corpus, tmp_path):
    from sign_translation.train_scripts import run_fla_llm

    argv = ["--stage", "1", "--train_tokenizer_vocab_size", "120", "--data_dir", str(tiny_corpus),
            "--output_dir", f"{UNWRITABLE}/run", "--do_train", "true", "--max_steps", "1", "--use_cpu", "true",
            "--report_to", "none"]
    with pytest.raises(SignInputError, match="--output_dir /proc/self/run: cannot create the folder"):
        run_fla_llm.main(argv)


@pytest.mark.slow
def test_stage1_checkpoint_with_remote_code_and_no_package(stage1_checkpoint, real_videos, tmp_path):
    import subprocess

    from hub_server import last_json_line
    from test_pipeline_cli import PIPELINE_CODE

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules")}
    videos = [str(real_videos["SOUP.mp4"]), str(real_videos["video.mp4"])]
    result = subprocess.run([sys.executable, "-c", PIPELINE_CODE, str(stage1_checkpoint), "remote", *videos],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    payload = last_json_line(result.stdout)
    assert "transformers_modules" in payload["model"] and len(payload["out"]) == 2


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"pixel_values_videos": torch.randn(1, 4, 3, 28, 28), "video_mask": torch.ones(1, 5, dtype=torch.long)},
         "video_mask (1, 5) does not match pixel_values_videos (1, 4, 3, 28, 28)"),
        ({"pixel_values_videos": torch.randn(4, 3, 28, 28), "video_mask": torch.ones(1, 4, dtype=torch.long)},
         "pixel_values_videos must be (batch, frames, channels, height, width), got shape (4, 3, 28, 28)"),
        ({"pixel_values_videos": torch.randn(1, 4, 3, 28, 28), "video_mask": torch.ones(4, dtype=torch.long)},
         "video_mask must be (batch, frames), got shape (4,)"),
        ({"visual_features": torch.randn(2, 4, 32), "video_mask": torch.ones(2, 3, dtype=torch.long)},
         "video_mask (2, 3) does not match visual_features (2, 4, 32)"),
    ],
)
@pytest.mark.parametrize("method", ["fla_llm", "mmslt"])
def test_model_inputs_whose_shapes_disagree_are_named(method, inputs, message):
    from sign_translation import MMSLTConfig, MMSLTForConditionalGeneration

    torch.manual_seed(0)
    model = (FlaLlmForConditionalGeneration(FlaLlmConfig.tiny(vocab_size=50)) if method == "fla_llm"
             else MMSLTForConditionalGeneration(MMSLTConfig.tiny(vocab_size=50))).eval()
    with pytest.raises(ValueError, match=re.escape(message)):  # checked before the width of cached features matters
        model.generate(**inputs, max_new_tokens=2)
