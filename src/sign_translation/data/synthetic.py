"""The built-in synthetic sign language corpus: rendered signing videos with sentences, glosses and frame descriptions.

Real benchmark videos cannot be redistributed, so the demo, the tests and the benchmarks train on this corpus. It is
a real (small) translation problem: a model has to recognise each sign from its handshapes, location, movement and
face cue, then reorder and inflect (see `synthetic_grammar`). Every gloss is always signed the same way, by signers
who differ in looks, placement and pace (see `synthetic_render`).

Layout written (shared with `load_sign_dataset`):

    output_dir/
      corpus.json              settings, vocabulary (gloss -> sign parameters), grammar, signer profiles
      train/metadata.jsonl     one JSON object per clip: file_name, name, text, gloss, num_frames, fps, signer,
                               descriptions (one per frame), sign_spans ([start, end) frames per gloss)
      train/train-00000.mp4    (video_format="frames": a folder train-00000/ with images0001.png, ...)
      dev/...  test/...

Writing is resumable: clips are written under a temporary name and renamed when complete, so re-running the same
call skips finished clips and renders only the missing ones.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..processing.errors import SignInputError
from .synthetic_grammar import BUILTIN_SIGNS, GRAMMAR_NAME, sample_sentence
from .synthetic_render import (
    FACE_CUES,
    HANDSHAPES,
    LOCATIONS,
    MOVEMENTS,
    ClipPlan,
    SignParameters,
    Timing,
    hashed_sign_parameters,
    make_signer_profile,
    plan_clip,
    render_clip,
    vary_signer,
)

if TYPE_CHECKING:
    import datasets

logger = logging.getLogger(__name__)

CORPUS_VERSION = 1
SPLITS = ("train", "dev", "test")
VIDEO_FORMATS = ("mp4", "frames")
DEFAULT_COUNTS = {"train": 800, "dev": 100, "test": 100}
MIN_IMAGE_SIZE, MAX_IMAGE_SIZE = 16, 1024
_TMP_MARK = ".tmp"
# A worker process needs a few seconds to start (it imports torch for encoding): about what 100-200 clips take.
_MIN_JOBS_FOR_WORKERS = 100

Pair = tuple[Sequence[str] | str, str]


@dataclass
class SyntheticCorpusSummary:
    """What `write_synthetic_corpus` did; the CLI prints it."""

    output_dir: Path
    counts: dict[str, int]
    vocabulary_size: int
    grammar: str
    rendered: int
    reused: int
    seconds: float
    example: dict = field(default_factory=dict)  # {"gloss": ..., "text": ...} of the first clip
    collisions: dict = field(default_factory=dict)  # PHOENIX-synth: what plain hashing would have merged


def make_synthetic_corpus(
    output_dir: str | os.PathLike,
    num_train: int | None = 800,
    num_dev: int | None = 100,
    num_test: int | None = 100,
    seed: int = 0,
    image_size: int = 64,
    fps: float = 25.0,
    pairs: Sequence[Pair] | Mapping[str, Sequence[Pair]] | None = None,
    video_format: str = "mp4",
    overwrite: bool = False,
    *,
    frames_per_sign: int = 8,
    transition_frames: int = 4,
    rest_frames: int = 3,
    num_signers: int = 8,
    noise: float = 0.015,
    num_workers: int = 1,
) -> datasets.DatasetDict:
    """Render a synthetic sign language corpus into `output_dir` and load it as a `datasets.DatasetDict`.

    Without `pairs`, sentences come from the built-in English weather-forecast grammar (31 glosses, sign order
    TIME REGION WEATHER [INTENSITY] [NEG], reordered and inflected in English). With `pairs`, any (gloss sequence,
    sentence) pairs are signed instead, e.g. real PHOENIX14T annotations; unknown glosses get sign parameters
    hashed from the gloss string, drawn again where two glosses would share a sign (`sign_parameters_for`).

    Args:
        output_dir: folder to write (created if needed). Re-running with the same settings resumes; other settings
            in an existing corpus folder raise `SignInputError` unless `overwrite=True`.
        num_train, num_dev, num_test: clips per split. A split with 0 clips is not written. With `pairs`, None
            means "all pairs given for that split" (dict) or "the remaining pairs" (list); without `pairs`, None
            means the default (800/100/100).
        seed: everything (sentences, signers, rendering) is deterministic for a seed and settings.
        image_size: frame width = height in pixels (even, 16-1024).
        fps: frame rate written into the videos and the metadata (timing is counted in frames).
        pairs: a list of (glosses, sentence) pairs, split at random into the requested counts, or a dict
            {"train": [...], "dev": [...], "test": [...]} taking the first `num_*` pairs of each split, in order.
            Glosses are a space-separated string or a list of strings; a pair may also be a dict with keys
            "gloss" and "text".
        video_format: "mp4" (H.264, yuv420p) or "frames" (a PNG frame folder per clip, like PHOENIX).
        overwrite: delete this corpus's files (corpus.json and the split folders) and render from scratch.
        frames_per_sign, transition_frames, rest_frames: frame counts of a sign's own movement, of the transition
            into it, and of the rest pose at both ends, for a signer of average pace (signers vary by 0.8-1.25x).
        num_signers: number of signer profiles (looks, placement, pace) the clips are drawn from.
        noise: standard deviation of per-frame pixel noise, in [0, 1] intensity units.
        num_workers: processes rendering in parallel (0 or 1: render in this process). Workers start in a few
            seconds, so fewer than 100 missing clips are always rendered in this process.

    Returns:
        `datasets.DatasetDict` with the written splits, from `sign_translation.data.load_sign_dataset(output_dir)`.

    Example:
        >>> import tempfile
        >>> from sign_translation.data import make_synthetic_corpus
        >>> ds = make_synthetic_corpus(tempfile.mkdtemp(), num_train=8, num_dev=2, num_test=2, image_size=32)
        >>> sorted(ds)
        ['dev', 'test', 'train']
        >>> ds["train"].num_rows
        8
    """
    write_synthetic_corpus(
        output_dir,
        num_train=num_train,
        num_dev=num_dev,
        num_test=num_test,
        seed=seed,
        image_size=image_size,
        fps=fps,
        pairs=pairs,
        video_format=video_format,
        overwrite=overwrite,
        frames_per_sign=frames_per_sign,
        transition_frames=transition_frames,
        rest_frames=rest_frames,
        num_signers=num_signers,
        noise=noise,
        num_workers=num_workers,
    )
    from . import load_sign_dataset  # lazy: datasets is only needed to load

    return load_sign_dataset(output_dir)


def write_synthetic_corpus(
    output_dir: str | os.PathLike,
    num_train: int | None = 800,
    num_dev: int | None = 100,
    num_test: int | None = 100,
    seed: int = 0,
    image_size: int = 64,
    fps: float = 25.0,
    pairs: Sequence[Pair] | Mapping[str, Sequence[Pair]] | None = None,
    video_format: str = "mp4",
    overwrite: bool = False,
    *,
    frames_per_sign: int = 8,
    transition_frames: int = 4,
    rest_frames: int = 3,
    num_signers: int = 8,
    noise: float = 0.015,
    num_workers: int = 1,
    allow_empty_glosses: bool = False,
) -> SyntheticCorpusSummary:
    """Write the corpus files (see `make_synthetic_corpus`, which also loads them) and return a summary.

    `allow_empty_glosses`: sign a pair without glosses as a clip of the signer at rest (PHOENIX14T has four such
    annotations in dev/test; keeping them keeps its splits) instead of refusing it."""
    started = time.perf_counter()
    counts = {"train": num_train, "dev": num_dev, "test": num_test}
    _validate_arguments(
        output_dir, counts, seed, image_size, fps, video_format, frames_per_sign, transition_frames, rest_frames,
        num_signers, noise, num_workers,
    )  # fmt: skip
    output_dir = Path(output_dir)
    if pairs is None:
        split_pairs = {
            split: _sample_builtin(seed, i, counts[split] if counts[split] is not None else DEFAULT_COUNTS[split])
            for i, split in enumerate(SPLITS)
        }
        vocabulary = dict(BUILTIN_SIGNS)
        grammar = GRAMMAR_NAME
    else:
        split_pairs = _split_pairs(pairs, counts, seed, allow_empty_glosses)
        used = sorted({g for items in split_pairs.values() for glosses, _ in items for g in glosses})
        vocabulary = sign_parameters_for(used)
        grammar = "pairs"
    counts = {split: len(items) for split, items in split_pairs.items()}
    if sum(counts.values()) == 0:
        raise SignInputError("num_train, num_dev, num_test: all are 0; ask for at least one clip")
    settings = {
        "version": CORPUS_VERSION,
        "seed": seed,
        "counts": counts,
        "image_size": image_size,
        "fps": float(fps),
        "video_format": video_format,
        "frames_per_sign": frames_per_sign,
        "transition_frames": transition_frames,
        "rest_frames": rest_frames,
        "num_signers": num_signers,
        "noise": float(noise),
        "grammar": grammar,
        "pairs_sha256": None if pairs is None else _digest(split_pairs),
    }
    _prepare_output_dir(output_dir, settings, overwrite)

    timing = Timing(frames_per_sign=frames_per_sign, transition_frames=transition_frames, rest_frames=rest_frames)
    profiles = [make_signer_profile(seed, s) for s in range(num_signers)]
    plans: dict[str, list[ClipPlan]] = {}
    for split_index, split in enumerate(SPLITS):
        plans[split] = []
        for i, (glosses, text) in enumerate(split_pairs[split]):
            rng = np.random.default_rng([seed, 303, split_index, i])
            signer = profiles[int(rng.integers(num_signers))]
            plan = plan_clip(glosses, vocabulary, vary_signer(signer, rng), rng, timing, noise)
            plan.extra = {"name": f"{split}-{i:05d}", "text": text}
            plans[split].append(plan)

    corpus = {
        "generator": "sign_translation.data.synthetic",
        "settings": settings,
        "counts": counts,
        "grammar": grammar,
        "vocabulary": {g: p.to_dict() for g, p in sorted(vocabulary.items())},
        "sign_inventory": {
            "handshapes": list(HANDSHAPES),
            "locations": list(LOCATIONS),
            "movements": list(MOVEMENTS),
            "face_cues": list(FACE_CUES),
        },
        "signers": [p.to_dict() for p in profiles],
        "notes": {
            "sign_spans": "[start, end) frames of each gloss's own movement; transitions and rest are outside",
            "descriptions": "one per frame: 'right hand: ...; left hand: ...; face: ...'",
            "right_hand": "the signer's dominant right hand, seen on the left half of the image",
        },
    }
    _write_json_atomic(output_dir / "corpus.json", corpus)

    jobs = []
    reused = 0
    for split in SPLITS:
        if not plans[split]:
            continue
        split_dir = output_dir / split
        split_dir.mkdir(parents=True, exist_ok=True)
        _remove_temporaries(split_dir)
        for plan in plans[split]:
            target = split_dir / _file_name(plan.extra["name"], video_format)
            if _is_finished(target, video_format):
                reused += 1
            else:
                jobs.append((plan, str(target)))
    logger.info(
        "synthetic corpus %s: rendering %d clips (%d already present), %d px, %d worker(s)",
        output_dir, len(jobs), reused, image_size, max(1, num_workers),
    )  # fmt: skip
    _render_all(jobs, image_size, float(fps), video_format, num_workers)

    for split in SPLITS:
        if not plans[split]:
            continue
        records = [_metadata_record(plan, split, float(fps), video_format) for plan in plans[split]]
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        _write_text_atomic(output_dir / split / "metadata.jsonl", text)

    first = next((plans[s][0] for s in SPLITS if plans[s]), None)
    summary = SyntheticCorpusSummary(
        output_dir=output_dir,
        counts=counts,
        vocabulary_size=len(vocabulary),
        grammar=grammar,
        rendered=len(jobs),
        reused=reused,
        seconds=time.perf_counter() - started,
        example={"gloss": " ".join(first.glosses), "text": first.extra["text"]} if first else {},
    )
    logger.info("synthetic corpus %s written in %.1f s: %s", output_dir, summary.seconds, counts)
    return summary


# --- sentences ------------------------------------------------------------------------------------------------------


def _sample_builtin(seed: int, split_index: int, count: int) -> list[tuple[list[str], str]]:
    rng = np.random.default_rng([seed, 101, split_index])
    return [sample_sentence(rng) for _ in range(count)]


def _normalise_pair(item, where: str, allow_empty: bool = False) -> tuple[list[str], str]:
    if isinstance(item, Mapping):
        if "gloss" not in item or "text" not in item:
            raise SignInputError(
                f"{where}: a pair given as a dict needs the keys 'gloss' and 'text', got {sorted(item)}"
            )
        glosses, text = item["gloss"], item["text"]
    elif isinstance(item, (tuple, list)) and len(item) == 2:
        glosses, text = item
    else:
        raise SignInputError(
            f"{where}: expected a (glosses, sentence) pair or a dict with 'gloss' and 'text', got {item!r}"
        )
    if isinstance(glosses, str):
        glosses = glosses.split()
    elif isinstance(glosses, (list, tuple)) and all(isinstance(g, str) for g in glosses):
        if any(not g.strip() or len(g.split()) != 1 for g in glosses):
            raise SignInputError(
                f"{where}: each gloss in a list must be one non-empty token without spaces, got {glosses!r}"
            )
        glosses = list(glosses)
    else:
        raise SignInputError(
            f"{where}: glosses must be a space-separated string or a list of strings, got {glosses!r}"
        )
    if not glosses and not allow_empty:
        raise SignInputError(f"{where}: the gloss sequence is empty; every pair needs at least one gloss")
    if not isinstance(text, str) or not text.strip():
        raise SignInputError(f"{where}: the sentence must be a non-empty string, got {text!r}")
    return glosses, text.strip()


def _split_pairs(
    pairs, counts: dict[str, int | None], seed: int, allow_empty: bool = False
) -> dict[str, list[tuple[list[str], str]]]:
    """Resolve `pairs` into the pairs of each split (see `make_synthetic_corpus`)."""
    if isinstance(pairs, Mapping):
        unknown = sorted(set(pairs) - set(SPLITS))
        if unknown:
            raise SignInputError(f"pairs: unknown split name(s) {unknown}; expected keys among {list(SPLITS)}")
        result = {}
        for split in SPLITS:
            given = pairs.get(split, [])
            if isinstance(given, (str, bytes)) or not isinstance(given, Sequence):
                raise SignInputError(
                    f"pairs[{split!r}]: expected a list of (glosses, sentence) pairs, got {type(given).__name__}"
                )
            wanted = len(given) if counts[split] is None else counts[split]
            if wanted > len(given):
                raise SignInputError(
                    f"pairs[{split!r}]: num_{split}={wanted} clips requested but only {len(given)} pairs given; "
                    f"pass num_{split}={len(given)} or fewer (None uses all)"
                )
            result[split] = [_normalise_pair(item, f"pairs[{split!r}][{i}]", allow_empty) for i, item in enumerate(given[:wanted])]
        return result
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Sequence):
        raise SignInputError(
            f"pairs: expected a list of (glosses, sentence) pairs or a dict of such lists per split, got {type(pairs).__name__}"
        )
    items = [_normalise_pair(item, f"pairs[{i}]", allow_empty) for i, item in enumerate(pairs)]
    fixed = sum(c for c in counts.values() if c is not None)
    if fixed > len(items):
        raise SignInputError(
            f"pairs: {len(items)} pairs given but num_train + num_dev + num_test = {fixed} clips requested; "
            "pass smaller counts, or None for a split to give it the remaining pairs"
        )
    free = [s for s in SPLITS if counts[s] is None]
    resolved = {s: c for s, c in counts.items() if c is not None}
    if free:  # share the remaining pairs 8:1:1 among the splits left open
        rest = len(items) - fixed
        weights = np.array([DEFAULT_COUNTS[s] for s in free], dtype=float)
        shares = np.floor(rest * weights / weights.sum()).astype(int)
        shares[0] += rest - shares.sum()
        resolved.update({s: int(n) for s, n in zip(free, shares)})
    order = np.random.default_rng([seed, 202]).permutation(len(items))
    result, start = {}, 0
    for split in SPLITS:
        result[split] = [items[j] for j in order[start : start + resolved[split]]]
        start += resolved[split]
    return result


def _digest(split_pairs) -> str:
    data = json.dumps({s: [[g, t] for g, t in items] for s, items in split_pairs.items()}, ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


# --- validation and the output folder -------------------------------------------------------------------------------


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _validate_arguments(
    output_dir, counts, seed, image_size, fps, video_format, frames_per_sign, transition_frames, rest_frames,
    num_signers, noise, num_workers,
) -> None:  # fmt: skip
    if not isinstance(output_dir, (str, os.PathLike)) or not str(output_dir):
        raise SignInputError(f"output_dir: expected a folder path, got {output_dir!r}")
    if Path(output_dir).exists() and not Path(output_dir).is_dir():
        raise SignInputError(f"output_dir: {output_dir} exists and is not a folder; expected a folder for the corpus")
    for split, count in counts.items():
        if count is None:
            continue
        if not _is_int(count) or count < 0:
            raise SignInputError(f"num_{split}: expected a number of clips >= 0 (or None), got {count!r}")
    if not _is_int(seed) or seed < 0:
        raise SignInputError(f"seed: expected an integer >= 0, got {seed!r}")
    if not _is_int(image_size) or image_size % 2 or not MIN_IMAGE_SIZE <= image_size <= MAX_IMAGE_SIZE:
        raise SignInputError(
            f"image_size: expected an even number of pixels between {MIN_IMAGE_SIZE} and {MAX_IMAGE_SIZE} "
            f"(H.264 with yuv420p needs even sizes), got {image_size!r}"
        )
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not math.isfinite(fps) or not 0 < fps <= 1000:
        raise SignInputError(f"fps: expected a frame rate > 0 and <= 1000, got {fps!r}")
    if video_format not in VIDEO_FORMATS:
        raise SignInputError(f"video_format: expected one of {list(VIDEO_FORMATS)}, got {video_format!r}")
    for name, value, minimum in (
        ("frames_per_sign", frames_per_sign, 2),
        ("transition_frames", transition_frames, 1),
        ("rest_frames", rest_frames, 0),
        ("num_signers", num_signers, 1),
        ("num_workers", num_workers, 0),
    ):
        if not _is_int(value) or value < minimum:
            raise SignInputError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 <= noise <= 0.5:
        raise SignInputError(f"noise: expected a pixel noise standard deviation in [0, 0.5], got {noise!r}")


def _prepare_output_dir(output_dir: Path, settings: dict, overwrite: bool) -> None:
    """Resume, refuse or clear an existing folder, then make sure it exists."""
    corpus_file = output_dir / "corpus.json"
    if output_dir.is_dir():
        existing = None
        if corpus_file.is_file():
            try:
                existing = json.loads(corpus_file.read_text(encoding="utf-8")).get("settings")
            except (OSError, ValueError, AttributeError):
                existing = "unreadable"
        has_content = any(output_dir.iterdir())
        if overwrite:
            if corpus_file.exists():
                corpus_file.unlink()
            for split in SPLITS:
                if (output_dir / split).is_dir():
                    shutil.rmtree(output_dir / split)
        elif existing is None and has_content:
            raise SignInputError(
                f"output_dir: {output_dir} is not empty and holds no corpus.json, so it is not a synthetic corpus to "
                "resume; choose an empty or new folder, or pass overwrite=True (--overwrite)"
            )
        elif existing is not None and existing != settings:
            if isinstance(existing, dict):
                changed = sorted(k for k in set(existing) | set(settings) if existing.get(k) != settings.get(k))
                detail = ", ".join(f"{k}: {existing.get(k)!r} -> {settings.get(k)!r}" for k in changed)
            else:
                detail = "its corpus.json cannot be read"
            raise SignInputError(
                f"output_dir: {output_dir} holds a synthetic corpus made with other settings ({detail}); "
                "use another folder, the same settings to resume, or overwrite=True (--overwrite) to replace it"
            )
        elif existing is not None:
            logger.info("resuming the synthetic corpus in %s", output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)


def _file_name(name: str, video_format: str) -> str:
    return f"{name}.mp4" if video_format == "mp4" else name


def _is_finished(target: Path, video_format: str) -> bool:
    if video_format == "mp4":
        return target.is_file() and target.stat().st_size > 0
    return target.is_dir()


def _remove_temporaries(split_dir: Path) -> None:
    """Leftovers of an interrupted run (never a finished clip: those are renamed into place when complete)."""
    for path in split_dir.iterdir():
        if path.name.startswith(".") and _TMP_MARK in path.name:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}{_TMP_MARK}{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _write_json_atomic(path: Path, data) -> None:
    _write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _metadata_record(plan: ClipPlan, split: str, fps: float, video_format: str) -> dict:
    name = plan.extra["name"]
    return {
        "file_name": _file_name(name, video_format),
        "name": name,
        "text": plan.extra["text"],
        "gloss": " ".join(plan.glosses),
        "num_frames": plan.num_frames,
        "fps": fps,
        "signer": plan.signer.signer,
        "descriptions": plan.descriptions,
        "sign_spans": plan.sign_spans,
    }


# --- rendering and writing clips ------------------------------------------------------------------------------------


def _render_all(jobs: list[tuple[ClipPlan, str]], image_size: int, fps: float, video_format: str, num_workers: int):
    if not jobs:
        return
    from ..progress import progress_bar

    total, done, reported = len(jobs), 0, 0
    bar = progress_bar(total=total, desc="rendering clips", unit="clip")

    def progress(finished: int) -> None:  # the bar (on a terminal), and a log line per 10 % of the clips
        nonlocal done, reported
        done += finished
        bar.update(finished)
        if done >= total:
            bar.close()
        if total >= 50 and done * 10 // total > reported:
            reported = done * 10 // total
            logger.info("rendered %d/%d clips", done, total)

    if num_workers <= 1 or len(jobs) < _MIN_JOBS_FOR_WORKERS:
        for plan, target in jobs:
            _render_and_write(plan, target, image_size, fps, video_format)
            progress(1)
        return
    batch = max(1, min(16, math.ceil(len(jobs) / (num_workers * 4))))
    batches = [jobs[i : i + batch] for i in range(0, len(jobs), batch)]
    # "spawn": workers start clean (no inherited torch/OpenMP thread state, which fork can deadlock on).
    with ProcessPoolExecutor(max_workers=num_workers, mp_context=get_context("spawn")) as pool:
        for finished in pool.map(_render_batch, batches, [image_size] * len(batches), [fps] * len(batches),
                                 [video_format] * len(batches)):  # fmt: skip
            progress(finished)


def _render_batch(jobs, image_size: int, fps: float, video_format: str) -> int:
    for plan, target in jobs:
        _render_and_write(plan, target, image_size, fps, video_format)
    return len(jobs)


def _render_and_write(plan: ClipPlan, target: str, image_size: int, fps: float, video_format: str) -> None:
    frames = render_clip(plan, image_size)
    target = Path(target)
    tmp = target.with_name(f".{target.stem}{_TMP_MARK}{os.getpid()}{target.suffix}")
    if video_format == "mp4":
        encode_mp4(frames, tmp, fps)
    else:
        write_frame_folder(frames, tmp)
    os.replace(tmp, target)


def write_frame_folder(frames: np.ndarray, folder: str | os.PathLike) -> None:
    """Write (T, H, W, 3) uint8 frames as images0001.png, images0002.png, ... (the PHOENIX naming)."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    digits = max(4, len(str(len(frames))))
    for i, frame in enumerate(frames, start=1):
        Image.fromarray(frame).save(folder / f"images{i:0{digits}d}.png", compress_level=3)


def encode_mp4(frames: np.ndarray, path: str | os.PathLike, fps: float) -> None:
    """Encode (T, H, W, 3) uint8 frames as H.264/yuv420p mp4: torchcodec if it can encode, else the ffmpeg CLI."""
    try:
        import torch
        from torchcodec.encoders import VideoEncoder
    except ImportError:
        VideoEncoder = None
    if VideoEncoder is not None:
        tensor = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
        # One encoder thread: parallelism comes from num_workers, and tiny frames gain nothing from threads.
        VideoEncoder(tensor, frame_rate=fps).to_file(
            str(path), codec="libx264", pixel_format="yuv420p", crf=18, preset="veryfast", extra_options={"threads": 1}
        )
        return
    _encode_mp4_ffmpeg(frames, path, fps)


def _encode_mp4_ffmpeg(frames: np.ndarray, path: str | os.PathLike, fps: float) -> None:
    import subprocess

    if shutil.which("ffmpeg") is None:
        raise RuntimeError(
            "writing mp4 needs torchcodec (with its encoders) or the ffmpeg command; neither is available"
        )
    n, h, w, _ = frames.shape
    command = [
        "ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(fps),
        "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18", "-preset", "veryfast", "-threads", "1",
        "-f", "mp4", str(path),
    ]  # fmt: skip
    result = subprocess.run(command, input=np.ascontiguousarray(frames).tobytes(), capture_output=True)
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg failed to write {path}: {result.stderr.decode(errors='replace').strip()}")


# A gloss whose hashed sign is taken draws again this often before the free signs are searched in order.
_MAX_HASH_ATTEMPTS = 64


def sign_parameters_for(glosses: Sequence[str]) -> dict[str, SignParameters]:
    """Sign parameters the corpus uses for these glosses, no two alike: built-in signs where defined, hashed ones
    otherwise.

    A hashed sign depends on the gloss string alone, so two glosses can draw the same sign (with 18,144 possible
    signs, about 40 such pairs among PHOENIX14T's ~1,100 glosses) and the video could not tell them apart. Here the
    built-in signs are reserved first, then the other glosses, in sorted order, keep their first draw when it is
    free and otherwise draw again (`hashed_sign_parameters(gloss, attempt)`), so a corpus without collisions is
    signed exactly as before and every gloss of a corpus gets a sign of its own.

    Example:
        >>> vocabulary = sign_parameters_for(["WETTER", "REGEN", "MORGEN"])
        >>> len(set(vocabulary.values()))
        3
    """
    unique = sorted(set(glosses))
    vocabulary = {g: BUILTIN_SIGNS[g] for g in unique if g in BUILTIN_SIGNS}
    taken = set(vocabulary.values())
    for gloss in unique:
        if gloss in vocabulary:
            continue
        sign = next((candidate for attempt in range(_MAX_HASH_ATTEMPTS)
                     if (candidate := hashed_sign_parameters(gloss, attempt)) not in taken), None)
        if sign is None:
            sign = next((candidate for candidate in _all_signs() if candidate not in taken), None)
        if sign is None:
            raise SignInputError(
                f"{len(unique)} glosses but only {len(taken)} distinct signs exist (handshapes x locations x "
                "movements x second hand x face cue); sign fewer glosses"
            )
        vocabulary[gloss] = sign
        taken.add(sign)
    return {g: vocabulary[g] for g in glosses}


def _all_signs():
    """Every possible sign, in a fixed order."""
    for right in HANDSHAPES:
        for location in LOCATIONS:
            for movement in MOVEMENTS:
                for left in (None, *HANDSHAPES):
                    for face in (None, *FACE_CUES):
                        yield SignParameters(right, location, movement, left_handshape=left, face=face)


def hashed_sign_collisions(pairs: Sequence[tuple[Sequence[str] | str, str]]) -> dict:
    """What signing `pairs` with the plain hash assignment (one `hashed_sign_parameters` draw per gloss, built-in
    signs where defined) would have merged — the collisions `sign_parameters_for` removes.

    Returns a dict: `gloss_pairs` (pairs of glosses signed identically), `glosses` (glosses sharing their sign with
    another), `colliding` (the groups), `clips` (pairs holding at least one such gloss) and `merged_sequences`
    (distinct gloss sequences whose videos' sign sequences coincide with another distinct sequence's).
    """
    items = [(g.split() if isinstance(g, str) else list(g), t) for g, t in pairs]
    used = sorted({g for glosses, _ in items for g in glosses})
    plain = {g: BUILTIN_SIGNS.get(g) or hashed_sign_parameters(g) for g in used}
    groups: dict[SignParameters, list[str]] = {}
    for gloss, sign in plain.items():
        groups.setdefault(sign, []).append(gloss)
    colliding = [names for names in groups.values() if len(names) > 1]
    ambiguous = {g for names in colliding for g in names}
    sequences = {tuple(glosses) for glosses, _ in items}
    by_signs: dict[tuple, int] = {}
    for sequence in sequences:
        key = tuple(plain[g] for g in sequence)
        by_signs[key] = by_signs.get(key, 0) + 1
    return {
        "glosses_total": len(used),
        "gloss_pairs": sum(len(n) * (len(n) - 1) // 2 for n in colliding),
        "glosses": len(ambiguous),
        "colliding": sorted(sorted(n) for n in colliding),
        "clips": sum(1 for glosses, _ in items if ambiguous.intersection(glosses)),
        "clips_total": len(items),
        "merged_sequences": sum(n for n in by_signs.values() if n > 1),
    }
