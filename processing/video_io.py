"""Reading sign videos: video files (anything FFmpeg reads, through torchcodec), frame folders and arrays.

Everything here reads only the frames that were sampled: a long video is never decoded whole into memory. Frames
are decoded in chunks and, when a target size is given, resized chunk by chunk, so the peak memory is a few chunks
at the source resolution (the one being prepared and those decoded ahead: at most 32 MiB of them for a video file,
`PREFETCH_AHEAD_BYTES`, or one per decoding thread for a frame folder) plus the sampled frames at the target
resolution.

Every failure is a `SignInputError` naming the file and the problem (missing, empty, truncated, no video stream,
no decodable frame, unreadable image).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .errors import SignInputError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
# A clip whose content holds less than this share of the frames (or duration) its header announces is truncated.
# Real files often miss a frame or two at the end (e.g. 62 of 64), which is fine.
TRUNCATION_TOLERANCE = 0.9
DECODE_CHUNK_FRAMES = 32
# With prefetching, smaller chunks so that decoding and the per-chunk work overlap even on short clips.
PREFETCH_CHUNK_FRAMES = 8


@dataclass
class VideoInfo:
    """What is known about a video before decoding any frame."""

    source: str  # path, or "<array>" for in-memory videos
    num_frames: int
    fps: float | None = None
    height: int | None = None
    width: int | None = None
    kind: str = "file"  # "file" | "frames" | "array"


def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def list_frame_files(folder: str | os.PathLike) -> list[Path]:
    """Image files of a frame folder in natural order (images2.png before images10.png)."""
    folder = Path(folder)
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()]
    files.sort(key=lambda p: _natural_key(p.name))
    return files


def _open_decoder(path: str):
    from torchcodec.decoders import VideoDecoder

    try:
        # "exact" scans the packets (no decoding) so that frame counts are the real ones, not the header's.
        return VideoDecoder(path, seek_mode="exact", num_ffmpeg_threads=1)
    except ValueError as err:  # torchcodec: "The best video stream is unknown ..."
        raise SignInputError(f"{path}: the file has no video stream (FFmpeg found no decodable video in it)") from err
    except RuntimeError as err:
        raise SignInputError(
            f"{path}: FFmpeg cannot open this file as a video (not a video, or truncated/corrupt): {_first_line(err)}"
        ) from err


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _container_duration(decoder) -> float | None:
    try:  # container-level header duration (mkv/webm carry none per stream); not part of torchcodec's public API
        from torchcodec._core import get_container_metadata

        return get_container_metadata(decoder._decoder).duration_seconds_from_header
    except Exception:  # pragma: no cover - older/newer torchcodec without it: skip this check
        return None


def probe_video_file(path: str | os.PathLike) -> tuple[VideoInfo, object]:
    """Open a video file and check it, returning its info and the open decoder."""
    path = str(path)
    if not os.path.exists(path):
        raise SignInputError(f"{path}: video file not found")
    if os.path.getsize(path) == 0:
        raise SignInputError(f"{path}: the file is empty (0 bytes), expected a video")
    decoder = _open_decoder(path)
    meta = decoder.metadata
    num_frames = meta.num_frames_from_content if meta.num_frames_from_content is not None else meta.num_frames
    if not num_frames:
        raise SignInputError(f"{path}: the video stream holds no decodable frame")
    header_frames = meta.num_frames_from_header
    if header_frames and num_frames < TRUNCATION_TOLERANCE * header_frames:
        raise SignInputError(
            f"{path}: the file is truncated: its header announces {header_frames} frames but only {num_frames} are "
            "present"
        )
    header_duration = meta.duration_seconds_from_header or _container_duration(decoder)
    content_end = meta.end_stream_seconds_from_content
    if header_duration and content_end is not None and content_end < TRUNCATION_TOLERANCE * header_duration:
        raise SignInputError(
            f"{path}: the file is truncated: its header announces {header_duration:.2f} s but the frames end at "
            f"{content_end:.2f} s"
        )
    info = VideoInfo(path, int(num_frames), meta.average_fps, meta.height, meta.width, kind="file")
    return info, decoder


def probe_frame_folder(path: str | os.PathLike) -> tuple[VideoInfo, list[Path]]:
    files = list_frame_files(path)
    if not files:
        raise SignInputError(
            f"{path}: the frame folder holds no image file (expected e.g. images0001.png or 000000.jpg; "
            f"extensions {', '.join(IMAGE_EXTENSIONS)})"
        )
    return VideoInfo(str(path), len(files), None, kind="frames"), files


def _channel_layout(input_data_format) -> str | None:
    """transformers' `input_data_format` ("channels_first"/"channels_last"/ChannelDimension/None) → "first"/"last"."""
    if input_data_format is None:
        return None
    value = getattr(input_data_format, "value", input_data_format)
    if value in ("channels_first", "first"):
        return "first"
    if value in ("channels_last", "last"):
        return "last"
    raise SignInputError(
        f"input_data_format={input_data_format!r}; expected 'channels_first', 'channels_last' or None (inferred)"
    )


def as_video_tensor(array, name: str = "<array>", input_data_format=None) -> torch.Tensor:
    """A uint8 video array/tensor (T,H,W,C) or (T,C,H,W), C in {1,3,4} → uint8 tensor (T,3,H,W).

    The channel axis is inferred (channels-last wins when both could be channels) unless `input_data_format` says
    which it is."""
    layout = _channel_layout(input_data_format)
    if isinstance(array, np.ndarray):
        tensor = torch.from_numpy(np.ascontiguousarray(array))
    elif isinstance(array, torch.Tensor):
        tensor = array.detach().cpu()
    else:
        shown = name if name != "<array>" else f"<{type(array).__name__}>"
        raise SignInputError(
            f"{shown}: expected a video path, frame folder, numpy array or torch tensor, got {type(array).__name__}")
    if tensor.ndim != 4:
        raise SignInputError(f"{name}: expected a 4-D video (T,H,W,C) or (T,C,H,W), got shape {tuple(tensor.shape)}")
    if tensor.dtype != torch.uint8:
        raise SignInputError(f"{name}: expected uint8 pixel values 0-255, got dtype {tensor.dtype}")
    if tensor.shape[0] == 0:
        raise SignInputError(f"{name}: the video has zero frames")
    channels_last = tensor.shape[-1] in (1, 3, 4) if layout != "first" else False
    channels_first = tensor.shape[1] in (1, 3, 4) if layout != "last" else False
    if channels_last:  # (T,H,W,C) wins when both could be channels (frames only a few pixels high)
        tensor = tensor.permute(0, 3, 1, 2)
    elif not channels_first:
        expected = {"first": "(T,C,H,W)", "last": "(T,H,W,C)"}.get(layout, "(T,H,W,C) or (T,C,H,W)")
        raise SignInputError(
            f"{name}: cannot find the channel axis in shape {tuple(tensor.shape)}; expected {expected} "
            "with C = 1 (grayscale), 3 (RGB) or 4 (RGBA)"
        )
    return to_rgb(tensor.contiguous())


def to_rgb(frames: torch.Tensor) -> torch.Tensor:
    """(T,C,H,W) uint8 with C in {1,3,4} → (T,3,H,W): grayscale repeated, alpha dropped."""
    if frames.shape[1] == 1:
        return frames.expand(-1, 3, -1, -1).contiguous()
    if frames.shape[1] == 4:
        return frames[:, :3].contiguous()
    return frames


# PIL modes of 16- and 32-bit single-channel images (16-bit grayscale PNG opens as "I;16" or "I").
_WIDE_GRAY_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def pil_to_rgb_array(image) -> np.ndarray:
    """A PIL image → uint8 RGB array (H, W, 3). 16-bit grayscale frames are scaled to 8 bits, not clipped
    (PIL's convert("RGB") clips them: every value above 255 became white)."""
    if image.mode in _WIDE_GRAY_MODES:
        wide = np.asarray(image)
        peak = 65535 if image.mode.startswith("I;16") or wide.max(initial=0) > 255 else 255
        gray = (wide.astype(np.float32) * (255.0 / peak)).round().clip(0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if image.mode != "RGB":
        image = image.convert("RGB")  # grayscale, palette and RGBA frames all become RGB
    return np.asarray(image, dtype=np.uint8)


def is_video_frame(item) -> bool:
    """One frame of a video given as a list of frames: a PIL image, or a 3-D array/tensor (HWC or CHW)."""
    if isinstance(item, (np.ndarray, torch.Tensor)):
        return item.ndim == 3
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a dependency
        return False
    return isinstance(item, Image.Image)


def frames_to_video(frames: Sequence, name: str = "<frames>", input_data_format=None) -> torch.Tensor:
    """A video given as a list of frames (transformers' standard video format: PIL images, per-frame HWC numpy
    arrays or CHW tensors — webcam frames, decord output, Gradio) → uint8 tensor (T,3,H,W)."""
    if not frames:
        raise SignInputError(f"{name}: the video is an empty list of frames")
    arrays = []
    for i, frame in enumerate(frames):
        if isinstance(frame, (np.ndarray, torch.Tensor)):
            if frame.ndim != 3:
                raise SignInputError(f"{name}[{i}]: expected a 3-D frame (H,W,C) or (C,H,W), got shape {tuple(frame.shape)}")
            arrays.append(frame.detach().cpu().numpy() if isinstance(frame, torch.Tensor) else frame)
        elif is_video_frame(frame):
            arrays.append(pil_to_rgb_array(frame))
        else:
            raise SignInputError(
                f"{name}[{i}]: expected a frame (PIL image, 3-D numpy array or tensor), got {type(frame).__name__}"
            )
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise SignInputError(f"{name}: frames of different shapes in one video: {sorted(shapes)}")
    return as_video_tensor(np.stack(arrays), name=name, input_data_format=input_data_format)


def _read_image(path: Path) -> np.ndarray:
    """One frame image → uint8 RGB array (H, W, 3) (see `pil_to_rgb_array`)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return pil_to_rgb_array(image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise SignInputError(f"{path}: unreadable image in frame folder {path.parent}: {_first_line(err)}") from err


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def default_prefetch() -> bool:
    """Overlap decoding with the caller's per-chunk work when this process may use more than one CPU core."""
    return _usable_cores() > 1


# Frame folders: at most this many threads decode images ahead of the preparation (see `default_image_threads`).
MAX_IMAGE_THREADS = 2


def default_image_threads() -> int:
    """Threads that decode a frame folder's images ahead of the preparation: one per core this process may use, at
    most `MAX_IMAGE_THREADS`. Pillow decodes with the GIL released, so on two free cores two threads decode a
    100-PNG folder 1.6x as fast as one (benchmarks/video_input.py). A video file keeps one decoding thread (one
    FFmpeg decoder reads the stream in order)."""
    return max(1, min(MAX_IMAGE_THREADS, _usable_cores()))


# A video file's decoder (one thread: it reads the stream in order) may run up to this many chunks ahead of the
# preparation, while those chunks hold at most PREFETCH_AHEAD_BYTES of decoded frames: 3 chunks of 8 frames at
# 320x240 (1.8 MB each), one at 720p or more. Measured (benchmarks/video_input.py, five runs): +0.03-0.09 of
# torchcodec's decoding speed over one chunk ahead, every frame at 224 px.
MAX_FILE_CHUNKS_AHEAD = 3
PREFETCH_AHEAD_BYTES = 32 * 1024 * 1024


def file_chunks_ahead(chunk_size: int, info: VideoInfo) -> int:
    """How many chunks of `chunk_size` frames of the video file `info` the decoder may decode ahead."""
    if not info.height or not info.width:
        return 1
    chunk_bytes = chunk_size * info.height * info.width * 3
    return max(1, min(MAX_FILE_CHUNKS_AHEAD, PREFETCH_AHEAD_BYTES // chunk_bytes))


def _run_chunks(load: Callable, chunks: list, transform: Callable, prefetch: bool, threads: int = 1,
                ahead: int = 1) -> list[torch.Tensor]:
    """`transform(load(chunk))` for each chunk, in order. With `prefetch`, the next max(`threads`, `ahead`) chunks
    are handed to `threads` background threads while chunk k is transformed (FFmpeg and PIL decode without holding
    the GIL, and so do torch ops), so a clip costs about max(decode / threads, resize + normalise) instead of their
    sum; queueing more than one chunk keeps a decoder busy while a slow chunk is being prepared. Results, and the
    order `transform` sees the chunks in, are the same for any `threads` and `ahead`."""
    if not prefetch or len(chunks) < 2:
        return [transform(load(chunk)) for chunk in chunks]
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    threads = max(1, min(threads, len(chunks)))
    ahead = max(threads, ahead)
    results = []
    with ThreadPoolExecutor(threads, thread_name_prefix="sign-video-decode") as pool:
        pending = deque(pool.submit(load, chunk) for chunk in chunks[:ahead])
        for k in range(len(chunks)):
            try:
                frames = pending.popleft().result()
            except BaseException:
                for future in pending:  # a bad chunk: nothing more is started, the error is raised at once
                    future.cancel()
                raise
            if k + ahead < len(chunks):
                pending.append(pool.submit(load, chunks[k + ahead]))
            results.append(transform(frames))
    return results


def read_video(
    source,
    sample_indices: Callable[[VideoInfo], Sequence[int]] | None = None,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    chunk_size: int | None = None,
    input_data_format=None,
    prefetch: bool | None = None,
    image_threads: int | None = None,
) -> tuple[torch.Tensor, np.ndarray, VideoInfo]:
    """Read the sampled frames of one video.

    Args:
        source: a video file path, a frame-folder path, a uint8 array/tensor (T,H,W,C) or (T,C,H,W), or a list of
            frames (PIL images, HWC arrays, CHW tensors).
        sample_indices: maps the `VideoInfo` (frame count, fps) to the frame indices to keep (in order, may
            repeat); all frames when None.
        transform: applied to each decoded chunk (T',3,H,W) uint8, in order, e.g. a resize, so the full-resolution
            frames of a long video are never all in memory at once. It may return any dtype (all chunks alike).
        chunk_size: frames decoded per chunk (default: `PREFETCH_CHUNK_FRAMES` with prefetching, else
            `DECODE_CHUNK_FRAMES`).
        input_data_format: channel axis of in-memory videos ("channels_first"/"channels_last"); inferred if None.
        prefetch: decode the next chunk of a file or frame folder in a background thread while `transform` runs on
            the current one (default: when this process may use more than one core, `default_prefetch()`).
        image_threads: with prefetching, threads decoding a frame folder's images ahead (default:
            `default_image_threads()`, one per usable core, at most 2); the result does not depend on it.

    Returns:
        frames (T,3,H',W') (uint8 unless `transform` changes it), the indices that were read, and the `VideoInfo`.
    """
    if image_threads is not None and image_threads < 1:
        raise ValueError(f"image_threads: expected a positive number of threads, got {image_threads}")
    transform = transform or (lambda x: x)
    prefetch = default_prefetch() if prefetch is None else prefetch
    chunk_size = chunk_size or (PREFETCH_CHUNK_FRAMES if prefetch else DECODE_CHUNK_FRAMES)
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if os.path.isdir(path):
            info, files = probe_frame_folder(path)
            indices = _indices(sample_indices, info)

            def load_images(wanted) -> torch.Tensor:
                frames = [_read_image(files[i]) for i in wanted]
                shapes = {f.shape for f in frames}
                if len(shapes) > 1:
                    raise SignInputError(f"{path}: frames of different sizes in one frame folder: {sorted(shapes)}")
                # Stack HWC arrays, then ONE permute: stacking permuted (strided) tensors was most of the time.
                return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2)

            threads = default_image_threads() if image_threads is None else image_threads
            chunks = _run_chunks(load_images, _split(indices, chunk_size), transform, prefetch, threads)
            return _concat(chunks, path), indices, info
        if not os.path.exists(path):
            raise SignInputError(f"{path}: video file or frame folder not found")
        info, decoder = probe_video_file(path)
        indices = _indices(sample_indices, info)

        def decode(wanted) -> torch.Tensor:
            try:
                frames = decoder.get_frames_at(indices=[int(i) for i in wanted]).data
            except (RuntimeError, IndexError) as err:
                raise SignInputError(
                    f"{path}: could not decode frames {int(wanted[0])}-{int(wanted[-1])} of {info.num_frames} "
                    f"(file truncated or corrupt?): {_first_line(err)}"
                ) from err
            return to_rgb(frames)

        chunks = _run_chunks(decode, _split(indices, chunk_size), transform, prefetch,
                             ahead=file_chunks_ahead(chunk_size, info))
        return _concat(chunks, path), indices, info
    if isinstance(source, (list, tuple)):
        video = frames_to_video(source, input_data_format=input_data_format)
    else:
        video = as_video_tensor(source, input_data_format=input_data_format)
    info = VideoInfo("<array>", video.shape[0], None, video.shape[2], video.shape[3], kind="array")
    indices = _indices(sample_indices, info)
    return transform(video[torch.as_tensor(indices, dtype=torch.long)]), indices, info


def _split(indices: np.ndarray, chunk_size: int) -> list[np.ndarray]:
    return [indices[start : start + chunk_size] for start in range(0, len(indices), chunk_size)]


def _indices(sample_indices, info: VideoInfo) -> np.ndarray:
    indices = np.arange(info.num_frames) if sample_indices is None else np.asarray(sample_indices(info))
    if indices.size == 0:
        raise SignInputError(f"{info.source}: frame sampling selected no frame out of {info.num_frames}")
    if indices.min() < 0 or indices.max() >= info.num_frames:
        raise SignInputError(f"{info.source}: sampled frame index out of range 0..{info.num_frames - 1}")
    return indices.astype(np.int64)


def _concat(chunks: list[torch.Tensor], source: str) -> torch.Tensor:
    """The chunks as one tensor; chunks a transform wrote in place, in order, into one buffer are that buffer."""
    if not chunks:  # pragma: no cover - _indices guarantees at least one frame
        raise SignInputError(f"{source}: no frame could be read")
    if len(chunks) == 1:
        return chunks[0]
    base = chunks[0]._base
    if (base is not None and base.is_contiguous() and base.data_ptr() == chunks[0].data_ptr()
            and base.shape[0] == sum(c.shape[0] for c in chunks) and base.shape[1:] == chunks[0].shape[1:]):
        offset = 0
        for chunk in chunks:
            if chunk._base is not base or not chunk.is_contiguous() or chunk.data_ptr() != base[offset].data_ptr():
                break
            offset += chunk.shape[0]
        else:
            return base
    return torch.cat(chunks)
