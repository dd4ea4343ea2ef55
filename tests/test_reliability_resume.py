"""Kill -9 a real (tiny) training process at many moments — inside checkpoint saves included — re-run the same
command, and check that it resumes and ends with exactly the weights of an uninterrupted run.

Each case costs two fresh Python processes (about a minute each on a busy 2-core machine), so these tests are
marked `reliability`: `make reliability` (called by CI after `make test`) runs them; `-m smoke` picks two.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from test_training import TINY_STAGE1

pytestmark = pytest.mark.reliability

DRIVER = Path(__file__).resolve().parent / "kill_driver.py"
# 6 steps, a checkpoint every 2, at most 2 kept (so rotation deletes checkpoint-2 when checkpoint-6 is saved).
RECIPE = {**TINY_STAGE1, "save_strategy": "steps", "save_steps": 2, "max_steps": 6, "save_total_limit": 2,
          "test_split": "", "max_eval_samples": 2}

KILL_POINTS = [
    pytest.param("weights_partial:1", True, id="first-save-half-written-weights"),
    pytest.param("weights_partial:2", True, marks=pytest.mark.smoke, id="save-half-written-weights"),
    pytest.param("before_optimizer:2", True, id="save-weights-done-no-optimizer"),
    pytest.param("state_partial:2", True, id="save-half-written-trainer-state"),
    pytest.param("mid_step:4", False, marks=pytest.mark.smoke, id="between-saves-mid-step"),
    pytest.param("rotation:1", False, id="deleting-an-old-checkpoint"),
    pytest.param("final_save", False, id="final-save-into-output-dir"),
]


def run(spec: str, recipe: Path, corpus: Path, output_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    argv = ["--recipe", str(recipe), "--data_dir", str(corpus), "--output_dir", str(output_dir)]
    return subprocess.run([sys.executable, str(DRIVER), spec, "--", *argv], capture_output=True, text=True,
                          env=env, timeout=900)


def final_weights(output_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(output_dir / "model.safetensors")


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("recipe") / "recipe.json"
    path.write_text(json.dumps(RECIPE))
    return path


@pytest.fixture(scope="module")
def reference(recipe, tiny_corpus, tmp_path_factory) -> Path:
    output_dir = tmp_path_factory.mktemp("uninterrupted")
    done = run("none", recipe, tiny_corpus, output_dir)
    assert done.returncode == 0, done.stderr[-3000:]
    return output_dir


@pytest.mark.slow
@pytest.mark.parametrize(("spec", "leaves_incomplete_checkpoint"), KILL_POINTS)
def test_kill_9_at_any_moment_then_rerun_resumes_to_the_same_weights(
    recipe, tiny_corpus, reference, tmp_path, spec, leaves_incomplete_checkpoint
):
    output_dir = tmp_path / "run"
    killed = run(spec, recipe, tiny_corpus, output_dir)
    assert killed.returncode == -9, f"not killed at {spec}: rc {killed.returncode}\n{killed.stderr[-2000:]}"
    before = sorted(p.name for p in output_dir.glob("checkpoint-*"))

    rerun = run("none", recipe, tiny_corpus, output_dir)  # the same command again
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    moved = sorted(p.name for p in output_dir.glob("incomplete-checkpoint-*"))
    if leaves_incomplete_checkpoint:
        assert moved and "is incomplete" in rerun.stderr and "Moved it to" in rerun.stderr, (before, rerun.stderr[-2000:])
        assert all((output_dir / name).is_dir() for name in moved)  # kept for inspection, never deleted
    else:
        assert not moved

    expected, got = final_weights(reference), final_weights(output_dir)
    assert expected.keys() == got.keys()
    different = [name for name in expected if not torch.equal(expected[name], got[name])]
    assert not different, f"{spec}: {len(different)} tensors differ from the uninterrupted run, e.g. {different[:3]}"
    # nothing already done is lost: the log of the finished run covers every step once
    state = json.loads((output_dir / "checkpoint-6" / "trainer_state.json").read_text())
    assert [row["step"] for row in state["log_history"] if "loss" in row] == [1, 2, 3, 4, 5, 6]
