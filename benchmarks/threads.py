#!/usr/bin/env python
"""torch threads 1 vs 2 for pipeline inference and a training step, on the machine as it is and under one extra
busy process — side by side in one run (ratios; medians of interleaved repeats).

    python benchmarks/threads.py                      # 2 conditions x 2 workloads x threads 1 2
    python benchmarks/threads.py --threads 1 2 4 --repeats 5

Workloads: `pipeline("sign-translation")` on one real video of tests/data at batch 1 (FLa-LLM stage 2 with random
weights: ResNet-18 at 224 px, frame_stride 4, the reduced mBART of pipeline_latency.py, 8 greedy tokens); and one
SGD step of FLa-LLM stage 1 at paper shapes (ResNet-18 + Light-T, batch 1 x 4 frames at 224 px; memory_and_speed.py).
Conditions: "as is" (nothing added; the load average is printed — other jobs may be running) and "+1 busy process"
(this script starts one pure-Python busy loop, i.e. one core taken by someone else).

The last block prints what `sign-translation --threads` chooses by default on this machine now
(`sign_translation.cli.default_threads`).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
FRAMES = 4  # training-step frames (a paper-size step at 120 frames takes minutes on a shared CPU)
sys.path.insert(0, str(REPO / "benchmarks"))


def pipeline_workload():
    from pipeline_latency import build
    from transformers import pipeline

    import sign_translation  # noqa: F401 - registers the task

    model, processor = build(8)
    model.generation_config.update(max_new_tokens=8, min_new_tokens=8)
    translator = pipeline("sign-translation", model=model, processor=processor)
    video = str(min((REPO / "tests" / "data").glob("*.mp4"), key=lambda p: p.stat().st_size))
    return lambda: translator(video, batch_size=1)


def training_workload():
    from memory_and_speed import build_model, one_step

    model = build_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    return lambda: one_step(model, optimizer, 1, FRAMES)


def measure(workloads: dict, threads: list[int], repeats: int) -> dict:
    """Median seconds per (workload, threads), thread counts interleaved within each repeat."""
    times = {(name, n): [] for name in workloads for n in threads}
    for fn in workloads.values():
        for n in threads:  # warm-up per thread count
            torch.set_num_threads(n)
            fn()
    for _ in range(repeats):
        for name, fn in workloads.items():
            for n in threads:
                torch.set_num_threads(n)
                start = time.perf_counter()
                fn()
                times[(name, n)].append(time.perf_counter() - start)
    return {key: statistics.median(values) for key, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts (default 1 2)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per cell (median; default 3)")
    args = parser.parse_args()
    default_threads = torch.get_num_threads()
    workloads = {"pipeline, 1 video, batch 1": pipeline_workload(), "stage-1 training step, 1 x 4 frames": training_workload()}
    cores = len(os.sched_getaffinity(0))
    print(f"{cores} usable cores; torch's default thread count here: {default_threads}; medians of {args.repeats} "
          "interleaved repeats (ratios: the machine may be shared)")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `timeout` / kill: still stop the busy process
    base = args.threads[0]
    header = " | ".join(f"{n} thr s" for n in args.threads)
    ratios = " | ".join(f"{n} ÷ {base} speed" for n in args.threads[1:])
    print(f"\n| workload | condition (1-min load before) | {header} | {ratios} |")
    print("|---|---|" + "---:|" * (len(args.threads) * 2 - 1), flush=True)

    def run(condition: str) -> None:  # rows printed as soon as they exist
        load = os.getloadavg()[0]
        cells = measure(workloads, args.threads, args.repeats)
        for name in workloads:
            seconds = [cells[(name, n)] for n in args.threads]
            speed = [seconds[0] / s for s in seconds[1:]]
            print(f"| {name} | {condition} ({load:.1f}) | " + " | ".join(f"{s:.2f}" for s in seconds)
                  + " | " + " | ".join(f"{r:.2f}x" for r in speed) + " |", flush=True)

    run("as is")
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)
        run("+1 busy process")
    finally:
        busy.kill()
        busy.wait()

    from sign_translation.cli import default_threads as choose

    print(f"\nsign-translation's default now: --threads {choose()} (1-min load {os.getloadavg()[0]:.1f}, {cores} cores)")


if __name__ == "__main__":
    main()
