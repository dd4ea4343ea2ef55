"""Translation metrics as the sign language translation papers report them.

- BLEU-1..4: sacrebleu corpus BLEU (13a tokenisation) with its signature, over the WHOLE split at once. Corpus BLEU
  is not an average of per-batch BLEU: n-gram counts are summed over the split first. For Chinese (CSL-Daily),
  papers compute character-level BLEU: characters joined by spaces (`char_level=True`).
- ROUGE-L: F-measure of the longest common subsequence per sentence (rouge_score), averaged over sentences, as the
  GFSLT lineage reports it. Tokens are whitespace tokens (lower-cased); rouge_score's default tokenizer would drop
  every non-ASCII letter (German umlauts, Chinese characters).

Paper tables of the GFSLT lineage use nlg-eval/coco-caption BLEU, a different computation; what this module reports
is sacrebleu, and the signature says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import sacrebleu
from rouge_score import rouge_scorer

from .processing.errors import SignInputError


class _WhitespaceTokenizer:
    """rouge_score tokenizer interface: lower-cased whitespace tokens (keeps umlauts and CJK characters)."""

    def tokenize(self, text: str) -> list[str]:
        return text.lower().split()


def _char_level(text: str) -> str:
    return " ".join(ch for ch in text if not ch.isspace())


def translation_metrics(
    hypotheses: Sequence[str],
    references: Sequence[str],
    char_level: bool = False,
    lowercase: bool = False,
    tokenize: str = "13a",
) -> dict:
    """Corpus BLEU-1..4 (sacrebleu) and ROUGE-L F (×100) of hypotheses against single references.

    Args:
        hypotheses / references: one string per example, same length.
        char_level: split every sentence into characters first (CSL-Daily / Chinese).
        lowercase / tokenize: passed to sacrebleu.

    Returns:
        `{"bleu1", "bleu2", "bleu3", "bleu4", "rouge_l", "signature", "num_examples"}`.

    Example:
    ```python
    >>> from sign_translation.metrics import translation_metrics
    >>> m = translation_metrics(["es regnet im norden"], ["es regnet im norden"])
    >>> round(m["bleu4"], 1), round(m["rouge_l"], 1)
    (100.0, 100.0)

    ```
    """
    hypotheses, references = list(hypotheses), list(references)
    if len(hypotheses) != len(references):
        raise SignInputError(f"got {len(hypotheses)} hypotheses but {len(references)} references")
    if not references:
        raise SignInputError("translation_metrics: no examples")
    for name, items in (("hypotheses", hypotheses), ("references", references)):
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise SignInputError(f"{name}[{i}]: expected a string, got {type(item).__name__}")
    if char_level:
        hypotheses = [_char_level(h) for h in hypotheses]
        references = [_char_level(r) for r in references]
    result: dict = {}
    signature = None
    for order in (1, 2, 3, 4):
        bleu = sacrebleu.metrics.BLEU(max_ngram_order=order, tokenize=tokenize, lowercase=lowercase)
        result[f"bleu{order}"] = float(bleu.corpus_score(hypotheses, [references]).score)
        if order == 4:
            signature = str(bleu.get_signature())
    scorer = rouge_scorer.RougeScorer(["rougeL"], tokenizer=_WhitespaceTokenizer())
    rouge = [scorer.score(ref, hyp)["rougeL"].fmeasure for hyp, ref in zip(hypotheses, references)]
    result["rouge_l"] = float(np.mean(rouge) * 100)
    result["signature"] = signature + ("|level:char" if char_level else "")
    result["num_examples"] = len(references)
    return result


def build_compute_metrics(tokenizer, char_level: bool = False, lowercase: bool = False) -> Callable:
    """A `compute_metrics` for `Seq2SeqTrainer(predict_with_generate=True)`.

    The Trainer gathers the predictions of the whole split (across batches and processes) and calls it once, so
    BLEU is computed over the whole split. -100 (ignored label / generation padding) becomes the pad id before
    decoding. The metrics are numbers (the Trainer logs them); the sacrebleu signature of the last call is kept on
    the function as `compute_metrics.last_signature`, and the decoded texts as `last_predictions`/`last_references`.
    """
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    def decode(ids) -> list[str]:
        ids = np.asarray(ids)
        ids = np.where(ids < 0, pad_id, ids)
        return [text.strip() for text in tokenizer.batch_decode(ids.tolist(), skip_special_tokens=True)]

    def compute_metrics(eval_prediction) -> dict:
        predictions = eval_prediction.predictions
        if isinstance(predictions, tuple):
            predictions = predictions[0]
        if np.asarray(predictions).ndim == 3:  # logits, not generated ids
            raise SignInputError(
                "compute_metrics got logits: train with Seq2SeqTrainingArguments(predict_with_generate=True)"
            )
        hypotheses = decode(predictions)
        references = decode(eval_prediction.label_ids)
        metrics = translation_metrics(hypotheses, references, char_level=char_level, lowercase=lowercase)
        compute_metrics.last_signature = metrics.pop("signature")
        compute_metrics.last_predictions = hypotheses
        compute_metrics.last_references = references
        metrics.pop("num_examples")
        return metrics

    compute_metrics.last_signature = None
    return compute_metrics



__all__ = ["build_compute_metrics", "translation_metrics"]
