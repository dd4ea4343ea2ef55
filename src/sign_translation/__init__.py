"""sign-translation: gloss-free sign language translation as Hugging Face transformers models.

Importing the package registers its configs, models and processors with the transformers Auto classes, so
`AutoConfig`, `AutoModelForSeq2SeqLM` and `AutoProcessor` load its checkpoints without `trust_remote_code`.
"""

from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoProcessor, AutoVideoProcessor

from .modeling.configuration_fla_llm import FlaLlmConfig
from .modeling.modeling_fla_llm import (
    FlaLlmForConditionalGeneration,
    FlaLlmForVisualInitialization,
    FlaLlmPreTrainedModel,
)
from .processing import SignTranslationProcessor, SignVideoProcessor
from .processing.errors import SignInputError

__version__ = "0.1.0"


def _register() -> None:
    AutoConfig.register(FlaLlmConfig.model_type, FlaLlmConfig, exist_ok=True)
    # One config maps to one class per Auto class: the translation model (stage 2) is the Seq2SeqLM; the stage-1
    # model loads through its own class (the saved config names it in `architectures`).
    AutoModelForSeq2SeqLM.register(FlaLlmConfig, FlaLlmForConditionalGeneration, exist_ok=True)
    for config_class in (FlaLlmConfig,):
        AutoProcessor.register(config_class, SignTranslationProcessor, exist_ok=True)
        AutoVideoProcessor.register(config_class, SignVideoProcessor, exist_ok=True)
    # Saved checkpoints carry `auto_map` + code files, so they also load with trust_remote_code=True where this
    # package is not installed.
    for cls in (FlaLlmConfig,):
        cls.register_for_auto_class()
    FlaLlmForConditionalGeneration.register_for_auto_class("AutoModelForSeq2SeqLM")
    FlaLlmForVisualInitialization.register_for_auto_class("AutoModel")
    SignTranslationProcessor.register_for_auto_class()
    SignVideoProcessor.register_for_auto_class()


_register()

__all__ = [
    "FlaLlmConfig",
    "FlaLlmForConditionalGeneration",
    "FlaLlmForVisualInitialization",
    "FlaLlmPreTrainedModel",
    "SignInputError",
    "SignTranslationProcessor",
    "SignVideoProcessor",
    "__version__",
]
