"""Tiny tokenizers of the four families transformers LLMs use, learnt offline from a few sentences.

    unigram       SentencePiece Unigram (mBART, mBART-50, T5)                  → MBartTokenizer
    sp_bpe        SentencePiece-style BPE with byte fallback (Gemma, Llama 2)  → GemmaTokenizer
    byte_bpe      byte-level BPE (GPT-2, SmolLM2, Qwen)                         → GPT2Tokenizer
    wordpiece     WordPiece (BERT, MiniLM)                                      → BertTokenizer
"""

from __future__ import annotations

import json

TRAIN_TEXTS = [
    "tomorrow it will rain in the north",
    "sunny weather in the south today",
    "am montag regen im norden und wind",
    "schnee und frost im süden am abend",
    "temperatures will rise in the east",
    "heute nacht wird es kalt im westen",
] * 4

# sentences to trim to: mostly seen words, some new ones, and characters the tokenizers never saw ("ß", "ö")
CORPUS = [
    "tomorrow it will rain in the south",
    "am abend regen und schnee im norden",
    "heute große hitze im westen",
    "frost in the north tonight",
    "schöne grüße",
]
FAMILIES = ("unigram", "sp_bpe", "byte_bpe", "wordpiece")


def _train(model, trainer, normalizer=None, pre_tokenizer=None, texts=TRAIN_TEXTS) -> dict:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer(model)
    if normalizer is not None:
        tokenizer.normalizer = normalizer
    if pre_tokenizer is not None:
        tokenizer.pre_tokenizer = pre_tokenizer
    tokenizer.train_from_iterator(texts, trainer)
    return json.loads(tokenizer.to_str())["model"]


def _pairs(merges) -> list[tuple[str, str]]:
    return [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in merges]


def make_tokenizer(family: str):
    from tokenizers import models, normalizers, pre_tokenizers, trainers

    if family == "unigram":
        from sign_translation.tokenization import train_mbart_tokenizer

        return train_mbart_tokenizer(TRAIN_TEXTS, vocab_size=80)
    if family == "sp_bpe":
        from transformers import GemmaTokenizer

        specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"] + [f"<0x{i:02X}>" for i in range(256)]
        spec = _train(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True),
                      trainers.BpeTrainer(vocab_size=len(specials) + 120, special_tokens=specials),
                      normalizer=normalizers.Replace(" ", "▁"),
                      pre_tokenizer=pre_tokenizers.Split(pattern=" ", behavior="merged_with_previous"))
        return GemmaTokenizer(vocab=spec["vocab"], merges=_pairs(spec["merges"]))
    if family == "byte_bpe":
        from transformers import GPT2Tokenizer

        spec = _train(models.BPE(), trainers.BpeTrainer(vocab_size=380, special_tokens=["<|endoftext|>"],
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()),
                      pre_tokenizer=pre_tokenizers.ByteLevel(add_prefix_space=False))
        return GPT2Tokenizer(vocab=spec["vocab"], merges=_pairs(spec["merges"]))
    if family == "wordpiece":
        from transformers import BertTokenizer

        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        spec = _train(models.WordPiece(unk_token="[UNK]"),
                      trainers.WordPieceTrainer(vocab_size=150, special_tokens=specials),
                      normalizer=normalizers.BertNormalizer(lowercase=True),
                      pre_tokenizer=pre_tokenizers.BertPreTokenizer())
        return BertTokenizer(vocab=spec["vocab"])
    raise ValueError(family)
