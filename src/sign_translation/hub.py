"""Hub push and export of trained checkpoints (the model card is `sign_translation.card`).

`push_checkpoint_to_hub` checks that a folder is a complete, loadable checkpoint (weights as safetensors, config with
`auto_map`, the code files that `trust_remote_code=True` needs — found with transformers' own
`dynamic_module_utils.get_relative_imports`, the way `save_pretrained` copies them —, processor and tokenizer files),
refreshes its README.md, and uploads it in one commit with `huggingface_hub.HfApi.create_repo` / `upload_folder`,
leaving out Trainer state (checkpoint-*/, optimizer/scheduler states, `training_args.bin`), feature caches and
anything pickled. `export_checkpoint` writes a folder that loads everywhere: `from_pretrained`, the pipeline and
remote code.

The card API is re-exported here (`from sign_translation.hub import render_model_card` keeps working).

Example:
```python
>>> import tempfile
>>> from sign_translation import FlaLlmConfig, FlaLlmForConditionalGeneration, SignTranslationProcessor
>>> from sign_translation import SignVideoProcessor
>>> from sign_translation.hub import check_checkpoint, export_checkpoint
>>> from sign_translation.tokenization import train_mbart_tokenizer
>>> tokenizer = train_mbart_tokenizer(["it rains in the north", "sun tomorrow"], vocab_size=40)
>>> model = FlaLlmForConditionalGeneration(FlaLlmConfig.tiny(vocab_size=len(tokenizer)))
>>> processor = SignTranslationProcessor(SignVideoProcessor(size={"height": 32, "width": 32},
...                                                         crop_size={"height": 28, "width": 28}), tokenizer)
>>> folder = export_checkpoint(model, processor, tempfile.mkdtemp(), write_card=False)
>>> check_checkpoint(folder)  # complete: nothing is missing
>>> names = {p.name for p in folder.iterdir()}
>>> {"model.safetensors", "modeling_fla_llm.py", "processor_config.json", "pipeline_sign_translation.py"} <= names
True

```
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from transformers.dynamic_module_utils import get_relative_imports

from .card import (  # noqa: F401 — the card API, re-exported: `sign_translation.hub` was its home
    BASE_TAGS,
    DATASETS,
    METRICS,
    PIPELINE_TASK,
    TEMPLATE_NAME,
    TRAINING_CURVES,
    DatasetInfo,
    _read_json,
    count_parameters,
    describe_submodel,
    load_results,
    load_training_args,
    pretrained_weight_sources,
    render_model_card,
    write_model_card,
)
from .processing.errors import SignInputError

logger = logging.getLogger(__name__)

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
_TOKENIZER_FILES = ("tokenizer.json", "sentencepiece.bpe.model", "spiece.model", "tokenizer.model", "vocab.json",
                    "vocab.txt")


def _own_auto_map_entry(auto_map: Mapping, architecture: str | None) -> str | None:
    """The `auto_map` reference ("module.Class") of the checkpoint's own class, under whichever Auto class."""
    for refs in auto_map.values():
        for ref in refs if isinstance(refs, (list, tuple)) else [refs]:
            if architecture and isinstance(ref, str) and ref.rsplit(".", 1)[-1] == architecture:
                return ref
    return None


def _generates(architecture: str | None) -> bool:
    """Whether the package's class of that name generates text itself (`PreTrainedModel.can_generate`)."""
    import sign_translation

    cls = getattr(sign_translation, architecture or "", None)
    return bool(cls is not None and hasattr(cls, "can_generate") and cls.can_generate())


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
        pending.extend(sorted(set(get_relative_imports(str(path))) - seen))
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




# ---------------------------------------------------------------------------------------------- export
PIPELINE_FILE = Path(__file__).resolve().parent / "pipeline_sign_translation.py"


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
    own = _own_auto_map_entry(auto_map, (config.get("architectures") or [None])[0])
    if own is not None and "AutoModelForSeq2SeqLM" not in auto_map and _generates((config.get("architectures"))[0]):
        # The pipeline asks for AutoModelForSeq2SeqLM: a first stage that translates on its own (e.g. FLa-LLM's
        # visual initialising with Light-T) must load as itself there too, also with trust_remote_code and no
        # package installed.
        auto_map["AutoModelForSeq2SeqLM"] = own
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


__all__ = [
    "DATASETS",
    "UPLOAD_IGNORE_PATTERNS",
    "add_pipeline_files",
    "check_checkpoint",
    "count_parameters",
    "custom_pipelines_entry",
    "describe_submodel",
    "export_checkpoint",
    "load_results",
    "load_training_args",
    "push_checkpoint_to_hub",
    "render_model_card",
    "write_model_card",
]
