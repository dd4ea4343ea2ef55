"""What the training scripts share: argument dataclasses, datasets from arguments, the trainer, the feature cache.

The scripts in `train_scripts/` stay short: parse arguments (a JSON recipe plus command-line overrides), build the
model for their stage, and hand everything to `SignSeq2SeqTrainer`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import numpy as np
import torch
from transformers import HfArgumentParser, Seq2SeqTrainer, Seq2SeqTrainingArguments, Trainer, TrainingArguments

from .processing import SignTranslationProcessor, SignVideoProcessor
from .processing.errors import SignInputError

logger = logging.getLogger(__name__)

DATASET_LOADERS = ("phoenix14t", "csl_daily", "how2sign", "folder")


# ---------------------------------------------------------------------------------------------- arguments
@dataclass
class DataArguments:
    """Which data, and how videos become frames (the paper input pipeline by default)."""

    dataset: str = field(
        default="folder",
        metadata={"help": "phoenix14t | csl_daily | how2sign | folder (the synthetic corpus, a csv/tsv/jsonl file "
                          "or a videofolder with metadata.csv/jsonl)"},
    )
    data_dir: str | None = field(default=None, metadata={"help": "dataset root (release folder or label files)"})
    video_root: str | None = field(default=None, metadata={"help": "where the videos / frame folders are"})
    train_split: str = field(default="train")
    eval_split: str = field(default="dev")
    test_split: str | None = field(default="test", metadata={"help": "evaluated after training; '' to skip"})
    max_train_samples: int | None = field(default=None)
    max_eval_samples: int | None = field(default=None)
    image_size: int = field(default=256, metadata={"help": "resize frames to this square size (paper: 256)"})
    crop_size: int = field(default=224, metadata={"help": "random crop in training, centre crop at eval (224)"})
    frame_stride: int = field(default=1, metadata={"help": "keep every k-th frame (FLa-LLM: 4, i.e. T/4)"})
    max_frames: int | None = field(default=None, metadata={"help": "cap clip length (GFSLT 300, MMSLT 500)"})
    augment: bool = field(default=True, metadata={"help": "clip-level augmentation and random crops in training"})
    augment_rotation: float = field(default=30.0)
    augment_scale_min: float = field(default=0.8)
    augment_scale_max: float = field(default=1.2)
    augment_translate: float = field(default=10.0, metadata={"help": "pixels of the cropped frame (paper: 10)"})
    max_target_length: int = field(default=128)
    char_level_bleu: bool = field(default=False, metadata={"help": "character-level BLEU (CSL-Daily)"})

    def __post_init__(self):
        if self.dataset not in DATASET_LOADERS:
            raise SignInputError(f"--dataset {self.dataset!r}: expected one of {', '.join(DATASET_LOADERS)}")
        if self.data_dir is None:
            raise SignInputError("--data_dir is required: the dataset root (or the synthetic corpus folder)")
        from .validation import check_float, check_int

        for name in ("image_size", "crop_size", "frame_stride", "max_target_length"):
            check_int(f"--{name}", getattr(self, name), minimum=1, optional=False)
        for name in ("max_frames", "max_train_samples", "max_eval_samples"):
            check_int(f"--{name}", getattr(self, name), minimum=1)
        check_float("--augment_rotation", self.augment_rotation, minimum=0.0, maximum=180.0, optional=False)
        check_float("--augment_translate", self.augment_translate, minimum=0.0, optional=False)
        check_float("--augment_scale_min", self.augment_scale_min, minimum=0.0, optional=False, exclusive_minimum=True)
        check_float("--augment_scale_max", self.augment_scale_max, minimum=self.augment_scale_min, optional=False)


def parse_arguments(dataclass_types, argv: list[str] | None = None):
    """`--recipe file.json` (or a lone .json argument) supplies defaults; other command-line flags override it."""
    argv = list(sys.argv[1:] if argv is None else argv)
    recipe_args: list[str] = []
    if "--recipe" in argv:
        position = argv.index("--recipe")
        if position + 1 >= len(argv) or argv[position + 1].startswith("--"):
            raise SignInputError("--recipe needs a value: the path of a JSON recipe (train_scripts/recipes/*.json)")
        recipe = argv[position + 1]
        del argv[position : position + 2]
    elif len(argv) >= 1 and argv[0].endswith(".json") and not argv[0].startswith("-"):
        recipe = argv.pop(0)
    else:
        recipe = None
    if recipe is not None:
        try:
            values = json.loads(Path(recipe).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as err:
            raise SignInputError(f"--recipe {recipe}: cannot read the file ({err})") from err
        except json.JSONDecodeError as err:
            raise SignInputError(f"--recipe {recipe}: not valid JSON (line {err.lineno}: {err.msg})") from err
        if not isinstance(values, dict):
            raise SignInputError(
                f"--recipe {recipe}: expected a JSON object {{\"option\": value, ...}}, got a {type(values).__name__}"
            )
        for key, value in values.items():
            if key.startswith("_"):  # comments
                continue
            recipe_args.append(f"--{key}")
            if isinstance(value, list):
                recipe_args.extend(str(v) for v in value)
            elif isinstance(value, dict):
                recipe_args.append(json.dumps(value))
            else:
                recipe_args.append(str(value))
    parser = HfArgumentParser(dataclass_types)
    parsed = parser.parse_args_into_dataclasses(args=recipe_args + argv, look_for_args_file=False)
    from .validation import check_output_dir

    for values in parsed:  # a read-only or mistyped output_dir fails now, not at the first checkpoint
        if isinstance(values, TrainingArguments) and getattr(values, "output_dir", None):
            check_output_dir(values.output_dir, "--output_dir", create=False)
    for args in parsed:
        if isinstance(getattr(args, "report_to", None), list) and "tensorboard" in args.report_to:
            _drop_tensorboard_if_missing(args)
    return parsed


def parse_config_overrides(text: str | None, config_class=None, option: str = "--config_overrides") -> dict:
    """`--config_overrides` as a dict, or a `SignInputError` saying why not (not JSON, not an object, or a field
    `config_class` does not have — which a config would otherwise store silently and never use)."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise SignInputError(
            f"{option} {text!r}: not valid JSON ({err.msg} at character {err.pos}); expected an object such as "
            '\'{"temporal_kernel_size": 5}\''
        ) from err
    if not isinstance(value, dict):
        raise SignInputError(f"{option} {text!r}: expected a JSON object of config fields, got {type(value).__name__}")
    if config_class is not None and dataclasses.is_dataclass(config_class):
        known = {f.name for f in dataclasses.fields(config_class)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise SignInputError(
                f"{option}: {config_class.__name__} has no field(s) {unknown}; its fields are "
                f"{sorted(k for k in known if not k.startswith('_'))[:40]}"
            )
    return value


def _drop_tensorboard_if_missing(args) -> None:
    """Recipes ask for TensorBoard logs (`report_to: tensorboard`, under output_dir/runs); without the package the
    run goes on without them instead of failing in `Trainer.__init__`."""
    from transformers.integrations import is_tensorboard_available

    if not is_tensorboard_available():
        logger.info("tensorboard is not installed: no TensorBoard logs (pip install tensorboard)")
        args.report_to = [r for r in args.report_to if r != "tensorboard"] or ["none"]


# ---------------------------------------------------------------------------------------------- data
def load_dataset_from_args(args: DataArguments) -> datasets.DatasetDict:
    from . import data

    loaders = {
        "phoenix14t": data.load_phoenix14t,
        "csl_daily": data.load_csl_daily,
        "how2sign": data.load_how2sign,
    }
    if args.dataset == "folder":
        dataset = data.load_sign_dataset(args.data_dir)
    else:
        dataset = loaders[args.dataset](args.data_dir, video_root=args.video_root)
    limits = {args.train_split: args.max_train_samples, args.eval_split: args.max_eval_samples}
    for split, limit in limits.items():
        if limit is not None and split in dataset and len(dataset[split]) > limit:
            dataset[split] = dataset[split].select(range(limit))
    return dataset


def build_video_processor(args: DataArguments) -> SignVideoProcessor:
    return SignVideoProcessor(
        size={"height": args.image_size, "width": args.image_size},
        crop_size={"height": args.crop_size, "width": args.crop_size},
        frame_stride=args.frame_stride,
        max_frames=args.max_frames,
        augment_rotation=args.augment_rotation,
        augment_scale=[args.augment_scale_min, args.augment_scale_max],
        augment_translate=args.augment_translate,
    )


def require_splits(dataset: datasets.DatasetDict, *splits: str) -> None:
    missing = [s for s in splits if s and s not in dataset]
    if missing:
        raise SignInputError(f"dataset has no split(s) {missing}; available: {sorted(dataset)}")


# ---------------------------------------------------------------------------------------------- trainer
class _SignTrainerMixin:
    """What the papers need on top of the Trainer.

    - `learning_rates`: `{regex: lr}` for parameter names, e.g. `{r"(^|\\.)llm\\.": 1e-5}` gives the LLM its own
      learning rate while the adapter keeps `args.learning_rate` (FLa-LLM: 1e-5 / 1e-3). Schedulers scale every
      group alike.
    - the collator's `training` flag follows the loader: augmentation for training batches only, deterministic
      evaluation and prediction.
    - resuming does not report tied weights (stored once) as missing keys.
    """

    def __init__(self, *args, learning_rates: dict[str, float] | None = None, **kwargs):
        self.learning_rates = dict(learning_rates or {})
        super().__init__(*args, **kwargs)

    def _get_dataloader(self, dataset, description, batch_size, sampler_fn=None, is_training=False, dataloader_key=None):
        original = self.data_collator
        if dataclasses.is_dataclass(original) and hasattr(original, "training"):
            self.data_collator = dataclasses.replace(original, training=is_training)
        try:
            return super()._get_dataloader(dataset, description, batch_size, sampler_fn, is_training, dataloader_key)
        finally:
            self.data_collator = original

    def _issue_warnings_after_load(self, load_result) -> None:
        """On resume, a tied weight (a decoder-only LLM's `lm_head`, stored once as its input embeddings) is absent
        from the checkpoint by design: the Trainer reports it as a missing key unless the model lists it in
        `_keys_to_ignore_on_save`. Keep the report for keys that are really missing."""
        tied = getattr(self.model, "all_tied_weights_keys", None) or {}
        missing = set(load_result.missing_keys)
        really_missing = [key for key in load_result.missing_keys if not (key in tied and tied[key] not in missing)]
        return super()._issue_warnings_after_load(load_result._replace(missing_keys=really_missing))

    def create_optimizer(self, model=None):
        if self.optimizer is not None or not self.learning_rates:
            return super().create_optimizer(model)
        opt_model = self.model if model is None else model
        decay = set(self.get_decay_parameter_names(opt_model))
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
        groups: dict[tuple[float, float], list] = {}
        for name, param in opt_model.named_parameters():
            if not param.requires_grad:
                continue
            lr = self.args.learning_rate
            for pattern, value in self.learning_rates.items():
                if re.search(pattern, name):
                    lr = value
            weight_decay = self.args.weight_decay if name in decay else 0.0
            groups.setdefault((lr, weight_decay), []).append(param)
        param_groups = [{"params": p, "lr": lr, "weight_decay": wd} for (lr, wd), p in groups.items()]
        optimizer_kwargs = {k: v for k, v in optimizer_kwargs.items() if k != "lr"}
        self.optimizer = optimizer_cls(param_groups, lr=self.args.learning_rate, **optimizer_kwargs)
        return self.optimizer


class SignSeq2SeqTrainer(_SignTrainerMixin, Seq2SeqTrainer):
    """`Seq2SeqTrainer` for translation models, with per-module learning rates and train/eval collator switching."""


class SignTrainer(_SignTrainerMixin, Trainer):
    """`Trainer` for models that return their own loss (MMSLT pre-training), with the same additions."""


def last_checkpoint(output_dir: str) -> str | None:
    """The newest COMPLETE `checkpoint-N` in `output_dir`; incomplete ones (a kill during a save) are moved aside
    with a warning (see `checkpoint_integrity`)."""
    from .checkpoint_integrity import last_complete_checkpoint

    return last_complete_checkpoint(output_dir)


# ---------------------------------------------------------------------------------------------- feature cache
@dataclass
class FeatureCollator:
    """Pads cached visual features (T_i, D) → `visual_features` (B,T,D) + `video_mask` (B,T), tokenizes text."""

    processor: SignTranslationProcessor
    max_target_length: int | None = None
    training: bool = False  # features are fixed; kept so the trainer can switch it like the video collator's

    def __call__(self, features: list[dict]) -> dict:
        tensors = [torch.as_tensor(np.asarray(f["visual_features"], dtype=np.float32)) for f in features]
        lengths = [t.shape[0] for t in tensors]
        batch = tensors[0].new_zeros(len(tensors), max(lengths), tensors[0].shape[-1])
        mask = torch.zeros(len(tensors), max(lengths), dtype=torch.long)
        for i, t in enumerate(tensors):
            batch[i, : lengths[i]] = t
            mask[i, : lengths[i]] = 1
        out = {"visual_features": batch, "video_mask": mask}
        if "text" in features[0]:
            out["labels"] = self.processor.tokenize_targets([f["text"] for f in features], self.max_target_length)
        return out


def _fingerprint(model, processor: SignVideoProcessor) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.visual_feature_extractor.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    settings = {k: v for k, v in processor.to_dict().items() if not k.startswith("augment")}
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def cache_visual_features(
    model,
    dataset: datasets.Dataset,
    video_processor: SignVideoProcessor,
    cache_dir: str | os.PathLike,
    split: str,
    batch_size: int = 8,
) -> datasets.Dataset:
    """Run the frozen visual encoder once over a split and keep its features in an Arrow cache.

    The cache file name holds a fingerprint of the encoder weights and the (non-random) video processing, so a
    changed encoder or frame pipeline never reads stale features; `datasets.map` writes to a temporary file and
    renames it when done, so an interrupted run leaves no half-written cache.
    """
    fingerprint = _fingerprint(model, video_processor)
    os.makedirs(cache_dir, exist_ok=True)
    cache_file = os.path.join(cache_dir, f"{split}-{fingerprint}.arrow")
    model_device = next(model.parameters()).device

    def encode(batch):
        inputs = video_processor(batch["video"], do_augment=False)
        pixels = inputs["pixel_values_videos"].to(model_device)
        features, mask = model.extract_visual_features(pixels, inputs["video_mask"].to(model_device))
        return {"visual_features": [f[m.bool()].cpu().numpy() for f, m in zip(features, mask)]}

    features = datasets.Features({**dataset.features, "visual_features": datasets.Array2D((None, model.config.visual_feature_size), "float32")})
    return dataset.map(
        encode,
        batched=True,
        batch_size=batch_size,
        cache_file_name=cache_file,
        load_from_cache_file=True,
        features=features,
        desc=f"caching visual features ({split})",
    )


# ---------------------------------------------------------------------------------------------- the run
def train_and_evaluate(trainer, processor, eval_sets: dict, record: dict, generate: bool = True,
                       card_kwargs: dict | None = None) -> dict:
    """Train (resuming from the last checkpoint in `output_dir`), save model + processor + the arguments, evaluate
    every split in `eval_sets` — with generation and BLEU/ROUGE-L for translation models — write `results.json`
    (and `translations_<split>.json`), make `output_dir` a complete checkpoint (pipeline code, model card; a PEFT
    model is also exported merged into `output_dir/merged`) and, with `--push_to_hub`, push it with our card."""
    from .hub import add_pipeline_files, push_checkpoint_to_hub, write_model_card

    args = trainer.args
    main_process = trainer.is_world_process_zero()
    is_peft = not hasattr(trainer.model, "save_pretrained") or type(trainer.model).__name__.startswith("Peft")
    results: dict = {}
    if args.do_train:
        if args.push_to_hub and main_process and not is_peft:
            # Trainer's intermediate pushes upload output_dir: put the code, processor and pipeline there first.
            trainer.save_model()
            processor.save_pretrained(args.output_dir)
            add_pipeline_files(args.output_dir)
        checkpoint = args.resume_from_checkpoint or last_checkpoint(args.output_dir)
        if checkpoint:
            logger.info("resuming from %s", checkpoint)
        train_result = trainer.train(resume_from_checkpoint=checkpoint)
        trainer.save_model()
        processor.save_pretrained(args.output_dir)
        results["train"] = train_result.metrics
        if main_process:  # read by the model card (never the pickled training_args.bin)
            write_json(f"{args.output_dir}/training_args.json", {**record, **args.to_dict()})
    if args.do_train or args.do_eval or args.do_predict:
        for split, ds in eval_sets.items():
            if ds is None:
                continue
            if not generate:
                results[split] = trainer.evaluate(ds, metric_key_prefix=split)
                continue
            prediction = trainer.predict(ds, metric_key_prefix=split)
            metrics_fn = trainer.compute_metrics
            results[split] = {**prediction.metrics, "signature": metrics_fn.last_signature}
            rows = [{"name": n, "reference": r, "hypothesis": h}
                    for n, r, h in zip(ds["name"], metrics_fn.last_references, metrics_fn.last_predictions)]
            if main_process:
                write_json(f"{args.output_dir}/translations_{split}.json", rows)
    if not main_process:
        return results
    write_json(f"{args.output_dir}/results.json", results)
    _plot_curves(trainer, Path(args.output_dir), results)
    export_dir = Path(args.output_dir)
    if is_peft:  # the adapter stays in output_dir; a full, directly usable model goes to output_dir/merged
        export_dir = export_dir / "merged"
        trainer.model.merge_and_unload().save_pretrained(export_dir)
        processor.save_pretrained(export_dir)
        for name in ("results.json", "training_args.json", "training_curves.png"):
            if (Path(args.output_dir) / name).is_file():
                shutil.copyfile(Path(args.output_dir) / name, export_dir / name)
    if (export_dir / "config.json").is_file():
        add_pipeline_files(export_dir)
        write_model_card(export_dir, **(card_kwargs or {}))
    if args.push_to_hub:  # the repo the Trainer created (--hub_model_id, or the output_dir's name like Trainer)
        repo_id = getattr(trainer, "hub_model_id", None) or args.hub_model_id
        push_checkpoint_to_hub(export_dir, repo_id, token=args.hub_token, private=bool(args.hub_private_repo),
                               card_kwargs=card_kwargs)
    return results


def _plot_curves(trainer, output_dir: Path, results: dict) -> None:
    """training_curves.png beside results.json: training loss, and BLEU-4 / loss of the evaluations during training
    plus the final ones of `results` (e.g. `dev_bleu4`), against the optimizer step."""
    from .plotting import plot_training_curves

    final = [{"step": trainer.state.global_step, **metrics} for split, metrics in results.items()
             if split != "train" and isinstance(metrics, dict)]
    try:
        path = plot_training_curves([*trainer.state.log_history, *final], output_dir / "training_curves.png",
                                    title=output_dir.name)
    except Exception as err:  # a plot must never cost a finished training run its checkpoint
        logger.warning("could not draw the training curves: %s", err)
        return
    if path:
        logger.info("training curves: %s", path)


def card_kwargs_from(data: DataArguments, language_code: str | None, previous_stage_dir: str | None = None) -> dict:
    """What the model card needs beyond the folder's own files: the dataset, the language and, for a second
    stage, the first stage's training arguments."""
    from .hub import load_training_args

    kwargs: dict = {"dataset_name": "synthetic" if data.dataset == "folder" else data.dataset}
    if language_code:
        kwargs["language"] = language_code.split("_")[0]
    if previous_stage_dir and Path(previous_stage_dir).is_dir():
        previous = load_training_args(previous_stage_dir)
        if previous:
            kwargs["previous_training_args"] = previous
    return kwargs


@torch.no_grad()
def retrieval_metrics(model, dataset, collator, batch_size: int = 16) -> dict:
    """Video↔sentence retrieval over a whole split with an MMSLT pre-training model: recall@1 both ways and the
    median rank of the true sentence (how well MMLP aligned the two)."""
    model.eval()
    videos, texts = [], []
    device = next(model.parameters()).device
    for start in range(0, len(dataset), batch_size):
        batch = collator([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
        batch = {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}
        out = model(**batch)
        videos.append(out.video_embeds.cpu())
        texts.append(out.text_embeds.cpu())
    similarity = torch.cat(videos) @ torch.cat(texts).T  # (N, N) cosine similarities
    truth = torch.arange(similarity.shape[0])
    ranks = (similarity > similarity[truth, truth][:, None]).sum(1)  # 0 = the true sentence ranks first
    return {
        "video_to_text_r1": float((similarity.argmax(1) == truth).float().mean() * 100),
        "text_to_video_r1": float((similarity.argmax(0) == truth).float().mean() * 100),
        "median_rank": float(ranks.float().median() + 1),
        "num_examples": int(similarity.shape[0]),
    }


# ---------------------------------------------------------------------------------------------- outputs
def write_json(path: str | os.PathLike, payload) -> None:
    """Atomic JSON write: a crash never leaves a truncated file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


__all__ = [
    "DataArguments",
    "FeatureCollator",
    "Seq2SeqTrainingArguments",
    "SignSeq2SeqTrainer",
    "SignTrainer",
    "build_video_processor",
    "card_kwargs_from",
    "cache_visual_features",
    "last_checkpoint",
    "load_dataset_from_args",
    "parse_arguments",
    "require_splits",
    "retrieval_metrics",
    "train_and_evaluate",
    "write_json",
]
