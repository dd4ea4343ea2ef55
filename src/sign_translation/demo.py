"""`make demo` / `sign-translation demo`: the main job on the built-in synthetic corpus, end to end on a CPU.

render a corpus → FLa-LLM stage 1 → stage 2 (frozen encoder, cached features) → held-out test BLEU / ROUGE-L against
a copy-the-most-frequent-sentence baseline → save `checkpoint/` → translate a few held-out videos with the saved
checkpoint, loaded back with `from_pretrained` as a user would.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from .processing.errors import SignInputError

logger = logging.getLogger(__name__)

RECIPES = Path(__file__).resolve().parent / "train_scripts" / "recipes"


@dataclass
class DemoSettings:
    output_dir: str = "demo_output"
    method: str = "fla_llm"
    num_train: int = 3000
    num_dev: int = 100
    num_test: int = 100
    image_size: int = 32
    seed: int = 0
    stage1_steps: int | None = None  # None: the recipe's
    stage2_steps: int | None = None
    num_workers: int = 2
    num_examples: int = 5
    extra_args: dict = field(default_factory=dict)


def _recipe(name: str) -> Path:
    path = RECIPES / name
    if not path.is_file():  # editable installs map train_scripts/ into the package; this is the fallback
        path = Path(__file__).resolve().parents[2] / "train_scripts" / "recipes" / name
    return path


def _say(message: str) -> None:
    print(message, flush=True)


def most_frequent_sentence_baseline(train_texts: list[str], references: list[str]) -> dict:
    """BLEU/ROUGE-L of answering every clip with the most frequent training sentence."""
    from .metrics import translation_metrics

    sentence, _ = collections.Counter(train_texts).most_common(1)[0]
    return {"sentence": sentence, **translation_metrics([sentence] * len(references), references)}


def run_stage(script_main, recipe: str, args: dict) -> dict:
    argv = ["--recipe", str(_recipe(recipe))]
    for key, value in args.items():
        if value is not None:
            argv += [f"--{key}", str(value)]
    return script_main(argv)


def run_demo(settings: DemoSettings) -> dict:
    from .data import make_synthetic_corpus

    if settings.method != "fla_llm":
        raise SignInputError(f"method={settings.method!r}: expected 'fla_llm'")
    from .train_scripts.run_fla_llm import main as fla_llm_main

    import datasets
    import transformers

    transformers.utils.logging.disable_progress_bar()  # per-stage summaries instead of a wall of progress bars
    datasets.utils.logging.disable_progress_bar()
    logging.getLogger("sign_translation.data").setLevel(logging.WARNING)
    start = time.time()
    out = Path(settings.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    _say(f"== sign-translation demo: FLa-LLM on the built-in synthetic corpus (output: {out}) ==")
    corpus_dir = out / "corpus"
    _say(f"[1/5] rendering the synthetic corpus: {settings.num_train}/{settings.num_dev}/{settings.num_test} clips, "
         f"{settings.image_size} px → {corpus_dir}")
    t = time.time()
    corpus = make_synthetic_corpus(
        corpus_dir, num_train=settings.num_train, num_dev=settings.num_dev, num_test=settings.num_test,
        image_size=settings.image_size, seed=settings.seed, num_workers=settings.num_workers,
    )
    example = corpus["train"][0]
    _say(f"      done in {time.time() - t:.0f} s; e.g. signs {example['gloss']!r} → {example['text']!r}")

    common = {"data_dir": corpus_dir, "seed": settings.seed, **settings.extra_args}
    _say("[2/5] stage 1, visual initialising: ResNet + temporal conv + VL-adapter + Light-T, trained end to end")
    t = time.time()
    stage1 = run_stage(fla_llm_main, "fla_llm_synthetic_stage1.json",
                       {**common, "output_dir": out / "stage1", "max_steps": settings.stage1_steps})
    _say(f"      done in {time.time() - t:.0f} s; held-out test BLEU-4 {stage1['test']['test_bleu4']:.1f}")

    _say("[3/5] stage 2, LLM fine-tuning: frozen stage-1 encoder (features cached once) + LLM-adapter + mBART")
    t = time.time()
    stage2 = run_stage(fla_llm_main, "fla_llm_synthetic_stage2.json",
                       {**common, "output_dir": out / "stage2", "stage1_model_name_or_path": out / "stage1",
                        "max_steps": settings.stage2_steps})
    _say(f"      done in {time.time() - t:.0f} s; held-out test BLEU-4 {stage2['test']['test_bleu4']:.1f}")

    checkpoint = out / "checkpoint"
    _say(f"[4/5] saving the final model and processor → {checkpoint}")
    save_checkpoint(out / "stage2", checkpoint)

    _say(f"[5/5] translating {settings.num_examples} held-out test videos with the saved checkpoint")
    examples = translate_examples(checkpoint, corpus["test"], settings.num_examples)
    for row in examples:
        _say(f"      {Path(row['video']).name}\n        reference:  {row['reference']}\n"
             f"        hypothesis: {row['hypothesis']}")

    baseline = most_frequent_sentence_baseline(corpus["train"]["text"], corpus["test"]["text"])
    test = stage2["test"]
    summary = {
        "test_examples": len(corpus["test"]),
        "fla_llm_stage1": {k.removeprefix("test_"): v for k, v in stage1["test"].items()},
        "fla_llm_stage2": {k.removeprefix("test_"): v for k, v in test.items()},
        "baseline_most_frequent_sentence": baseline,
        "seconds": round(time.time() - start, 1),
        "checkpoint": str(checkpoint),
    }
    _say(f"\nHeld-out test split ({len(corpus['test'])} clips, sacrebleu {test.get('signature', '')}):")
    _say(f"  FLa-LLM (stage 2)                     BLEU-4 {test['test_bleu4']:6.2f}   ROUGE-L {test['test_rouge_l']:6.2f}")
    _say(f"  FLa-LLM (stage 1, Light-T)            BLEU-4 {stage1['test']['test_bleu4']:6.2f}   "
         f"ROUGE-L {stage1['test']['test_rouge_l']:6.2f}")
    _say(f"  baseline: most frequent train sentence BLEU-4 {baseline['bleu4']:6.2f}   ROUGE-L {baseline['rouge_l']:6.2f}"
         f"   ({baseline['sentence']!r})")
    _say(f"Total time: {summary['seconds'] / 60:.1f} min. Load it: "
         f"FlaLlmForConditionalGeneration.from_pretrained({str(checkpoint)!r})")
    (out / "demo_results.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def save_checkpoint(source: Path, checkpoint: Path) -> None:
    """The final model + processor (+ results), without Trainer state, feature caches or intermediate checkpoints."""
    from transformers import AutoModelForSeq2SeqLM

    from .processing import SignTranslationProcessor

    model = AutoModelForSeq2SeqLM.from_pretrained(source)
    processor = SignTranslationProcessor.from_pretrained(source)
    tmp = checkpoint.with_name(checkpoint.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    processor.save_pretrained(tmp)
    for name in ("results.json", "training_args.json"):
        if (source / name).is_file():
            shutil.copy(source / name, tmp / name)
    shutil.rmtree(checkpoint, ignore_errors=True)
    os.replace(tmp, checkpoint)


def translate_examples(checkpoint: Path, dataset, count: int) -> list[dict]:
    import torch
    from transformers import AutoModelForSeq2SeqLM

    from .processing import SignTranslationProcessor

    model = AutoModelForSeq2SeqLM.from_pretrained(checkpoint).eval()
    processor = SignTranslationProcessor.from_pretrained(checkpoint)
    rows = dataset.select(range(min(count, len(dataset))))
    batch = processor(videos=rows["video"])
    with torch.no_grad():
        ids = model.generate(**batch)
    hypotheses = processor.batch_decode(ids, skip_special_tokens=True)
    return [{"video": v, "reference": r, "hypothesis": h.strip()} for v, r, h in zip(rows["video"], rows["text"], hypotheses)]


__all__ = ["DemoSettings", "most_frequent_sentence_baseline", "run_demo"]
