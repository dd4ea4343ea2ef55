"""PHOENIX-synth: every PHOENIX14T (gloss sequence, German sentence) pair, signed by the synthetic signer.

The real PHOENIX14T videos cannot be redistributed, but its annotations can be read (GFSLT-VLP label files or the
original release's corpus CSVs, see `load_phoenix14t`). Signing all 8,257 annotated pairs with their real splits
(7,096 / 519 / 642) gives a corpus with the benchmark's real vocabulary (~1,100 glosses), sentence lengths,
gloss-to-German reordering and splits, with rendered instead of recorded video. Every gloss gets a sign of its own
(`sign_parameters_for`), so the video determines the gloss sequence exactly, as a perfect recogniser would see it.
Four annotations (dev 209 and 245, test 113 and 586) have no glosses; they are kept, signed as a signer at rest, so
the splits stay the real ones.

    sign-translation synth phoenix_synth/ --phoenix14t ../shared/data/annotations/phoenix14t --num-workers 2

The render settings below are the benchmark's (see `PHOENIX_SYNTH_SETTINGS`); the corpus folder layout and resuming
are those of `write_synthetic_corpus`.
"""

from __future__ import annotations

import logging
import os

from ..processing.errors import SignInputError
from .synthetic import SPLITS, SyntheticCorpusSummary, hashed_sign_collisions, write_synthetic_corpus

logger = logging.getLogger(__name__)

# The benchmark's render settings, chosen so that all 8,257 clips render in under 10 minutes on 2 CPU cores and a
# from-scratch video model can train on them in about an hour on the same CPU (see benchmarks/phoenix_synth.py):
# 32-px frames (the size the demo recipes train at; handshapes are drawn big and blunt to stay distinct at 32 px),
# 6 frames per sign movement and 3 per transition (a PHOENIX sentence of 7.8 glosses is ~80 frames, ~20 at the
# FLa-LLM stride T/4, i.e. ~2.5 frames per gloss after striding).
PHOENIX_SYNTH_SETTINGS: dict = {
    "image_size": 32,
    "frames_per_sign": 6,
    "transition_frames": 3,
    "rest_frames": 3,
    "fps": 25.0,
    "num_signers": 8,
    "noise": 0.015,
    "video_format": "mp4",
    "seed": 0,
}


def phoenix14t_pairs(labels_dir: str | os.PathLike) -> dict[str, list[dict]]:
    """The (gloss, text) pairs of every PHOENIX14T split, in file order, read from `labels_dir` (GFSLT label files or
    the original release; no video needed).

    Example (with the real annotations):
        >>> pairs = phoenix14t_pairs("../shared/data/annotations/phoenix14t")  # doctest: +SKIP
        >>> {split: len(items) for split, items in pairs.items()}  # doctest: +SKIP
        {'train': 7096, 'dev': 519, 'test': 642}
    """
    from .loaders import load_phoenix14t

    dataset = load_phoenix14t(labels_dir, on_missing_video="keep")
    missing = [split for split in SPLITS if split not in dataset]
    if missing:
        raise SignInputError(f"{labels_dir}: PHOENIX14T annotations without the split(s) {missing}")
    return {
        split: [{"gloss": g, "text": t} for g, t in zip(dataset[split]["gloss"], dataset[split]["text"])]
        for split in SPLITS
    }


def write_phoenix_synth(
    output_dir: str | os.PathLike,
    labels_dir: str | os.PathLike,
    num_train: int | None = None,
    num_dev: int | None = None,
    num_test: int | None = None,
    num_workers: int = 1,
    overwrite: bool = False,
    **settings,
) -> SyntheticCorpusSummary:
    """Render PHOENIX-synth into `output_dir` (resumable: re-running renders only the missing clips).

    Args:
        output_dir: the corpus folder (read it with `load_sign_dataset`).
        labels_dir: PHOENIX14T annotations (GFSLT label files or the original release).
        num_train, num_dev, num_test: the first N pairs of each split (None: all; the benchmark uses all).
        num_workers: rendering processes.
        overwrite: replace a corpus made with other settings.
        **settings: overrides of `PHOENIX_SYNTH_SETTINGS` (image_size, frames_per_sign, ...).

    Returns:
        the `SyntheticCorpusSummary`, with `collisions` added: what the plain hash assignment of signs would have
        merged (`hashed_sign_collisions`); this corpus signs every gloss distinctly.
    """
    unknown = sorted(set(settings) - set(PHOENIX_SYNTH_SETTINGS))
    if unknown:
        raise SignInputError(f"unknown PHOENIX-synth setting(s) {unknown}; known: {sorted(PHOENIX_SYNTH_SETTINGS)}")
    pairs = phoenix14t_pairs(labels_dir)
    counts = {"train": num_train, "dev": num_dev, "test": num_test}
    chosen = [(p["gloss"], p["text"]) for split in SPLITS
              for p in (pairs[split] if counts[split] is None else pairs[split][: counts[split]])]
    collisions = hashed_sign_collisions(chosen)
    logger.info(
        "PHOENIX-synth: %d glosses; the plain hash assignment would sign %d gloss pairs identically (%d glosses, "
        "%d of %d clips, %d distinct gloss sequences merged); here every gloss has its own sign",
        collisions["glosses_total"], collisions["gloss_pairs"], collisions["glosses"], collisions["clips"],
        collisions["clips_total"], collisions["merged_sequences"],
    )  # fmt: skip
    summary = write_synthetic_corpus(
        output_dir, num_train=num_train, num_dev=num_dev, num_test=num_test, pairs=pairs, num_workers=num_workers,
        overwrite=overwrite, allow_empty_glosses=True, **{**PHOENIX_SYNTH_SETTINGS, **settings},
    )  # fmt: skip
    summary.collisions = collisions
    return summary
