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

Cache format (`DescriptionCache`): a folder with
  * `cache_info.json` — what made the cache (`kind`, `settings`: model id, prompt, max_new_tokens, frame_stride,
    encoder id, pooling, dim, ...; `details`: not compared, e.g. dtype). Written atomically. Appending with other
    `settings` raises `SignInputError` unless `overwrite=True`.
  * `shard-000000-<random>.arrow`, ... — Arrow stream files (the format `datasets.Dataset.from_file` memory-maps),
    one row per video: `name`, `num_frames` (of the source video), `frame_indices` (which source frames were
    described, increasing), `descriptions` (list[str]) or `embeddings` (float32 (n, D)) (+ `source_checksum`: the
    checksum of the descriptions row the embeddings were made from), and `checksum` (SHA-256 of the row).
    A shard is written under a temporary name, fsync'ed and renamed when complete: a killed run leaves whole
    shards or none. Rows are buffered and written `rows_per_shard` videos at a time, so an interrupted run loses
    at most that many videos. The shard's row count is stored in its schema, so a truncated file is detected.
  * `.lock` — held (flock) by the one writer; a second writer fails fast instead of writing duplicates.
Loading checks every row (checksum, frame_indices vs descriptions/embeddings lengths, embedding width, duplicate
names across shards); any failure is a `SignInputError` naming the shard file and the video. Deleting that shard
and re-running regenerates just its videos.

The files here travel with checkpoints (remote code): only `from .module import Name` imports of siblings.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import SignInputError
from .video_io import as_video_tensor, read_video

logger = logging.getLogger(__name__)

# MMSLT's prompt, verbatim (also the official code's; the missing full stop after "image" is the paper's).
DEFAULT_DESCRIPTION_PROMPT = (
    "Describe only the motion and gestures of the person in the image focus on hands and face."
)
DEFAULT_MLLM = "llava-hf/llava-onevision-qwen2-7b-ov-hf"  # MMSLT: LLaVA-OneVision-Qwen2-7B (fp16)
DEFAULT_TEXT_ENCODER = "bert-base-cased"  # MMSLT: bert-base-cased, [CLS] → 768

CACHE_FORMAT = "sign_translation.description_cache"
CACHE_VERSION = 1
CACHE_INFO_FILE = "cache_info.json"
LOCK_FILE = ".lock"
SHARD_PREFIX = "shard-"
SHARD_SUFFIX = ".arrow"
TMP_SUFFIX = ".tmp"
_SHARD_PATTERN = re.compile(r"^shard-(\d{6,})-[0-9a-f]+\.arrow$")
_SCHEMA_KEY = b"sign_translation"
KINDS = ("descriptions", "embeddings")
POOLINGS = ("cls", "mean")


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

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike = DEFAULT_TEXT_ENCODER,
        pooling: str = "cls",
        max_length: int = 512,
        batch_size: int = 64,
        dtype: str | torch.dtype | None = None,
        device: str | torch.device | None = None,
        **kwargs,
    ) -> DescriptionEncoder:
        """Load with `AutoModel.from_pretrained` + `AutoTokenizer.from_pretrained` (kwargs go to both)."""
        from transformers import AutoModel, AutoTokenizer

        device = _resolve_device(device)
        dtype = torch.float32 if dtype is None else _resolve_dtype(dtype, device)
        tokenizer = AutoTokenizer.from_pretrained(name_or_path, **kwargs)
        model = AutoModel.from_pretrained(name_or_path, dtype=dtype, **kwargs).to(device)
        return cls(model, tokenizer, pooling, max_length, batch_size, name_or_path=str(name_or_path))

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def settings(self) -> dict:
        """What decides the vectors: recorded in (and compared with) the embeddings cache."""
        return {"encoder": self.name_or_path, "pooling": self.pooling, "max_length": self.max_length, "dim": self.dim}

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


# --------------------------------------------------------------------------------------------------- the cache
def row_checksum(
    name: str,
    num_frames: int,
    frame_indices: np.ndarray,
    descriptions: Sequence[str] | None = None,
    embeddings: np.ndarray | None = None,
    source_checksum: str | None = None,
) -> str:
    """SHA-256 over everything a cache row holds (lengths included, so no two rows hash alike by concatenation)."""
    digest = hashlib.sha256()
    digest.update(f"{name}\x00{int(num_frames)}\x00".encode())
    indices = np.ascontiguousarray(frame_indices, dtype="<i8")
    digest.update(len(indices).to_bytes(8, "little"))
    digest.update(indices.tobytes())
    if descriptions is not None:
        for text in descriptions:
            data = text.encode("utf-8")
            digest.update(len(data).to_bytes(8, "little"))
            digest.update(data)
    if embeddings is not None:
        array = np.ascontiguousarray(embeddings, dtype="<f4")
        digest.update(str(array.shape).encode())
        digest.update(array.tobytes())
    if source_checksum is not None:
        digest.update(source_checksum.encode())
    return digest.hexdigest()


def _features(kind: str, dim: int | None):
    import datasets

    columns: dict[str, Any] = {
        "name": datasets.Value("string"),
        "num_frames": datasets.Value("int64"),
        "frame_indices": datasets.List(datasets.Value("int64")),
    }
    if kind == "descriptions":
        columns["descriptions"] = datasets.List(datasets.Value("string"))
    else:
        columns["embeddings"] = datasets.List(datasets.List(datasets.Value("float32"), length=dim))
        columns["source_checksum"] = datasets.Value("string")
    columns["checksum"] = datasets.Value("string")
    return datasets.Features(columns)


class _Shard:
    """One loaded shard: the memory-mapped table and flat numpy views of its list columns."""

    def __init__(self, path: Path, dataset, kind: str, dim: int | None) -> None:
        self.path = path
        self.dataset = dataset
        table = dataset.data.table
        if any(column.num_chunks > 1 for column in table.columns):
            table = table.combine_chunks()
        self.table = table
        self.names: list[str] = table.column("name").to_pylist()
        self.num_frames = table.column("num_frames").to_numpy()
        self.checksums: list[str] = table.column("checksum").to_pylist()
        self.index_offsets, self.indices = _flat_list(table.column("frame_indices"))
        self.descriptions = table.column("descriptions") if kind == "descriptions" else None
        self.source_checksums = table.column("source_checksum").to_pylist() if kind == "embeddings" else None
        if kind == "embeddings":
            self.embedding_offsets, flat = _flat_list(table.column("embeddings"))
            self.embeddings = flat.reshape(-1, dim)  # (frames in shard, D)

    def frame_indices(self, row: int) -> np.ndarray:
        return self.indices[self.index_offsets[row] : self.index_offsets[row + 1]]

    def row_descriptions(self, row: int) -> list[str]:
        return self.descriptions.chunk(0)[row].as_py()

    def row_embeddings(self, row: int) -> np.ndarray:
        return self.embeddings[self.embedding_offsets[row] : self.embedding_offsets[row + 1]]


def _flat_list(column) -> tuple[np.ndarray, np.ndarray]:
    """(offsets rebased to 0, flat values as a numpy view) of a single-chunk list<...> column; nested lists
    (list<fixed_size_list<float, D>>) are flattened down to their scalars."""
    import pyarrow as pa

    chunk = column.chunk(0)
    offsets = chunk.offsets.to_numpy().astype(np.int64)
    values = chunk.flatten()  # honours the chunk's own slice offset
    while pa.types.is_list(values.type) or pa.types.is_fixed_size_list(values.type):
        values = values.flatten()
    return offsets - offsets[0], values.to_numpy(zero_copy_only=False)


class DescriptionCache:
    """Per-frame descriptions or their embeddings, one row per video, in a folder of Arrow shards.

    Opening is lazy: the first lookup loads every shard (memory-mapped with `datasets.Dataset.from_file`),
    checks every row (see the module docstring) and builds the index name → row, so later lookups are dict
    accesses plus numpy slicing. The object pickles as its folder and re-opens, without re-checking, in DataLoader
    worker processes.

    Frame lookup (`embeddings_for`, `descriptions_for`): a requested source-frame index that was described gets
    its own row; any other index gets the nearest described frame (a tie goes to the earlier one). So a cache
    built with `frame_stride=4` serves every frame of the video, each from the closest described frame.

    Example:
    ```python
    >>> import tempfile, numpy as np
    >>> from sign_translation.processing import DescriptionCache
    >>> cache = DescriptionCache(tempfile.mkdtemp())
    >>> with cache.writer("embeddings", {"encoder": "demo", "dim": 2}) as writer:
    ...     writer.add("clip-1", frame_indices=[0, 2], num_frames=4,
    ...                embeddings=np.array([[0, 0], [1, 1]], np.float32), source_checksum="-")
    >>> cache.embeddings_for("clip-1", [0, 1, 2, 3]).tolist()
    [[0.0, 0.0], [0.0, 0.0], [1.0, 1.0], [1.0, 1.0]]
    >>> len(cache), "clip-1" in cache
    (1, True)

    ```
    """

    def __init__(self, cache_dir: str | os.PathLike, verify: bool = True) -> None:
        self.cache_dir = Path(cache_dir)
        self.verify = verify
        self._shards: list[_Shard] | None = None
        self._index: dict[str, tuple[int, int]] = {}
        self._info: dict | None = None

    @classmethod
    def load(cls, cache_dir: str | os.PathLike, verify: bool = True) -> DescriptionCache:
        """Open an existing cache and load (and check) it now; `SignInputError` if it is missing or corrupt."""
        cache = cls(cache_dir, verify=verify)
        cache._ensure_loaded()
        return cache

    open = load

    # -- pickling (DataLoader workers): the folder, re-opened lazily without re-checking the rows
    def __getstate__(self) -> dict:
        verified = self._shards is not None and self.verify
        return {"cache_dir": str(self.cache_dir), "verify": self.verify and not verified}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["cache_dir"], verify=state["verify"])

    def __repr__(self) -> str:
        size = f"{len(self._index)} videos" if self._shards is not None else "not loaded"
        return f"DescriptionCache({str(self.cache_dir)!r}, {size})"

    # -- metadata
    def exists(self) -> bool:
        return (self.cache_dir / CACHE_INFO_FILE).is_file()

    @property
    def info(self) -> dict:
        """The parsed `cache_info.json`."""
        if self._info is None:
            self._info = _read_info(self.cache_dir)
            if self._info is None:
                hint = "" if self.cache_dir.is_dir() else " (the folder does not exist)"
                raise SignInputError(
                    f"{self.cache_dir}: not a description cache: no {CACHE_INFO_FILE}{hint}; create it with "
                    "describe_dataset / descriptions_from_corpus / encode_descriptions (or `sign-translation describe`)"
                )
        return self._info

    @property
    def kind(self) -> str:
        return self.info["kind"]

    @property
    def settings(self) -> dict:
        return self.info["settings"]

    @property
    def dim(self) -> int | None:
        return self.settings.get("dim")

    def shard_files(self) -> list[Path]:
        if not self.cache_dir.is_dir():
            return []
        files = [p for p in self.cache_dir.iterdir() if _SHARD_PATTERN.match(p.name)]
        return sorted(files, key=lambda p: p.name)

    # -- loading
    def reload(self) -> DescriptionCache:
        self._shards, self._index, self._info = None, {}, None
        self._ensure_loaded()
        return self

    def _ensure_loaded(self) -> None:
        if self._shards is not None:
            return
        info = self.info
        kind, dim = info["kind"], info["settings"].get("dim")
        shards: list[_Shard] = []
        index: dict[str, tuple[int, int]] = {}
        for path in self.shard_files():
            shard = _load_shard(path, kind, dim, self.verify)
            for row, name in enumerate(shard.names):
                if name in index:
                    other = shards[index[name][0]].path
                    raise SignInputError(
                        f"{path}: video {name!r} is also in {other}: duplicate cache entries (two writers at once?); "
                        "delete one of the two shard files"
                    )
                index[name] = (len(shards), row)
            shards.append(shard)
        self._shards, self._index = shards, index

    # -- lookup
    @property
    def names(self) -> list[str]:
        self._ensure_loaded()
        return list(self._index)

    def __len__(self) -> int:
        self._ensure_loaded()
        return len(self._index)

    def __contains__(self, name: object) -> bool:
        self._ensure_loaded()
        return name in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def _locate(self, name: str) -> tuple[_Shard, int]:
        self._ensure_loaded()
        try:
            shard_pos, row = self._index[name]
        except (KeyError, TypeError):
            raise SignInputError(
                f"{self.cache_dir}: no entry for video {name!r} ({len(self._index)} videos cached); was it "
                "described? (run describe_dataset / `sign-translation describe` on its split)"
            ) from None
        return self._shards[shard_pos], row

    def get(self, name: str) -> dict:
        """The row of one video: `name`, `num_frames`, `frame_indices` (int64) and `descriptions` or
        `embeddings` (float32 (n, D), read-only view), `checksum`."""
        shard, row = self._locate(name)
        entry = {
            "name": name,
            "num_frames": int(shard.num_frames[row]),
            "frame_indices": shard.frame_indices(row),
            "checksum": shard.checksums[row],
        }
        if shard.descriptions is not None:
            entry["descriptions"] = shard.row_descriptions(row)
        else:
            entry["embeddings"] = shard.row_embeddings(row)
            entry["source_checksum"] = shard.source_checksums[row]
        return entry

    def checksum(self, name: str) -> str:
        shard, row = self._locate(name)
        return shard.checksums[row]

    def rows_for(self, name: str, frame_indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Row positions (into the video's described frames) serving the requested source-frame indices: an exact
        match, else the nearest described frame (ties: the earlier one)."""
        shard, row = self._locate(name)
        described = shard.frame_indices(row)
        num_frames = int(shard.num_frames[row])
        wanted = np.asarray(frame_indices)
        if wanted.ndim != 1 or (wanted.size and not np.issubdtype(wanted.dtype, np.integer)):
            raise SignInputError(f"frame_indices for {name!r}: expected a 1-D sequence of integers, got {wanted!r}")
        wanted = wanted.astype(np.int64)
        if wanted.size and (wanted.min() < 0 or wanted.max() >= num_frames):
            raise SignInputError(
                f"frame_indices for {name!r}: {int(wanted.min())}..{int(wanted.max())} out of range: the video has "
                f"{num_frames} frames (0..{num_frames - 1})"
            )
        after = np.searchsorted(described, wanted).clip(max=len(described) - 1)  # first described ≥ wanted
        before = (after - 1).clip(min=0)
        take_before = np.abs(wanted - described[before]) <= np.abs(described[after] - wanted)
        return np.where(take_before, before, after)

    def embeddings_for(self, name: str, frame_indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """(len(frame_indices), D) float32: the description vector of each requested source frame (see class doc)."""
        if self.kind != "embeddings":
            raise SignInputError(f"{self.cache_dir}: a {self.kind} cache holds no embeddings; use encode_descriptions")
        shard, row = self._locate(name)
        return shard.row_embeddings(row)[self.rows_for(name, frame_indices)]

    def descriptions_for(self, name: str, frame_indices: Sequence[int] | np.ndarray) -> list[str]:
        """The description of each requested source frame (nearest described frame; see class doc)."""
        if self.kind != "descriptions":
            raise SignInputError(f"{self.cache_dir}: an {self.kind} cache holds no descriptions")
        shard, row = self._locate(name)
        texts = shard.row_descriptions(row)
        return [texts[i] for i in self.rows_for(name, frame_indices)]

    @property
    def dataset(self):
        """All rows as one `datasets.Dataset` (memory-mapped shards, concatenated)."""
        import datasets

        self._ensure_loaded()
        if not self._shards:
            features = _features(self.kind, self.dim)
            return datasets.Dataset.from_dict({k: [] for k in features}, features=features)
        return datasets.concatenate_datasets([shard.dataset for shard in self._shards])

    # -- writing
    def writer(
        self,
        kind: str,
        settings: dict,
        details: dict | None = None,
        overwrite: bool = False,
        rows_per_shard: int = 8,
    ) -> DescriptionCacheWriter:
        """A `DescriptionCacheWriter` (context manager) appending rows to this cache; see that class."""
        return DescriptionCacheWriter(self, kind, settings, details, overwrite, rows_per_shard)


def _read_info(cache_dir: Path) -> dict | None:
    path = cache_dir / CACHE_INFO_FILE
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SignInputError(
            f"{path}: unreadable cache info ({err}); delete the cache folder or pass overwrite"
        ) from err
    if not isinstance(info, dict) or info.get("format") != CACHE_FORMAT or info.get("kind") not in KINDS:
        raise SignInputError(f"{path}: not a sign_translation description cache info file")
    if info.get("version") != CACHE_VERSION:
        raise SignInputError(
            f"{path}: cache format version {info.get('version')}, this code reads version {CACHE_VERSION}; rebuild "
            "the cache (overwrite=True)"
        )
    return info


def _load_shard(path: Path, kind: str, dim: int | None, verify: bool) -> _Shard:
    import datasets
    import pyarrow as pa

    def corrupt(what: str, name: str | None = None) -> SignInputError:
        video = f" video {name!r}:" if name is not None else ""
        return SignInputError(
            f"{path}:{video} {what}. The cache entry is corrupt: delete this shard file and re-run the same command "
            "to regenerate its videos"
        )

    try:
        with pa.memory_map(str(path)) as source:  # datasets keeps only its own schema metadata: read ours here
            metadata = pa.ipc.open_stream(source).schema.metadata or {}
        dataset = datasets.Dataset.from_file(str(path))
        shard = _Shard(path, dataset, kind, dim)
    except SignInputError:
        raise
    except Exception as err:  # pyarrow/datasets raise many types for a damaged file
        raise corrupt(
            f"unreadable cache shard ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})"
        ) from err
    try:
        expected_rows = json.loads(metadata[_SCHEMA_KEY])["num_rows"]
    except (KeyError, ValueError, TypeError):
        raise corrupt("no row count in the shard's schema (not written by this cache)") from None
    if expected_rows != len(shard.names):
        raise corrupt(f"truncated: {len(shard.names)} of its {expected_rows} rows are readable")
    for row, name in enumerate(shard.names):
        indices = shard.frame_indices(row)
        num_frames = int(shard.num_frames[row])
        if kind == "descriptions":
            payload = shard.row_descriptions(row)
            count = len(payload)
            what = "descriptions"
        else:
            payload = shard.row_embeddings(row)
            count = payload.shape[0]
            what = "embeddings"
        if count != len(indices):
            raise corrupt(f"{len(indices)} frame indices but {count} {what}", name)
        if len(indices) and (np.any(np.diff(indices) <= 0) or indices[0] < 0 or indices[-1] >= num_frames):
            raise corrupt(f"frame_indices not increasing within 0..{num_frames - 1}", name)
        if kind == "embeddings" and (shard.embedding_offsets[-1] * dim != shard.embeddings.size):
            raise corrupt(f"embedding width is not {dim}", name)
        if verify:
            expected = row_checksum(
                name,
                num_frames,
                indices,
                descriptions=payload if kind == "descriptions" else None,
                embeddings=payload if kind == "embeddings" else None,
                source_checksum=shard.source_checksums[row] if kind == "embeddings" else None,
            )
            if expected != shard.checksums[row]:
                raise corrupt("checksum mismatch (its data changed after it was written)", name)
    return shard


class DescriptionCacheWriter:
    """Appends rows to a `DescriptionCache`, one shard file per `rows_per_shard` videos, atomically.

    Opening it takes the folder's lock, writes `cache_info.json` (or checks that the existing one has the same
    `settings`, else `SignInputError`; `overwrite=True` deletes the old shards first), removes temporary files a
    killed run left, and loads the names already cached so callers can skip them (`name in writer`). On leaving
    the `with` block — also through an exception such as KeyboardInterrupt — buffered complete rows are written.
    """

    def __init__(
        self,
        cache: DescriptionCache,
        kind: str,
        settings: dict,
        details: dict | None = None,
        overwrite: bool = False,
        rows_per_shard: int = 8,
    ) -> None:
        if kind not in KINDS:
            raise SignInputError(f"kind: expected one of {list(KINDS)}, got {kind!r}")
        if not isinstance(rows_per_shard, int) or rows_per_shard < 1:
            raise SignInputError(f"rows_per_shard: expected an integer ≥ 1, got {rows_per_shard!r}")
        settings = json.loads(json.dumps(settings))  # plain JSON values, compared as written
        if kind == "embeddings" and not (isinstance(settings.get("dim"), int) and settings["dim"] > 0):
            raise SignInputError(f"settings: an embeddings cache needs the vector width 'dim', got {settings!r}")
        self.cache = cache
        self.kind = kind
        self.settings = settings
        self.dim = settings.get("dim") if kind == "embeddings" else None
        self.rows_per_shard = rows_per_shard
        self.written_rows = 0
        self._buffer: list[dict] = []
        self._lock_file = None
        cache_dir = cache.cache_dir
        cache_dir.mkdir(parents=True, exist_ok=True)
        self._acquire_lock()
        try:
            self._prepare(details or {}, overwrite)
        except BaseException:
            self._release_lock()
            raise

    def _acquire_lock(self) -> None:
        import fcntl

        path = self.cache.cache_dir / LOCK_FILE
        self._lock_file = open(path, "a+")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_file.close()
            self._lock_file = None
            raise SignInputError(
                f"{self.cache.cache_dir}: another process is writing this cache (its {LOCK_FILE} is locked); wait "
                "for it, or use another cache folder"
            ) from None

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # closing releases the flock
            self._lock_file = None

    def _prepare(self, details: dict, overwrite: bool) -> None:
        cache_dir = self.cache.cache_dir
        for path in cache_dir.iterdir():  # a killed writer's partial files (we hold the lock: none is live)
            if path.name.startswith(".") and path.name.endswith(TMP_SUFFIX):
                path.unlink()
        info = None if overwrite else _read_info(cache_dir)
        if info is not None:
            if info["kind"] != self.kind or info["settings"] != self.settings:
                raise SignInputError(
                    f"{cache_dir / CACHE_INFO_FILE}: {_settings_difference(info, self.kind, self.settings)}"
                )
        else:
            shards = self.cache.shard_files()
            if shards and not overwrite:
                raise SignInputError(
                    f"{cache_dir}: {len(shards)} shard files but no {CACHE_INFO_FILE}: not made by this code, or "
                    "damaged; pass overwrite=True to start again"
                )
            for path in shards:  # old shards first: a crash leaves the old info with fewer, intact rows
                path.unlink()
            (cache_dir / CACHE_INFO_FILE).unlink(missing_ok=True)
            info = {
                "format": CACHE_FORMAT,
                "version": CACHE_VERSION,
                "kind": self.kind,
                "settings": self.settings,
                "details": {
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    **json.loads(json.dumps(details, default=str)),
                },
            }
            _write_atomic(
                cache_dir / CACHE_INFO_FILE, (json.dumps(info, indent=2, ensure_ascii=False) + "\n").encode()
            )
        self.cache._shards, self.cache._info = None, None
        self.cache._ensure_loaded()
        self._done = set(self.cache._index)
        numbers = [int(_SHARD_PATTERN.match(p.name).group(1)) for p in self.cache.shard_files()]
        self._next_shard = max(numbers, default=-1) + 1

    def __contains__(self, name: object) -> bool:
        return name in self._done

    @property
    def done(self) -> set[str]:
        """Names already in the cache or buffered."""
        return set(self._done)

    def add(
        self,
        name: str,
        frame_indices: Sequence[int] | np.ndarray,
        num_frames: int,
        descriptions: Sequence[str] | None = None,
        embeddings: np.ndarray | None = None,
        source_checksum: str | None = None,
    ) -> None:
        """Buffer one video's row; a shard is written every `rows_per_shard` rows."""
        if self._lock_file is None:
            raise SignInputError(f"{self.cache.cache_dir}: the cache writer is closed")
        if not isinstance(name, str) or not name:
            raise SignInputError(f"name: expected a non-empty video name string, got {name!r}")
        if name in self._done:
            raise SignInputError(f"{self.cache.cache_dir}: video {name!r} is already cached; names must be unique")
        indices = np.asarray(frame_indices, dtype=np.int64).reshape(-1)
        num_frames = int(num_frames)
        if indices.size == 0:
            raise SignInputError(f"video {name!r}: no frame index given; expected at least one described frame")
        if np.any(np.diff(indices) <= 0) or indices[0] < 0 or indices[-1] >= num_frames:
            raise SignInputError(
                f"video {name!r}: frame_indices must increase strictly within 0..{num_frames - 1}, got "
                f"{indices[:8].tolist()}{'...' if indices.size > 8 else ''}"
            )
        row: dict[str, Any] = {"name": name, "num_frames": num_frames, "frame_indices": indices}
        if self.kind == "descriptions":
            if descriptions is None or embeddings is not None:
                raise SignInputError(f"video {name!r}: a descriptions cache takes descriptions=[...] only")
            descriptions = list(descriptions)
            if len(descriptions) != indices.size or not all(isinstance(t, str) for t in descriptions):
                raise SignInputError(
                    f"video {name!r}: expected {indices.size} description strings (one per frame index), got "
                    f"{len(descriptions)}"
                )
            row["descriptions"] = descriptions
            row["checksum"] = row_checksum(name, num_frames, indices, descriptions=descriptions)
        else:
            if embeddings is None or descriptions is not None:
                raise SignInputError(f"video {name!r}: an embeddings cache takes embeddings=array only")
            array = np.ascontiguousarray(embeddings, dtype=np.float32)
            if array.shape != (indices.size, self.dim):
                raise SignInputError(
                    f"video {name!r}: embeddings of shape {array.shape}, expected ({indices.size}, {self.dim})"
                )
            source_checksum = "" if source_checksum is None else str(source_checksum)
            row["embeddings"] = array
            row["source_checksum"] = source_checksum
            row["checksum"] = row_checksum(
                name, num_frames, indices, embeddings=array, source_checksum=source_checksum
            )
        self._buffer.append(row)
        self._done.add(name)
        if len(self._buffer) >= self.rows_per_shard:
            self.flush()

    def flush(self) -> Path | None:
        """Write the buffered rows as one shard (temp file, fsync, rename). Returns its path, or None if empty."""
        if not self._buffer:
            return None
        import pyarrow as pa

        features = _features(self.kind, self.dim)
        schema = features.arrow_schema
        columns: dict[str, Any] = {}
        for key in features:
            values = [row[key] for row in self._buffer]
            if key in ("frame_indices", "embeddings"):  # numpy → Arrow without Python lists (embeddings are large)
                lengths = np.array([len(v) for v in values], dtype=np.int32)
                offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
                flat = pa.array(np.concatenate(values).reshape(-1))
                if key == "embeddings":
                    flat = pa.FixedSizeListArray.from_arrays(flat, self.dim)
                values = pa.ListArray.from_arrays(offsets, flat).cast(schema.field(key).type)
            columns[key] = values
        meta = {
            **(schema.metadata or {}),
            _SCHEMA_KEY: json.dumps({"num_rows": len(self._buffer), "kind": self.kind}).encode(),
        }
        schema = schema.with_metadata(meta)
        table = pa.Table.from_pydict(columns, schema=schema)
        path = self.cache.cache_dir / f"{SHARD_PREFIX}{self._next_shard:06d}-{secrets.token_hex(4)}{SHARD_SUFFIX}"
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, schema) as stream:
            stream.write_table(table)
        _write_atomic(path, sink.getvalue().to_pybytes())
        self._next_shard += 1
        self.written_rows += len(self._buffer)
        self._buffer = []
        self.cache._shards = None  # readers of this object see the new shard on their next lookup
        return path

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._release_lock()

    def __enter__(self) -> DescriptionCacheWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _settings_difference(info: dict, kind: str, settings: dict) -> str:
    if info["kind"] != kind:
        return f"this is a {info['kind']} cache; a {kind} cache cannot be written into it (use another folder)"
    old = info["settings"]
    keys = sorted(set(old) | set(settings), key=str)
    changes = "; ".join(
        f"{k}: cached {json.dumps(old.get(k))[:80]} vs now {json.dumps(settings.get(k))[:80]}"
        for k in keys
        if old.get(k) != settings.get(k)
    )
    return (
        f"the cache was made with other settings ({changes}). Use another cache folder, the same settings, or "
        "overwrite=True (--overwrite) to delete it and start again"
    )


def _write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary name, fsync, rename: readers and resumed runs only ever see complete files."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # make the rename itself durable (not possible on every filesystem)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


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
                frames, indices, info = read_video(
                    video_source(videos[p][i][video_column], video_column),
                    sample_indices=lambda info: np.arange(0, info.num_frames, frame_stride),
                )
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
        "described %d frames of %d videos in %.1f s", described_frames, len(todo), time.perf_counter() - started
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
    strings are encoded once per shard group.

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
    with cache.writer("embeddings", settings, details, overwrite, videos_per_shard) as writer:
        stale = [n for n in source.names if n in cache and cache.get(n)["source_checksum"] != source.checksum(n)]
        if stale:
            raise SignInputError(
                f"{cache.cache_dir}: {len(stale)} cached embeddings (e.g. {stale[0]!r}) were made from other "
                f"descriptions than those now in {source.cache_dir}; pass overwrite=True to re-encode everything"
            )
        todo = [n for n in source.names if n not in writer]
        logger.info("encoding the descriptions of %d videos (%d already encoded)", len(todo), len(source) - len(todo))
        with _progress(len(todo), "encoding descriptions", disable_progress) as bar:
            for start in range(0, len(todo), videos_per_shard):
                group = [source.get(name) for name in todo[start : start + videos_per_shard]]
                unique = sorted({text for entry in group for text in entry["descriptions"]})
                vectors = encoder.encode(unique)
                position = {text: i for i, text in enumerate(unique)}
                for entry in group:
                    rows = [position[text] for text in entry["descriptions"]]
                    writer.add(entry["name"], entry["frame_indices"], entry["num_frames"], embeddings=vectors[rows],
                               source_checksum=entry["checksum"])  # fmt: skip
                    bar.update(1)
    return cache.reload()


__all__ = [
    "DEFAULT_DESCRIPTION_PROMPT",
    "DEFAULT_MLLM",
    "DEFAULT_TEXT_ENCODER",
    "DescriptionCache",
    "DescriptionCacheWriter",
    "DescriptionEncoder",
    "SignDescriptionGenerator",
    "describe_dataset",
    "descriptions_from_corpus",
    "encode_descriptions",
    "row_checksum",
]
