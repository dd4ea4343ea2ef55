"""Configuration of FLa-LLM (Chen et al., "Factorized Learning Assisted with Large Language Model for Gloss-free
Sign Language Translation", LREC-COLING 2024, arXiv 2403.12556). No torch import here: configs load anywhere.

Every paper number is a field with the paper value as default. Three sub-configs, built through `AutoConfig` so any
registered backbone / translator / LLM plugs in:

- `vision_config`: the frame backbone — ResNet-18 (`microsoft/resnet-18` loads into it).
- `translator_config`: Light-T, the stage-1 vanilla Transformer (3+3 layers, 8 heads, d 512, FFN 2048, sinusoidal
  positions) — a Marian-shaped encoder-decoder fed with `inputs_embeds`.
- `text_config`: the stage-2 LLM — mBART-large-cc25 shape by default; any seq2seq (mBART-50, mT5, ...) or
  decoder-only (`AutoModelForCausalLM`, e.g. Llama/Qwen) config works.
"""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, PretrainedConfig
from transformers.configuration_utils import SubConfigSpec

from .configuration_common import (
    RESNET18,
    backbone_output_size,
    check_float_field,
    check_int_field,
    check_lora_fields,
    default_lora_target_modules,
    inherit_special_tokens,
    serve_pipeline_locally,
    with_shipped_pipelines,
)

# facebook/mbart-large-cc25.
MBART_LARGE_CC25 = {
    "vocab_size": 250027,
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
}
# Light-T (FLa-LLM §3.1): vanilla Transformer, 3+3 layers, 8 heads, d=512, FFN 2048, sinusoidal positions.
LIGHT_T = {
    "d_model": 512,
    "encoder_layers": 3,
    "decoder_layers": 3,
    "encoder_attention_heads": 8,
    "decoder_attention_heads": 8,
    "encoder_ffn_dim": 2048,
    "decoder_ffn_dim": 2048,
    "activation_function": "relu",
    "scale_embedding": True,
    "dropout": 0.1,
    "max_position_embeddings": 1024,
    # Light-T trains from scratch: the vanilla Transformer's init (N(0, d^-1/2), embeddings scaled by sqrt(d)), not
    # transformers' N(0, 0.02) meant for fine-tuning; with 0.02 the cross-attention path starts ~16x weaker and
    # stage 1 stays far longer on the "language model only" plateau (measured on the synthetic corpus).
    "init_std": 512**-0.5,
    # same tokenizer as the LLM: vocabulary and special ids follow text_config (synced in __post_init__)
    "vocab_size": MBART_LARGE_CC25["vocab_size"],
    "pad_token_id": 1,
    "eos_token_id": 2,
    "decoder_start_token_id": 2,
    "forced_eos_token_id": 2,
}


def _tiny_vision() -> dict:
    return {"model_type": "resnet", "depths": [1, 1], "hidden_sizes": [16, 32], "layer_type": "basic", "embedding_size": 8}


def _tiny_seq2seq(model_type: str, vocab_size: int, hidden: int = 32) -> dict:
    return {
        "model_type": model_type,
        "vocab_size": vocab_size,
        "d_model": hidden,
        "encoder_layers": 2,
        "decoder_layers": 2,
        "encoder_attention_heads": 4,
        "decoder_attention_heads": 4,
        "encoder_ffn_dim": 2 * hidden,
        "decoder_ffn_dim": 2 * hidden,
        "max_position_embeddings": 256,
        "dropout": 0.0,
        "pad_token_id": 1,
        "bos_token_id": 0,
        "eos_token_id": 2,
        "decoder_start_token_id": 2,
        "forced_eos_token_id": 2,
    }


@strict
class FlaLlmConfig(PretrainedConfig):
    r"""Configuration for `FlaLlmForVisualInitialization` (stage 1) and `FlaLlmForConditionalGeneration` (stage 2).

    Args:
        vision_config: frame backbone config (default ResNet-18).
        translator_config: Light-T config for stage 1 (default Marian-shaped 3+3 layers, d 512, 8 heads, FFN 2048).
        text_config: the stage-2 LLM config (default mBART-large-cc25 shape).
        temporal_kernel_size: kernel of the local temporal module (Conv1D-BN-ReLU, length preserving).
        temporal_hidden_size: output width of the local temporal module = visual feature width.
        vl_adapter_hidden_size: hidden width of the stage-1 VL-adapter MLP (output = Light-T d_model).
        llm_adapter_hidden_size: hidden width of the stage-2 LLM-adapter MLP (output = LLM hidden size). The paper
            gives the output (1024 for mBART-large) but not the hidden width; we use the LLM's hidden size.
        adapter_activation: activation of both adapter MLPs.
        label_smoothing: cross-entropy label smoothing (GFSLT/FLa-LLM: 0.2).
        decoder_input_dropout: in training, the share of the sentence's input tokens (teacher forcing) replaced by
            the padding token (one fixed embedding for every blanked word), so the LM cannot predict every token
            from the ones before and has to read the visual prefix ("word dropout", Bowman et al. 2016; not in the
            FLa-LLM paper: 0.0, off). The start token and the targets are kept; evaluation and generation are
            unaffected. Stage 2 (`from_stage1`) does not inherit it from stage 1: pass it there to use it with the
            LLM.
        freeze_visual_encoder: stage 2 freezes backbone + temporal module, BatchNorm statistics included (paper).
        frame_stride: the paper feeds 25% of the frames (T/4); recorded here so model cards and recipes agree with
            the processor, which does the sampling.
        language_code: target language code forced as first token for mBART-style LLMs (e.g. "de_DE").
        llm_finetuning: stage 2 trains the whole LLM ("full", the paper) or LoRA on it ("lora"; the paper names LoRA
            as future work). The same mechanism as MMSLT: peft's LoRA layers injected into the LLM by the model from
            these fields, saved inside the checkpoint (no separate adapter folder, no merged copy).
        lora_r / lora_alpha / lora_dropout / lora_target_modules: the LoRA with `llm_finetuning="lora"` (defaults as
            MMSLT's paper LoRA: r 16, α 32, dropout 0.1 on q/k/v/out_proj, or q/k/v/o_proj for a decoder-only LLM).

    Example:
    ```python
    >>> from sign_translation import FlaLlmConfig, FlaLlmForVisualInitialization
    >>> config = FlaLlmConfig.tiny(vocab_size=99)
    >>> model = FlaLlmForVisualInitialization(config)
    >>> config.translator_config.d_model, config.text_config.model_type
    (32, 'mbart')

    ```
    """

    model_type = "fla_llm"

    # ---- The method as published. Plain class attributes (never saved in config.json): the model card, the demo and
    # the CLI read them through `sign_translation.methods`, so a method lives in its config/model files, its training
    # script and its recipes — nowhere else.
    method_name = "FLa-LLM"
    paper = {
        "title": "Factorized Learning Assisted with Large Language Model for Gloss-free Sign Language Translation",
        "authors": "Zhigang Chen, Benjia Zhou, Jun Li, Jun Wan, Zhen Lei, Ning Jiang, Quan Lu, Guoqing Zhao",
        "venue": "LREC-COLING 2024",
        "arxiv": "2403.12556",
        "url": "https://arxiv.org/abs/2403.12556",
        "code_url": None,  # no official code
        # test split, as published (nlg-eval BLEU): dataset loader name -> (BLEU-4, ROUGE-L)
        "results": {"phoenix14t": (23.09, 45.27), "csl_daily": (14.20, 37.25), "how2sign": (9.66, 27.81)},
        "summary": (
            "translates without gloss annotations and trains in two stages. Stage 1, *visual initialising*: a frame "
            "backbone, a local temporal module and a VL-adapter feed a lightweight Transformer translator (Light-T); "
            "the whole network learns video → sentence end to end, so the visual encoder learns sign representations "
            "without an LLM dominating the gradients. Stage 2, *LLM fine-tuning*: Light-T is dropped, the visual "
            "encoder (backbone + temporal module) is frozen, and an LLM-adapter maps its features into the input "
            "embeddings of a pretrained multilingual LLM, which is fine-tuned to generate the sentence. The paper "
            "shows that training the LLM jointly with the visual encoder from the start works much worse than this "
            "factorized schedule."
        ),
        "bibtex": """@inproceedings{chen-etal-2024-factorized,
    title = "Factorized Learning Assisted with Large Language Model for Gloss-free Sign Language Translation",
    author = "Chen, Zhigang and Zhou, Benjia and Li, Jun and Wan, Jun and Lei, Zhen and Jiang, Ning and Lu, Quan and Zhao, Guoqing",
    booktitle = "Proceedings of the 2024 Joint International Conference on Computational Linguistics, Language Resources and Evaluation (LREC-COLING 2024)",
    year = "2024",
    address = "Torino, Italia",
    publisher = "ELRA and ICCL",
    pages = "7071--7081",
    url = "https://aclanthology.org/2024.lrec-main.620",
    eprint = "2403.12556",
    archivePrefix = "arXiv",
}""",
    }
    # The stages in training order, in the package's one stage vocabulary ("pretrain", "translate"; the numbers 1/2
    # and "stage1"/"stage2" are accepted on input). `model_class`: the class one stage trains; `recipe`: its JSON
    # recipe in train_scripts/recipes/ per dataset loader name; `from_previous`: the script argument that takes the
    # previous stage's checkpoint.
    training_script = "run_fla_llm.py"
    stages = (
        {
            "name": "pretrain",
            "paper_name": "visual initialising",
            "model_class": "FlaLlmForVisualInitialization",
            "recipe": "fla_llm_{dataset}_stage1.json",
            "summary": "ResNet + temporal conv + VL-adapter + Light-T, end to end",
            "description": "Backbone, temporal module, VL-adapter and Light-T train end to end on video → sentence "
                           "with cross-entropy (label smoothing, padding ignored).",
        },
        {
            "name": "translate",
            "paper_name": "LLM fine-tuning",
            "model_class": "FlaLlmForConditionalGeneration",
            "recipe": "fla_llm_{dataset}_stage2.json",
            "from_previous": "stage1_model_name_or_path",
            "summary": "frozen stage-1 encoder (features cached once) + LLM-adapter + the LLM",
            "description": "The stage-1 visual encoder is loaded and frozen (BatchNorm statistics included); the "
                           "LLM-adapter and the LLM train on video → sentence with cross-entropy. The LLM and the "
                           "adapter can have different learning rates.",
        },
    )
    # The model card's architecture table: (component, text over config fields, stages it applies to or None).
    # `{field}` / `{field.key}` read config.json; "submodel:field" describes a sub-config; a row whose fields are
    # missing is left out.
    card_architecture = (
        ("Frame backbone", "submodel:vision_config", None),
        ("Local temporal module", "Conv1D (kernel {temporal_kernel_size}, length-preserving) → BatchNorm → ReLU, "
                                  "{temporal_hidden_size} channels", None),
        ("VL-adapter", "MLP, hidden {vl_adapter_hidden_size} → {translator_config.d_model}", ("pretrain",)),
        ("Light-T translator", "submodel:translator_config", ("pretrain",)),
        ("LLM-adapter", "MLP, hidden {llm_adapter_hidden_size} → the LLM's width (replaces its input word "
                        "embeddings)", ("translate",)),
        ("LLM", "submodel:text_config", ("translate",)),
        ("Visual encoder frozen in stage 2", "{freeze_visual_encoder}", ("translate",)),
        ("Frame sampling", "1 frame in {frame_stride}", None),
    )

    sub_configs_defaults = {
        "vision_config": SubConfigSpec(config_class=AutoConfig, model_type="resnet", init_kwargs=RESNET18),
        "translator_config": SubConfigSpec(config_class=AutoConfig, model_type="marian", init_kwargs=LIGHT_T),
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="mbart", init_kwargs=MBART_LARGE_CC25),
    }

    vision_config: dict | PretrainedConfig | None = None
    translator_config: dict | PretrainedConfig | None = None
    text_config: dict | PretrainedConfig | None = None
    temporal_kernel_size: int = 5
    temporal_hidden_size: int = 512
    vl_adapter_hidden_size: int = 512
    llm_adapter_hidden_size: int | None = None
    adapter_activation: str = "gelu"
    label_smoothing: float = 0.2
    decoder_input_dropout: float = 0.0
    freeze_visual_encoder: bool = True
    frame_stride: int = 4
    language_code: str | None = None
    llm_finetuning: str = "full"  # paper: the whole LLM is fine-tuned (LoRA: future work there)
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.1
    lora_target_modules: list[str] | None = None
    initializer_range: float = 0.02
    pad_token_id: int | None = None
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None
    decoder_start_token_id: int | None = None
    tie_word_embeddings: bool = False

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        self._validate_fields()
        # Special token ids and vocabulary follow the LLM (its tokenizer is the one the processor uses); Light-T
        # shares that tokenizer (paper: "same tokenizer as the stage-2 LLM").
        text = self.text_config
        inherit_special_tokens(self)
        self.is_encoder_decoder = bool(getattr(text, "is_encoder_decoder", False))
        translator = self.translator_config
        translator.vocab_size = text.vocab_size
        translator.decoder_vocab_size = text.vocab_size
        for name in ("pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id"):
            setattr(translator, name, getattr(self, name))
        translator.forced_eos_token_id = self.eos_token_id
        if self.llm_adapter_hidden_size is None:
            self.llm_adapter_hidden_size = self.llm_hidden_size
        if self.lora_target_modules is None:
            self.lora_target_modules = default_lora_target_modules(self.is_encoder_decoder)
        serve_pipeline_locally(self)

    def _validate_fields(self) -> None:
        """Nonsensical values fail here, naming the field, instead of deep inside a module constructor."""
        owner = type(self).__name__
        for name in ("temporal_hidden_size", "vl_adapter_hidden_size", "frame_stride"):
            check_int_field(owner, name, getattr(self, name))
        # odd: the local temporal module preserves the length
        check_int_field(owner, "temporal_kernel_size", self.temporal_kernel_size, odd=True)
        check_int_field(owner, "llm_adapter_hidden_size", self.llm_adapter_hidden_size, optional=True)
        check_float_field(owner, "label_smoothing", self.label_smoothing, 0.0, 1.0, exclusive_maximum=True)
        check_float_field(owner, "decoder_input_dropout", self.decoder_input_dropout, 0.0, 1.0, exclusive_maximum=True)
        check_float_field(owner, "initializer_range", self.initializer_range, 0.0, exclusive_minimum=True)
        check_lora_fields(self)

    def to_dict(self) -> dict:
        return with_shipped_pipelines(super().to_dict(), self)

    @property
    def visual_feature_size(self) -> int:
        return self.temporal_hidden_size

    @property
    def backbone_feature_size(self) -> int:
        return backbone_output_size(self.vision_config)

    @property
    def llm_hidden_size(self) -> int:
        text = self.text_config
        return int(getattr(text, "d_model", None) or text.hidden_size)

    @classmethod
    def tiny(cls, vocab_size: int = 99, llm: str = "mbart", **kwargs) -> FlaLlmConfig:
        """A few-thousand-parameter config for tests and examples (hidden 32, 2 layers, 16–32 px frames).

        `llm`: "mbart" (default), "mt5" or "causal" (a tiny Llama-shaped decoder-only LLM). Token ids default to
        mBART's (pad 1, bos 0, eos 2); pass `pad_token_id=...` etc. to match another tokenizer.
        """
        ids = {"pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2}
        if llm == "mbart":
            text = {**_tiny_seq2seq("mbart", vocab_size), "scale_embedding": True}
        elif llm == "mt5":
            text = {
                "model_type": "mt5", "vocab_size": vocab_size, "d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 2,
                "num_decoder_layers": 2, "num_heads": 4, "dropout_rate": 0.0, **ids, "decoder_start_token_id": 1,
            }
        elif llm == "causal":
            text = {
                "model_type": "llama", "vocab_size": vocab_size, "hidden_size": 32, "intermediate_size": 64,
                "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                "max_position_embeddings": 512, **ids,
            }
        else:
            raise ValueError(f"llm={llm!r}: expected 'mbart', 'mt5' or 'causal'")
        defaults = {
            "vision_config": _tiny_vision(),
            "translator_config": {**_tiny_seq2seq("marian", vocab_size), "activation_function": "relu", "init_std": 32**-0.5},
            "text_config": text,
            "temporal_hidden_size": 32,
            "vl_adapter_hidden_size": 32,
            "temporal_kernel_size": 3,
            "frame_stride": 1,
        }
        defaults.update(kwargs)
        return cls(**defaults)


# re-exported: older code imports these helpers from here
__all__ = ["FlaLlmConfig", "backbone_output_size", "inherit_special_tokens", "serve_pipeline_locally",
           "with_shipped_pipelines"]
