"""Trim a multilingual LLM's vocabulary to the tokens a training corpus uses (GFSLT-VLP / FLa-LLM do this).

mBART-large-cc25 has 250,027 tokens; PHOENIX14T's German sentences use about 2.2–2.5k of them. Keeping only those
shrinks the embedding and output layers (and the softmax) by ~100× while every training sentence tokenizes to the
same pieces. Gemma-3-270M (vocabulary 262,144 × 640: 168M of its 268M parameters) shrinks the same way.

Tokenizers: every family transformers LLMs use — SentencePiece Unigram (mBART, T5), BPE with byte fallback (Gemma,
Llama), byte-level BPE (GPT-2, SmolLM2, Qwen) and WordPiece (BERT) — by rewriting the `tokenizers` backend with the
kept vocabulary (mBART-style classes are rebuilt from their `vocab=[(piece, score), ...]` list, which keeps their
language-code handling). Every trimming is checked: each corpus sentence must segment into exactly the same token
strings as with the full tokenizer. Models: any LLM whose input/output embeddings are ordinary embedding/linear
layers (tied or not; mBART's `final_logits_bias` too).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

import torch
from torch import nn


def _backend_spec(tokenizer) -> dict:
    backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
    if backend is None:
        raise ValueError(f"{type(tokenizer).__name__}: vocabulary trimming needs a tokenizers-backed tokenizer")
    return json.loads(backend.to_str())


def used_token_ids(tokenizer, texts: Iterable[str]) -> set[int]:
    """Ids a corpus needs: its pieces (as source and as target text) plus every special token."""
    keep = set(tokenizer.all_special_ids)
    texts = list(texts)
    for encoded in (tokenizer(texts)["input_ids"], tokenizer(text_target=texts)["input_ids"]):
        for ids in encoded:
            keep.update(ids)
    return keep


def _replace_rows(module: nn.Module, name: str, index: torch.Tensor) -> None:
    old = getattr(module, name)
    setattr(module, name, nn.Parameter(old.data[index].clone(), requires_grad=old.requires_grad))


def _merge_pair(merge) -> tuple[str, str]:
    return tuple(merge) if isinstance(merge, list) else tuple(merge.split(" ", 1))


def _bpe_closure(model: dict, keep_tokens: set[str]) -> set[str]:
    """BPE builds a token by merges, so the tokens it passes through on the way must stay too: add every token
    from which a kept token can be merged, recursively (a superset of what segmenting the corpus needs)."""
    prefix = model.get("continuing_subword_prefix") or ""
    made_from: dict[str, list[tuple[str, str]]] = {}
    for merge in model["merges"]:
        left, right = _merge_pair(merge)
        made_from.setdefault(left + (right[len(prefix):] if prefix and right.startswith(prefix) else right),
                             []).append((left, right))
    closure, todo = set(keep_tokens), list(keep_tokens)
    while todo:
        for pair in made_from.get(todo.pop(), ()):
            for part in pair:
                if part not in closure and part in model["vocab"]:
                    closure.add(part)
                    todo.append(part)
    return closure


def _remap_post_processor(processor: dict | None, new_id: dict[int, int]) -> None:
    """Special-token ids inside a post-processor (template, BERT/RoBERTa style, or a sequence of them)."""
    if not processor:
        return
    for sub in processor.get("processors") or ():
        _remap_post_processor(sub, new_id)
    for entry in (processor.get("special_tokens") or {}).values():
        entry["ids"] = [new_id[i] for i in entry["ids"]]
    for key in ("sep", "cls"):
        if isinstance(processor.get(key), list):
            processor[key][1] = new_id[processor[key][1]]


def _kept_ids(tokenizer, spec: dict, texts: list[str]) -> list[int]:
    """Sorted ids of the trimmed vocabulary: the corpus's tokens, the special tokens, and what the tokenizer's
    algorithm needs to reproduce the same segmentation (BPE merge ancestors, byte-fallback and byte-level base
    tokens, the unknown token)."""
    model = spec["model"]
    vocab = model["vocab"]
    keep = used_token_ids(tokenizer, texts)
    if model["type"] == "Unigram":
        return sorted(i for i in keep if i < len(vocab))
    id_to_token = {i: t for t, i in vocab.items()}
    tokens = {id_to_token[i] for i in keep if i in id_to_token}
    if model.get("unk_token") in vocab:
        tokens.add(model["unk_token"])
    if model["type"] == "BPE":
        if model.get("byte_fallback"):  # any character still encodes, as bytes (Gemma, Llama 2)
            tokens.update(t for t in vocab if re.fullmatch(r"<0x[0-9A-F]{2}>", t))
        if any(p.get("type") == "ByteLevel" for p in _pre_tokenizers(spec)):  # GPT-2 style: the 256 byte symbols
            tokens.update(t for t in vocab if len(t) == 1)
        tokens = _bpe_closure(model, tokens)
    elif model["type"] != "WordPiece":
        raise ValueError(f"{type(tokenizer).__name__}: vocabulary trimming supports Unigram, BPE and WordPiece "
                         f"tokenizers; this one is {model['type']}")
    added = {entry["id"] for entry in spec.get("added_tokens", ())}
    return sorted({vocab[t] for t in tokens} | (keep & added))


def _pre_tokenizers(spec: dict) -> list[dict]:
    pre = spec.get("pre_tokenizer") or {}
    return pre.get("pretokenizers") or [pre]


def trim_tokenizer(tokenizer, texts: Iterable[str]):
    """A tokenizer of the same class keeping only the pieces `texts` need (plus the special tokens), which
    segments every one of `texts` into exactly the same token strings as `tokenizer`.

    Supports the four families of transformers tokenizers: SentencePiece Unigram (mBART, T5), BPE with byte
    fallback (Gemma, Llama), byte-level BPE (GPT-2, SmolLM2, Qwen) and WordPiece (BERT). A Unigram or WordPiece
    tokenizer restricted to a superset of the pieces it used still picks them (best path / longest match); BPE also
    keeps every intermediate token of the merges that build the kept ones, and the merges among them in their
    original order, so the same merges fire in the same order.
    """
    texts = list(texts)
    spec = _backend_spec(tokenizer)
    kept = _kept_ids(tokenizer, spec, texts)
    if spec["model"]["type"] == "Unigram" and hasattr(type(tokenizer), "vocab_files_names"):
        vocab = spec["model"]["vocab"]
        kwargs = {k: getattr(tokenizer, k) for k in ("src_lang", "tgt_lang") if getattr(tokenizer, k, None)}
        try:  # mBART-style classes rebuild their language-code handling from a vocab list
            trimmed = type(tokenizer)(vocab=[(vocab[i][0], float(vocab[i][1])) for i in kept], **kwargs)
            _check_same_segmentation(tokenizer, trimmed, texts)
            return trimmed
        except (TypeError, ValueError):  # a class that cannot be rebuilt so: rewrite its backend below
            spec = _backend_spec(tokenizer)
    trimmed = _rebuild(tokenizer, spec, kept)
    _check_same_segmentation(tokenizer, trimmed, texts)
    return trimmed


def _rebuild(tokenizer, spec: dict, kept: list[int]):
    """The backend tokenizer with the vocabulary cut to `kept` (ids renumbered in order), wrapped in a generic
    tokenizers-backed class that carries the same special tokens."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    new_id = {old: new for new, old in enumerate(kept)}
    model = spec["model"]
    if model["type"] == "Unigram":
        model["vocab"] = [model["vocab"][i] for i in kept]
        if model.get("unk_id") is not None:
            model["unk_id"] = new_id[model["unk_id"]]
    else:
        id_to_token = {i: t for t, i in model["vocab"].items()}
        model["vocab"] = {id_to_token[i]: new_id[i] for i in kept if i in id_to_token}
        if model["type"] == "BPE":
            model["merges"] = [m for m in model["merges"]
                               if all(part in model["vocab"] for part in _merge_pair(m))
                               and _merge_result(m, model) in model["vocab"]]
    spec["added_tokens"] = [{**entry, "id": new_id[entry["id"]]} for entry in spec.get("added_tokens", ())
                            if entry["id"] in new_id]
    _remap_post_processor(spec.get("post_processor"), new_id)
    backend = Tokenizer.from_str(json.dumps(spec))
    special = {k: getattr(tokenizer, k) for k in ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
                                                   "cls_token", "mask_token") if getattr(tokenizer, k, None)}
    trimmed = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        model_max_length=tokenizer.model_max_length,
        padding_side=tokenizer.padding_side,
        clean_up_tokenization_spaces=getattr(tokenizer, "clean_up_tokenization_spaces", False),
        **special,
    )
    for name in ("add_bos_token", "add_eos_token"):  # recorded, not re-applied: the post-processor already does it
        if hasattr(tokenizer, name):
            object.__setattr__(trimmed, f"_{name}", getattr(tokenizer, name))
    if getattr(tokenizer, "chat_template", None):
        trimmed.chat_template = tokenizer.chat_template
    return trimmed


def _merge_result(merge, model: dict) -> str:
    left, right = _merge_pair(merge)
    prefix = model.get("continuing_subword_prefix") or ""
    return left + (right[len(prefix):] if prefix and right.startswith(prefix) else right)


def _check_same_segmentation(full, trimmed, texts: list[str]) -> None:
    """Trimming must never change how a corpus sentence is cut into tokens (it would silently change training)."""
    for encode in (lambda t, x: t(x)["input_ids"], lambda t, x: t(text_target=x)["input_ids"]):
        for text, a, b in zip(texts, encode(full, texts), encode(trimmed, texts)):
            if full.convert_ids_to_tokens(a) != trimmed.convert_ids_to_tokens(b):
                raise ValueError(f"vocabulary trimming changed the segmentation of {text!r}: "
                                 f"{full.convert_ids_to_tokens(a)} vs {trimmed.convert_ids_to_tokens(b)}")


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
