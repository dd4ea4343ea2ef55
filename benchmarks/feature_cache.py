#!/usr/bin/env python
"""FLa-LLM stage 2: training from cached frozen-encoder features vs recomputing them, side by side in one run.

    python benchmarks/feature_cache.py                    # demo sizes: 32 px, small ResNet, 400 clips
    python benchmarks/feature_cache.py --paper-backbone   # ResNet-18 at 224 px (slow on a CPU; few steps)

Both runs use the same stage-1 checkpoint, data, seed and number of steps (no augmentation, so the losses are the
same — tests/test_training.py checks that); the script prints seconds per training step of each, the one-time cost
of building the cache, and the ratio.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=400, help="training clips rendered for the benchmark")
    parser.add_argument("--steps", type=int, default=50, help="training steps timed in each mode")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--paper-backbone", action="store_true", help="ResNet-18 at 224 px (the paper's input)")
    parser.add_argument("--workdir", default=None, help="keep files here (default: a temporary folder)")
    args = parser.parse_args()

    from sign_translation.data import make_synthetic_corpus
    from sign_translation.processing import SignTranslationProcessor
    from sign_translation.train_scripts import run_fla_llm
    from sign_translation.training import cache_visual_features

    work = Path(args.workdir or tempfile.mkdtemp(prefix="feature_cache_bench_"))
    size, crop = (256, 224) if args.paper_backbone else (32, 28)
    corpus = make_synthetic_corpus(work / "corpus", num_train=args.clips, num_dev=16, num_test=0, image_size=size)
    stage1_recipe = json.loads((REPO / "train_scripts/recipes/fla_llm_synthetic_stage1.json").read_text())
    if args.paper_backbone:
        stage1_recipe["config_overrides"]["vision_config"] = {"model_type": "resnet", "depths": [2, 2, 2, 2],
                                                              "hidden_sizes": [64, 128, 256, 512],
                                                              "layer_type": "basic", "embedding_size": 64}
    stage1_recipe.update(image_size=size, crop_size=crop, max_steps=1, test_split="", per_device_eval_batch_size=16)
    (work / "stage1.json").write_text(json.dumps(stage1_recipe))
    run_fla_llm.main(["--recipe", str(work / "stage1.json"), "--data_dir", str(work / "corpus"),
                      "--output_dir", str(work / "stage1"), "--eval_split", "dev", "--max_eval_samples", "2"])

    from sign_translation import FlaLlmForConditionalGeneration, FlaLlmForVisualInitialization

    stage1 = FlaLlmForVisualInitialization.from_pretrained(work / "stage1")
    processor = SignTranslationProcessor.from_pretrained(work / "stage1")
    # the frozen encoder as stage 2 holds it (the LLM plays no part in caching)
    encoder_holder = FlaLlmForConditionalGeneration.from_stage1(stage1, _tiny_llm(len(processor.tokenizer)))[0]
    start = time.perf_counter()
    cache_visual_features(encoder_holder, corpus["train"], processor.video_processor, work / "cache", "train",
                          batch_size=args.batch_size)
    cache_seconds = time.perf_counter() - start

    stage2 = json.loads((REPO / "train_scripts/recipes/fla_llm_synthetic_stage2.json").read_text())
    stage2.update(max_steps=args.steps, per_device_train_batch_size=args.batch_size, test_split="",
                  do_train=True, dataloader_num_workers=0)
    (work / "stage2.json").write_text(json.dumps(stage2))
    common = ["--recipe", str(work / "stage2.json"), "--data_dir", str(work / "corpus"),
              "--stage1_model_name_or_path", str(work / "stage1"), "--eval_split", "dev", "--max_eval_samples", "2"]
    timings = {}
    for mode, extra in (("recompute", ["--cache_visual_features", "false"]),
                        ("cached", ["--cache_visual_features", "true", "--feature_cache_dir", str(work / "cache")])):
        results = run_fla_llm.main(common + extra + ["--output_dir", str(work / mode)])
        timings[mode] = results["train"]["train_runtime"] / args.steps

    steps_per_epoch = -(-args.clips // args.batch_size)
    epoch_recompute = timings["recompute"] * steps_per_epoch
    epoch_cached = timings["cached"] * steps_per_epoch
    print(f"\nFLa-LLM stage 2, {args.clips} clips, batch {args.batch_size}, {size}->{crop} px, "
          f"{'ResNet-18' if args.paper_backbone else 'demo ResNet'}; {args.steps} steps per mode, one run:")
    print(f"  recomputing the frozen encoder: {timings['recompute'] * 1000:8.1f} ms/step   {epoch_recompute:7.1f} s/epoch")
    print(f"  from the feature cache:         {timings['cached'] * 1000:8.1f} ms/step   {epoch_cached:7.1f} s/epoch")
    print(f"  one-time cache build:           {cache_seconds:7.1f} s for {args.clips} clips")
    print(f"  speed-up per epoch: {timings['recompute'] / timings['cached']:.1f}x; the cache pays for itself after "
          f"{cache_seconds / max(epoch_recompute - epoch_cached, 1e-9):.2f} epochs")


def _tiny_llm(vocab_size: int):
    from transformers import AutoModelForSeq2SeqLM, MBartConfig

    return AutoModelForSeq2SeqLM.from_config(MBartConfig(vocab_size=vocab_size, d_model=32, encoder_layers=1,
                                                         decoder_layers=1, encoder_attention_heads=4,
                                                         decoder_attention_heads=4, encoder_ffn_dim=64,
                                                         decoder_ffn_dim=64))


if __name__ == "__main__":
    main()
