#!/usr/bin/env python
"""Video input vs the decoder's limit, measured side by side in one run (ratios, medians of interleaved repeats).

    python benchmarks/video_input.py                  # 100-frame 320x240 mp4 + PHOENIX-size 210x260 PNG folder
    python benchmarks/video_input.py --threads 2 --repeats 7

Rows (frames per second of each way, and its ratio to the reference row of its block):
  video file:   torchcodec decoding every frame with one FFmpeg thread (the limit) │ SignVideoProcessor at 224 px:
                before (all frames read, then a per-clip float tail + pad copy), now with prefetching off (chunks
                decoded and prepared one after the other on one core) and now (the next chunk decoded in a
                background thread while this one is resized / cropped / normalised, up to 3 chunks queued), both
                also with the clip buffer from a plain torch.empty (4 KiB pages, as before `empty_frames`), always
                fresh (huge pages, no reuse of freed clips' buffers, as before the frame-buffer cache), and with
                the decoder one chunk ahead (as before `file_chunks_ahead`) │ the same with frame_stride=4
  frame folder: a plain PIL loop (open, RGB, np.asarray, np.stack — the limit), and the same on 2 threads │
                read_video before (stack of permuted tensors) and now (stack HWC arrays, one permute) │ the
                processor at 224 px, before / now with prefetch off / with one image-decoding thread ahead (as
                before) / now (one per core, at most 2)
  workers:      the processor inside a DataLoader with 0/1/2 persistent worker processes, every frame of the file
                and the frame folder, 16 clips each (videos/s vs 0 workers), each worker decoding with the default
                threads or with one thread (prefetch off inside the worker)
  --contention: each step of the every-frame path alone and with the other step running on the second core
                (decode beside the preparation and the reverse; matrix products and zlib beside themselves, for
                scale), and the ceiling that puts on overlapping decode and preparation on this machine
  --profile:    the processor's steps at 224 px timed one by one on one core (decode, resize, crop, uint8 → float32
                into a fresh buffer with 4 KiB or huge pages, into a freed clip's buffer from the cache, or into one
                reused buffer; rescale + normalise)

"before" rows run the code paths this package used before the hardening issue, re-created here so both are timed
in the same process on the same inputs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def make_inputs(work: Path, frames: int) -> tuple[Path, Path]:
    video = work / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=25:duration={frames / 25}",
         "-pix_fmt", "yuv420p", "-c:v", "libx264", str(video)],
        check=True,
    )
    from torchcodec.decoders import VideoDecoder

    folder = work / "frames"
    folder.mkdir(exist_ok=True)
    decoded = VideoDecoder(str(video)).get_frames_at(indices=list(range(frames))).data  # (T,3,H,W)
    for i, frame in enumerate(decoded):
        image = Image.fromarray(frame.permute(1, 2, 0).numpy()).resize((210, 260))  # PHOENIX frame size
        image.save(folder / f"images{i + 1:04d}.png")
    return video, folder


def legacy_processor_class():
    """SignVideoProcessor as it was before the hardening issue: all sampled frames read first (no prefetching),
    then resized, cropped, and each clip normalised on its own (float copy, subtract, divide), then copied into a
    zero-padded batch even when there is one clip."""
    from sign_translation.processing import SignVideoProcessor
    from sign_translation.processing import video_processing_sign_translation as module

    class LegacySignVideoProcessor(SignVideoProcessor):
        def _process_one(self, source, opts, metadata=None):
            def resize(chunk):
                return self.resize(chunk, size=opts["size"], resample=opts.get("resample"))

            frames, indices, info = module.read_video(
                source, lambda info: self.sample_frames(info.num_frames, **opts), transform=resize, chunk_size=32,
                prefetch=False,
            )
            return self.center_crop(frames, opts["crop_size"]), indices, None

        def _normalize_and_pad(self, videos, opts):
            floats = [
                self.rescale_and_normalize(v, opts.get("do_rescale"), opts.get("rescale_factor"), opts.get("do_normalize"),
                                           opts.get("image_mean"), opts.get("image_std")).to(torch.float32)
                for v in videos
            ]
            lengths = [v.shape[0] for v in floats]
            batch = floats[0].new_zeros((len(floats), max(lengths), *floats[0].shape[1:]))
            mask = torch.zeros(len(floats), max(lengths), dtype=torch.long)
            for i, video in enumerate(floats):
                batch[i, : lengths[i]] = video
                mask[i, : lengths[i]] = 1
            return {"pixel_values_videos": batch, "video_mask": mask}

    return LegacySignVideoProcessor


def patched(module_name: str, attribute: str, replacement):
    """A wrapper running `fn` with `module.attribute` replaced (restored afterwards): the code paths this package used
    before a change, timed in the same process as today's."""
    import importlib

    def wrap(fn):
        def run():
            module = importlib.import_module(module_name)  # at call time: importing this script imports nothing
            original = getattr(module, attribute)
            setattr(module, attribute, replacement)
            try:
                return fn()
            finally:
                setattr(module, attribute, original)

        return run

    return wrap


VIDEO_IO = "sign_translation.processing.video_io"
# prefetching off: chunks decoded and prepared one after the other on one core
serial = patched(VIDEO_IO, "default_prefetch", lambda: False)
# clip buffers from a plain torch.empty (4 KiB pages, first touch page by page), as before `empty_frames` asked the
# kernel for huge pages
small_pages = patched("sign_translation.processing.video_processing_sign_translation", "empty_frames",
                      lambda shape, dtype=torch.float32: torch.empty(tuple(shape), dtype=dtype))


def _fresh_huge_pages(shape, dtype=torch.float32):
    from sign_translation.processing.frame_buffers import huge_page_empty

    return huge_page_empty(shape, dtype)


# clip buffers always fresh (huge-page hint, no reuse of freed clips' memory), as before the frame-buffer cache
no_reuse = patched("sign_translation.processing.video_processing_sign_translation", "empty_frames", _fresh_huge_pages)
# a video file's decoder one chunk ahead of the preparation, as before `file_chunks_ahead` let it queue up to three
one_chunk_ahead = patched(VIDEO_IO, "file_chunks_ahead", lambda chunk_size, info: 1)


def image_threads(count: int, fn):
    """`fn` with `count` threads decoding frame-folder images ahead of the preparation (the default: one per core,
    at most 2; before, always one)."""
    return patched(VIDEO_IO, "default_image_threads", lambda: count)(fn)


def legacy_read_folder(folder: Path) -> torch.Tensor:
    """read_video on a frame folder as it was: each image permuted to CHW, then torch.stack of the strided views."""
    from sign_translation.processing.video_io import list_frame_files

    chunks = []
    files = list_frame_files(folder)
    for start in range(0, len(files), 32):
        frames = []
        for path in files[start : start + 32]:
            with Image.open(path) as image:
                frames.append(torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.uint8).copy()).permute(2, 0, 1))
        chunks.append(torch.stack(frames))
    return torch.cat(chunks)


def _read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def pil_loop(folder: Path) -> np.ndarray:
    return np.stack([_read_rgb(path) for path in sorted(folder.glob("*.png"))])


def pil_threads(folder: Path, pool) -> np.ndarray:
    """The PIL loop's work spread over a thread pool (`pool.map`, in order): the limit for two decoding threads."""
    return np.stack(list(pool.map(_read_rgb, sorted(folder.glob("*.png")))))


def interleaved(cases: dict, repeats: int, self_timed: bool = False) -> dict[str, float]:
    """Median seconds of each case, the cases run round-robin so that load changes hit all of them alike. With
    `self_timed`, each case returns the seconds to count (it times only part of what it runs)."""
    for fn in cases.values():
        fn()  # warm up
    times = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            start = time.perf_counter()
            result = fn()
            times[name].append(result if self_timed else time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def print_block(title: str, seconds: dict[str, float], items: int, unit: str = "frames/s") -> None:
    reference = next(iter(seconds.values()))
    print(f"\n{title}")
    print(f"  {'way':58} {unit:>10}  ratio")
    for name, value in seconds.items():
        print(f"  {name:58} {items / value:10.1f}  {reference / value:5.2f}x")


def workers_block(source: Path, processor, repeats: int, clips: int = 16) -> dict[str, float]:
    """The processor inside a DataLoader (`batch_size=None`, one clip per item; persistent workers, started before
    the timing) with 0/1/2 worker processes, each worker decoding with the package's default threads (prefetching,
    and on a frame folder `default_image_threads()` threads) or with them switched off inside it (one thread per
    worker process). Returns the median seconds of a pass over `clips` clips of `source`."""
    from torch.utils.data import DataLoader

    class Clips(torch.utils.data.Dataset):
        def __len__(self):
            return clips

        def __getitem__(self, index):
            return processor(str(source))["pixel_values_videos"]

    def one_thread(fn):
        return serial(patched(VIDEO_IO, "default_image_threads", lambda: 1)(fn))

    cases = {}
    for workers, inner in ((0, True), (1, True), (1, False), (2, True), (2, False)):
        data = DataLoader(Clips(), batch_size=None, num_workers=workers, persistent_workers=workers > 0)

        def start(d=data):
            return next(iter(d))

        # Workers are forked at the first iteration and keep the module state they were forked with, so starting
        # them inside the patch is what switches their threads off.
        (start if inner else one_thread(start))()
        if workers == 0:
            name = "0 workers (decoding in the training process, as by default)"
        else:
            threads = "decoding threads as by default" if inner else "one thread per worker (prefetch off)"
            name = f"{workers} worker process(es), {threads}"
        cases[name] = lambda d=data: [x.shape for x in d]
    return interleaved(cases, max(1, repeats // 2))


def _steps(video: Path, processor, frames: int):
    """What the step-by-step blocks share: the processor's options, the 8-frame chunks it decodes, those chunks
    decoded once (one decoder), the affine normalisation, and a `decode()` that decodes them again as the processor
    does (a fresh decoder, chunk by chunk)."""
    from torchcodec.decoders import VideoDecoder

    opts = processor._standardize_kwargs(**{n: getattr(processor, n, None) for n in processor.valid_kwargs.__annotations__})
    chunks = [list(range(start, min(start + 8, frames))) for start in range(0, frames, 8)]
    decoder = VideoDecoder(str(video), seek_mode="exact", num_ffmpeg_threads=1)
    decoded = [decoder.get_frames_at(indices=c).data for c in chunks]
    scale, shift = processor._affine_normalization(opts, 3)

    def decode():
        fresh = VideoDecoder(str(video), seek_mode="exact", num_ffmpeg_threads=1)
        for c in chunks:
            fresh.get_frames_at(indices=c)

    return opts, chunks, decoded, scale, shift, decode


def profile_block(video: Path, processor, frames: int, repeats: int) -> dict[str, float]:
    """The processor's steps at 224 px timed one by one on the whole clip, chunk by chunk as the processor runs
    them (8 frames), one core: where the time of "every frame of a file" goes."""
    from sign_translation.processing import video_processing_sign_translation as module

    opts, chunks, decoded, scale, shift, decode = _steps(video, processor, frames)
    resized = [processor.resize(c, size=opts["size"], resample=opts.get("resample")) for c in decoded]
    cropped = [processor.center_crop(c, opts["crop_size"]) for c in resized]
    shape = (frames, *cropped[0].shape[1:])
    reused = torch.empty(shape)

    def convert(buffer):
        cursor = 0
        for c in cropped:
            buffer[cursor : cursor + c.shape[0]].copy_(c)
            cursor += c.shape[0]

    def normalise():
        for start in range(0, frames, 8):
            reused[start : start + 8].mul_(scale).add_(shift)

    return interleaved({
        "decode (torchcodec, 8-frame chunks)": decode,
        "resize 320x240 -> 256x256 (uint8, antialiased)": lambda: [processor.resize(c, size=opts["size"],
                                                                   resample=opts.get("resample")) for c in decoded],
        "centre crop 224 (a view)": lambda: [processor.center_crop(c, opts["crop_size"]) for c in resized],
        "uint8 -> float32 into a fresh buffer, 4 KiB pages": lambda: convert(torch.empty(shape)),
        "uint8 -> float32 into a fresh buffer, huge pages": lambda: convert(_fresh_huge_pages(shape)),
        "uint8 -> float32 into a freed clip's buffer (now: cache)": lambda: convert(module.empty_frames(shape)),
        "uint8 -> float32 into one reused buffer (no page faults)": lambda: convert(reused),
        "rescale + normalise in place (mul_, add_)": normalise,
    }, repeats)


def contention_block(video: Path, processor, frames: int, repeats: int) -> dict[str, float]:
    """Each step of the every-frame path timed alone and while a second thread runs the other step in a loop on the
    other core: decoding (a fresh torchcodec decoder, 8-frame chunks, as the processor decodes) and the preparation
    (resize, centre crop, uint8 -> float32 into the clip buffer from `empty_frames`, rescale + normalise, chunk by
    chunk, as the processor prepares), plus matrix products and zlib, each beside itself, to show how this machine's two cores
    share vector (SIMD) work and scalar work. Returns median seconds per row."""
    import threading
    import zlib

    from sign_translation.processing import video_processing_sign_translation as module

    opts, chunks, decoded, scale, shift, decode = _steps(video, processor, frames)
    matrix = torch.randn(256, 256)
    data = np.random.default_rng(0).integers(0, 256, 1 << 20, dtype=np.uint8).tobytes() * 2

    def prepare():
        buffer = None
        for c, chunk in zip(chunks, decoded):
            chunk = processor.center_crop(processor.resize(chunk, size=opts["size"], resample=opts.get("resample")),
                                          opts["crop_size"])
            if buffer is None:
                buffer = module.empty_frames((frames, *chunk.shape[1:]))
            out = buffer[c[0] : c[-1] + 1]
            out.copy_(chunk)
            out.mul_(scale).add_(shift)

    def matmul():
        for _ in range(40):
            matrix @ matrix

    def compress():
        zlib.compress(data, 6)

    def beside(fn, other):
        def run():
            stop = threading.Event()

            def loop():
                while not stop.is_set():
                    other()

            thread = threading.Thread(target=loop, daemon=True)
            thread.start()
            try:
                time.sleep(0.02)
                start = time.perf_counter()
                fn()
                return time.perf_counter() - start
            finally:
                stop.set()
                thread.join()

        return run

    def alone(fn):
        def run():
            start = time.perf_counter()
            fn()
            return time.perf_counter() - start

        return run

    cases = {
        "decode alone": alone(decode),
        "decode beside the preparation": beside(decode, prepare),
        "preparation alone": alone(prepare),
        "preparation beside decoding": beside(prepare, decode),
        "matrix products alone (vector work, for scale)": alone(matmul),
        "matrix products beside matrix products": beside(matmul, matmul),
        "zlib alone (scalar work, for scale)": alone(compress),
        "zlib beside zlib": beside(compress, compress),
    }
    return interleaved(cases, repeats, self_timed=True)


def print_contention(rows: dict[str, float]) -> None:
    print("\nthe every-frame steps alone and beside each other on the two cores (ms per clip; beside: x alone)")
    alone = None
    for name, seconds in rows.items():
        if "alone" in name:
            alone = seconds
            print(f"  {name:58} {seconds * 1e3:8.1f} ms")
        else:
            print(f"  {name:58} {seconds * 1e3:8.1f} ms  {seconds / alone:5.2f}x")
    overlapped = max(rows["decode beside the preparation"], rows["preparation beside decoding"])
    print(f"  ceiling of decode overlapped with preparation: decode alone / max(both beside each other) = "
          f"{rows['decode alone'] / overlapped:.2f}x of the decoder (fill, drain and thread hand-offs come on top)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=100, help="frames of the test clip (default 100)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per row (median; default 5)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1; see pipeline_latency.py)")
    parser.add_argument("--skip-workers", action="store_true", help="leave out the DataLoader workers block")
    parser.add_argument("--profile", action="store_true", help="also time the processor's steps one by one")
    parser.add_argument("--contention", action="store_true",
                        help="also time the every-frame steps beside each other on the two cores")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from torchcodec.decoders import VideoDecoder

    from sign_translation.processing import SignVideoProcessor
    from sign_translation.processing.video_io import read_video

    work = Path(tempfile.mkdtemp(prefix="video_input_bench_"))
    video, folder = make_inputs(work, args.frames)
    now, before = SignVideoProcessor(), legacy_processor_class()()  # paper input: 256 → crop 224, ImageNet norm
    assert torch.allclose(now(str(video))["pixel_values_videos"], before(str(video))["pixel_values_videos"], atol=1e-5)
    indices = list(range(args.frames))
    print(f"torch threads {torch.get_num_threads()}; {args.frames} frames; medians of {args.repeats} interleaved repeats"
          " (the machine may be shared: compare ratios within a block, not absolute numbers across runs); "
          f"1-minute load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")

    file_rows = interleaved({
        "torchcodec decode, all frames, 320x240, 1 FFmpeg thread (the limit)":
            lambda: VideoDecoder(str(video), seek_mode="exact", num_ffmpeg_threads=1).get_frames_at(indices=indices),
        "processor 224 px, before (original float tail)": lambda: before(str(video)),
        "processor 224 px, now, prefetch off (one core)": serial(lambda: now(str(video))),
        "processor 224 px, now, prefetch off, 4 KiB-page buffers": serial(small_pages(lambda: now(str(video)))),
        "processor 224 px, now, 4 KiB-page buffers": small_pages(lambda: now(str(video))),
        "processor 224 px, now, fresh buffers (no reuse, as before)": no_reuse(lambda: now(str(video))),
        "processor 224 px, now, decoder 1 chunk ahead (as before)": one_chunk_ahead(lambda: now(str(video))),
        "processor 224 px, now (decoding overlaps preparation)": lambda: now(str(video)),
        "processor 224 px, frame_stride=4, before (frames/s of the source)": lambda: before(str(video), frame_stride=4),
        "processor 224 px, frame_stride=4, now, prefetch off": serial(lambda: now(str(video), frame_stride=4)),
        "processor 224 px, frame_stride=4, now": lambda: now(str(video), frame_stride=4),
    }, args.repeats)
    print_block("video file (mp4, H.264)", file_rows, args.frames)
    if args.profile:
        steps = profile_block(video, now, args.frames, args.repeats)
        print_block("the processor's steps at 224 px, one by one (ratio: decode time / step time)", steps, args.frames)
    if args.contention:
        print_contention(contention_block(video, now, args.frames, args.repeats))

    from concurrent.futures import ThreadPoolExecutor

    from sign_translation.processing.video_io import default_image_threads

    threads = default_image_threads()
    with ThreadPoolExecutor(2) as pool:
        folder_rows = interleaved({
            "PIL loop: open, RGB, np.asarray, np.stack (the limit)": lambda: pil_loop(folder),
            "PIL loop on 2 threads (pool.map; for scale)": lambda: pil_threads(folder, pool),
            "read_video(frame folder), before: stack of permuted tensors": lambda: legacy_read_folder(folder),
            "read_video(frame folder), now: stack HWC, one permute": serial(lambda: read_video(str(folder))),
            "processor 224 px, before (old stacking + old float tail)": lambda: _legacy_folder_processor(before, folder),
            "processor 224 px, now, prefetch off (one core)": serial(lambda: now(str(folder))),
            "processor 224 px, now, 1 image-decoding thread": image_threads(1, lambda: now(str(folder))),
            "processor 224 px, now, fresh buffers (no reuse, as before)": no_reuse(lambda: now(str(folder))),
            f"processor 224 px, now ({threads} image-decoding threads)": lambda: now(str(folder)),
        }, args.repeats)
    print_block("PNG frame folder (210x260, PHOENIX size)", folder_rows, args.frames)

    if not args.skip_workers:
        for label, source in (("mp4 every frame", video), ("PNG folder", folder)):
            rows = workers_block(source, now, args.repeats)
            print_block(f"processor in a DataLoader, 16 clips, {label}", rows, 16, unit="videos/s")
    print(f"\n1-minute load average at the end: {os.getloadavg()[0]:.2f}")


def _legacy_folder_processor(processor, folder: Path):
    """The legacy processor fed by the legacy frame-folder reader (both "before" paths together)."""
    import sign_translation.processing.video_io as video_io

    original = video_io.read_video

    def read(source, sample_indices=None, transform=None, chunk_size=32, **_):
        frames = legacy_read_folder(Path(source))
        info = video_io.VideoInfo(str(source), frames.shape[0], None, kind="frames")
        indices = np.asarray(sample_indices(info)) if sample_indices else np.arange(frames.shape[0])
        return (transform or (lambda x: x))(frames[torch.as_tensor(indices)]), indices, info

    import sign_translation.processing.video_processing_sign_translation as module

    module.read_video = read
    try:
        return processor(str(folder))
    finally:
        module.read_video = original


if __name__ == "__main__":
    main()
