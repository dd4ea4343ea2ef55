"""Trim a multilingual LLM's vocabulary to the tokens a training corpus uses (GFSLT-VLP / FLa-LLM do this).

mBART-large-cc25 has 250,027 tokens; PHOENIX14T's German sentences use about 2.2–2.5k of them. Keeping only those
shrinks the embedding and output layers (and the softmax) by ~100× while every training sentence tokenizes to the
same pieces: a Unigram (sentencepiece) tokenizer restricted to a subset of its pieces still finds the same best
segmentation for text whose best segmentation uses only that subset.

Works for Unigram tokenizers whose class can be rebuilt from a `vocab=[(piece, score), ...]` list (mBART,
mBART-50; transformers 5 tokenizers) and any LLM whose input/output embeddings are ordinary embedding/linear layers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import torch
from torch import nn


def _unigram_vocab(tokenizer) -> list[tuple[str, float]]:
    backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
    if backend is None:
        raise ValueError(f"{type(tokenizer).__name__}: vocabulary trimming needs a tokenizers-backed tokenizer")
    model = json.loads(backend.to_str())["model"]
    if model.get("type") != "Unigram":
        raise ValueError(
            f"{type(tokenizer).__name__}: vocabulary trimming supports Unigram (sentencepiece) tokenizers such as "
            f"mBART's; this one is {model.get('type')}"
        )
    return [(piece, float(score)) for piece, score in model["vocab"]]


def used_token_ids(tokenizer, texts: Iterable[str]) -> set[int]:
    """Ids a corpus needs: its pieces (as source and as target text) plus every special and added token."""
    keep = set(tokenizer.all_special_ids) | set(getattr(tokenizer, "added_tokens_decoder", {}))
    texts = list(texts)
    for encoded in (tokenizer(texts)["input_ids"], tokenizer(text_target=texts)["input_ids"]):
        for ids in encoded:
            keep.update(ids)
    return keep


def _replace_rows(module: nn.Module, name: str, index: torch.Tensor) -> None:
    old = getattr(module, name)
    setattr(module, name, nn.Parameter(old.data[index].clone(), requires_grad=old.requires_grad))


def trim_tokenizer(tokenizer, texts: Iterable[str]):
    """A tokenizer of the same class keeping only the pieces `texts` need (plus specials and language codes)."""
    vocab = _unigram_vocab(tokenizer)
    keep = used_token_ids(tokenizer, texts)
    new_vocab = [vocab[i] for i in sorted(keep) if i < len(vocab)]
    kwargs = {k: getattr(tokenizer, k) for k in ("src_lang", "tgt_lang") if getattr(tokenizer, k, None)}
    return type(tokenizer)(vocab=new_vocab, **kwargs)


def token_id_mapping(source_tokenizer, target_tokenizer) -> list[int]:
    """For every id of `target_tokenizer`, the id of the same token in `source_tokenizer`."""
    tokens = target_tokenizer.convert_ids_to_tokens(list(range(len(target_tokenizer))))
    old_ids = source_tokenizer.convert_tokens_to_ids(tokens)
    unk = source_tokenizer.unk_token_id
    unknown = [tok for tok, old in zip(tokens, old_ids) if old == unk and tok != source_tokenizer.unk_token]
    if unknown:
        raise ValueError(
            f"{len(unknown)} tokens of the target vocabulary are not in the LLM's tokenizer (e.g. {unknown[:5]}); "
            "the stage-1 tokenizer must be the LLM's tokenizer or a trimmed copy of it"
        )
    if len(set(old_ids)) != len(old_ids):
        raise ValueError("the target vocabulary maps two tokens onto one LLM token")
    return old_ids


def trim_vocabulary(llm, tokenizer, texts: Iterable[str] | None = None, target_tokenizer=None):
    """Return `(llm, trimmed_tokenizer, old_ids)` with the LLM's vocabulary restricted to what `texts` need — or
    to exactly the vocabulary of `target_tokenizer` (e.g. the trimmed tokenizer a stage-1 checkpoint was trained
    with), matched by token strings.

    `old_ids[new_id]` is the id the token had before; embeddings, the (tied or untied) output layer and mBART's
    `final_logits_bias` are sliced accordingly, and every special-token id in the configs is remapped. The LLM is
    modified in place.
    """
    if (texts is None) == (target_tokenizer is None):
        raise ValueError("trim_vocabulary needs exactly one of `texts` or `target_tokenizer`")
    trimmed = target_tokenizer if target_tokenizer is not None else trim_tokenizer(tokenizer, texts)
    old_ids = token_id_mapping(tokenizer, trimmed)
    index = torch.tensor(old_ids, dtype=torch.long)

    embedding = llm.get_input_embeddings()
    old_weight = embedding.weight
    output = llm.get_output_embeddings()
    tied = [m for m in llm.modules() if getattr(m, "weight", None) is old_weight]
    new_weight = nn.Parameter(old_weight.data[index].clone(), requires_grad=old_weight.requires_grad)
    for module in tied:  # mBART: shared, encoder/decoder embed_tokens and lm_head share one Parameter
        module.weight = new_weight
        if isinstance(module, nn.Embedding):
            module.num_embeddings = len(index)
        elif isinstance(module, nn.Linear):
            module.out_features = len(index)
    if output is not None and output.weight is not new_weight:  # untied output layer
        _replace_rows(output, "weight", index)
        output.out_features = len(index)
    if output is not None and getattr(output, "bias", None) is not None:
        _replace_rows(output, "bias", index)
    if hasattr(llm, "final_logits_bias"):
        llm.final_logits_bias = llm.final_logits_bias[:, index].clone()

    new_id = {old: new for new, old in enumerate(old_ids)}
    llm.config.vocab_size = len(index)
    for config in filter(None, (llm.config, getattr(llm, "generation_config", None))):
        for name in ("pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id", "forced_bos_token_id",
                     "forced_eos_token_id"):
            value = getattr(config, name, None)
            if isinstance(value, int) and value in new_id:
                setattr(config, name, new_id[value])
    pad = llm.config.pad_token_id
    for module in tied:
        if isinstance(module, nn.Embedding) and module.padding_idx is not None:
            module.padding_idx = pad
    return llm, trimmed, old_ids


__all__ = ["token_id_mapping", "trim_tokenizer", "trim_vocabulary", "used_token_ids"]
