"""`SignTranslationProcessor`: the video processor and the LLM's tokenizer behind one call.

    videos ──SignVideoProcessor──▶ pixel_values_videos (B,T,C,H,W) + video_mask (B,T)
    text   ──tokenizer (target mode)──▶ labels (B,L), padding = -100

`batch_decode` / `decode` forward to the tokenizer, so generated ids turn back into sentences.
"""

from __future__ import annotations

import torch
from transformers.feature_extraction_utils import BatchFeature
from transformers.processing_utils import ProcessorMixin

from .errors import SignInputError
from .video_processing_sign_translation import SignVideoProcessor


class SignTranslationProcessor(ProcessorMixin):
    r"""Video processor + tokenizer for sign language translation models.

    Args:
        video_processor (`SignVideoProcessor`): turns videos into padded frame batches with a frame mask.
        tokenizer: the tokenizer of the model's language model (e.g. mBART's), used for the target sentences.

    Example:
    ```python
    >>> import numpy as np
    >>> from sign_translation.processing import SignTranslationProcessor, SignVideoProcessor
    >>> from sign_translation.tokenization import train_mbart_tokenizer
    >>> tokenizer = train_mbart_tokenizer(["it will rain in the north", "sunny in the south"] * 5, vocab_size=40)
    >>> processor = SignTranslationProcessor(SignVideoProcessor(size=32, crop_size=28), tokenizer)
    >>> batch = processor(videos=[np.zeros((9, 36, 36, 3), np.uint8)] * 2, text=["it will rain", "sunny"])
    >>> sorted(batch.keys())
    ['labels', 'pixel_values_videos', 'video_mask']
    >>> bool((batch["labels"][1] == -100).any())
    True

    ```
    """

    def __init__(self, video_processor=None, tokenizer=None, **kwargs):
        super().__init__(video_processor, tokenizer, **kwargs)

    def __call__(
        self,
        videos=None,
        text: str | list[str] | None = None,
        *,
        text_as: str = "labels",
        max_length: int | None = None,
        return_tensors: str | None = "pt",
        **video_kwargs,
    ) -> BatchFeature:
        """Process videos and/or target sentences.

        Args:
            videos: one video or a list (paths, frame folders, uint8 arrays); see `SignVideoProcessor`.
            text: target sentence(s).
            text_as: "labels" → `labels` (padding = -100, ends with the EOS token); "inputs" → `input_ids` and
                `attention_mask` (e.g. the sentence side of MMSLT pre-training); "both" → all three.
            max_length: truncate sentences to this many tokens.
            video_kwargs: forwarded to the video processor (e.g. `do_augment=True`, `frame_stride=4`).
        """
        if videos is None and text is None:
            raise SignInputError("SignTranslationProcessor: pass `videos`, `text` or both")
        if return_tensors not in (None, "pt"):
            raise SignInputError(f"return_tensors={return_tensors!r}: only 'pt' is supported")
        data = {}
        if videos is not None:
            data.update(self.video_processor(videos, **video_kwargs))
        if text is not None:
            texts = [text] if isinstance(text, str) else list(text)
            if videos is not None and "pixel_values_videos" in data and len(texts) != len(data["video_mask"]):
                raise SignInputError(f"got {len(data['video_mask'])} videos but {len(texts)} sentences")
            for i, sentence in enumerate(texts):
                if not isinstance(sentence, str):
                    raise SignInputError(f"text[{i}]: expected a string, got {type(sentence).__name__}")
            if text_as not in ("labels", "inputs", "both"):
                raise SignInputError(f"text_as={text_as!r}: expected 'labels', 'inputs' or 'both'")
            if text_as in ("labels", "both"):
                data["labels"] = self.tokenize_targets(texts, max_length=max_length)
            if text_as in ("inputs", "both"):
                encoded = self.tokenizer(
                    texts, padding=True, truncation=max_length is not None, max_length=max_length, return_tensors="pt"
                )
                data["input_ids"] = encoded["input_ids"]
                data["attention_mask"] = encoded["attention_mask"]
        return BatchFeature(data=data, skip_tensor_conversion=["frame_indices"])

    def tokenize_targets(self, texts: list[str], max_length: int | None = None) -> torch.Tensor:
        """Target token ids (B, L) ending with EOS; padding positions are -100 so the loss ignores them.

        Padding is found from the attention mask, not by comparing with the pad id: decoder-only tokenizers often
        use the EOS token as padding, and the final EOS must stay a label.
        """
        encoded = self.tokenizer(
            text_target=texts, truncation=max_length is not None, max_length=max_length, add_special_tokens=True
        )
        eos = self.tokenizer.eos_token_id
        sequences = []
        for ids in encoded["input_ids"]:
            ids = list(ids)
            if eos is not None and eos not in ids[-2:]:  # decoder-only tokenizers add no EOS; mBART ends [eos, lang]
                ids = ids[: max_length - 1] if max_length else ids
                ids.append(eos)
            sequences.append(ids)
        length = max(len(ids) for ids in sequences)
        labels = torch.full((len(sequences), length), -100, dtype=torch.long)
        for i, ids in enumerate(sequences):
            labels[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return labels

    @classmethod
    def _get_arguments_from_pretrained(cls, pretrained_model_name_or_path, processor_dict=None, **kwargs):
        """Load the video processor as `SignVideoProcessor` directly (no Auto-class lookup, so loading works the
        same with the package installed and as remote code); the tokenizer through AutoTokenizer."""
        subfolder = kwargs.pop("subfolder", "")
        video_processor = SignVideoProcessor.from_pretrained(pretrained_model_name_or_path, subfolder=subfolder, **kwargs)
        tokenizer = cls._load_tokenizer_from_pretrained(
            "tokenizer", pretrained_model_name_or_path, subfolder=subfolder, **kwargs
        )
        return [video_processor, tokenizer]

    @property
    def model_input_names(self) -> list[str]:
        return ["pixel_values_videos", "video_mask"]


__all__ = ["SignTranslationProcessor"]
