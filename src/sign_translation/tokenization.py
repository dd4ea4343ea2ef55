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


__all__ = ["train_mbart_tokenizer", "train_unigram_vocab"]
