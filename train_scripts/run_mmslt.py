#!/usr/bin/env python
"""Train MMSLT: multimodal-language pre-training (`--stage pretrain`) and translation (`--stage translate`).

    # 0. descriptions of every frame + their embeddings (see train_scripts/generate_descriptions.py)
    python train_scripts/generate_descriptions.py --dataset phoenix14t --data_dir /data/PHOENIX-2014-T \
        --output_dir runs/phoenix_descriptions
    # 1. MMLP
    python train_scripts/run_mmslt.py --recipe train_scripts/recipes/mmslt_phoenix14t_pretrain.json \
        --data_dir /data/PHOENIX-2014-T --description_cache runs/phoenix_descriptions/embeddings \
        --output_dir runs/mmslt_pretrain
    # 2. translation (no descriptions needed any more)
    python train_scripts/run_mmslt.py --recipe train_scripts/recipes/mmslt_phoenix14t_translate.json \
        --data_dir /data/PHOENIX-2014-T --pretrained_model_name_or_path runs/mmslt_pretrain \
        --output_dir runs/mmslt_translate

Recipes hold the paper's hyper-parameters; command-line flags override them. Works under `accelerate launch`
(`--config_overrides '{"gather_negatives": true}'` uses every process's batch as negatives); re-running with the same
output_dir resumes.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

from transformers import AutoConfig, AutoModel, AutoTokenizer, Seq2SeqTrainingArguments, set_seed

from sign_translation import MMSLTConfig, MMSLTForConditionalGeneration, MMSLTForPreTraining
from sign_translation.methods import get_method
from sign_translation.metrics import build_compute_metrics
from sign_translation.modeling.pretrained_sources import load_llm, resolve_pretrained
from sign_translation.modeling.vocabulary_trimming import trim_tokenizer, trim_vocabulary
from sign_translation.processing import (
    DescriptionCache,
    SignPretrainingCollator,
    SignTranslationCollator,
    SignTranslationProcessor,
)
from sign_translation.tokenization import ensure_pad_token, generation_token_ids, train_mbart_tokenizer
from sign_translation.training import (
    DataArguments,
    FeatureCollator,
    SignSeq2SeqTrainer,
    SignTrainer,
    build_video_processor,
    cache_visual_features,
    card_kwargs_from,
    load_dataset_from_args,
    parse_arguments,
    parse_config_overrides,
    require_splits,
    retrieval_metrics,
    train_and_evaluate,
    write_json,
)
from sign_translation.validation import run_script

logger = logging.getLogger("run_mmslt")


@dataclass
class MMSLTArguments:
    stage: str = field(default="pretrain", metadata={"help": "pretrain (MMLP, stage 1) or translate (stage 2); 1 / 2 "
                                                             "are accepted too"})
    tokenizer_name_or_path: str | None = field(
        default=None, metadata={"help": "pretrain: the LLM's tokenizer (paper: facebook/mbart-large-50-many-to-many-mmt;"
                                " a Hub id, folder, GGUF file or offline model name)"}
    )
    train_tokenizer_vocab_size: int | None = field(
        default=None, metadata={"help": "no tokenizer at hand: learn an mBART-50 Unigram tokenizer of this size"}
    )
    language_code: str | None = field(default=None, metadata={"help": "target language code, e.g. de_DE"})
    vision_model_name_or_path: str | None = field(default=None, metadata={"help": "e.g. microsoft/resnet-18"})
    llm_name_or_path: str | None = field(
        default=None, metadata={"help": "pretrained LLM (paper: mBART-50; pretrain: its encoder — or a decoder-only "
                                "LLM's decoder stack —, translate: its decoder / LM head): a Hub id, folder, GGUF file "
                                "or offline model name such as gemma-3-270m"}
    )
    gguf_file: str | None = field(
        default=None, metadata={"help": "with a folder as --llm_name_or_path / --tokenizer_name_or_path: its GGUF file"}
    )
    trim_vocabulary: bool = field(
        default=False, metadata={"help": "pretrain (or translate with --front_end_only): cut the tokenizer and LLM to "
                                 "the training sentences' tokens"}
    )
    config_overrides: str | None = field(default=None, metadata={"help": "JSON dict of MMSLTConfig fields"})
    description_cache: str | None = field(default=None, metadata={"help": "pretrain: the embeddings cache folder"})
    pretrained_model_name_or_path: str | None = field(default=None, metadata={"help": "translate: the MMLP checkpoint"})
    front_end_only: bool = field(
        default=False, metadata={"help": "translate: take only the visual front end (backbone, description mapper, "
                                 "temporal conv) from MMLP; --llm_name_or_path is the whole translator, with its own "
                                 "tokenizer (cut to the training sentences with --trim_vocabulary) and a new MLP"}
    )
    llm_learning_rate: float | None = field(
        default=None, metadata={"help": "translate: the LLM's own learning rate (the rest: --learning_rate)"}
    )
    cache_visual_features: bool = field(
        default=False, metadata={"help": "translate with a frozen backbone: cache its per-frame features once"}
    )
    feature_cache_dir: str | None = field(default=None)


def build_pretraining(args: MMSLTArguments, data: DataArguments, train_texts: list[str], cache: DescriptionCache):
    if args.tokenizer_name_or_path:
        source = resolve_pretrained(args.tokenizer_name_or_path, args.gguf_file)
        tokenizer = ensure_pad_token(AutoTokenizer.from_pretrained(source))
    elif args.train_tokenizer_vocab_size:
        tokenizer = train_mbart_tokenizer(train_texts, args.train_tokenizer_vocab_size, flavour="mbart50",
                                          src_lang=args.language_code)
    else:
        raise ValueError("--stage pretrain needs --tokenizer_name_or_path or --train_tokenizer_vocab_size")
    if args.language_code and hasattr(tokenizer, "src_lang"):
        tokenizer.src_lang = tokenizer.tgt_lang = args.language_code
    overrides = parse_config_overrides(args.config_overrides, MMSLTConfig)
    llm = load_llm(args.llm_name_or_path, args.gguf_file) if args.llm_name_or_path else None
    if args.trim_vocabulary:
        if llm is None:
            tokenizer = trim_tokenizer(tokenizer, train_texts)
        else:
            llm, tokenizer, _ = trim_vocabulary(llm, tokenizer, train_texts)
    is_encoder_decoder = llm.config.is_encoder_decoder if llm is not None else bool(
        AutoConfig.for_model(**overrides["text_config"]).is_encoder_decoder if "text_config" in overrides else True)
    ids = generation_token_ids(tokenizer, is_encoder_decoder)
    if llm is not None:
        text_config = llm.config
    else:
        text_config = {**overrides.pop("text_config", {}), "vocab_size": len(tokenizer),
                       **{k: ids[k] for k in ("pad_token_id", "eos_token_id", "bos_token_id") if ids[k] is not None}}
    overrides.pop("text_config", None)
    attn_implementation = llm.config._attn_implementation if llm is not None else None
    fields = {"description_size": cache.dim, "description_encoder": dict(cache.settings),
              "language_code": args.language_code, **overrides}
    if data.max_frames:
        fields["max_frames"] = data.max_frames
    config = MMSLTConfig(text_config=text_config, **fields)
    encoder = None if llm is None else (llm.get_encoder() if config.llm_type == "seq2seq" else llm.base_model)
    model = MMSLTForPreTraining(config, llm_encoder=encoder)
    if attn_implementation:
        model.llm_encoder.config._attn_implementation = attn_implementation
    if args.vision_model_name_or_path:
        model.backbone.model.load_state_dict(AutoModel.from_pretrained(args.vision_model_name_or_path).state_dict())
    return model, SignTranslationProcessor(build_video_processor(data), tokenizer)


def build_translation(args: MMSLTArguments, train_texts: list[str] | None = None):
    if not args.pretrained_model_name_or_path:
        raise ValueError("--stage translate needs --pretrained_model_name_or_path (the MMLP checkpoint)")
    processor = SignTranslationProcessor.from_pretrained(args.pretrained_model_name_or_path)
    overrides = parse_config_overrides(args.config_overrides, MMSLTConfig)
    if args.front_end_only:
        return build_translation_on_front_end(args, processor, overrides, train_texts)
    llm = None
    if args.llm_name_or_path:  # the LLM's vocabulary cut to the pre-training tokenizer's, when that was trimmed
        source = resolve_pretrained(args.llm_name_or_path, args.gguf_file)
        llm, llm_tokenizer = load_llm(source), ensure_pad_token(AutoTokenizer.from_pretrained(source))
        if llm_tokenizer.get_vocab() != processor.tokenizer.get_vocab():
            llm, _, _ = trim_vocabulary(llm, llm_tokenizer, target_tokenizer=processor.tokenizer)
    model = MMSLTForConditionalGeneration.from_pretraining(args.pretrained_model_name_or_path, llm=llm, **overrides)
    # mBART-50: start from </s>, force the language code; a decoder-only LLM keeps its own ids
    ids = generation_token_ids(processor.tokenizer, model.config.is_encoder_decoder)
    model.generation_config.update(**{k: v for k, v in ids.items() if v is not None})
    return model, processor


def build_translation_on_front_end(args: MMSLTArguments, mmlp_processor, overrides: dict, train_texts):
    """`--front_end_only`: MMLP's visual front end + the whole `--llm_name_or_path` LLM with its own tokenizer."""
    if not args.llm_name_or_path:
        raise ValueError("--front_end_only needs --llm_name_or_path (the translator LLM)")
    source = resolve_pretrained(args.llm_name_or_path, args.gguf_file)
    llm, tokenizer = load_llm(source), ensure_pad_token(AutoTokenizer.from_pretrained(source))
    if args.trim_vocabulary:
        llm, tokenizer, _ = trim_vocabulary(llm, tokenizer, train_texts)
    model = MMSLTForConditionalGeneration.from_pretraining(args.pretrained_model_name_or_path, llm=llm,
                                                           front_end_only=True, **overrides)
    ids = generation_token_ids(tokenizer, model.config.is_encoder_decoder)
    model.generation_config.update(**{k: v for k, v in ids.items() if v is not None})
    return model, SignTranslationProcessor(mmlp_processor.video_processor, tokenizer)


def main(argv: list[str] | None = None, callbacks: list | None = None) -> dict:
    """Train and evaluate; `callbacks` are extra `TrainerCallback`s (e.g. a benchmark's learning-curve recorder)."""
    args, data, training_args = parse_arguments((MMSLTArguments, DataArguments, Seq2SeqTrainingArguments), argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    training_args.remove_unused_columns = False  # the collator needs the raw video/text/name columns
    set_seed(training_args.seed)
    args.stage = get_method(MMSLTConfig.model_type).stage(args.stage)["name"]  # "pretrain" | "translate"
    dataset = load_dataset_from_args(data)
    require_splits(dataset, data.train_split, data.eval_split)
    train_set, eval_set = dataset[data.train_split], dataset[data.eval_split]
    test_set = dataset[data.test_split] if data.test_split and data.test_split in dataset else None
    record = {**asdict(args), **asdict(data)}

    if args.stage == "pretrain":
        if not args.description_cache:
            raise ValueError("--stage pretrain needs --description_cache (embeddings of the frame descriptions)")
        cache = DescriptionCache(args.description_cache)
        model, processor = build_pretraining(args, data, train_set["text"], cache)
        collator = SignPretrainingCollator(processor, description_cache=cache, augment=data.augment,
                                           max_target_length=data.max_target_length)
        training_args.prediction_loss_only = True
        trainer = SignTrainer(model=model, args=training_args, train_dataset=train_set, eval_dataset=eval_set,
                              data_collator=collator, processing_class=processor, callbacks=callbacks)
        results = train_and_evaluate(trainer, processor, {data.eval_split: eval_set}, record, generate=False,
                                     card_kwargs=card_kwargs_from(data, args.language_code))
        if trainer.is_world_process_zero():
            results["retrieval"] = retrieval_metrics(trainer.model, eval_set, collator,
                                                     training_args.per_device_eval_batch_size)
            logger.info("video-sentence retrieval on %s: %s", data.eval_split, results["retrieval"])
            write_json(f"{training_args.output_dir}/results.json", results)
        return results

    training_args.predict_with_generate = True
    model, processor = build_translation(args, train_set["text"])
    collator = SignTranslationCollator(processor, augment=data.augment, max_target_length=data.max_target_length)
    if args.cache_visual_features:
        cache_dir = args.feature_cache_dir or f"{training_args.output_dir}/feature_cache"
        with training_args.main_process_first(desc="feature cache"):
            cached = {split: cache_visual_features(model, ds, processor.video_processor, cache_dir, split,
                                                   training_args.per_device_eval_batch_size)
                      for split, ds in (("train", train_set), ("dev", eval_set), ("test", test_set)) if ds is not None}
        train_set, eval_set, test_set = cached["train"], cached["dev"], cached.get("test")
        collator = FeatureCollator(processor, max_target_length=data.max_target_length)
    trainer = SignSeq2SeqTrainer(
        model=model, args=training_args, train_dataset=train_set, eval_dataset=eval_set, data_collator=collator,
        processing_class=processor,
        compute_metrics=build_compute_metrics(processor.tokenizer, char_level=data.char_level_bleu),
        learning_rates={r"(^|\.)llm\.": args.llm_learning_rate} if args.llm_learning_rate is not None else None,
        callbacks=callbacks,
    )
    card = card_kwargs_from(data, args.language_code, args.pretrained_model_name_or_path)
    return train_and_evaluate(trainer, processor, {data.eval_split: eval_set, "test": test_set}, record,
                              card_kwargs=card)


if __name__ == "__main__":
    run_script(main)
