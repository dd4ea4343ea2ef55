#!/usr/bin/env python
"""Peak memory and step time of the paper-size configurations, one training step per measured point, each point in
its own process (so no point inherits another's allocator state), results appended to
`benchmarks/results/memory_and_speed.json` as they arrive (a stopped run continues where it stopped).

    python benchmarks/paper_memory.py                 # the whole table (~45 min on a shared 2-core CPU)
    python benchmarks/paper_memory.py --report        # print the tables from the results file, measure nothing
    python benchmarks/paper_memory.py --models fla_stage1 --frames 60 120 --budget-min 10

Models (random weights, paper shapes, no download):
  fla_stage1   FLa-LLM stage 1: ResNet-18 + Conv1D-BN-ReLU + VL-adapter + Light-T (3+3, d 512); the recipe trims
               the mBART vocabulary to the corpus, here 3,000 entries; SGD with momentum 0.9 (the recipe's optimizer).
  fla_stage2   FLa-LLM stage 2: ResNet-18 + temporal module frozen → LLM-adapter → mBART-large-cc25 shape (d 1024,
               12+12 layers, 16 heads, FFN 4096, vocabulary 250,027), fully fine-tuned; AdamW (the recipe's).
  mmslt_stage2 MMSLT stage 2: ResNet-18 (trained) + description mapper (frozen) + temporal conv + MLP →
               mBART-large-50 shape (same dims, vocabulary 250,054) with LoRA r 16 on q/k/v/out (base frozen);
               AdamW (the recipe's).

Each point: 2 clips × F/2 frames at 224 px (F = total frames per step: 60/120/240/480; the paper's batch is 2 ×
120 = 240 here), 24 target tokens per clip, `model.gradient_checkpointing_enable()` off/on, fp32 or bf16 autocast.
A warm-up step on 2 × 4 frames first allocates the gradients and the optimizer state, so the timed step is a
steady-state step: its peak resident set size (VmHWM after resetting it through /proc/self/clear_refs) is what a
training run needs. Reported: the process's peak RSS (weights + gradients + optimizer state + activations + the
interpreter), its RSS before the step, and seconds for forward + backward + optimizer step.

Memory guard: before a point runs, its peak is estimated from the points of the same model already measured
(linear in frames) or, for the first point of a model, from parameter counts. A point whose estimate exceeds
`--max-gib` (default 11.5 GiB, under a 12 GiB per-process limit) is not run; a watchdog thread also ends a point whose
RSS passes the limit. Points not measured are extrapolated from the measured per-frame slope and printed as such.
bf16 autocast is ~8× slower on CPUs without AVX512-BF16/AMX: it is measured at the smallest point only.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "memory_and_speed.json"
MODELS = ("fla_stage1", "fla_stage2", "mmslt_stage2")
GIB = 2**30
LABEL_TOKENS = 24
STAGE1_VOCAB = 3000
BF16_SLOWDOWN = 8.5  # measured for issue 14 on this CPU; only used to skip a bf16 point that cannot finish in time


def _mem_available_gib() -> float:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024 / GIB
    return float("inf")


# ----------------------------------------------------------------------------------------------- one point (child)
def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def _reset_peak() -> int:
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status_kib("VmRSS:")


def _watchdog(limit_gib: float) -> None:
    """End this process (exit 3) when its resident set passes the limit: the machine is shared."""

    def watch():
        while True:
            if _status_kib("VmRSS:") * 1024 > limit_gib * GIB:
                sys.stderr.write(f"RSS passed {limit_gib} GiB: point stopped\n")
                os._exit(3)
            time.sleep(0.1)

    threading.Thread(target=watch, daemon=True).start()


def build(model_name: str):
    """(model, optimizer, optimizer name) for one of MODELS, random weights at paper shapes."""
    import torch

    from sign_translation import (
        FlaLlmConfig,
        FlaLlmForConditionalGeneration,
        FlaLlmForVisualInitialization,
        MMSLTConfig,
        MMSLTForConditionalGeneration,
    )

    torch.manual_seed(0)
    if model_name == "fla_stage1":
        model = FlaLlmForVisualInitialization(FlaLlmConfig(text_config={"vocab_size": STAGE1_VOCAB}))
        params = [p for p in model.parameters() if p.requires_grad]
        return model.train(), torch.optim.SGD(params, lr=1e-2, momentum=0.9), "SGD momentum 0.9"
    if model_name == "fla_stage2":
        model = FlaLlmForConditionalGeneration(FlaLlmConfig())  # default text_config: mBART-large-cc25 shape
        llm = [p for p in model.llm.parameters() if p.requires_grad]
        ids = {id(p) for p in llm}
        rest = [p for p in model.parameters() if p.requires_grad and id(p) not in ids]
        groups = [{"params": rest, "lr": 1e-3}, {"params": llm, "lr": 1e-5}]  # recipe: adapter 1e-3, LLM 1e-5
        return model.train(), torch.optim.AdamW(groups, weight_decay=0.0), "AdamW"
    if model_name == "mmslt_stage2":
        model = MMSLTForConditionalGeneration(MMSLTConfig())  # default text_config: mBART-large-50 shape, LoRA
        params = [p for p in model.parameters() if p.requires_grad]
        return model.train(), torch.optim.AdamW(params, lr=1e-4, weight_decay=1e-3), "AdamW"
    raise ValueError(f"model {model_name!r}: expected one of {MODELS}")


def measure_point(point: dict) -> dict:
    import torch

    torch.set_num_threads(point["threads"])
    _watchdog(point["limit_gib"])
    built = time.perf_counter()
    model, optimizer, optimizer_name = build(point["model"])
    built = time.perf_counter() - built
    vocab = STAGE1_VOCAB if point["model"] == "fla_stage1" else model.config.text_config.vocab_size
    if point["checkpointing"]:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    bf16 = point["dtype"] == "bf16"
    clips, size = point["clips"], point["size"]

    def step(frames_per_clip: int) -> float:
        generator = torch.Generator().manual_seed(frames_per_clip)
        video = torch.randn(clips, frames_per_clip, 3, size, size, generator=generator)
        mask = torch.ones(clips, frames_per_clip, dtype=torch.long)
        labels = torch.randint(3, vocab - 1, (clips, LABEL_TOKENS), generator=generator)
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(pixel_values_videos=video, video_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)  # as the Trainer does
        return time.perf_counter() - start

    step(4)  # warm-up: allocates gradients + optimizer state, loads kernels
    frames_per_clip = point["frames"] // clips
    start_kib = _reset_peak()
    seconds = step(frames_per_clip)
    peak_kib = _status_kib("VmHWM:")
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {
        **{k: point[k] for k in ("model", "frames", "clips", "size", "checkpointing", "dtype", "threads")},
        "status": "measured",
        "peak_gib": round(peak_kib * 1024 / GIB, 3),
        "start_gib": round(start_kib * 1024 / GIB, 3),
        "step_gib": round((peak_kib - start_kib) * 1024 / GIB, 3),
        "seconds": round(seconds, 2),
        "build_seconds": round(built, 1),
        "parameters_m": round(total / 1e6, 1),
        "trainable_m": round(trainable / 1e6, 1),
        "optimizer": optimizer_name,
        "load_1min": round(os.getloadavg()[0], 2),
        "torch": torch.__version__,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


# --------------------------------------------------------------------------------------------- orchestration (parent)
def load_results(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path) as f:
        return json.load(f)


def save_results(path: Path, records: list[dict]) -> None:
    """Atomic write: a temporary file beside the results, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(records, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def key(record: dict) -> tuple:
    return tuple(record[k] for k in ("model", "frames", "clips", "size", "checkpointing", "dtype", "threads"))


# Fallback estimates before a model has any measured point (GiB): weights + gradients + optimizer state from the
# parameter counts (~ 37M / 625M / 630M parameters), activations per frame from the stage-1 table of
# memory_and_speed.py (~21 MiB per frame through a trained ResNet-18; ~13 with checkpointing; frozen: ~4).
FALLBACK = {
    "fla_stage1": (0.9, {False: 21 / 1024, True: 13 / 1024}),
    "fla_stage2": (9.5, {False: 4 / 1024, True: 4 / 1024}),
    "mmslt_stage2": (3.8, {False: 23 / 1024, True: 15 / 1024}),
}


def fit(points: list[tuple[int, float]]) -> tuple[float, float] | None:
    """Least-squares line (intercept, slope per frame) through (frames, value); None with fewer than 2 frame counts."""
    if len({f for f, _ in points}) < 2:
        return None
    n = len(points)
    mean_f = sum(f for f, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    slope = sum((f - mean_f) * (v - mean_v) for f, v in points) / sum((f - mean_f) ** 2 for f, _ in points)
    return mean_v - slope * mean_f, slope


def estimate(records: list[dict], model: str, checkpointing: bool, dtype: str, frames: int, field: str) -> float | None:
    same = [(r["frames"], r[field]) for r in records if r["status"] == "measured" and r["model"] == model
            and r["checkpointing"] == checkpointing and r["dtype"] == dtype]
    line = fit(same)
    if line is not None:
        return line[0] + line[1] * frames
    if field != "peak_gib":
        return None
    static, per_frame = FALLBACK[model]
    measured = [r for r in records if r["status"] == "measured" and r["model"] == model]
    if measured:  # the start RSS (weights + optimizer state) is known; activations from the fallback slope
        static = max(r["start_gib"] for r in measured)
    if same:  # one point of this kind: scale its step memory with the frames
        f0, v0 = same[0]
        return v0 + per_frame[checkpointing] * (frames - f0)
    return static + 0.3 + per_frame[checkpointing] * frames


def plan(args) -> list[dict]:
    """Points in priority order: the smallest frame count off/on per model (cheap, and with the paper point it gives
    each row kind a per-frame slope), the paper point (2 × 120), bf16 at the smallest point, the other frame counts
    up to 240, then the larger ones (the most expensive; extrapolated when left out)."""
    base = {"clips": 2, "size": 224, "threads": args.threads, "limit_gib": args.limit_gib}
    points = []

    def rows(frames_list, dtype="fp32", checkpointing=(False, True)):
        for frames in frames_list:
            for model in args.models:
                for ckpt in checkpointing:
                    points.append({**base, "model": model, "frames": frames, "checkpointing": ckpt, "dtype": dtype})

    smallest = min(args.frames)
    rows([smallest])
    rows([240])
    rows([smallest], "bf16", args.bf16_checkpointing)
    rows(sorted(f for f in args.frames if f < 240))
    rows(sorted(f for f in args.frames if f > 240))
    unique, seen = [], set()
    for point in points:
        if key(point) not in seen:
            seen.add(key(point))
            unique.append(point)
    return unique


def run_all(args) -> None:
    records = load_results(args.results)
    deadline = time.monotonic() + args.budget_min * 60
    for point in plan(args):
        done = [r for r in records if key(r) == key(point)]
        if done and done[-1]["status"] == "measured":
            continue
        label = f"{point['model']} {point['frames']} frames ckpt={'on' if point['checkpointing'] else 'off'} {point['dtype']}"
        guess = estimate(records, point["model"], point["checkpointing"], point["dtype"], point["frames"], "peak_gib")
        if guess is not None and guess > args.max_gib:
            print(f"skip  {label}: estimated peak {guess:.1f} GiB > {args.max_gib} GiB", flush=True)
            continue
        seconds = estimate(records, point["model"], point["checkpointing"], "fp32", point["frames"], "seconds")
        if seconds is not None and point["dtype"] == "bf16":
            seconds *= BF16_SLOWDOWN
        available = _mem_available_gib()
        if guess is not None and guess > available - 1:
            print(f"skip  {label}: estimated peak {guess:.1f} GiB, {available:.1f} GiB available now", flush=True)
            continue
        left = deadline - time.monotonic()
        if seconds is not None and seconds * 1.3 + 60 > left:
            print(f"skip  {label}: estimated {seconds:.0f} s, {left:.0f} s of the budget left", flush=True)
            continue
        if left < 60:
            print(f"stop: time budget of {args.budget_min} min spent", flush=True)
            break
        print(f"run   {label} (estimated peak {guess:.1f} GiB, load {os.getloadavg()[0]:.1f})", flush=True)
        env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}  # large blocks go back to the system at once
        timeout = max(60, left)
        try:
            proc = subprocess.run([sys.executable, __file__, "--point", json.dumps(point)], env=env, text=True,
                                  capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            print(f"  stopped after {timeout:.0f} s (time budget)", flush=True)
            break
        if proc.returncode != 0:
            reason = "passed the memory limit" if proc.returncode == 3 else proc.stderr.strip().splitlines()[-1:]
            print(f"  failed (exit {proc.returncode}): {reason}", flush=True)
            records.append({**{k: point[k] for k in point if k != "limit_gib"}, "status": f"failed: {reason}"})
        else:
            record = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"  peak {record['peak_gib']:.2f} GiB (before the step {record['start_gib']:.2f}), "
                  f"{record['seconds']:.1f} s/step, load {record['load_1min']}", flush=True)
            records = [r for r in records if key(r) != key(record)] + [record]
        save_results(args.results, records)


def report(records: list[dict], models, frames_list) -> None:
    measured = {key(r): r for r in records if r["status"] == "measured"}

    def get(model, frames, ckpt, dtype):
        return next((r for k, r in measured.items() if k[0] == model and k[1] == frames and k[4] == ckpt
                     and k[5] == dtype), None)

    print("\nPaper point: 2 clips × 120 frames at 224 px (ratios to checkpointing off, fp32)")
    print(f"  {'model':13} {'checkpointing':>13} {'dtype':>5} {'peak GiB':>9} {'before GiB':>10} {'s/step':>7}"
          f" {'peak ratio':>10} {'time ratio':>10}")
    for model in models:
        for frames, ckpt, dtype in [(240, False, "fp32"), (240, True, "fp32")]:
            row, base = get(model, frames, ckpt, dtype), get(model, 240, False, "fp32")
            print(_row(model, ckpt, dtype, row, base, records, frames))
    small = min(frames_list)
    print(f"\nbf16 autocast vs fp32 at the smallest point (2 × {small // 2} frames)")
    for model in models:
        for ckpt in (False, True):
            row, base = get(model, small, ckpt, "bf16"), get(model, small, ckpt, "fp32")
            if row is not None:
                print(_row(model, ckpt, "bf16", row, base, records, small))
    print("\nGrowth with the frames per step (2 clips; total frames)")
    print(f"  {'model':13} {'frames':>6} {'ckpt off GiB':>12} {'s/step':>7} {'ckpt on GiB':>11} {'s/step':>7}"
          f" {'on ÷ off peak':>13}")
    for model in models:
        for frames in sorted(frames_list):
            cells = []
            for ckpt in (False, True):
                row = get(model, frames, ckpt, "fp32")
                if row is not None:
                    cells.append((row["peak_gib"], row["seconds"], ""))
                else:
                    peak = _extrapolate(records, model, ckpt, frames, "peak_gib")
                    secs = _extrapolate(records, model, ckpt, frames, "seconds")
                    cells.append((peak, secs, "*"))
            text = []
            for peak, secs, mark in cells:
                text.append(f"{_fmt(peak, mark):>12} {_fmt(secs, mark, 1):>7}" if not text else
                            f"{_fmt(peak, mark):>11} {_fmt(secs, mark, 1):>7}")
            ratio = (cells[1][0] / cells[0][0]) if cells[0][0] and cells[1][0] else None
            print(f"  {model:13} {frames:>6} {text[0]} {text[1]} {_fmt(ratio, '', 2):>13}")
        for ckpt in (False, True):
            line = _line(records, model, ckpt)
            if line:
                print(f"  {model:13} slope ckpt {'on ' if ckpt else 'off'}: {line[1] * 1024:.1f} MiB per frame, "
                      f"{line[0]:.2f} GiB at 0 frames")
    print("\n  * extrapolated from the measured points of the same row kind (least squares in frames), not measured")


def _line(records, model, ckpt):
    return fit([(r["frames"], r["peak_gib"]) for r in records if r["status"] == "measured" and r["model"] == model
                and r["checkpointing"] == ckpt and r["dtype"] == "fp32"])


def _extrapolate(records, model, ckpt, frames, field):
    line = fit([(r["frames"], r[field]) for r in records if r["status"] == "measured" and r["model"] == model
                and r["checkpointing"] == ckpt and r["dtype"] == "fp32"])
    return None if line is None else line[0] + line[1] * frames


def _fmt(value, mark="", digits=2):
    return "—" if value is None else f"{value:.{digits}f}{mark}"


def _row(model, ckpt, dtype, row, base, records, frames):
    on = "on" if ckpt else "off"
    if row is None:
        peak = _extrapolate(records, model, ckpt, frames, "peak_gib") if dtype == "fp32" else None
        secs = _extrapolate(records, model, ckpt, frames, "seconds") if dtype == "fp32" else None
        return (f"  {model:13} {on:>13} {dtype:>5} {_fmt(peak, '*'):>9} {'—':>10} {_fmt(secs, '*', 1):>7}"
                f" {'—':>10} {'—':>10}")
    ratio_p = f"{row['peak_gib'] / base['peak_gib']:.2f}" if base else "—"
    ratio_t = f"{row['seconds'] / base['seconds']:.2f}" if base else "—"
    return (f"  {model:13} {on:>13} {dtype:>5} {row['peak_gib']:9.2f} {row['start_gib']:10.2f} {row['seconds']:7.1f}"
            f" {ratio_p:>10} {ratio_t:>10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--point", help=argparse.SUPPRESS)  # internal: measure one point, print its JSON record
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--frames", type=int, nargs="+", default=[60, 120, 240, 480],
                        help="total frames per step, split over 2 clips (default 60 120 240 480)")
    parser.add_argument("--bf16-checkpointing", type=lambda s: s == "on", nargs="*", default=[False],
                        metavar="{off,on}", help="checkpointing settings of the bf16 rows (default: off)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per point (default 1)")
    parser.add_argument("--max-gib", type=float, default=11.5, help="do not run a point estimated above this")
    parser.add_argument("--limit-gib", type=float, default=12.0, help="watchdog: stop a point above this RSS")
    parser.add_argument("--budget-min", type=float, default=45.0, help="wall-time budget of the whole run")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--report", action="store_true", help="only print the tables of the results file")
    args = parser.parse_args()
    for name, value in (("--threads", args.threads), ("--budget-min", args.budget_min), ("--max-gib", args.max_gib)):
        if value <= 0:
            parser.error(f"{name} must be > 0, got {value}")
    if any(f < 2 or f % 2 for f in args.frames):
        parser.error(f"--frames must be even numbers ≥ 2 (2 clips per step), got {args.frames}")
    if args.point:
        print(json.dumps(measure_point(json.loads(args.point))), flush=True)
        return
    if not args.report:
        run_all(args)
    report(load_results(args.results), args.models, args.frames)


if __name__ == "__main__":
    main()
