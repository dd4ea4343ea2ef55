"""Every training run draws its curves (training_curves.png beside results.json, shown in the model card) and logs
to TensorBoard when it is installed; `-q` silences the progress bars."""

import os
from pathlib import Path

import pytest
from PIL import Image
from test_training import TINY_STAGE1, write_recipe

from sign_translation.train_scripts import run_fla_llm
from sign_translation.training import parse_arguments


@pytest.mark.slow
def test_training_writes_curves_card_reference_and_tensorboard_logs(tiny_corpus, tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard is not installed")
    recipe = write_recipe(tmp_path / "recipe.json", {
        **TINY_STAGE1, "max_steps": 4, "report_to": "tensorboard", "eval_strategy": "steps", "eval_steps": 2,
        "predict_with_generate": True, "max_eval_samples": 3,
    })
    out = tmp_path / "run"
    results = run_fla_llm.main(["--recipe", str(recipe), "--data_dir", str(tiny_corpus), "--output_dir", str(out)])
    curves = out / "training_curves.png"
    assert (out / "results.json").is_file() and Image.open(curves).format == "PNG"
    assert "![Training loss and dev BLEU-4 of the last stage](training_curves.png)" in (out / "README.md").read_text()
    assert "dev_bleu4" in results["dev"]
    events = list((out / "runs").rglob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0


def test_recipes_ask_for_tensorboard_and_fall_back_without_it(monkeypatch, tmp_path):
    from transformers import Seq2SeqTrainingArguments, integrations

    recipe = write_recipe(tmp_path / "r.json", {"output_dir": str(tmp_path), "report_to": "tensorboard"})
    (args,) = parse_arguments([Seq2SeqTrainingArguments], ["--recipe", str(recipe)])
    assert args.report_to == (["tensorboard"] if integrations.is_tensorboard_available() else ["none"])
    monkeypatch.setattr(integrations, "is_tensorboard_available", lambda: False)
    (args,) = parse_arguments([Seq2SeqTrainingArguments], ["--recipe", str(recipe)])
    assert args.report_to == ["none"]
    recipes = Path(__file__).resolve().parents[1] / "train_scripts" / "recipes"
    assert all('"report_to": "tensorboard"' in p.read_text() for p in recipes.glob("*.json"))


def test_quiet_silences_every_progress_bar(monkeypatch):
    import datasets
    from transformers.utils import logging as transformers_logging

    from sign_translation.progress import is_quiet, progress_bar, set_quiet

    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    shown = progress_bar(total=3, desc="x", disable=False)
    assert not shown.disable and shown.total == 3
    shown.close()
    try:
        set_quiet(True)
        assert is_quiet() and progress_bar(total=3, disable=False).disable
        assert not datasets.is_progress_bar_enabled() and not transformers_logging.is_progress_bar_enabled()
        from sign_translation.processing.sign_descriptions import _progress

        assert _progress(3, "describing frames", disable=False).disable
    finally:
        set_quiet(False)
    assert not is_quiet() and datasets.is_progress_bar_enabled()


def test_cli_quiet_flag_restores_the_callers_settings(monkeypatch, real_videos, tmp_path, capsys):
    import datasets

    from sign_translation.cli import main
    from sign_translation.progress import is_quiet, quiet_progress

    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    datasets.enable_progress_bars()
    with quiet_progress(True):
        assert is_quiet() and os.environ["TQDM_DISABLE"] == "1" and not datasets.is_progress_bar_enabled()
    assert not is_quiet() and "TQDM_DISABLE" not in os.environ and datasets.is_progress_bar_enabled()
    assert main(["-q", "translate", "--model", str(tmp_path / "missing"), str(real_videos["SOUP.mp4"])]) == 2
    assert not is_quiet() and "TQDM_DISABLE" not in os.environ
