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
120 = 240 here), 24 target tokens per clip, `model.activation_checkpointing_enable()` off/on, fp32 or bf16 autocast.
A warm-up step on 2 × 4 frames first allocates the gradients and the optimizer state, so the timed step is a
steady-state step: its peak resident set size (VmHWM after resetting it through /proc/self/clear_refs) is what a
training run needs. Reported: the process's peak RSS (weights + gradients + optimizer state + activations + the
interpreter), its RSS before the step, and seconds for forward + backward + optimizer step.

Memory guard: before a point runs, its peak is estimated from the points of the same model already measured
(linear in frames) or, for the first point of a model, from parameter counts. A point whose estimate exceeds
`--max-gib` (default 11.5 GiB, under a 12 GiB per-process limit) is not run; a watchdog thread also ends a point whose
RSS passes the limit. Points not measured are extrapolated from the measured per-frame slope and printed as such.
bf16 autocast is ~8× slower on CPUs without AVX512-BF16/AMX: it is measured at one small point (`--bf16-frames`,
2 × 8 frames) beside fp32 at the same point.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from process_memory import mem_available_gib, reset_peak, status_kib

RESULTS = Path(__file__).resolve().parent / "results" / "memory_and_speed.json"
MODELS = ("fla_stage1", "fla_stage2", "mmslt_stage2")
GIB = 2**30
LABEL_TOKENS = 24
STAGE1_VOCAB = 3000
BF16_SLOWDOWN = 8.5  # measured for issue 14 on this CPU; only used to skip a bf16 point that cannot finish in time


# ----------------------------------------------------------------------------------------------- one point (child)
def _watchdog(limit_gib: float) -> None:
    """End this process (exit 3) when its resident set passes the limit: the machine is shared."""

    def watch():
        while True:
            if status_kib("VmRSS:") * 1024 > limit_gib * GIB:
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
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    bf16 = point["dtype"] == "bf16"
    clips, size = point["clips"], point["size"]

    def step(frames_per_clip: int) -> dict:
        """One training step; wall and CPU seconds, and the peak RSS of forward + backward and of the optimizer
        step apart (the peak is reset between them, outside the timed parts)."""
        generator = torch.Generator().manual_seed(frames_per_clip)
        video = torch.randn(clips, frames_per_clip, 3, size, size, generator=generator)
        mask = torch.ones(clips, frames_per_clip, dtype=torch.long)
        labels = torch.randint(3, vocab - 1, (clips, LABEL_TOKENS), generator=generator)
        start_kib = reset_peak()
        start, cpu = time.perf_counter(), time.process_time()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(pixel_values_videos=video, video_mask=mask, labels=labels).loss
        loss.backward()
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        backward_kib = status_kib("VmHWM:")
        reset_peak()
        start2, cpu2 = time.perf_counter(), time.process_time()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)  # as the Trainer does
        wall, cpu = wall + time.perf_counter() - start2, cpu + time.process_time() - cpu2
        optimizer_kib = status_kib("VmHWM:")
        return {"start_kib": start_kib, "backward_kib": backward_kib, "optimizer_kib": optimizer_kib,
                "seconds": wall, "cpu_seconds": cpu}

    step(4)  # warm-up: allocates gradients + optimizer state, loads kernels
    measured = step(point["frames"] // clips)
    start_kib, peak_kib = measured["start_kib"], max(measured["backward_kib"], measured["optimizer_kib"])
    seconds, cpu_seconds = measured["seconds"], measured["cpu_seconds"]
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {
        **{k: point[k] for k in ("model", "frames", "clips", "size", "checkpointing", "dtype", "threads")},
        "status": "measured",
        "peak_gib": round(peak_kib * 1024 / GIB, 3),
        "start_gib": round(start_kib * 1024 / GIB, 3),
        "step_gib": round((peak_kib - start_kib) * 1024 / GIB, 3),
        "forward_backward_peak_gib": round(measured["backward_kib"] * 1024 / GIB, 3),
        "optimizer_peak_gib": round(measured["optimizer_kib"] * 1024 / GIB, 3),
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
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
    phased = [r for r in measured if "optimizer_peak_gib" in r]
    if phased:  # peak = max(optimizer step: independent of the frames, forward + backward: grows with them)
        optimizer_peak = max(r["optimizer_peak_gib"] for r in phased)
        kind = [r for r in phased if r["checkpointing"] == checkpointing and r["dtype"] == dtype] or phased
        line = fit([(r["frames"], r["forward_backward_peak_gib"]) for r in kind])
        if line is not None:
            return max(optimizer_peak, line[0] + line[1] * frames)
        ref = min(kind, key=lambda r: abs(r["frames"] - frames))
        return max(optimizer_peak, ref["forward_backward_peak_gib"] + per_frame[checkpointing] * (frames - ref["frames"]))
    if measured:  # the start RSS (weights + optimizer state) is known; activations from the fallback slope
        static = max(r["start_gib"] for r in measured)
    if same:  # one point of this kind: scale its step memory with the frames
        f0, v0 = same[0]
        return v0 + per_frame[checkpointing] * (frames - f0)
    return static + 0.3 + per_frame[checkpointing] * frames


def plan(args) -> list[dict]:
    """Points in priority order: the smallest frame count off/on per model (cheap, and with the paper point it gives
    each row kind a per-frame slope), the paper point (2 × 120), bf16 and fp32 at `--bf16-frames`, the other frame
    counts up to 240, then the larger ones (the most expensive; extrapolated when left out)."""
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
    for ckpt in args.bf16_checkpointing:  # bf16 and its fp32 twin at the same small point, side by side
        rows([args.bf16_frames], "fp32", (ckpt,))
        rows([args.bf16_frames], "bf16", (ckpt,))
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
        available = mem_available_gib()
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


def report(records: list[dict], models, frames_list, bf16_frames: int) -> None:
    measured = {key(r): r for r in records if r["status"] == "measured"}

    def get(model, frames, ckpt, dtype):
        return next((r for k, r in measured.items() if k[0] == model and k[1] == frames and k[4] == ckpt
                     and k[5] == dtype), None)

    header = (f"  {'model':13} {'ckpt':>4} {'dtype':>5} {'peak GiB':>9} {'before GiB':>10} {'wall s':>7} {'CPU s':>7}"
              f" {'peak ratio':>10} {'CPU-time ratio':>14}")
    print("\nPaper point: 2 clips × 120 frames at 224 px (ratios to checkpointing off, fp32; step time as CPU seconds "
          "of the process, 1 thread, which a busy machine disturbs far less than wall time)")
    print(header)
    for model in models:
        base = get(model, 240, False, "fp32")
        for ckpt in (False, True):
            print(_row(model, ckpt, "fp32", get(model, 240, ckpt, "fp32"), base, records, 240))
    print(f"\nbf16 autocast vs fp32 at 2 × {bf16_frames // 2} frames (ratios to fp32 with the same checkpointing)")
    print(header)
    for model in models:
        for ckpt in (False, True):
            row, base = get(model, bf16_frames, ckpt, "bf16"), get(model, bf16_frames, ckpt, "fp32")
            if row is not None:
                print(_row(model, ckpt, "fp32", base, base, records, bf16_frames))
                print(_row(model, ckpt, "bf16", row, base, records, bf16_frames))
    print("\nGrowth with the frames per step (2 clips; F total frames; fp32)")
    print(f"  {'model':13} {'F':>4} {'off: peak GiB':>13} {'CPU s':>7} {'on: peak GiB':>12} {'CPU s':>7}"
          f" {'on ÷ off peak':>13} {'on ÷ off CPU':>12}")
    for model in models:
        for frames in sorted(frames_list):
            cells = []
            for ckpt in (False, True):
                row = get(model, frames, ckpt, "fp32")
                if row is not None:
                    cells.append((row["peak_gib"], row.get("cpu_seconds"), ""))
                else:
                    cells.append((_extrapolate(records, model, ckpt, frames, "peak_gib"),
                                  _extrapolate(records, model, ckpt, frames, "cpu_seconds"), "*"))
            (p0, c0, m0), (p1, c1, m1) = cells
            ratio_p = p1 / p0 if p0 and p1 else None
            ratio_c = c1 / c0 if c0 and c1 else None
            print(f"  {model:13} {frames:>4} {_fmt(p0, m0):>13} {_fmt(c0, m0, 0):>7} {_fmt(p1, m1):>12}"
                  f" {_fmt(c1, m1, 0):>7} {_fmt(ratio_p, '', 2):>13} {_fmt(ratio_c, '', 2):>12}")
        for ckpt in (False, True):
            line = _line(records, model, ckpt)
            if line:
                print(f"  {model:13} ckpt {'on ' if ckpt else 'off'}: peak grows {line[1] * 1024:.1f} MiB per frame "
                      f"(least squares over the measured points)")
    print("\n  * extrapolated (least squares in frames over the measured points of the same kind), not measured;"
          " — : not measured and not enough points to extrapolate")


def _line(records, model, ckpt):
    return fit([(r["frames"], r["peak_gib"]) for r in records if r["status"] == "measured" and r["model"] == model
                and r["checkpointing"] == ckpt and r["dtype"] == "fp32"])


def _extrapolate(records, model, ckpt, frames, field):
    line = fit([(r["frames"], r[field]) for r in records if r["status"] == "measured" and r["model"] == model
                and r["checkpointing"] == ckpt and r["dtype"] == "fp32" and r.get(field) is not None])
    return None if line is None else line[0] + line[1] * frames


def _fmt(value, mark="", digits=2):
    return "—" if value is None else f"{value:.{digits}f}{mark}"


def _row(model, ckpt, dtype, row, base, records, frames):
    on = "on" if ckpt else "off"
    if row is None:
        peak = _extrapolate(records, model, ckpt, frames, "peak_gib") if dtype == "fp32" else None
        cpu = _extrapolate(records, model, ckpt, frames, "cpu_seconds") if dtype == "fp32" else None
        return (f"  {model:13} {on:>4} {dtype:>5} {_fmt(peak, '*'):>9} {'—':>10} {'—':>7} {_fmt(cpu, '*', 1):>7}"
                f" {'—':>10} {'—':>14}")
    ratio_p = f"{row['peak_gib'] / base['peak_gib']:.2f}" if base else "—"
    ratio_t = (f"{row['cpu_seconds'] / base['cpu_seconds']:.2f}" if base and row.get("cpu_seconds")
               and base.get("cpu_seconds") else "—")
    return (f"  {model:13} {on:>4} {dtype:>5} {row['peak_gib']:9.2f} {row['start_gib']:10.2f} {row['seconds']:7.1f}"
            f" {_fmt(row.get('cpu_seconds'), '', 1):>7} {ratio_p:>10} {ratio_t:>14}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--point", help=argparse.SUPPRESS)  # internal: measure one point, print its JSON record
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--frames", type=int, nargs="+", default=[60, 120, 240, 480],
                        help="total frames per step, split over 2 clips (default 60 120 240 480)")
    parser.add_argument("--bf16-checkpointing", type=lambda s: s == "on", nargs="*", default=[False],
                        metavar="{off,on}", help="checkpointing settings of the bf16 rows (default: off)")
    parser.add_argument("--bf16-frames", type=int, default=16,
                        help="total frames of the bf16 rows and their fp32 twins (default 16: bf16 is ~8x slower)")
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
    if any(f < 2 or f % 2 for f in [*args.frames, args.bf16_frames]):
        parser.error(f"--frames and --bf16-frames must be even numbers ≥ 2 (2 clips per step), got "
                     f"{args.frames} and {args.bf16_frames}")
    if args.point:
        print(json.dumps(measure_point(json.loads(args.point))), flush=True)
        return
    if not args.report:
        run_all(args)
    report(load_results(args.results), args.models, args.frames, args.bf16_frames)


if __name__ == "__main__":
    main()
