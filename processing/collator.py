"""Data collator for the Trainer: decode (and, in training, augment) each example's video, tokenize, pad.

The collator only decodes and pads. Output lengths of temporal convolutions are computed by the models from
`video_mask`; nothing here knows about them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .errors import SignInputError


def video_source(value: Any, column: str = "video"):
    """The decodable source of a dataset's video cell: a path string, a `{"path": ...}` dict (datasets `Video`
    feature with `decode=False`), or an in-memory array/tensor."""
    if isinstance(value, dict):
        if value.get("path"):
            return value["path"]
        raise SignInputError(f"column {column!r}: a video dict without a 'path' entry: keys {sorted(value)}")
    if isinstance(value, (str, os.PathLike)) or hasattr(value, "shape"):
        return value
    raise SignInputError(
        f"column {column!r}: expected a video path, frame folder or uint8 array, got {type(value).__name__}"
    )


@dataclass
class SignTranslationCollator:
    """Turns a list of dataset rows (`video`, `text`, ...) into a model batch.

    Args:
        processor: a `SignTranslationProcessor`.
        training: random crop / temporal sampling / clip-level augmentation when True; deterministic otherwise.
            `SignSeq2SeqTrainer` switches this for its train and eval loaders.
        augment: False turns every random video transform off, in training too (the training batches are then
            processed exactly like evaluation batches).
        video_column / text_column: dataset columns holding the video source and the target sentence.
        max_target_length: truncate target sentences to this many tokens.
        text_as: "labels" (translation), "inputs" or "both" (see `SignTranslationProcessor`).
        video_kwargs: extra arguments for the video processor (e.g. `frame_stride`, `max_frames`).

    Example:
    ```python
    >>> import numpy as np
    >>> from sign_translation.processing import SignTranslationCollator, SignTranslationProcessor, SignVideoProcessor
    >>> from sign_translation.tokenization import train_mbart_tokenizer
    >>> tok = train_mbart_tokenizer(["rain in the north", "sun in the south"] * 5, vocab_size=30)
    >>> collator = SignTranslationCollator(SignTranslationProcessor(SignVideoProcessor(size=32, crop_size=28), tok))
    >>> rows = [{"video": np.zeros((8, 32, 32, 3), np.uint8), "text": "rain"},
    ...         {"video": np.zeros((5, 32, 32, 3), np.uint8), "text": "sun in the south"}]
    >>> batch = collator(rows)
    >>> tuple(batch["pixel_values_videos"].shape), batch["video_mask"].sum(1).tolist()
    ((2, 8, 3, 28, 28), [8, 5])

    ```
    """

    processor: Any
    training: bool = False
    augment: bool = True
    video_column: str = "video"
    text_column: str | None = "text"
    max_target_length: int | None = None
    text_as: str = "labels"
    video_kwargs: dict = field(default_factory=dict)

    def __call__(self, features: list[dict]) -> dict:
        return self._process(features)

    def _process(self, features: list[dict], **extra_video_kwargs) -> dict:
        if not features:
            raise SignInputError("collator got an empty list of examples")
        missing = [c for c in (self.video_column,) if c not in features[0]]
        if missing:
            raise SignInputError(
                f"dataset rows have no {missing[0]!r} column (columns: {sorted(features[0])}); set video_column, "
                "and keep raw columns with TrainingArguments(remove_unused_columns=False)"
            )
        videos = [video_source(f[self.video_column], self.video_column) for f in features]
        texts = None
        if self.text_column and self.text_column in features[0]:
            texts = [f[self.text_column] for f in features]
        batch = self.processor(
            videos=videos,
            text=texts,
            text_as=self.text_as,
            max_length=self.max_target_length,
            do_augment=self.training and self.augment,
            **{**self.video_kwargs, **extra_video_kwargs},
        )
        return dict(batch)




@dataclass
class SignPretrainingCollator(SignTranslationCollator):
    """Collator for MMSLT pre-training: videos, the sentence as `input_ids`/`attention_mask`, and the per-frame
    sign-description embeddings `description_embeds` (B,T,D) aligned with the sampled frames (zeros at padding).

    Args:
        description_cache: a `DescriptionCache` of embeddings (or its folder), keyed by the dataset's `name`
            column; frames that were not described get the nearest described frame's embedding.
        name_column: dataset column holding the video name used as cache key.
    """

    description_cache: Any = None
    name_column: str = "name"
    text_as: str = "inputs"

    def __post_init__(self):
        from .description_cache import DescriptionCache

        if self.description_cache is None:
            raise SignInputError("SignPretrainingCollator needs description_cache (an embeddings cache folder)")
        if not isinstance(self.description_cache, DescriptionCache):
            self.description_cache = DescriptionCache(self.description_cache)

    def __call__(self, features: list[dict]) -> dict:
        import torch

        if self.name_column not in features[0]:
            raise SignInputError(
                f"dataset rows have no {self.name_column!r} column to look descriptions up by (columns: "
                f"{sorted(features[0])})"
            )
        batch = self._process(features, return_frame_indices=True)
        indices = batch.pop("frame_indices")
        embeds = [self.description_cache.embeddings_for(f[self.name_column], idx) for f, idx in zip(features, indices)]
        width = batch["video_mask"].shape[1]
        out = torch.zeros(len(embeds), width, embeds[0].shape[-1], dtype=torch.float32)
        for i, rows in enumerate(embeds):
            out[i, : len(rows)] = torch.from_numpy(rows)
        batch["description_embeds"] = out
        return batch


__all__ = ["SignPretrainingCollator", "SignTranslationCollator", "video_source"]
