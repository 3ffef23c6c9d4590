"""harness.metrics: each convention of METRICS.md, shown on a worked example."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sacrebleu
import torch
from sklearn.metrics import f1_score

from harness import metrics as M

# ------------------------------------------------------------------------------------------
# Classification


def test_accuracy() -> None:
    assert M.accuracy([0, 1, 2, 1], [0, 1, 1, 1]) == 0.75
    assert M.accuracy(torch.tensor([1, 1]), np.array([1, 0])) == 0.5
    with pytest.raises(ValueError, match="3 labels"):
        M.accuracy([0, 1, 2], [0, 1])


def test_macro_f1_counts_a_class_missing_from_the_split() -> None:
    y_true = [0, 0, 1, 1, 1, 0]
    y_pred = [0, 1, 1, 1, 0, 0]
    labels = [0, 1, 2]  # class 2 is neither in the split nor predicted
    f1 = M.macro_f1(y_true, y_pred, labels=labels)
    per_class = [2 / 3, 2 / 3, 0.0]  # F1 = 2·tp / (2·tp + fp + fn): 4/6, 4/6, and 0 for the missing class
    assert f1 == pytest.approx(np.mean(per_class))
    assert f1 == pytest.approx(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))
    # left to infer the label set, scikit-learn would average over the two classes it sees
    assert f1_score(y_true, y_pred, average="macro") == pytest.approx(2 / 3) != pytest.approx(f1)


def test_macro_f1_a_class_never_predicted_scores_zero() -> None:
    y_true = [0, 1, 2, 2]
    y_pred = [0, 1, 1, 1]  # a constant-ish classifier that never says 2
    expected = np.mean([1.0, 2 * 1 / (2 * 1 + 2), 0.0])
    assert M.macro_f1(y_true, y_pred, labels=[0, 1, 2]) == pytest.approx(expected)
    assert M.macro_f1(y_true, y_pred, labels=[0, 1, 2]) == pytest.approx(
        f1_score(y_true, y_pred, labels=[0, 1, 2], average="macro", zero_division=0)
    )


def test_labels_outside_the_label_set_are_an_error() -> None:
    with pytest.raises(ValueError, match="y_pred holds classes outside"):
        M.macro_f1([0, 1], [0, 5], labels=[0, 1])
    with pytest.raises(ValueError, match="distinct"):
        M.confusion_matrix([0, 1], [0, 1], labels=[0, 0, 1])


def test_confusion_matrix_rows_true_columns_predicted_in_label_order() -> None:
    cm = M.confusion_matrix(["pos", "neg", "neg"], ["pos", "pos", "neg"], labels=["neg", "pos", "neutral"])
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 0]]
    assert cm.dtype == np.int64


# ------------------------------------------------------------------------------------------
# Perplexity

BATCHES = [(50.0, 20), (300.0, 100), (20.0, 5)]  # (summed NLL, scored tokens), METRICS.md's example


def test_perplexity_accumulates_sums_and_exponentiates_once() -> None:
    total_nll = sum(nll for nll, _ in BATCHES)
    tokens = sum(n for _, n in BATCHES)
    assert M.perplexity_from_nll(total_nll, tokens) == pytest.approx(19.30, abs=0.005)


def test_the_naive_ways_give_larger_numbers() -> None:
    mean_of_batch_perplexities = np.mean([M.perplexity_from_nll(nll, n) for nll, n in BATCHES])
    exp_of_mean_batch_loss = math.exp(np.mean([nll / n for nll, n in BATCHES]))
    assert mean_of_batch_perplexities == pytest.approx(28.96, abs=0.005)
    assert exp_of_mean_batch_loss == pytest.approx(23.73, abs=0.005)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    return x - np.log(np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True)) - x.max(-1, keepdims=True)


def test_corpus_perplexity_over_batches_equals_the_whole_set() -> None:
    rng = np.random.default_rng(0)
    log_probs = _log_softmax(rng.normal(size=(6, 5, 7)))
    targets = rng.integers(1, 7, size=(6, 5))
    targets[0, 3:] = 0  # post-padding
    targets[4, :2] = 0  # pre-padding
    whole = M.corpus_perplexity(log_probs, targets, pad_id=0)
    sums = [M.summed_nll(log_probs[i : i + 2], targets[i : i + 2]) for i in range(0, 6, 2)]
    pooled = M.perplexity_from_nll(sum(s for s, _ in sums), sum(n for _, n in sums))
    assert pooled == pytest.approx(whole, rel=1e-12)
    picked = np.take_along_axis(log_probs, targets[..., None], -1)[..., 0][targets != 0]
    assert whole == pytest.approx(math.exp(-picked.mean()))
    assert sums[0][1] == 2 * 5 - 2


def test_padding_is_never_scored() -> None:
    rng = np.random.default_rng(1)
    log_probs = _log_softmax(rng.normal(size=(2, 4, 5)))
    targets = np.array([[3, 4, 2, 0], [0, 0, 1, 2]])
    before = M.corpus_perplexity(log_probs, targets)
    # counting pad as a target (the diagnosed mistake) gives another figure
    assert M.summed_nll(log_probs, targets, pad_id=None)[1] == 8
    assert M.corpus_perplexity(log_probs, targets, pad_id=None) != pytest.approx(before)
    log_probs[targets == 0] = -np.inf  # whatever the model says at padded positions is ignored
    assert M.corpus_perplexity(log_probs, targets) == before
    assert M.summed_nll(log_probs, targets)[1] == 5


def test_corpus_perplexity_takes_torch_tensors_and_checks_shapes() -> None:
    log_probs = torch.log_softmax(torch.randn(2, 3, 4, requires_grad=True), -1)
    targets = torch.tensor([[1, 2, 3], [3, 0, 0]])
    ppl = M.corpus_perplexity(log_probs, targets)
    assert ppl == pytest.approx(math.exp(-float(log_probs.detach().gather(-1, targets[..., None])[targets != 0].mean())), rel=1e-6)
    with pytest.raises(ValueError, match="plus a vocabulary axis"):
        M.corpus_perplexity(log_probs[:, :2], targets)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        M.corpus_perplexity(log_probs, torch.tensor([[1, 2, 9], [3, 0, 0]]))
    with pytest.raises(ValueError, match="at least one scored token"):
        M.corpus_perplexity(log_probs, torch.zeros(2, 3, dtype=torch.long))


def test_uniform_model_has_perplexity_equal_to_vocabulary_size() -> None:
    log_probs = np.full((3, 4, 10), -math.log(10))
    assert M.corpus_perplexity(log_probs, np.ones((3, 4), dtype=int)) == pytest.approx(10.0)


def test_check_log_probs_normalised() -> None:
    logits = torch.randn(2, 3, 6)
    assert M.check_log_probs_normalised(torch.log_softmax(logits, -1), atol=1e-5) < 1e-5
    with pytest.raises(M.NotNormalisedError, match="log_softmax"):
        M.check_log_probs_normalised(logits, atol=1e-4)  # raw logits
    with pytest.raises(M.NotNormalisedError):
        M.check_log_probs_normalised(torch.softmax(logits, -1), atol=1e-4)  # probabilities
    bad = torch.log_softmax(logits, -1)
    bad[1, 2] = float("nan")
    with pytest.raises(M.NotNormalisedError, match="inf"):
        M.check_log_probs_normalised(bad)
    mask = torch.ones(2, 3, dtype=torch.bool)
    mask[1, 2] = False  # a padded position left out of the check
    assert M.check_log_probs_normalised(bad, mask=mask) < 1e-5
    # the worst deviation is what comes back, for the report
    shifted = torch.log_softmax(logits, -1) + 0.01
    assert M.check_log_probs_normalised(shifted, atol=0.02) == pytest.approx(0.01, abs=1e-5)


def test_word_and_byte_level_variants() -> None:
    texts = ["the cat sat", "on the mat", "é"]
    assert M.count_words(texts) == 7
    assert M.count_bytes(texts) == 11 + 10 + 2
    assert M.word_perplexity(7 * math.log(5), 7) == pytest.approx(5.0)
    assert M.bits_per_byte(23 * math.log(2), 23) == pytest.approx(1.0)
    assert M.bits_per_byte(46.0, 23) == pytest.approx(2 / math.log(2))


# ------------------------------------------------------------------------------------------
# BLEU and chrF


def test_identical_corpus_scores_100() -> None:
    refs = ["el gato negro duerme en la casa .", "no tengo un perro rojo .", "la niña come una manzana"]
    bleu = M.corpus_bleu(refs, refs)
    assert bleu.score == pytest.approx(100.0)
    assert M.corpus_chrf(refs, refs).score == pytest.approx(100.0)


def test_bleu_on_a_hand_computed_example_matches_sacrebleu() -> None:
    hyp, ref = ["the cat sat on mat"], ["the cat sat on the mat"]
    # precisions 5/5, 3/4, 2/3, 1/2; brevity penalty exp(1 − 6/5)
    by_hand = 100 * math.exp(1 - 6 / 5) * (1 * 3 / 4 * 2 / 3 * 1 / 2) ** 0.25
    bleu = M.corpus_bleu(hyp, ref)
    assert bleu.score == pytest.approx(by_hand, abs=1e-9)
    assert bleu.score == pytest.approx(sacrebleu.corpus_bleu(hyp, [ref]).score)
    assert bleu.score == pytest.approx(57.89, abs=0.005)


def test_bleu_matches_sacrebleu_corpus_api_and_carries_the_signature() -> None:
    hyps = ["the cat is on the mat", "there is a dog in the garden", "hello world"]
    refs = ["the cat sat on the mat", "a dog is in the garden", "hello there world"]
    bleu = M.corpus_bleu(hyps, refs)
    assert bleu.score == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert bleu.signature.startswith("BLEU|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:")
    assert bleu.signature.endswith(sacrebleu.__version__)
    score, signature = bleu  # unpacks
    assert signature in str(bleu)
    chrf = M.corpus_chrf(hyps, refs)
    assert chrf.score == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score)
    assert chrf.signature.startswith("chrF2|nrefs:1|") and "nc:6|nw:0" in chrf.signature


def test_corpus_bleu_is_not_the_mean_of_sentence_bleus() -> None:
    hyps = ["the cat sat on the mat today", "a dog"]
    refs = ["the cat sat on the mat today", "the dog barked loudly at night"]
    corpus = M.corpus_bleu(hyps, refs).score
    sentences = [sacrebleu.sentence_bleu(h, [r]).score for h, r in zip(hyps, refs)]
    assert corpus == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert abs(corpus - np.mean(sentences)) > 5


def test_empty_hypotheses() -> None:
    refs = ["el gato negro duerme en la casa .", "no tengo un perro rojo ."]
    assert M.corpus_bleu(["", ""], refs).score == 0.0
    assert M.corpus_chrf([None, ""], refs).score == 0.0
    half = M.corpus_bleu([refs[0], ""], refs)
    assert 0 < half.score < 100
    assert half.score == pytest.approx(sacrebleu.corpus_bleu([refs[0], ""], [refs]).score)
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        M.corpus_bleu(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="at least one sentence"):
        M.corpus_bleu([], [])


def test_short_identical_corpus_has_no_4grams_and_scores_0() -> None:
    """sacrebleu's definition, documented in corpus_bleu: a translation spec needs sentences of ≥ 4 tokens."""
    assert M.corpus_bleu(["hola mundo"], ["hola mundo"]).score == 0.0


# ------------------------------------------------------------------------------------------
# Forecasting

ACTUAL = np.array([100.0, 200.0, 300.0, 400.0])
FORECAST = np.array([110.0, 190.0, 330.0, 400.0])


def test_rmse_mae_mape_smape_by_hand() -> None:
    assert M.rmse(ACTUAL, FORECAST) == pytest.approx(math.sqrt((100 + 100 + 900 + 0) / 4))
    assert M.mae(ACTUAL, FORECAST) == pytest.approx((10 + 10 + 30 + 0) / 4)
    assert M.mape(ACTUAL, FORECAST) == pytest.approx(100 / 4 * (0.1 + 0.05 + 0.1 + 0))
    assert M.smape(ACTUAL, FORECAST) == pytest.approx(200 / 4 * (10 / 210 + 10 / 390 + 30 / 630 + 0))


def test_smape_range_and_zero_terms() -> None:
    assert M.smape([1.0, 2.0], [-1.0, -2.0]) == pytest.approx(200.0)  # its maximum
    assert M.smape([0.0, 5.0], [0.0, 5.0]) == 0.0  # 0/0 term counts as 0
    with pytest.raises(ValueError, match="MAPE is undefined"):
        M.mape([0.0, 1.0], [1.0, 1.0])


def test_mase_uses_a_seasonal_scale_of_12_by_default() -> None:
    months = np.arange(36.0)
    train = 10 * np.sin(2 * np.pi * months / 12) + months  # trend + season
    actual, forecast = np.array([40.0, 45.0]), np.array([42.0, 41.0])
    seasonal_scale = np.mean(np.abs(train[12:] - train[:-12]))  # = 12, the trend over one year
    assert seasonal_scale == pytest.approx(12.0)
    assert M.mase(actual, forecast, train) == pytest.approx(3.0 / 12.0)
    lag1_scale = np.mean(np.abs(np.diff(train)))
    assert M.mase(actual, forecast, train, m=1) == pytest.approx(3.0 / lag1_scale)
    assert M.mase(actual, forecast, train, m=1) != pytest.approx(M.mase(actual, forecast, train))


def test_mase_errors() -> None:
    with pytest.raises(ValueError, match="more than 12 training values"):
        M.mase([1.0], [1.0], np.arange(12.0))
    with pytest.raises(ValueError, match="no change at lag 12"):
        M.mase([1.0], [1.0], np.ones(24))
    with pytest.raises(ValueError, match="positive integer"):
        M.mase([1.0], [1.0], np.arange(24.0), m=0)
    with pytest.raises(ValueError, match="2 values"):
        M.rmse([1.0, 2.0], [1.0])


def test_non_finite_forecasts_give_non_finite_errors() -> None:
    assert math.isnan(M.rmse(ACTUAL, [np.nan, 1, 2, 3]))
    assert M.mae(ACTUAL, [np.inf, 1, 2, 3]) == math.inf


# ------------------------------------------------------------------------------------------
# Points relative to baselines


@pytest.mark.parametrize(
    ("value", "baseline", "optimum", "higher", "expected"),
    [
        (0.75, 0.5, 1.0, True, 0.5),  # accuracy halfway from majority to Bayes
        (0.4, 0.5, 1.0, True, 0.0),  # worse than the baseline
        (0.9001, 0.5, 0.9, True, 1.0),  # better than the optimum by noise
        (30.0, 50.0, 10.0, False, 0.5),  # perplexity, lower is better
        (9.9, 50.0, 10.0, False, 1.0),
        (60.0, 50.0, 10.0, False, 0.0),
        (float("nan"), 50.0, 10.0, False, 0.0),  # a crashed or non-finite figure
        (float("inf"), 50.0, 10.0, False, 0.0),
        (0.5, 0.5, 0.5, True, 1.0),  # baseline == optimum: matching it is all there is
        (0.49, 0.5, 0.5, True, 0.0),
        (10.0, 10.0, 10.0, False, 1.0),
    ],
)
def test_relative_score(value: float, baseline: float, optimum: float, higher: bool, expected: float) -> None:
    assert M.relative_score(value, baseline, optimum, higher_is_better=higher) == pytest.approx(expected)


def test_relative_score_log_scale_and_inconsistent_spec() -> None:
    # perplexity 20 between baseline 40 and optimum 10 is halfway in log space (cross-entropy)
    assert M.relative_score(20.0, 40.0, 10.0, higher_is_better=False, log_scale=True) == pytest.approx(0.5)
    assert M.relative_score(20.0, 40.0, 10.0, higher_is_better=False) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="worse than the baseline"):
        M.relative_score(0.7, 0.9, 0.6, higher_is_better=True)
