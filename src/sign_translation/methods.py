"""The methods this package implements, read from their config classes — one home per method.

Each method's facts live as class attributes on its config class (`modeling/configuration_<method>.py`):
`method_name`, `paper` (title, authors, venue, arXiv id, URL, BibTeX, published results, a summary),
`training_script`, `stages` (name, paper name, model class, recipe, ...) and `card_architecture` (the model
card's architecture table). The model card, the demo and the CLI only read them through this module, so adding a
third method means two model files (configuration + modeling), one training script and its recipes, plus the
config's registration in `sign_translation/__init__.py`.

**One stage vocabulary for every method:** `"pretrain"` (FLa-LLM's *visual initialising*, MMSLT's *MMLP*) and
`"translate"` (FLa-LLM's *LLM fine-tuning*, MMSLT's *translation*). The older spellings — stage numbers `1`/`2`
(also as strings), `"stage1"`/`"stage2"`, `"stage_1"` — are accepted wherever a stage is read.

Example:
```python
>>> from sign_translation.methods import get_method, normalize_stage
>>> method = get_method("fla_llm")
>>> method.name, method.stage_names, method.paper["arxiv"]
('FLa-LLM', ('pretrain', 'translate'), '2403.12556')
>>> normalize_stage(1), normalize_stage("stage2"), normalize_stage("translate")
('pretrain', 'translate', 'translate')
>>> method.stage("pretrain")["paper_name"], method.recipe("translate", "phoenix14t")
('visual initialising', 'fla_llm_phoenix14t_stage2.json')
>>> get_method("mmslt").stage_of_architectures(["MMSLTForPretraining"])  # old class spelling still recognised
'pretrain'

```
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .processing.errors import SignInputError

# The one stage vocabulary, in training order.
STAGES = ("pretrain", "translate")
_STAGE_ALIASES = {"1": "pretrain", "2": "translate", "pretraining": "pretrain", "translation": "translate"}


def normalize_stage(stage: Any, method: MethodSpec | None = None) -> str:
    """The stage name ("pretrain" / "translate") for any accepted spelling: 1, 2, "1", "stage1", "stage_2", ...

    Raises `SignInputError` naming the value and the accepted spellings.
    """
    names = method.stage_names if method is not None else STAGES
    if isinstance(stage, bool):  # True is an int in Python: never a stage
        stage = str(stage)
    text = str(stage).strip().lower()
    text = re.sub(r"^stage[ _-]?(?=\d$)", "", text)
    text = _STAGE_ALIASES.get(text, text)
    if text.isdigit() and 1 <= int(text) <= len(names):
        text = names[int(text) - 1]
    if text not in names:
        raise SignInputError(f"stage={stage!r}: expected one of {', '.join(repr(n) for n in names)} "
                             f"(or the stage number 1..{len(names)})")
    return text


@dataclass(frozen=True)
class MethodSpec:
    """A method as its config class describes it (see the module docstring)."""

    config_class: type

    @property
    def key(self) -> str:
        return self.config_class.model_type

    @property
    def name(self) -> str:
        return self.config_class.method_name

    @property
    def tag(self) -> str:
        return self.key.replace("_", "-")

    @property
    def paper(self) -> Mapping[str, Any]:
        return self.config_class.paper

    @property
    def stages(self) -> tuple[Mapping[str, Any], ...]:
        return tuple(self.config_class.stages)

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(stage["name"] for stage in self.stages)

    @property
    def training_script(self) -> str:
        return self.config_class.training_script

    @property
    def card_architecture(self) -> tuple:
        return tuple(getattr(self.config_class, "card_architecture", ()))

    def stage(self, stage: Any) -> Mapping[str, Any]:
        """The stage's facts (name, paper_name, model_class, recipe, ...) for any accepted spelling of it."""
        name = normalize_stage(stage, self)
        return next(s for s in self.stages if s["name"] == name)

    def stage_number(self, stage: Any) -> int:
        return self.stage_names.index(normalize_stage(stage, self)) + 1

    def recipe(self, stage: Any, dataset: str) -> str:
        """File name of the stage's recipe for a dataset loader name (in `train_scripts/recipes/`)."""
        return self.stage(stage)["recipe"].format(dataset=dataset)

    def model_class(self, stage: Any) -> type:
        """The model class a stage trains, from the package namespace (old spellings of a name are found too)."""
        import sign_translation

        wanted = self.stage(stage)["model_class"]
        found = getattr(sign_translation, wanted, None)
        if found is None:  # e.g. MMSLTForPreTraining / MMSLTForPretraining
            found = next((getattr(sign_translation, n) for n in dir(sign_translation) if n.lower() == wanted.lower()),
                         None)
        if found is None:
            raise SignInputError(f"{self.config_class.__name__}.stages: model class {wanted!r} is not exported by "
                                 "sign_translation")
        return found

    def stage_of_architectures(self, architectures: Sequence[str] | None) -> str:
        """The stage a saved checkpoint is the output of, from config.json `architectures` (the last stage when none
        matches: a generic or unknown class is treated as the final model)."""
        saved = {a.lower() for a in architectures or []}
        for stage in self.stages:
            if stage["model_class"].lower() in saved:
                return stage["name"]
        return self.stage_names[-1]


def _registered_configs() -> list[type]:
    from .modeling.configuration_fla_llm import FlaLlmConfig
    from .modeling.configuration_mmslt import MMSLTConfig

    return [FlaLlmConfig, MMSLTConfig]


def available_methods() -> dict[str, MethodSpec]:
    """`{model_type: MethodSpec}` for every config class of this package that describes its method."""
    return {cls.model_type: MethodSpec(cls) for cls in _registered_configs() if hasattr(cls, "stages")}


def get_method(model_type: str | None) -> MethodSpec | None:
    """The method of a `model_type` (a registered config class with method facts), or None for any other type."""
    if not model_type:
        return None
    method = available_methods().get(model_type)
    if method is not None:
        return method
    from transformers import CONFIG_MAPPING

    try:  # another package's config registered with AutoConfig may describe its method the same way
        cls = CONFIG_MAPPING[model_type]
    except KeyError:
        return None
    return MethodSpec(cls) if all(hasattr(cls, a) for a in ("method_name", "paper", "stages")) else None


def require_method(model_type: str) -> MethodSpec:
    """`get_method`, raising `SignInputError` listing the known methods when there is none."""
    method = get_method(model_type)
    if method is None:
        raise SignInputError(f"method={model_type!r}: expected one of {', '.join(map(repr, available_methods()))}")
    return method


__all__ = ["STAGES", "MethodSpec", "available_methods", "get_method", "normalize_stage", "require_method"]
