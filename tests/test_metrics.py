"""Metrics against sacrebleu / rouge_score directly, on real PHOENIX14T and CSL-Daily test sentences."""

import random

import numpy as np
import pytest
import sacrebleu
from rouge_score import rouge_scorer
from transformers import EvalPrediction

from sign_translation import SignInputError
from sign_translation.metrics import build_compute_metrics, translation_metrics
from sign_translation.tokenization import train_mbart_tokenizer


def perturb(sentence: str, rng: random.Random) -> str:
    words = sentence.split()
    choice = rng.random()
    if choice < 0.3 and len(words) > 2:
        del words[rng.randrange(len(words))]
    elif choice < 0.6 and len(words) > 2:
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    elif choice < 0.8:
        words.insert(rng.randrange(len(words) + 1), "wetter")
    return " ".join(words)


@pytest.fixture(scope="module")
def phoenix_test_sentences(shared_data):
    from sign_translation.data import load_phoenix14t

    return load_phoenix14t(shared_data / "annotations" / "phoenix14t", split="test", on_missing_video="keep")["text"]


def test_bleu_matches_sacrebleu_on_real_phoenix_test_split(phoenix_test_sentences):
    references = list(phoenix_test_sentences)
    assert len(references) == 642
    rng = random.Random(0)
    hypotheses = [perturb(r, rng) for r in references]
    metrics = translation_metrics(hypotheses, references)
    assert metrics["bleu4"] == pytest.approx(sacrebleu.corpus_bleu(hypotheses, [references]).score, abs=1e-9)
    for order in (1, 2, 3):
        expected = sacrebleu.metrics.BLEU(max_ngram_order=order).corpus_score(hypotheses, [references])
        assert metrics[f"bleu{order}"] == pytest.approx(expected.score, abs=1e-9)
    assert metrics["bleu1"] > metrics["bleu2"] > metrics["bleu3"] > metrics["bleu4"] > 0
    assert metrics["signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:")
    assert metrics["num_examples"] == 642
    perfect = translation_metrics(references, references)
    assert perfect["bleu4"] == pytest.approx(100.0) and perfect["rouge_l"] == pytest.approx(100.0)


def test_rouge_l_is_sentence_mean_of_lcs_f_measure(phoenix_test_sentences):
    references = [s for s in phoenix_test_sentences if s.isascii()][:50]
    rng = random.Random(1)
    hypotheses = [perturb(r, rng) for r in references]
    scorer = rouge_scorer.RougeScorer(["rougeL"])  # default tokenizer is fine on ASCII-only sentences
    expected = np.mean([scorer.score(r, h)["rougeL"].fmeasure for h, r in zip(hypotheses, references)]) * 100
    assert translation_metrics(hypotheses, references)["rouge_l"] == pytest.approx(expected)


def test_rouge_l_keeps_umlauts():
    # rouge_score's default tokenizer drops "ä"/"ü"; ours keeps them: "süden" ≠ "norden".
    metrics = translation_metrics(["im süden"], ["im norden"])
    assert metrics["rouge_l"] == pytest.approx(50.0)


def test_char_level_bleu_for_chinese(shared_data):
    from sign_translation.data import load_csl_daily

    references = list(load_csl_daily(shared_data / "annotations" / "csl_daily", split="test", on_missing_video="keep")["text"])[:200]
    hypotheses = [r[:-2] + "了" for r in references]
    metrics = translation_metrics(hypotheses, references, char_level=True)
    spaced = lambda s: " ".join(c for c in s if not c.isspace())  # noqa: E731
    expected = sacrebleu.corpus_bleu([spaced(h) for h in hypotheses], [[spaced(r) for r in references]])
    assert metrics["bleu4"] == pytest.approx(expected.score)
    assert metrics["signature"].endswith("|level:char")
    word_level = translation_metrics(hypotheses, references)  # whole sentences as one "word": much lower
    assert word_level["bleu4"] < metrics["bleu4"]


def test_compute_metrics_decodes_whole_split_with_ignored_labels():
    sentences = ["es regnet im norden", "morgen scheint die sonne", "im süden gibt es gewitter", "es bleibt kalt"]
    tokenizer = train_mbart_tokenizer(sentences * 3, vocab_size=60)
    hypotheses = ["es regnet im süden", "morgen scheint die sonne", "im süden gewitter", "es bleibt warm"]

    def ids(texts, pad_value):
        encoded = [tokenizer(text_target=t)["input_ids"] for t in texts]
        width = max(map(len, encoded)) + 2
        return np.array([e + [pad_value] * (width - len(e)) for e in encoded])

    compute = build_compute_metrics(tokenizer)
    metrics = compute(EvalPrediction(predictions=ids(hypotheses, tokenizer.pad_token_id), label_ids=ids(sentences, -100)))
    expected = translation_metrics(hypotheses, sentences)
    assert metrics["bleu4"] == pytest.approx(expected["bleu4"]) and metrics["rouge_l"] == pytest.approx(expected["rouge_l"])
    assert compute.last_predictions == hypotheses and compute.last_references == sentences
    assert compute.last_signature == expected["signature"]
    assert all(isinstance(v, float) for v in metrics.values())
    # Corpus BLEU is not the mean of per-shard BLEU: this is why the whole split goes in at once.
    shards = np.mean([translation_metrics(hypotheses[i : i + 2], sentences[i : i + 2])["bleu4"] for i in (0, 2)])
    assert shards != pytest.approx(metrics["bleu4"])
    with pytest.raises(SignInputError, match="predict_with_generate"):
        compute(EvalPrediction(predictions=np.zeros((2, 3, 5)), label_ids=ids(sentences[:2], -100)))


def test_bad_metric_input():
    with pytest.raises(SignInputError, match="2 hypotheses but 1 references"):
        translation_metrics(["a", "b"], ["a"])
    with pytest.raises(SignInputError, match=r"hypotheses\[0\]"):
        translation_metrics([None], ["a"])
