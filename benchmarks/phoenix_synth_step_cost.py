#!/usr/bin/env python
"""What one training step of the PHOENIX-synth stage-1 recipe costs relative to the demo recipe's.

On a shared machine absolute step times mean little; the ratio of two models timed interleaved under the same load
does. The demo recipe's unloaded speed is known (`make demo`: 1,800 stage-1 steps in 5.5 min on 2 cores, i.e. at
most 0.18 s/step), so ratio x 0.18 s estimates the PHOENIX-synth step on 2 dedicated cores.

    python benchmarks/phoenix_synth_step_cost.py --corpus benchmarks/output/phoenix_synth_corpus
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO_SECONDS_PER_STEP = 5.5 * 60 / 1800  # README: make demo's stage 1, unloaded 2-core CPU (an upper bound)


def _setup(recipe_path: Path, dataset, vocab_size: int, batches):
    import torch

    from sign_translation.processing import SignTranslationCollator
    from sign_translation.train_scripts.run_fla_llm import FlaLlmArguments, build_stage1
    from sign_translation.training import DataArguments

    recipe = json.loads(recipe_path.read_text())
    args = FlaLlmArguments(stage="pretrain", train_tokenizer_vocab_size=vocab_size,
                           config_overrides=json.dumps(recipe["config_overrides"]))
    data = DataArguments(dataset="folder", data_dir=".", image_size=recipe["image_size"], crop_size=recipe["crop_size"],
                         frame_stride=recipe["frame_stride"], augment=False)
    model, processor, _ = build_stage1(args, data, dataset["train"]["text"])
    collator = SignTranslationCollator(processor, augment=False)
    return model, torch.optim.AdamW(model.parameters(), 1e-3), [collator(rows) for rows in batches]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=REPO / "benchmarks/output/phoenix_synth_corpus")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from sign_translation.data import load_sign_dataset, make_synthetic_corpus

    recipes = REPO / "train_scripts" / "recipes"
    toy = make_synthetic_corpus(tempfile.mkdtemp(), num_train=64, num_dev=0, num_test=0, image_size=32)
    phoenix = load_sign_dataset(args.corpus)
    rng = random.Random(0)
    phoenix_rows = [[phoenix["train"][i] for i in rng.sample(range(len(phoenix["train"])), 16)] for _ in range(4)]
    toy_rows = [[toy["train"][i] for i in range(k * 16, k * 16 + 16)] for k in range(4)]
    setups = {
        "demo": _setup(recipes / "fla_llm_synthetic_stage1.json", toy, 200, toy_rows),
        "phoenix_synth": _setup(recipes / "phoenix_synth_fla_stage1.json", phoenix, 2000, phoenix_rows),
    }
    times: dict[str, list[float]] = {name: [] for name in setups}
    for _ in range(args.rounds):
        for name, (model, optimizer, batches) in setups.items():
            for batch in batches:
                start = time.perf_counter()
                model(**batch).loss.backward()
                optimizer.step()
                optimizer.zero_grad()
                times[name].append(time.perf_counter() - start)
    ratio = sum(times["phoenix_synth"]) / sum(times["demo"])
    for name, values in times.items():
        print(f"{name:>14}: {sum(values) / len(values):6.2f} s/step here (batch 16, {len(values)} steps)")
    print(f"ratio {ratio:.2f}: PHOENIX-synth stage 1 ~{ratio * DEMO_SECONDS_PER_STEP:.2f} s/step on 2 dedicated cores")


if __name__ == "__main__":
    main()
