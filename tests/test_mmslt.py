"""MMSLT: MMLP loss terms and masking, the frozen description mapper, video-only inference, stage-1 → stage-2
weight transfer, save/load and remote code, the training script on a tiny corpus, and the paper-size config."""

import json
import os
import subprocess
import sys

import pytest
import torch
from transformers import AutoModel, AutoModelForPreTraining, AutoModelForSeq2SeqLM

from sign_translation import MMSLTConfig, MMSLTForConditionalGeneration, MMSLTForPretraining, MMSLTModel
from sign_translation.processing import (
    DescriptionEncoder,
    SignPretrainingCollator,
    SignTranslationProcessor,
    SignVideoProcessor,
    descriptions_from_corpus,
    encode_descriptions,
)
from sign_translation.tokenization import build_offline_text_encoder

D = 16  # description embedding width in the tiny configs


def batch(lengths=(10, 7, 5), text_lengths=(4, 3, 2), seed=0):
    torch.manual_seed(seed)
    width = max(lengths)
    video = torch.randn(len(lengths), width, 3, 16, 16)
    mask = torch.zeros(len(lengths), width, dtype=torch.long)
    ids = torch.ones(len(text_lengths), max(text_lengths), dtype=torch.long)  # pad id 1
    for i, (t, n) in enumerate(zip(lengths, text_lengths)):
        mask[i, :t] = 1
        ids[i, :n] = torch.arange(5, 5 + n)
        ids[i, n - 1] = 2
    return {"pixel_values_videos": video, "video_mask": mask, "input_ids": ids, "attention_mask": (ids != 1).long(),
            "description_embeds": torch.randn(len(lengths), width, D)}


def pad(inputs: dict, frames: int = 4, tokens: int = 2) -> dict:
    """The same examples with extra padding (garbage values where the masks are 0)."""
    b = inputs["video_mask"].shape[0]
    return {
        "pixel_values_videos": torch.cat([inputs["pixel_values_videos"], torch.randn(b, frames, 3, 16, 16)], 1),
        "video_mask": torch.cat([inputs["video_mask"], torch.zeros(b, frames, dtype=torch.long)], 1),
        "input_ids": torch.cat([inputs["input_ids"], torch.full((b, tokens), 1)], 1),
        "attention_mask": torch.cat([inputs["attention_mask"], torch.zeros(b, tokens, dtype=torch.long)], 1),
        "description_embeds": torch.cat([inputs["description_embeds"], 50 * torch.randn(b, frames, D)], 1),
    }


@pytest.fixture(params=["mbart", "causal"])
def pretraining(request):
    """MMLP on the paper's seq2seq LLM and on a decoder-only LLM (Gemma/Llama-shaped)."""
    torch.manual_seed(0)
    return MMSLTForPretraining(MMSLTConfig.tiny(vocab_size=40, description_size=D, llm=request.param))


def llm_encoder_of(model: MMSLTForConditionalGeneration):
    """Where stage 1's encoder lands in stage 2: mBART's encoder, or a decoder-only LLM's whole decoder stack."""
    return model.llm.get_encoder() if model.config.llm_type == "seq2seq" else model.llm.base_model


def test_mmlp_loss_terms(pretraining):
    model = pretraining.eval()
    inputs = batch()
    out = model(**inputs)
    # symmetric InfoNCE with the learnable temperature over cosine similarities
    scale = model.logit_scale.exp()
    assert torch.allclose(scale, torch.tensor(1 / 0.07), rtol=1e-5)
    logits = scale * out.video_embeds @ out.text_embeds.T
    assert torch.allclose(out.logits_per_video, logits, atol=1e-5)
    targets = torch.arange(3)
    contrastive = (torch.nn.functional.cross_entropy(logits, targets)
                   + torch.nn.functional.cross_entropy(logits.T, targets)) / 2
    assert torch.allclose(out.contrastive_loss, contrastive, atol=1e-5)
    # MSE of the mapped descriptions on valid frames only, weighted 0.1
    frames = model.backbone(inputs["pixel_values_videos"], inputs["video_mask"])
    mapped = model.description_mapper(frames)
    valid = inputs["video_mask"].bool()
    mse = ((mapped - inputs["description_embeds"]) ** 2)[valid].mean()
    assert torch.allclose(out.description_loss, mse, atol=1e-6)
    assert torch.allclose(out.loss, contrastive + 0.1 * mse, atol=1e-5)
    assert torch.allclose(out.video_embeds.norm(dim=-1), torch.ones(3)) and torch.allclose(out.text_embeds.norm(dim=-1), torch.ones(3))


def test_padding_does_not_change_the_loss(pretraining):
    model = pretraining.eval()
    inputs = batch()
    a, b = model(**inputs), model(**pad(inputs))
    for key in ("loss", "contrastive_loss", "description_loss", "video_embeds", "text_embeds"):
        assert torch.allclose(getattr(a, key), getattr(b, key), atol=1e-5), key


def test_ground_truth_descriptions_never_enter_the_forward_path(pretraining):
    model = pretraining.eval()
    inputs = batch()
    a = model(**inputs)
    b = model(**{**inputs, "description_embeds": torch.randn_like(inputs["description_embeds"])})
    assert torch.equal(a.video_embeds, b.video_embeds) and torch.equal(a.logits_per_video, b.logits_per_video)
    assert not torch.equal(a.description_loss, b.description_loss)


def test_mmlp_trains_lora_front_end_and_temperature_not_the_llm(pretraining):
    model = pretraining.train()
    frozen = {k: v.clone() for k, v in model.llm_encoder.state_dict().items() if "lora_" not in k}
    text_before = model.encode_text(batch()["input_ids"], batch()["attention_mask"])
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    losses = []
    for _ in range(12):
        out = model(**batch(seed=0))
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(out.loss.item())
    assert losses[-1] < losses[0]
    assert all(torch.equal(frozen[k], v) for k, v in model.llm_encoder.state_dict().items() if "lora_" not in k)
    assert any("lora_B" in k and v.abs().sum() > 0 for k, v in model.llm_encoder.state_dict().items())
    # the text side is the frozen encoder without LoRA: unchanged by training
    assert torch.allclose(model.encode_text(batch()["input_ids"], batch()["attention_mask"]), text_before, atol=1e-6)
    assert model.logit_scale.item() != pytest.approx(torch.log(torch.tensor(1 / 0.07)).item())


def test_ablation_without_description_mapper():
    model = MMSLTForPretraining(MMSLTConfig.tiny(vocab_size=40, use_description_mapper=False)).eval()
    assert model.description_mapper is None and model.config.temporal_input_size == 32
    out = model(**batch())
    assert out.description_loss is None and torch.equal(out.loss, out.contrastive_loss)


def test_stage2_transfer_is_exact_and_mapper_frozen(pretraining, tmp_path):
    pretraining.save_pretrained(tmp_path / "mmlp")
    model = MMSLTForConditionalGeneration.from_pretraining(tmp_path / "mmlp")
    for name in ("backbone", "description_mapper", "temporal_conv", "mlp"):
        assert all(torch.equal(a, b) for a, b in zip(getattr(pretraining, name).state_dict().values(),
                                                     getattr(model, name).state_dict().values())), name
    encoder = pretraining.llm_encoder.state_dict()
    assert encoder.keys() == llm_encoder_of(model).state_dict().keys()
    assert all(torch.equal(encoder[k], v) for k, v in llm_encoder_of(model).state_dict().items())
    if model.config.llm_type == "seq2seq":
        assert any("decoder" in n and "lora_" in n for n, _ in model.llm.named_parameters())  # decoder LoRA too
    else:
        assert not any("lora_" in n for n, _ in model.llm.lm_head.named_parameters())
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert not any(n.startswith("model.description_mapper") for n in trainable)
    assert all("lora_" in n for n in trainable if n.startswith("llm."))
    mapper = {k: v.clone() for k, v in model.description_mapper.state_dict().items()}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    inputs = batch()
    labels = torch.tensor([[5, 6, 2], [7, 2, -100], [8, 2, -100]])
    model.train()
    for _ in range(3):
        model(pixel_values_videos=inputs["pixel_values_videos"], video_mask=inputs["video_mask"], labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert all(torch.equal(mapper[k], v) for k, v in model.description_mapper.state_dict().items())


def test_front_end_only_takes_the_visual_front_end_and_a_whole_new_llm(tmp_path):
    """`from_pretraining(front_end_only=True)`: backbone, mapper and temporal conv exactly from MMLP (mBART-shaped
    text model), the translator a different, decoder-only LLM kept whole with its own special tokens; a new MLP at
    the LLM's width; it trains (loss goes down, the frozen parts stay put) and round-trips through save/load."""
    from transformers import AutoModelForCausalLM, LlamaConfig

    torch.manual_seed(0)
    mmlp = MMSLTForPretraining(MMSLTConfig.tiny(vocab_size=40)).eval()
    mmlp.save_pretrained(tmp_path / "mmlp")
    llm = AutoModelForCausalLM.from_config(LlamaConfig(
        vocab_size=23, hidden_size=48, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=128, pad_token_id=0, bos_token_id=1, eos_token_id=2))
    llm_state = {k: v.clone() for k, v in llm.state_dict().items()}
    model = MMSLTForConditionalGeneration.from_pretraining(tmp_path / "mmlp", llm=llm, front_end_only=True,
                                                           llm_finetuning="full", freeze_backbone=True)
    assert model.config.llm_type == "causal" and not model.config.is_encoder_decoder
    assert (model.config.pad_token_id, model.config.bos_token_id, model.config.eos_token_id) == (0, 1, 2)
    for name in ("backbone", "description_mapper", "temporal_conv"):
        assert all(torch.equal(a, b) for a, b in zip(getattr(mmlp, name).state_dict().values(),
                                                     getattr(model, name).state_dict().values())), name
    assert model.mlp(torch.zeros(1, 1, 32)).shape[-1] == 48  # the MLP maps to the new LLM's width
    assert all(torch.equal(llm_state[k], v) for k, v in model.llm.state_dict().items())  # the LLM whole
    backbone = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    inputs = batch()
    video = {"pixel_values_videos": inputs["pixel_values_videos"], "video_mask": inputs["video_mask"]}
    labels = torch.tensor([[5, 6, 2], [7, 2, -100], [8, 2, -100]])
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    losses = []
    for _ in range(8):
        loss = model(**video, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert all(torch.equal(backbone[k], v) for k, v in model.backbone.state_dict().items())
    model.eval().save_pretrained(tmp_path / "stage2")
    loaded = AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "stage2").eval()
    assert type(loaded.llm) is type(llm) and torch.equal(loaded(**video, labels=labels).logits,
                                                         model(**video, labels=labels).logits)
    with pytest.raises(ValueError, match="needs the translator LLM"):
        MMSLTForConditionalGeneration.from_pretraining(mmlp, front_end_only=True)


def test_full_finetuning_folds_stage1_lora_into_the_encoder(pretraining, tmp_path):
    pretraining.eval()
    for name, param in pretraining.llm_encoder.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.5)  # a non-trivial stage-1 LoRA
    model = MMSLTForConditionalGeneration.from_pretraining(pretraining, llm_finetuning="full").eval()
    assert not any("lora_" in n for n, _ in model.named_parameters())
    embeds = torch.randn(2, 5, 32)
    expected = pretraining.llm_encoder(inputs_embeds=embeds).last_hidden_state
    assert torch.allclose(llm_encoder_of(model)(inputs_embeds=embeds).last_hidden_state, expected, atol=1e-5)


def test_inference_needs_video_only_and_round_trips(tmp_path, pretraining):
    model = MMSLTForConditionalGeneration.from_pretraining(pretraining).eval()
    inputs = batch()
    video = {"pixel_values_videos": inputs["pixel_values_videos"], "video_mask": inputs["video_mask"]}
    ids = model.generate(**video, max_new_tokens=5, num_beams=2)
    assert ids.shape[0] == 3
    model.save_pretrained(tmp_path)
    loaded = AutoModelForSeq2SeqLM.from_pretrained(tmp_path).eval()
    assert type(loaded) is MMSLTForConditionalGeneration and loaded.generation_config.num_beams == 8
    labels = torch.tensor([[5, 6, 2], [7, 2, -100], [8, 2, -100]])
    assert torch.equal(loaded(**video, labels=labels).logits, model(**video, labels=labels).logits)
    assert torch.equal(loaded.generate(**video, max_new_tokens=5, num_beams=2), ids)
    pretraining.save_pretrained(tmp_path / "mmlp")
    reloaded = AutoModelForPreTraining.from_pretrained(tmp_path / "mmlp").eval()
    assert torch.equal(reloaded(**batch()).logits_per_video, pretraining.eval()(**batch()).logits_per_video)
    assert type(AutoModel.from_pretrained(tmp_path / "mmlp")) is MMSLTModel  # the front end, no head


@pytest.mark.slow
@pytest.mark.parametrize("llm", ["mbart", "causal"])
def test_generate_in_fresh_process_with_remote_code_only(tmp_path, real_videos, tiny_tokenizer, llm):
    torch.manual_seed(0)
    model = MMSLTForConditionalGeneration(MMSLTConfig.tiny(vocab_size=len(tiny_tokenizer), llm=llm)).eval()
    processor = SignTranslationProcessor(SignVideoProcessor(size=32, crop_size=28), tiny_tokenizer)
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    expected = model.generate(**processor(videos=[str(real_videos["video.mp4"])]), max_new_tokens=6).tolist()
    code = f"""
import sys, json
sys.modules["sign_translation"] = None
from transformers import AutoModelForSeq2SeqLM, AutoProcessor
model = AutoModelForSeq2SeqLM.from_pretrained({str(tmp_path)!r}, trust_remote_code=True).eval()
processor = AutoProcessor.from_pretrained({str(tmp_path)!r}, trust_remote_code=True)
assert "transformers_modules" in type(model).__module__
print(json.dumps(model.generate(**processor(videos=[{str(real_videos["video.mp4"])!r}]), max_new_tokens=6).tolist()))
"""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected


def test_pretraining_collator_aligns_description_embeddings(tiny_corpus, tiny_tokenizer, tmp_path):
    from sign_translation.data import load_sign_dataset

    corpus = load_sign_dataset(tiny_corpus)
    descriptions = descriptions_from_corpus(corpus, tmp_path / "descriptions")
    texts = sorted({d for row in corpus["train"]["descriptions"] for d in row})
    encoder = DescriptionEncoder.from_pretrained(build_offline_text_encoder(texts, str(tmp_path / "bert"), hidden_size=D))
    cache = encode_descriptions(encoder, descriptions, tmp_path / "embeddings")
    processor = SignTranslationProcessor(SignVideoProcessor(size=32, crop_size=28, frame_stride=3), tiny_tokenizer)
    collator = SignPretrainingCollator(processor, description_cache=cache)
    rows = [corpus["train"][i] for i in range(3)]
    out = collator(rows)
    assert set(out) == {"pixel_values_videos", "video_mask", "input_ids", "attention_mask", "description_embeds"}
    lengths = out["video_mask"].sum(1).tolist()
    assert out["description_embeds"].shape == (3, max(lengths), D)
    for i, row in enumerate(rows):
        frames = list(range(0, row["num_frames"], 3))
        assert torch.allclose(out["description_embeds"][i, : lengths[i]],
                              torch.from_numpy(cache.embeddings_for(row["name"], frames)))
        assert (out["description_embeds"][i, lengths[i]:] == 0).all()
    expected = encoder.encode([rows[0]["descriptions"][3]])[0]  # frame 3 = the second sampled frame
    assert torch.allclose(out["description_embeds"][0, 1], torch.from_numpy(expected), atol=1e-5)


def test_paper_size_configuration_builds_with_expected_parameter_counts():
    config = MMSLTConfig()  # ResNet-18, DM 512→1024→768, conv 1280→1024, MLP 1024→1024→1024, mBART-large-50
    with torch.device("meta"):
        stage1 = MMSLTForPretraining(config)
        stage2 = MMSLTForConditionalGeneration(config)
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    assert count(stage2.backbone) == 11_176_512
    assert count(stage2.description_mapper) == 512 * 1024 + 1024 + 1024 * 768 + 768
    assert count(stage2.temporal_conv) == (1280 * 1024 * 5 + 1024) + (1024 * 1024 * 5 + 1024) + 4 * 1024
    assert count(stage2.mlp) == 2 * (1024 * 1024 + 1024)
    lora_per_projection = 16 * 1024 * 2
    stage2_lora = sum(p.numel() for n, p in stage2.llm.named_parameters() if "lora_" in n)
    assert stage2_lora == lora_per_projection * 4 * (12 + 2 * 12)  # q/k/v/out: encoder self, decoder self + cross
    stage1_lora = sum(p.numel() for n, p in stage1.llm_encoder.named_parameters() if "lora_" in n)
    assert stage1_lora == lora_per_projection * 4 * 12
    base = count(stage2.llm) - stage2_lora
    assert 610_000_000 < base < 612_000_000  # mBART-large-50: 610.9M with its 250,054-token vocabulary
    trainable = {".".join(n.split(".")[:2]) if n.startswith("model.") else n.split(".")[0]
                 for n, p in stage2.named_parameters() if p.requires_grad}
    assert trainable == {"model.backbone", "model.temporal_conv", "model.mlp", "llm"}


@pytest.fixture(scope="module")
def description_embeddings(tiny_corpus, tmp_path_factory):
    """The tiny corpus's own per-frame descriptions, embedded with the offline text encoder."""
    from sign_translation.data import load_sign_dataset

    root = tmp_path_factory.mktemp("descriptions")
    corpus = load_sign_dataset(tiny_corpus)
    texts = sorted({d for split in corpus.values() for row in split["descriptions"] for d in row})
    encoder = DescriptionEncoder.from_pretrained(build_offline_text_encoder(texts, str(root / "bert"), hidden_size=D))
    encode_descriptions(encoder, descriptions_from_corpus(corpus, root / "descriptions"), root / "embeddings")
    return root / "embeddings"


TINY_OVERRIDES = {
    "vision_config": {"model_type": "resnet", "depths": [1, 1], "hidden_sizes": [8, 16], "layer_type": "basic",
                      "embedding_size": 8},
    "text_config": {"model_type": "mbart", "d_model": 32, "encoder_layers": 1, "decoder_layers": 1,
                    "encoder_attention_heads": 4, "decoder_attention_heads": 4, "encoder_ffn_dim": 64,
                    "decoder_ffn_dim": 64, "max_position_embeddings": 128},
    "description_mapper_hidden_size": 16, "temporal_hidden_size": 16, "mlp_hidden_size": 16,
    "temporal_kernel_size": 3, "lora_r": 4, "lora_alpha": 8,
}
COMMON = {"dataset": "folder", "image_size": 32, "crop_size": 28, "frame_stride": 2, "augment": False,
          "do_train": True, "per_device_train_batch_size": 4, "per_device_eval_batch_size": 6, "learning_rate": 1e-3,
          "save_strategy": "no", "logging_steps": 1, "report_to": "none", "use_cpu": True, "disable_tqdm": True,
          "dataloader_num_workers": 0}


@pytest.mark.slow
def test_training_script_pretrain_then_translate(tiny_corpus, description_embeddings, tmp_path):
    from sign_translation.train_scripts import run_mmslt

    (tmp_path / "pre.json").write_text(json.dumps({**COMMON, "stage": "pretrain", "train_tokenizer_vocab_size": 120,
                                                   "config_overrides": TINY_OVERRIDES, "max_steps": 4}))
    pre = run_mmslt.main(["--recipe", str(tmp_path / "pre.json"), "--data_dir", str(tiny_corpus),
                          "--description_cache", str(description_embeddings), "--output_dir", str(tmp_path / "mmlp")])
    assert pre["train"]["train_loss"] > 0 and "dev_loss" in pre["dev"]
    assert 0 <= pre["retrieval"]["video_to_text_r1"] <= 100 and pre["retrieval"]["num_examples"] == 6
    stage1 = MMSLTForPretraining.from_pretrained(tmp_path / "mmlp")
    assert stage1.config.description_size == D
    (tmp_path / "tr.json").write_text(json.dumps({**COMMON, "stage": "translate", "max_steps": 3,
                                                  "generation_num_beams": 2, "generation_max_length": 12}))
    argv = ["--recipe", str(tmp_path / "tr.json"), "--data_dir", str(tiny_corpus),
            "--pretrained_model_name_or_path", str(tmp_path / "mmlp")]
    translated = run_mmslt.main(argv + ["--output_dir", str(tmp_path / "translate")])
    assert {"test_bleu4", "test_rouge_l", "signature"} <= set(translated["test"])
    model = AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "translate")
    assert isinstance(model, MMSLTForConditionalGeneration)
    assert model.generation_config.forced_bos_token_id == SignTranslationProcessor.from_pretrained(
        tmp_path / "translate").tokenizer.convert_tokens_to_ids("en_XX")  # mBART-50: language code forced
    cached = run_mmslt.main(argv + ["--output_dir", str(tmp_path / "cached"), "--cache_visual_features", "true",
                                    "--config_overrides", json.dumps({"freeze_backbone": True})])
    assert len(list((tmp_path / "cached" / "feature_cache").glob("*.arrow"))) == 3 and "test_bleu4" in cached["test"]


@pytest.mark.parametrize("recipe", ["mmslt_phoenix14t_pretrain.json", "mmslt_phoenix14t_translate.json",
                                    "mmslt_csl_daily_pretrain.json", "mmslt_csl_daily_translate.json",
                                    "mmslt_synthetic_pretrain.json", "mmslt_synthetic_translate.json",
                                    "mmslt_phoenix14t_pretrain_gemma.json", "mmslt_phoenix14t_translate_gemma.json"])
def test_every_recipe_parses(recipe, tmp_path):
    from pathlib import Path

    from transformers import Seq2SeqTrainingArguments

    from sign_translation.train_scripts import run_mmslt
    from sign_translation.training import DataArguments, parse_arguments

    path = Path(__file__).resolve().parents[1] / "train_scripts" / "recipes" / recipe
    args, data, training_args = parse_arguments(
        (run_mmslt.MMSLTArguments, DataArguments, Seq2SeqTrainingArguments),
        ["--recipe", str(path), "--data_dir", str(tmp_path), "--output_dir", str(tmp_path / "out")],
    )
    assert args.stage in ("pretrain", "translate")
    if "gemma" in recipe:
        assert args.llm_name_or_path == "gemma-3-270m" and (args.stage == "translate" or args.trim_vocabulary)
    if "synthetic" not in recipe and args.stage == "pretrain":
        assert (training_args.learning_rate, training_args.weight_decay, training_args.adam_beta2) == (1e-4, 0.2, 0.98)
        assert training_args.num_train_epochs == 80 and data.max_frames == 500
        assert training_args.lr_scheduler_kwargs == {"min_lr": 1e-8}
    elif "synthetic" not in recipe:
        assert (training_args.learning_rate, training_args.weight_decay) == (1e-4, 0.001)
        assert training_args.num_train_epochs == 200 and training_args.generation_num_beams == 8
