"""`pipeline("sign-translation")`: sign language videos in, spoken-language sentences out.

This file travels inside checkpoints (config.json `custom_pipelines` names it), so a checkpoint works with
`pipeline("sign-translation", model=..., trust_remote_code=True)` where the package is not installed. It therefore
imports only transformers / torch, never the package; the model and the processor (`SignTranslationProcessor`,
saved beside the model) come from the checkpoint.
"""

from __future__ import annotations

from collections.abc import Sized

import torch
from transformers import Pipeline


class SignTranslationPipeline(Pipeline):
    r"""Translate sign language videos with a FLa-LLM or MMSLT checkpoint.

    Inputs: a video file path (anything FFmpeg reads), a folder of frame images, a uint8 array/tensor (T,H,W,C) or
    (T,C,H,W), or a list of these. `batch_size>1` pads videos of different lengths (the model sees the frame mask).
    Generation parameters (`num_beams`, `max_new_tokens`, ...) pass through to `generate`; video processing ones
    (`frame_stride`, `max_frames`, ...) to the processor.

    Returns `{"translation_text": str}`, or a list of them for a list input. With `return_attention=True` each result
    also has `"attention"`: one `{"word": str, "weights": [float] * T}` per generated word, the weight the model put
    on each of the video's T sampled frames while writing that word (LM attention averaged over layers and heads,
    mapped back through the temporal downsampling; sums to one), and `"frame_indices"`: the source-frame index of
    each of the T sampled frames.

    Example:
    ```python
    from transformers import pipeline
    import sign_translation  # registers the task; or pass trust_remote_code=True instead

    translator = pipeline("sign-translation", model="demo_output/checkpoint")
    translator("clip.mp4")                                     # {'translation_text': '...'}
    translator(["a.mp4", "b.mp4"], batch_size=2, num_beams=1)  # [{'translation_text': ...}, ...]
    translator("clip.mp4", return_attention=True)["attention"][0]  # {'word': ..., 'weights': [...]}
    ```
    """

    _load_processor = True
    _load_tokenizer = False
    _load_image_processor = False
    _load_video_processor = False
    _load_feature_extractor = False
    _pipeline_calls_generate = True

    _video_kwargs = ("frame_stride", "max_frames", "num_frames", "fps", "size", "crop_size")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.processor is None:
            raise ValueError(
                "sign-translation needs the SignTranslationProcessor saved beside the model (processor_config.json); "
                "pass processor=... or save it into the checkpoint folder"
            )

    def _sanitize_parameters(self, generate_kwargs=None, return_attention=None, **kwargs):
        from transformers import GenerationConfig

        generation_keys = {key for key in vars(GenerationConfig()) if not key.startswith("_")} | {"generation_config"}
        preprocess = {k: kwargs.pop(k) for k in list(kwargs) if k in self._video_kwargs}
        generate = dict(generate_kwargs or {})
        generate.update({k: kwargs.pop(k) for k in list(kwargs) if k in generation_keys})
        for key in ("num_beams", "max_new_tokens", "num_return_sequences", "min_new_tokens", "max_length"):
            value = generate.get(key)
            low = 0 if key == "min_new_tokens" else 1
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
                raise ValueError(f"sign-translation: {key}={value!r}; expected an integer ≥ {low}")
        if kwargs:
            raise TypeError(
                f"sign-translation got unknown argument(s) {sorted(kwargs)}; expected video arguments "
                f"{sorted(self._video_kwargs)} or generation parameters (num_beams, max_new_tokens, ...)"
            )
        forward = {"generate_kwargs": generate} if generate else {}
        if return_attention is not None:
            forward["return_attention"] = bool(return_attention)
            preprocess["return_frame_indices"] = bool(return_attention)
            return preprocess, forward, {"return_attention": bool(return_attention)}
        return preprocess, forward, {}

    def preprocess(self, video, return_frame_indices: bool = False, **video_kwargs):
        if isinstance(video, dict) and "path" in video:  # datasets Video(decode=False) cells
            video = video["path"]
        if return_frame_indices:
            video_kwargs["return_frame_indices"] = True
        batch = self.processor(videos=[video], **video_kwargs)
        inputs = {"pixel_values_videos": batch["pixel_values_videos"], "video_mask": batch["video_mask"]}
        if return_frame_indices:
            inputs["frame_indices"] = [list(batch["frame_indices"][0])]
        return inputs

    def get_iterator(self, inputs, num_workers, batch_size, preprocess_params, forward_params, postprocess_params):
        """Like `Pipeline.get_iterator`, with a collate function that pads videos and their masks along time."""
        from torch.utils.data import DataLoader
        from transformers.pipelines.pt_utils import PipelineDataset, PipelineIterator

        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"sign-translation: batch_size={batch_size!r}; expected an integer ≥ 1")
        if isinstance(inputs, Sized):
            dataset = PipelineDataset(inputs, self.preprocess, preprocess_params)
        else:  # a generator or other stream of videos: processed as it comes, in order
            if num_workers > 1:
                num_workers = 1  # several workers would each consume the same stream
            dataset = PipelineIterator(inputs, self.preprocess, preprocess_params)
        loader = DataLoader(dataset, num_workers=num_workers, batch_size=batch_size, collate_fn=_pad_videos)
        model_iterator = PipelineIterator(loader, self.forward, forward_params, loader_batch_size=batch_size)
        return PipelineIterator(model_iterator, self.postprocess, postprocess_params)

    def _forward(self, model_inputs, generate_kwargs=None, return_attention=False):
        generate_kwargs = self._prepare_generate_kwargs(generate_kwargs or {})
        output_ids = self.model.generate(
            pixel_values_videos=model_inputs["pixel_values_videos"],
            video_mask=model_inputs["video_mask"],
            **generate_kwargs,
        )
        if not return_attention:
            return {"output_ids": output_ids}
        attention = self.model.visual_attention(
            output_ids, pixel_values_videos=model_inputs["pixel_values_videos"], video_mask=model_inputs["video_mask"]
        )  # (B, L, T)
        return {"output_ids": output_ids, "attention": attention, "video_mask": model_inputs["video_mask"],
                "frame_indices": model_inputs["frame_indices"]}

    def postprocess(self, model_outputs, return_attention=False):
        ids = model_outputs["output_ids"]
        ids = ids if ids.ndim == 2 else ids[None]
        text = self.processor.batch_decode(ids, skip_special_tokens=True)[0]
        result = {"translation_text": text.strip()}
        if return_attention:
            attention = model_outputs["attention"]
            attention = attention if attention.ndim == 3 else attention[None]
            frames = int(model_outputs["video_mask"].reshape(-1, model_outputs["video_mask"].shape[-1])[0].sum())
            result["attention"] = self._words_with_attention(ids[0], attention[0, :, :frames])
            indices = model_outputs["frame_indices"]
            result["frame_indices"] = [int(i) for i in (indices[0] if indices and isinstance(indices[0], list) else indices)]
        return result

    def _words_with_attention(self, ids: torch.Tensor, attention: torch.Tensor) -> list[dict]:
        """Group generated sub-word tokens into words (a token whose decoded text starts a new whitespace-separated
        piece starts a word); a word's weights are the mean of its tokens' (still summing to one)."""
        tokenizer = self.processor.tokenizer
        special = set(tokenizer.all_special_ids)
        words: list[dict] = []
        kept: list[int] = []
        pending: list[tuple[int, torch.Tensor]] = []  # whitespace-only tokens ("▁"): they open the next word
        for token, row in zip(ids.tolist(), attention):
            if token in special or float(row.sum()) == 0.0:
                continue
            before = tokenizer.decode(kept, skip_special_tokens=True)
            kept.append(token)
            piece = tokenizer.decode(kept, skip_special_tokens=True)[len(before) :]
            pending.append((token, row))
            if not piece.strip():
                continue
            if not words or not before or piece[:1].isspace() or len(pending) > 1:
                words.append({"tokens": [], "rows": []})
            words[-1]["tokens"] += [t for t, _ in pending]
            words[-1]["rows"] += [r for _, r in pending]
            pending = []
        return [
            {"word": tokenizer.decode(w["tokens"], skip_special_tokens=True).strip(),
             "weights": torch.stack(w["rows"]).mean(0).tolist()}
            for w in words
        ]


def _pad_videos(items: list[dict]) -> dict:
    """items: dicts with pixel_values_videos (1,T_i,C,H,W) and video_mask (1,T_i) → one padded batch."""
    if len(items) == 1:
        return items[0]
    length = max(item["video_mask"].shape[1] for item in items)
    pixels, masks, indices = [], [], []
    for item in items:
        indices += item.get("frame_indices", [])
        extra = length - item["video_mask"].shape[1]
        video, mask = item["pixel_values_videos"], item["video_mask"]
        if extra:
            video = torch.cat([video, video.new_zeros(1, extra, *video.shape[2:])], dim=1)
            mask = torch.cat([mask, mask.new_zeros(1, extra)], dim=1)
        pixels.append(video)
        masks.append(mask)
    batch = {"pixel_values_videos": torch.cat(pixels), "video_mask": torch.cat(masks)}
    if indices:
        batch["frame_indices"] = indices
    return batch


__all__ = ["SignTranslationPipeline"]
