"""The FLa-LLM training script end to end on a tiny synthetic corpus: both stages, the feature cache, resuming,
per-module learning rates, the recipes, and a two-process `accelerate launch`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSeq2SeqLM, Seq2SeqTrainingArguments

from sign_translation import FlaLlmForConditionalGeneration, FlaLlmForVisualInitialization
from sign_translation.processing import SignTranslationProcessor
from sign_translation.train_scripts import run_fla_llm
from sign_translation.training import DataArguments, SignSeq2SeqTrainer, parse_arguments

REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "train_scripts" / "recipes"

TINY_STAGE1 = {
    "stage": 1,
    "dataset": "folder",
    "train_tokenizer_vocab_size": 120,
    "config_overrides": {
        "vision_config": {"model_type": "resnet", "depths": [1, 1], "hidden_sizes": [8, 16], "layer_type": "basic",
                          "embedding_size": 8},
        "translator_config": {"model_type": "marian", "d_model": 32, "encoder_layers": 1, "decoder_layers": 1,
                              "encoder_attention_heads": 4, "decoder_attention_heads": 4, "encoder_ffn_dim": 64,
                              "decoder_ffn_dim": 64, "max_position_embeddings": 128, "init_std": 0.17},
        "text_config": {"model_type": "mbart", "d_model": 32, "encoder_layers": 1, "decoder_layers": 1,
                        "encoder_attention_heads": 4, "decoder_attention_heads": 4, "encoder_ffn_dim": 64,
                        "decoder_ffn_dim": 64, "max_position_embeddings": 128},
        "temporal_hidden_size": 16, "vl_adapter_hidden_size": 16, "temporal_kernel_size": 3,
    },
    "image_size": 32, "crop_size": 28, "frame_stride": 4, "augment": False,
    "do_train": True, "max_steps": 4, "per_device_train_batch_size": 4, "per_device_eval_batch_size": 6,
    "learning_rate": 1e-3, "save_strategy": "no", "logging_steps": 1, "report_to": "none", "use_cpu": True,
    "disable_tqdm": True, "generation_num_beams": 1, "generation_max_length": 12, "dataloader_num_workers": 0,
}
TINY_STAGE2 = {
    "stage": 2, "dataset": "folder",
    "llm_config": {"model_type": "mbart", "d_model": 32, "encoder_layers": 1, "decoder_layers": 1,
                   "encoder_attention_heads": 4, "decoder_attention_heads": 4, "encoder_ffn_dim": 64,
                   "decoder_ffn_dim": 64, "max_position_embeddings": 128},
    "augment": False, "do_train": True, "max_steps": 3, "per_device_train_batch_size": 4,
    "per_device_eval_batch_size": 6, "learning_rate": 1e-3, "llm_learning_rate": 1e-4, "save_strategy": "no",
    "logging_steps": 1, "report_to": "none", "use_cpu": True, "disable_tqdm": True, "generation_num_beams": 1,
    "generation_max_length": 12, "dataloader_num_workers": 0,
}


def write_recipe(path: Path, recipe: dict) -> Path:
    path.write_text(json.dumps(recipe))
    return path


@pytest.fixture(scope="module")
def stage1_run(tiny_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("stage1")
    recipe = write_recipe(out / "recipe.json", TINY_STAGE1)
    results = run_fla_llm.main(["--recipe", str(recipe), "--data_dir", str(tiny_corpus), "--output_dir", str(out)])
    return out, results


def losses(output_dir: Path) -> list[float]:
    state = sorted(output_dir.glob("checkpoint-*/trainer_state.json"))
    history = json.loads(state[-1].read_text())["log_history"]
    return [row["loss"] for row in history if "loss" in row]


@pytest.mark.slow
def test_stage1_script_trains_evaluates_and_saves_model_with_processor(stage1_run):
    out, results = stage1_run
    assert results["train"]["train_loss"] > 0
    assert {"dev_bleu4", "dev_rouge_l", "signature"} <= set(results["dev"]) and "test_bleu4" in results["test"]
    assert json.loads((out / "results.json").read_text())["test"]["test_bleu4"] == results["test"]["test_bleu4"]
    translations = json.loads((out / "translations_test.json").read_text())
    assert len(translations) == 6 and {"name", "reference", "hypothesis"} <= set(translations[0])
    model = FlaLlmForVisualInitialization.from_pretrained(out)
    processor = SignTranslationProcessor.from_pretrained(out)  # saved beside the model
    assert processor.video_processor.frame_stride == 4 and len(processor.tokenizer) == model.config.text_config.vocab_size
    args = json.loads((out / "training_args.json").read_text())
    assert args["stage"] == "pretrain" and args["learning_rate"] == 1e-3  # stage 1 given as 1: one vocabulary


@pytest.mark.slow
def test_stage2_feature_cache_matches_recomputing_and_is_reused(stage1_run, tiny_corpus, tmp_path):
    stage1, _ = stage1_run
    recipe = write_recipe(tmp_path / "recipe.json", {**TINY_STAGE2, "save_strategy": "steps", "save_steps": 3})
    base = ["--recipe", str(recipe), "--data_dir", str(tiny_corpus), "--stage1_model_name_or_path", str(stage1)]
    recomputed = run_fla_llm.main(base + ["--output_dir", str(tmp_path / "recompute")])
    cached = run_fla_llm.main(base + ["--output_dir", str(tmp_path / "cached"), "--cache_visual_features", "true"])
    # same data order, same frozen encoder, no augmentation: the same losses, step by step
    assert losses(tmp_path / "recompute") == pytest.approx(losses(tmp_path / "cached"), rel=1e-5)
    assert cached["test"]["test_bleu4"] == pytest.approx(recomputed["test"]["test_bleu4"])
    cache_files = sorted((tmp_path / "cached" / "feature_cache").glob("*.arrow"))
    assert len(cache_files) == 3  # train, dev, test
    mtimes = [f.stat().st_mtime_ns for f in cache_files]
    run_fla_llm.main(base + ["--output_dir", str(tmp_path / "cached2"), "--cache_visual_features", "true",
                             "--feature_cache_dir", str(tmp_path / "cached" / "feature_cache")])
    assert [f.stat().st_mtime_ns for f in cache_files] == mtimes  # reused, not recomputed
    model = AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "cached")
    stage1_model = FlaLlmForVisualInitialization.from_pretrained(stage1)
    assert isinstance(model, FlaLlmForConditionalGeneration)
    assert all(torch.equal(a, b) for a, b in zip(stage1_model.visual_encoder.state_dict().values(),
                                                 model.visual_encoder.state_dict().values()))


@pytest.mark.slow
def test_resume_from_last_checkpoint(tiny_corpus, tmp_path):
    recipe = write_recipe(tmp_path / "recipe.json", {**TINY_STAGE1, "save_strategy": "steps", "save_steps": 2,
                                                     "test_split": ""})
    argv = ["--recipe", str(recipe), "--data_dir", str(tiny_corpus), "--output_dir", str(tmp_path / "run")]
    run_fla_llm.main(argv + ["--max_steps", "2"])
    assert (tmp_path / "run" / "checkpoint-2").is_dir()
    run_fla_llm.main(argv + ["--max_steps", "4"])  # same output_dir: continues from checkpoint-2
    state = json.loads((tmp_path / "run" / "checkpoint-4" / "trainer_state.json").read_text())
    steps = [row["step"] for row in state["log_history"] if "loss" in row]
    assert state["global_step"] == 4 and steps == [1, 2, 3, 4]  # steps 1-2 come from the first run's state


def test_separate_learning_rates_for_llm_and_adapter(tmp_path):
    from sign_translation import FlaLlmConfig

    model = FlaLlmForConditionalGeneration(FlaLlmConfig.tiny(vocab_size=50))
    args = Seq2SeqTrainingArguments(output_dir=str(tmp_path), learning_rate=1e-3, weight_decay=0.0, use_cpu=True,
                                    report_to="none")
    trainer = SignSeq2SeqTrainer(model=model, args=args, learning_rates={r"(^|\.)llm\.": 1e-5})
    optimizer = trainer.create_optimizer()
    by_lr = {group["lr"]: sum(p.numel() for p in group["params"]) for group in optimizer.param_groups}
    llm = sum(p.numel() for p in model.llm.parameters())
    adapter = sum(p.numel() for p in model.llm_adapter.parameters())
    assert by_lr == {1e-5: llm, 1e-3: adapter}  # frozen visual encoder: in no group at all


@pytest.mark.parametrize("recipe", sorted(p.name for p in RECIPES.glob("fla_llm_*.json")))
def test_every_recipe_parses(recipe, tmp_path):
    args, data, training_args = parse_arguments(
        (run_fla_llm.FlaLlmArguments, DataArguments, Seq2SeqTrainingArguments),
        ["--recipe", str(RECIPES / recipe), "--data_dir", str(tmp_path), "--output_dir", str(tmp_path / "out")],
    )
    assert args.stage in ("pretrain", "translate") and data.data_dir == str(tmp_path)
    if "synthetic" not in recipe:  # paper numbers
        if args.stage == "pretrain":
            assert (training_args.learning_rate, training_args.per_device_train_batch_size, data.frame_stride) == (
                0.01, 8, 4)
            assert training_args.num_train_epochs == 75 and training_args.optim == "sgd"
        else:
            assert (training_args.learning_rate, args.llm_learning_rate) == (1e-3, 1e-5)
            assert training_args.per_device_train_batch_size == 16 and training_args.generation_num_beams == 5


def test_command_line_overrides_the_recipe(tmp_path):
    args, data, training_args = parse_arguments(
        (run_fla_llm.FlaLlmArguments, DataArguments, Seq2SeqTrainingArguments),
        [str(RECIPES / "fla_llm_phoenix14t_stage1.json"), "--data_dir", "x", "--output_dir", str(tmp_path),
         "--learning_rate", "0.5", "--frame_stride", "2"],
    )
    assert training_args.learning_rate == 0.5 and data.frame_stride == 2 and args.language_code == "de_DE"


@pytest.mark.slow
def test_two_process_accelerate_launch(tiny_corpus, tmp_path):
    recipe = write_recipe(tmp_path / "recipe.json", {**TINY_STAGE1, "max_steps": 2, "test_split": ""})
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "29517",
        str(REPO / "train_scripts" / "run_fla_llm.py"),
        "--recipe", str(recipe), "--data_dir", str(tiny_corpus), "--output_dir", str(tmp_path / "run"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert "dev_bleu4" in results["dev"] and results["train"]["train_loss"] > 0
    assert "world_size" not in results  # written once, by the main process
    assert (tmp_path / "run" / "model.safetensors").is_file()


@pytest.mark.slow
def test_stage2_lora_in_the_model_like_mmslt_and_decoder_only_llm_trains(stage1_run, tiny_corpus, tmp_path):
    """--lora_r sets FlaLlmConfig's LoRA fields: the model injects LoRA into its LLM (MMSLT's mechanism) and the
    checkpoint is one full model with the LoRA weights in it — no adapter folder, no merged copy."""
    from sign_translation.modeling.llm_bridge import lora_layers

    stage1, _ = stage1_run
    recipe = write_recipe(tmp_path / "recipe.json", {**TINY_STAGE2, "max_steps": 2, "test_split": ""})
    base = ["--recipe", str(recipe), "--data_dir", str(tiny_corpus), "--stage1_model_name_or_path", str(stage1)]
    lora = run_fla_llm.main(base + ["--output_dir", str(tmp_path / "lora"), "--lora_r", "4", "--lora_alpha", "8"])
    files = {p.name for p in (tmp_path / "lora").iterdir()}
    assert "model.safetensors" in files and "adapter_config.json" not in files and "merged" not in files
    assert "dev_bleu4" in lora["dev"]
    model = FlaLlmForConditionalGeneration.from_pretrained(tmp_path / "lora")
    assert (model.config.llm_finetuning, model.config.lora_r, model.config.lora_alpha) == ("lora", 4, 8)
    assert lora_layers(model.llm)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or n.startswith("llm_adapter.") for n in trainable)
    llama = {"model_type": "llama", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
             "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 256}
    causal = run_fla_llm.main(base + ["--output_dir", str(tmp_path / "causal"), "--llm_config", json.dumps(llama)])
    model = FlaLlmForConditionalGeneration.from_pretrained(tmp_path / "causal")
    assert not model.config.is_encoder_decoder and model.llm.config.model_type == "llama"
    assert causal["train"]["train_loss"] > 0 and "dev_bleu4" in causal["dev"]


def test_resume_does_not_report_tied_weights_as_missing(tmp_path):
    """A decoder-only LLM with tied embeddings stores its `lm_head` once (as the input embeddings), so a resumed run's
    checkpoint lacks that key by design: no "missing keys" report for it, the weights still tied after resuming — and
    a key that is really missing is still reported."""
    import logging

    from transformers import LlamaConfig, LlamaForCausalLM, TrainingArguments

    from sign_translation.training import SignTrainer

    def model():
        torch.manual_seed(0)
        return LlamaForCausalLM(LlamaConfig(vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                            num_attention_heads=2, num_key_value_heads=2, tie_word_embeddings=True))

    rows = [{"input_ids": list(range(i, i + 8)), "labels": list(range(i, i + 8))} for i in range(8)]

    def trainer(max_steps):
        args = TrainingArguments(output_dir=str(tmp_path / "run"), max_steps=max_steps, save_steps=2,
                                 per_device_train_batch_size=4, use_cpu=True, report_to=[], disable_tqdm=True,
                                 logging_strategy="no", seed=0)
        return SignTrainer(model=model(), args=args, train_dataset=rows)

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    trainer_logger = logging.getLogger("transformers.trainer")
    trainer_logger.addHandler(handler)
    try:
        trainer(2).train()
        resumed = trainer(3)
        assert "model.embed_tokens.weight" in resumed.model.all_tied_weights_keys.values()
        resumed.train(resume_from_checkpoint=True)
        assert not [r for r in records if "missing keys" in r.getMessage()]
        net = resumed.model
        assert net.lm_head.weight.data_ptr() == net.model.embed_tokens.weight.data_ptr()  # still tied
        # a key that is really missing is still reported
        state = {k: v for k, v in net.state_dict().items() if k not in ("lm_head.weight", "model.norm.weight")}
        resumed._issue_warnings_after_load(net.load_state_dict(state, strict=False))
        reports = [r.getMessage() for r in records if "missing keys" in r.getMessage()]
        assert len(reports) == 1 and "model.norm.weight" in reports[0] and "lm_head" not in reports[0]
    finally:
        trainer_logger.removeHandler(handler)
