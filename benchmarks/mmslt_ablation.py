#!/usr/bin/env python
"""MMSLT's ablation on the synthetic corpus: with vs. without the description mapper (and its MSE), same data,
same steps, same seed; both stages each. Prints held-out BLEU-4 / ROUGE-L and dev retrieval after pre-training.

    python benchmarks/mmslt_ablation.py --corpus demo_output/corpus      # reuse make demo's corpus
    python benchmarks/mmslt_ablation.py                                  # renders 3000/100/100 clips first
    python benchmarks/mmslt_ablation.py --corpus demo_output/corpus --seeds 0 1 2   # seed-to-seed spread

The descriptions are the corpus's own per-frame descriptions embedded with a small offline text encoder (the
stand-ins for LLaVA-OneVision and bert-base-cased, which cannot be downloaded here).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=None, help="an existing synthetic corpus (default: render one)")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="one run per seed (default 0); the table "
                        "shows each seed and the mean")
    parser.add_argument("--pretrain-steps", type=int, default=None, help="default: the synthetic recipe's")
    parser.add_argument("--translate-steps", type=int, default=None, help="default: the synthetic recipe's")
    args = parser.parse_args()

    from sign_translation.data import load_sign_dataset, make_synthetic_corpus
    from sign_translation.demo import synthetic_description_encoder
    from sign_translation.processing import descriptions_from_corpus, encode_descriptions
    from sign_translation.train_scripts.run_mmslt import main as mmslt_main

    work = Path(args.workdir or tempfile.mkdtemp(prefix="mmslt_ablation_"))
    corpus_dir = Path(args.corpus) if args.corpus else work / "corpus"
    corpus = (load_sign_dataset(corpus_dir) if args.corpus
              else make_synthetic_corpus(corpus_dir, num_train=3000, num_dev=100, num_test=100, image_size=32))
    texts = sorted({d for split in corpus.values() for row in split["descriptions"] for d in row})
    descriptions = descriptions_from_corpus(corpus, work / "descriptions")
    encoder = synthetic_description_encoder(texts, work / "text_encoder")  # MiniLM when installed
    encode_descriptions(encoder, descriptions, work / "embeddings")

    recipes = REPO / "train_scripts" / "recipes"
    variants = {"MMSLT (description mapper + MSE)": True, "without description mapper": False}
    rows = {}  # (variant, seed) -> (retrieval, test)
    for seed in args.seeds:
        for variant, use_mapper in variants.items():
            tag = f"{'with' if use_mapper else 'without'}_dm_seed{seed}"
            pre_recipe = json.loads((recipes / "mmslt_synthetic_pretrain.json").read_text())
            pre_recipe["config_overrides"]["use_description_mapper"] = use_mapper
            (work / f"{tag}_pretrain.json").write_text(json.dumps(pre_recipe))
            steps = ["--max_steps", str(args.pretrain_steps)] if args.pretrain_steps else []
            pre = mmslt_main(["--recipe", str(work / f"{tag}_pretrain.json"), "--data_dir", str(corpus_dir),
                              "--description_cache", str(work / "embeddings"),
                              "--output_dir", str(work / f"{tag}_pretrain"), "--seed", str(seed), *steps])
            steps = ["--max_steps", str(args.translate_steps)] if args.translate_steps else []
            translate = mmslt_main(["--recipe", str(recipes / "mmslt_synthetic_translate.json"), "--data_dir",
                                    str(corpus_dir), "--pretrained_model_name_or_path", str(work / f"{tag}_pretrain"),
                                    "--output_dir", str(work / f"{tag}_translate"), "--seed", str(seed), *steps])
            rows[variant, seed] = (pre["retrieval"], translate["test"])

    print(f"\nMMSLT ablation on the synthetic corpus ({len(corpus['test'])} held-out test clips, "
          f"seeds {' '.join(map(str, args.seeds))}):")
    print(f"  {'variant':<36} {'seed':>5} {'BLEU-4':>7} {'ROUGE-L':>8} {'dev R@1 v→t':>12}")
    for variant in variants:
        runs = [rows[variant, seed] for seed in args.seeds]
        for seed, (retrieval, test) in zip(args.seeds, runs):
            print(f"  {variant:<36} {seed:>5} {test['test_bleu4']:7.2f} {test['test_rouge_l']:8.2f} "
                  f"{retrieval['video_to_text_r1']:11.1f}%")
        if len(runs) > 1:
            mean = {key: sum(r[i][key] for r in runs) / len(runs)
                    for i, key in ((1, "test_bleu4"), (1, "test_rouge_l"), (0, "video_to_text_r1"))}
            print(f"  {variant:<36} {'mean':>5} {mean['test_bleu4']:7.2f} {mean['test_rouge_l']:8.2f} "
                  f"{mean['video_to_text_r1']:11.1f}%")
    report = {f"{variant} (seed {seed})": {"retrieval": r, "test": t} for (variant, seed), (r, t) in rows.items()}
    (work / "ablation.json").write_text(json.dumps(report, indent=2))
    print(f"  (details: {work / 'ablation.json'})")

if __name__ == "__main__":
    main()
