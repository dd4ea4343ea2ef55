"""Model cards of trained checkpoints, rendered from what a checkpoint records about itself.

A card is rendered from ONE Jinja template (`model_cards/sign_translation_card.md`) with
`huggingface_hub.ModelCard.from_template` / `ModelCardData` / `EvalResult` (the `model-index` metadata), from what a
checkpoint records and nothing written by hand per model: the config (method, architecture sizes), the training
arguments (hyper-parameters of each stage), the evaluation results (`results.json` of the training scripts) and,
optionally, the dataset name, language and base model. Method facts (paper, citation, published numbers, stage
names, what each stage does, the architecture table) are class attributes of the method's config class, read
through `sign_translation.methods`; dataset facts (domain, signers, licence) are in `DATASETS` below. Nothing here
names a method: a third method's checkpoints get a full card from its config class alone.

Pushing and exporting checkpoints is `sign_translation.hub`.

Example:
```python
>>> from sign_translation import FlaLlmConfig
>>> from sign_translation.card import render_model_card
>>> card = render_model_card(
...     FlaLlmConfig.tiny(vocab_size=99),
...     eval_results={"test": {"test_bleu4": 23.09, "test_rouge_l": 45.27, "test_signature": "nrefs:1|tok:13a"}},
...     dataset_name="phoenix14t",
... )
>>> card.data.pipeline_tag, card.data.eval_results[0].metric_name, card.data.eval_results[0].metric_value
('video-text-to-text', 'BLEU-4', 23.09)

```
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .methods import STAGES, MethodSpec, get_method, normalize_stage
from .processing.errors import SignInputError

logger = logging.getLogger(__name__)

TEMPLATE_NAME = "sign_translation_card.md"
PIPELINE_TASK = "sign-translation"
BASE_TAGS = ["sign-language", "sign-language-translation", "custom_code"]

_BUFFER_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked", "final_logits_bias")
@dataclass(frozen=True)
class DatasetInfo:
    key: str
    name: str
    sign_language: str
    sign_language_code: str  # ISO 639-3
    spoken_language: str
    spoken_language_code: str  # ISO 639-1
    domain: str
    signers: str
    license: str
    url: str


DATASETS: dict[str, DatasetInfo] = {
    "phoenix14t": DatasetInfo(
        key="phoenix14t", name="RWTH-PHOENIX-Weather 2014 T", sign_language="German Sign Language (DGS)",
        sign_language_code="gsg", spoken_language="German", spoken_language_code="de",
        domain="weather forecasts of the German public TV station PHOENIX, signed by the broadcaster's interpreters",
        signers="9 signers", license="CC BY-NC-SA 3.0",
        url="https://www-i6.informatik.rwth-aachen.de/~koller/RWTH-PHOENIX-2014-T/",
    ),
    "csl_daily": DatasetInfo(
        key="csl_daily", name="CSL-Daily", sign_language="Chinese Sign Language (CSL)", sign_language_code="csl",
        spoken_language="Chinese", spoken_language_code="zh",
        domain="daily-life sentences (family, school, shopping, travel, ...) recorded in a lab setting",
        signers="10 signers", license="research use only, under the dataset's licence agreement",
        url="https://ustc-slr.github.io/datasets/2021_csl_daily/",
    ),
    "how2sign": DatasetInfo(
        key="how2sign", name="How2Sign", sign_language="American Sign Language (ASL)", sign_language_code="ase",
        spoken_language="English", spoken_language_code="en",
        domain="instructional videos (cooking, crafts, sports, ...) re-signed in a studio", signers="11 signers",
        license="CC BY-NC 4.0", url="https://how2sign.github.io/",
    ),
    "phoenix_synth": DatasetInfo(
        key="phoenix_synth", name="PHOENIX-synth", sign_language="rendered (synthetic) DGS-gloss signing",
        sign_language_code="gsg", spoken_language="German", spoken_language_code="de",
        domain="the gloss sequences, German weather-forecast sentences and splits of RWTH-PHOENIX-Weather 2014 T, "
               "signed by this package's synthetic renderer (`sign-translation synth --phoenix14t`): rendered, not "
               "recorded, video",
        signers="8 rendered signers", license="CC BY-NC-SA 3.0 (the PHOENIX14T annotations)",
        url="https://www-i6.informatik.rwth-aachen.de/~koller/RWTH-PHOENIX-2014-T/",
    ),
}

# (key in results, display name, model-index metric type, BLEU order)
METRICS = (
    ("bleu1", "BLEU-1", "bleu", 1),
    ("bleu2", "BLEU-2", "bleu", 2),
    ("bleu3", "BLEU-3", "bleu", 3),
    ("bleu4", "BLEU-4", "bleu", 4),
    ("rouge_l", "ROUGE-L", "rouge", None),
)
_METRIC_KEYS = tuple(m[0] for m in METRICS)
_RESULT_KEY = re.compile(r"^(?:(?P<split>\w+?)_)?(?P<name>bleu[1-4]|rouge_l|signature|num_examples)$")


# ---------------------------------------------------------------------------------------------- inputs
def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise SignInputError(f"{path}: {what} is not valid JSON ({err})") from err


def _config_dict(config) -> dict:
    """A config as a plain dict: a `PretrainedConfig`, a dict, a checkpoint folder or a config.json path."""
    if isinstance(config, Mapping):
        return dict(config)
    if isinstance(config, (str, os.PathLike)):
        path = Path(config)
        path = path / "config.json" if path.is_dir() else path
        if not path.is_file():
            raise SignInputError(f"{path}: no config.json (expected a checkpoint folder or a config.json file)")
        return _read_json(path, "the model config")
    if hasattr(config, "to_dict"):
        return config.to_dict()
    raise SignInputError(f"config: expected a PretrainedConfig, a dict or a path, got {type(config).__name__}")


def load_results(checkpoint_dir: str | os.PathLike) -> dict | None:
    """`results.json` written by the training scripts into their output folder, or None when there is none."""
    path = Path(checkpoint_dir) / "results.json"
    return _read_json(path, "results.json") if path.is_file() else None


def load_training_args(checkpoint_dir: str | os.PathLike) -> dict | list | None:
    """`training_args.json` (JSON, never the pickled `training_args.bin`) of a checkpoint folder, or None."""
    path = Path(checkpoint_dir) / "training_args.json"
    return _read_json(path, "training_args.json") if path.is_file() else None


def count_parameters(checkpoint_dir: str | os.PathLike) -> int | None:
    """Number of parameters stored in a folder's *.safetensors files, read from their headers with
    `safetensors.safe_open` (no weights loaded); BatchNorm statistics and other buffers are not parameters."""
    from safetensors import SafetensorError, safe_open

    files = sorted(Path(checkpoint_dir).glob("*.safetensors"))
    if not files:
        return None
    total = 0
    for file in files:
        try:
            with safe_open(str(file), framework="numpy") as handle:
                shapes = {name: handle.get_slice(name).get_shape() for name in handle.keys()}
        except (SafetensorError, OSError, ValueError) as err:
            raise SignInputError(f"{file}: not a readable safetensors file ({err})") from err
        for name, shape in shapes.items():
            if not name.endswith(_BUFFER_SUFFIXES):
                total += math.prod(shape)
    return total


def _as_mapping(args, what: str) -> dict:
    if args is None:
        return {}
    if isinstance(args, (str, os.PathLike)):
        return _read_json(Path(args), what)
    if isinstance(args, Mapping):
        return dict(args)
    if hasattr(args, "to_dict"):  # TrainingArguments: to_dict() masks tokens and turns enums into values
        return args.to_dict()
    if dataclasses.is_dataclass(args):
        return dataclasses.asdict(args)
    raise SignInputError(f"{what}: expected a dict, a dataclass, TrainingArguments or a JSON path, got "
                         f"{type(args).__name__}")


def _final_stage(config: dict, method: MethodSpec | None) -> int:
    """Stage number (1-based) of which this checkpoint is the output, from config.json `architectures`."""
    if method is None:
        return 1
    return method.stage_number(method.stage_of_architectures(config.get("architectures")))


def _stage_args(training_args, final_stage: int, method: MethodSpec | None = None) -> dict[int, dict]:
    """Training arguments per stage number.

    Accepts one set of arguments (its `stage` key says which stage; without one it is the stage that produced this
    checkpoint), a list (one per stage, in order, unless they carry `stage`), or `{"pretrain": ..., "translate":
    ...}` (any spelling of a stage: `stage1`, `1`, ...). Each set is a dict, a dataclass, `TrainingArguments` or the
    path of a JSON file (e.g. a recipe); a list INSIDE a stage's place is merged into one set, e.g.
    `[[stage1_script_args, stage1_training_args], stage2_args]`.
    """
    if training_args is None:
        return {}

    def number(stage) -> int:
        if method is not None:
            return method.stage_number(stage)
        return STAGES.index(normalize_stage(stage)) + 1

    def is_stage(key) -> bool:
        try:
            number(key)
        except SignInputError:
            return False
        return True

    if isinstance(training_args, Mapping) and training_args and all(is_stage(k) for k in training_args):
        items = [(number(k), v) for k, v in training_args.items()]
    elif isinstance(training_args, Sequence) and not isinstance(training_args, (str, bytes)):
        items = [(i + 1, v) for i, v in enumerate(training_args)]
    else:
        items = [(None, training_args)]
    stages: dict[int, dict] = {}
    for position, args in items:
        merged: dict = {}
        for part in args if isinstance(args, (list, tuple)) else [args]:  # e.g. (script args, TrainingArguments)
            merged.update(_as_mapping(part, "training_args"))
        stage = merged.get("stage")
        stages[number(stage) if stage is not None else position or final_stage] = merged
    return stages


def _eval_splits(eval_results, default_split: str) -> dict[str, dict]:
    """`{split: {"bleu1".., "rouge_l", "signature", "num_examples"}}` from results.json's shape or a flat dict."""
    if eval_results is None:
        return {}
    if isinstance(eval_results, (str, os.PathLike)):
        eval_results = _read_json(Path(eval_results), "evaluation results")
    if not isinstance(eval_results, Mapping):
        raise SignInputError(
            f"eval_results: expected results.json's dict ({{'test': {{'test_bleu4': ..}}}}), a flat dict "
            f"({{'bleu4': ..}}) or a list of EvalResult, got {type(eval_results).__name__}"
        )
    nested = {k: v for k, v in eval_results.items() if isinstance(v, Mapping)}
    groups = [(split, metrics) for split, metrics in nested.items() if split != "train"] if nested else [
        (None, eval_results)
    ]
    splits: dict[str, dict] = {}
    for group_split, metrics in groups:
        for key, value in metrics.items():
            match = _RESULT_KEY.match(str(key))
            if not match or value is None:
                continue
            split = group_split or match.group("split") or default_split
            name = match.group("name")
            if name in _METRIC_KEYS:
                try:
                    value = float(value)
                except (TypeError, ValueError) as err:
                    raise SignInputError(f"eval_results[{key!r}]: expected a number, got {value!r}") from err
            splits.setdefault(split, {})[name] = value
    return {split: values for split, values in splits.items() if any(k in values for k in _METRIC_KEYS)}


# ---------------------------------------------------------------------------------------------- describing
def _fmt(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "-".join(_fmt(v) for v in value)
    return str(value)


def _human(count: int) -> str:
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f}{unit}"
    return str(count)


def describe_submodel(sub: Mapping | None) -> str:
    """One line about a sub-model config (backbone, translator, LLM, text encoder) from its fields alone."""
    if not sub:
        return "—"
    sub = dict(sub)
    kind = sub.get("model_type", "?")
    parts = [f"`{kind}`"]
    if "depths" in sub and "hidden_sizes" in sub:  # ResNet-like backbone
        layer = sub.get("layer_type", "")
        depths, widths = sub["depths"], sub["hidden_sizes"]
        if kind == "resnet" and list(depths) == [2, 2, 2, 2] and list(widths) == [64, 128, 256, 512] and layer == "basic":
            parts[0] = "ResNet-18 (`resnet`)"
        parts.append(f"{layer} blocks, depths {_fmt(depths)}, widths {_fmt(widths)} → {widths[-1]}-d per frame")
        return ", ".join(parts)
    encoder = sub.get("encoder_layers", sub.get("num_layers"))
    decoder = sub.get("decoder_layers", sub.get("num_decoder_layers"))
    hidden = sub.get("d_model", sub.get("hidden_size"))
    heads = sub.get("encoder_attention_heads", sub.get("num_heads", sub.get("num_attention_heads")))
    ffn = sub.get("encoder_ffn_dim", sub.get("d_ff", sub.get("intermediate_size")))
    if encoder is not None and decoder is not None and sub.get("is_encoder_decoder", True):
        parts.append(f"encoder-decoder, {encoder}+{decoder} layers")
    elif sub.get("num_hidden_layers") is not None:
        parts.append(f"{sub['num_hidden_layers']} layers")
    for label, value in (("hidden", hidden), ("heads", heads), ("FFN", ffn), ("vocabulary", sub.get("vocab_size"))):
        if value is not None:
            parts.append(f"{label} {value}")
    return ", ".join(parts)


_FIELD = re.compile(r"\{([\w.]+)\}")


def _config_value(config: Mapping, path: str):
    value = config
    for part in path.split("."):
        if not isinstance(value, Mapping) or value.get(part) is None:
            return None
        value = value[part]
    return value


def _architecture_rows(config: dict, stage: int, method: MethodSpec | None = None) -> list[tuple[str, str]]:
    """(component, configuration) rows from the method's `card_architecture` (its config class): the rows of the
    checkpoint's stage, each text filled from config.json, rows whose fields the config lacks left out. Without a
    method, one row per sub-config."""
    if method is None or not method.card_architecture:
        rows = []
        for key, value in config.items():
            if key.endswith("_config") and isinstance(value, Mapping):
                label = "Frame backbone" if key == "vision_config" else key.removesuffix("_config").replace("_", " ")
                rows.append((label[0].upper() + label[1:], describe_submodel(value)))
        return rows
    stage_name = method.stage_names[stage - 1]
    rows = []
    for component, text, stages in method.card_architecture:
        if stages is not None and stage_name not in stages:
            continue
        if text.startswith("submodel:"):
            sub = _config_value(config, text.removeprefix("submodel:"))
            if sub:
                rows.append((component, describe_submodel(sub)))
            continue
        values = {name: _config_value(config, name) for name in _FIELD.findall(text)}
        if any(v is None for v in values.values()):
            continue
        rows.append((component, _FIELD.sub(lambda m, values=values: _fmt(values[m.group(1)]), text)))
    return rows


def _hyperparameter_rows(args: dict, config: dict, stage: int) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []

    def add(label: str, value) -> None:
        if value not in (None, "", []):
            rows.append((label, _fmt(value) if not isinstance(value, str) else value))

    optim = args.get("optim")
    if optim:
        detail = [str(optim)]
        if args.get("optim_args"):
            detail.append(f"({args['optim_args']})")
        if "adam" in str(optim) and "adam_beta1" in args:
            detail.append(f"betas ({_fmt(args['adam_beta1'])}, {_fmt(args.get('adam_beta2'))}), "
                          f"eps {_fmt(args.get('adam_epsilon'))}")
        add("optimizer", " ".join(detail))
    lr = args.get("learning_rate")
    if lr is not None and args.get("llm_learning_rate") is not None and stage >= 2:
        add("learning rate", f"{_fmt(lr)} (adapter), {_fmt(args['llm_learning_rate'])} (LLM)")
    else:
        add("learning rate", lr)
    for pattern, value in (args.get("learning_rates") or {}).items():
        add(f"learning rate of `{pattern}`", value)
    add("weight decay", args.get("weight_decay"))
    scheduler = args.get("lr_scheduler_type")
    if scheduler:
        warmup = args.get("warmup_ratio") or args.get("warmup_steps")
        add("LR scheduler", f"{scheduler}" + (f", warm-up {_fmt(warmup)}" if warmup else ""))
    batch = args.get("per_device_train_batch_size")
    if batch is not None:
        text = f"{batch} per device"
        if (args.get("gradient_accumulation_steps") or 1) > 1:
            text += f" × {args['gradient_accumulation_steps']} accumulation steps"
        devices = args.get("world_size") or args.get("num_processes")
        if devices:
            text += f" × {devices} devices = {batch * (args.get('gradient_accumulation_steps') or 1) * devices}"
        add("batch size", text)
    if (args.get("max_steps") or -1) > 0:
        add("training steps", args["max_steps"])
    else:
        add("epochs", args.get("num_train_epochs"))
    smoothing = config.get("label_smoothing") if config.get("label_smoothing") is not None else args.get(
        "label_smoothing_factor")
    add("label smoothing", smoothing)
    frames = []
    if args.get("image_size"):
        frames.append(f"resize {args['image_size']}×{args['image_size']}")
    if args.get("crop_size"):
        frames.append(f"crop {args['crop_size']}×{args['crop_size']} (random in training, centre at evaluation)")
    if args.get("frame_stride"):
        frames.append(f"every {args['frame_stride']}th frame" if args["frame_stride"] > 1 else "every frame")
    if args.get("max_frames"):
        frames.append(f"at most {args['max_frames']} frames")
    add("frames", ", ".join(frames))
    if args.get("augment") is not None:
        augment = "off"
        if args["augment"]:
            augment = (f"rotation ±{_fmt(args.get('augment_rotation', 30.0))}°, scale "
                       f"{_fmt(args.get('augment_scale_min', 0.8))}–{_fmt(args.get('augment_scale_max', 1.2))}, "
                       f"translation ±{_fmt(args.get('augment_translate', 10.0))} px, one draw per clip")
        add("augmentation", augment)
    if args.get("cache_visual_features"):
        add("visual features", "cached once from the frozen encoder (no augmentation in this stage)")
    if (args.get("lora_r") or 0) > 0:
        add("LoRA", f"r {args['lora_r']}, alpha {args.get('lora_alpha')}, dropout {_fmt(args.get('lora_dropout'))}, "
                    f"on {args.get('lora_target_modules')}")
    precision = "bf16" if args.get("bf16") else "fp16" if args.get("fp16") else None
    add("mixed precision", precision)
    add("beam size (evaluation)", args.get("generation_num_beams"))
    add("seed", args.get("seed"))
    for key, label in (("tokenizer_name_or_path", "tokenizer"), ("vision_model_name_or_path", "backbone weights"),
                       ("llm_name_or_path", "LLM weights")):
        value = args.get(key)
        if isinstance(value, str) and _looks_like_hub_id(value):
            add(label, f"`{value}`")
    if args.get("trim_vocabulary"):
        add("vocabulary", "trimmed to the training sentences")
    return rows


def _looks_like_hub_id(value: str) -> bool:
    """`org/name` and not a local path (cards must not carry paths of the author's machine)."""
    return bool(re.fullmatch(r"[\w.-]+/[\w.-]+", value)) and not os.path.exists(value)


def _frames_from_processor(processor_config: Mapping | None) -> str | None:
    if not processor_config:
        return None
    video = processor_config.get("video_processor", processor_config)
    parts = []
    size, crop = video.get("size") or {}, video.get("crop_size") or {}
    if size.get("height"):
        parts.append(f"resized to {size['height']}×{size['width']}")
    if video.get("do_center_crop", True) and crop.get("height"):
        parts.append(f"centre-cropped to {crop['height']}×{crop['width']}")
    stride = video.get("frame_stride") or 1
    parts.append(f"every {stride}th frame kept" if stride > 1 else "every frame kept")
    if video.get("max_frames"):
        parts.append(f"at most {video['max_frames']} frames")
    if video.get("image_mean"):
        parts.append("ImageNet mean/std normalisation" if [round(m, 3) for m in video["image_mean"]] == [0.485, 0.456, 0.406]
                     else f"mean {video['image_mean']}, std {video.get('image_std')}")
    return ", ".join(parts)


def _language_metadata(language, dataset: DatasetInfo | None, config: dict) -> list[str] | None:
    if language:
        return [language] if isinstance(language, str) else list(language)
    if dataset:
        return [dataset.spoken_language_code, dataset.sign_language_code]
    code = config.get("language_code") or (config.get("text_config") or {}).get("language_code")
    return [code.split("_")[0]] if isinstance(code, str) and code else None


# ---------------------------------------------------------------------------------------------- rendering
def pretrained_weight_sources(config: Mapping) -> list[dict]:
    """Where the checkpoint's pretrained weights came from: the provenance records (offline model package, version,
    sha256, GGUF dequantization) that converted LLMs and offline description encoders leave in the config."""
    from .modeling.pretrained_sources import PROVENANCE_KEY

    found: dict[str, dict] = {}

    def walk(value) -> None:
        if isinstance(value, Mapping):
            record = value.get(PROVENANCE_KEY)
            if isinstance(record, Mapping):
                found.setdefault(str(record.get("sha256")), dict(record))
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(config)
    return list(found.values())


def _auto_class(auto_map: Mapping, architecture: str | None, final: bool) -> str:
    """The Auto class the card's remote-code snippet uses: the `auto_map` entry that maps to the checkpoint's own
    class (a first stage may be registered under AutoModelForPreTraining, AutoModel and, when it translates on its
    own, AutoModelForSeq2SeqLM); without an auto_map, AutoModelForSeq2SeqLM for a final model, else
    AutoModelForPreTraining (AutoModel gives the method's front end, without a head)."""
    preference = ("AutoModelForSeq2SeqLM", "AutoModelForPreTraining", "AutoModel")
    if architecture:
        for name in preference:
            refs = auto_map.get(name)
            refs = refs if isinstance(refs, (list, tuple)) else [refs]
            if any(isinstance(r, str) and r.rsplit(".", 1)[-1].lower() == architecture.lower() for r in refs):
                return name
    for name in preference:
        if name in auto_map:
            return name
    return "AutoModelForSeq2SeqLM" if final else "AutoModelForPreTraining"


def _template_path() -> Path:
    return Path(str(resources.files("sign_translation.model_cards").joinpath(TEMPLATE_NAME)))


def render_model_card(
    config,
    training_args=None,
    eval_results=None,
    dataset_name: str | None = None,
    language: str | Sequence[str] | None = None,
    model_id: str | None = None,
    base_model: str | Sequence[str] | None = None,
    license: str = "apache-2.0",  # noqa: A002 — the metadata field's name
    num_parameters: int | None = None,
    processor_config: Mapping | None = None,
    train_metrics: Mapping | None = None,
    model_name: str | None = None,
    tags: Sequence[str] | None = None,
    default_split: str = "test",
    template_path: str | os.PathLike | None = None,
    training_curves: str | None = None,
) -> ModelCard:
    """Render the model card of a checkpoint from its config, training arguments and evaluation results.

    Args:
        config: the model config (`PretrainedConfig`, its dict, or a checkpoint folder / config.json path).
        training_args: hyper-parameters per stage — one set (a dict, a dataclass, `TrainingArguments`, a JSON path;
            its `stage` key or else the checkpoint's own stage says which), a list with one set per stage, or
            `{"stage1": ..., "stage2": ...}`; a set may itself be a list of parts to merge (script arguments +
            `TrainingArguments`). Only known hyper-parameters are shown; paths never are.
        eval_results: a list of `EvalResult`, `results.json`'s dict (`{"dev": {"dev_bleu4": ..}, "test": ..}`; split
            prefixes are stripped, "train" is skipped), or a flat dict `{"bleu4": .., "signature": ..}` (for
            `default_split`).
        dataset_name: dataset id; the loader names `phoenix14t`, `csl_daily`, `how2sign` add domain, signers,
            licence and languages to the card.
        language: language codes for the metadata (default: from the dataset, else the config's language code).
        model_id: the repo id, used in the usage snippets and as the model-index name.
        base_model: Hub id(s) of the pretrained model(s) this one derives from (default: the LLM named in the
            stage-2 arguments when that is a Hub id).
        license: licence of the weights (metadata).
        num_parameters: parameter count for the description (`count_parameters(folder)` reads it from safetensors).
        processor_config: `processor_config.json`'s dict, for the input description.
        train_metrics: `results.json["train"]` (epochs, loss) for the training section.

    Returns:
        a `huggingface_hub.ModelCard`; `card.save(path)` writes README.md. `card.validate()` needs the network.
    """
    config = _config_dict(config)
    model_type = config.get("model_type")
    method = get_method(model_type)
    dataset = DATASETS.get(dataset_name) if dataset_name else None
    stage = _final_stage(config, method)
    stage_args = _stage_args(training_args, stage, method)

    if isinstance(eval_results, EvalResult):
        eval_results = [eval_results]
    if isinstance(eval_results, list) and all(isinstance(r, EvalResult) for r in eval_results):
        results_list = list(eval_results)
        splits: dict[str, dict] = {}
        names = {m[1]: m[0] for m in METRICS}
        for r in results_list:
            key = names.get(r.metric_name or "")
            if key:
                splits.setdefault(r.dataset_split or default_split, {})[key] = r.metric_value
    else:
        splits = _eval_splits(eval_results, default_split)
        results_list = []
        for split, values in splits.items():
            for key, display, metric_type, order in METRICS:
                if key not in values:
                    continue
                metric_args = {"max_order": order} if order else {}
                if values.get("signature") and metric_type == "bleu":
                    metric_args["signature"] = values["signature"]
                results_list.append(EvalResult(
                    task_type="translation",
                    task_name="Sign Language Translation",
                    dataset_type=dataset_name or "unspecified",
                    dataset_name=dataset.name if dataset else (dataset_name or "unspecified"),
                    dataset_split=split,
                    metric_type=metric_type,
                    metric_name=display,
                    metric_value=values[key],
                    metric_config="sacrebleu" if metric_type == "bleu" else "rouge-l",
                    metric_args=metric_args or None,
                ))

    weight_sources = pretrained_weight_sources(config)
    if base_model is None:
        llm = (stage_args.get(2) or {}).get("llm_name_or_path")
        base_model = llm if isinstance(llm, str) and _looks_like_hub_id(llm) else None
    if base_model is None and weight_sources:  # offline packages name the Hub model they were made from
        base_model = [s["upstream"] for s in weight_sources if _looks_like_hub_id(str(s.get("upstream", "")))] or None
    method_tag = [method.tag] if method else ([model_type.replace("_", "-")] if model_type else [])
    card_data = ModelCardData(
        language=_language_metadata(language, dataset, config),
        license=license,
        library_name="transformers",
        pipeline_tag="video-text-to-text",
        tags=[*BASE_TAGS, *method_tag, *(tags or [])],
        datasets=[dataset_name] if dataset_name else None,
        base_model=base_model,
        metrics=sorted({r.metric_type for r in results_list}) or None,
        # the model-index name; ModelCardData writes a stray `model_name` key when there are no results
        model_name=(model_name or (model_id.split("/")[-1] if model_id else (method.name if method else model_type)))
        if results_list else None,
        eval_results=results_list or None,
    )

    architectures = config.get("architectures") or []
    auto_class = _auto_class(config.get("auto_map") or {}, architectures[0] if architectures else None,
                             final=method is None or stage == len(method.stages))
    paper = dict((method.paper.get("results") or {}) if method else {})
    scalar_config = sorted((k, _fmt(v)) for k, v in config.items()
                           if isinstance(v, (int, float, str, bool)) and not k.startswith("_")
                           and k not in ("transformers_version", "model_type"))
    num_stages = len(method.stages) if method else stage
    stage_rows = []
    for number in range(1, num_stages + 1):
        facts = method.stages[number - 1] if method else {}
        args = stage_args.get(number)
        stage_rows.append({
            "number": number,
            "name": facts.get("paper_name", f"stage {number}"),
            "key": facts.get("name"),
            "description": facts.get("description"),
            "recorded": args is not None,
            "hyperparameters": _hyperparameter_rows(args, config, number) if args is not None else [],
            "in_checkpoint": number <= stage,
        })
    method_vars = None
    if method:
        method_vars = {"key": method.key, "name": method.name, "tag": method.tag, "paper_url": method.paper["url"],
                       "stages": [s["paper_name"] for s in method.stages], **method.paper}
    template_vars = {
        "method": method_vars,
        "model_type": model_type,
        "architecture_class": architectures[0] if architectures else None,
        "stage": stage,
        "num_stages": num_stages,
        "architecture": _architecture_rows(config, stage, method),
        "num_parameters": num_parameters,
        "num_parameters_human": _human(num_parameters) if num_parameters else None,
        "dataset": dataset,
        "dataset_name": dataset_name,
        "languages": card_data.language,
        "repo_id": model_id or "path/to/checkpoint-or-repo-id",
        "auto_class": auto_class,
        "stages": stage_rows,
        "train_metrics": dict(train_metrics or {}),
        "eval_rows": [{"split": s, **v} for s, v in splits.items()],
        "metrics": METRICS,
        "signatures": sorted({v["signature"] for v in splits.values() if v.get("signature")}),
        "paper_result": paper.get(dataset_name) if dataset_name else None,
        "frames": _frames_from_processor(processor_config),
        "scalar_config": scalar_config,
        "pipeline_task": PIPELINE_TASK,
        "license_name": license,
        "base_model_ids": [base_model] if isinstance(base_model, str) else list(base_model or []),
        "transformers_version": config.get("transformers_version"),
        "training_curves": training_curves,  # relative path of the loss / BLEU-4 PNG in the repo
        "weight_sources": weight_sources,
    }
    card = ModelCard.from_template(card_data, template_path=str(template_path or _template_path()), **template_vars)
    # Optional template blocks leave runs of blank lines behind; Markdown needs one.
    return ModelCard(re.sub(r"\n{3,}", "\n\n", str(card)).rstrip() + "\n")


TRAINING_CURVES = "training_curves.png"  # written beside results.json by every training run


def write_model_card(checkpoint_dir: str | os.PathLike, **card_kwargs) -> Path:
    """Render the card of a checkpoint folder and write it to `README.md` atomically; returns the path.

    Reads `config.json`, `results.json` (evaluation results + training metrics), `training_args.json` when present,
    `processor_config.json`, and counts parameters from the safetensors headers; `card_kwargs` go to
    `render_model_card` and override what was read (e.g. `training_args=`, `dataset_name=`, `model_id=`).
    """
    folder = Path(checkpoint_dir)
    if not (folder / "config.json").is_file():
        raise SignInputError(f"{folder}: no config.json — not a saved checkpoint folder")
    results = load_results(folder) or {}
    previous = card_kwargs.pop("previous_training_args", None)  # e.g. stage 1's, for a stage-2 checkpoint
    current = load_training_args(folder)
    kwargs: dict[str, Any] = {
        "eval_results": {k: v for k, v in results.items() if k not in ("train", "retrieval")} or None,
        "train_metrics": results.get("train"),
        "training_args": [previous, current] if previous and current else current,
        "num_parameters": count_parameters(folder),
    }
    if (folder / "processor_config.json").is_file():
        kwargs["processor_config"] = _read_json(folder / "processor_config.json", "processor_config.json")
    if (folder / TRAINING_CURVES).is_file():
        kwargs["training_curves"] = TRAINING_CURVES
    kwargs.update(card_kwargs)
    card = render_model_card(folder / "config.json", **kwargs)
    path = folder / "README.md"
    tmp = path.with_name(f"README.md.{os.getpid()}.tmp")
    tmp.write_text(str(card), encoding="utf-8")
    os.replace(tmp, path)
    return path




__all__ = [
    "DATASETS",
    "METRICS",
    "TRAINING_CURVES",
    "count_parameters",
    "describe_submodel",
    "load_results",
    "load_training_args",
    "pretrained_weight_sources",
    "render_model_card",
    "write_model_card",
]
