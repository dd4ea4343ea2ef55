#!/usr/bin/env python
"""Train FLa-LLM. Stage 1 (visual initialising) and stage 2 (LLM fine-tuning) with one script.

    python train_scripts/run_fla_llm.py --recipe train_scripts/recipes/fla_llm_phoenix14t_stage1.json \
        --data_dir /data/PHOENIX-2014-T --output_dir runs/fla_stage1
    python train_scripts/run_fla_llm.py --recipe train_scripts/recipes/fla_llm_phoenix14t_stage2.json \
        --data_dir /data/PHOENIX-2014-T --stage1_model_name_or_path runs/fla_stage1 --output_dir runs/fla_stage2

Recipes (JSON) hold the paper's hyper-parameters; any flag on the command line overrides the recipe. Works under
`accelerate launch`; re-running with the same output_dir resumes from its last checkpoint.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field

from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer, set_seed

from sign_translation import FlaLlmConfig, FlaLlmForConditionalGeneration, FlaLlmForVisualInitialization
from sign_translation.methods import get_method
from sign_translation.metrics import build_compute_metrics
from sign_translation.modeling.pretrained_sources import resolve_pretrained
from sign_translation.processing import SignTranslationCollator, SignTranslationProcessor
from sign_translation.tokenization import ensure_pad_token, generation_token_ids, train_mbart_tokenizer
from sign_translation.training import (
    DataArguments,
    FeatureCollator,
    Seq2SeqTrainingArguments,
    SignSeq2SeqTrainer,
    build_video_processor,
    cache_visual_features,
    card_kwargs_from,
    load_dataset_from_args,
    parse_arguments,
    parse_config_overrides,
    require_splits,
    train_and_evaluate,
)
from sign_translation.validation import run_script

logger = logging.getLogger("run_fla_llm")


@dataclass
class FlaLlmArguments:
    stage: str = field(default="pretrain", metadata={
        "help": "pretrain: visual initialising with Light-T (the paper's stage 1); translate: LLM fine-tuning (stage 2). "
                "1 / 2 are accepted too"})
    tokenizer_name_or_path: str | None = field(
        default=None, metadata={"help": "stage 1: the stage-2 LLM's tokenizer (paper: facebook/mbart-large-cc25); a "
                                "Hub id, folder, GGUF file or offline model name (`sign-translation models list`)"}
    )
    train_tokenizer_vocab_size: int | None = field(
        default=None, metadata={"help": "no tokenizer at hand: learn an mBART Unigram tokenizer of this size"}
    )
    language_code: str | None = field(default=None, metadata={"help": "target language code, e.g. de_DE"})
    trim_vocabulary: bool = field(default=False, metadata={"help": "trim the tokenizer/LLM to the training text"})
    vision_model_name_or_path: str | None = field(
        default=None, metadata={"help": "ImageNet backbone weights for stage 1 (paper: microsoft/resnet-18)"}
    )
    config_overrides: str | None = field(default=None, metadata={"help": "JSON dict of FlaLlmConfig fields"})
    stage1_model_name_or_path: str | None = field(default=None, metadata={"help": "translate: the pretrain checkpoint"})
    llm_name_or_path: str | None = field(
        default=None, metadata={"help": "stage 2: pretrained LLM: a Hub id, folder, GGUF file (converted once) or an "
                                "offline model name such as gemma-3-270m"}
    )
    gguf_file: str | None = field(
        default=None, metadata={"help": "with a folder as --llm_name_or_path / --tokenizer_name_or_path: its GGUF file"}
    )
    llm_config: str | None = field(
        default=None, metadata={"help": "stage 2 without pretrained weights: JSON config of the LLM to build"}
    )
    llm_learning_rate: float = field(default=1e-5, metadata={"help": "stage 2 LLM lr (adapter: --learning_rate)"})
    lora_r: int = field(default=0, metadata={
        "help": "stage 2: LoRA rank on the LLM (0 = full fine-tuning, the paper). Sets FlaLlmConfig's "
                "llm_finetuning='lora' and lora_* fields: the model injects LoRA itself, as MMSLT does, and the "
                "checkpoint holds it (no adapter folder, no merged copy)"})
    lora_alpha: int = field(default=32)
    lora_dropout: float = field(default=0.1)
    lora_target_modules: str | None = field(default=None, metadata={
        "help": "comma-separated projections (default: q/k/v/out_proj, or q/k/v/o_proj for a decoder-only LLM)"})
    cache_visual_features: bool = field(
        default=False, metadata={"help": "stage 2: run the frozen encoder once, train from cached features"}
    )
    feature_cache_dir: str | None = field(default=None, metadata={"help": "default: <output_dir>/feature_cache"})


def build_stage1(args: FlaLlmArguments, data: DataArguments, train_texts: list[str]):
    if args.tokenizer_name_or_path:
        source = resolve_pretrained(args.tokenizer_name_or_path, args.gguf_file)
        tokenizer = ensure_pad_token(AutoTokenizer.from_pretrained(source))
        if args.language_code and hasattr(tokenizer, "src_lang"):
            tokenizer.src_lang = tokenizer.tgt_lang = args.language_code
    elif args.train_tokenizer_vocab_size:
        tokenizer = train_mbart_tokenizer(train_texts, args.train_tokenizer_vocab_size, src_lang=args.language_code)
    else:
        raise ValueError("stage 1 needs --tokenizer_name_or_path or --train_tokenizer_vocab_size")
    if args.trim_vocabulary:
        from sign_translation.modeling.vocabulary_trimming import trim_tokenizer

        tokenizer = trim_tokenizer(tokenizer, train_texts)
    overrides = parse_config_overrides(args.config_overrides, FlaLlmConfig)
    ids = generation_token_ids(tokenizer, is_encoder_decoder=True)
    text_config = {**overrides.pop("text_config", {}), "vocab_size": len(tokenizer)}
    text_config.update({k: ids[k] for k in ("pad_token_id", "eos_token_id", "bos_token_id") if ids[k] is not None})
    config = FlaLlmConfig(
        text_config=text_config,
        language_code=args.language_code,
        frame_stride=data.frame_stride,
        pad_token_id=ids["pad_token_id"],
        eos_token_id=ids["eos_token_id"],
        bos_token_id=ids["bos_token_id"],
        **overrides,
    )
    model = FlaLlmForVisualInitialization(config)
    if args.vision_model_name_or_path:
        backbone = AutoModel.from_pretrained(args.vision_model_name_or_path)
        model.visual_encoder.backbone.model.load_state_dict(backbone.state_dict())
    return model, SignTranslationProcessor(build_video_processor(data), tokenizer), {}


def lora_fields(args: FlaLlmArguments) -> dict:
    """`--lora_r > 0` → the FlaLlmConfig fields that make the model inject LoRA into its LLM (none otherwise)."""
    if args.lora_r <= 0:
        return {}
    fields = {"llm_finetuning": "lora", "lora_r": args.lora_r, "lora_alpha": args.lora_alpha,
              "lora_dropout": args.lora_dropout}
    if args.lora_target_modules:
        fields["lora_target_modules"] = [t.strip() for t in args.lora_target_modules.split(",") if t.strip()]
    return fields


def build_stage2(args: FlaLlmArguments, data: DataArguments):
    if not args.stage1_model_name_or_path:
        raise ValueError("stage 2 needs --stage1_model_name_or_path")
    stage1 = FlaLlmForVisualInitialization.from_pretrained(args.stage1_model_name_or_path)
    processor = SignTranslationProcessor.from_pretrained(args.stage1_model_name_or_path)
    tokenizer = processor.tokenizer
    overrides = {**lora_fields(args), **parse_config_overrides(args.config_overrides, FlaLlmConfig)}
    if args.llm_name_or_path:
        llm_source = resolve_pretrained(args.llm_name_or_path, args.gguf_file)
        llm_tokenizer = ensure_pad_token(AutoTokenizer.from_pretrained(llm_source))
        same = llm_tokenizer.get_vocab() == tokenizer.get_vocab()
        model, tokenizer = FlaLlmForConditionalGeneration.from_stage1(
            stage1, llm_source, tokenizer=llm_tokenizer, target_tokenizer=None if same else tokenizer,
            **overrides,
        )
    elif args.llm_config:
        ids = generation_token_ids(tokenizer)
        llm_config = AutoConfig.for_model(**{**json.loads(args.llm_config), "vocab_size": len(tokenizer),
                                             **{k: v for k, v in ids.items() if v is not None and "forced" not in k}})
        auto = AutoModelForSeq2SeqLM if llm_config.is_encoder_decoder else AutoModelForCausalLM
        model, _ = FlaLlmForConditionalGeneration.from_stage1(stage1, auto.from_config(llm_config), **overrides)
    else:
        raise ValueError("stage 2 needs --llm_name_or_path (pretrained LLM) or --llm_config (build one)")
    ids = generation_token_ids(tokenizer, model.config.is_encoder_decoder)
    model.generation_config.update(**{k: v for k, v in ids.items() if v is not None})
    processor.tokenizer = tokenizer
    return model, processor, {r"(^|\.)llm\.": args.llm_learning_rate}


def main(argv: list[str] | None = None, callbacks: list | None = None) -> dict:
    """Train and evaluate; `callbacks` are extra `TrainerCallback`s (e.g. a benchmark's learning-curve recorder)."""
    args, data, training_args = parse_arguments((FlaLlmArguments, DataArguments, Seq2SeqTrainingArguments), argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    training_args.remove_unused_columns = False  # the collator needs the raw video/text columns
    training_args.predict_with_generate = True
    set_seed(training_args.seed)
    args.stage = get_method(FlaLlmConfig.model_type).stage(args.stage)["name"]  # "pretrain" | "translate"

    dataset = load_dataset_from_args(data)
    require_splits(dataset, data.train_split, data.eval_split)
    if args.stage == "pretrain":
        model, processor, learning_rates = build_stage1(args, data, dataset[data.train_split]["text"])
    else:
        model, processor, learning_rates = build_stage2(args, data)

    train_set, eval_set = dataset[data.train_split], dataset[data.eval_split]
    test_set = dataset[data.test_split] if data.test_split and data.test_split in dataset else None
    collator = SignTranslationCollator(processor, augment=data.augment, max_target_length=data.max_target_length)
    if args.stage == "translate" and args.cache_visual_features:
        cache_dir = args.feature_cache_dir or f"{training_args.output_dir}/feature_cache"
        with training_args.main_process_first(desc="feature cache"):
            cached = {
                split: cache_visual_features(model, ds, processor.video_processor, cache_dir, split,
                                             training_args.per_device_eval_batch_size)
                for split, ds in ((data.train_split, train_set), (data.eval_split, eval_set), ("test", test_set))
                if ds is not None
            }
        train_set, eval_set = cached[data.train_split], cached[data.eval_split]
        test_set = cached.get("test")
        collator = FeatureCollator(processor, max_target_length=data.max_target_length)
    trainer = SignSeq2SeqTrainer(
        model=model,
        args=training_args,
        train_dataset=train_set,
        eval_dataset=eval_set,
        data_collator=collator,
        processing_class=processor,
        compute_metrics=build_compute_metrics(processor.tokenizer, char_level=data.char_level_bleu),
        learning_rates=learning_rates,
        callbacks=callbacks,
    )
    eval_sets = {data.eval_split: eval_set, "test": test_set}
    card = card_kwargs_from(data, args.language_code or getattr(model.config, "language_code", None),
                            args.stage1_model_name_or_path if args.stage == "translate" else None)
    return train_and_evaluate(trainer, processor, eval_sets, {**asdict(args), **asdict(data)}, card_kwargs=card)


if __name__ == "__main__":
    run_script(main)
