"""Feeding visual features to a language model: the part FLa-LLM (both stages) and MMSLT translation share.

    visual prefix (B,N,D_lm) + mask (B,N)
        ├─ seq2seq LM (mBART, mBART-50, mT5, Light-T/Marian): the prefix replaces the encoder's word embeddings
        │    (`inputs_embeds`); the decoder is trained on the sentence.
        └─ decoder-only LM (Llama, Qwen, ...): [prefix ; sentence] in one sequence, right-padded per example;
             the loss covers the sentence tokens only; generation continues a left-padded prefix.

Loss: token cross-entropy with label smoothing (0.2 in GFSLT/FLa-LLM/MMSLT), summed and divided by the number of
target tokens — or by the Trainer's `num_items_in_batch`, which keeps it exact under gradient accumulation.

What the model looked at (`visual_attention`): the LM's attention from each generated token to the visual prefix
(seq2seq: decoder→encoder cross-attention; decoder-only: self-attention onto the prefix positions), averaged over
layers and heads, renormalised over the real prefix steps and mapped from the prefix's T' steps back to the
processor's T sampled frames (`visual_frame_map`).
"""

from __future__ import annotations

import contextlib
import copy
import math
import re
from dataclasses import dataclass

import torch
from torch import nn
from transformers import initialization as init
from transformers.modeling_outputs import CausalLMOutputWithPast, Seq2SeqLMOutput


@dataclass
class VisualSeq2SeqLMOutput(Seq2SeqLMOutput):
    """`Seq2SeqLMOutput` plus the visual front end's hidden states.

    visual_hidden_states: with `output_hidden_states`, the output of each front-end stage, from the per-frame
        backbone features (B,T,D_frame) to the visual prefix the LM reads (B,T',D_lm); which stages a model lists
        is in its `visual_prefix` docstring.
    """

    visual_hidden_states: tuple[torch.Tensor, ...] | None = None


@dataclass
class VisualCausalLMOutput(CausalLMOutputWithPast):
    """`CausalLMOutputWithPast` plus the visual front end's hidden states (see `VisualSeq2SeqLMOutput`)."""

    visual_hidden_states: tuple[torch.Tensor, ...] | None = None


def label_smoothed_loss(
    logits: torch.Tensor, labels: torch.Tensor, smoothing: float, num_items_in_batch=None
) -> torch.Tensor:
    """Cross-entropy with label smoothing over positions whose label is not -100."""
    total = nn.functional.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]),
        labels.reshape(-1).to(logits.device),
        ignore_index=-100,
        reduction="sum",
        label_smoothing=smoothing,
    )
    count = num_items_in_batch if num_items_in_batch is not None else (labels != -100).sum()
    if isinstance(count, torch.Tensor):
        count = count.to(total.device)
    return total / count


def inject_lora(module: nn.Module, target_modules: list[str], r: int, alpha: int, dropout: float, scope: str = "") -> None:
    """Add LoRA layers (peft) in place to the `target_modules` projections under `scope` (a regex on module names,
    e.g. "decoder"), and freeze every base weight of `module`. Parameter names gain `.base_layer` / `.lora_A` /
    `.lora_B`, so inject in `__init__` (from_pretrained then loads LoRA checkpoints directly) and after loading
    plain pretrained weights (builders)."""
    from peft import LoraConfig, inject_adapter_in_model

    targets = "|".join(re.escape(t) for t in target_modules)
    pattern = rf".*{scope}.*\.({targets})$" if scope else rf".*\.({targets})$"
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=pattern)
    inject_adapter_in_model(config, module)
    mark_lora_layers(module)
    freeze_all_but_lora(module)


def freeze_all_but_lora(module: nn.Module) -> None:
    """Only the LoRA weights of `module` train (what `inject_lora` set up; re-applied after loading)."""
    for name, param in module.named_parameters():
        param.requires_grad = "lora_" in name


def mark_lora_layers(module: nn.Module) -> None:
    """Tag the LoRA A/B projections so a model's `_init_weights` gives them peft's initialisation (A: Kaiming
    uniform, B: zeros, so an untrained adapter changes nothing) instead of the `nn.Linear` default. transformers
    calls `_init_weights` on every weight a checkpoint lacks, e.g. a plain (non-LoRA) checkpoint loaded into a
    LoRA model; the `nn.Linear` default would make `lora_B` non-zero and the adapter change the output."""
    for layer in lora_layers(module):
        for name in ("lora_A", "lora_B"):
            for linear in getattr(layer, name, {}).values():
                linear._lora_role = name


@torch.no_grad()
def init_missing_lora_weights(model: nn.Module) -> None:
    """Give every LoRA projection that is not yet initialised (not loaded from a checkpoint) peft's
    initialisation, and mark it done, BEFORE transformers' `initialize_weights` walks the model.

    That walk hands each module to the `_init_weights` of the nearest enclosing `PreTrainedModel`; LoRA layers sit
    inside the LLM, whose `_init_weights` draws `nn.Linear` weights from N(0, std) — lora_B would then be non-zero
    and an untrained adapter would change the output. Call it first in the model's `initialize_weights`."""
    for module in model.modules():
        if getattr(module, "_lora_role", None) and not getattr(module, "_is_hf_initialized", False):
            init_lora_linear(module)
            module._is_hf_initialized = True


def init_lora_linear(module: nn.Module) -> bool:
    """peft's LoRA initialisation for a linear tagged by `mark_lora_layers`; True if it was one. Uses transformers'
    `initialization` functions, which leave weights loaded from a checkpoint alone."""
    role = getattr(module, "_lora_role", None)
    if role is None:
        return False
    if role == "lora_A":
        init.kaiming_uniform_(module.weight, a=math.sqrt(5))
    else:
        init.zeros_(module.weight)
    if getattr(module, "bias", None) is not None:
        init.zeros_(module.bias)
    return True


def lora_layers(module: nn.Module) -> list[nn.Module]:
    from peft.tuners.tuners_utils import BaseTunerLayer

    return [m for m in module.modules() if isinstance(m, BaseTunerLayer)]


@contextlib.contextmanager
def lora_disabled(module: nn.Module):
    """Run `module` with its LoRA layers switched off (the frozen base model), then switch them back on."""
    layers = [layer for layer in lora_layers(module) if not layer.disable_adapters]
    for layer in layers:
        layer.enable_adapters(False)
    try:
        yield module
    finally:
        for layer in layers:
            layer.enable_adapters(True)
            for name, param in layer.named_parameters():  # enable_adapters(True) also re-enables grads: keep base frozen
                if "lora_" not in name:
                    param.requires_grad = False


class VisualPrefixLMMixin:
    """forward/generate for a `PreTrainedModel` that turns videos into a prefix for `self.<language_model_attribute>`.

    Subclasses implement `visual_prefix(pixel_values_videos, video_mask, **kwargs) -> (embeds, mask)` and set
    `config.label_smoothing`.
    """

    language_model_attribute = "llm"

    @property
    def language_model(self) -> nn.Module:
        return getattr(self, self.language_model_attribute)

    # ------------------------------------------------------------------ embeddings (the LM's)
    def get_input_embeddings(self) -> nn.Module:
        return self.language_model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.language_model.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module | None:
        return self.language_model.get_output_embeddings()

    def set_output_embeddings(self, value: nn.Module) -> None:
        self.language_model.set_output_embeddings(value)

    def resize_token_embeddings(self, new_num_tokens=None, pad_to_multiple_of=None, mean_resizing: bool = True):
        """Resize the LM's vocabulary (e.g. after adding a language token to the tokenizer).

        The LM's own `resize_token_embeddings` runs, so mBART/Marian also resize their `final_logits_bias`; the
        new size is written into this model's config (`text_config`, and for FLa-LLM the Light-T config, which
        shares the tokenizer) so a checkpoint saved afterwards loads back at that size."""
        embeddings = self.language_model.resize_token_embeddings(new_num_tokens, pad_to_multiple_of, mean_resizing)
        if new_num_tokens is not None or pad_to_multiple_of is not None:
            self._set_vocab_size(embeddings.weight.shape[0])
        return embeddings

    def _set_vocab_size(self, size: int) -> None:
        self.config.text_config.vocab_size = size
        self.language_model.config.vocab_size = size
        self.vocab_size = size

    # ------------------------------------------------------------------ training forward
    def language_model_forward(
        self,
        prefix: torch.Tensor,
        prefix_mask: torch.Tensor,
        labels: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        num_items_in_batch=None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        visual_hidden_states: tuple[torch.Tensor, ...] | None = None,
    ):
        """Run the LM on the visual prefix.

        `output_attentions` / `output_hidden_states` (default: the config flags of the same name) add the LM's
        attention maps (`encoder_attentions`/`decoder_attentions`/`cross_attentions` for seq2seq, `attentions` for
        decoder-only) and hidden states (`encoder_hidden_states`/`decoder_hidden_states`, or `hidden_states`) to
        the output; `visual_hidden_states` (the front end's stages) is returned as given."""
        if output_attentions is None:
            output_attentions = bool(getattr(self.config, "output_attentions", False))
        if output_hidden_states is None:
            output_hidden_states = bool(getattr(self.config, "output_hidden_states", False))
        with self._attention_maps(output_attentions):
            return self._language_model_forward(
                prefix, prefix_mask, labels, decoder_input_ids, decoder_attention_mask, num_items_in_batch,
                output_attentions, output_hidden_states, visual_hidden_states if output_hidden_states else None,
            )

    def _language_model_forward(
        self, prefix, prefix_mask, labels, decoder_input_ids, decoder_attention_mask, num_items_in_batch,
        output_attentions, output_hidden_states=False, visual_hidden_states=None,
    ):
        lm = self.language_model
        extra = {"output_attentions": bool(output_attentions), "output_hidden_states": bool(output_hidden_states)}
        if lm.config.is_encoder_decoder:
            if decoder_input_ids is None and labels is not None:
                decoder_input_ids = self._decoder_inputs_from_labels(labels)
            if decoder_input_ids is not None:
                decoder_input_ids = self._drop_input_tokens(decoder_input_ids, lm.config.pad_token_id, keep_first=True)
            outputs = lm(
                inputs_embeds=prefix,
                attention_mask=prefix_mask,
                decoder_input_ids=decoder_input_ids,
                decoder_attention_mask=decoder_attention_mask,
                use_cache=False,
                return_dict=True,
                **extra,
            )
            loss = None
            if labels is not None:
                loss = label_smoothed_loss(outputs.logits, labels, self.config.label_smoothing, num_items_in_batch)
            return VisualSeq2SeqLMOutput(
                loss=loss,
                logits=outputs.logits,
                decoder_hidden_states=outputs.decoder_hidden_states,
                decoder_attentions=outputs.decoder_attentions,
                cross_attentions=outputs.cross_attentions,
                encoder_last_hidden_state=outputs.encoder_last_hidden_state,
                encoder_hidden_states=outputs.encoder_hidden_states,
                encoder_attentions=outputs.encoder_attentions,
                visual_hidden_states=visual_hidden_states,
            )
        embeds, mask, targets = self._causal_sequence(prefix, prefix_mask, labels)
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
        outputs = lm(inputs_embeds=embeds, attention_mask=mask, position_ids=position_ids, use_cache=False,
                     return_dict=True, **extra)
        loss = None
        if targets is not None:
            loss = label_smoothed_loss(outputs.logits, targets, self.config.label_smoothing, num_items_in_batch)
        return VisualCausalLMOutput(loss=loss, logits=outputs.logits, hidden_states=outputs.hidden_states,
                                    attentions=outputs.attentions, visual_hidden_states=visual_hidden_states)

    @contextlib.contextmanager
    def _attention_maps(self, wanted: bool):
        """Fused attention kernels (sdpa, flash) return no weights: run the LM with eager attention while maps are
        wanted, then switch back (same math, so outputs do not change beyond float rounding)."""
        lm = self.language_model
        current = getattr(lm.config, "_attn_implementation", None)
        if not wanted or current in (None, "eager"):
            yield
            return
        lm.set_attn_implementation("eager")
        try:
            yield
        finally:
            lm.set_attn_implementation(current)

    def _decoder_inputs_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """The LM's own right-shift (mBART moves the language code to the front, T5/Marian prepend the start id)."""
        lm = self.language_model
        if hasattr(lm, "prepare_decoder_input_ids_from_labels"):
            return lm.prepare_decoder_input_ids_from_labels(labels=labels)
        start = lm.config.decoder_start_token_id
        shifted = labels.new_full(labels.shape, lm.config.pad_token_id)
        shifted[:, 1:] = labels[:, :-1].masked_fill(labels[:, :-1] == -100, lm.config.pad_token_id)
        shifted[:, 0] = start
        return shifted

    def _drop_input_tokens(self, input_ids: torch.Tensor, pad_id: int | None, keep_first: bool = False) -> torch.Tensor:
        """Word dropout (`config.decoder_input_dropout`, training only): a random share of the teacher-forced input
        tokens becomes `pad_id`, the padding the caller filled `input_ids` with (one fixed embedding for every
        blanked word), so the LM has to read the visual prefix; padding, and with `keep_first` the start token, are
        kept. The targets are not touched."""
        rate = float(getattr(self.config, "decoder_input_dropout", 0.0) or 0.0)
        if not self.training or rate <= 0.0:
            return input_ids
        if pad_id is None:
            raise ValueError("decoder_input_dropout needs the LLM's pad_token_id (its config has none)")
        drop = torch.rand(input_ids.shape, device=input_ids.device) < rate
        drop &= input_ids != pad_id
        if keep_first:
            drop[:, 0] = False
        return input_ids.masked_fill(drop, pad_id)

    def _causal_sequence(self, prefix, prefix_mask, labels):
        """[prefix ; sentence] per example, right-padded; targets are the sentence tokens, each predicted from the
        position before it (the first from the last prefix step)."""
        embed = self.language_model.get_input_embeddings()
        pad_id = self.config.pad_token_id if self.config.pad_token_id is not None else 0
        batch, dim = prefix.shape[0], prefix.shape[-1]
        prefix_lengths = prefix_mask.sum(1).tolist()
        if labels is None:
            label_lengths = [0] * batch
        else:
            label_lengths = (labels != -100).sum(1).tolist()
            tokens = embed(self._drop_input_tokens(labels.masked_fill(labels == -100, pad_id), pad_id))  # (B, L, D)
        total = max(p + n for p, n in zip(prefix_lengths, label_lengths))
        embeds = prefix.new_zeros(batch, total, dim)
        mask = prefix_mask.new_zeros(batch, total)
        targets = None if labels is None else labels.new_full((batch, total), -100)
        for i, (p, n) in enumerate(zip(prefix_lengths, label_lengths)):
            embeds[i, :p] = prefix[i][prefix_mask[i].bool()]
            mask[i, : p + n] = 1
            if n:
                sentence = labels[i][labels[i] != -100]
                embeds[i, p : p + n] = tokens[i][labels[i] != -100]
                targets[i, p - 1 : p + n - 1] = sentence
        return embeds, mask, targets

    # ------------------------------------------------------------------ generation
    @torch.no_grad()
    def generate(
        self,
        pixel_values_videos: torch.Tensor | None = None,
        video_mask: torch.Tensor | None = None,
        generation_config=None,
        **kwargs,
    ) -> torch.Tensor:
        """Translate videos: returns generated token ids (decode with the processor's `batch_decode`).

        Accepts the model's visual inputs plus any `GenerationConfig` field (`num_beams`, `max_new_tokens`, ...).
        `labels`/`decoder_input_ids` (passed by `Seq2SeqTrainer(predict_with_generate=True)`) are ignored.
        """
        for ignored in ("labels", "decoder_input_ids", "decoder_attention_mask", "input_ids", "attention_mask",
                        "description_embeds"):
            kwargs.pop(ignored, None)
        visual_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in self._visual_input_names}
        prefix, prefix_mask = self.visual_prefix(pixel_values_videos, video_mask, **visual_kwargs)
        generation_config = copy.deepcopy(generation_config if generation_config is not None else self.generation_config)
        asked_max_length = kwargs.get("max_length") is not None and kwargs.get("max_new_tokens") is None
        kwargs = generation_config.update(**kwargs)  # generation fields go into the config, the rest stays kwargs
        with self._attention_maps(bool(generation_config.output_attentions)):
            return self._generate_from_prefix(prefix, prefix_mask, generation_config, asked_max_length, **kwargs)

    def _generate_from_prefix(self, prefix, prefix_mask, generation_config, asked_max_length: bool, **kwargs):
        lm = self.language_model
        if asked_max_length and not lm.config.is_encoder_decoder:
            # a decoder-only LM counts the visual prefix in max_length; callers mean the sentence's length
            generation_config.max_new_tokens, generation_config.max_length = generation_config.max_length, None
        elif asked_max_length:  # an explicit max_length (e.g. Seq2SeqTrainer's generation_max_length) wins
            generation_config.max_new_tokens = None
        elif generation_config.max_new_tokens is not None:  # else the length limit is max_new_tokens alone
            generation_config.max_length = None
        if lm.config.is_encoder_decoder:
            return lm.generate(
                inputs_embeds=prefix, attention_mask=prefix_mask, generation_config=generation_config, **kwargs
            )
        # decoder-only: left-pad the prefix so every example continues from its last visual step
        lengths = prefix_mask.sum(1)
        width = int(lengths.max())
        embeds = prefix.new_zeros(prefix.shape[0], width, prefix.shape[-1])
        mask = prefix_mask.new_zeros(prefix.shape[0], width)
        for i, length in enumerate(lengths.tolist()):
            embeds[i, width - length :] = prefix[i][prefix_mask[i].bool()]
            mask[i, width - length :] = 1
        return lm.generate(inputs_embeds=embeds, attention_mask=mask, generation_config=generation_config, **kwargs)

    _visual_input_names = ("visual_features",)

    # ------------------------------------------------------------------ what the model looked at
    def visual_frame_map(self, video_mask: torch.Tensor, prefix_mask: torch.Tensor) -> torch.Tensor:
        """(B,T',T): how each of the T' visual prefix steps spreads over the T input frames; rows of real steps sum
        to one over real frames, everything else is zero.

        A length-preserving front end (FLa-LLM's local temporal module) maps step t to frame t. A downsampling one
        (MMSLT's `temporal_conv`, ~T/4) spreads each step evenly over its receptive field (`frame_map`)."""
        temporal = getattr(self, "temporal_conv", None)
        if temporal is not None and hasattr(temporal, "frame_map"):
            return temporal.frame_map(video_mask.sum(1), video_mask.shape[1], prefix_mask.shape[1]).to(prefix_mask.device)
        if prefix_mask.shape[1] != video_mask.shape[1] or not torch.equal(prefix_mask.sum(1), video_mask.sum(1)):
            raise ValueError(
                f"{type(self).__name__}: the visual prefix has {prefix_mask.sum(1).tolist()} steps for "
                f"{video_mask.sum(1).tolist()} frames and no `temporal_conv.frame_map` to map one onto the other"
            )
        eye = torch.eye(video_mask.shape[1], device=video_mask.device)
        return eye[None] * video_mask[:, :, None].to(eye.dtype)  # (B,T,T)

    @torch.no_grad()
    def visual_attention(
        self,
        sequences: torch.Tensor,
        pixel_values_videos: torch.Tensor | None = None,
        video_mask: torch.Tensor | None = None,
        **visual_kwargs,
    ) -> torch.Tensor:
        """Per generated token, its attention weight over the video's T time steps (the processor's sampled frames).

        Args:
            sequences: (B,L) token ids returned by `generate` for these videos (any decoding: the final hypothesis
                is re-run teacher-forced, which gives exactly the attention it was generated with).
            pixel_values_videos, video_mask: the same visual inputs that were given to `generate`.

        Returns:
            (B,L,T) float: row l is the weight the LM put on each frame while producing `sequences[:, l]`, averaged
            over layers and heads; each row sums to one over the real frames and is zero on padded frames. Rows of
            tokens that were not generated (the seq2seq decoder start token, padding after EOS) are all zero.

        Example:
        ```python
        >>> import torch
        >>> from sign_translation import FlaLlmConfig, FlaLlmForConditionalGeneration
        >>> model = FlaLlmForConditionalGeneration(FlaLlmConfig.tiny(vocab_size=99)).eval()
        >>> video, mask = torch.randn(1, 6, 3, 16, 16), torch.ones(1, 6, dtype=torch.long)
        >>> ids = model.generate(pixel_values_videos=video, video_mask=mask, max_new_tokens=3, num_beams=1)
        >>> weights = model.visual_attention(ids, video, mask)
        >>> tuple(weights.shape) == (1, ids.shape[1], 6), torch.allclose(weights[0, 1:].sum(-1), torch.ones(ids.shape[1] - 1))
        (True, True)

        ```
        """
        if video_mask is None:
            raise ValueError("visual_attention needs the video_mask (B,T) that was given to generate")
        prefix, prefix_mask = self.visual_prefix(pixel_values_videos, video_mask, **visual_kwargs)  # (B,T',D), (B,T')
        lm = self.language_model
        sequences = sequences.to(prefix.device)
        pad_id = lm.config.pad_token_id if lm.config.pad_token_id is not None else -1
        eos = lm.generation_config.eos_token_id if lm.generation_config.eos_token_id is not None else lm.config.eos_token_id
        eos_ids = torch.tensor(eos if isinstance(eos, list) else [] if eos is None else [eos], device=sequences.device)
        with self._attention_maps(True):
            if lm.config.is_encoder_decoder:
                # decoder input sequences[:, :l] produced sequences[:, l]: the row of position l-1
                out = lm(inputs_embeds=prefix, attention_mask=prefix_mask, decoder_input_ids=sequences[:, :-1],
                         use_cache=False, output_attentions=True)
                maps = torch.stack(out.cross_attentions).float().mean(dim=(0, 2))  # (B, L-1, T')
                weights = torch.cat([maps.new_zeros(maps.shape[0], 1, maps.shape[-1]), maps], dim=1)  # (B,L,T')
                generated = torch.ones_like(sequences, dtype=torch.bool)
                generated[:, 0] = False  # the decoder start token
            else:
                weights, prefix_mask = self._causal_prefix_attention(prefix, prefix_mask, sequences)
                generated = torch.ones_like(sequences, dtype=torch.bool)
        # tokens after the first end-of-sentence are padding, not generated
        is_eos = torch.isin(sequences, eos_ids) if eos_ids.numel() else torch.zeros_like(generated)
        is_eos &= generated  # mBART starts decoding from </s>: that one ends nothing
        after_eos = (is_eos.long().cumsum(1) - is_eos.long()) > 0
        generated &= ~after_eos & ((sequences != pad_id) | is_eos)
        weights = weights * prefix_mask[:, None, :].to(weights.dtype)
        weights = weights / weights.sum(-1, keepdim=True).clamp(min=1e-12)
        frames = weights @ self.visual_frame_map(video_mask, prefix_mask).to(weights.dtype)  # (B,L,T)
        return frames * generated[..., None].to(frames.dtype)

    def _causal_prefix_attention(self, prefix, prefix_mask, sequences):
        """Decoder-only LM: [left-padded prefix ; generated tokens]; the weight that the position predicting token l
        puts on each prefix step, back in the prefix's own (right-padded) layout."""
        lengths = prefix_mask.sum(1)
        width = int(lengths.max())
        batch, steps = prefix_mask.shape
        embeds = prefix.new_zeros(batch, width, prefix.shape[-1])
        mask = prefix_mask.new_zeros(batch, width)
        for i, length in enumerate(lengths.tolist()):
            embeds[i, width - length :] = prefix[i][prefix_mask[i].bool()]
            mask[i, width - length :] = 1
        tokens = self.language_model.get_input_embeddings()(sequences[:, :-1])
        embeds = torch.cat([embeds, tokens], dim=1)
        mask = torch.cat([mask, mask.new_ones(sequences[:, :-1].shape)], dim=1)
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self.language_model(inputs_embeds=embeds, attention_mask=mask, position_ids=position_ids,
                                  use_cache=False, output_attentions=True)
        maps = torch.stack(out.attentions).float().mean(dim=(0, 2))  # (B, W+L-1, W+L-1)
        rows = maps[:, width - 1 :, :width]  # position width-1+l predicts token l; columns: the prefix   (B,L,W)
        weights = rows.new_zeros(batch, rows.shape[1], steps)
        for i, length in enumerate(lengths.tolist()):
            weights[i, :, prefix_mask[i].bool()] = rows[i, :, width - length :]
        return weights, prefix_mask


__all__ = [
    "VisualCausalLMOutput",
    "VisualPrefixLMMixin",
    "VisualSeq2SeqLMOutput",
    "init_lora_linear",
    "freeze_all_but_lora",
    "init_missing_lora_weights",
    "inject_lora",
    "label_smoothed_loss",
    "lora_disabled",
    "lora_layers",
    "mark_lora_layers",
]
