#!/usr/bin/env python
"""Training samples/s and the share of each step spent waiting for data, with `dataloader_num_workers` 0 and 1,
side by side in one run (each setting a fresh process running the real training script with the real recipe).

    python benchmarks/training_throughput.py                      # demo recipe (FLa-LLM stage 1, synthetic corpus)
    python benchmarks/training_throughput.py --steps 60 --workers 0 1 2 --repeats 2
    python benchmarks/training_throughput.py --paper-shaped       # + FLa-LLM stage 1 at paper shapes, 224 px

The demo rows train `train_scripts/run_fla_llm.py --recipe fla_llm_synthetic_stage1.json` (what `make demo` runs
first) on a freshly rendered synthetic corpus (`--num-train` clips, 32 px, as the demo). `--paper-shaped` adds the
same script with the default `FlaLlmConfig` (ResNet-18 + Light-T 3+3 d 512, random ResNet weights, no download) on
the same clips rendered at 256 px and cropped to 224 px, batch 2, SGD.

"data wait" is the time the training loop spends inside the DataLoader iterator's `__next__` (decoding and
preprocessing with 0 workers, waiting on the worker's queue with 1+), summed over the steps; "share" is that time
over the training loop's wall time (`train_runtime`). samples/s is the Trainer's `train_samples_per_second`. The
first `--skip` steps (start-up, first worker fork) are left out of both by timing only from the step the callback
marks; see `StepClock`.
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "train_scripts" / "run_fla_llm.py"
RECIPE = ROOT / "train_scripts" / "recipes" / "fla_llm_synthetic_stage1.json"


def child(spec: dict) -> dict:
    """Run the training script in this process with the DataLoader iterator timed; return the numbers."""
    import torch
    import transformers
    from torch.utils.data import dataloader

    torch.set_num_threads(spec["threads"])
    clock = {"data": 0.0, "batches": 0, "first_step_start": None, "data_after": 0.0, "batches_after": 0}
    original = dataloader._BaseDataLoaderIter.__next__

    def timed_next(self):
        start = time.perf_counter()
        try:
            return original(self)
        finally:
            spent = time.perf_counter() - start
            clock["data"] += spent
            clock["batches"] += 1
            if clock["first_step_start"] is not None:
                clock["data_after"] += spent
                clock["batches_after"] += 1

    dataloader._BaseDataLoaderIter.__next__ = timed_next

    class StepClock(transformers.TrainerCallback):
        """Marks the end of the `skip`-th step: everything after it is the steady state."""

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == spec["skip"]:
                clock["first_step_start"] = time.perf_counter()
                clock["data_after"], clock["batches_after"] = 0.0, 0
            if state.global_step == spec["steps"]:
                clock["end"] = time.perf_counter()

    out = Path(spec["output_dir"])
    argv = ["--recipe", str(RECIPE), "--data_dir", spec["data_dir"], "--output_dir", str(out),
            "--max_steps", str(spec["steps"]), "--dataloader_num_workers", str(spec["workers"]),
            "--save_strategy", "no", "--report_to", "none", "--logging_steps", "1000", *spec.get("extra", [])]
    script = runpy.run_path(str(SCRIPT), run_name="training_throughput_child")  # the script's main(argv, callbacks)
    start = time.perf_counter()
    results = script["main"](argv, callbacks=[StepClock()])
    wall = time.perf_counter() - start
    train = results.get("train", results)
    steady = clock["end"] - clock["first_step_start"]
    samples = (spec["steps"] - spec["skip"]) * spec["batch_size"]
    return {
        "workers": spec["workers"],
        "train_samples_per_second": _find(train, "train_samples_per_second"),
        "train_runtime": _find(train, "train_runtime"),
        "steady_seconds": round(steady, 3),
        "steady_samples_per_second": round(samples / steady, 3),
        "data_wait_seconds": round(clock["data_after"], 3),
        "data_share": round(clock["data_after"] / steady, 4),
        "batches_timed": clock["batches_after"],
        "process_wall_seconds": round(wall, 1),
    }


def _find(tree, name):
    if isinstance(tree, dict):
        if name in tree:
            return tree[name]
        for value in tree.values():
            found = _find(value, name)
            if found is not None:
                return found
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=40, help="training steps per run (default 40)")
    parser.add_argument("--skip", type=int, default=5, help="start-up steps left out of the timing (default 5)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--repeats", type=int, default=1, help="runs per setting, interleaved (median)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the training process (default 1)")
    parser.add_argument("--num-train", type=int, default=300, help="synthetic training clips (default 300)")
    parser.add_argument("--paper-shaped", action="store_true", help="also the paper-shaped stage 1 at 224 px")
    parser.add_argument("--paper-steps", type=int, default=6, help="steps of the paper-shaped runs (default 6)")
    parser.add_argument("--paper-num-train", type=int, default=24, help="clips rendered at 256 px (default 24)")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))), flush=True)
        return
    if not 0 <= args.skip < args.steps:
        parser.error(f"--skip must be in [0, --steps), got {args.skip} with --steps {args.steps}")
    if any(w < 0 for w in args.workers):
        parser.error(f"--workers must be ≥ 0, got {args.workers}")

    from sign_translation.data import make_synthetic_corpus

    work = Path(tempfile.mkdtemp(prefix="training_throughput_"))
    print(f"load {os.getloadavg()[0]:.1f}; torch threads {args.threads}; work folder {work}", flush=True)
    recipe = json.loads(RECIPE.read_text())
    blocks = [("demo recipe (FLa-LLM stage 1, synthetic 32 px → 28 px crops, batch "
               f"{recipe['per_device_train_batch_size']})", 32, [], recipe["per_device_train_batch_size"], args.steps,
               args.skip, args.num_train)]
    if args.paper_shaped:
        paper = ["--config_overrides", "{}", "--image_size", "256", "--crop_size", "224",
                 "--per_device_train_batch_size", "2", "--optim", "sgd", "--optim_args", "momentum=0.9",
                 "--learning_rate", "0.01", "--train_tokenizer_vocab_size", "200"]
        blocks.append(("paper-shaped FLa-LLM stage 1 (ResNet-18 + Light-T d 512, 256 → 224 px, batch 2, SGD)", 256,
                       paper, 2, args.paper_steps, 1, args.paper_num_train))
    for title, size, extra, batch, steps, skip, num_train in blocks:
        data_dir = work / f"corpus_{size}"
        if not data_dir.exists():
            start = time.perf_counter()
            make_synthetic_corpus(data_dir, num_train=num_train, num_dev=4, num_test=4, image_size=size, seed=0)
            print(f"rendered {num_train} clips at {size} px in {time.perf_counter() - start:.0f} s", flush=True)
        runs = {w: [] for w in args.workers}
        for repeat in range(args.repeats):
            for workers in args.workers:  # interleaved, so load changes hit every setting alike
                spec = {"workers": workers, "threads": args.threads, "steps": steps, "skip": skip, "batch_size": batch,
                        "data_dir": str(data_dir), "output_dir": str(work / f"run_{size}_{workers}_{repeat}"),
                        "extra": extra}
                env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "HF_HUB_OFFLINE": "1"}
                proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], env=env, text=True,
                                      capture_output=True)
                if proc.returncode != 0:
                    sys.stderr.write(proc.stderr[-3000:])
                    raise SystemExit(f"training run (workers {workers}) failed with exit status {proc.returncode}")
                runs[workers].append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(f"\n{title}; {steps - skip} timed steps after {skip} start-up steps, medians of {args.repeats} run(s)")
        print(f"  {'workers':>7} {'samples/s':>10} {'ratio':>6} {'data wait s':>11} {'data share':>10}"
              f" {'Trainer samples/s':>17}")
        base = None
        for workers, values in runs.items():
            rate = statistics.median(v["steady_samples_per_second"] for v in values)
            wait = statistics.median(v["data_wait_seconds"] for v in values)
            share = statistics.median(v["data_share"] for v in values)
            trainer = statistics.median(v["train_samples_per_second"] or 0 for v in values)
            base = base or rate
            print(f"  {workers:>7} {rate:10.3g} {rate / base:5.2f}x {wait:11.2f} {share:9.0%} {trainer:17.3g}")
    print(f"\nload {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
