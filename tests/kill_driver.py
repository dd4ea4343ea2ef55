"""Run the FLa-LLM training script and SIGKILL it at one chosen moment (used by test_reliability_resume.py).

    python tests/kill_driver.py POINT[:N] -- run_fla_llm arguments...

The kill is a real `kill -9` of this training process, placed precisely by wrapping the function that does the
work at that moment (nothing in the library knows about it):

    none                 run to the end
    weights_partial:N    the N-th checkpoint save: half of model.safetensors written, then killed
    before_optimizer:N   the N-th checkpoint save: weights written, killed before optimizer.pt
    state_partial:N      the N-th checkpoint save: half of trainer_state.json written, then killed
    mid_step:N           killed inside the training step that follows global step N
    rotation:N           the N-th deletion of an old checkpoint (save_total_limit): half its files removed, killed
    final_save           the final save_model into output_dir: half of model.safetensors written, then killed
"""

from __future__ import annotations

import os
import signal
import sys


def die() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def truncate_half(path: str) -> None:
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(size // 2)


def install(point: str, n: int) -> None:
    import shutil

    import transformers.modeling_utils as modeling_utils
    import transformers.trainer as trainer_module
    import transformers.trainer_callback as trainer_callback
    import transformers.trainer_utils as trainer_utils

    calls = {"n": 0}

    def nth() -> bool:
        calls["n"] += 1
        return calls["n"] == n

    if point in ("weights_partial", "final_save"):
        original = modeling_utils.safe_save_file

        def save_file(tensors, filename, metadata=None):
            original(tensors, filename, metadata=metadata)
            in_checkpoint = "checkpoint-" in os.path.basename(os.path.dirname(str(filename)))
            if in_checkpoint == (point == "weights_partial") and nth():
                truncate_half(str(filename))
                die()

        modeling_utils.safe_save_file = save_file
    elif point == "before_optimizer":
        original_opt = trainer_module.Trainer._save_optimizer_and_scheduler

        def save_optimizer(self, output_dir):
            if nth():
                die()
            return original_opt(self, output_dir)

        trainer_module.Trainer._save_optimizer_and_scheduler = save_optimizer
    elif point == "state_partial":
        original_state = trainer_callback.TrainerState.save_to_json

        def save_to_json(self, json_path):
            original_state(self, json_path)
            if "checkpoint-" in json_path and nth():
                truncate_half(json_path)
                die()

        trainer_callback.TrainerState.save_to_json = save_to_json
    elif point == "mid_step":
        original_step = trainer_module.Trainer.training_step

        def training_step(self, *args, **kwargs):
            if self.state.global_step == n:
                loss = original_step(self, *args, **kwargs)  # the backward pass ran; the optimizer step did not
                die()
                return loss
            return original_step(self, *args, **kwargs)

        trainer_module.Trainer.training_step = training_step
    elif point == "rotation":
        original_rmtree = shutil.rmtree

        def rmtree(path, *args, **kwargs):
            if "checkpoint-" in os.path.basename(str(path)) and nth():
                files = sorted(os.listdir(path))
                for name in files[: len(files) // 2]:
                    os.remove(os.path.join(path, name))
                die()
            return original_rmtree(path, *args, **kwargs)

        trainer_utils.shutil.rmtree = rmtree
    elif point != "none":
        raise SystemExit(f"unknown kill point {point!r}")


def main() -> None:
    spec, separator, *argv = sys.argv[1:]
    if separator != "--":
        raise SystemExit(__doc__)
    point, _, count = spec.partition(":")
    import torch

    # Two fresh processes of the same run must produce the same bits for "equal to an uninterrupted run" to mean
    # anything; oneDNN's CPU convolution kernels are not bitwise reproducible from process to process (measured:
    # a 1e-7 loss difference at step 2, which Adam turns into 1e-3 weight differences), the native ones are.
    torch.backends.mkldnn.enabled = False
    install(point, int(count or 1))
    from sign_translation.train_scripts import run_fla_llm

    run_fla_llm.main(argv)


if __name__ == "__main__":
    main()
