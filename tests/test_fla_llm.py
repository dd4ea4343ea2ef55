"""FLa-LLM models: shapes and masks, learning, frozen encoder, save/load, vocabulary trimming, LLM variants,
LoRA, remote code in a fresh process, and the paper-size configuration."""

import json
import os
import subprocess
import sys

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM

from sign_translation import FlaLlmConfig, FlaLlmForConditionalGeneration, FlaLlmForVisualInitialization
from sign_translation.data import load_sign_dataset
from sign_translation.modeling.vocabulary_trimming import trim_vocabulary
from sign_translation.processing import SignTranslationCollator, SignTranslationProcessor, SignVideoProcessor
from sign_translation.tokenization import generation_token_ids


def padded_batch(lengths=(7, 4), size=16, seed=0):
    torch.manual_seed(seed)
    video = torch.randn(len(lengths), max(lengths), 3, size, size)
    mask = torch.zeros(len(lengths), max(lengths), dtype=torch.long)
    for i, t in enumerate(lengths):
        mask[i, :t] = 1
        video[i, t:] = 0
    return video, mask


LABELS = torch.tensor([[5, 6, 7, 8, 2], [9, 10, 2, -100, -100]])


@pytest.mark.parametrize("cls", [FlaLlmForVisualInitialization, FlaLlmForConditionalGeneration])
def test_forward_shapes_and_padding_invariance(cls):
    torch.manual_seed(0)
    model = cls(FlaLlmConfig.tiny(vocab_size=50)).eval()
    video, mask = padded_batch((7, 4))
    out = model(pixel_values_videos=video, video_mask=mask, labels=LABELS)
    assert out.logits.shape == (2, 5, 50) and out.loss.ndim == 0 and torch.isfinite(out.loss)
    alone = model(pixel_values_videos=video[1:, :4], video_mask=mask[1:, :4], labels=LABELS[1:, :3])
    assert torch.allclose(out.logits[1, :3], alone.logits[0], atol=1e-5)  # padding changes nothing
    with pytest.raises(ValueError, match="video_mask"):
        model(pixel_values_videos=video)


def test_label_smoothing_and_num_items_in_batch():
    model = FlaLlmForVisualInitialization(FlaLlmConfig.tiny(vocab_size=50, label_smoothing=0.0)).eval()
    video, mask = padded_batch()
    out = model(pixel_values_videos=video, video_mask=mask, labels=LABELS)
    expected = torch.nn.functional.cross_entropy(out.logits.reshape(-1, 50), LABELS.reshape(-1), ignore_index=-100)
    assert torch.allclose(out.loss, expected, atol=1e-6)
    summed = model(pixel_values_videos=video, video_mask=mask, labels=LABELS, num_items_in_batch=torch.tensor(1))
    assert torch.allclose(summed.loss, expected * (LABELS != -100).sum(), atol=1e-4)  # sum / 1
    model.config.label_smoothing = 0.2
    smoothed = model(pixel_values_videos=video, video_mask=mask, labels=LABELS).loss
    reference = torch.nn.functional.cross_entropy(
        out.logits.reshape(-1, 50), LABELS.reshape(-1), ignore_index=-100, label_smoothing=0.2
    )
    assert torch.allclose(smoothed, reference, atol=1e-6)


@pytest.mark.parametrize("cls, llm", [(FlaLlmForVisualInitialization, "mbart"), (FlaLlmForConditionalGeneration,
                                                                                    "causal")])
def test_decoder_input_dropout_blanks_teacher_forced_tokens_in_training_only(cls, llm):
    """`decoder_input_dropout` (word dropout): in training a share of the LM's input tokens becomes the padding
    token; the start token, the padding and the targets stay; evaluation sees the sentence unchanged."""
    torch.manual_seed(0)
    config = FlaLlmConfig.tiny(vocab_size=50, label_smoothing=0.0, decoder_input_dropout=0.5,
                               **({"llm": llm} if llm == "causal" else {}))
    model = cls(config)
    pad = model.language_model.config.pad_token_id
    seen = []
    lm = model.language_model
    embeddings = lm.get_decoder().embed_tokens if lm.config.is_encoder_decoder else lm.get_input_embeddings()
    embeddings.register_forward_hook(lambda module, args, out: seen.append(args[0].clone()))
    video, mask = padded_batch()
    model.eval()
    clean = model(pixel_values_videos=video, video_mask=mask, labels=LABELS)
    reference = seen.pop()
    model.train()
    torch.manual_seed(1)
    dropped = model(pixel_values_videos=video, video_mask=mask, labels=LABELS)
    blanked = seen.pop()
    changed = blanked != reference
    assert changed.any() and (blanked[changed] == pad).all()  # only ever replaced by the padding token
    assert not changed[reference == pad].any()  # padding stays padding
    if llm != "causal":
        assert torch.equal(blanked[:, 0], reference[:, 0])  # the decoder's start token is kept
    kept = ((reference != pad) & ~changed).sum().item()
    assert 0 < changed.sum().item() and 0 < kept  # about half of 9 tokens at rate 0.5 (seeded)
    assert dropped.logits.shape == clean.logits.shape and torch.isfinite(dropped.loss)
    model.eval()  # evaluation is unaffected by the rate (the loss moved only by BatchNorm's running statistics)
    model(pixel_values_videos=video, video_mask=mask, labels=LABELS)
    assert torch.equal(seen.pop(), reference)
    with pytest.raises(ValueError, match="decoder_input_dropout"):
        FlaLlmConfig.tiny(vocab_size=50, decoder_input_dropout=1.0)


def test_decoder_input_dropout_is_saved_and_not_inherited_by_stage2(tmp_path):
    stage1 = FlaLlmForVisualInitialization(FlaLlmConfig.tiny(vocab_size=50, decoder_input_dropout=0.4))
    stage1.save_pretrained(tmp_path / "stage1")
    assert FlaLlmConfig.from_pretrained(tmp_path / "stage1").decoder_input_dropout == 0.4
    llm = AutoModelForSeq2SeqLM.from_config(stage1.config.text_config)
    plain, _ = FlaLlmForConditionalGeneration.from_stage1(tmp_path / "stage1", llm)
    assert plain.config.decoder_input_dropout == 0.0  # stage 2 is the paper's unless asked
    asked, _ = FlaLlmForConditionalGeneration.from_stage1(tmp_path / "stage1", llm, decoder_input_dropout=0.2)
    assert asked.config.decoder_input_dropout == 0.2


def collated_batch(tiny_corpus, tiny_tokenizer, n=8):
    rows = [load_sign_dataset(tiny_corpus)["train"][i] for i in range(n)]
    processor = SignTranslationProcessor(SignVideoProcessor(size=32, crop_size=28, frame_stride=2), tiny_tokenizer)
    return SignTranslationCollator(processor)(rows)


def test_stage1_learns_on_synthetic_corpus(tiny_corpus, tiny_tokenizer):
    torch.manual_seed(0)
    batch = collated_batch(tiny_corpus, tiny_tokenizer)
    model = FlaLlmForVisualInitialization(FlaLlmConfig.tiny(vocab_size=len(tiny_tokenizer), label_smoothing=0.0))
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
    model.train()
    losses = []
    for _ in range(50):
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


def test_stage2_frozen_encoder_bit_identical_and_adapter_learns(tiny_corpus, tiny_tokenizer):
    torch.manual_seed(0)
    batch = collated_batch(tiny_corpus, tiny_tokenizer, n=4)
    model = FlaLlmForConditionalGeneration(FlaLlmConfig.tiny(vocab_size=len(tiny_tokenizer)))
    frozen = {k: v.clone() for k, v in model.visual_encoder.state_dict().items()}  # BN running stats included
    adapter = {k: v.clone() for k, v in model.llm_adapter.state_dict().items()}
    assert all(not p.requires_grad for p in model.visual_encoder.parameters())
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    model.train()
    assert not model.visual_encoder.training  # BatchNorm stays in eval mode inside a training model
    for _ in range(3):
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert all(torch.equal(frozen[k], v) for k, v in model.visual_encoder.state_dict().items())
    assert any(not torch.equal(adapter[k], v) for k, v in model.llm_adapter.state_dict().items())


@pytest.mark.parametrize("cls", [FlaLlmForVisualInitialization, FlaLlmForConditionalGeneration])
def test_save_load_round_trip_is_exact(tmp_path, cls):
    torch.manual_seed(0)
    model = cls(FlaLlmConfig.tiny(vocab_size=50)).eval()
    model.save_pretrained(tmp_path)
    loaded = cls.from_pretrained(tmp_path).eval()
    video, mask = padded_batch()
    a = model(pixel_values_videos=video, video_mask=mask, labels=LABELS).logits
    b = loaded(pixel_values_videos=video, video_mask=mask, labels=LABELS).logits
    assert torch.equal(a, b)
    generated = model.generate(pixel_values_videos=video, video_mask=mask, max_new_tokens=6)
    assert torch.equal(generated, loaded.generate(pixel_values_videos=video, video_mask=mask, max_new_tokens=6))
    if cls is FlaLlmForConditionalGeneration:
        auto = AutoModelForSeq2SeqLM.from_pretrained(tmp_path)
        assert type(auto) is cls and auto.generation_config.num_beams == 5  # paper: beam 5


def test_from_stage1_transfers_encoder_and_trims_vocabulary(tmp_path, tiny_corpus, tiny_tokenizer):
    texts = load_sign_dataset(tiny_corpus)["train"]["text"]
    torch.manual_seed(0)
    stage1 = FlaLlmForVisualInitialization(FlaLlmConfig.tiny(vocab_size=len(tiny_tokenizer)))
    stage1.save_pretrained(tmp_path / "stage1")
    llm = AutoModelForSeq2SeqLM.from_config(stage1.config.text_config).eval()
    llm.save_pretrained(tmp_path / "llm")
    model, trimmed = FlaLlmForConditionalGeneration.from_stage1(
        tmp_path / "stage1", tmp_path / "llm", tokenizer=tiny_tokenizer, trim_vocabulary_to=texts[:4]
    )
    assert all(torch.equal(a, b) for a, b in zip(stage1.visual_encoder.state_dict().values(),
                                                 model.visual_encoder.state_dict().values()))
    assert len(trimmed) < len(tiny_tokenizer) and model.llm.config.vocab_size == len(trimmed)
    assert model.config.text_config.vocab_size == len(trimmed)
    # same sentences, same pieces; logits of the trimmed LLM = the kept columns of the original LLM's logits
    sentence = texts[0]
    old = torch.tensor([tiny_tokenizer(text_target=sentence)["input_ids"]])
    new = torch.tensor([trimmed(text_target=sentence)["input_ids"]])
    assert tiny_tokenizer.convert_ids_to_tokens(old[0]) == trimmed.convert_ids_to_tokens(new[0])
    embeds = torch.randn(1, 5, llm.config.d_model)
    reference = AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "llm").eval()
    keep = torch.tensor(trimmed.convert_tokens_to_ids(trimmed.convert_ids_to_tokens(list(range(len(trimmed))))))
    old_ids = tiny_tokenizer.convert_tokens_to_ids(trimmed.convert_ids_to_tokens(keep.tolist()))
    full = reference(inputs_embeds=embeds, labels=old).logits[..., old_ids]
    cut = model.llm.eval()(inputs_embeds=embeds, labels=new).logits
    assert torch.allclose(full, cut, atol=1e-5)
    # trimming to an existing (stage-1) tokenizer gives the same vocabulary by token strings
    again, _, _ = trim_vocabulary(AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "llm"), tiny_tokenizer,
                                  target_tokenizer=trimmed)
    assert torch.equal(again.get_input_embeddings().weight, model.llm.get_input_embeddings().weight)


def test_generation_ids_follow_the_tokenizer(tiny_tokenizer):
    ids = generation_token_ids(tiny_tokenizer)
    # mBART-cc25 targets end "</s> en_XX": decoding starts from the language code
    assert ids["decoder_start_token_id"] == tiny_tokenizer.convert_tokens_to_ids("en_XX")
    assert tiny_tokenizer(text_target="rain")["input_ids"][-1] == ids["decoder_start_token_id"]


@pytest.mark.parametrize("llm", ["mt5", "causal"])
def test_other_llms_train_and_generate(llm):
    torch.manual_seed(0)
    model = FlaLlmForConditionalGeneration(FlaLlmConfig.tiny(vocab_size=60, llm=llm, label_smoothing=0.0))
    assert model.config.is_encoder_decoder == (llm == "mt5")
    video, mask = padded_batch((6, 3))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-3)
    first = None
    for _ in range(20):
        loss = model(pixel_values_videos=video, video_mask=mask, labels=LABELS).loss
        first = loss.item() if first is None else first
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert loss.item() < 0.5 * first
    model.eval()
    generated = model.generate(pixel_values_videos=video, video_mask=mask, max_new_tokens=5, num_beams=1)
    assert generated.shape[0] == 2
    if llm == "causal":  # left-padded prefixes: each clip generates as it would alone
        alone = model.generate(pixel_values_videos=video[1:, :3], video_mask=mask[1:, :3], max_new_tokens=5, num_beams=1)
        assert generated[1, : alone.shape[1]].tolist() == alone[0].tolist()
        # the loss covers the sentence tokens only: every prefix position is -100 in the causal targets
        prefix, prefix_mask = model.visual_prefix(video, mask)
        _, seq_mask, targets = model._causal_sequence(prefix, prefix_mask, LABELS)
        assert (targets != -100).sum() == (LABELS != -100).sum()
        assert seq_mask.sum(1).tolist() == [6 + 5, 3 + 3]


def test_causal_llm_from_config_registered():
    config = FlaLlmConfig.tiny(llm="causal")
    assert isinstance(AutoModelForCausalLM.from_config(config.text_config), torch.nn.Module)
    assert AutoConfig.for_model("fla_llm").model_type == "fla_llm"


def test_lora_saves_only_the_adapter_and_reloads_exactly(tmp_path):
    from peft import LoraConfig, PeftModel, get_peft_model

    torch.manual_seed(0)
    base = FlaLlmForConditionalGeneration(FlaLlmConfig.tiny(vocab_size=50))
    base.save_pretrained(tmp_path / "base")
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=r"llm\..*\.(q_proj|k_proj|v_proj|out_proj)",
                                            modules_to_save=["llm_adapter"]))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or "llm_adapter" in n for n in trainable)
    video, mask = padded_batch()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(3):
        model(pixel_values_videos=video, video_mask=mask, labels=LABELS).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(tmp_path / "adapter")
    files = sorted(os.listdir(tmp_path / "adapter"))
    assert "adapter_model.safetensors" in files and "model.safetensors" not in files
    assert os.path.getsize(tmp_path / "adapter" / "adapter_model.safetensors") < 0.5 * os.path.getsize(
        tmp_path / "base" / "model.safetensors")
    model.eval()
    trained = model.state_dict()
    assert any("lora_B" in k and trained[k].abs().sum() > 0 for k in trained)  # the adapter did train
    a = model(pixel_values_videos=video, video_mask=mask, labels=LABELS).logits
    # reloaded as trainable, it is the same model: weights and logits bit for bit
    resumed = PeftModel.from_pretrained(FlaLlmForConditionalGeneration.from_pretrained(tmp_path / "base"),
                                        tmp_path / "adapter", is_trainable=True).eval()
    assert resumed.state_dict().keys() == trained.keys()
    assert all(torch.equal(trained[k], v) for k, v in resumed.state_dict().items())
    assert torch.equal(resumed(pixel_values_videos=video, video_mask=mask, labels=LABELS).logits, a)
    # reloaded for inference (the default), the weights are the same but frozen, and torch's linear on the
    # adapter's non-contiguous input takes another kernel path when the weight does not require grad: the logits
    # then differ in the last float32 bit only
    reloaded = PeftModel.from_pretrained(FlaLlmForConditionalGeneration.from_pretrained(tmp_path / "base"),
                                         tmp_path / "adapter").eval()
    assert all(torch.equal(trained[k], v) for k, v in reloaded.state_dict().items())
    b = reloaded(pixel_values_videos=video, video_mask=mask, labels=LABELS).logits
    torch.testing.assert_close(b, a, rtol=0, atol=1e-6)
    merged = reloaded.merge_and_unload()
    assert type(merged) is FlaLlmForConditionalGeneration
    assert torch.allclose(merged(pixel_values_videos=video, video_mask=mask, labels=LABELS).logits, a, atol=1e-5)


def test_lora_from_config_fields_as_in_mmslt(tmp_path):
    """One LoRA mechanism for both methods: `llm_finetuning="lora"` + the lora_* fields make the model inject peft's
    LoRA into its LLM; the checkpoint holds it and reloads exactly. Untrained (lora_B = 0) it changes nothing."""
    import json

    from sign_translation.modeling.llm_bridge import lora_disabled, lora_layers

    torch.manual_seed(0)
    config = FlaLlmConfig.tiny(vocab_size=50, llm_finetuning="lora", lora_r=4, lora_alpha=8, lora_dropout=0.0)
    assert config.lora_target_modules == ["q_proj", "k_proj", "v_proj", "out_proj"]
    assert FlaLlmConfig.tiny(llm="causal").lora_target_modules[-1] == "o_proj"
    model = FlaLlmForConditionalGeneration(config).eval()
    layers = lora_layers(model.llm)
    assert layers and all(torch.count_nonzero(layer.lora_B["default"].weight) == 0 for layer in layers)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or n.startswith("llm_adapter.") for n in trainable)
    video, mask = padded_batch()
    with torch.no_grad():
        untrained = model(pixel_values_videos=video, video_mask=mask, labels=LABELS).logits
        with lora_disabled(model.llm):
            base = model(pixel_values_videos=video, video_mask=mask, labels=LABELS).logits
    torch.testing.assert_close(untrained, base)
    with torch.no_grad():
        for layer in layers:
            layer.lora_B["default"].weight.normal_()
        trained = model(pixel_values_videos=video, video_mask=mask, labels=LABELS).logits
    assert not torch.allclose(trained, base)
    model.save_pretrained(tmp_path)
    assert not (tmp_path / "adapter_config.json").exists()
    assert json.loads((tmp_path / "config.json").read_text())["llm_finetuning"] == "lora"
    reloaded = FlaLlmForConditionalGeneration.from_pretrained(tmp_path).eval()
    assert all(torch.equal(v, reloaded.state_dict()[k]) for k, v in model.state_dict().items())
    # loading materialises new parameters: the LLM's base weights and the visual encoder are frozen again
    assert {n for n, p in reloaded.named_parameters() if p.requires_grad} == trainable
    with torch.no_grad():
        assert torch.equal(reloaded(pixel_values_videos=video, video_mask=mask, labels=LABELS).logits, trained)


def test_old_fla_llm_checkpoint_without_lora_fields_is_full_fine_tuning(tmp_path):
    import json

    FlaLlmForConditionalGeneration(FlaLlmConfig.tiny(vocab_size=50)).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    for name in ("llm_finetuning", "lora_r", "lora_alpha", "lora_dropout", "lora_target_modules"):
        config.pop(name)  # as the code before the LoRA fields saved it
    (tmp_path / "config.json").write_text(json.dumps(config))
    model = FlaLlmForConditionalGeneration.from_pretrained(tmp_path)
    assert model.config.llm_finetuning == "full"
    assert all(p.requires_grad for p in model.llm.parameters())


@pytest.mark.slow
def test_generate_in_fresh_process_with_remote_code_only(tmp_path, real_videos, tiny_tokenizer):
    torch.manual_seed(0)
    model = FlaLlmForConditionalGeneration(FlaLlmConfig.tiny(vocab_size=len(tiny_tokenizer))).eval()
    processor = SignTranslationProcessor(SignVideoProcessor(size=32, crop_size=28, frame_stride=4), tiny_tokenizer)
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    batch = processor(videos=[str(real_videos["SOUP.mp4"])])
    expected = model.generate(**batch, max_new_tokens=8, num_beams=2).tolist()
    code = f"""
import sys, json
sys.modules["sign_translation"] = None  # the package must not be importable: only the checkpoint's own code
from transformers import AutoModelForSeq2SeqLM, AutoProcessor
model = AutoModelForSeq2SeqLM.from_pretrained({str(tmp_path)!r}, trust_remote_code=True).eval()
processor = AutoProcessor.from_pretrained({str(tmp_path)!r}, trust_remote_code=True)
assert "transformers_modules" in type(model).__module__, type(model).__module__
batch = processor(videos=[{str(real_videos["SOUP.mp4"])!r}])
ids = model.generate(**batch, max_new_tokens=8, num_beams=2)
print(json.dumps({{"ids": ids.tolist(), "text": processor.batch_decode(ids, skip_special_tokens=True)}}))
"""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["ids"] == expected


def test_paper_size_configuration_builds_with_expected_parameter_counts():
    """Full sizes: ResNet-18, Light-T (d 512, 3+3, FFN 2048) and mBART-large-cc25; built, counted, never run."""
    config = FlaLlmConfig(text_config={"model_type": "mbart", "vocab_size": 2500})  # PHOENIX-trimmed vocabulary
    with torch.device("meta"):
        stage1 = FlaLlmForVisualInitialization(config)
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    assert count(stage1.visual_encoder.backbone) == 11_176_512  # torchvision ResNet-18 minus its fc layer
    assert count(stage1.visual_encoder.temporal) == 512 * 512 * 5 + 512 + 2 * 512
    light_t = count(stage1.translator)
    assert 22_000_000 + 2500 * 512 <= light_t <= 24_000_000 + 2500 * 512  # paper: ~25.6M with adapter + vocab
    full = FlaLlmConfig()  # untrimmed mBART-large-cc25 (250,027 tokens)
    with torch.device("meta"):
        stage2 = FlaLlmForConditionalGeneration(full)
    llm = count(stage2.llm)
    assert 610_000_000 < llm < 612_000_000  # mBART-large-cc25: 610.9M
    assert count(stage2.llm_adapter) == 512 * 1024 + 1024 + 1024 * 1024 + 1024
    assert sum(p.numel() for p in stage2.parameters() if p.requires_grad) == llm + count(stage2.llm_adapter)
