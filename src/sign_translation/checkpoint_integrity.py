"""Which Trainer checkpoints are complete, so a run killed at any moment resumes by re-running the same command.

The Trainer writes `checkpoint-N/` file by file into its final name: weights, optimizer, scheduler, RNG state and,
last, `trainer_state.json`. A kill -9 in between leaves a folder that looks like the newest checkpoint and makes
`trainer.train(resume_from_checkpoint=...)` fail ("Can't find a valid checkpoint") or read a truncated file.
`last_complete_checkpoint` checks every file the resume reads (safetensors headers and sizes, torch zip archives,
the state JSON), moves incomplete folders aside as `incomplete-checkpoint-N-<time>` with a warning (outside the
Trainer's `checkpoint-*` pattern, so neither its resume nor its rotation sees them, and nothing is deleted) and
returns the newest complete one.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import zipfile
from pathlib import Path

from .modeling.checkpoint_loading import CheckpointError, verify_safetensors

logger = logging.getLogger(__name__)

CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d+)$")
# Files a resume reads besides the weights; torch.save writes zip archives, whose central directory sits at the
# end, so a truncated one is detected without loading it.
TORCH_STATE_FILES = ("optimizer.pt", "scheduler.pt")


def checkpoint_problem(folder: str | os.PathLike) -> str | None:
    """Why `folder` is not a complete Trainer checkpoint, or None when it is."""
    folder = Path(folder)
    state = folder / "trainer_state.json"
    if not state.is_file():
        return "trainer_state.json is missing (the save was interrupted)"
    try:
        json.loads(state.read_text(encoding="utf-8"))["global_step"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
        return f"trainer_state.json is unreadable ({type(err).__name__})"
    weights = [folder / name for name in ("model.safetensors", "adapter_model.safetensors")]
    weights = [w for w in weights if w.is_file()]
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
        except (ValueError, KeyError, TypeError) as err:
            return f"model.safetensors.index.json is unreadable ({type(err).__name__})"
        weights += [folder / shard for shard in sorted(shards)]
    if not weights:
        if (folder / "pytorch_model.bin").is_file():
            weights = []
            if not zipfile.is_zipfile(folder / "pytorch_model.bin"):
                return "pytorch_model.bin is truncated or corrupt"
        else:
            return "no model weights (model.safetensors) in it"
    for path in weights:
        if not path.is_file():
            return f"{path.name} is missing"
        try:
            verify_safetensors(path)
        except CheckpointError as err:
            return str(err)
    for name in TORCH_STATE_FILES:
        path = folder / name
        if path.exists() and not zipfile.is_zipfile(path):
            return f"{name} is truncated or corrupt"
    return None


def last_complete_checkpoint(output_dir: str | os.PathLike, move_aside: bool = True) -> str | None:
    """The newest complete `checkpoint-N` folder of `output_dir` (or None); incomplete newer ones are renamed to
    `incomplete-checkpoint-N-<unix time>` (with `move_aside`) and reported with a warning."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return None
    candidates = []
    for child in output_dir.iterdir():
        match = CHECKPOINT_PATTERN.match(child.name)
        if match and child.is_dir():
            candidates.append((int(match.group(1)), child))
    for _, folder in sorted(candidates, reverse=True):
        problem = checkpoint_problem(folder)
        if problem is None:
            return str(folder)
        if move_aside:
            target = folder.with_name(f"incomplete-{folder.name}-{int(time.time())}")
            os.replace(folder, target)
            logger.warning(
                "%s is incomplete (%s): a run was interrupted while saving it. Moved it to %s and resuming from the "
                "previous checkpoint; delete it when you no longer need it.", folder, problem, target.name,
            )
        else:
            logger.warning("%s is incomplete (%s); skipping it", folder, problem)
    return None


__all__ = ["checkpoint_problem", "last_complete_checkpoint"]
