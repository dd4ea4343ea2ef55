"""FLa-LLM: factorized learning for gloss-free sign language translation (Chen et al., LREC-COLING 2024,
arXiv 2403.12556). The paper has no official code; this port follows the paper (see ../shared docs in the repo).

Stage 1 — visual initialising (`FlaLlmForVisualInitialization`), trained end to end on video → sentence:

    frames (B,T,3,224,224) ─ResNet-18─▶ (B,T,512) ─local temporal Conv1D-BN-ReLU─▶ (B,T,512)
        ─VL-adapter MLP─▶ (B,T,512) ─Light-T encoder│decoder (3+3, d 512)─▶ sentence

Stage 2 — LLM fine-tuning (`FlaLlmForConditionalGeneration`): the stage-1 visual encoder (backbone + temporal
module) is loaded and FROZEN, BatchNorm statistics included; Light-T is dropped.

    frames ─[frozen visual encoder]─▶ (B,T,512) ─LLM-adapter MLP─▶ (B,T,1024) ─▶ mBART encoder (inputs_embeds)
        ─▶ mBART decoder ─▶ sentence          (or, for a decoder-only LLM: [prefix ; sentence])

The paper feeds T/4 frames (the processor's `frame_stride=4`), trains stage 1 with SGD (lr 1e-2, cosine, 75
epochs) and stage 2 with Adam (LLM 1e-5, adapter 1e-3), label smoothing 0.2, beam 5. Departures: the BatchNorm of
the temporal module ignores padded steps (`MaskedBatchNorm1d`), and LoRA on the LLM is offered as an option (the
paper names it as future work): `config.llm_finetuning="lora"` injects it into the LLM, the mechanism MMSLT uses.
"""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, GenerationMixin, PreTrainedModel
from transformers.utils.generic import can_return_tuple

from .checkpoint_loading import StrictLoadingMixin
from .configuration_fla_llm import FlaLlmConfig
from .llm_bridge import (
    VisualPrefixLMMixin,
    freeze_all_but_lora,
    init_lora_linear,
    init_missing_lora_weights,
    inject_lora,
)
from .pretrained_sources import load_llm
from .visual_encoder import (
    FrameBackbone,
    LLMAdapter,
    LocalTemporalModule,
    VisualTokensOutput,
    VLAdapter,
    check_video_inputs,
    init_sign_modules,
)
from .vocabulary_trimming import trim_vocabulary


class LightTranslator:
    """FLa-LLM's light translator "Light-T" (§3.1): a vanilla Transformer encoder-decoder (3+3 layers, d 512, 8
    heads, FFN 2048, sinusoidal positions) reading the VL-adapter's visual tokens as `inputs_embeds`.

    It is a Marian-shaped `AutoModelForSeq2SeqLM` built from `config.translator_config`; this name only builds it,
    so the module stays transformers' own class (`generate`, `resize_token_embeddings`, state-dict keys
    `translator.model.*` as before)."""

    @staticmethod
    def from_config(translator_config) -> PreTrainedModel:
        return AutoModelForSeq2SeqLM.from_config(translator_config)


class FlaLlmPreTrainedModel(StrictLoadingMixin, PreTrainedModel):
    config_class = FlaLlmConfig
    config: FlaLlmConfig
    # Both heads hold the front end (`FlaLlmModel`) as `visual_encoder`, the paper's name and the attribute the
    # checkpoints have always used: its keys (`visual_encoder.backbone.*`, `visual_encoder.temporal.*`) are
    # unchanged, and transformers adds/strips this prefix to load a front end from a head's checkpoint and back.
    base_model_prefix = "visual_encoder"
    _front_end_class_name = "FlaLlmModel"
    _auto_map_classes = {
        "AutoModel": "FlaLlmModel",
        "AutoModelForPreTraining": "FlaLlmForVisualInitialization",
        "AutoModelForSeq2SeqLM": "FlaLlmForConditionalGeneration",
    }
    main_input_name = "pixel_values_videos"
    input_modalities = ("video",)
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True
    accepts_loss_kwargs = True  # forward takes num_items_in_batch: the loss stays exact under gradient accumulation

    def __init__(self, config: FlaLlmConfig, *args, **kwargs):
        super().__init__(config, *args, **kwargs)
        # transformers maps "*ForConditionalGeneration" to its causal-LM loss bookkeeping; our loss is our own.
        self.loss_type = "label_smoothed_cross_entropy"

    def initialize_weights(self):
        init_missing_lora_weights(self)  # LoRA layers inside the LLM: peft's init, not the LLM's _init_weights
        super().initialize_weights()

    def _init_weights(self, module):
        if not (init_lora_linear(module) or init_sign_modules(module)):
            super()._init_weights(module)

    def _encode_video(self, pixel_values_videos, video_mask, hidden_states: list | None = None):
        """The front end (`self.visual_encoder`); with a `hidden_states` list, appends the backbone's per-frame
        features (B,T,D_frame) and the local temporal module's output (B,T,D)."""
        out = self.visual_encoder(pixel_values_videos, video_mask, output_hidden_states=hidden_states is not None,
                                  return_dict=True)  # the head's own return_dict applies to the head's output
        if hidden_states is not None:
            hidden_states.extend(out.hidden_states)
        return out.last_hidden_state, out.attention_mask  # (B,T,512), (B,T)

    def _set_generation_defaults(self, num_beams: int, max_new_tokens: int) -> None:
        self.generation_config.num_beams = num_beams
        self.generation_config.max_new_tokens = max_new_tokens
        self.generation_config.max_length = None


class FlaLlmModel(FlaLlmPreTrainedModel):
    r"""FLa-LLM's front end, the "visual encoder" of both stages, without a head: frame backbone (ResNet-18) →
    local temporal module (Conv1D-BN-ReLU, length preserving) → visual tokens (B,T,512).

    Stage 1 trains it end to end with Light-T; stage 2 loads it from stage 1 and freezes it. Both heads hold it as
    `visual_encoder`, so `AutoModel.from_pretrained(<either stage's checkpoint>)` gives this module with those
    weights, and a head loads from this module's checkpoint (its own head then starts untrained).

    Example:
    ```python
    >>> import torch
    >>> from sign_translation import FlaLlmConfig, FlaLlmModel
    >>> model = FlaLlmModel(FlaLlmConfig.tiny(vocab_size=99)).eval()
    >>> video, mask = torch.randn(2, 6, 3, 16, 16), torch.tensor([[1] * 6, [1] * 4 + [0] * 2])
    >>> out = model(pixel_values_videos=video, video_mask=mask, output_hidden_states=True)
    >>> tuple(out.last_hidden_state.shape), out.attention_mask.tolist()[1], len(out.hidden_states)
    ((2, 6, 32), [1, 1, 1, 1, 0, 0], 2)

    ```
    """

    def __init__(self, config: FlaLlmConfig):
        super().__init__(config)
        self.backbone = FrameBackbone(config.vision_config)
        self.temporal = LocalTemporalModule(
            config.backbone_feature_size, config.temporal_hidden_size, config.temporal_kernel_size
        )
        self.post_init()

    def get_input_embeddings(self) -> None:
        return None  # the input is a video: there are no token embeddings

    @can_return_tuple
    def forward(
        self,
        pixel_values_videos: torch.Tensor | None = None,
        video_mask: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> VisualTokensOutput:
        if pixel_values_videos is None or video_mask is None:
            raise ValueError("FlaLlmModel needs pixel_values_videos (B,T,C,H,W) and video_mask (B,T)")
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states
        frames = self.backbone(pixel_values_videos, video_mask)  # (B,T,512)
        features, mask = self.temporal(frames, video_mask)  # (B,T,D), (B,T)
        return VisualTokensOutput(
            last_hidden_state=features,
            hidden_states=(frames, features) if output_hidden_states else None,
            attention_mask=mask,
        )


class FlaLlmForVisualInitialization(VisualPrefixLMMixin, FlaLlmPreTrainedModel, GenerationMixin):
    r"""FLa-LLM stage 1: visual encoder → VL-adapter → Light-T, trained end to end on video → sentence.

    Inputs: `pixel_values_videos` (B,T,C,H,W) and `video_mask` (B,T) from `SignTranslationProcessor`, plus `labels`
    (B,L) (padding -100) for the loss. `generate()` translates.

    Example:
    ```python
    >>> import torch
    >>> from sign_translation import FlaLlmConfig, FlaLlmForVisualInitialization
    >>> model = FlaLlmForVisualInitialization(FlaLlmConfig.tiny(vocab_size=99)).eval()
    >>> video, mask = torch.randn(2, 6, 3, 16, 16), torch.tensor([[1] * 6, [1] * 4 + [0] * 2])
    >>> out = model(pixel_values_videos=video, video_mask=mask, labels=torch.tensor([[5, 6, 2], [7, 2, -100]]))
    >>> tuple(out.logits.shape), bool(out.loss > 0)
    ((2, 3, 99), True)
    >>> model.generate(pixel_values_videos=video, video_mask=mask, max_new_tokens=4).shape[0]
    2

    ```
    """

    language_model_attribute = "translator"

    def __init__(self, config: FlaLlmConfig):
        super().__init__(config)
        self.visual_encoder = FlaLlmModel(config)
        self.vl_adapter = VLAdapter(
            config.temporal_hidden_size,
            config.vl_adapter_hidden_size,
            config.translator_config.d_model,
            config.adapter_activation,
        )
        self.translator = LightTranslator.from_config(config.translator_config)
        self.post_init()
        self._set_generation_defaults(num_beams=5, max_new_tokens=100)

    def visual_prefix(self, pixel_values_videos, video_mask, hidden_states: list | None = None, **kwargs):
        """Visual tokens for Light-T: (B,T,d_model) and mask (B,T). With a `hidden_states` list, appends the
        backbone features, the temporal module's output and the VL-adapter's output (this prefix)."""
        features, mask = self._encode_video(pixel_values_videos, video_mask, hidden_states)  # (B,T,512)
        prefix = self.vl_adapter(features)  # (B,T,d_model)
        if hidden_states is not None:
            hidden_states.append(prefix)
        return prefix, mask

    def _set_vocab_size(self, size: int) -> None:
        super()._set_vocab_size(size)
        # Light-T shares the LLM's tokenizer: the config keeps the two vocabularies equal on reload
        self.config.translator_config.vocab_size = self.config.translator_config.decoder_vocab_size = size

    @can_return_tuple
    def forward(
        self,
        pixel_values_videos: torch.Tensor | None = None,
        video_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ):
        if pixel_values_videos is None or video_mask is None:
            raise ValueError("FlaLlmForVisualInitialization needs pixel_values_videos (B,T,C,H,W) and video_mask (B,T)")
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states
        visual_states = [] if output_hidden_states else None
        prefix, mask = self.visual_prefix(pixel_values_videos, video_mask, hidden_states=visual_states)
        return self.language_model_forward(
            prefix, mask, labels, decoder_input_ids, decoder_attention_mask, kwargs.get("num_items_in_batch"),
            output_attentions=output_attentions, output_hidden_states=output_hidden_states,
            visual_hidden_states=tuple(visual_states) if visual_states is not None else None,
        )


class FlaLlmForConditionalGeneration(VisualPrefixLMMixin, FlaLlmPreTrainedModel, GenerationMixin):
    r"""FLa-LLM stage 2: frozen stage-1 visual encoder → LLM-adapter → pretrained LLM (mBART by default).

    Build it from a stage-1 checkpoint and a pretrained LLM with `from_stage1(...)`; load a trained one with
    `from_pretrained`. Besides videos, `forward`/`generate` accept `visual_features` (B,T,D) with `video_mask` (B,T):
    the frozen encoder's output, precomputed once into a feature cache (`extract_visual_features`).

    Example:
    ```python
    >>> import torch
    >>> from sign_translation import FlaLlmConfig, FlaLlmForConditionalGeneration
    >>> model = FlaLlmForConditionalGeneration(FlaLlmConfig.tiny(vocab_size=99)).eval()
    >>> video, mask = torch.randn(1, 5, 3, 16, 16), torch.ones(1, 5, dtype=torch.long)
    >>> model(pixel_values_videos=video, video_mask=mask, labels=torch.tensor([[5, 6, 2]])).logits.shape
    torch.Size([1, 3, 99])
    >>> all(not p.requires_grad for p in model.visual_encoder.parameters())
    True

    ```
    """

    _visual_input_names = ("visual_features",)

    @classmethod
    def _sibling_classes(cls) -> dict[str, type]:
        # A stage-1 checkpoint asked for as the translation model (AutoModelForSeq2SeqLM, pipeline) loads as stage
        # 1, which translates on its own with Light-T, instead of a stage 2 around a randomly initialised LLM.
        return {FlaLlmForVisualInitialization.__name__: FlaLlmForVisualInitialization}

    def __init__(self, config: FlaLlmConfig, llm: PreTrainedModel | None = None):
        super().__init__(config)
        self.visual_encoder = FlaLlmModel(config)
        self.llm_adapter = LLMAdapter(
            config.temporal_hidden_size, config.llm_adapter_hidden_size, config.llm_hidden_size, config.adapter_activation
        )
        if llm is None:
            auto = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
            llm = auto.from_config(config.text_config)
        self.llm = llm
        if config.freeze_visual_encoder:
            self.visual_encoder.requires_grad_(False)
        self.post_init()
        if config.llm_finetuning == "lora":  # LoRA on the LLM, its base weights frozen (as MMSLT's translation)
            inject_lora(self.llm, config.lora_target_modules, config.lora_r, config.lora_alpha, config.lora_dropout)
        if config.freeze_visual_encoder:
            self.visual_encoder.eval()
        self._set_generation_defaults(num_beams=5, max_new_tokens=100)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.config.freeze_visual_encoder:
            self.visual_encoder.eval()  # frozen means frozen: BatchNorm running statistics do not move either
        return self

    def _freeze_parameters(self) -> None:
        """What the config freezes (also re-applied after `from_pretrained`): the visual encoder, and with LoRA the
        LLM's base weights."""
        if self.config.freeze_visual_encoder:
            self.visual_encoder.requires_grad_(False)
        if self.config.llm_finetuning == "lora":
            freeze_all_but_lora(self.llm)

    @property
    def visual_feature_extractor(self) -> torch.nn.Module:
        """The module whose output `extract_visual_features` returns (a feature cache is keyed on its weights)."""
        return self.visual_encoder

    @torch.no_grad()
    def extract_visual_features(self, pixel_values_videos, video_mask) -> tuple[torch.Tensor, torch.Tensor]:
        """The frozen visual encoder's features (B,T,D) and mask (B,T), e.g. to fill a feature cache."""
        was_training = self.visual_encoder.training
        self.visual_encoder.eval()
        try:
            out = self.visual_encoder(pixel_values_videos, video_mask, return_dict=True)
            return out.last_hidden_state, out.attention_mask
        finally:
            self.visual_encoder.train(was_training)

    def visual_prefix(self, pixel_values_videos=None, video_mask=None, visual_features=None,
                      hidden_states: list | None = None, **kwargs):
        """Visual tokens for the LLM: (B,T,D_lm) and mask (B,T). With a `hidden_states` list, appends the backbone
        features and the temporal module's output (only the latter for cached `visual_features`, which are that
        output) and the LLM-adapter's output (this prefix)."""
        if visual_features is not None:
            if video_mask is None:
                raise ValueError("visual_features need their video_mask (B,T)")
            check_video_inputs(video_mask, visual_features=visual_features)
            features, mask = visual_features, video_mask
            if hidden_states is not None:
                hidden_states.append(features)
        elif pixel_values_videos is None or video_mask is None:
            raise ValueError(
                "FlaLlmForConditionalGeneration needs pixel_values_videos (B,T,C,H,W) and video_mask (B,T), or "
                "cached visual_features (B,T,D) with video_mask"
            )
        elif self.config.freeze_visual_encoder:
            # Frozen means frozen, BatchNorm statistics included, even if a wrapper (e.g. peft) or a hand-written
            # loop put the whole model in training mode without going through `FlaLlmForConditionalGeneration.train`.
            self.visual_encoder.eval()
            with torch.no_grad():
                features, mask = self._encode_video(pixel_values_videos, video_mask, hidden_states)
        else:
            features, mask = self._encode_video(pixel_values_videos, video_mask, hidden_states)
        prefix = self.llm_adapter(features)  # (B,T,llm hidden)
        if hidden_states is not None:
            hidden_states.append(prefix)
        return prefix, mask

    @can_return_tuple
    def forward(
        self,
        pixel_values_videos: torch.Tensor | None = None,
        video_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        visual_features: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ):
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states
        visual_states = [] if output_hidden_states else None
        prefix, mask = self.visual_prefix(pixel_values_videos, video_mask, visual_features=visual_features,
                                          hidden_states=visual_states)
        return self.language_model_forward(
            prefix, mask, labels, decoder_input_ids, decoder_attention_mask, kwargs.get("num_items_in_batch"),
            output_attentions=output_attentions, output_hidden_states=output_hidden_states,
            visual_hidden_states=tuple(visual_states) if visual_states is not None else None,
        )

    @classmethod
    def from_stage1(
        cls,
        stage1: str | FlaLlmForVisualInitialization,
        llm: str | PreTrainedModel,
        tokenizer=None,
        trim_vocabulary_to: list[str] | None = None,
        target_tokenizer=None,
        gguf_file: str | None = None,
        **config_kwargs,
    ):
        """Assemble a stage-2 model from a stage-1 checkpoint and a pretrained LLM (both `from_pretrained`).

        Args:
            stage1: a `FlaLlmForVisualInitialization` or a path / Hub id of one.
            llm: a pretrained LLM (seq2seq or decoder-only) or where to find one: a Hub id (the paper's
                "facebook/mbart-large-cc25"), a folder, a GGUF file (converted once into a cached plain folder), or
                an installed offline model name ("gemma-3-270m", see `sign-translation models list`).
            tokenizer: the LLM's tokenizer; needed to trim the vocabulary.
            trim_vocabulary_to: training sentences; when given, the LLM's vocabulary is trimmed to the tokens they
                use (GFSLT / FLa-LLM on PHOENIX14T keep ~2.5k of mBART's 250k).
            target_tokenizer: alternatively, trim the LLM to exactly this (already trimmed) tokenizer's vocabulary,
                e.g. the one saved with the stage-1 checkpoint; tokens are matched by string.
            gguf_file: with `llm` a folder, the GGUF file in it to load.
            config_kwargs: FlaLlmConfig fields to override (e.g. `llm_adapter_hidden_size`).

        Returns:
            `(model, tokenizer)` — the tokenizer is the trimmed one when trimming, else the one given.
        """
        if isinstance(stage1, (str, bytes)) or hasattr(stage1, "__fspath__"):
            stage1 = FlaLlmForVisualInitialization.from_pretrained(stage1)
        if isinstance(llm, (str, bytes)) or hasattr(llm, "__fspath__"):
            llm = load_llm(llm, gguf_file)
        if trim_vocabulary_to is not None or target_tokenizer is not None:
            if tokenizer is None:
                raise ValueError("vocabulary trimming needs the LLM's own tokenizer (`tokenizer=`)")
            llm, tokenizer, _ = trim_vocabulary(llm, tokenizer, trim_vocabulary_to, target_tokenizer)
        attn_implementation = llm.config._attn_implementation  # building the composite config resets it on the LLM
        stage1_config = stage1.config.to_dict()
        fields = {
            k: stage1_config[k]
            for k in ("temporal_kernel_size", "temporal_hidden_size", "adapter_activation", "label_smoothing",
                      "frame_stride", "language_code")
        }
        fields.update(config_kwargs)
        config = FlaLlmConfig(
            vision_config=stage1.config.vision_config,
            translator_config=stage1.config.translator_config,
            text_config=llm.config,
            pad_token_id=llm.config.pad_token_id,
            bos_token_id=llm.config.bos_token_id,
            eos_token_id=llm.config.eos_token_id,
            decoder_start_token_id=getattr(llm.config, "decoder_start_token_id", None),
            **fields,
        )
        model = cls(config, llm=llm)
        model.llm.set_attn_implementation(attn_implementation or model.config._attn_implementation)
        model.visual_encoder.load_state_dict(stage1.visual_encoder.state_dict())
        return model, tokenizer


__all__ = [
    "FlaLlmForConditionalGeneration",
    "FlaLlmForVisualInitialization",
    "FlaLlmModel",
    "FlaLlmPreTrainedModel",
    "LightTranslator",
]
