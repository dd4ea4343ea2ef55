"""What the two methods' configurations share: the ResNet-18 default, special tokens taken from the LLM, pipeline
bookkeeping for remote code, and field checks with messages that name the config, the field, the value and what is
allowed. No torch import here: configs load anywhere.
"""

from __future__ import annotations

import math
import sys

# ResNet-18 (GFSLT-VLP backbone; depths 2-2-2-2, widths 64-128-256-512, basic blocks).
RESNET18 = {"depths": [2, 2, 2, 2], "hidden_sizes": [64, 128, 256, 512], "layer_type": "basic", "embedding_size": 64}

def serve_pipeline_locally(config) -> None:
    """Let an imported `sign_translation` serve `pipeline("sign-translation")` instead of the shipped pipeline code.

    Checkpoints list the task in config.json `custom_pipelines` (with its code file) so that
    `pipeline(..., trust_remote_code=True)` works where the package is not installed. transformers, however, insists
    on `trust_remote_code=True` for any task named there, even when the task is registered locally. When the package
    is imported (it registers the task), the entry is therefore kept aside on the config and written back on save.
    """
    shipped = getattr(config, "custom_pipelines", None)
    package = sys.modules.get("sign_translation")
    if shipped and package is not None and hasattr(package, "SignTranslationPipeline"):
        config._shipped_custom_pipelines = shipped
        del config.custom_pipelines


def with_shipped_pipelines(output: dict, config) -> dict:
    """`to_dict` counterpart of `serve_pipeline_locally`: saved configs keep their `custom_pipelines`."""
    output.pop("_shipped_custom_pipelines", None)
    shipped = getattr(config, "_shipped_custom_pipelines", None)
    if shipped and "custom_pipelines" not in output:
        output["custom_pipelines"] = shipped
    return output


def inherit_special_tokens(config) -> None:
    """Special token ids the config does not set come from its LLM (`text_config`): the processor uses the LLM's
    tokenizer, so generation and label padding must agree with it. mBART-style: decoding starts at eos."""
    for name in ("pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id"):
        if getattr(config, name) is None:
            setattr(config, name, getattr(config.text_config, name, None))
    if config.decoder_start_token_id is None:
        config.decoder_start_token_id = config.eos_token_id


def backbone_output_size(vision_config) -> int:
    """Width of the per-frame vector a vision backbone returns (ResNet: its last stage; ViT-like: hidden_size)."""
    sizes = getattr(vision_config, "hidden_sizes", None)
    return int(sizes[-1]) if sizes else int(vision_config.hidden_size)


def check_int_field(owner: str, name: str, value, minimum: int | None = 1, maximum: int | None = None,
                    optional: bool = False, odd: bool = False) -> None:
    """`value` is an integer within [minimum, maximum] (None allowed when `optional`; odd when `odd`)."""
    if value is None and optional:
        return
    allowed = "an odd integer" if odd else "an integer"
    if minimum is not None:
        allowed += f" ≥ {minimum}"
    if maximum is not None:
        allowed += f" and ≤ {maximum}" if minimum is not None else f" ≤ {maximum}"
    if optional:
        allowed += " or None"
    bad = isinstance(value, bool) or not isinstance(value, int)
    bad = bad or (minimum is not None and value < minimum) or (maximum is not None and value > maximum)
    if bad or (odd and value % 2 == 0):
        raise ValueError(f"{owner}: {name}={value!r}; expected {allowed}")


def check_float_field(owner: str, name: str, value, minimum: float | None = None, maximum: float | None = None,
                      exclusive_minimum: bool = False, exclusive_maximum: bool = False) -> None:
    """`value` is a finite number within the bounds (each inclusive unless marked exclusive)."""
    low = "(" if exclusive_minimum else "["
    high = ")" if exclusive_maximum else "]"
    allowed = f"a number in {low}{'-inf' if minimum is None else minimum}, {'inf' if maximum is None else maximum}{high}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{owner}: {name}={value!r}; expected {allowed}")
    if minimum is not None and (value <= minimum if exclusive_minimum else value < minimum):
        raise ValueError(f"{owner}: {name}={value!r}; expected {allowed}")
    if maximum is not None and (value >= maximum if exclusive_maximum else value > maximum):
        raise ValueError(f"{owner}: {name}={value!r}; expected {allowed}")


def check_choice_field(owner: str, name: str, value, choices: tuple) -> None:
    """`value` is one of `choices`."""
    if value not in choices:
        raise ValueError(f"{owner}: {name}={value!r}; expected one of {', '.join(repr(c) for c in choices)}")


def check_lora_fields(config) -> None:
    """The LoRA fields both methods' configs share (`llm_finetuning`, `lora_r`, `lora_alpha`, `lora_dropout`,
    `lora_target_modules`): one mechanism — peft's LoRA injected into the LLM in the model's `__init__`
    (`llm_bridge.inject_lora`), described by these fields and saved inside the checkpoint."""
    owner = type(config).__name__
    check_choice_field(owner, "llm_finetuning", config.llm_finetuning, ("lora", "full"))
    for name in ("lora_r", "lora_alpha"):
        check_int_field(owner, name, getattr(config, name))
    check_float_field(owner, "lora_dropout", config.lora_dropout, 0.0, 1.0, exclusive_maximum=True)
    targets = config.lora_target_modules
    if targets is not None and (not isinstance(targets, (list, tuple)) or not targets
                                or not all(isinstance(t, str) and t for t in targets)):
        raise ValueError(f"{owner}: lora_target_modules={targets!r}; expected a non-empty list of module names "
                         "(e.g. ['q_proj', 'k_proj', 'v_proj', 'out_proj']) or None")


def default_lora_target_modules(seq2seq: bool) -> list[str]:
    """The attention projections LoRA adapts by default: q/k/v/out_proj (mBART, Marian) or q/k/v/o_proj
    (decoder-only LLMs: Llama, Gemma, Qwen, SmolLM2)."""
    return ["q_proj", "k_proj", "v_proj", "out_proj" if seq2seq else "o_proj"]


__all__ = [
    "RESNET18",
    "backbone_output_size",
    "check_choice_field",
    "check_float_field",
    "check_int_field",
    "check_lora_fields",
    "default_lora_target_modules",
    "inherit_special_tokens",
    "serve_pipeline_locally",
    "with_shipped_pipelines",
]
