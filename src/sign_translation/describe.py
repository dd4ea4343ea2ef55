"""MMSLT steps A and B, offline, as library code: describe every frame of a dataset with an image MLLM, then encode
each description with a text encoder (BERT [CLS] in the paper).

`sign-translation describe` and `train_scripts/generate_descriptions.py` both run `run(DescribeArguments(...))`.
Writes `<output_dir>/descriptions` (step A: one row per video, a description per described frame) and
`<output_dir>/embeddings` (step B: the vectors the MMSLT description mapper is trained against). Both caches are
resumable: re-running the same command skips finished videos.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from .processing import (
    DEFAULT_DESCRIPTION_PROMPT,
    DescriptionCache,
    DescriptionEncoder,
    SignDescriptionGenerator,
    SignInputError,
    describe_dataset,
    descriptions_from_corpus,
    encode_descriptions,
)
from .processing.sign_descriptions import DEFAULT_MLLM, DEFAULT_TEXT_ENCODER

logger = logging.getLogger(__name__)


@dataclass
class DescribeArguments:
    dataset: str = field(default="folder", metadata={"help": "phoenix14t | csl_daily | how2sign | folder"})
    data_dir: str | None = field(default=None, metadata={"help": "dataset root (or the synthetic corpus folder)"})
    video_root: str | None = field(default=None, metadata={"help": "where the videos / frame folders are"})
    splits: str = field(default="train,dev,test", metadata={"help": "comma-separated splits, all into one cache"})
    max_videos: int | None = field(default=None, metadata={"help": "describe at most this many new videos (a test)"})
    output_dir: str | None = field(
        default=None, metadata={"help": "caches go to <output_dir>/{descriptions,embeddings}"}
    )
    descriptions_cache_dir: str | None = field(default=None, metadata={"help": "default: <output_dir>/descriptions"})
    embeddings_cache_dir: str | None = field(default=None, metadata={"help": "default: <output_dir>/embeddings"})
    mllm_name_or_path: str = field(default=DEFAULT_MLLM, metadata={"help": "image-text-to-text model (paper's 7B)"})
    from_corpus_descriptions: bool = field(
        default=False, metadata={"help": "take the dataset's own `descriptions` column instead of running the MLLM"}
    )
    prompt: str = field(default=DEFAULT_DESCRIPTION_PROMPT, metadata={"help": "instruction (default: the paper's)"})
    max_new_tokens: int = field(default=256, metadata={"help": "per frame (paper: 256)"})
    batch_size: int = field(default=8, metadata={"help": "frames per generate call (paper: 8)"})
    frame_stride: int = field(default=1, metadata={"help": "describe every k-th frame (paper: 1, every frame)"})
    videos_per_shard: int = field(default=8, metadata={"help": "videos per cache shard: the work a kill can lose"})
    encoder_name_or_path: str = field(
        default=DEFAULT_TEXT_ENCODER,
        metadata={"help": "text encoder (paper: bert-base-cased); offline: minilm-l6 (all-MiniLM-L6-v2, 384-d)"},
    )
    pooling: str | None = field(
        default=None, metadata={"help": "cls (paper) | mean; default: cls, or mean for minilm-l6 (trained for it)"}
    )
    encoder_max_length: int = field(default=512)
    encoder_batch_size: int = field(default=64)
    skip_encoding: bool = field(default=False, metadata={"help": "stop after step A"})
    dtype: str | None = field(default=None, metadata={"help": "MLLM dtype; default float16 on CUDA, else float32"})
    device: str | None = field(default=None, metadata={"help": "default: cuda if available"})
    trust_remote_code: bool = field(default=False)
    overwrite: bool = field(default=False, metadata={"help": "replace caches made with other settings"})
    fail_fast: bool = field(
        default=False,
        metadata={"help": "stop at the first unreadable video (default: describe the others, report every bad one "
                          "and exit with status 1 at the end)"},
    )

    def __post_init__(self):
        if self.data_dir is None:
            raise SignInputError("--data_dir is required: the dataset root (or the synthetic corpus folder)")
        if self.output_dir is None and (
            self.descriptions_cache_dir is None or (self.embeddings_cache_dir is None and not self.skip_encoding)
        ):
            raise SignInputError(
                "--output_dir is required (or both --descriptions_cache_dir and --embeddings_cache_dir)"
            )
        self.descriptions_cache_dir = self.descriptions_cache_dir or os.path.join(self.output_dir, "descriptions")
        self.embeddings_cache_dir = self.embeddings_cache_dir or (
            os.path.join(self.output_dir, "embeddings") if self.output_dir else None
        )


def load_splits(args: DescribeArguments):
    from .training import DataArguments, load_dataset_from_args, require_splits

    data = DataArguments(dataset=args.dataset, data_dir=args.data_dir, video_root=args.video_root)
    dataset = load_dataset_from_args(data)
    splits = [s.strip() for s in args.splits.split(",") if s.strip()]
    require_splits(dataset, *splits)
    return [dataset[s] for s in splits]


def run(args: DescribeArguments) -> dict:
    """Steps A (+ B); returns a summary {descriptions_cache, embeddings_cache, videos, frames, failures}.

    A video that cannot be read is reported in `failures` as (name, reason); the others are described and encoded
    (with `fail_fast`, the run stops at the first bad one, keeping what was done). The output folders are checked
    before any model is loaded.
    """
    from .validation import check_output_dir

    for option, folder in (("--descriptions_cache_dir", args.descriptions_cache_dir),
                           ("--embeddings_cache_dir", None if args.skip_encoding else args.embeddings_cache_dir)):
        if folder:
            check_output_dir(folder, option)
    parts = load_splits(args)
    failures: list[tuple[str, str]] = []
    if args.from_corpus_descriptions:
        descriptions = descriptions_from_corpus(
            parts, args.descriptions_cache_dir, frame_stride=args.frame_stride, overwrite=args.overwrite
        )
    else:
        generator = SignDescriptionGenerator.from_pretrained(
            args.mllm_name_or_path,
            prompt=args.prompt,
            max_new_tokens=args.max_new_tokens,
            batch_size=args.batch_size,
            dtype=args.dtype,
            device=args.device,
            trust_remote_code=args.trust_remote_code,
        )
        descriptions = describe_dataset(
            generator,
            parts,
            args.descriptions_cache_dir,
            frame_stride=args.frame_stride,
            overwrite=args.overwrite,
            videos_per_shard=args.videos_per_shard,
            max_videos=args.max_videos,
            failures=failures,
            fail_fast=args.fail_fast,
        )
        del generator  # free the MLLM before loading the encoder
    summary = {
        "descriptions_cache": str(descriptions.cache_dir),
        "videos": len(descriptions),
        "frames": sum(len(descriptions.get(n)["frame_indices"]) for n in descriptions),
        "failures": failures,
    }
    if failures and args.fail_fast:  # stopped at the first bad video: no encoding of a partial cache
        logger.error("stopped at the first unreadable video (--fail_fast): %s: %s", *failures[0])
        return summary
    if not args.skip_encoding:
        encoder = DescriptionEncoder.from_pretrained(
            args.encoder_name_or_path,
            pooling=args.pooling,
            max_length=args.encoder_max_length,
            batch_size=args.encoder_batch_size,
            device=args.device,
        )
        embeddings: DescriptionCache = encode_descriptions(
            encoder, descriptions, args.embeddings_cache_dir, overwrite=args.overwrite
        )
        summary.update(embeddings_cache=str(embeddings.cache_dir), dim=embeddings.dim)
    logger.info("done: %s", summary)
    return summary


__all__ = ["DescribeArguments", "load_splits", "run"]
