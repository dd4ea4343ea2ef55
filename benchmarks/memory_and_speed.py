#!/usr/bin/env python
"""Peak memory and step time of FLa-LLM stage 1 (ResNet-18 + Light-T, paper shapes, random weights) at 224 px,
with and without `activation_checkpointing_enable()`, and how both grow with the number of frames. Side by side in
one process; ratios are the numbers to read.

    python benchmarks/memory_and_speed.py                        # batch 1 × 16/32/64 frames (reduced, see below)
    python benchmarks/memory_and_speed.py --frames 60 120 --batch-size 2   # the paper's 2 × 120 (slow on a CPU)
    python benchmarks/memory_and_speed.py --threads 1 2          # threads block: step time per thread count

The paper-size table (both stage-2 models, 2 × 120 frames, AdamW, one process per point) is paper_memory.py.

Peak memory is the process's peak resident set size during one training step (forward, backward, SGD step)
above its size before the step (Linux: /proc/self/clear_refs resets the peak, /proc/self/status VmHWM reads it);
glibc is told to return large blocks to the system at once (MALLOC_MMAP_THRESHOLD_) so steps do not reuse each
other's memory. "saved for backward" sums the bytes autograd keeps between forward and backward — what gradient
checkpointing trades for recomputation.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

if os.environ.get("MALLOC_MMAP_THRESHOLD_") is None and sys.platform.startswith("linux"):
    os.environ["MALLOC_MMAP_THRESHOLD_"] = "65536"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import torch  # noqa: E402
from process_memory import reset_peak, status_kib  # noqa: E402


def build_model(vocab: int = 1000):
    from sign_translation import FlaLlmConfig, FlaLlmForVisualInitialization

    config = FlaLlmConfig(text_config={"vocab_size": vocab}, label_smoothing=0.2)  # paper ResNet-18 + Light-T 3+3
    torch.manual_seed(0)
    return FlaLlmForVisualInitialization(config).train()


def one_step(model, optimizer, batch: int, frames: int, size: int = 224) -> tuple[float, float, float]:
    """(seconds, peak MiB above the start, MiB saved for backward) of one training step."""
    video = torch.randn(batch, frames, 3, size, size)
    mask = torch.ones(batch, frames, dtype=torch.long)
    labels = torch.randint(3, 900, (batch, 20))
    saved = [0]

    def pack(tensor):
        saved[0] += tensor.numel() * tensor.element_size()
        return tensor

    start_rss = reset_peak()
    start = time.perf_counter()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = model(pixel_values_videos=video, video_mask=mask, labels=labels).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    seconds = time.perf_counter() - start
    peak = (status_kib("VmHWM:") - start_rss) / 1024
    return seconds, peak, saved[0] / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2, help="timed steps per row (median; default 2)")
    parser.add_argument("--threads", type=int, nargs="+", default=None,
                        help="also time one row per thread count (default: only the current setting)")
    args = parser.parse_args()
    torch.set_num_threads((args.threads or [torch.get_num_threads()])[0])

    model = build_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    one_step(model, optimizer, 1, 4)  # warm up allocator and kernels
    params = sum(p.numel() for p in model.parameters()) / 1e6
    print(f"FLa-LLM stage 1, paper shapes ({params:.1f}M parameters, random weights), 224 px, batch "
          f"{args.batch_size}, SGD; torch threads {torch.get_num_threads()}; medians of {args.repeats} steps "
          "(machine may be shared: read the ratios)")
    print(f"\n  {'frames':>6} {'checkpointing':>13} {'peak MiB':>9} {'saved MiB':>10} {'s/step':>7}"
          f"  {'peak ratio':>10} {'time ratio':>10}")
    for frames in args.frames:
        rows = {}
        for enabled in (False, True):  # interleaved per frame count
            if enabled:
                model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
            else:
                model.gradient_checkpointing_disable()
            runs = [one_step(model, optimizer, args.batch_size, frames) for _ in range(args.repeats)]
            rows[enabled] = (statistics.median(r[0] for r in runs), max(r[1] for r in runs),
                             statistics.median(r[2] for r in runs))
        base = rows[False]
        for enabled, (seconds, peak, saved) in rows.items():
            print(f"  {frames:>6} {'on' if enabled else 'off':>13} {peak:9.0f} {saved:10.0f} {seconds:7.2f}"
                  f"  {peak / base[1]:10.2f} {seconds / base[0]:10.2f}")
    model.gradient_checkpointing_disable()
    if args.threads and len(args.threads) > 1:
        frames = args.frames[0]
        print(f"\n  threads (batch {args.batch_size} × {frames} frames, no checkpointing)")
        times = {n: [] for n in args.threads}
        for _ in range(args.repeats):
            for n in args.threads:
                torch.set_num_threads(n)
                times[n].append(one_step(model, optimizer, args.batch_size, frames)[0])
        base = statistics.median(times[args.threads[0]])
        for n, values in times.items():
            print(f"  {n:>3} thread(s) {statistics.median(values):7.2f} s/step  {statistics.median(values) / base:5.2f}x")


if __name__ == "__main__":
    main()
