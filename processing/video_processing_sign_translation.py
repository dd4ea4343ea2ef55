"""`SignVideoProcessor`: sign videos → normalised, padded frame batches with a frame mask.

Paper defaults (GFSLT-VLP lineage, shared by FLa-LLM and MMSLT): resize to 256×256, crop 224×224 (random crop in
training, centre crop at eval), ImageNet mean/std; clip-level training augmentation (rotate ±30°, rescale 0.8–1.2,
translate ±10 px, each with p=0.5 and ONE parameter per clip); temporal subsampling by keeping every k-th frame
(FLa-LLM keeps T/4), by capping the length with in-order random subsampling (GFSLT ≤300, MMSLT ≤500 frames), or to a
fixed number of frames. Recipes set the method-specific values; the class defaults keep every frame.

Unlike `BaseVideoProcessor`, this processor pads videos of different lengths itself and returns `video_mask`
(B, T) beside `pixel_values_videos` (B, T, C, H, W). Output lengths of the models' temporal convolutions are the
models' business, not the processor's.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import numpy as np
import torch
from torchvision.transforms.v2.functional import InterpolationMode
from transformers.image_processing_utils import BatchFeature
from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, PILImageResampling, SizeDict
from transformers.processing_utils import Unpack, VideosKwargs
from transformers.video_processing_utils import BaseVideoProcessor
from transformers.video_utils import VideoMetadata

from .errors import SignInputError
from .frame_buffers import empty_frames
from .video_io import VideoInfo, frames_to_video, is_video_frame, read_video


class SignVideoProcessorKwargs(VideosKwargs, total=False):
    """Keyword arguments of `SignVideoProcessor` on top of transformers' `VideosKwargs`.

    frame_stride: keep every k-th frame (FLa-LLM: 4, i.e. T/4); random start offset in training.
    max_frames: longest clip kept; longer clips are subsampled in order (randomly in training, uniformly at eval).
    do_augment: training mode — random crop instead of centre crop, random temporal sampling, clip-level affine
        augmentation (one parameter set per clip).
    augment_probability: probability of each of rotation / rescale / translation (paper: 0.5).
    augment_rotation: maximum rotation in degrees (paper: 30).
    augment_scale: [min, max] rescale factor (paper: [0.8, 1.2]).
    augment_translate: maximum translation in pixels of the cropped frame (paper: 10 at 224 px).
    return_frame_indices: also return the source-frame indices kept for each video (e.g. to pick per-frame
        description embeddings).
    """

    frame_stride: int | None
    max_frames: int | None
    do_augment: bool | None
    augment_probability: float | None
    augment_rotation: float | None
    augment_scale: list[float] | None
    augment_translate: float | None
    return_frame_indices: bool | None


def sample_frame_indices(
    total_frames: int,
    frame_stride: int = 1,
    max_frames: int | None = None,
    num_frames: int | None = None,
    source_fps: float | None = None,
    target_fps: float | None = None,
    random: bool = False,
) -> np.ndarray:
    """Indices of the frames to keep, in temporal order.

    Order of operations: resample to `target_fps` (when the source fps is known) → keep every `frame_stride`-th
    frame → cap at `max_frames` or pick exactly `num_frames`. With `random=True` (training) the stride offset is
    random and capping draws a random in-order subset (GFSLT's "random subsampling"); otherwise everything is
    deterministic and uniform.

    >>> sample_frame_indices(10, frame_stride=4).tolist()
    [0, 4, 8]
    >>> sample_frame_indices(10, max_frames=4).tolist()
    [0, 3, 6, 9]
    """
    if total_frames < 1:
        raise SignInputError(f"total_frames must be ≥ 1, got {total_frames}")
    if frame_stride is None or frame_stride < 1:
        raise SignInputError(f"frame_stride must be an integer ≥ 1, got {frame_stride}")
    if max_frames is not None and num_frames is not None:
        raise SignInputError("max_frames and num_frames are mutually exclusive: set only one of them")
    indices = np.arange(total_frames)
    if target_fps and source_fps and source_fps > target_fps:
        step = source_fps / target_fps
        indices = np.unique(np.floor(np.arange(0, total_frames, step)).astype(np.int64))
    if frame_stride > 1:
        offset = int(torch.randint(0, min(frame_stride, len(indices)), ()).item()) if random else 0
        indices = indices[offset::frame_stride]
    if num_frames is not None:
        if num_frames < 1:
            raise SignInputError(f"num_frames must be ≥ 1, got {num_frames}")
        if random and len(indices) >= num_frames:
            keep = torch.randperm(len(indices))[:num_frames].sort().values.numpy()
        else:  # uniform; repeats frames when the clip is shorter than num_frames
            keep = np.linspace(0, len(indices) - 1, num_frames).round().astype(np.int64)
        indices = indices[keep]
    elif max_frames is not None:
        if max_frames < 1:
            raise SignInputError(f"max_frames must be ≥ 1, got {max_frames}")
        if len(indices) > max_frames:
            if random:
                keep = torch.randperm(len(indices))[:max_frames].sort().values.numpy()
            else:
                keep = np.linspace(0, len(indices) - 1, max_frames).round().astype(np.int64)
            indices = indices[keep]
    return indices.astype(np.int64)


_POSITIVE_INT_OPTIONS = ("frame_stride", "max_frames", "num_frames")
_PROBABILITY_OPTIONS = ("augment_probability",)
_NON_NEGATIVE_OPTIONS = ("augment_rotation", "augment_translate")


def _size_pairs(value) -> list[tuple[str, object]]:
    if isinstance(value, dict):
        return list(value.items())
    if isinstance(value, SizeDict):
        return [(k, v) for k, v in vars(value).items() if v is not None]
    if isinstance(value, (list, tuple)):
        return [(str(i), v) for i, v in enumerate(value)]
    return [("", value)]


def validate_video_options(options: dict, where: str = "SignVideoProcessor") -> None:
    """Refuse nonsensical video options with a message naming the option, the value and what is allowed.

    `frame_stride=0` used to become 1 silently and a 0×0 resize failed deep inside torchvision.
    """

    def bad(name: str, value, allowed: str) -> SignInputError:
        return SignInputError(f"{where}: {name}={value!r}; expected {allowed}")

    for name in _POSITIVE_INT_OPTIONS:
        value = options.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
            raise bad(name, value, "an integer ≥ 1" + (" or None" if name != "frame_stride" else ""))
    for name in ("size", "crop_size"):
        value = options.get(name)
        if value is None:
            continue
        for key, number in _size_pairs(value):
            if isinstance(number, bool) or not isinstance(number, (int, np.integer)) or number < 1:
                label = f"{name}[{key!r}]" if key else name
                raise bad(label, number, "a positive integer number of pixels")
    for name in _PROBABILITY_OPTIONS:
        value = options.get(name)
        if value is not None and not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
            raise bad(name, value, "a probability between 0 and 1")
    for name in _NON_NEGATIVE_OPTIONS:
        value = options.get(name)
        if value is not None and not (isinstance(value, (int, float)) and np.isfinite(value) and value >= 0):
            raise bad(name, value, "a finite number ≥ 0")
    scale = options.get("augment_scale")
    if scale is not None:
        if (not isinstance(scale, (list, tuple)) or len(scale) != 2
                or not all(isinstance(v, (int, float)) and v > 0 for v in scale) or scale[0] > scale[1]):
            raise bad("augment_scale", scale, "[min, max] with 0 < min ≤ max")
    fps = options.get("fps")
    if fps is not None and not (isinstance(fps, (int, float)) and np.isfinite(fps) and fps > 0):
        raise bad("fps", fps, "a frame rate > 0 or None")
    factor = options.get("rescale_factor")
    if factor is not None and not (_is_number(factor) and np.isfinite(factor) and factor > 0):
        raise bad("rescale_factor", factor, "a finite number > 0 (e.g. 1/255)")
    for name, positive in (("image_mean", False), ("image_std", True)):
        value = options.get(name)
        if value is None:
            continue
        values = list(value) if isinstance(value, (list, tuple, np.ndarray, torch.Tensor)) else [value]
        if (len(values) not in (1, 3) or not all(_is_number(v) and np.isfinite(float(v)) for v in values)
                or (positive and not all(float(v) > 0 for v in values))):
            raise bad(name, value, ("a number or 3 numbers (one per RGB channel)" +
                                    (", all > 0" if positive else "") + ", finite"))
    resample = options.get("resample")
    if resample is not None and not isinstance(resample, InterpolationMode) and (
            isinstance(resample, bool) or not isinstance(resample, (int, np.integer))
            or int(resample) not in _RESAMPLE_CODES):
        names = ", ".join(f"{member.value} ({member.name})" for member in PILImageResampling)
        raise bad("resample", resample, f"a PILImageResampling value — {names} — or a torchvision InterpolationMode")


def _is_number(value) -> bool:
    """A real number: Python / numpy scalars or a 0-d tensor, booleans excluded."""
    if isinstance(value, torch.Tensor):
        return value.ndim == 0 and value.dtype != torch.bool and not value.is_complex()
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


_RESAMPLE_CODES = frozenset(int(member) for member in PILImageResampling)


def check_crop_fits(size, crop_size, do_center_crop, where: str = "SignVideoProcessor") -> None:
    """A crop larger than the resized frame would pad it with zeros (transformers' `center_crop` does): refuse it
    when both are given as height × width. Checked when videos are processed, not at construction, where
    transformers lets `from_dict(..., size=42, crop_size=84)` set any pair (its common tests do)."""
    if not do_center_crop or size is None or crop_size is None:
        return
    size, crop = dict(_size_pairs(size)), dict(_size_pairs(crop_size))
    for side in ("height", "width"):
        if side in size and side in crop and crop[side] > size[side]:
            raise SignInputError(
                f"{where}: crop_size[{side!r}]={crop[side]} is larger than size[{side!r}]={size[side]}; the crop must "
                "fit inside the resized frame (the papers: size 256, crop 224)"
            )


class SignVideoProcessor(BaseVideoProcessor):
    r"""Turns sign videos into model inputs: `pixel_values_videos` (B, T, C, H, W) and `video_mask` (B, T).

    Accepts a video file path (anything FFmpeg reads: mp4, webm, mkv, mov, avi, ...), a folder of frame images
    (PHOENIX-style `images0001.png…`, CSL-style jpg), a uint8 array/tensor (T,H,W,C) or (T,C,H,W), a list of
    frames (PIL images, per-frame HWC arrays or CHW tensors: transformers' standard video format), or a list of
    these. Videos are decoded only at the sampled frame indices.

    `fps=` resamples to that frame rate and needs the source's: files carry it; for arrays, frame lists and frame
    folders pass `video_metadata=` (one `VideoMetadata`/dict per video, e.g. `{"fps": 25}`), otherwise `fps=` is
    an error, never silently ignored. `return_metadata=True` returns each video's `VideoMetadata` (with the
    `frames_indices` kept).

    Example:
    ```python
    >>> import numpy as np
    >>> from sign_translation.processing import SignVideoProcessor
    >>> processor = SignVideoProcessor(size={"height": 32, "width": 32}, crop_size={"height": 28, "width": 28})
    >>> videos = [np.zeros((12, 40, 30, 3), np.uint8), np.zeros((7, 40, 30, 3), np.uint8)]
    >>> batch = processor(videos, frame_stride=2)
    >>> tuple(batch["pixel_values_videos"].shape), batch["video_mask"].sum(1).tolist()
    ((2, 6, 3, 28, 28), [6, 4])

    ```
    """

    valid_kwargs = SignVideoProcessorKwargs
    model_input_names = ["pixel_values_videos", "video_mask"]

    # Paper defaults (GFSLT-VLP / FLa-LLM / MMSLT input pipeline).
    resample = PILImageResampling.BILINEAR
    size = {"height": 256, "width": 256}
    crop_size = {"height": 224, "width": 224}
    do_resize = True
    do_center_crop = True
    do_rescale = True
    rescale_factor = 1 / 255
    do_normalize = True
    image_mean = IMAGENET_DEFAULT_MEAN
    image_std = IMAGENET_DEFAULT_STD
    do_convert_rgb = True
    do_sample_frames = True
    default_to_square = True
    frame_stride = 1
    max_frames = None
    num_frames = None
    fps = None
    do_augment = False
    augment_probability = 0.5
    augment_rotation = 30.0
    augment_scale = [0.8, 1.2]
    augment_translate = 10.0
    return_frame_indices = False

    def __init__(self, **kwargs: Unpack[SignVideoProcessorKwargs]):
        validate_video_options(kwargs, where="SignVideoProcessor")
        super().__init__(**kwargs)

    # ------------------------------------------------------------------ public API
    def preprocess(self, videos, **kwargs: Unpack[SignVideoProcessorKwargs]) -> BatchFeature:
        unknown = set(kwargs) - set(self.valid_kwargs.__annotations__) - {"return_tensors"}
        if unknown:
            raise SignInputError(
                f"SignVideoProcessor got unknown argument(s) {sorted(unknown)}; valid ones are "
                f"{sorted(self.valid_kwargs.__annotations__)}"
            )
        validate_video_options(kwargs, where="SignVideoProcessor")
        for name in self.valid_kwargs.__annotations__:
            kwargs.setdefault(name, getattr(self, name, None))
        kwargs.setdefault("return_tensors", "pt")
        return_tensors = kwargs.get("return_tensors")
        if return_tensors not in (None, "pt"):
            raise SignInputError(f"return_tensors={return_tensors!r}: only 'pt' (torch tensors) is supported")
        video_metadata = kwargs.pop("video_metadata", None)
        device = kwargs.pop("device", None)
        opts = self._standardize_kwargs(**kwargs)
        check_crop_fits(opts.get("size"), opts.get("crop_size"), opts.get("do_center_crop"))

        sources = self._as_list_of_videos(videos, opts.get("input_data_format"))
        metadata = self._metadata_per_video(video_metadata, len(sources))
        pixel_values, frame_indices, metadata_out = [], [], []
        for i, source in enumerate(sources):
            video_opts = opts
            if isinstance(source, _FrameList):  # already (T,3,H,W): input_data_format described its frames
                source, video_opts = source.video, {**opts, "input_data_format": "channels_first"}
            frames, indices, info = self._process_one(source, video_opts, metadata[i])
            pixel_values.append(frames)
            frame_indices.append(indices.tolist())
            metadata_out.append(info)

        data = self._normalize_and_pad(pixel_values, opts)
        if device is not None:
            data = {name: value.to(device) for name, value in data.items()}
        skip = []
        if opts.get("return_frame_indices"):
            data["frame_indices"] = frame_indices
            skip.append("frame_indices")
        if opts.get("return_metadata"):
            data["video_metadata"] = metadata_out
            skip.append("video_metadata")
        return BatchFeature(data=data, skip_tensor_conversion=skip)

    @staticmethod
    def pad_videos(videos: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
        """Pad (T_i, C, H, W) videos to (B, T_max, C, H, W) with zeros and build `video_mask` (B, T_max)."""
        shapes = {tuple(v.shape[1:]) for v in videos}
        if len(shapes) > 1:
            raise SignInputError(
                f"videos in one batch have different frame sizes {sorted(shapes)}: use size={{'height','width'}} "
                "or a crop so that all frames share one size"
            )
        lengths = [v.shape[0] for v in videos]
        if len(videos) == 1:  # nothing to pad: a view, not a copy
            return {"pixel_values_videos": videos[0][None], "video_mask": torch.ones(1, lengths[0], dtype=torch.long)}
        batch = empty_frames((len(videos), max(lengths), *videos[0].shape[1:]), videos[0].dtype)
        mask = torch.zeros(len(videos), max(lengths), dtype=torch.long)
        for i, video in enumerate(videos):
            batch[i, : lengths[i]] = video
            batch[i, lengths[i] :] = 0  # padding
            mask[i, : lengths[i]] = 1
        return {"pixel_values_videos": batch, "video_mask": mask}

    def _normalize_and_pad(self, videos: list[torch.Tensor], opts: dict) -> dict[str, torch.Tensor]:
        """Clips (T_i,C,H,W) → float32 batch (B,T_max,C,H,W) + `video_mask`.

        Clips arrive already normalised (float32) when rescale and normalise are both on: `_process_one` maps
        each decoded chunk straight into its clip's buffer as `x * (rescale/std) - mean/std` while the decoder
        fills the next chunk; one clip is returned as it is (no pad copy). Otherwise (uint8 clips) rescale /
        normalise run here as transformers' `rescale_and_normalize`.
        """
        if all(v.dtype == torch.float32 for v in videos) and opts.get("do_rescale") and opts.get("do_normalize"):
            return self.pad_videos(videos)
        floats = [
            self.rescale_and_normalize(v, opts.get("do_rescale"), opts.get("rescale_factor"), opts.get("do_normalize"),
                                       opts.get("image_mean"), opts.get("image_std")).to(torch.float32)
            for v in videos
        ]
        return self.pad_videos(floats)

    def sample_frames(
        self,
        metadata: VideoMetadata | dict | int,
        num_frames: int | None = None,
        fps: int | float | None = None,
        **kwargs,
    ) -> np.ndarray:
        """Indices of the frames to keep, with `BaseVideoProcessor.sample_frames`'s signature.

        Args:
            metadata: the video's `VideoMetadata` (or a dict of its fields; a bare frame count is accepted too).
                `total_num_frames` is required; `fps` is required when `fps=` is asked for.
            num_frames: exactly this many frames, uniformly (repeating frames of a shorter clip). Defaults to
                `self.num_frames`.
            fps: resample to this frame rate (only ever down). Defaults to `self.fps`.
            **kwargs: `frame_stride`, `max_frames`, `do_augment` (random sampling in training); default to the
                processor's own. Other keys (the rest of the processor's options) are ignored.

        See `sample_frame_indices` for the order in which they apply.
        """
        metadata = _as_metadata(metadata)
        if metadata.total_num_frames is None:
            raise SignInputError("sample_frames: metadata.total_num_frames is required (the video's frame count)")
        num_frames = self.num_frames if num_frames is None else num_frames
        fps = self.fps if fps is None else fps

        def option(name):
            return kwargs[name] if name in kwargs else getattr(self, name, None)

        if fps is not None and not metadata.fps:
            raise SignInputError(
                f"fps={fps} needs the video's own frame rate, which is unknown here (an in-memory video, a list of "
                "frames or a frame folder): pass video_metadata={'fps': <source fps>} (one per video), or leave "
                "fps unset"
            )
        return sample_frame_indices(
            int(metadata.total_num_frames),
            frame_stride=option("frame_stride") or 1,
            max_frames=option("max_frames"),
            num_frames=num_frames,
            source_fps=metadata.fps,
            target_fps=fps,
            random=bool(option("do_augment")),
        )

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _as_list_of_videos(videos, input_data_format=None) -> list:
        """One video or a batch → a list of videos (paths, 4-D arrays/tensors; frame lists become (T,3,H,W))."""
        if isinstance(videos, (str, os.PathLike)):
            return [videos]
        if isinstance(videos, (np.ndarray, torch.Tensor)):
            if videos.ndim == 5:
                return list(videos)
            if videos.ndim == 3:
                raise SignInputError(
                    f"videos: got a single 3-D frame {tuple(videos.shape)}; pass a video as a 4-D (T,H,W,C) array, a "
                    "list of frames, a file path or a frame folder"
                )
            return [videos]
        if is_video_frame(videos):  # one PIL image: a one-frame video
            return [_FrameList(frames_to_video([videos], "videos", input_data_format))]
        if not isinstance(videos, (list, tuple, dict, bytes)) and hasattr(videos, "__iter__"):
            videos = list(videos)  # e.g. a `datasets` column
        if isinstance(videos, (list, tuple)):
            if not videos:
                raise SignInputError("videos: got an empty list, expected at least one video")
            if all(is_video_frame(item) for item in videos):  # one video given as a list of frames
                return [_FrameList(frames_to_video(videos, "videos", input_data_format))]
            batch = []
            for i, video in enumerate(videos):
                if is_video_frame(video):
                    raise SignInputError(
                        f"videos[{i}]: a single frame in a batch of videos; pass each video as a list of frames, a "
                        "4-D (T,H,W,C) array, a file path or a frame folder"
                    )
                if isinstance(video, (list, tuple)):
                    video = _FrameList(frames_to_video(video, f"videos[{i}]", input_data_format))
                batch.append(video)
            return batch
        raise SignInputError(
            "videos: expected a path, a frame folder, a uint8 array/tensor, a list of frames or a list of these, got "
            f"{type(videos).__name__}"
        )

    @staticmethod
    def _metadata_per_video(video_metadata, count: int) -> list[VideoMetadata | None]:
        """`video_metadata=` as transformers takes it (one, a list, or a nested list per batch) → one per video."""
        if video_metadata is None:
            return [None] * count
        if isinstance(video_metadata, (VideoMetadata, dict)):
            entries = [video_metadata]
        elif isinstance(video_metadata, (list, tuple)):
            entries = []
            for item in video_metadata:
                entries.extend(item if isinstance(item, (list, tuple)) else [item])
        else:
            raise SignInputError(
                f"video_metadata: expected a VideoMetadata, a dict or a list of them (one per video), got "
                f"{type(video_metadata).__name__}"
            )
        if len(entries) != count:
            raise SignInputError(f"video_metadata: got {len(entries)} entries for {count} video(s); pass one per video")
        return [None if entry is None else _as_metadata(entry) for entry in entries]

    def _process_one(self, source, opts: dict, metadata: VideoMetadata | None = None) -> tuple[torch.Tensor, np.ndarray, VideoMetadata]:
        """Decode the sampled frames of one video and prepare them chunk by chunk: resize → crop (random in
        training) → clip-level affine augmentation → rescale + normalise into the clip's float32 buffer.

        Every step works frame by frame with ONE set of random parameters per clip (drawn at the first chunk, in
        the order crop → affine), so chunking changes nothing in the result; it lets the decoder fill the next
        chunk in a background thread while this one is prepared (`read_video(prefetch=...)`). Returns float32
        frames when rescale and normalise are both on, else uint8 (normalised by `_normalize_and_pad`).
        """
        size: SizeDict | None = opts.get("size")
        crop: SizeDict | None = opts.get("crop_size") if opts.get("do_center_crop") else None
        augment = bool(opts.get("do_augment"))
        fused = bool(opts.get("do_rescale") and opts.get("do_normalize"))
        known: dict = {}
        state: dict = {}

        def indices_for(info: VideoInfo) -> np.ndarray:
            known.update(_merge_metadata(info, metadata))
            if not opts.get("do_sample_frames"):
                indices = np.arange(info.num_frames)
            else:
                sampling = {k: v for k, v in opts.items() if k not in ("num_frames", "fps")}
                indices = self.sample_frames(VideoMetadata(**known), num_frames=opts.get("num_frames"),
                                             fps=opts.get("fps"), **sampling)
            state["total"] = len(indices)
            return indices

        def prepare(chunk: torch.Tensor) -> torch.Tensor:
            if opts.get("do_resize") and size is not None:
                chunk = self.resize(chunk, size=size, resample=opts.get("resample"))
            if crop is not None:
                if augment:
                    if "crop" not in state:
                        state["crop"] = self._random_crop_box(chunk.shape[-2:], crop)
                    box = state["crop"]
                    chunk = self.center_crop(chunk, crop) if box is None else chunk[..., box[0], box[1]]
                else:
                    chunk = self.center_crop(chunk, crop)
            if augment:
                if "affine" not in state:
                    state["affine"] = self._draw_affine(opts)
                chunk = self._apply_affine(chunk, state["affine"])
            if not fused:
                return chunk
            if "buffer" not in state:  # the clip's float32 frames, written chunk by chunk in place
                scale, shift = self._affine_normalization(opts, chunk.shape[1])
                state.update(buffer=empty_frames((state["total"], *chunk.shape[1:])),
                             scale=scale, shift=shift, cursor=0)
            start = state["cursor"]
            out = state["buffer"][start : start + chunk.shape[0]]
            out.copy_(chunk)  # uint8 (any layout) → contiguous float32, in its place in the clip
            out.mul_(state["scale"]).add_(state["shift"])
            state["cursor"] = start + chunk.shape[0]
            return out

        frames, indices, _ = read_video(source, indices_for, transform=prepare,
                                        input_data_format=opts.get("input_data_format"))
        known["frames_indices"] = indices.tolist()
        return frames, indices, VideoMetadata(**known)

    @staticmethod
    def _affine_normalization(opts: dict, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Rescale + normalise as one affine map per channel: x * (rescale/std) + (-mean/std), as (C,1,1)."""
        mean = torch.as_tensor(opts.get("image_mean"), dtype=torch.float32).expand(channels)
        std = torch.as_tensor(opts.get("image_std"), dtype=torch.float32).expand(channels)
        return (float(opts.get("rescale_factor")) / std)[:, None, None], (-mean / std)[:, None, None]

    @staticmethod
    def _random_crop_box(frame_size, crop: SizeDict) -> tuple[slice, slice] | None:
        height, width = frame_size
        if crop.height > height or crop.width > width:
            return None  # center_crop pads; nothing to randomise
        top = int(torch.randint(0, height - crop.height + 1, ()).item())
        left = int(torch.randint(0, width - crop.width + 1, ()).item())
        return slice(top, top + crop.height), slice(left, left + crop.width)

    def _random_crop(self, frames: torch.Tensor, crop: SizeDict) -> torch.Tensor:
        box = self._random_crop_box(frames.shape[-2:], crop)
        return self.center_crop(frames, crop) if box is None else frames[..., box[0], box[1]]

    @staticmethod
    def _draw_affine(opts: dict) -> tuple[float, float, list[int]] | None:
        """ONE angle / scale / shift for a whole clip (paper: each with p=0.5); None when all are identity."""
        p = opts.get("augment_probability")
        p = 0.5 if p is None else p
        angle, scale, shift = 0.0, 1.0, [0, 0]
        if torch.rand(()) < p:
            limit = opts.get("augment_rotation") or 0.0
            angle = float(torch.empty(()).uniform_(-limit, limit))
        if torch.rand(()) < p:
            low, high = opts.get("augment_scale") or (1.0, 1.0)
            scale = float(torch.empty(()).uniform_(low, high))
        if torch.rand(()) < p:
            limit = opts.get("augment_translate") or 0.0
            shift = [int(round(float(torch.empty(()).uniform_(-limit, limit)))) for _ in range(2)]
        if angle == 0.0 and scale == 1.0 and shift == [0, 0]:
            return None
        return angle, scale, shift

    @staticmethod
    def _apply_affine(frames: torch.Tensor, params) -> torch.Tensor:
        if params is None:
            return frames
        import torchvision.transforms.v2.functional as tvF

        angle, scale, shift = params
        return tvF.affine(frames, angle=angle, translate=shift, scale=scale, shear=[0.0, 0.0],
                          interpolation=tvF.InterpolationMode.BILINEAR)

    @classmethod
    def _augment_clip(cls, frames: torch.Tensor, opts: dict) -> torch.Tensor:
        """Clip-level affine augmentation: ONE angle / scale / shift for every frame of the clip."""
        return cls._apply_affine(frames, cls._draw_affine(opts))

    def to_dict(self):
        output = super().to_dict()
        output.pop("_valid_kwargs_names", None)
        return output


@dataclasses.dataclass
class _FrameList:
    """A video that was given as a list of frames, already stacked to (T,3,H,W) uint8."""

    video: torch.Tensor


def _as_metadata(metadata) -> VideoMetadata:
    if isinstance(metadata, VideoMetadata):
        return metadata
    if isinstance(metadata, (int, np.integer)) and not isinstance(metadata, bool):
        return VideoMetadata(total_num_frames=int(metadata))
    if isinstance(metadata, dict):
        unknown = set(metadata) - {f.name for f in dataclasses.fields(VideoMetadata)}
        if unknown:
            raise SignInputError(
                f"video_metadata: unknown field(s) {sorted(unknown)}; VideoMetadata has "
                f"{[f.name for f in dataclasses.fields(VideoMetadata)]}"
            )
        return VideoMetadata(**{"total_num_frames": None, **metadata})  # the frame count is read from the video
    raise SignInputError(f"video_metadata: expected a VideoMetadata or a dict, got {type(metadata).__name__}")


def _merge_metadata(info: VideoInfo, given: VideoMetadata | None) -> dict:
    """What the reader found about a video, overridden by what the caller stated in `video_metadata=`.

    The caller's `fps` wins (an in-memory video has none; a file's header may be wrong); a stated
    `total_num_frames` that differs from the frames actually there is an error, not a silent mismatch."""
    known = {"total_num_frames": info.num_frames, "fps": info.fps, "height": info.height, "width": info.width,
             "video_backend": "torchcodec" if info.kind == "file" else None}
    if given is not None:
        if given.total_num_frames is not None and int(given.total_num_frames) != info.num_frames:
            raise SignInputError(
                f"{info.source}: video_metadata says total_num_frames={given.total_num_frames} but the video has "
                f"{info.num_frames} frames"
            )
        if given.fps is not None:
            if not (isinstance(given.fps, (int, float)) and np.isfinite(given.fps) and given.fps > 0):
                raise SignInputError(f"{info.source}: video_metadata fps={given.fps!r}; expected a frame rate > 0")
            known["fps"] = float(given.fps)
    if known["fps"]:
        known["duration"] = info.num_frames / known["fps"]
    return known


__all__ = ["SignVideoProcessor", "SignVideoProcessorKwargs", "sample_frame_indices", "validate_video_options"]
