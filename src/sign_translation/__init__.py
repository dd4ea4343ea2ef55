"""sign-translation: gloss-free sign language translation as Hugging Face transformers models.

Importing the package registers its configs, models and processors with the transformers Auto classes, so
`AutoConfig`, `AutoModelForSeq2SeqLM` and `AutoProcessor` load its checkpoints without `trust_remote_code`.
"""

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForPreTraining,
    AutoModelForSeq2SeqLM,
    AutoProcessor,
    AutoVideoProcessor,
)

from .modeling.configuration_fla_llm import FlaLlmConfig
from .modeling.configuration_mmslt import MMSLTConfig
from .modeling.modeling_fla_llm import (
    FlaLlmForConditionalGeneration,
    FlaLlmForVisualInitialization,
    FlaLlmModel,
    FlaLlmPreTrainedModel,
)
from .modeling.modeling_mmslt import (
    MMSLTForConditionalGeneration,
    MMSLTForPreTraining,
    MMSLTForPretraining,
    MMSLTModel,
    MMSLTPreTrainedModel,
)
from .pipeline_sign_translation import SignTranslationPipeline
from .processing import SignTranslationProcessor, SignVideoProcessor
from .processing.errors import SignInputError

__version__ = "0.1.0"
TASK = "sign-translation"


def _register() -> None:
    AutoConfig.register(FlaLlmConfig.model_type, FlaLlmConfig, exist_ok=True)
    AutoConfig.register(MMSLTConfig.model_type, MMSLTConfig, exist_ok=True)
    # One config maps to one class per Auto class: the front ends (the visual tokens, no head) are the AutoModels,
    # the first-stage heads (FLa-LLM visual initialising, MMSLT pre-training) the AutoModelForPreTraining, the
    # translation models the Seq2SeqLMs — in-process here, and in every saved `auto_map` (see
    # `StrictLoadingMixin.save_pretrained`).
    AutoModelForSeq2SeqLM.register(FlaLlmConfig, FlaLlmForConditionalGeneration, exist_ok=True)
    AutoModelForSeq2SeqLM.register(MMSLTConfig, MMSLTForConditionalGeneration, exist_ok=True)
    AutoModel.register(FlaLlmConfig, FlaLlmModel, exist_ok=True)
    AutoModel.register(MMSLTConfig, MMSLTModel, exist_ok=True)
    AutoModelForPreTraining.register(FlaLlmConfig, FlaLlmForVisualInitialization, exist_ok=True)
    AutoModelForPreTraining.register(MMSLTConfig, MMSLTForPreTraining, exist_ok=True)
    for config_class in (FlaLlmConfig, MMSLTConfig):
        AutoProcessor.register(config_class, SignTranslationProcessor, exist_ok=True)
        AutoVideoProcessor.register(config_class, SignVideoProcessor, exist_ok=True)
    # Saved checkpoints carry `auto_map` + code files, so they also load with trust_remote_code=True where this
    # package is not installed.
    for cls in (FlaLlmConfig, MMSLTConfig):
        cls.register_for_auto_class()
    FlaLlmModel.register_for_auto_class("AutoModel")
    FlaLlmForVisualInitialization.register_for_auto_class("AutoModelForPreTraining")
    FlaLlmForConditionalGeneration.register_for_auto_class("AutoModelForSeq2SeqLM")
    MMSLTModel.register_for_auto_class("AutoModel")
    MMSLTForPreTraining.register_for_auto_class("AutoModelForPreTraining")
    MMSLTForConditionalGeneration.register_for_auto_class("AutoModelForSeq2SeqLM")
    SignTranslationProcessor.register_for_auto_class()
    SignVideoProcessor.register_for_auto_class()
    from transformers.pipelines import PIPELINE_REGISTRY

    if PIPELINE_REGISTRY.supported_tasks.get(TASK, {}).get("impl") is not SignTranslationPipeline:
        PIPELINE_REGISTRY.register_pipeline(
            TASK, pipeline_class=SignTranslationPipeline, pt_model=AutoModelForSeq2SeqLM, type="multimodal"
        )


_register()

__all__ = [
    "FlaLlmConfig",
    "FlaLlmForConditionalGeneration",
    "FlaLlmForVisualInitialization",
    "FlaLlmModel",
    "FlaLlmPreTrainedModel",
    "MMSLTConfig",
    "MMSLTForConditionalGeneration",
    "MMSLTForPreTraining",
    "MMSLTForPretraining",
    "MMSLTModel",
    "MMSLTPreTrainedModel",
    "SignInputError",
    "SignTranslationPipeline",
    "TASK",
    "SignTranslationProcessor",
    "SignVideoProcessor",
    "__version__",
]
