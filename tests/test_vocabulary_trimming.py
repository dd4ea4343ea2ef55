"""Vocabulary trimming for every tokenizer family: same segmentation, same logits on the kept ids, save/load,
generate, and a trimmed decoder-only LLM inside a FLa-LLM checkpoint that loads with remote code in a fresh
process and translates through the pipeline."""

import copy
import os
import subprocess
import sys

import pytest
import torch
from hub_server import last_json_line
from tokenizer_families import CORPUS, FAMILIES, make_tokenizer
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

from sign_translation.modeling.vocabulary_trimming import trim_tokenizer, trim_vocabulary, used_token_ids


def tiny_lm(family: str, vocab_size: int, tokenizer):
    """A tiny LLM of the architecture each family usually comes with."""
    torch.manual_seed(0)
    if family == "unigram":  # mBART
        from sign_translation import FlaLlmConfig

        config = FlaLlmConfig.tiny(vocab_size=vocab_size).text_config
        return AutoModelForSeq2SeqLM.from_config(config).eval()
    if family == "sp_bpe":  # Gemma 3: scaled embeddings, tied head
        from transformers import Gemma3ForCausalLM, Gemma3TextConfig

        config = Gemma3TextConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                  num_attention_heads=4, num_key_value_heads=2, head_dim=8, sliding_window=16,
                                  pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                                  eos_token_id=tokenizer.eos_token_id)
        return Gemma3ForCausalLM(config).eval()
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=family == "byte_bpe",
                         pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                         bos_token_id=tokenizer.bos_token_id)
    return LlamaForCausalLM(config).eval()


def tokens(tokenizer, text: str, **kwargs) -> list[str]:
    return tokenizer.convert_ids_to_tokens(tokenizer(text, **kwargs)["input_ids"])


@pytest.mark.parametrize("family", FAMILIES)
def test_trimmed_tokenizer_segments_exactly_like_the_full_one(family, tmp_path):
    full = make_tokenizer(family)
    trimmed = trim_tokenizer(full, CORPUS)
    assert len(trimmed) < len(full)
    assert set(trimmed.all_special_tokens) == set(full.all_special_tokens)
    for text in CORPUS:
        assert tokens(trimmed, text) == tokens(full, text)
        assert (trimmed.convert_ids_to_tokens(trimmed(text_target=text)["input_ids"])
                == full.convert_ids_to_tokens(full(text_target=text)["input_ids"]))
        assert trimmed.decode(trimmed(text)["input_ids"], skip_special_tokens=True) == full.decode(
            full(text)["input_ids"], skip_special_tokens=True)
    if family in ("sp_bpe", "byte_bpe"):  # byte fallback / byte-level: unseen characters round-trip exactly
        assert trimmed.decode(trimmed("schöne grüße")["input_ids"], skip_special_tokens=True) == "schöne grüße"
    trimmed.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    for text in CORPUS:
        assert reloaded(text)["input_ids"] == trimmed(text)["input_ids"]
        assert reloaded(text_target=text)["input_ids"] == trimmed(text_target=text)["input_ids"]
    # every kept token is one the corpus or the algorithm needs: nothing from the rest of the vocabulary
    corpus_tokens = set(full.convert_ids_to_tokens(sorted(used_token_ids(full, CORPUS))))
    assert corpus_tokens <= set(trimmed.get_vocab())


def test_unsupported_tokenizer_model_is_refused():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.WordLevel({"[UNK]": 0, "rain": 1, "sun": 2}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]")
    with pytest.raises(ValueError, match="supports Unigram, BPE and WordPiece.*WordLevel"):
        trim_tokenizer(tokenizer, ["rain"])


@pytest.mark.parametrize("family", FAMILIES)
def test_trimmed_llm_gives_the_full_llms_logits_on_the_kept_ids(family, tmp_path):
    full_tokenizer = make_tokenizer(family)
    llm = tiny_lm(family, len(full_tokenizer), full_tokenizer)
    reference = copy.deepcopy(llm)
    trimmed_llm, trimmed_tokenizer, old_ids = trim_vocabulary(llm, full_tokenizer, CORPUS)
    assert trimmed_llm.config.vocab_size == len(trimmed_tokenizer) == len(old_ids) < len(full_tokenizer)
    assert trimmed_llm.get_input_embeddings().weight.shape[0] == len(old_ids)
    assert trimmed_llm.get_output_embeddings().weight.shape[0] == len(old_ids)
    index = torch.tensor(old_ids)
    text = CORPUS[1]
    old = torch.tensor([full_tokenizer(text)["input_ids"]])
    new = torch.tensor([trimmed_tokenizer(text)["input_ids"]])
    assert torch.equal(index[new], old)  # same tokens, renumbered
    with torch.no_grad():
        if family == "unigram":
            target_old = torch.tensor([full_tokenizer(text_target=text)["input_ids"]])
            target_new = torch.tensor([trimmed_tokenizer(text_target=text)["input_ids"]])
            full_logits = reference(input_ids=old, labels=target_old).logits[..., index]
            cut_logits = trimmed_llm(input_ids=new, labels=target_new).logits
        else:
            full_logits = reference(input_ids=old).logits[..., index]
            cut_logits = trimmed_llm(input_ids=new).logits
    torch.testing.assert_close(cut_logits, full_logits, atol=1e-5, rtol=1e-5)
    # generate, then save / load exactly
    prompt = new
    generated = trimmed_llm.generate(prompt, max_new_tokens=4, do_sample=False)
    assert int(generated.max()) < len(trimmed_tokenizer)
    trimmed_llm.save_pretrained(tmp_path)
    trimmed_tokenizer.save_pretrained(tmp_path)
    auto = AutoModelForSeq2SeqLM if family == "unigram" else AutoModelForCausalLM
    reloaded = auto.from_pretrained(tmp_path).eval()
    assert torch.equal(reloaded.generate(prompt, max_new_tokens=4, do_sample=False), generated)
    assert AutoTokenizer.from_pretrained(tmp_path)(text)["input_ids"] == new[0].tolist()


PIPELINE_CODE = """
import json, sys
sys.modules["sign_translation"] = None  # the package is NOT importable: only the checkpoint's code
from transformers import pipeline
translator = pipeline("sign-translation", model=sys.argv[1], trust_remote_code=True)
print(json.dumps({"model": type(translator.model).__module__, "out": translator(sys.argv[2])}))
"""


@pytest.mark.slow
def test_trimmed_decoder_only_llm_in_a_fla_llm_checkpoint_loads_with_remote_code(tmp_path, real_videos):
    """FLa-LLM stage 2 on a Gemma-shaped LLM trimmed to the stage-1 tokenizer, exported, then loaded in a fresh
    process without the package and run through the pipeline."""
    from sign_translation import (
        FlaLlmConfig,
        FlaLlmForConditionalGeneration,
        FlaLlmForVisualInitialization,
        SignTranslationPipeline,
        SignTranslationProcessor,
        SignVideoProcessor,
    )
    from sign_translation.hub import export_checkpoint

    full_tokenizer = make_tokenizer("sp_bpe")
    stage1_tokenizer = trim_tokenizer(full_tokenizer, CORPUS)  # stage 1 trains with the LLM's trimmed tokenizer
    torch.manual_seed(0)
    stage1 = FlaLlmForVisualInitialization(FlaLlmConfig.tiny(vocab_size=len(stage1_tokenizer)))
    tiny_lm("sp_bpe", len(full_tokenizer), full_tokenizer).save_pretrained(tmp_path / "llm")
    model, tokenizer = FlaLlmForConditionalGeneration.from_stage1(
        stage1, tmp_path / "llm", tokenizer=full_tokenizer, target_tokenizer=stage1_tokenizer)
    assert model.llm.config.vocab_size == len(stage1_tokenizer)
    processor = SignTranslationProcessor(SignVideoProcessor(size=32, crop_size=28, frame_stride=2), tokenizer)
    model.eval().generation_config.update(num_beams=1, max_new_tokens=5, do_sample=False)
    folder = export_checkpoint(model, processor, tmp_path / "checkpoint", dataset_name="synthetic")
    video = str(real_videos["SOUP.mp4"])
    expected = SignTranslationPipeline(model=model, processor=processor)(video)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules")}
    result = subprocess.run([sys.executable, "-c", PIPELINE_CODE, str(folder), video], capture_output=True,
                            text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    payload = last_json_line(result.stdout)
    assert "transformers_modules" in payload["model"]
    assert payload["out"] == expected
