"""Model cards and Hub pushes for trained checkpoints.

A card is rendered from ONE Jinja template (`model_cards/sign_translation_card.md`) with
`huggingface_hub.ModelCard.from_template`, from what a checkpoint records about itself and nothing written by hand
per model: the config (method, architecture sizes), the training arguments (hyper-parameters of each stage), the
evaluation results (`results.json` of the training scripts) and, optionally, the dataset name, language and base
model. Method facts (paper, citation, published numbers) and dataset facts (domain, signers, licence) live in the
two tables below, keyed on `config.model_type` and on the dataset loader name.

`push_checkpoint_to_hub` checks that a folder is a complete, loadable checkpoint (weights as safetensors, config with
`auto_map`, the code files that `trust_remote_code=True` needs, processor and tokenizer files), refreshes its
README.md, and uploads it in one commit, leaving out Trainer state (checkpoint-*/, optimizer/scheduler states,
`training_args.bin`), feature caches and anything pickled.

Example:
```python
>>> from sign_translation import FlaLlmConfig
>>> from sign_translation.hub import render_model_card
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
import os
import re
import shutil
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .processing.errors import SignInputError

logger = logging.getLogger(__name__)

TEMPLATE_NAME = "sign_translation_card.md"
PIPELINE_TASK = "sign-translation"
BASE_TAGS = ["sign-language", "sign-language-translation", "custom_code"]

# Never uploaded: Trainer state, pickles, feature caches, temporary files, logs, dataset-derived predictions.
UPLOAD_IGNORE_PATTERNS = [
    "checkpoint-*/",
    "*/checkpoint-*/",
    "feature_cache/",
    "*.arrow",
    "runs/",
    "training_args.bin",
    "optimizer.pt",
    "scheduler.pt",
    "scaler.pt",
    "rng_state*.pth",
    "*.bin",
    "*.pt",
    "*.pth",
    "*.pkl",
    "*.pickle",
    "*.ckpt",
    "*.tmp",
    "*.lock",
    "translations_*.json",
    "__pycache__/",
    "*.pyc",
]
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
_BUFFER_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked", "final_logits_bias")
_TOKENIZER_FILES = ("tokenizer.json", "sentencepiece.bpe.model", "spiece.model", "tokenizer.model", "vocab.json",
                    "vocab.txt")


@dataclass(frozen=True)
class MethodInfo:
    """Facts about a published method: what the card cites and how its stages are named."""

    key: str
    name: str
    tag: str
    title: str
    authors: str
    venue: str
    arxiv: str
    bibtex: str
    stages: tuple[str, ...]
    code_url: str | None = None
    # dataset key -> (BLEU-4, ROUGE-L) on the test split, as published (nlg-eval BLEU)
    paper_results: tuple[tuple[str, float, float], ...] = ()

    @property
    def paper_url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv}"


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


METHODS: dict[str, MethodInfo] = {
    "fla_llm": MethodInfo(
        key="fla_llm",
        name="FLa-LLM",
        tag="fla-llm",
        title="Factorized Learning Assisted with Large Language Model for Gloss-free Sign Language Translation",
        authors="Zhigang Chen, Benjia Zhou, Jun Li, Jun Wan, Zhen Lei, Ning Jiang, Quan Lu, Guoqing Zhao",
        venue="LREC-COLING 2024",
        arxiv="2403.12556",
        stages=("visual initialising", "LLM fine-tuning"),
        paper_results=(("phoenix14t", 23.09, 45.27), ("csl_daily", 14.20, 37.25), ("how2sign", 9.66, 27.81)),
        bibtex="""@inproceedings{chen-etal-2024-factorized,
    title = "Factorized Learning Assisted with Large Language Model for Gloss-free Sign Language Translation",
    author = "Chen, Zhigang and Zhou, Benjia and Li, Jun and Wan, Jun and Lei, Zhen and Jiang, Ning and Lu, Quan and Zhao, Guoqing",
    booktitle = "Proceedings of the 2024 Joint International Conference on Computational Linguistics, Language Resources and Evaluation (LREC-COLING 2024)",
    year = "2024",
    address = "Torino, Italia",
    publisher = "ELRA and ICCL",
    pages = "7071--7081",
    url = "https://aclanthology.org/2024.lrec-main.620",
    eprint = "2403.12556",
    archivePrefix = "arXiv",
}""",
    ),
    "mmslt": MethodInfo(
        key="mmslt",
        name="MMSLT",
        tag="mmslt",
        title="Leveraging the Power of MLLMs for Gloss-Free Sign Language Translation",
        authors="Jungeun Kim, Hyeongwoo Jeon, Jongseong Bae, Ha Young Kim",
        venue="ICCV 2025",
        arxiv="2411.16789",
        stages=("multimodal-language pre-training (MMLP)", "translation"),
        code_url="https://github.com/hwjeon98/MMSLT",
        paper_results=(("phoenix14t", 25.73, 47.97), ("csl_daily", 21.11, 48.92)),
        bibtex="""@inproceedings{kim2025leveraging,
    title = {Leveraging the Power of MLLMs for Gloss-Free Sign Language Translation},
    author = {Kim, Jungeun and Jeon, Hyeongwoo and Bae, Jongseong and Kim, Ha Young},
    booktitle = {Proceedings of the IEEE/CVF International Conference on Computer Vision (ICCV)},
    year = {2025},
    eprint = {2411.16789},
    archivePrefix = {arXiv},
}""",
    ),
}

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
    """Number of parameters stored in a folder's *.safetensors files, read from their headers (no weights loaded)."""
    files = sorted(Path(checkpoint_dir).glob("*.safetensors"))
    if not files:
        return None
    total = 0
    for file in files:
        try:
            with open(file, "rb") as handle:
                (length,) = struct.unpack("<Q", handle.read(8))
                header = json.loads(handle.read(length))
        except (struct.error, ValueError) as err:
            raise SignInputError(f"{file}: not a readable safetensors file ({err})") from err
        for name, entry in header.items():
            # BatchNorm statistics are buffers, not parameters
            if name != "__metadata__" and not name.endswith(_BUFFER_SUFFIXES):
                count = 1
                for dim in entry["shape"]:
                    count *= dim
                total += count
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


def _final_stage(config: dict, method: MethodInfo | None) -> int:
    architectures = " ".join(config.get("architectures") or [])
    if re.search(r"VisualInitiali[sz]ation|PreTraining|Pretraining", architectures):
        return 1
    return len(method.stages) if method else 1


def _stage_args(training_args, final_stage: int) -> dict[int, dict]:
    """Training arguments per stage number.

    Accepts one set of arguments (its `stage` key says which stage; without one it is the stage that produced this
    checkpoint), a list (one per stage, in order, unless they carry `stage`), or `{"stage1": ..., "stage2": ...}`.
    Each set is a dict, a dataclass, `TrainingArguments` or the path of a JSON file (e.g. a recipe); a list INSIDE
    a stage's place is merged into one set, e.g. `[[stage1_script_args, stage1_training_args], stage2_args]`.
    """
    if training_args is None:
        return {}
    if isinstance(training_args, Mapping) and training_args and all(
        re.fullmatch(r"(stage)?_?\d", str(k)) for k in training_args
    ):
        items = [(int(str(k)[-1]), v) for k, v in training_args.items()]
    elif isinstance(training_args, Sequence) and not isinstance(training_args, (str, bytes)):
        items = [(i + 1, v) for i, v in enumerate(training_args)]
    else:
        items = [(None, training_args)]
    stages: dict[int, dict] = {}
    for position, args in items:
        merged: dict = {}
        for part in args if isinstance(args, (list, tuple)) else [args]:  # e.g. (script args, TrainingArguments)
            merged.update(_as_mapping(part, "training_args"))
        stage = merged.get("stage") or position or final_stage
        stage = {"pretrain": 1, "translate": 2}.get(stage, stage)  # MMSLT's script names its stages
        stages[int(stage)] = merged
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


def _architecture_rows(config: dict, stage: int) -> list[tuple[str, str]]:
    """(component, configuration) rows, keyed on model_type; unknown types fall back to the sub-configs."""
    model_type = config.get("model_type")
    rows: list[tuple[str, str]] = []
    if config.get("vision_config"):
        rows.append(("Frame backbone", describe_submodel(config["vision_config"])))
    if model_type == "fla_llm":
        rows.append(("Local temporal module",
                     f"Conv1D (kernel {config.get('temporal_kernel_size')}, length-preserving) → BatchNorm → ReLU, "
                     f"{config.get('temporal_hidden_size')} channels"))
        if stage == 1:
            translator = config.get("translator_config") or {}
            rows.append(("VL-adapter", f"MLP, hidden {config.get('vl_adapter_hidden_size')} → "
                                       f"{translator.get('d_model', '?')}"))
            rows.append(("Light-T translator", describe_submodel(translator) + ", sinusoidal positions"))
        else:
            text = config.get("text_config") or {}
            hidden = text.get("d_model", text.get("hidden_size", "?"))
            rows.append(("LLM-adapter", f"MLP, hidden {config.get('llm_adapter_hidden_size')} → {hidden} "
                                        f"(replaces the LLM's input word embeddings)"))
            rows.append(("LLM", describe_submodel(text)))
            rows.append(("Frozen in stage 2", "backbone + temporal module" if config.get("freeze_visual_encoder")
                         else "nothing (visual encoder fine-tuned too)"))
        rows.append(("Frame sampling", f"every {config.get('frame_stride', 1)}th frame"
                     if config.get("frame_stride", 1) > 1 else "every frame"))
    elif model_type == "mmslt":
        # MMSLT field names follow methods.md; missing ones are simply left out.
        mapper_in = config.get("description_mapper_hidden_size")
        description = config.get("description_size", config.get("description_hidden_size"))
        if mapper_in or description:
            rows.append(("Description mapper", f"MLP, hidden {mapper_in or '?'} → {description or '?'} "
                                               "(predicts the BERT [CLS] vector of each frame's MLLM description)"))
        temporal = config.get("temporal_hidden_size")
        if temporal:
            rows.append(("Temporal conv", f"K5-P2-K5-P2 over [visual; description] features → {temporal} channels"))
        for key, label in (("description_encoder_config", "Description encoder (offline)"),
                           ("text_config", "LLM")):
            if config.get(key):
                rows.append((label, describe_submodel(config[key])))
        if config.get("lora_r"):
            rows.append(("LoRA", f"r {config['lora_r']}, alpha {config.get('lora_alpha', '?')}, dropout "
                                 f"{config.get('lora_dropout', '?')}"))
    else:
        for key, value in config.items():
            if key.endswith("_config") and isinstance(value, Mapping) and key != "vision_config":
                rows.append((key.removesuffix("_config").replace("_", " ").capitalize(), describe_submodel(value)))
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
    if lr is not None and args.get("llm_learning_rate") is not None and stage >= 2 and config.get("model_type") == "fla_llm":
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
    method = METHODS.get(model_type)
    dataset = DATASETS.get(dataset_name) if dataset_name else None
    stage = _final_stage(config, method)
    stage_args = _stage_args(training_args, stage)

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

    auto_map = config.get("auto_map") or {}
    auto_class = "AutoModelForSeq2SeqLM" if stage >= 2 or "AutoModelForSeq2SeqLM" in auto_map else "AutoModel"
    if "AutoModelForSeq2SeqLM" not in auto_map and "AutoModel" in auto_map:
        auto_class = "AutoModel"
    architectures = config.get("architectures") or []
    paper = dict((k, (b, r)) for k, b, r in method.paper_results) if method else {}
    scalar_config = sorted((k, _fmt(v)) for k, v in config.items()
                           if isinstance(v, (int, float, str, bool)) and not k.startswith("_")
                           and k not in ("transformers_version", "model_type"))
    stage_rows = []
    for number in range(1, (len(method.stages) if method else stage) + 1):
        name = method.stages[number - 1] if method and number <= len(method.stages) else f"stage {number}"
        args = stage_args.get(number)
        stage_rows.append({
            "number": number,
            "name": name,
            "recorded": args is not None,
            "hyperparameters": _hyperparameter_rows(args, config, number) if args is not None else [],
            "in_checkpoint": number <= stage,
        })
    template_vars = {
        "method": method,
        "model_type": model_type,
        "architecture_class": architectures[0] if architectures else None,
        "stage": stage,
        "num_stages": len(method.stages) if method else stage,
        "architecture": _architecture_rows(config, stage),
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


# ---------------------------------------------------------------------------------------------- pushing
def _code_modules(auto_map: Mapping) -> set[str]:
    modules = set()
    for value in auto_map.values():
        for ref in value if isinstance(value, (list, tuple)) else [value]:
            # "other/repo--module.Class" points into another repo: its code is not expected in this folder
            if isinstance(ref, str) and "." in ref and "--" not in ref:
                modules.add(ref.rsplit(".", 1)[0])
    return modules


def check_checkpoint(checkpoint_dir: str | os.PathLike) -> None:
    """Raise `SignInputError` listing everything that keeps a folder from loading as a Hub checkpoint."""
    folder = Path(checkpoint_dir)
    if not folder.is_dir():
        raise SignInputError(f"{folder}: not a folder (expected a checkpoint saved with save_pretrained)")
    problems: list[str] = []
    auto_map: dict = {}
    config_path = folder / "config.json"
    if not config_path.is_file():
        problems.append("config.json (model.save_pretrained(folder) writes it)")
    else:
        config = _read_json(config_path, "config.json")
        auto_map.update(config.get("auto_map") or {})
        if not config.get("auto_map"):
            problems.append("`auto_map` in config.json (import sign_translation before saving, so the classes are "
                            "registered for remote code)")
        if not config.get("model_type"):
            problems.append("`model_type` in config.json")
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        shards = sorted(set(_read_json(index, "the safetensors index").get("weight_map", {}).values()))
        problems += [f"{shard} (listed in model.safetensors.index.json)" for shard in shards
                     if not (folder / shard).is_file()]
    elif not any(folder.glob("*.safetensors")):
        pickled = sorted(p.name for p in folder.iterdir() if p.suffix in _PICKLE_SUFFIXES)
        hint = f" — found only pickled weights ({', '.join(pickled)}), which are never uploaded; re-save with " \
               "save_pretrained (safetensors)" if pickled else ""
        problems.append(f"model weights *.safetensors{hint}")
    processor_path = folder / "processor_config.json"
    if not processor_path.is_file():
        problems.append("processor_config.json (processor.save_pretrained(folder) writes it)")
    else:
        processor = _read_json(processor_path, "processor_config.json")
        auto_map.update(processor.get("auto_map") or {})
        auto_map.update((processor.get("video_processor") or {}).get("auto_map") or {})
    if not (folder / "tokenizer_config.json").is_file():
        problems.append("tokenizer_config.json")
    else:
        auto_map.update(_read_json(folder / "tokenizer_config.json", "tokenizer_config.json").get("auto_map") or {})
    if not any((folder / name).is_file() for name in _TOKENIZER_FILES):
        problems.append(f"a tokenizer vocabulary file (one of {', '.join(_TOKENIZER_FILES)})")
    # Code files named in auto_map and, transitively, the siblings they import as `from .module import X`.
    pending, seen = sorted(_code_modules(auto_map)), set()
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        path = folder / f"{module.replace('.', '/')}.py"
        if not path.is_file():
            problems.append(f"{path.name} (code file for trust_remote_code=True)")
            continue
        imports = re.findall(r"^\s*from\s+\.([\w.]+)\s+import", path.read_text(encoding="utf-8"), re.MULTILINE)
        pending.extend(sorted(set(imports) - seen))
    if problems:
        raise SignInputError(f"{folder} is not a complete checkpoint; missing:\n  - " + "\n  - ".join(problems))
    from .modeling.checkpoint_loading import verify_checkpoint_files

    verify_checkpoint_files(folder)  # weights present are also complete: headers valid, sizes match


def push_checkpoint_to_hub(
    checkpoint_dir: str | os.PathLike,
    repo_id: str,
    token: str | None = None,
    private: bool = False,
    commit_message: str | None = None,
    create_pr: bool = False,
    revision: str | None = None,
    card_kwargs: Mapping | None = None,
    write_card: bool = True,
    ignore_patterns: Sequence[str] | None = None,
    endpoint: str | None = None,
):
    """Check a checkpoint folder, refresh its model card, create the repo and upload the folder in one commit.

    Args:
        checkpoint_dir: folder written by `model.save_pretrained` + `processor.save_pretrained` (the training
            script's output_dir).
        repo_id: `namespace/name` on the Hub.
        token: Hub token (default: the logged-in one / `HF_TOKEN`).
        private, create_pr, revision, commit_message: as in `HfApi.create_repo` / `HfApi.upload_folder`.
        card_kwargs: passed to `write_model_card` (e.g. `dataset_name`, `training_args`, `language`); `model_id`
            defaults to `repo_id`.
        write_card: False keeps an existing README.md as it is.
        ignore_patterns: more patterns to leave out, on top of `UPLOAD_IGNORE_PATTERNS`.
        endpoint: Hub endpoint (default `HF_ENDPOINT` / huggingface.co).

    Returns:
        the `CommitInfo` of the upload (`.commit_url`, `.oid`, `.pr_url`).
    """
    from huggingface_hub import HfApi

    folder = Path(checkpoint_dir)
    check_checkpoint(folder)
    if write_card:
        write_model_card(folder, **{"model_id": repo_id, **dict(card_kwargs or {})})
    elif not (folder / "README.md").is_file():
        logger.warning("%s has no README.md and write_card=False: the repo will have no model card", folder)
    api = HfApi(endpoint=endpoint, token=token)
    repo = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    logger.info("uploading %s to %s", folder, repo)
    return api.upload_folder(
        folder_path=folder,
        repo_id=repo_id,
        repo_type="model",
        commit_message=commit_message or f"Upload {folder.name} with sign-translation",
        revision=revision,
        create_pr=create_pr,
        ignore_patterns=[*UPLOAD_IGNORE_PATTERNS, *(ignore_patterns or [])],
    )


__all__ = [
    "DATASETS",
    "METHODS",
    "UPLOAD_IGNORE_PATTERNS",
    "check_checkpoint",
    "count_parameters",
    "describe_submodel",
    "load_results",
    "load_training_args",
    "push_checkpoint_to_hub",
    "render_model_card",
    "write_model_card",
]


# ---------------------------------------------------------------------------------------------- export
PIPELINE_FILE = Path(__file__).resolve().parent / "pipeline_sign_translation.py"


# First-stage models (registered as AutoModel) that generate translations themselves.
TRANSLATING_AUTO_MODELS = ("FlaLlmForVisualInitialization",)


def custom_pipelines_entry() -> dict:
    """The config.json `custom_pipelines` entry that lets `pipeline("sign-translation", ..., trust_remote_code=True)`
    load the shipped `pipeline_sign_translation.py` where this package is not installed."""
    return {
        "sign-translation": {
            "impl": "pipeline_sign_translation.SignTranslationPipeline",
            "pt": ["AutoModelForSeq2SeqLM"],
            "tf": [],
            "type": "multimodal",
        }
    }


def add_pipeline_files(output_dir: str | os.PathLike) -> None:
    """Copy the pipeline code into a saved checkpoint folder and name it in its config.json (atomically)."""
    folder = Path(output_dir)
    config_path = folder / "config.json"
    config = _read_json(config_path, "config.json")
    config["custom_pipelines"] = custom_pipelines_entry()
    auto_map = config.get("auto_map") or {}
    if (config.get("architectures") or [None])[0] in TRANSLATING_AUTO_MODELS and "AutoModel" in auto_map:
        # The pipeline asks for AutoModelForSeq2SeqLM: a first stage that translates on its own (FLa-LLM stage 1,
        # Light-T) must load as itself there too, also with trust_remote_code and no package installed.
        auto_map.setdefault("AutoModelForSeq2SeqLM", auto_map["AutoModel"])
    tmp = config_path.with_name(f"config.json.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, config_path)
    shutil.copyfile(PIPELINE_FILE, folder / PIPELINE_FILE.name)


def export_checkpoint(model, processor, output_dir: str | os.PathLike, write_card: bool = True,
                      **card_kwargs) -> Path:
    """Make `output_dir` a checkpoint that works everywhere: weights (safetensors) + the model's code, generation
    config, processor (+ its code and the tokenizer), the `sign-translation` pipeline (config.json
    `custom_pipelines` + its code file) and a model card rendered from the config, `training_args.json` and
    `results.json` found in the folder. Loads with `from_pretrained`, `pipeline("sign-translation", model=...)` and,
    without this package, `trust_remote_code=True`.
    """
    folder = Path(output_dir)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    add_pipeline_files(folder)
    if write_card:
        write_model_card(folder, **card_kwargs)
    return folder
