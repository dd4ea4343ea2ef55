"""`make demo` / `sign-translation demo`: the main job on the built-in synthetic corpus, end to end on a CPU.

render a corpus → every stage of the method (FLa-LLM: visual initialising → LLM fine-tuning on the frozen encoder)
→ held-out test BLEU / ROUGE-L against a copy-the-most-frequent-sentence baseline → save `checkpoint/` → translate a
few held-out videos with the saved checkpoint through `pipeline("sign-translation")`, as a user would.
`--method mmslt` runs MMSLT instead (sign descriptions → multimodal-language pre-training → translation).

Nothing here is specific to a method: the stages, their recipes (`<method>_synthetic_<stage>.json`) and the training
script come from the method's config class (`sign_translation.methods`). Each stage runs the method's training
script in a child process with its recipe — exactly the command the README shows —, so the library never imports
the scripts. A stage that needs the frame-description embeddings (`needs: description_cache`) gets them from the
corpus's own per-frame descriptions.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import TASK
from .methods import MethodSpec, available_methods, require_method
from .recipes import recipe_path, script_path

logger = logging.getLogger(__name__)

DEMO_DATASET = "synthetic"  # recipes: <method>_synthetic_<stage>.json


@dataclass
class DemoSettings:
    output_dir: str = "demo_output"
    method: str = "fla_llm"  # a model type of `sign_translation.methods.available_methods()`
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


def _say(message: str) -> None:
    print(message, flush=True)


def most_frequent_sentence_baseline(train_texts: list[str], references: list[str]) -> dict:
    """BLEU/ROUGE-L of answering every clip with the most frequent training sentence."""
    from .metrics import translation_metrics

    sentence, _ = collections.Counter(train_texts).most_common(1)[0]
    return {"sentence": sentence, **translation_metrics([sentence] * len(references), references)}


def run_stage(method: MethodSpec, stage: str, args: dict) -> dict:
    """Run one stage with the method's training script and its synthetic recipe in a child process (the command a
    user types); return the run's `results.json`. `args` are extra flags (None values are left out)."""
    argv = ["--recipe", str(recipe_path(method.recipe(stage, DEMO_DATASET)))]
    for key, value in args.items():
        if value is not None:
            argv += [f"--{key}", json.dumps(value) if isinstance(value, (dict, list)) else str(value)]
    import torch

    # the child uses the thread count this process was given (`--threads`), not every core
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}
    command = [sys.executable, str(script_path(method.training_script)), *argv]
    done = subprocess.run(command, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"stage {stage!r} of {method.name} failed (exit status {done.returncode}): "
                           f"{' '.join(command)}")
    return json.loads((Path(args["output_dir"]) / "results.json").read_text(encoding="utf-8"))


def run_demo(settings: DemoSettings) -> dict:
    """Run the demo for `settings.method` (a model type: "fla_llm" or "mmslt") and return its summary (also written
    to `<output_dir>/demo_results.json`)."""
    import datasets
    import transformers

    from .data import make_synthetic_corpus

    method = require_method(settings.method)
    transformers.utils.logging.disable_progress_bar()  # per-stage summaries instead of a wall of progress bars
    datasets.utils.logging.disable_progress_bar()
    logging.getLogger("sign_translation.data").setLevel(logging.WARNING)
    start = time.time()
    out = Path(settings.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    title = method.name
    needs_descriptions = any("description_cache" in stage.get("needs", ()) for stage in method.stages)
    steps = len(method.stages) + 3 + int(needs_descriptions)
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
    step = 2
    if needs_descriptions:
        common["description_cache"] = _describe_corpus(corpus, out, f"[{step}/{steps}]")
        step += 1
    results: dict[str, dict] = {}
    previous = None
    stage_steps = (settings.stage1_steps, settings.stage2_steps)
    for number, stage in enumerate(method.stages):
        name = stage["name"]
        args = {**common, "output_dir": out / name,
                "max_steps": stage_steps[number] if number < len(stage_steps) else None}
        if "description_cache" not in stage.get("needs", ()):
            args.pop("description_cache", None)
        if previous is not None and stage.get("from_previous"):
            args[stage["from_previous"]] = out / previous
        _say(f"[{step}/{steps}] stage {number + 1}, {stage['paper_name']}: {stage['summary']}")
        t = time.time()
        results[name] = run_stage(method, name, args)
        _say(f"      done in {time.time() - t:.0f} s; {_stage_score(results[name])}")
        previous, step = name, step + 1
    first, final = results[method.stage_names[0]], results[method.stage_names[-1]]

    checkpoint = out / "checkpoint"
    _say(f"[{steps - 1}/{steps}] saving the final model and processor → {checkpoint}")
    save_checkpoint(out / method.stage_names[-1], checkpoint)

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
    for stage in method.stages[:-1]:  # earlier stages that translate on their own (FLa-LLM's Light-T)
        earlier = results[stage["name"]].get("test")
        if earlier and "test_bleu4" in earlier:
            label = f"{title} (stage {method.stage_number(stage['name'])}, {stage['paper_name']})"
            _say(f"  {label:<38} BLEU-4 {earlier['test_bleu4']:6.2f}   ROUGE-L {earlier['test_rouge_l']:6.2f}")
    _say(f"  {'baseline: most frequent train sentence':<38} BLEU-4 {baseline['bleu4']:6.2f}   "
         f"ROUGE-L {baseline['rouge_l']:6.2f}   ({baseline['sentence']!r})")
    _say(f"Total time: {summary['seconds'] / 60:.1f} min. Use it: `sign-translation translate --model {checkpoint} "
         f"VIDEO`, or pipeline({TASK!r}, model={str(checkpoint)!r}) after `import sign_translation`")
    (out / "demo_results.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _stage_score(results: dict) -> str:
    """One line on a finished stage: held-out BLEU-4 for a stage that translates, retrieval for an alignment one."""
    if "test" in results and "test_bleu4" in results["test"]:
        return f"held-out test BLEU-4 {results['test']['test_bleu4']:.1f}"
    retrieval = results.get("retrieval")
    if retrieval:
        return (f"dev video→sentence R@1 {retrieval['video_to_text_r1']:.1f}% "
                f"(chance {100 / retrieval['num_examples']:.1f}%)")
    return "no held-out scores"


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


def _describe_corpus(corpus, out: Path, step: str) -> Path:
    """The frame-description embeddings the stages that need them read (MMSLT's steps A and B): the corpus's own
    per-frame descriptions, embedded with `synthetic_description_encoder`."""
    from .processing import descriptions_from_corpus, encode_descriptions

    t = time.time()
    descriptions = descriptions_from_corpus(corpus, out / "descriptions" / "descriptions")
    texts = sorted({d for split in corpus.values() for row in split["descriptions"] for d in row})
    encoder = synthetic_description_encoder(texts, out / "descriptions" / "text_encoder")
    _say(f"{step} sign descriptions: the corpus's per-frame descriptions (stand-in for the MLLM's), embedded "
         f"with {encoder.name_or_path} ({encoder.pooling} pooling; the paper: bert-base-cased [CLS])")
    embeddings = encode_descriptions(encoder, descriptions, out / "descriptions" / "embeddings")
    _say(f"      done in {time.time() - t:.0f} s: {len(embeddings)} videos, {len(texts)} distinct descriptions, "
         f"{embeddings.dim}-d embeddings")
    return out / "descriptions" / "embeddings"


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


__all__ = ["DemoSettings", "available_methods", "most_frequent_sentence_baseline", "run_demo"]
