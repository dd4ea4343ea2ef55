"""`make demo` / `sign-translation demo`: the main job on the built-in synthetic corpus, end to end on a CPU.

render a corpus → FLa-LLM stage 1 → stage 2 (frozen encoder, cached features) → held-out test BLEU / ROUGE-L against
a copy-the-most-frequent-sentence baseline → save `checkpoint/` → translate a few held-out videos with the saved
checkpoint through `pipeline("sign-translation")`, as a user would. `--method mmslt` runs MMSLT instead (sign
descriptions → multimodal-language pre-training → translation).
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

from . import TASK
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
    """Run the demo for `settings.method` ("fla_llm" or "mmslt") and return its summary (also written to
    `<output_dir>/demo_results.json`)."""
    import datasets
    import transformers

    from .data import make_synthetic_corpus

    if settings.method not in ("fla_llm", "mmslt"):
        raise SignInputError(f"method={settings.method!r}: expected 'fla_llm' or 'mmslt'")
    transformers.utils.logging.disable_progress_bar()  # per-stage summaries instead of a wall of progress bars
    datasets.utils.logging.disable_progress_bar()
    logging.getLogger("sign_translation.data").setLevel(logging.WARNING)
    start = time.time()
    out = Path(settings.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    title = {"fla_llm": "FLa-LLM", "mmslt": "MMSLT"}[settings.method]
    steps = 6 if settings.method == "mmslt" else 5
    _say(f"== sign-translation demo: {title} on the built-in synthetic corpus (output: {out}) ==")
    corpus_dir = out / "corpus"
    _say(f"[1/{steps}] rendering the synthetic corpus: {settings.num_train}/{settings.num_dev}/{settings.num_test} "
         f"clips, {settings.image_size} px → {corpus_dir}")
    t = time.time()
    corpus = make_synthetic_corpus(
        corpus_dir, num_train=settings.num_train, num_dev=settings.num_dev, num_test=settings.num_test,
        image_size=settings.image_size, seed=settings.seed, num_workers=settings.num_workers,
    )
    example = corpus["train"][0]
    _say(f"      done in {time.time() - t:.0f} s; e.g. signs {example['gloss']!r} → {example['text']!r}")
    common = {"data_dir": corpus_dir, "seed": settings.seed, **settings.extra_args}
    if settings.method == "fla_llm":
        first, final, stage_names = _train_fla_llm(settings, out, common, steps)
    else:
        first, final, stage_names = _train_mmslt(settings, out, corpus, common, steps)

    checkpoint = out / "checkpoint"
    _say(f"[{steps - 1}/{steps}] saving the final model and processor → {checkpoint}")
    save_checkpoint(out / stage_names[-1], checkpoint)

    _say(f"[{steps}/{steps}] translating {settings.num_examples} held-out test videos with the saved checkpoint")
    examples = translate_examples(checkpoint, corpus["test"], settings.num_examples)
    for row in examples:
        _say(f"      {Path(row['video']).name}\n        reference:  {row['reference']}\n"
             f"        hypothesis: {row['hypothesis']}")

    baseline = most_frequent_sentence_baseline(corpus["train"]["text"], corpus["test"]["text"])
    test = final["test"]
    summary = {
        "method": settings.method,
        "test_examples": len(corpus["test"]),
        "final": {k.removeprefix("test_"): v for k, v in test.items()},
        "first_stage": {k.removeprefix("test_"): v for k, v in (first.get("test") or first.get("retrieval")).items()},
        "baseline_most_frequent_sentence": baseline,
        "seconds": round(time.time() - start, 1),
        "checkpoint": str(checkpoint),
    }
    _say(f"\nHeld-out test split ({len(corpus['test'])} clips, sacrebleu {test.get('signature', '')}):")
    _say(f"  {title + ' (final)':<38} BLEU-4 {test['test_bleu4']:6.2f}   ROUGE-L {test['test_rouge_l']:6.2f}")
    if settings.method == "fla_llm":
        _say(f"  {'FLa-LLM (stage 1, Light-T)':<38} BLEU-4 {first['test']['test_bleu4']:6.2f}   "
             f"ROUGE-L {first['test']['test_rouge_l']:6.2f}")
    _say(f"  {'baseline: most frequent train sentence':<38} BLEU-4 {baseline['bleu4']:6.2f}   "
         f"ROUGE-L {baseline['rouge_l']:6.2f}   ({baseline['sentence']!r})")
    _say(f"Total time: {summary['seconds'] / 60:.1f} min. Use it: `sign-translation translate --model {checkpoint} "
         f"VIDEO`, or pipeline({TASK!r}, model={str(checkpoint)!r}) after `import sign_translation`")
    (out / "demo_results.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _train_fla_llm(settings: DemoSettings, out: Path, common: dict, steps: int):
    from .train_scripts.run_fla_llm import main as fla_llm_main

    _say(f"[2/{steps}] stage 1, visual initialising: ResNet + temporal conv + VL-adapter + Light-T, end to end")
    t = time.time()
    stage1 = run_stage(fla_llm_main, "fla_llm_synthetic_stage1.json",
                       {**common, "output_dir": out / "stage1", "max_steps": settings.stage1_steps})
    _say(f"      done in {time.time() - t:.0f} s; held-out test BLEU-4 {stage1['test']['test_bleu4']:.1f}")
    _say(f"[3/{steps}] stage 2, LLM fine-tuning: frozen stage-1 encoder (features cached once) + LLM-adapter + mBART")
    t = time.time()
    stage2 = run_stage(fla_llm_main, "fla_llm_synthetic_stage2.json",
                       {**common, "output_dir": out / "stage2", "stage1_model_name_or_path": out / "stage1",
                        "max_steps": settings.stage2_steps})
    _say(f"      done in {time.time() - t:.0f} s; held-out test BLEU-4 {stage2['test']['test_bleu4']:.1f}")
    return stage1, stage2, ("stage1", "stage2")


def synthetic_description_encoder(texts: list[str], fallback_dir: Path):
    """The description encoder for the synthetic corpus: the pretrained all-MiniLM-L6-v2 sentence encoder (mean
    pooling, 384-d) when its offline package is installed (`make test`/`make demo` install it), else a small
    randomly initialised BERT-like encoder built in `fallback_dir` (a warning says so)."""
    from .modeling.pretrained_sources import PretrainedSourceError
    from .processing import DescriptionEncoder

    try:
        return DescriptionEncoder.from_pretrained("minilm-l6")
    except PretrainedSourceError as error:
        logger.warning("%s; embedding descriptions with a small random encoder instead", error)
    from .tokenization import build_offline_text_encoder

    if not (fallback_dir / "config.json").is_file():
        build_offline_text_encoder(texts, str(fallback_dir))
    return DescriptionEncoder.from_pretrained(str(fallback_dir))


def _train_mmslt(settings: DemoSettings, out: Path, corpus, common: dict, steps: int):
    from .processing import descriptions_from_corpus, encode_descriptions
    from .train_scripts.run_mmslt import main as mmslt_main

    t = time.time()
    descriptions = descriptions_from_corpus(corpus, out / "descriptions" / "descriptions")
    texts = sorted({d for split in corpus.values() for row in split["descriptions"] for d in row})
    encoder = synthetic_description_encoder(texts, out / "descriptions" / "text_encoder")
    _say(f"[2/{steps}] sign descriptions: the corpus's per-frame descriptions (stand-in for the MLLM's), embedded "
         f"with {encoder.name_or_path} ({encoder.pooling} pooling; the paper: bert-base-cased [CLS])")
    embeddings = encode_descriptions(encoder, descriptions, out / "descriptions" / "embeddings")
    _say(f"      done in {time.time() - t:.0f} s: {len(embeddings)} videos, {len(texts)} distinct descriptions, "
         f"{embeddings.dim}-d embeddings")
    _say(f"[3/{steps}] stage 1, multimodal-language pre-training: video ↔ sentence (InfoNCE) + description mapper (MSE)")
    t = time.time()
    pretrain = run_stage(mmslt_main, "mmslt_synthetic_pretrain.json",
                         {**common, "output_dir": out / "pretrain", "description_cache": out / "descriptions" / "embeddings",
                          "max_steps": settings.stage1_steps})
    retrieval = pretrain["retrieval"]
    _say(f"      done in {time.time() - t:.0f} s; dev video→sentence R@1 {retrieval['video_to_text_r1']:.1f}% "
         f"(chance {100 / retrieval['num_examples']:.1f}%)")
    _say(f"[4/{steps}] stage 2, translation: frozen description mapper (no MLLM at inference) + mBART")
    t = time.time()
    translate = run_stage(mmslt_main, "mmslt_synthetic_translate.json",
                          {**common, "output_dir": out / "translate", "pretrained_model_name_or_path": out / "pretrain",
                           "max_steps": settings.stage2_steps})
    _say(f"      done in {time.time() - t:.0f} s; held-out test BLEU-4 {translate['test']['test_bleu4']:.1f}")
    return pretrain, translate, ("pretrain", "translate")


def save_checkpoint(source: Path, checkpoint: Path) -> None:
    """The final model + processor + pipeline code + results and model card, without Trainer state, feature caches
    or intermediate checkpoints: the folder a user would push (`sign-translation push`)."""
    from transformers import AutoModelForSeq2SeqLM

    from .hub import export_checkpoint, write_model_card
    from .processing import SignTranslationProcessor

    model = AutoModelForSeq2SeqLM.from_pretrained(source)
    processor = SignTranslationProcessor.from_pretrained(source)
    tmp = checkpoint.with_name(checkpoint.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    export_checkpoint(model, processor, tmp, write_card=False)
    for name in ("results.json", "training_args.json", "README.md"):  # the card the training script rendered
        if (source / name).is_file():
            shutil.copy(source / name, tmp / name)
    if not (tmp / "README.md").is_file():
        write_model_card(tmp, dataset_name="synthetic", language="en")
    shutil.rmtree(checkpoint, ignore_errors=True)
    os.replace(tmp, checkpoint)


def translate_examples(checkpoint: Path, dataset, count: int) -> list[dict]:
    """Translate with the saved checkpoint the way a user would: `pipeline("sign-translation", model=...)`."""
    from transformers import pipeline

    translator = pipeline(TASK, model=str(checkpoint))
    rows = dataset.select(range(min(count, len(dataset))))
    outputs = translator(list(rows["video"]), batch_size=count)
    return [{"video": v, "reference": r, "hypothesis": o["translation_text"].strip()}
            for v, r, o in zip(rows["video"], rows["text"], outputs)]


__all__ = ["DemoSettings", "most_frequent_sentence_baseline", "run_demo"]
