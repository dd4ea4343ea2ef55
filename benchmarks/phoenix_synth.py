#!/usr/bin/env python
"""PHOENIX-synth: the FLa-LLM and MMSLT claims measured on all 8,257 PHOENIX14T pairs, signed synthetically.

One variant per call; each appends one record to `benchmarks/results/phoenix_synth.json` (test BLEU-1..4 and ROUGE-L
with the sacrebleu signature, dev BLEU-4, training wall time, trainable/total parameters, the settings and the dev
BLEU-4 learning curve). Trainer variants checkpoint under `--workdir` and resume from their last checkpoint when
called again; the checkpoint with the best dev BLEU-4 is the one evaluated on test (chosen on dev, never on test).

    sign-translation synth benchmarks/output/phoenix_synth_corpus \
        --phoenix14t ../shared/data/annotations/phoenix14t --num-workers 2          # the corpus (< 10 min)
    python benchmarks/phoenix_synth.py --variant a                                   # most frequent sentence
    python benchmarks/phoenix_synth.py --variant c                                   # FLa-LLM stage 1 (Light-T)
    python benchmarks/phoenix_synth.py --variant c --llm PATH                        # ... with the LLM's tokenizer
    python benchmarks/phoenix_synth.py --variant d --llm PATH                        # stage 2, pretrained LLM
    python benchmarks/phoenix_synth.py --variant e --llm PATH                        # stage 2, same LLM random init
    python benchmarks/phoenix_synth.py --variant b --llm PATH                        # text only: glosses -> German
    python benchmarks/phoenix_synth.py --variant f --description-encoder PATH --seed 1   # MMSLT (+ mapper)
    python benchmarks/phoenix_synth.py --variant g --description-encoder PATH --seed 1   # MMSLT without mapper
    python benchmarks/phoenix_synth.py --table                                       # all results side by side
    python benchmarks/phoenix_synth.py --curves                                      # dev BLEU-4 vs training time

Variants (the settings live in train_scripts/recipes/phoenix_synth_*.json):
  a most_frequent      every clip gets the most frequent training sentence (no training)
  b text_llm           glosses -> German with the pretrained causal LLM (`--llm`), the ceiling of a perfect recogniser
  c fla_stage1         FLa-LLM stage 1: visual encoder + Light-T from scratch
  d fla_stage2         FLa-LLM stage 2: frozen stage-1 encoder (cached features) + adapter + pretrained LLM (`--llm`)
  e fla_stage2_random  d with the same LLM architecture randomly initialised
  f mmslt              MMSLT with description embeddings (`--description-encoder`) and the description mapper
  g mmslt_no_mapper    the same MMSLT without the mapper

`--llm PATH` is a causal LM with its tokenizer: a transformers folder, a GGUF file or an offline model name such as `gemma-3-270m`. Stage 2 needs a stage-1 checkpoint
trained with that LLM's tokenizer (FLa-LLM: Light-T uses the stage-2 LLM's tokenizer, trimmed to the training text),
so run `--variant c --llm PATH` first; d and e find it by the LLM folder's name (or pass `--stage1 DIR`).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import math
import os
import platform
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "train_scripts" / "recipes"
DEFAULT_RESULTS = REPO / "benchmarks" / "results" / "phoenix_synth.json"
DEFAULT_CORPUS = REPO / "benchmarks" / "output" / "phoenix_synth_corpus"
DEFAULT_WORKDIR = REPO / "benchmarks" / "output" / "phoenix_synth"
# f/g with --llm: the translation stage's recipe (the LLM as the whole translator on MMLP's visual front end)
LLM_TRANSLATE_RECIPE = "phoenix_synth_mmslt_translate_llm.json"
CURVE_FILE = "dev_curve.json"

logger = logging.getLogger("phoenix_synth")


@dataclass(frozen=True)
class Variant:
    key: str
    name: str
    label: str
    recipes: tuple[str, ...] = ()
    needs_llm: bool = False
    curve: bool = True


VARIANTS = {
    v.name: v
    for v in (
        Variant("a", "most_frequent", "most frequent train sentence", curve=False),
        Variant("b", "text_llm", "text only: glosses -> German, pretrained LLM", ("phoenix_synth_text_llm.json",),
                needs_llm=True),
        Variant("c", "fla_stage1", "FLa-LLM stage 1 (Light-T from scratch)", ("phoenix_synth_fla_stage1.json",)),
        Variant("d", "fla_stage2", "FLa-LLM stage 2, pretrained LLM", ("phoenix_synth_fla_stage2.json",),
                needs_llm=True),
        Variant("e", "fla_stage2_random", "FLa-LLM stage 2, LLM randomly initialised",
                ("phoenix_synth_fla_stage2.json",), needs_llm=True),
        Variant("f", "mmslt", "MMSLT (descriptions + mapper)",
                ("phoenix_synth_mmslt_pretrain.json", "phoenix_synth_mmslt_translate.json")),
        Variant("g", "mmslt_no_mapper", "MMSLT without the description mapper",
                ("phoenix_synth_mmslt_pretrain.json", "phoenix_synth_mmslt_translate.json")),
    )
}
BY_KEY = {v.key: v for v in VARIANTS.values()}


def resolve_variant(name: str) -> Variant:
    if name in VARIANTS:
        return VARIANTS[name]
    if name in BY_KEY:
        return BY_KEY[name]
    raise SystemExit(f"--variant {name!r}: expected one of {', '.join(f'{v.key}/{v.name}' for v in VARIANTS.values())}")


# --------------------------------------------------------------------------------------------- the learning curve
def dev_curve_callback(output_dir: str | os.PathLike):
    """A `TrainerCallback` recording dev BLEU-4 against training wall time (evaluation time excluded) in
    `output_dir/dev_curve.json`, and the model's trainable/total parameters.

    The curve is saved with every checkpoint; a resumed run continues from the wall time recorded at its
    checkpoint's step, and drops curve points recorded after that step (they are measured again).
    """
    from transformers import TrainerCallback

    path = Path(output_dir) / CURVE_FILE

    class DevCurveCallback(TrainerCallback):
        def __init__(self):
            self.points: list[dict] = []  # {"step", "train_seconds", "dev_bleu4"}
            self.seconds_at_step: dict[str, float] = {}
            self.offset = 0.0
            self.started = None
            self.eval_seconds = 0.0
            self.parameters: dict = {}

        def train_seconds(self) -> float:
            return self.offset + time.perf_counter() - self.started - self.eval_seconds

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            if path.is_file():
                saved = json.loads(path.read_text())
                step = state.global_step
                self.seconds_at_step = {k: v for k, v in saved.get("seconds_at_step", {}).items() if int(k) <= step}
                self.offset = self.seconds_at_step.get(str(step), 0.0)
                self.points = [p for p in saved.get("points", []) if p["step"] <= step]
            self.started = time.perf_counter()
            self.eval_seconds = 0.0
            if model is not None:
                self.parameters = {
                    "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
                    "total": sum(p.numel() for p in model.parameters()),
                }

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            if self.started is None or not metrics:  # evaluation outside training (final dev/test predictions)
                return
            self.eval_seconds += float(metrics.get("eval_runtime", 0.0))
            bleu = metrics.get("eval_bleu4")
            if bleu is not None:
                self.points.append({"step": state.global_step, "train_seconds": round(self.train_seconds(), 1),
                                    "dev_bleu4": float(bleu)})
                self.write()

        def on_save(self, args, state, control, **kwargs):
            if self.started is not None:
                self.seconds_at_step[str(state.global_step)] = round(self.train_seconds(), 1)
                self.write()

        def on_train_end(self, args, state, control, **kwargs):
            if self.started is not None:
                self.seconds_at_step[str(state.global_step)] = round(self.train_seconds(), 1)
                self.write()
                self.started = None

        def write(self) -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"points": self.points, "seconds_at_step": self.seconds_at_step,
                                       "parameters": self.parameters}, indent=1))
            os.replace(tmp, path)

    return DevCurveCallback()


def read_curve(output_dir: Path) -> dict:
    path = output_dir / CURVE_FILE
    return json.loads(path.read_text()) if path.is_file() else {"points": [], "seconds_at_step": {}, "parameters": {}}


# --------------------------------------------------------------------------------------------- variants
def load_corpus(corpus: Path):
    from sign_translation.data import load_sign_dataset

    if not (corpus / "corpus.json").is_file():
        raise SystemExit(
            f"{corpus}: no PHOENIX-synth corpus there; render it first:\n  sign-translation synth {corpus} "
            "--phoenix14t ../shared/data/annotations/phoenix14t --num-workers 2"
        )
    return load_sign_dataset(corpus)


def run_most_frequent(args) -> dict:
    """a: answer every clip with the most frequent training sentence (ties: the first in training order)."""
    from sign_translation.metrics import translation_metrics

    dataset = load_corpus(args.corpus)
    counts = Counter(dataset["train"]["text"])
    sentence = max(counts, key=counts.get)  # Counter keeps insertion order: the earliest of the most frequent
    started = time.perf_counter()
    split_metrics = {
        split: translation_metrics([sentence] * len(dataset[split]), dataset[split]["text"]) for split in ("dev", "test")
    }
    return {
        "test": split_metrics["test"],
        "dev_bleu4": split_metrics["dev"]["bleu4"],
        "train_seconds": round(time.perf_counter() - started, 2),
        "parameters": {"trainable": 0, "total": 0},
        "settings": {"sentence": sentence, "count_in_train": counts[sentence], "train_clips": len(dataset["train"])},
    }


def _recipe(args, variant: Variant, index: int = 0) -> dict:
    return _load_recipe(Path(args.recipe[index]) if args.recipe else RECIPES / variant.recipes[index])


def _load_recipe(path: Path) -> dict:
    """A recipe file with its source path (`_path`, relative to the repository when inside it)."""
    recipe = json.loads(path.read_text())
    recipe["_path"] = str(path.relative_to(REPO) if path.is_relative_to(REPO) else path)
    return recipe


def _budget_overrides(args) -> dict:
    overrides = {}
    for flag, key in (("max_steps", "max_steps"), ("eval_steps", "eval_steps"), ("max_train_samples",
                      "max_train_samples"), ("max_eval_samples", "max_eval_samples")):  # fmt: skip
        value = getattr(args, flag)
        if value is not None:
            overrides[key] = value
    if args.eval_steps is not None:
        overrides["save_steps"] = args.eval_steps
    return overrides


def _recipe_as_written(recipe: dict) -> dict:
    """The recipe as `_write_recipe` saves it (plain JSON values, without its source path)."""
    return json.loads(json.dumps({k: v for k, v in recipe.items() if k != "_path"}))


def _write_recipe(run_dir: Path, name: str, recipe: dict) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / name
    path.write_text(json.dumps(_recipe_as_written(recipe), indent=2))
    return path


def _run_name(variant: Variant, args, llm_tag: str | None = None) -> str:
    parts = [variant.name]
    if llm_tag:
        parts.append(llm_tag)
    parts.append(f"seed{args.seed}")
    if args.tag:
        parts.append(args.tag)
    return "-".join(parts)


def _llm_tag(args) -> str | None:
    return Path(args.llm).resolve().name if args.llm else None


def _trainer_record(results: dict, run_dir: Path, settings: dict) -> dict:
    curve = read_curve(run_dir)
    train = results.get("train", {})
    seconds = curve["seconds_at_step"]
    last = max(seconds, key=int) if seconds else None
    return {
        "test": {k.removeprefix("test_"): v for k, v in results["test"].items()
                 if k.removeprefix("test_") in ("bleu1", "bleu2", "bleu3", "bleu4", "rouge_l", "signature")},
        "dev_bleu4": results["dev"]["dev_bleu4"],
        "train_seconds": seconds[last] if last else train.get("train_runtime"),
        "steps": int(last) if last else None,
        "parameters": curve.get("parameters", {}),
        "curve": curve["points"],
        "settings": settings,
        "run_dir": _display_path(run_dir),
    }


def finished_results(model_dir: Path, max_steps: int | None) -> dict | None:
    """The saved results of a run that already reached `max_steps` (its final dev/test evaluation done), else None.

    Such a run is not handed to the Trainer again: resuming from a checkpoint at max_steps would train one more step.
    """
    results, seconds = model_dir / "results.json", read_curve(model_dir)["seconds_at_step"]
    if max_steps is None or not results.is_file() or not seconds or max(map(int, seconds)) < max_steps:
        return None
    saved = json.loads(results.read_text())
    if "test" not in saved or "dev" not in saved:
        return None
    logger.info("%s already finished %d steps: reporting its saved results", model_dir, max_steps)
    return saved


def video_reliance(model_dir: Path, corpus: Path, split: str = "dev", max_clips: int | None = None,
                   batch_size: int = 32) -> dict:
    """How much a trained video model reads its video: the token-level loss on `split` with each clip's own video
    and with another clip's video (the batch rolled by one; the sentences stay). A model that ignores the video
    (a language model of the sentences) has a gap of ~0; one that reads the signs loses a lot on foreign video.

    Loads the checkpoint in `model_dir` as the class its config names, with its own processor, greedy nothing:
    two forward passes per batch, no generation."""
    import torch
    from transformers import AutoConfig

    import sign_translation
    from sign_translation.processing import SignTranslationCollator, SignTranslationProcessor

    config = AutoConfig.from_pretrained(model_dir)
    model = getattr(sign_translation, config.architectures[0]).from_pretrained(model_dir).eval()
    collator = SignTranslationCollator(SignTranslationProcessor.from_pretrained(model_dir), augment=False)
    dataset = load_corpus(corpus)[split]
    n = len(dataset) if max_clips is None else min(max_clips, len(dataset))
    sums = {"own": 0.0, "other": 0.0}
    tokens = 0
    with torch.no_grad():
        for start in range(0, n, batch_size):
            batch = collator([dataset[i] for i in range(start, min(start + batch_size, n))])
            if batch["labels"].shape[0] < 2:
                break  # a last batch of one clip has no other video to swap in
            count = int((batch["labels"] != -100).sum())
            roll = torch.roll(torch.arange(batch["labels"].shape[0]), 1)
            other = {k: (v[roll] if k in ("pixel_values_videos", "video_mask") else v) for k, v in batch.items()}
            sums["own"] += float(model(**batch).loss) * count
            sums["other"] += float(model(**other).loss) * count
            tokens += count
    own, foreign = sums["own"] / tokens, sums["other"] / tokens
    return {"split": split, "clips": n, "tokens": tokens, "loss_own_video": round(own, 4),
            "loss_other_video": round(foreign, 4), "gap": round(foreign - own, 4)}


def run_fla_stage1(args, variant: Variant) -> dict:
    """c: FLa-LLM stage 1, end to end on video; the Light-T uses the LLM's (trimmed) tokenizer when `--llm` is
    given (needed before d/e), else a Unigram tokenizer learnt from the training sentences."""
    from sign_translation.train_scripts import run_fla_llm

    load_corpus(args.corpus)
    recipe = {**_recipe(args, variant), **_budget_overrides(args)}
    if args.llm:
        recipe.pop("train_tokenizer_vocab_size", None)
        recipe.update(tokenizer_name_or_path=str(args.llm), trim_vocabulary=True)
    run_dir = args.workdir / _run_name(variant, args, _llm_tag(args))
    recipe_file = _write_recipe(run_dir, "recipe.json", recipe)
    argv = ["--recipe", str(recipe_file), "--data_dir", str(args.corpus), "--output_dir", str(run_dir / "model"),
            "--seed", str(args.seed)]
    results = finished_results(run_dir / "model", recipe.get("max_steps")) or run_fla_llm.main(
        argv, callbacks=[dev_curve_callback(run_dir / "model")])
    return _trainer_record(results, run_dir / "model", recipe)


def run_fla_stage2(args, variant: Variant) -> dict:
    """d / e: FLa-LLM stage 2 on the frozen stage-1 encoder (cached features): the pretrained LLM (d) or the same
    architecture built from its config with random weights (e), vocabulary trimmed to the stage-1 tokenizer."""
    from transformers import AutoConfig

    from sign_translation.train_scripts import run_fla_llm

    load_corpus(args.corpus)
    stage1 = Path(args.stage1) if args.stage1 else args.workdir / _run_name(VARIANTS["fla_stage1"], args,
                                                                             _llm_tag(args)) / "model"
    if not (stage1 / "config.json").is_file():
        raise SystemExit(f"{stage1}: no stage-1 checkpoint; run `--variant c --llm {args.llm}` first or pass --stage1")
    recipe = {**_recipe(args, variant), **_budget_overrides(args)}
    if variant.name == "fla_stage2":
        recipe["llm_name_or_path"] = str(args.llm)
    else:
        config = AutoConfig.from_pretrained(args.llm).to_dict()
        for key in ("architectures", "transformers_version", "_name_or_path", "torch_dtype", "dtype"):
            config.pop(key, None)
        recipe["llm_config"] = config
        recipe.update(recipe.pop("random_init_overrides", {}))
    recipe.pop("random_init_overrides", None)
    run_dir = args.workdir / _run_name(variant, args, _llm_tag(args))
    recipe_file = _write_recipe(run_dir, "recipe.json", recipe)
    argv = ["--recipe", str(recipe_file), "--data_dir", str(args.corpus), "--output_dir", str(run_dir / "model"),
            "--stage1_model_name_or_path", str(stage1), "--seed", str(args.seed),
            "--feature_cache_dir", str(args.workdir / "feature_cache" / stage1.parent.name)]
    results = finished_results(run_dir / "model", recipe.get("max_steps")) or run_fla_llm.main(
        argv, callbacks=[dev_curve_callback(run_dir / "model")])
    record = _trainer_record(results, run_dir / "model", {**recipe, "stage1": _display_path(stage1)})
    # what the frozen encoder cost: stage 1's training time, for the equal-wall-clock comparison (table, curves)
    stage1_seconds = read_curve(stage1)["seconds_at_step"]
    record["stage1_train_seconds"] = stage1_seconds[max(stage1_seconds, key=int)] if stage1_seconds else None
    return record


def run_text_llm(args, variant: Variant) -> dict:
    """b: the LLM fine-tuned on text alone, glosses -> German (what a perfect sign recogniser would allow)."""
    dataset = load_corpus(args.corpus)
    recipe = {**_recipe(args, variant), **_budget_overrides(args)}
    run_dir = args.workdir / _run_name(variant, args, _llm_tag(args))
    _write_recipe(run_dir, "recipe.json", recipe)
    results = finished_results(run_dir / "model", recipe.get("max_steps")) or train_text_llm(
        dataset, args.llm, run_dir / "model", recipe, seed=args.seed, callbacks=[dev_curve_callback(run_dir / "model")])
    return _trainer_record(results, run_dir / "model", recipe)


def run_mmslt(args, variant: Variant) -> dict:
    """f / g: MMSLT pre-training then translation, with or without the description mapper. The corpus's per-frame
    descriptions are embedded by `--description-encoder` (a sentence encoder folder, e.g. MiniLM)."""
    from sign_translation.processing import DescriptionEncoder, descriptions_from_corpus, encode_descriptions
    from sign_translation.train_scripts import run_mmslt as mmslt

    if not args.description_encoder:
        raise SystemExit(f"--variant {variant.key} needs --description-encoder PATH (a sentence encoder folder)")
    dataset = load_corpus(args.corpus)
    encoder_tag = Path(args.description_encoder).resolve().name
    embeddings = args.workdir / "descriptions" / encoder_tag
    descriptions = descriptions_from_corpus(dataset, args.workdir / "descriptions" / "texts")
    encode_descriptions(DescriptionEncoder.from_pretrained(str(args.description_encoder)), descriptions, embeddings)
    use_mapper = variant.name == "mmslt"
    run_dir = args.workdir / _run_name(variant, args, f"{encoder_tag}-{_llm_tag(args)}" if args.llm else encoder_tag)
    # --eval-steps is the translation's dev evaluation; pre-training has none and keeps its recipe's save interval
    pretrain = {**_recipe(args, variant, 0), **{k: v for k, v in _budget_overrides(args).items()
                                                  if k not in ("eval_steps", "save_steps")}}
    pretrain.setdefault("config_overrides", {})["use_description_mapper"] = use_mapper
    if args.mse_weight is not None:  # the description term's weight in MMLP (recipe: the paper's 0.1)
        pretrain["config_overrides"]["mse_weight"] = args.mse_weight
    # with --llm the whole translator is the LLM, on MMLP's visual front end
    translate = _load_recipe(RECIPES / LLM_TRANSLATE_RECIPE) if args.llm and not args.recipe else _recipe(args, variant, 1)
    translate.update(_budget_overrides(args))
    if args.llm:  # whatever the recipe: only MMLP's front end is reused; the LLM keeps its own (trimmed) tokenizer
        translate.update(front_end_only=True, trim_vocabulary=True)
    if args.translation_steps is not None:
        translate["max_steps"] = args.translation_steps
    common = ["--data_dir", str(args.corpus), "--seed", str(args.seed)]
    llm_args = ["--llm_name_or_path", str(args.llm)] if args.llm else []
    pretrain_dir = run_dir / "pretrain"
    if args.pretraining:
        pretrain_dir = _given_pretraining(args.pretraining, use_mapper)
        saved_recipe = pretrain_dir.parent / "pretrain.json"  # what that pre-training ran, for this record
        if saved_recipe.is_file():
            pretrain = {**json.loads(saved_recipe.read_text()), "_path": _display_path(saved_recipe)}
    elif args.translation_steps is not None and args.tag and not _pretrained(pretrain_dir):
        # a run that departs only in its translation budget shares the untagged run's finished pre-training when
        # that was made with the same pre-training recipe
        untagged = args.workdir / _run_name(variant, argparse.Namespace(seed=args.seed, tag=None), encoder_tag)
        saved_recipe = untagged / "pretrain.json"
        same = saved_recipe.is_file() and json.loads(saved_recipe.read_text()) == _recipe_as_written(pretrain)
        if same and _pretrained(untagged / "pretrain"):
            pretrain_dir = untagged / "pretrain"
            logger.info("using the finished pre-training of %s", untagged)
    if saved := _pretrained(pretrain_dir):
        pre = saved  # pre-training finished in an earlier call; a stopped one resumes from its last checkpoint
    else:
        pre = mmslt.main(["--recipe", str(_write_recipe(run_dir, "pretrain.json", pretrain)), *common,
                          "--description_cache", str(embeddings), "--output_dir", str(pretrain_dir)])
    results = finished_results(run_dir / "model", translate.get("max_steps")) or mmslt.main(["--recipe", str(_write_recipe(run_dir, "translate.json", translate)), *common,
                          "--pretrained_model_name_or_path", str(pretrain_dir), *llm_args,
                          # keyed on the frozen front end's weights: runs on the same pre-training share the features
                          "--feature_cache_dir", str(args.workdir / "feature_cache" / pretrain_dir.parent.name),
                          "--output_dir", str(run_dir / "model")],
                         callbacks=[dev_curve_callback(run_dir / "model")])
    record = _trainer_record(results, run_dir / "model", {"pretrain": pretrain, "translate": translate,
                                                          "description_encoder": str(args.description_encoder)})
    if args.mse_weight is not None and args.translation_steps is None:
        record["g_tag"] = None  # g has no description term: its recipe run is this run's counterpart
    record["retrieval_after_pretraining"] = pre.get("retrieval")
    record["stage1_train_seconds"] = (pre.get("train") or {}).get("train_runtime")  # MMLP pre-training, f/g's stage 1
    record["pretraining"] = str(pretrain_dir.relative_to(REPO) if pretrain_dir.is_relative_to(REPO) else pretrain_dir)
    return record


def _given_pretraining(path: Path, use_mapper: bool) -> Path:
    """`--pretraining`: a finished MMLP pre-training of the right kind (f: with the description mapper, g: without)."""
    if not _pretrained(path):
        raise SystemExit(f"--pretraining {path}: not a finished MMSLT pre-training (no results.json with retrieval "
                         "scores there)")
    config = json.loads((path / "config.json").read_text())
    if bool(config.get("use_description_mapper", True)) != use_mapper:
        raise SystemExit(f"--pretraining {path}: pre-trained {'with' if not use_mapper else 'without'} the "
                         f"description mapper; use it with --variant {'f' if not use_mapper else 'g'}")
    return path


def _pretrained(pretrain_dir: Path) -> dict | None:
    """The results of a finished MMSLT pre-training (with its retrieval scores), else None."""
    results = pretrain_dir / "results.json"
    if results.is_file() and "retrieval" in (saved := json.loads(results.read_text())):
        return saved
    return None


def train_text_llm(dataset, llm_path, output_dir: Path, recipe: dict, seed: int = 0, callbacks=None) -> dict:
    """Fine-tune a causal LM on `<bos> GLOSSES <eos> sentence <eos>` (loss on the sentence only), choose the
    checkpoint by dev BLEU-4 (greedy), and evaluate it on dev and test. Resumes from the last checkpoint."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments, set_seed

    from sign_translation.metrics import translation_metrics
    from sign_translation.training import last_checkpoint, write_json

    set_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(llm_path)
    model = AutoModelForCausalLM.from_pretrained(llm_path)
    train = dataset["train"]
    if recipe.get("max_train_samples"):
        train = train.select(range(min(len(train), recipe["max_train_samples"])))
    dev = dataset["dev"]
    if recipe.get("max_eval_samples"):
        dev = dev.select(range(min(len(dev), recipe["max_eval_samples"])))
    if recipe.get("trim_vocabulary", True):
        from sign_translation.modeling.vocabulary_trimming import trim_vocabulary

        model, tokenizer, _ = trim_vocabulary(model, tokenizer, list(train["text"]) + list(train["gloss"]))
        if hasattr(model, "vocab_size"):  # some causal LMs keep their own copy for the loss
            model.vocab_size = model.config.vocab_size
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    max_new_tokens = int(recipe.get("max_new_tokens", 64))

    def prompt(gloss: str) -> list[int]:
        return bos + tokenizer(gloss, add_special_tokens=False)["input_ids"] + [eos]

    def encode(row: dict) -> dict:
        source, target = prompt(row["gloss"]), tokenizer(row["text"], add_special_tokens=False)["input_ids"] + [eos]
        return {"input_ids": source + target, "labels": [-100] * len(source) + target}

    features = [encode(row) for row in train]

    def collate(batch: list[dict]) -> dict:
        width = max(len(b["input_ids"]) for b in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, b in enumerate(batch):
            n = len(b["input_ids"])
            ids[i, :n], labels[i, :n], mask[i, :n] = torch.tensor(b["input_ids"]), torch.tensor(b["labels"]), 1
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}

    @torch.no_grad()
    def translate(net, glosses: list[str], batch_size: int) -> list[str]:
        net.eval()
        out = []
        for start in range(0, len(glosses), batch_size):
            prompts = [prompt(g) for g in glosses[start : start + batch_size]]
            width = max(map(len, prompts))
            ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])  # left padding for generation
            mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
            generated = net.generate(input_ids=ids.to(net.device), attention_mask=mask.to(net.device),
                                     max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                                     eos_token_id=eos, pad_token_id=pad)
            out += [t.strip() for t in tokenizer.batch_decode(generated[:, width:], skip_special_tokens=True)]
        return out

    class TextLlmTrainer(Trainer):
        def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval"):
            rows = eval_dataset if eval_dataset is not None else dev
            started = time.perf_counter()
            hypotheses = translate(self.model, list(rows["gloss"]), self.args.per_device_eval_batch_size)
            scores = translation_metrics(hypotheses, list(rows["text"]))
            metrics = {f"{metric_key_prefix}_{k}": scores[k] for k in ("bleu1", "bleu2", "bleu3", "bleu4", "rouge_l")}
            metrics[f"{metric_key_prefix}_runtime"] = time.perf_counter() - started
            self.log(metrics)
            self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
            self.last_translations = {"signature": scores["signature"], "hypotheses": hypotheses}
            return metrics

    known = {f.name for f in __import__("dataclasses").fields(TrainingArguments)}
    training_args = TrainingArguments(output_dir=str(output_dir), seed=seed,
                                      **{k: v for k, v in recipe.items() if k in known and k != "seed"})
    trainer = TextLlmTrainer(model=model, args=training_args, train_dataset=features, eval_dataset=dev,
                             data_collator=collate, callbacks=callbacks)
    result = trainer.train(resume_from_checkpoint=last_checkpoint(str(output_dir)))
    trainer.save_model()
    tokenizer.save_pretrained(output_dir)
    results: dict = {"train": result.metrics}
    for split, rows in (("dev", dataset["dev"]), ("test", dataset["test"])):
        metrics = trainer.evaluate(rows, metric_key_prefix=split)
        results[split] = {**metrics, "signature": trainer.last_translations["signature"]}
        write_json(output_dir / f"translations_{split}.json",
                   [{"name": n, "reference": r, "hypothesis": h}
                    for n, r, h in zip(rows["name"], rows["text"], trainer.last_translations["hypotheses"])])
    write_json(output_dir / "results.json", results)
    return results


RUNNERS = {
    "most_frequent": lambda args, variant: run_most_frequent(args),
    "text_llm": run_text_llm,
    "fla_stage1": run_fla_stage1,
    "fla_stage2": run_fla_stage2,
    "fla_stage2_random": run_fla_stage2,
    "mmslt": run_mmslt,
    "mmslt_no_mapper": run_mmslt,
}


# --------------------------------------------------------------------------------------------- results
def load_results(path: Path) -> list[dict]:
    return json.loads(path.read_text()) if path.is_file() else []


def append_result(path: Path, record: dict) -> None:
    """Append under an exclusive lock, written atomically: runs of several variants at once can finish together."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        records = load_results(path)
        records.append(record)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(records, indent=1, ensure_ascii=False) + "\n")
        os.replace(tmp, path)


def latest_records(records: list[dict]) -> list[dict]:
    """The last record of each (variant, llm, seed, tag), in variant order."""
    latest: dict[tuple, dict] = {}
    for record in records:
        latest[record["variant"], record.get("llm"), record.get("seed"), record.get("tag")] = record
    order = {name: i for i, name in enumerate(VARIANTS)}
    return sorted(latest.values(), key=lambda r: (order.get(r["variant"], 99), str(r.get("llm")), r.get("seed", 0)))


def format_table(records: list[dict]) -> str:
    rows = latest_records(records)
    if not rows:
        return "no PHOENIX-synth results yet"
    header = (f"{'':2}{'variant':<56}{'seed':>5}{'B-1':>7}{'B-2':>7}{'B-3':>7}{'B-4':>7}{'R-L':>7}{'dev B-4':>9}"
              f"{'train':>9}{'+stage1':>9}{'trainable':>11}{'total':>11}{'video':>8}")
    lines = [header]
    signatures = set()
    for r in rows:
        t = r["test"]
        label = VARIANTS[r["variant"]].label if r["variant"] in VARIANTS else r["variant"]
        llm = f" [{Path(r['llm']).name}{' tokenizer' if BY_KEY_OF(r) == 'c' else ''}]" if r.get("llm") else ""
        suffix = llm + (f" ({r['tag']})" if r.get("tag") else "")
        if len(label) + len(suffix) > 55:  # shorten the description, never the LLM or the tag that tell rows apart
            label = label[: max(55 - len(suffix) - 1, 0)] + "…"
        label += suffix
        params = r.get("parameters") or {}
        lines.append(
            f"{BY_KEY_OF(r):<2}{label[:55]:<56}{r.get('seed', 0):>5}{t['bleu1']:7.2f}{t['bleu2']:7.2f}{t['bleu3']:7.2f}"
            f"{t['bleu4']:7.2f}{t['rouge_l']:7.2f}{r['dev_bleu4']:9.2f}{_minutes(r.get('train_seconds')):>9}"
            f"{_minutes(_total_seconds(r)) if r.get('stage1_train_seconds') else '':>9}"
            f"{_count(params.get('trainable')):>11}{_count(params.get('total')):>11}"
            f"{_gap(r.get('video_reliance')):>8}"
        )
        signatures.add(t.get("signature"))
    lines.append("test split; BLEU: sacrebleu " + " / ".join(sorted(s for s in signatures if s)) +
                 "; ROUGE-L: mean sentence LCS F; train: training wall time without evaluation; +stage1: "
                 "with the frozen stage-1 encoder's training time (d, e) or the MMLP pre-training's (f, g); video: dev loss with another clip's video minus "
                 "with its own (nats/token; ~0 = the model does not read the signs)")
    lines += seed_summary(rows)
    keys = ("_path", "max_steps", "per_device_train_batch_size", "learning_rate", "image_size", "frame_stride",
            "sentence")

    def brief(settings: dict) -> dict:
        shown = {k: settings[k] for k in keys if k in settings}
        if "mse_weight" in (settings.get("config_overrides") or {}):  # a departure from the paper's 0.1
            shown["mse_weight"] = settings["config_overrides"]["mse_weight"]
        return shown

    for r in rows:
        s = r.get("settings", {})
        shown = ({stage: brief(s[stage]) for stage in ("pretrain", "translate") if isinstance(s.get(stage), dict)}
                 if "pretrain" in s else brief(s))
        tag = f" ({r['tag']})" if r.get("tag") else ""
        lines.append(f"  {BY_KEY_OF(r)}{tag} seed {r.get('seed', 0)}: {json.dumps(shown, ensure_ascii=False)} "
                     f"on {r.get('machine', '?')}")
    return "\n".join(lines)


def seed_summary(rows: list[dict]) -> list[str]:
    """Across seeds: mean ± sample standard deviation of test and dev BLEU-4 for every run (variant, LLM, tag) with
    two or more seeds, and f − g per seed (same seed and tag: the mapper's effect, with its spread)."""
    import statistics

    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["variant"], r.get("llm"), r.get("tag")), []).append(r)

    def spread(values: list[float]) -> str:  # two or more values
        return (f"{statistics.fmean(values):.2f} ± {statistics.stdev(values):.2f} "
                f"(min {min(values):.2f}, max {max(values):.2f})")

    lines = []
    for (variant, llm, tag), runs in groups.items():
        if len(runs) < 2:
            continue
        runs = sorted(runs, key=lambda r: r.get("seed", 0))
        label = VARIANTS[variant].key if variant in VARIANTS else variant
        label += f" [{Path(llm).name}]" if llm else ""
        label += f" ({tag})" if tag else ""
        lines.append(f"{label}: {len(runs)} seeds ({', '.join(str(r.get('seed', 0)) for r in runs)}): test BLEU-4 "
                     f"{spread([r['test']['bleu4'] for r in runs])}; dev BLEU-4 {spread([r['dev_bleu4'] for r in runs])}")
    by_seed = {(r["variant"], r.get("tag"), r.get("seed", 0)): r for r in rows}
    for tag in sorted({r.get("tag") for r in rows if r["variant"] == "mmslt"}, key=str):
        seeds = sorted(seed for variant, run_tag, seed in by_seed if variant == "mmslt" and run_tag == tag)
        # g's run for the same seed: the same tag, or the one named by f's record (a run that changes only what g
        # does not have, e.g. the description term's weight, is compared with the recipe's g)
        pairs = []
        for seed in seeds:
            f = by_seed["mmslt", tag, seed]
            g_tag = _g_counterpart_tag(f)
            if ("mmslt_no_mapper", g_tag, seed) in by_seed:
                pairs.append((f, by_seed["mmslt_no_mapper", g_tag, seed]))
        if len(pairs) < 2:
            continue
        test = [f["test"]["bleu4"] - g["test"]["bleu4"] for f, g in pairs]
        dev = [f["dev_bleu4"] - g["dev_bleu4"] for f, g in pairs]
        g_tags = sorted({str(g.get("tag") or "") for _, g in pairs})
        g_label = "g" + "".join(f" ({t})" for t in g_tags if t) if g_tags != [str(tag or "")] else "g"
        lines.append(f"f{f' ({tag})' if tag else ''} - {g_label}, same seed, {len(pairs)} seeds: test BLEU-4 "
                     f"{spread(test)}, f ahead in {sum(d > 0 for d in test)} of {len(test)}; dev BLEU-4 {spread(dev)}")
    return lines


def _g_counterpart_tag(f: dict) -> str | None:
    """The tag of g's run to compare an f run with, seed by seed: the one f's record names (`g_tag`), else f's own
    tag without a leading "mse<weight>" part when f's pre-training changed the description term's weight — a
    change g, which has no description term, does not have ("mse50-p6000-t6000" pairs with g's "p6000-t6000")."""
    if "g_tag" in f:
        return f["g_tag"]
    tag = f.get("tag")
    pretrain = (f.get("settings") or {}).get("pretrain") or {}
    if tag and (pretrain.get("config_overrides") or {}).get("mse_weight") is not None:
        parts = tag.split("-")
        if parts[0].startswith("mse"):
            return "-".join(parts[1:]) or None
    return tag


def _total_seconds(record: dict) -> float | None:
    """Training time including the stage-1 encoder a stage-2 run is built on (the equal-wall-clock axis)."""
    if record.get("train_seconds") is None:
        return None
    return record["train_seconds"] + (record.get("stage1_train_seconds") or 0.0)


def BY_KEY_OF(record: dict) -> str:  # noqa: N802 - reads as the table's first column
    return VARIANTS[record["variant"]].key if record["variant"] in VARIANTS else "?"


def _gap(reliance: dict | None) -> str:
    return "-" if not reliance or "gap" not in reliance else f"{reliance['gap']:.2f}"


def _minutes(seconds) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f}m"


def _count(n) -> str:
    if n is None:
        return "-"
    return f"{n / 1e6:.2f}M" if n >= 1e5 else str(n)


def unfinished_curves(records: list[dict], workdir: Path | None) -> list[dict]:
    """Runs under `workdir` with dev BLEU-4 points but no record yet (stopped or still training), as record-like
    dicts (`variant`, `curve`, `stage1_train_seconds`, `tag="unfinished"`), so the curves show them dashed."""
    if workdir is None or not Path(workdir).is_dir():
        return []
    recorded = {Path(r["run_dir"]).resolve() for r in records if r.get("run_dir")}
    found = []
    for curve_file in sorted(Path(workdir).glob(f"*/model/{CURVE_FILE}")):
        model_dir = curve_file.parent
        rel = Path(_display_path(model_dir))
        if (REPO / rel).resolve() in recorded or model_dir.resolve() in recorded:
            continue
        points = read_curve(model_dir)["points"]
        variant = next((v for v in sorted(VARIANTS.values(), key=lambda v: -len(v.name))
                        if model_dir.parent.name.startswith(v.name + "-")), None)
        if not points or variant is None:
            continue
        stage1_seconds = None
        if variant.name in ("fla_stage2", "fla_stage2_random"):
            stage1_dir = model_dir.parent.parent / model_dir.parent.name.replace(variant.name, "fla_stage1", 1) / "model"
            seconds = read_curve(stage1_dir)["seconds_at_step"]
            stage1_seconds = seconds[max(seconds, key=int)] if seconds else None
        run_tag = model_dir.parent.name.partition("-seed")[2].partition("-")[2]  # "long" of "...-seed0-long"
        found.append({"variant": variant.name, "seed": None, "tag": "unfinished", "run_tag": run_tag or None,
                      "curve": points, "stage1_train_seconds": stage1_seconds})
    return found


def plot_curves(records: list[dict], path: Path, workdir: Path | None = None) -> Path | None:
    """Dev BLEU-4 against training wall time, one line per run with a curve (smoke runs left out); runs under
    `workdir` that have curve points but no record yet are drawn dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in latest_records(records) if r.get("curve") and r.get("tag") != "smoke"]
    rows += unfinished_curves(records, workdir)
    if not rows:
        return None
    baseline = [r for r in latest_records(records) if r["variant"] == "most_frequent"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), sharey=True)
    # one colour per run (variant, LLM, tag), one marker per seed: the seeds of a run read as one family
    runs = list(dict.fromkeys((r["variant"], r.get("llm"), r.get("tag"), r.get("run_tag")) for r in rows))
    tab20 = plt.get_cmap("tab20")  # the first 10 runs get tab10's colours (tab20's dark ones), the next 10 the light

    def colours(run: int):
        return tab20((2 * run) % 20 + (run // 10) % 2)

    markers = "os^Dvp*h"
    for ax, cumulative in zip(axes, (False, True)):
        for r in rows:
            points = r["curve"]
            offset = (r.get("stage1_train_seconds") or 0.0) if cumulative else 0.0
            tags = ", ".join(t for t in (r.get("tag"), r.get("run_tag")) if t)
            label = f"{BY_KEY_OF(r)}: {VARIANTS[r['variant']].label}" + (f" ({tags})" if tags else "")
            seed = f", seed {r['seed']}" if r.get("seed") is not None else ""
            run = runs.index((r["variant"], r.get("llm"), r.get("tag"), r.get("run_tag")))
            ax.plot([(offset + p["train_seconds"]) / 60 for p in points], [p["dev_bleu4"] for p in points],
                    color=colours(run), marker=markers[(r.get("seed") or 0) % len(markers)], ms=3.5,
                    ls="--" if r.get("tag") == "unfinished" else "-", label=label + seed)
        if baseline:
            ax.axhline(baseline[-1]["dev_bleu4"], color="grey", ls="--", lw=1, label="a: most frequent sentence")
        ax.set_xlabel("training wall time, minutes (evaluation excluded)" if not cumulative else
                      "minutes; d, e after their stage-1 encoder's training, f, g after pre-training")
        ax.set_title("dev BLEU-4 during training" if not cumulative else "equal wall-clock: stage 1 included")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("dev BLEU-4 (sacrebleu)")
    handles, labels = axes[0].get_legend_handles_labels()
    columns = 3
    legend_inches = 0.16 * -(-len(labels) // columns)  # one line of legend per `columns` entries, under the panels
    fig.legend(handles, labels, loc="lower center", ncol=columns, fontsize=7, frameon=False)
    fig.set_figheight(4.4 + legend_inches)
    fig.suptitle("PHOENIX-synth")
    fig.tight_layout(rect=(0, legend_inches / fig.get_figheight(), 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --------------------------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", help="a-g or the variant's name")
    parser.add_argument("--table", action="store_true", help="print all results side by side")
    parser.add_argument("--probe", type=Path, nargs="+", default=None, metavar="CHECKPOINT",
                        help="print how much each checkpoint reads its video (dev loss, own vs another clip's video)")
    parser.add_argument("--curves", action="store_true", help="save the dev BLEU-4 curves as a PNG")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help=f"PHOENIX-synth (default {DEFAULT_CORPUS})")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="checkpoints (resumable)")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS, help="the JSON the records are appended to")
    parser.add_argument("--curves-png", type=Path, default=None, help="default: next to --results, .png")
    parser.add_argument("--llm", type=Path, default=None, help="a causal LM + tokenizer: a transformers folder, a GGUF "
                        "file or an offline model name (gemma-3-270m, see `sign-translation models list`)")
    parser.add_argument("--stage1", type=Path, default=None, help="d/e: the stage-1 checkpoint (default: c's run)")
    parser.add_argument("--description-encoder", type=Path, default=None, help="f/g: a sentence encoder folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tag", default=None, help="names a run that departs from the recipe (e.g. 'smoke')")
    parser.add_argument("--recipe", nargs="+", default=None, help="replace the variant's recipe file(s)")
    parser.add_argument("--max-steps", type=int, default=None,
                        help="override the recipe's steps (a smaller or larger budget; name such a run with --tag)")
    parser.add_argument("--eval-steps", type=int, default=None, help="override how often dev BLEU-4 is measured")
    parser.add_argument("--translation-steps", type=int, default=None,
                        help="f/g: the translation stage's steps only; with --tag, the untagged run's finished "
                             "pre-training (same variant and seed) is reused")
    parser.add_argument("--mse-weight", type=float, default=None,
                        help="f: the description mapper's MSE weight in pre-training (the recipe's is the paper's "
                             "0.1); needs --tag")
    parser.add_argument("--pretraining", type=Path, default=None,
                        help="f/g: translate on this finished MMLP pre-training instead of running one (e.g. to "
                             "compare translators on the same frozen front end)")
    parser.add_argument("--max-train-samples", type=int, default=None)
    parser.add_argument("--max-eval-samples", type=int, default=None, help="dev clips evaluated during training")
    args = parser.parse_args(argv)
    if not (args.variant or args.table or args.curves or args.probe):
        parser.error("give --variant NAME, --table, --curves or --probe CHECKPOINT")
    if args.translation_steps is not None:
        if args.translation_steps < 1:
            parser.error(f"--translation-steps: expected a positive number of steps, got {args.translation_steps}")
        if args.variant and resolve_variant(args.variant).name not in ("mmslt", "mmslt_no_mapper"):
            parser.error("--translation-steps applies to the MMSLT variants f and g only")
    if args.mse_weight is not None:
        if not (args.mse_weight >= 0 and math.isfinite(args.mse_weight)):
            parser.error(f"--mse-weight: expected a finite number ≥ 0, got {args.mse_weight}")
        if args.variant and resolve_variant(args.variant).name != "mmslt":
            parser.error("--mse-weight applies to variant f (MMSLT with the description mapper) only")
        if not args.tag:
            parser.error("--mse-weight departs from the recipe: name the run with --tag")
    if args.pretraining is not None:
        if args.variant and resolve_variant(args.variant).name not in ("mmslt", "mmslt_no_mapper"):
            parser.error("--pretraining applies to the MMSLT variants f and g only")
        if args.mse_weight is not None:
            parser.error("--pretraining reuses a finished pre-training: --mse-weight cannot change it")
        if not args.tag:
            parser.error("--pretraining departs from the recipe: name the run with --tag")
    if args.llm is not None:  # an offline model name (gemma-3-270m) or a GGUF file: its converted plain folder
        from sign_translation.modeling.pretrained_sources import resolve_pretrained

        args.llm_given = str(args.llm)
        args.llm = Path(resolve_pretrained(str(args.llm)))
    return args


def main(argv: list[str] | None = None) -> dict | None:
    args = parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    record = None
    if args.variant:
        variant = resolve_variant(args.variant)
        if variant.needs_llm and not args.llm:
            raise SystemExit(f"--variant {variant.key} ({variant.name}) needs --llm PATH (a causal LM folder)")
        started = time.perf_counter()
        record = RUNNERS[variant.name](args, variant)
        record = {
            "variant": variant.name,
            "key": variant.key,
            "seed": args.seed,
            "tag": args.tag,
            # d, e, b: the LLM; c: the LLM whose (trimmed) tokenizer its Light-T uses, for d and e on top of it
            "llm": str(args.llm) if args.llm and (variant.needs_llm or variant.key in "cfg") else None,
            "corpus": _corpus_summary(args.corpus),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs visible",
            # this call's threads: a finished run called again only reports (its training may have used others)
            "torch_threads_this_call": _torch_threads(),
            "wall_seconds_this_call": round(time.perf_counter() - started, 1),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            **record,
        }
        if variant.key in "cdefg" and record.get("run_dir"):  # the video variants' tested checkpoint
            from sign_translation.card import write_model_card

            model_dir = REPO / record["run_dir"]
            try:  # diagnostics and the card never lose a finished run's record
                record["video_reliance"] = video_reliance(model_dir, args.corpus, max_clips=args.max_eval_samples)
            except Exception as err:  # noqa: BLE001
                logger.warning("video reliance of %s could not be measured: %s", model_dir, err)
                record["video_reliance"] = {"error": f"{type(err).__name__}: {err}"}
            try:  # its model card, carrying its PHOENIX-synth numbers
                record["model_card"] = _display_path(write_model_card(model_dir, dataset_name="phoenix_synth"))
            except Exception as err:  # noqa: BLE001
                logger.warning("no model card for %s: %s", model_dir, err)
        if getattr(args, "llm_given", None) and str(args.llm) != args.llm_given:
            # record the model as the user named it (gemma-3-270m), not this machine's converted cache folder
            record = json.loads(json.dumps(record).replace(json.dumps(str(args.llm))[1:-1], args.llm_given))
        append_result(args.results, record)
        t = record["test"]
        logger.info("%s: test BLEU-4 %.2f ROUGE-L %.2f, dev BLEU-4 %.2f -> %s", variant.name, t["bleu4"],
                    t["rouge_l"], record["dev_bleu4"], args.results)
    for checkpoint in args.probe or ():
        print(json.dumps({"checkpoint": _display_path(checkpoint),
                          **video_reliance(checkpoint, args.corpus, max_clips=args.max_eval_samples)}), flush=True)
    records = load_results(args.results)
    if args.table:
        print(format_table(records))
    if args.curves or (record is not None and record.get("curve")):
        png = plot_curves(records, args.curves_png or args.results.with_suffix(".png"), workdir=args.workdir)
        if png is not None:
            logger.info("dev BLEU-4 curves: %s", png)
    return record


def _corpus_summary(corpus: Path) -> dict:
    path = corpus / "corpus.json"
    if not path.is_file():
        return {"path": str(corpus)}
    data = json.loads(path.read_text())
    settings = data.get("settings", {})
    return {"counts": data.get("counts"), "glosses": len(data.get("vocabulary", {})),
            **{k: settings.get(k) for k in ("image_size", "frames_per_sign", "transition_frames", "rest_frames",
                                            "seed", "pairs_sha256")}}


def _display_path(path: Path) -> str:
    """Paths inside the repository are recorded relative to it (results are committed; no machine's paths)."""
    path = Path(path).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def _torch_threads() -> int | None:
    try:
        import torch

        return torch.get_num_threads()
    except ImportError:
        return None


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
