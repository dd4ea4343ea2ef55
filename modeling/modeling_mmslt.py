"""MMSLT: multimodal sign language translation with MLLM sign descriptions (Kim, Jeon, Bae, Kim, ICCV 2025,
arXiv 2411.16789; official code exists — where it differs from the paper we follow the code, see comments).

Offline: an image MLLM describes every frame; bert-base-cased turns each description into a [CLS] vector
(`sign_translation.processing.sign_descriptions`).

Stage 1 — multimodal-language pre-training (`MMSLTForPreTraining`, MMLP; `MMSLTForPretraining` is the old name):

    frames ─ResNet-18─▶ v (B,T,512) ─description mapper (512→1024→768)─▶ d̂ (B,T,768)   MSE(d̂, BERT [CLS] targets)
    concat(v, d̂) (B,T,1280) ─K5-P2-K5-P2 conv─▶ (B,T/4,1024) ─MLP─▶ mBART-50 encoder + LoRA ─mean─▶ video embedding
    sentence ─frozen mBART-50 encoder (the same weights, LoRA off)─mean─▶ text embedding
    loss = symmetric CLIP InfoNCE (learnable temperature, init 0.07) + 0.1 · MSE

The ground-truth description vectors never enter the forward path; only the mapper's output does.

With a decoder-only LLM (`config.llm_type="causal"`: Gemma, Llama, SmolLM2 — mBART-50 cannot be had offline) the
"encoder" of MMLP is the whole decoder stack without its LM head: it runs with LoRA over the fused visual tokens
and frozen (LoRA off) over the sentence, each masked-mean pooled; translation continues the visual prefix with the
sentence, the loss on the sentence only (`llm_bridge.VisualPrefixLMMixin`).

Stage 2 — translation (`MMSLTForConditionalGeneration`): the same front end with the mapper FROZEN (its output
stands in for descriptions, so no MLLM and no BERT run at inference) → mBART-50 with LoRA on encoder and decoder,
label smoothing 0.2, beam 8, the target language code forced as first token.

Departure from the official code: padding is masked everywhere — the mean pools, the MSE and the temporal conv's
BatchNorm statistics. The published code averages over padded positions, so a clip's embedding depends on what it
is batched with.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn
from transformers import AutoModel, AutoModelForCausalLM, AutoModelForSeq2SeqLM, GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput
from transformers.utils.generic import can_return_tuple

from .checkpoint_loading import StrictLoadingMixin
from .configuration_mmslt import MMSLTConfig
from .llm_bridge import (
    VisualPrefixLMMixin,
    freeze_all_but_lora,
    init_lora_linear,
    init_missing_lora_weights,
    inject_lora,
    lora_disabled,
)
from .pretrained_sources import load_llm
from .visual_encoder import (
    DescriptionMapper,
    FrameBackbone,
    MLPAdapter,
    TemporalConv,
    VisualTokensOutput,
    check_video_inputs,
    init_sign_modules,
)


def masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B,T,D) mean over the valid steps of each row."""
    weights = mask[..., None].to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)


def mmlp_loss(
    video_embeds: torch.Tensor,
    text_embeds: torch.Tensor,
    logit_scale: torch.Tensor,
    mapped_descriptions: torch.Tensor | None = None,
    description_embeds: torch.Tensor | None = None,
    video_mask: torch.Tensor | None = None,
    mse_weight: float = 0.1,
    all_video_embeds: torch.Tensor | None = None,
    all_text_embeds: torch.Tensor | None = None,
    offset: int = 0,
) -> dict[str, torch.Tensor | None]:
    """MMSLT's multimodal-language pre-training loss (§3.2): symmetric CLIP InfoNCE between video and sentence
    embeddings with a learnable temperature, plus `mse_weight` × MSE between the description mapper's output and the
    sign-description embeddings (the MLLM descriptions' BERT [CLS] vectors).

    Args:
        video_embeds, text_embeds: (B,D) L2-normalised embeddings; row i of each is the same clip.
        logit_scale: log of the inverse temperature (a learnable scalar; init log(1/0.07)); clamped at scale 100.
        mapped_descriptions, description_embeds: (B,T,D_desc) predicted and target descriptions; the MSE term is
            added only when both are given.
        video_mask: (B,T) frames that count in the MSE (padded frames do not; the official code's do).
        all_video_embeds, all_text_embeds, offset: negatives gathered from every process and the first global row
            of this process's batch (`gather_negatives`); default: the local batch.

    Returns:
        {"loss", "contrastive_loss", "description_loss" (None without descriptions), "logits_per_video" (B,B_global),
        "logits_per_text" (B,B_global)}.

    Example:
    ```python
    >>> import torch
    >>> from sign_translation.modeling.modeling_mmslt import mmlp_loss
    >>> v = torch.nn.functional.normalize(torch.randn(3, 8), dim=-1)
    >>> out = mmlp_loss(v, v, torch.tensor(4.0))   # matched pairs: diagonal logits are the largest
    >>> bool(out["logits_per_video"].argmax(-1).eq(torch.arange(3)).all()), out["description_loss"] is None
    (True, True)

    ```
    """
    all_video = video_embeds if all_video_embeds is None else all_video_embeds
    all_text = text_embeds if all_text_embeds is None else all_text_embeds
    scale = logit_scale.exp().clamp(max=100.0)
    logits_per_video = scale * video_embeds @ all_text.T  # (B, B_global)
    logits_per_text = scale * text_embeds @ all_video.T
    targets = torch.arange(video_embeds.shape[0], device=video_embeds.device) + offset
    contrastive = (nn.functional.cross_entropy(logits_per_video, targets)
                   + nn.functional.cross_entropy(logits_per_text, targets)) / 2
    description_loss = None
    loss = contrastive
    if mapped_descriptions is not None and description_embeds is not None:
        if video_mask is None:
            video_mask = mapped_descriptions.new_ones(mapped_descriptions.shape[:2])
        valid = video_mask[..., None].to(mapped_descriptions.dtype)
        squared = (mapped_descriptions - description_embeds.to(mapped_descriptions.dtype)) ** 2 * valid
        description_loss = squared.sum() / (valid.sum() * mapped_descriptions.shape[-1]).clamp(min=1)
        loss = contrastive + mse_weight * description_loss
    return {"loss": loss, "contrastive_loss": contrastive, "description_loss": description_loss,
            "logits_per_video": logits_per_video, "logits_per_text": logits_per_text}


@dataclass
class MMSLTPretrainingOutput(ModelOutput):
    """MMLP output. With `output_hidden_states`: `visual_hidden_states` (the front end's stages, see
    `MMSLTModel.front_end`) and `encoder_hidden_states` (the LLM encoder over the visual tokens, LoRA
    on); with `output_attentions`: `encoder_attentions` of that pass."""

    loss: torch.Tensor | None = None
    contrastive_loss: torch.Tensor | None = None
    description_loss: torch.Tensor | None = None
    logits_per_video: torch.Tensor | None = None
    video_embeds: torch.Tensor | None = None
    text_embeds: torch.Tensor | None = None
    visual_hidden_states: tuple[torch.Tensor, ...] | None = None
    encoder_hidden_states: tuple[torch.Tensor, ...] | None = None
    encoder_attentions: tuple[torch.Tensor, ...] | None = None


MMSLTPreTrainingOutput = MMSLTPretrainingOutput


# Checkpoints saved before the front end became `MMSLTModel` (held as `model` by both heads) have its modules at the
# top level: `backbone.*`, `description_mapper.*`, `temporal_conv.*`, `mlp.*` — exactly the front end's own keys.
# `from_pretrained` needs nothing for them: transformers prepends `base_model_prefix` to a checkpoint key that only
# exists in the model under it (the way a head loads from its base model's checkpoint). Raw `load_state_dict` calls
# (Trainer resuming from a checkpoint-* folder) do not do that, so the heads rename them in a pre-hook.
LEGACY_KEY_MAPPING = {r"^(backbone|description_mapper|temporal_conv|mlp)\.": r"model.\1."}


class MMSLTPreTrainedModel(StrictLoadingMixin, PreTrainedModel):
    config_class = MMSLTConfig
    config: MMSLTConfig
    base_model_prefix = "model"
    _front_end_class_name = "MMSLTModel"
    _auto_map_classes = {
        "AutoModel": "MMSLTModel",
        "AutoModelForPreTraining": "MMSLTForPreTraining",
        "AutoModelForSeq2SeqLM": "MMSLTForConditionalGeneration",
    }
    main_input_name = "pixel_values_videos"
    input_modalities = ("video",)
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    accepts_loss_kwargs = True

    def __init__(self, config: MMSLTConfig, *args, **kwargs):
        super().__init__(config, *args, **kwargs)
        self.loss_type = "mmslt"  # not transformers' causal-LM bookkeeping for "*ForConditionalGeneration"

    def initialize_weights(self):
        init_missing_lora_weights(self)  # LoRA layers inside the LLM: peft's init, not the LLM's _init_weights
        super().initialize_weights()

    def _init_weights(self, module):
        if isinstance(module, MMSLTForPreTraining):
            init.constant_(module.logit_scale, self.config.logit_scale_init)
        elif not (init_lora_linear(module) or init_sign_modules(module)):
            super()._init_weights(module)


class MMSLTModel(MMSLTPreTrainedModel):
    r"""MMSLT's front end, shared by both stages, without a head: frame backbone (ResNet-18) → description mapper
    d̂ (512→1024→768) → fusion [v ; d̂] (1280) → temporal conv (K5-P2-K5-P2, T → ~T/4, 1024) → MLP → the visual
    tokens (B,T',D) the LLM reads.

    Both heads hold it as `model` (MMLP trains it; translation loads it from MMLP with the mapper frozen), so
    `AutoModel.from_pretrained(<either stage's checkpoint>)` gives this module with those weights, and a head loads
    from this module's checkpoint (its own parts then start untrained).

    Example:
    ```python
    >>> import torch
    >>> from sign_translation import MMSLTConfig, MMSLTModel
    >>> model = MMSLTModel(MMSLTConfig.tiny(vocab_size=99, description_size=16)).eval()
    >>> video, mask = torch.randn(2, 9, 3, 16, 16), torch.tensor([[1] * 9, [1] * 6 + [0] * 3])
    >>> out = model(pixel_values_videos=video, video_mask=mask, output_hidden_states=True)
    >>> tuple(out.last_hidden_state.shape), out.attention_mask.sum(1).tolist(), tuple(out.mapped_descriptions.shape)
    ((2, 3, 32), [3, 2], (2, 9, 16))

    ```
    """

    def __init__(self, config: MMSLTConfig):
        super().__init__(config)
        self.backbone = FrameBackbone(config.vision_config)
        self.description_mapper = (
            DescriptionMapper(config.backbone_feature_size, config.description_mapper_hidden_size,
                              config.description_size, "relu")
            if config.use_description_mapper else None
        )
        self.temporal_conv = TemporalConv(
            config.temporal_input_size, config.temporal_hidden_size, config.temporal_kernel_size,
            config.temporal_edge_padding,
        )
        self.mlp = MLPAdapter(config.temporal_hidden_size, config.mlp_hidden_size, config.llm_hidden_size,
                              config.mlp_activation)
        self.post_init()

    def get_input_embeddings(self) -> None:
        return None  # the input is a video: there are no token embeddings

    def front_end(self, pixel_values_videos=None, video_mask=None, visual_features=None, freeze_mapper=False,
                  hidden_states: list | None = None):
        """Returns (LLM input embeddings (B,T',D), their mask (B,T'), mapped descriptions d̂ (B,T,768) or None).

        With a `hidden_states` list, appends each stage's output: backbone features (B,T,512), the fused
        [features ; d̂] (B,T,1280) when the description mapper is on, the temporal conv (B,T',1024) and the MLP
        (B,T',D), the visual tokens the LLM reads."""
        if video_mask is None or (pixel_values_videos is None and visual_features is None):
            raise ValueError(
                f"{type(self).__name__} needs pixel_values_videos (B,T,C,H,W) and video_mask (B,T), or cached "
                "visual_features (B,T,D) with video_mask"
            )
        if visual_features is not None:
            check_video_inputs(video_mask, visual_features=visual_features)
            frames = visual_features  # (B,T,512), cached backbone output
        elif self.config.freeze_backbone:
            self.backbone.eval()
            with torch.no_grad():
                frames = self.backbone(pixel_values_videos, video_mask)
        else:
            frames = self.backbone(pixel_values_videos, video_mask)  # (B,T,512)
        mapped = None
        fused = frames
        if self.description_mapper is not None:
            if freeze_mapper:
                with torch.no_grad():
                    mapped = self.description_mapper(frames)
            else:
                mapped = self.description_mapper(frames)  # (B,T,768)
            mapped = mapped * video_mask[..., None].to(mapped.dtype)
            fused = torch.cat([frames, mapped], dim=-1)  # (B,T,1280)
        hidden, mask = self.temporal_conv(fused, video_mask)  # (B,T',1024), (B,T')
        tokens = self.mlp(hidden)  # (B,T',D)
        if hidden_states is not None:
            hidden_states.extend([frames] + ([fused] if mapped is not None else []) + [hidden, tokens])
        return tokens, mask, mapped

    @can_return_tuple
    def forward(
        self,
        pixel_values_videos: torch.Tensor | None = None,
        video_mask: torch.Tensor | None = None,
        visual_features: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> VisualTokensOutput:
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states
        states = [] if output_hidden_states else None
        tokens, mask, mapped = self.front_end(pixel_values_videos, video_mask, visual_features, hidden_states=states)
        return VisualTokensOutput(
            last_hidden_state=tokens,
            hidden_states=tuple(states) if states is not None else None,
            attention_mask=mask,
            mapped_descriptions=mapped,
        )


class _MMSLTHead(MMSLTPreTrainedModel):
    """What both MMSLT heads share: the front end as `self.model`, and its parts under their old names."""

    def __init__(self, config: MMSLTConfig, *args, **kwargs):
        super().__init__(config, *args, **kwargs)
        # Raw `load_state_dict` calls (Trainer's resume from a checkpoint-* folder saved before the front end
        # moved) get the same renaming as `from_pretrained`.
        self.register_load_state_dict_pre_hook(_rename_legacy_keys)

    # the front end's parts, as transformers' heads expose their base model's parts (e.g. Llava's `vision_tower`)
    @property
    def backbone(self) -> FrameBackbone:
        return self.model.backbone

    @property
    def description_mapper(self) -> DescriptionMapper | None:
        return self.model.description_mapper

    @property
    def temporal_conv(self) -> TemporalConv:
        return self.model.temporal_conv

    @property
    def mlp(self) -> MLPAdapter:
        return self.model.mlp

    def front_end(self, *args, **kwargs):
        """See `MMSLTModel.front_end`."""
        return self.model.front_end(*args, **kwargs)


def _rename_legacy_keys(module, state_dict, prefix, *args, **kwargs) -> None:
    """load_state_dict pre-hook: top-level front-end keys of an old checkpoint → `model.*` (in place)."""
    import re

    for key in list(state_dict):
        if not key.startswith(prefix):
            continue
        local = key[len(prefix):]
        for pattern, target in LEGACY_KEY_MAPPING.items():
            renamed = re.sub(pattern, target, local)
            if renamed != local and prefix + renamed not in state_dict:
                state_dict[prefix + renamed] = state_dict.pop(key)
                break


class MMSLTForPreTraining(_MMSLTHead):
    r"""MMSLT stage 1 (MMLP): aligns videos with their sentences through the LLM's encoder, and trains the
    description mapper to predict sign-description embeddings from video.

    Inputs: `pixel_values_videos` (B,T,C,H,W), `video_mask` (B,T), the sentence as `input_ids`/`attention_mask`, and
    `description_embeds` (B,T,D) aligned with the frames (for the MSE; never used in the forward path).

    Example:
    ```python
    >>> import torch
    >>> from sign_translation import MMSLTConfig, MMSLTForPreTraining
    >>> model = MMSLTForPreTraining(MMSLTConfig.tiny(vocab_size=99, description_size=16))
    >>> video, mask = torch.randn(2, 9, 3, 16, 16), torch.tensor([[1] * 9, [1] * 6 + [0] * 3])
    >>> out = model(pixel_values_videos=video, video_mask=mask, input_ids=torch.tensor([[5, 6, 2], [7, 2, 1]]),
    ...             attention_mask=torch.tensor([[1, 1, 1], [1, 1, 0]]), description_embeds=torch.randn(2, 9, 16))
    >>> tuple(out.logits_per_video.shape), bool(out.loss > 0)
    ((2, 2), True)

    ```
    """

    def __init__(self, config: MMSLTConfig, llm_encoder: nn.Module | None = None):
        super().__init__(config)
        self.model = MMSLTModel(config)
        if llm_encoder is None:
            llm_encoder = (AutoModelForSeq2SeqLM.from_config(config.text_config).get_encoder()
                           if config.llm_type == "seq2seq" else AutoModel.from_config(config.text_config))
        # the video side trains LoRA; the text side is the same encoder (or decoder stack), LoRA off
        self.llm_encoder = llm_encoder
        self.logit_scale = nn.Parameter(torch.tensor(config.logit_scale_init))
        self.post_init()
        inject_lora(self.llm_encoder, config.lora_target_modules, config.lora_r, config.lora_alpha,
                    config.lora_dropout)

    def _freeze_parameters(self) -> None:
        """Only LoRA trains in the LLM encoder (re-applied after `from_pretrained`)."""
        freeze_all_but_lora(self.llm_encoder)

    def get_input_embeddings(self) -> nn.Module:
        """The LLM encoder's token embeddings (they embed the sentence side of MMLP)."""
        return self.llm_encoder.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.llm_encoder.set_input_embeddings(value)

    def get_output_embeddings(self) -> None:
        return None  # MMLP has no LM head

    def resize_token_embeddings(self, new_num_tokens=None, pad_to_multiple_of=None, mean_resizing: bool = True):
        """Resize the encoder's vocabulary; the size goes into `config.text_config` so a saved checkpoint reloads
        and stage 2 (`from_pretraining`) builds its LLM at that size."""
        embeddings = self.llm_encoder.resize_token_embeddings(new_num_tokens, pad_to_multiple_of, mean_resizing)
        if new_num_tokens is not None or pad_to_multiple_of is not None:
            self.config.text_config.vocab_size = embeddings.weight.shape[0]
            self.vocab_size = embeddings.weight.shape[0]
        return embeddings

    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Sentence embedding from the frozen encoder (no LoRA, no dropout, no gradient): (B, D)."""
        was_training = self.llm_encoder.training
        self.llm_encoder.eval()
        try:
            with torch.no_grad(), lora_disabled(self.llm_encoder):
                hidden = self.llm_encoder(input_ids=input_ids, attention_mask=attention_mask,
                                          **self._encoder_kwargs).last_hidden_state
        finally:
            self.llm_encoder.train(was_training)
        return masked_mean(hidden, attention_mask)

    def encode_video(self, pixel_values_videos=None, video_mask=None, visual_features=None):
        """Video embedding through front end + encoder with LoRA: (B, D), plus the mapped descriptions."""
        embedding, mapped, _ = self._encode_video(pixel_values_videos, video_mask, visual_features)
        return embedding, mapped

    def _encode_video(self, pixel_values_videos, video_mask, visual_features, output_attentions=False,
                      output_hidden_states=False):
        visual_states = [] if output_hidden_states else None
        embeds, mask, mapped = self.front_end(pixel_values_videos, video_mask, visual_features,
                                              hidden_states=visual_states)
        extra = {}
        if output_attentions:
            extra["output_attentions"] = True
        if output_hidden_states:
            extra["output_hidden_states"] = True
        outputs = self.llm_encoder(inputs_embeds=embeds, attention_mask=mask, return_dict=True,
                                   **self._encoder_kwargs, **extra)
        outputs.visual_hidden_states = tuple(visual_states) if visual_states is not None else None
        return masked_mean(outputs.last_hidden_state, mask), mapped, outputs

    @contextlib.contextmanager
    def _attention_maps(self, wanted: bool):
        """Fused attention kernels return no weights: eager attention while maps are wanted (same math)."""
        current = getattr(self.llm_encoder.config, "_attn_implementation", None)
        if not wanted or current in (None, "eager"):
            yield
            return
        self.llm_encoder.set_attn_implementation("eager")
        try:
            yield
        finally:
            self.llm_encoder.set_attn_implementation(current)

    @property
    def _encoder_kwargs(self) -> dict:
        # a decoder stack would build a KV cache for nothing; sequences are right-padded, so positions need no ids
        return {"use_cache": False} if self.config.llm_type == "causal" else {}

    @can_return_tuple
    def forward(
        self,
        pixel_values_videos: torch.Tensor | None = None,
        video_mask: torch.Tensor | None = None,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        description_embeds: torch.Tensor | None = None,
        visual_features: torch.Tensor | None = None,
        return_loss: bool = True,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        **kwargs,
    ) -> MMSLTPretrainingOutput:
        if input_ids is None or attention_mask is None:
            raise ValueError("MMSLTForPreTraining needs the sentence as input_ids and attention_mask (B,L)")
        if output_attentions is None:
            output_attentions = bool(self.config.output_attentions)
        if output_hidden_states is None:
            output_hidden_states = bool(self.config.output_hidden_states)
        text = nn.functional.normalize(self.encode_text(input_ids, attention_mask), dim=-1)  # (B,D), before the
        with self._attention_maps(output_attentions):  # LoRA graph is built
            video, mapped, encoded = self._encode_video(pixel_values_videos, video_mask, visual_features,
                                                        output_attentions, output_hidden_states)
        video = nn.functional.normalize(video, dim=-1)  # (B,D)
        all_video, all_text, offset = self._gather(video, text)
        losses = mmlp_loss(video, text, self.logit_scale, mapped, description_embeds, video_mask,
                           self.config.mse_weight, all_video, all_text, offset)
        return MMSLTPretrainingOutput(
            loss=losses["loss"] if return_loss else None,
            contrastive_loss=losses["contrastive_loss"],
            description_loss=losses["description_loss"],
            logits_per_video=losses["logits_per_video"],
            video_embeds=video,
            text_embeds=text,
            visual_hidden_states=encoded.visual_hidden_states,
            encoder_hidden_states=encoded.hidden_states if output_hidden_states else None,
            encoder_attentions=encoded.attentions if output_attentions else None,
        )

    def _gather(self, video: torch.Tensor, text: torch.Tensor):
        """Negatives from every process when `gather_negatives` is on and torch.distributed runs; the local rows
        keep their gradient."""
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        if not (self.config.gather_negatives and distributed and torch.distributed.get_world_size() > 1):
            return video, text, 0
        from torch.distributed.nn.functional import all_gather

        rank = torch.distributed.get_rank()
        return torch.cat(all_gather(video)), torch.cat(all_gather(text)), rank * video.shape[0]


class MMSLTForConditionalGeneration(VisualPrefixLMMixin, _MMSLTHead, GenerationMixin):
    r"""MMSLT stage 2: front end with the description mapper frozen → mBART-50 with LoRA on encoder and decoder.

    Needs only video at inference (no MLLM, no description embeddings). Build it from an MMLP checkpoint with
    `from_pretraining(...)`; `forward`/`generate` also take cached per-frame backbone features (`visual_features`
    (B,T,512) + `video_mask`) when `config.freeze_backbone` is set.

    Example:
    ```python
    >>> import torch
    >>> from sign_translation import MMSLTConfig, MMSLTForConditionalGeneration
    >>> model = MMSLTForConditionalGeneration(MMSLTConfig.tiny(vocab_size=99)).eval()
    >>> video, mask = torch.randn(1, 9, 3, 16, 16), torch.ones(1, 9, dtype=torch.long)
    >>> model(pixel_values_videos=video, video_mask=mask, labels=torch.tensor([[5, 6, 2]])).logits.shape
    torch.Size([1, 3, 99])
    >>> model.generate(pixel_values_videos=video, video_mask=mask, max_new_tokens=4).shape[0]
    1

    ```
    """

    _visual_input_names = ("visual_features",)

    def __init__(self, config: MMSLTConfig, llm: PreTrainedModel | None = None):
        super().__init__(config)
        self.model = MMSLTModel(config)
        if llm is None:
            auto = AutoModelForSeq2SeqLM if config.llm_type == "seq2seq" else AutoModelForCausalLM
            llm = auto.from_config(config.text_config)
        self.llm = llm
        self.post_init()
        if config.llm_finetuning == "lora":  # paper: LoRA on encoder and decoder, mBART-50 itself frozen
            inject_lora(self.llm, config.lora_target_modules, config.lora_r, config.lora_alpha, config.lora_dropout)
        if self.description_mapper is not None:  # frozen: its output replaces the MLLM descriptions
            self.description_mapper.requires_grad_(False)
        if config.freeze_backbone:
            self.backbone.requires_grad_(False)
            self.backbone.eval()
        self.generation_config.num_beams = 8  # paper
        self.generation_config.max_new_tokens = 150
        self.generation_config.max_length = None

    def train(self, mode: bool = True):
        super().train(mode)
        if self.config.freeze_backbone:
            self.backbone.eval()
        return self

    def _freeze_parameters(self) -> None:
        """What the config freezes (also re-applied after `from_pretrained`): with LoRA the LLM's base weights, the
        description mapper, and the backbone with `freeze_backbone`."""
        if self.config.llm_finetuning == "lora":
            freeze_all_but_lora(self.llm)
        if self.description_mapper is not None:
            self.description_mapper.requires_grad_(False)
        if self.config.freeze_backbone:
            self.backbone.requires_grad_(False)

    def visual_prefix(self, pixel_values_videos=None, video_mask=None, visual_features=None,
                      hidden_states: list | None = None, **kwargs):
        """Visual tokens for the LLM (B,T',D) and their mask; `hidden_states`: see `front_end`."""
        embeds, mask, _ = self.front_end(pixel_values_videos, video_mask, visual_features, freeze_mapper=True,
                                         hidden_states=hidden_states)
        return embeds, mask

    @property
    def visual_feature_extractor(self) -> nn.Module:
        """The module whose output `extract_visual_features` returns (a feature cache is keyed on its weights)."""
        return self.backbone

    @torch.no_grad()
    def extract_visual_features(self, pixel_values_videos, video_mask) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-frame backbone features (B,T,512) for a feature cache; only valid while the backbone is frozen."""
        if not self.config.freeze_backbone:
            raise ValueError("caching backbone features needs config.freeze_backbone=True (else it keeps training)")
        self.backbone.eval()
        return self.backbone(pixel_values_videos, video_mask), video_mask

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
        prefix, mask = self.visual_prefix(pixel_values_videos, video_mask, visual_features, hidden_states=visual_states)
        return self.language_model_forward(
            prefix, mask, labels, decoder_input_ids, decoder_attention_mask, kwargs.get("num_items_in_batch"),
            output_attentions=output_attentions, output_hidden_states=output_hidden_states,
            visual_hidden_states=tuple(visual_states) if visual_states is not None else None,
        )

    @classmethod
    def from_pretraining(cls, pretraining: str | MMSLTForPreTraining, llm: str | PreTrainedModel | None = None,
                         gguf_file: str | None = None, front_end_only: bool = False,
                         **config_kwargs) -> MMSLTForConditionalGeneration:
        """Stage 2 from an MMLP checkpoint: backbone, description mapper, temporal conv, MLP and the encoder (LoRA
        included; for a decoder-only LLM the whole decoder stack) come from stage 1; the decoder (the LM head) from
        the pretrained `llm` — a Hub id, folder, GGUF file (or folder + `gguf_file`), offline model name or model;
        the paper's mBART-50 — or, without one, from a fresh LLM built from the stage-1 config (offline demo).

        With `front_end_only=True` only the visual front end — backbone, description mapper, temporal conv — comes
        from stage 1, and `llm` (required) is the whole translator with its own vocabulary and special tokens: e.g.
        a pretrained decoder-only LLM after an MMLP pre-training with a small text model. The MLP that maps the
        temporal conv's output to the LLM's inputs then starts untrained at the LLM's width."""
        if not isinstance(pretraining, MMSLTForPreTraining):
            pretraining = MMSLTForPreTraining.from_pretrained(pretraining)
        if isinstance(llm, (str, bytes)) or hasattr(llm, "__fspath__"):
            llm = load_llm(llm, gguf_file)
        if front_end_only:
            return cls._from_front_end(pretraining, llm, config_kwargs)
        config = MMSLTConfig(**{**pretraining.config.to_dict(), **config_kwargs})
        attn_implementation = llm.config._attn_implementation if llm is not None else None
        model = cls(config, llm=llm)
        if llm is not None:
            model.llm.set_attn_implementation(attn_implementation or model.config._attn_implementation)
        model.model.load_state_dict(pretraining.model.state_dict())
        encoder_state = pretraining.llm_encoder.state_dict()
        target = model.llm.get_encoder() if config.llm_type == "seq2seq" else model.llm.base_model
        if config.llm_finetuning == "full":  # plain weights: fold stage 1's LoRA into them
            target.load_state_dict(_merged_state(pretraining.llm_encoder))
        else:
            target.load_state_dict(encoder_state)
        return model

    @classmethod
    def _from_front_end(cls, pretraining: MMSLTForPreTraining, llm: PreTrainedModel | None,
                        config_kwargs: dict) -> MMSLTForConditionalGeneration:
        if llm is None:
            raise ValueError("from_pretraining(front_end_only=True) needs the translator LLM (`llm=`)")
        fields = pretraining.config.to_dict()
        for key in ("text_config", "llm_type", "lora_target_modules", "is_encoder_decoder", "pad_token_id",
                    "bos_token_id", "eos_token_id", "decoder_start_token_id", "forced_bos_token_id",
                    "forced_eos_token_id"):
            fields.pop(key, None)
        text = llm.config
        fields.update(text_config=text, pad_token_id=text.pad_token_id, bos_token_id=text.bos_token_id,
                      eos_token_id=text.eos_token_id,
                      decoder_start_token_id=getattr(text, "decoder_start_token_id", None))
        fields.update(config_kwargs)
        attn_implementation = llm.config._attn_implementation  # building the composite config resets it on the LLM
        model = cls(MMSLTConfig(**fields), llm=llm)
        model.llm.set_attn_implementation(attn_implementation or model.config._attn_implementation)
        state = {k: v for k, v in pretraining.model.state_dict().items() if not k.startswith("mlp.")}
        missing, unexpected = model.model.load_state_dict(state, strict=False)
        if unexpected or any(not k.startswith("mlp.") for k in missing):
            raise ValueError(f"the MMLP front end does not fit this config: missing {missing}, unexpected {unexpected}")
        return model


def _merged_state(encoder: nn.Module) -> dict:
    """State dict of a LoRA-injected module with LoRA folded into the base weights (plain parameter names)."""
    import copy

    from .llm_bridge import lora_layers

    clone = copy.deepcopy(encoder)
    for layer in lora_layers(clone):
        layer.merge()
    state = {}
    for key, value in clone.state_dict().items():
        if "lora_" in key:
            continue
        state[key.replace(".base_layer.", ".")] = value
    return state


# The old spelling (before transformers' `*ForPreTraining`): imports, `auto_map` entries and `architectures` of
# checkpoints saved with it keep working.
MMSLTForPretraining = MMSLTForPreTraining

__all__ = [
    "LEGACY_KEY_MAPPING",
    "MMSLTForConditionalGeneration",
    "MMSLTModel",
    "MMSLTForPreTraining",
    "MMSLTForPretraining",
    "MMSLTPreTrainedModel",
    "MMSLTPreTrainingOutput",
    "MMSLTPretrainingOutput",
    "mmlp_loss",
]
