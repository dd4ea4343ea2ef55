"""Loading checkpoints as exactly what they are, or failing with one clear message.

Three things go wrong when a checkpoint folder is handed to `from_pretrained`, `pipeline(...)` or the CLI:

- the weights file is missing, truncated or not a safetensors file at all: transformers then fails deep inside
  the deserialiser (or, with no weights file, with a generic "no file named ..." message);
- the folder holds a *different* model of the same config than the one asked for — a FLa-LLM stage-1 checkpoint
  (visual encoder + Light-T) loaded as stage 2 — and transformers silently initialises the missing 357M mBART
  parameters at random, prints a report and the model outputs nonsense;
- some weights are simply absent (a hand-edited or partially copied file).

`StrictLoadingMixin.from_pretrained` checks a local folder's weight files first (`verify_checkpoint_files`:
present, a valid safetensors header, tensor sizes that add up to the file size), loads the class the folder was
saved from when it is a sibling class of the same model family (`_sibling_classes`), and turns missing weights
into an error (`CheckpointError`) instead of a random initialisation.

This file travels with saved checkpoints (remote code), so it imports only the standard library, torch and
transformers.
"""

from __future__ import annotations

import json
import logging
import os
import struct

logger = logging.getLogger(__name__)

# Weight files transformers reads, in its order of preference.
SAFE_WEIGHTS = "model.safetensors"
SAFE_INDEX = "model.safetensors.index.json"
TORCH_WEIGHTS = "pytorch_model.bin"
TORCH_INDEX = "pytorch_model.bin.index.json"
# A safetensors header is JSON; anything above this is not a header but a damaged length prefix.
MAX_HEADER_BYTES = 100 * 1024 * 1024
DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip


class CheckpointError(Exception):
    """A checkpoint folder cannot be loaded as asked: the message names the folder, the file and the problem.

    Deliberately not a `ValueError`/`OSError`: `pipeline(...)` catches those while it tries model classes and
    re-raises them buried in one traceback per class; this error reaches the user as it is. The CLI reports it
    as a user error (one line, exit status 2).
    """


def verify_safetensors(path: str | os.PathLike) -> list[str]:
    """Check a safetensors file without loading it: header length, header JSON, tensor offsets and sizes.

    The format is an 8-byte little-endian header length N, N bytes of JSON `{name: {dtype, shape,
    data_offsets: [begin, end]}, "__metadata__": {...}}`, then the tensor bytes; offsets are relative to the end
    of the header and must tile the data exactly. Returns the tensor names; raises `CheckpointError`.
    """
    path = os.fspath(path)
    size = os.path.getsize(path)
    name = os.path.basename(path)
    if size < 8:
        raise CheckpointError(f"{name} is {size} bytes: truncated (not even the 8-byte header length is there)")
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        if header_len > min(MAX_HEADER_BYTES, size - 8):
            raise CheckpointError(
                f"{name}: not a safetensors file or truncated (header length {header_len} bytes, file {size} bytes)"
            )
        raw = f.read(header_len)
    try:
        header = json.loads(raw)
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
    except (ValueError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{name}: the safetensors header is not valid JSON ({err}); the file is corrupt") from err
    data_size = size - 8 - header_len
    end_max, total = 0, 0
    for tensor, info in header.items():
        if tensor == "__metadata__":
            continue
        try:
            begin, end = (int(v) for v in info["data_offsets"])
            count = 1
            for dim in info["shape"]:
                count *= int(dim)
            nbytes = count * DTYPE_BYTES.get(str(info["dtype"]), 0)
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"{name}: malformed header entry for tensor {tensor!r}: {info!r}") from err
        if nbytes and end - begin != nbytes:
            raise CheckpointError(
                f"{name}: tensor {tensor!r} of shape {info['shape']} ({info['dtype']}) needs {nbytes} bytes but its "
                f"offsets span {end - begin}; the file is corrupt"
            )
        end_max, total = max(end_max, end), total + (end - begin)
    if end_max > data_size:
        raise CheckpointError(
            f"{name} is truncated: its header announces {end_max} bytes of tensor data but only {data_size} are "
            f"present ({size} bytes in all)"
        )
    if end_max != data_size or total != data_size:
        raise CheckpointError(
            f"{name}: the header's tensors cover {total} bytes but the file holds {data_size} bytes of data; the "
            "file is corrupt"
        )
    return [t for t in header if t != "__metadata__"]


def verify_checkpoint_files(folder: str | os.PathLike) -> str:
    """Check that a local checkpoint folder holds a config and complete weights; returns the weight file used.

    Raises `CheckpointError` naming the folder and what is wrong (missing config, no weights, truncated or corrupt
    safetensors file, a shard listed in the index that is absent).
    """
    folder = os.fspath(folder)
    where = f"checkpoint {folder}"
    if not os.path.isfile(os.path.join(folder, "config.json")):
        raise CheckpointError(f"{where} is incomplete: config.json is missing")
    try:
        with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
            json.load(f)
    except (ValueError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{where} is corrupt: config.json is not valid JSON ({err})") from err
    safe, index = os.path.join(folder, SAFE_WEIGHTS), os.path.join(folder, SAFE_INDEX)
    try:
        if os.path.isfile(safe):
            verify_safetensors(safe)
            return safe
        if os.path.isfile(index):
            try:
                with open(index, encoding="utf-8") as f:
                    shards = sorted(set(json.load(f)["weight_map"].values()))
            except (ValueError, KeyError, TypeError) as err:
                raise CheckpointError(f"{SAFE_INDEX} is not a valid shard index ({err})") from err
            for shard in shards:
                if not os.path.isfile(os.path.join(folder, shard)):
                    raise CheckpointError(f"shard {shard} listed in {SAFE_INDEX} is missing")
                verify_safetensors(os.path.join(folder, shard))
            return index
    except CheckpointError as err:
        raise CheckpointError(f"{where} is incomplete or corrupt: {err}") from None
    for name in (TORCH_WEIGHTS, TORCH_INDEX):
        if os.path.isfile(os.path.join(folder, name)):
            return os.path.join(folder, name)
    if os.path.isfile(os.path.join(folder, "adapter_config.json")):
        raise CheckpointError(
            f"{where} holds a PEFT adapter, not a full model: load it with peft, or use its merged/ export"
        )
    raise CheckpointError(
        f"{where} is incomplete: it has config.json but no weights ({SAFE_WEIGHTS}, {SAFE_INDEX} or "
        f"{TORCH_WEIGHTS}); the save was interrupted or the file was not copied"
    )


class StrictLoadingMixin:
    """`from_pretrained` that loads a checkpoint as exactly what it is, or raises `CheckpointError`.

    Put it first in the bases of a model family's `PreTrainedModel`. Subclasses list the classes of the same
    config that a checkpoint may have been saved from in `_sibling_classes()` ({class name: class}); when the
    folder's `config.architectures` names one of them, that class loads it (FLa-LLM stage 1 asked for through
    `AutoModelForSeq2SeqLM`, e.g. by `pipeline("sign-translation")`, loads as stage 1 and translates with
    Light-T). A weight the checkpoint lacks is an error, never a random initialisation.
    """

    # The family's front end (base model) class name and the Auto classes every checkpoint of the family lists in
    # `auto_map` (set on the family's `PreTrainedModel`).
    _front_end_class_name: str | None = None
    _auto_map_classes: dict[str, str] = {}

    @classmethod
    def _sibling_classes(cls) -> dict[str, type]:
        return {}

    def save_pretrained(self, save_directory, *args, **kwargs):
        """`save_pretrained` whose `auto_map` names the whole family, not only this class: `AutoModel` → the
        front end, `AutoModelForPreTraining` → the first-stage head, `AutoModelForSeq2SeqLM` → this class when it
        translates (it generates) — so a fresh process without the package loads any of them from any checkpoint
        with `trust_remote_code=True`. transformers writes one entry per class (`register_for_auto_class`)."""
        if getattr(self, "_auto_class", None) is not None and self._auto_map_classes:
            module = type(self).__module__.split(".")[-1]
            entries = {auto: f"{module}.{name}" for auto, name in self._auto_map_classes.items()
                       if auto != "AutoModelForSeq2SeqLM"}
            if self.can_generate():
                entries["AutoModelForSeq2SeqLM"] = f"{module}.{type(self).__name__}"
            self.config.auto_map = {**(getattr(self.config, "auto_map", None) or {}), **entries}
        return super().save_pretrained(save_directory, *args, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, **kwargs):
        path = os.fspath(pretrained_model_name_or_path) if pretrained_model_name_or_path is not None else None
        subfolder = kwargs.get("subfolder") or ""
        local = os.path.join(path, subfolder) if path and os.path.isdir(path) else None
        if local is not None and not kwargs.get("gguf_file"):
            verify_checkpoint_files(local)
        config = kwargs.get("config")
        architectures = list(getattr(config, "architectures", None) or [])
        if not architectures and local is not None:
            try:
                with open(os.path.join(local, "config.json"), encoding="utf-8") as f:
                    architectures = list(json.load(f).get("architectures") or [])
            except (OSError, ValueError):
                architectures = []
        siblings = cls._sibling_classes()
        if architectures and architectures[0] != cls.__name__ and architectures[0] in siblings:
            target = siblings[architectures[0]]
            logger.info("%s holds a %s checkpoint: loading it as that class", path, target.__name__)
            return target.from_pretrained(pretrained_model_name_or_path, *model_args, **kwargs)
        wants_info = bool(kwargs.pop("output_loading_info", False))
        model, info = super().from_pretrained(pretrained_model_name_or_path, *model_args, output_loading_info=True,
                                              **kwargs)
        missing = sorted(info.get("missing_keys") or [])
        prefix = f"{cls.base_model_prefix}."
        if architectures and architectures[0] == cls._front_end_class_name and cls.__name__ != architectures[0]:
            # A head loaded from its front end's checkpoint (transformers' base model → head): the front end's
            # weights must all be there; the head's own parts start untrained, as in transformers.
            head = [key for key in missing if not key.startswith(prefix)]
            if head:
                logger.warning("%s holds a %s: %d weight(s) of %s's head start untrained, e.g. %s", path,
                               architectures[0], len(head), cls.__name__, ", ".join(head[:4]))
            missing = [key for key in missing if key.startswith(prefix)]
        lora = [key for key in missing if ".lora_A." in key or ".lora_B." in key]
        if lora and len(lora) == len(missing):
            # A checkpoint without LoRA weights loaded into a model with LoRA layers (e.g. a fully fine-tuned or
            # base checkpoint, with `llm_finetuning="lora"`): the adapter starts as peft starts it, lora_B = 0, so
            # the output is the checkpoint's own. Anything else missing is still an error.
            logger.warning("%s has no LoRA weights: %d LoRA tensors start untrained (lora_B = 0)", path, len(lora))
            missing = []
        if missing:
            saved_as = f" (it was saved from {architectures[0]})" if architectures else ""
            raise CheckpointError(
                f"checkpoint {path} lacks {len(missing)} weight(s) that {cls.__name__} needs{saved_as}, e.g. "
                f"{', '.join(missing[:4])}; refusing to initialise them at random. Load it with the class it was "
                "saved from, or check that the weights file is complete"
            )
        # transformers materialises loaded weights as new, trainable parameters: what the config freezes (LoRA's base
        # weights, a frozen encoder) is frozen again, as the model's __init__ froze it
        freeze = getattr(model, "_freeze_parameters", None)
        if freeze is not None:
            freeze()
        return (model, info) if wants_info else model


__all__ = ["CheckpointError", "StrictLoadingMixin", "verify_checkpoint_files", "verify_safetensors"]
