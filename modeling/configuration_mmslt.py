"""Configuration of MMSLT (Kim, Jeon, Bae, Kim, "Leveraging the Power of MLLMs for Gloss-Free Sign Language
Translation", ICCV 2025, arXiv 2411.16789). No torch import here.

Every number of the paper / official code is a field with that value as default. Sub-configs (built through
`AutoConfig`): `vision_config` — the frame backbone, ResNet-18; `text_config` — the LLM, mBART-large-50
(`facebook/mbart-large-50-many-to-many-mmt`, untrimmed 250,054-token vocabulary).
"""

from __future__ import annotations

import math

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, PretrainedConfig
from transformers.configuration_utils import SubConfigSpec

from .configuration_common import (
    RESNET18,
    backbone_output_size,
    check_choice_field,
    check_float_field,
    check_int_field,
    check_lora_fields,
    default_lora_target_modules,
    inherit_special_tokens,
    serve_pipeline_locally,
    with_shipped_pipelines,
)

MBART_LARGE_50 = {  # facebook/mbart-large-50-many-to-many-mmt
    "vocab_size": 250054,
    "d_model": 1024,
    "encoder_layers": 12,
    "decoder_layers": 12,
    "encoder_attention_heads": 16,
    "decoder_attention_heads": 16,
    "encoder_ffn_dim": 4096,
    "decoder_ffn_dim": 4096,
    "scale_embedding": True,
    "dropout": 0.1,
    "attention_dropout": 0.1,
    "max_position_embeddings": 1024,
    "decoder_start_token_id": 2,
}


@strict
class MMSLTConfig(PretrainedConfig):
    r"""Configuration for `MMSLTForPreTraining` (MMLP, stage 1) and `MMSLTForConditionalGeneration` (stage 2).

    Args:
        vision_config: frame backbone (default ResNet-18, 512-d per frame).
        text_config: the LLM (default mBART-large-50). A decoder-only LLM (Gemma, Llama, SmolLM2, ...) works too:
            then MMLP runs the whole decoder (LoRA) over the fused visual tokens and the same decoder (frozen, LoRA
            off) over the sentence, and translation continues a visual prefix (`llm_type`).
        llm_type: "seq2seq" (the paper: the encoder aligns video and text, the decoder translates) or "causal" (a
            decoder-only LLM); default: from `text_config.is_encoder_decoder`.
        use_description_mapper: the paper's model; False gives the ablation without description mapper / MSE
            (frame features alone enter the temporal conv).
        description_size: width of the sign-description embeddings (bert-base-cased [CLS]: 768).
        description_encoder: the text encoder that made the description targets, as the description cache records
            it (name, pooling, width, and the provenance of offline weights); informative, shown on the model card.
        description_mapper_hidden_size: DM = Linear(512, 1024)-ReLU-Linear(1024, 768).
        temporal_hidden_size / temporal_kernel_size / temporal_edge_padding: the K5-P2-K5-P2 temporal conv over the
            fused (512 + 768 = 1280)-d frames, to 1024 channels, with GFSLT's first/last-frame padding.
        mlp_hidden_size / mlp_activation: the MLP after the conv (1024 → 1024 → LLM width).
        llm_finetuning: "lora" (paper: LoRA on q/k/v/out_proj, base weights frozen) or "full" (every LLM weight
            trains; useful only without a pretrained LLM, e.g. the offline synthetic demo).
        lora_r / lora_alpha / lora_dropout / lora_target_modules: paper LoRA (r 16, α 32, dropout 0.1) on the
            attention projections (q/k/v/out_proj in mBART; q/k/v/o_proj in decoder-only LLMs).
        mse_weight: weight of the description-mapper MSE in MMLP (0.1).
        temperature_init: CLIP-style learnable temperature, initialised to 0.07 (logit scale 1/0.07).
        gather_negatives: under distributed training, use the other processes' batches as extra negatives.
        label_smoothing: translation loss (0.2).
        freeze_backbone: stage 2 keeps the backbone fixed (then its frame features can be cached).
        max_frames: clips are subsampled to ≤500 frames (MMSLT); recorded for the processor and model card.
        language_code: target language code, forced as first generated token for mBART-50 (e.g. "de_DE").

    Example:
    ```python
    >>> from sign_translation import MMSLTConfig
    >>> config = MMSLTConfig()
    >>> config.temporal_input_size, config.text_config.vocab_size
    (1280, 250054)

    ```
    """

    model_type = "mmslt"

    # ---- The method as published (class attributes, never saved; see FlaLlmConfig and sign_translation.methods).
    method_name = "MMSLT"
    paper = {
        "title": "Leveraging the Power of MLLMs for Gloss-Free Sign Language Translation",
        "authors": "Jungeun Kim, Hyeongwoo Jeon, Jongseong Bae, Ha Young Kim",
        "venue": "ICCV 2025",
        "arxiv": "2411.16789",
        "url": "https://arxiv.org/abs/2411.16789",
        "code_url": "https://github.com/hwjeon98/MMSLT",
        "results": {"phoenix14t": (25.73, 47.97), "csl_daily": (21.11, 48.92)},
        "summary": (
            "translates without gloss annotations. Offline, a multimodal LLM describes the hand and face movements of "
            "every frame in text, and a text encoder turns each description into a vector. Stage 1, "
            "*multimodal-language pre-training (MMLP)*: a description mapper learns to predict those vectors from "
            "the visual features; visual and predicted description features are fused, passed through a temporal "
            "convolution and an mBART encoder, and aligned with the spoken sentence (contrastive loss). Stage 2, "
            "*translation*: the description mapper is frozen and its predictions stand in for the descriptions, so "
            "no multimodal LLM and no text encoder run at inference; an mBART model with LoRA adapters generates "
            "the sentence."
        ),
        "bibtex": """@inproceedings{kim2025leveraging,
    title = {Leveraging the Power of MLLMs for Gloss-Free Sign Language Translation},
    author = {Kim, Jungeun and Jeon, Hyeongwoo and Bae, Jongseong and Kim, Ha Young},
    booktitle = {Proceedings of the IEEE/CVF International Conference on Computer Vision (ICCV)},
    year = {2025},
    eprint = {2411.16789},
    archivePrefix = {arXiv},
}""",
    }
    training_script = "run_mmslt.py"
    stages = (
        {
            "name": "pretrain",
            "paper_name": "multimodal-language pre-training (MMLP)",
            "model_class": "MMSLTForPreTraining",
            "recipe": "mmslt_{dataset}_pretrain.json",
            "needs": ("description_cache",),  # the frame-description embeddings (train_scripts/generate_descriptions.py)
            "summary": "video ↔ sentence (InfoNCE) + description mapper (MSE)",
            "description": "Visual features, predicted description features and the spoken sentence are aligned: "
                           "symmetric contrastive loss between video and sentence embeddings plus an MSE loss "
                           "between the description mapper's output and the description vectors.",
        },
        {
            "name": "translate",
            "paper_name": "translation",
            "model_class": "MMSLTForConditionalGeneration",
            "recipe": "mmslt_{dataset}_translate.json",
            "from_previous": "pretrained_model_name_or_path",
            "summary": "frozen description mapper (no MLLM at inference) + the LLM",
            "description": "The pre-trained front end is loaded with the description mapper frozen; LoRA adapters "
                           "on the LLM learn to generate the sentence with cross-entropy.",
        },
    )
    card_architecture = (
        ("Frame backbone", "submodel:vision_config", None),
        ("Description mapper", "MLP, hidden {description_mapper_hidden_size} → {description_size} (predicts the "
                               "text-encoder vector of each frame's MLLM description)", None),
        ("Temporal conv", "K5-P2-K5-P2 over [visual; description] features → {temporal_hidden_size} channels", None),
        ("LLM", "submodel:text_config", None),
        ("LLM fine-tuning", "{llm_finetuning}", None),
        ("LoRA", "r {lora_r}, alpha {lora_alpha}, dropout {lora_dropout}", None),
    )

    sub_configs_defaults = {
        "vision_config": SubConfigSpec(config_class=AutoConfig, model_type="resnet", init_kwargs=RESNET18),
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="mbart", init_kwargs=MBART_LARGE_50),
    }

    vision_config: dict | PretrainedConfig | None = None
    text_config: dict | PretrainedConfig | None = None
    llm_type: str | None = None
    use_description_mapper: bool = True
    description_size: int = 768
    description_encoder: dict | None = None
    description_mapper_hidden_size: int = 1024
    temporal_hidden_size: int = 1024
    temporal_kernel_size: int = 5
    temporal_edge_padding: bool = True
    mlp_hidden_size: int = 1024
    mlp_activation: str = "relu"
    llm_finetuning: str = "lora"
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.1
    lora_target_modules: list[str] | None = None
    mse_weight: float = 0.1
    temperature_init: float = 0.07
    gather_negatives: bool = False
    label_smoothing: float = 0.2
    freeze_backbone: bool = False
    max_frames: int = 500
    language_code: str | None = None
    initializer_range: float = 0.02
    pad_token_id: int | None = None
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None
    decoder_start_token_id: int | None = None
    tie_word_embeddings: bool = False

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        self._validate_fields()
        seq2seq = bool(getattr(self.text_config, "is_encoder_decoder", False))
        if self.llm_type is None:
            self.llm_type = "seq2seq" if seq2seq else "causal"
        check_choice_field("MMSLTConfig", "llm_type", self.llm_type, ("seq2seq", "causal"))
        if (self.llm_type == "seq2seq") != seq2seq:
            raise ValueError(f"MMSLTConfig: llm_type={self.llm_type!r} but text_config "
                             f"({self.text_config.model_type}) is "
                             f"{'an encoder-decoder' if seq2seq else 'a decoder-only'} LLM")
        if self.lora_target_modules is None:
            self.lora_target_modules = default_lora_target_modules(self.llm_type == "seq2seq")
        inherit_special_tokens(self)
        self.is_encoder_decoder = self.llm_type == "seq2seq"
        serve_pipeline_locally(self)

    def _validate_fields(self) -> None:
        """Every numeric / enum field checked here, naming the field, its value and what is allowed, instead of a
        failure deep inside a module constructor (or a silently odd model)."""
        owner = type(self).__name__
        check_lora_fields(self)
        if self.llm_type is not None:
            check_choice_field(owner, "llm_type", self.llm_type, ("seq2seq", "causal"))
        for name in ("description_size", "description_mapper_hidden_size", "temporal_hidden_size", "mlp_hidden_size",
                     "max_frames"):
            check_int_field(owner, name, getattr(self, name))
        check_int_field(owner, "temporal_kernel_size", self.temporal_kernel_size)
        check_float_field(owner, "mse_weight", self.mse_weight, 0.0)
        # the CLIP temperature: the logit scale is log(1/t), so t > 0
        check_float_field(owner, "temperature_init", self.temperature_init, 0.0, exclusive_minimum=True)
        check_float_field(owner, "label_smoothing", self.label_smoothing, 0.0, 1.0, exclusive_maximum=True)
        check_float_field(owner, "initializer_range", self.initializer_range, 0.0, exclusive_minimum=True)
        for name in ("use_description_mapper", "temporal_edge_padding", "gather_negatives", "freeze_backbone"):
            check_choice_field(owner, name, getattr(self, name), (True, False))

    def to_dict(self) -> dict:
        return with_shipped_pipelines(super().to_dict(), self)

    @property
    def backbone_feature_size(self) -> int:
        return backbone_output_size(self.vision_config)

    @property
    def visual_feature_size(self) -> int:  # what the stage-2 feature cache holds: per-frame backbone features
        return self.backbone_feature_size

    @property
    def temporal_input_size(self) -> int:
        return self.backbone_feature_size + (self.description_size if self.use_description_mapper else 0)

    @property
    def llm_hidden_size(self) -> int:
        return int(getattr(self.text_config, "d_model", None) or self.text_config.hidden_size)

    @property
    def logit_scale_init(self) -> float:
        return math.log(1.0 / self.temperature_init)

    @classmethod
    def tiny(cls, vocab_size: int = 99, description_size: int = 16, llm: str = "mbart", **kwargs) -> MMSLTConfig:
        """A tiny config for tests and examples (hidden 32, 2 layers, 16–32 px frames); `llm`: "mbart" or
        "causal" (a tiny Llama-shaped decoder-only LLM)."""
        if llm == "mbart":
            text = {
                "model_type": "mbart", "vocab_size": vocab_size, "d_model": 32, "encoder_layers": 2,
                "decoder_layers": 2, "encoder_attention_heads": 4, "decoder_attention_heads": 4,
                "encoder_ffn_dim": 64, "decoder_ffn_dim": 64, "max_position_embeddings": 256, "dropout": 0.0,
                "scale_embedding": True, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
                "decoder_start_token_id": 2, "forced_eos_token_id": 2,
            }
        elif llm == "causal":
            text = {
                "model_type": "llama", "vocab_size": vocab_size, "hidden_size": 32, "intermediate_size": 64,
                "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                "max_position_embeddings": 256, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
            }
        else:
            raise ValueError(f"llm={llm!r}: expected 'mbart' or 'causal'")
        defaults = {
            "vision_config": {"model_type": "resnet", "depths": [1, 1], "hidden_sizes": [16, 32],
                              "layer_type": "basic", "embedding_size": 8},
            "text_config": text,
            "description_size": description_size,
            "description_mapper_hidden_size": 32,
            "temporal_hidden_size": 32,
            "temporal_kernel_size": 3,
            "mlp_hidden_size": 32,
            "lora_r": 4,
            "lora_alpha": 8,
            "lora_dropout": 0.0,
            "max_frames": 64,
        }
        defaults.update(kwargs)
        return cls(**defaults)


__all__ = ["MMSLTConfig"]
