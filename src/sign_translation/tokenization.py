"""Tokenizers without the Hub: train a real mBART / mBART-50 Unigram tokenizer on a corpus.

The papers use mBART's own sentencepiece vocabulary (`facebook/mbart-large-cc25`, `facebook/mbart-large-50-...`);
with network access load those with `AutoTokenizer.from_pretrained`. Offline (the demo, the tests) we train a
Unigram vocabulary on the training sentences with the `tokenizers` library and build the very same transformers
class from it (`MBartTokenizer(vocab=...)` / `MBart50Tokenizer(vocab=...)`): same special tokens, same language
codes, same pre-tokenisation, same save format — only the vocabulary is small.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from transformers import MBart50Tokenizer, MBartTokenizer, PreTrainedTokenizerBase

from .processing.errors import SignInputError

_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]  # fairseq order: ids 0..3, as in every mBART checkpoint


def train_unigram_vocab(texts: Iterable[str], vocab_size: int = 1000) -> list[tuple[str, float]]:
    """Learn a Unigram (sentencepiece-style) vocabulary; the four mBART specials come first, at ids 0..3."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    texts = [t for t in texts if t and t.strip()]
    if not texts:
        raise SignInputError("texts: need at least one non-empty sentence to train a tokenizer")
    tokenizer = Tokenizer(models.Unigram())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")]
    )
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size, special_tokens=list(_SPECIALS), unk_token="<unk>", shrinking_factor=0.75
    )
    tokenizer.train_from_iterator(texts, trainer)
    vocab = [(piece, float(score)) for piece, score in json.loads(tokenizer.to_str())["model"]["vocab"]]
    if [piece for piece, _ in vocab[:4]] != _SPECIALS:  # pragma: no cover - guaranteed by special_tokens order
        raise RuntimeError("unexpected special-token order in the trained vocabulary")
    return vocab


def train_mbart_tokenizer(
    texts: Iterable[str],
    vocab_size: int = 1000,
    flavour: str = "mbart",
    src_lang: str | None = None,
    tgt_lang: str | None = None,
) -> PreTrainedTokenizerBase:
    """An `MBartTokenizer` (mBART-cc25, `flavour="mbart"`) or `MBart50Tokenizer` (`flavour="mbart50"`) whose
    Unigram vocabulary is learnt from `texts`.

    Example:
    ```python
    >>> from sign_translation.tokenization import train_mbart_tokenizer
    >>> tok = train_mbart_tokenizer(["tomorrow it rains in the north", "today it is sunny"] * 5, vocab_size=40)
    >>> tok.decode(tok("it rains")["input_ids"], skip_special_tokens=True)
    'it rains'

    ```
    """
    vocab = train_unigram_vocab(texts, vocab_size)
    if flavour == "mbart":
        return MBartTokenizer(vocab=vocab, src_lang=src_lang or "en_XX", tgt_lang=tgt_lang or src_lang or "en_XX")
    if flavour == "mbart50":
        return MBart50Tokenizer(vocab=vocab, src_lang=src_lang or "en_XX", tgt_lang=tgt_lang or src_lang or "en_XX")
    raise SignInputError(f"flavour={flavour!r}: expected 'mbart' (mBART-cc25 style) or 'mbart50'")


def generation_token_ids(tokenizer, is_encoder_decoder: bool = True) -> dict:
    """Special-token ids a model's `generation_config` needs to decode like the tokenizer encodes its targets.

    Read from how the tokenizer encodes a target sentence, so it holds for any tokenizer:
    - mBART-cc25 targets end `... </s> de_DE`; mBART right-shifts the language code to the front, so decoding
      starts from it (`decoder_start_token_id` = the language code), as GFSLT/FLa-LLM do;
    - mBART-50 targets start `de_DE ... </s>`: decoding starts from `</s>` and the language code is forced as the
      first generated token (`forced_bos_token_id`), as MMSLT does;
    - other tokenizers (T5/mT5, Marian, decoder-only): the LLM's own start token is kept.
    """
    ids = {
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "bos_token_id": tokenizer.bos_token_id,
    }
    if not is_encoder_decoder:
        return ids
    sample = tokenizer(text_target="a")["input_ids"]
    specials = set(tokenizer.all_special_ids)
    eos, bos = tokenizer.eos_token_id, tokenizer.bos_token_id
    if len(sample) >= 2 and sample[-2] == eos and sample[-1] in specials and sample[-1] != eos:
        ids["decoder_start_token_id"] = sample[-1]
    elif sample and sample[0] in specials and sample[0] not in (bos, eos):
        ids["decoder_start_token_id"] = eos
        ids["forced_bos_token_id"] = sample[0]
    return ids


def ensure_pad_token(tokenizer):
    """Decoder-only LLM tokenizers often have no padding token (GPT-2, SmolLM2 base, Llama): batches of sentences
    then cannot be padded. Use the end-of-sequence token, as is usual; padded positions are masked (labels -100)."""
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def build_offline_text_encoder(
    texts: Iterable[str],
    output_dir: str,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    seed: int = 0,
) -> str:
    """Save a small, randomly initialised BERT with a word-level vocabulary learnt from `texts` to `output_dir`.

    The stand-in for MMSLT's bert-base-cased where nothing can be downloaded (the synthetic demo, tests): its
    [CLS] vector is a fixed (seeded) random function of the description, which is all the description mapper needs
    as a regression target. With network access use "bert-base-cased". Returns `output_dir`.
    """
    import re

    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    words = sorted({w for text in texts for w in re.findall(r"\w+|[^\w\s]", text)})
    if not words:
        raise SignInputError("texts: need at least one non-empty text to build a text encoder")
    vocab = {token: i for i, token in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words])}
    tokenizer = BertTokenizer(vocab=vocab, do_lower_case=False)
    config = BertConfig(vocab_size=len(vocab), hidden_size=hidden_size, num_hidden_layers=num_layers,
                        num_attention_heads=num_heads, intermediate_size=4 * hidden_size, max_position_embeddings=256)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = BertModel(config)
    finally:
        torch.random.set_rng_state(generator_state)
    model.save_pretrained(output_dir)
    tokenizer.save_pretrained(output_dir)
    return output_dir


__all__ = ["build_offline_text_encoder", "ensure_pad_token", "generation_token_ids", "train_mbart_tokenizer", "train_unigram_vocab"]
