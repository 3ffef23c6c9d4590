"""harness.baselines: the classical baselines, scored with the metric functions students face."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness import metrics as M
from harness.baselines import (
    AirlineSarimaForecast,
    HoltWintersForecast,
    KneserNeyLM,
    MajorityClass,
    NaiveForecast,
    NGramLM,
    SeasonalNaiveForecast,
    TfidfLogReg,
    UnigramLM,
    WordByWordDictionary,
)

# ------------------------------------------------------------------------------------------
# Forecasting: the airline passengers series, monthly totals in thousands, 1949–1960 (Box & Jenkins)

AIRLINE = np.array(
    [
        [112, 118, 132, 129, 121, 135, 148, 148, 136, 119, 104, 118],  # 1949
        [115, 126, 141, 135, 125, 149, 170, 170, 158, 133, 114, 140],
        [145, 150, 178, 163, 172, 178, 199, 199, 184, 162, 146, 166],
        [171, 180, 193, 181, 183, 218, 230, 242, 209, 191, 172, 194],
        [196, 196, 236, 235, 229, 243, 264, 272, 237, 211, 180, 201],
        [204, 188, 235, 227, 234, 264, 302, 293, 259, 229, 203, 229],
        [242, 233, 267, 269, 270, 315, 364, 347, 312, 274, 237, 278],
        [284, 277, 317, 313, 318, 374, 413, 405, 355, 306, 271, 306],
        [315, 301, 356, 348, 355, 422, 465, 467, 404, 347, 305, 336],
        [340, 318, 362, 348, 363, 435, 491, 505, 404, 359, 310, 337],
        [360, 342, 406, 396, 420, 472, 548, 559, 463, 407, 362, 405],
        [417, 391, 419, 461, 472, 535, 622, 606, 508, 461, 390, 432],  # 1960
    ],
    dtype=float,
).ravel()


def test_airline_series_is_the_known_one() -> None:
    assert AIRLINE.size == 144
    assert AIRLINE.sum() == 40363  # mean 280.3


@pytest.mark.parametrize(
    ("holdout", "model", "expected_rmse", "expected_mape", "expected_mase"),
    [
        (24, NaiveForecast(), 137.3, 23.6, 4.03),
        (24, SeasonalNaiveForecast(m=12), 77.0, 15.5, 2.49),
        (12, SeasonalNaiveForecast(m=12), 50.7, 10.0, 1.57),
        (24, HoltWintersForecast(m=12), 32.5, 6.4, 1.01),
        (24, AirlineSarimaForecast(m=12), 43.2, 8.5, 1.38),
    ],
)
def test_forecast_baselines_reproduce_the_metrics_table(
    holdout: int, model, expected_rmse: float, expected_mape: float, expected_mase: float
) -> None:
    train, test = AIRLINE[:-holdout], AIRLINE[-holdout:]
    forecast = model.fit(train).predict(holdout)  # multi-step from the end of training
    assert M.rmse(test, forecast) == pytest.approx(expected_rmse, abs=0.1)
    assert M.mape(test, forecast) == pytest.approx(expected_mape, abs=0.1)
    assert M.mase(test, forecast, train) == pytest.approx(expected_mase, abs=0.1)


MONTHS = np.arange(72)
SEASON = 1 + 0.3 * np.sin(2 * np.pi * MONTHS / 12)  # a pure multiplicative season of 12 months


def test_holt_winters_continues_a_pure_seasonal_series_exactly() -> None:
    flat = 100 * SEASON
    assert np.abs(HoltWintersForecast().fit(flat[:48]).predict(24) - flat[48:]).max() < 1e-6
    trend = (100 + 2 * MONTHS) * SEASON  # additive trend, multiplicative season: the model's own form
    assert np.abs(HoltWintersForecast().fit(trend[:48]).predict(24) - trend[48:]).max() < 1e-2


def test_the_airline_model_continues_a_log_linear_seasonal_series_exactly() -> None:
    growth = np.exp(4 + 0.01 * MONTHS) * SEASON  # in logs: a straight line plus a fixed season
    forecast = AirlineSarimaForecast().fit(growth[:48]).predict(24)
    assert np.abs(forecast / growth[48:] - 1).max() < 1e-6


@pytest.mark.parametrize("model", [HoltWintersForecast(), AirlineSarimaForecast()])
def test_multiplicative_and_log_models_refuse_values_that_are_not_positive(model) -> None:
    series = 100 * SEASON
    series[5] = 0.0
    with pytest.raises(ValueError, match="needs finite values > 0.*1 that are not"):
        model.fit(series)
    with pytest.raises(ValueError, match="needs"):
        model.fit(100 * SEASON[:20])  # less than two seasons


def test_naive_and_seasonal_naive_forecasts() -> None:
    train = np.arange(1.0, 15.0)  # 1 … 14
    assert NaiveForecast().fit(train).predict(3).tolist() == [14.0, 14.0, 14.0]
    season = SeasonalNaiveForecast(m=4).fit(train).predict(6)
    assert season.tolist() == [11.0, 12.0, 13.0, 14.0, 11.0, 12.0]  # the last season, repeated
    with pytest.raises(ValueError, match="at least 12"):
        SeasonalNaiveForecast().fit(np.arange(5.0))


# ------------------------------------------------------------------------------------------
# Sentiment


def _reviews(n: int, seed: int) -> tuple[list[str], list[int]]:
    rng = np.random.default_rng(seed)
    cues = {1: ["good", "great", "love", "wonderful"], 0: ["bad", "awful", "hate", "boring"]}
    filler = ["the", "film", "was", "a", "plot", "and", "i", "it", "actors", "story"]
    texts, labels = [], []
    for _ in range(n):
        label = int(rng.random() < 0.4)  # 60 % negative
        words = list(rng.choice(filler, 5)) + [str(rng.choice(cues[label]))]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels


def test_tfidf_beats_majority_on_a_separable_set() -> None:
    train_x, train_y = _reviews(200, seed=0)
    test_x, test_y = _reviews(100, seed=1)
    majority = MajorityClass().fit(train_x, train_y)
    assert set(majority.predict(test_x).tolist()) == {0}
    majority_acc = M.accuracy(test_y, majority.predict(test_x))
    assert majority_acc == pytest.approx(1 - np.mean(test_y))
    bow = TfidfLogReg().fit(train_x, train_y)
    bow_acc = M.accuracy(test_y, bow.predict(test_x))
    assert bow_acc == 1.0 > majority_acc
    assert M.macro_f1(test_y, bow.predict(test_x), labels=[0, 1]) == 1.0
    assert M.macro_f1(test_y, majority.predict(test_x), labels=[0, 1]) < 0.5


def test_tfidf_word_pairs_see_a_negation_that_single_words_cannot() -> None:
    texts = ["good film", "not good film", "bad film", "not bad film"] * 5
    labels = [1, 0, 0, 1] * 5  # "not" flips the word after it: no weighting of single words separates these
    assert M.accuracy(labels, TfidfLogReg().fit(texts, labels).predict(texts)) == 1.0
    assert M.accuracy(labels, TfidfLogReg(ngram_range=(1, 1)).fit(texts, labels).predict(texts)) < 1.0


def test_baselines_are_deterministic() -> None:
    texts, labels = _reviews(80, seed=2)
    a = TfidfLogReg().fit(texts, labels).model.coef_
    b = TfidfLogReg().fit(texts, labels).model.coef_
    assert np.array_equal(a, b)
    assert MajorityClass().fit(["x", "y"], [1, 0]).label_ == 0  # ties: the smallest label


# ------------------------------------------------------------------------------------------
# Language models: ids 0 pad, 1 bos, 2 eos, 3 unk, then words

WORDS = ["the", "a", "dog", "dogs", "cat", "cats", "barks", "bark", "meows", "meow", "often", "never", "today"]
ID = {w: i + 4 for i, w in enumerate(WORDS)}
VOCAB = 4 + len(WORDS)


def _corpus(n: int, seed: int) -> list[list[int]]:
    """Determiner, noun, an optional adverb, then a verb agreeing with the noun across the adverb.

    The true entropy is 4 bits a sentence (noun 2, determiner 0.5, adverb 1.5) over 4.5 tokens on
    average, eos included: an optimal perplexity of 2^(4/4.5) ≈ 1.85. A bigram model cannot carry
    the agreement over the adverb; a trigram can.
    """
    rng = np.random.default_rng(seed)
    verbs = {"dog": "barks", "dogs": "bark", "cat": "meows", "cats": "meow"}
    out = []
    for _ in range(n):
        noun = str(rng.choice(list(verbs)))
        det = "a" if noun in ("dog", "cat") and rng.random() < 0.5 else "the"
        adverb = [str(rng.choice(["often", "never"]))] if rng.random() < 0.5 else []
        out.append([ID[w] for w in [det, noun, *adverb, verbs[noun]]])
    return out


def test_trigram_beats_unigram_on_a_structured_corpus() -> None:
    train, test = _corpus(300, seed=0), _corpus(100, seed=1)
    unigram = UnigramLM(VOCAB).fit(train)
    bigram = KneserNeyLM(VOCAB, n=2).fit(train)
    trigram = NGramLM(VOCAB).fit(train)  # n = 3 by default
    ppl = {name: lm.perplexity(test) for name, lm in [("unigram", unigram), ("bigram", bigram), ("trigram", trigram)]}
    assert ppl["trigram"] < 0.95 * ppl["bigram"] < 0.5 * ppl["unigram"]
    optimum = 2 ** (4 / 4.5)
    assert ppl["trigram"] == pytest.approx(optimum, rel=0.05)


@pytest.mark.parametrize("make", [lambda: UnigramLM(VOCAB), lambda: KneserNeyLM(VOCAB, n=1), lambda: KneserNeyLM(VOCAB, n=2), lambda: KneserNeyLM(VOCAB, n=3), lambda: KneserNeyLM(VOCAB, n=4)])
def test_probabilities_sum_to_one_for_every_context(make) -> None:  # type: ignore[no-untyped-def]
    lm = make().fit(_corpus(50, seed=3))
    contexts = [[], [ID["the"]], [ID["the"], ID["dog"]], [ID["cats"], ID["barks"]], [ID["today"], 3, ID["a"]], [2, 2]]
    for context in contexts:
        log_p = lm.next_log_probs(context)
        assert log_p.shape == (VOCAB,)
        assert np.exp(log_p).sum() == pytest.approx(1.0, abs=1e-12)
        assert log_p[0] == log_p[1] == -np.inf  # pad and bos are never targets
        assert np.all(np.isfinite(log_p[2:]))  # everything else, unseen words included, has mass


def test_lm_figures_go_through_the_students_metric_functions() -> None:
    train, test = _corpus(100, seed=4), _corpus(20, seed=5)
    lm = NGramLM(VOCAB).fit(train)
    log_probs, targets = lm.dense_log_probs(test)  # what a student's model returns to the judge
    assert log_probs.shape == (20, max(len(s) for s in test) + 1, VOCAB)
    assert M.check_log_probs_normalised(log_probs, atol=1e-9, mask=targets != 0) < 1e-9
    assert M.corpus_perplexity(log_probs, targets, pad_id=0) == pytest.approx(lm.perplexity(test), rel=1e-12)
    per_target = lm.log_probs(test)
    assert [len(lp) for lp in per_target] == [len(s) + 1 for s in test]  # eos scored
    # a padded (N, T) array gives the same figure as the lists
    padded = np.zeros((len(test), 6), dtype=np.int64)
    for i, s in enumerate(test):
        padded[i, 6 - len(s) :] = s  # pre-padded, as the contract pads
    assert lm.perplexity(padded) == pytest.approx(lm.perplexity(test), rel=1e-12)


def test_kneser_ney_by_hand_on_a_tiny_corpus() -> None:
    # sentences [4] and [4 5], vocabulary 0…5: V' = {2, 3, 4, 5}
    lm = KneserNeyLM(6, n=2).fit([[4], [4, 5]])
    # unigram continuation counts N1+(· w): eos 2 (after 4 and 5), 4 once (after bos), 5 once; D1 = 2/(2 + 2·1)
    assert lm.discount_[1] == pytest.approx(0.5)
    p1 = {2: 1.5 / 4 + 0.5 * 3 / 4 / 4, 3: 0.5 * 3 / 4 / 4, 4: 0.5 / 4 + 0.5 * 3 / 4 / 4, 5: 0.5 / 4 + 0.5 * 3 / 4 / 4}
    after_unseen = np.exp(lm.next_log_probs([3]))  # history (unk,) never seen: the unigram level, weight 1
    assert after_unseen.tolist() == pytest.approx([0.0, 0.0] + [p1[w] for w in (2, 3, 4, 5)])
    # bigram counts (bos 4)=2, (4 eos)=(4 5)=(5 eos)=1: D2 = 3/(3 + 2·1)
    assert lm.discount_[2] == pytest.approx(0.6)
    p_4_after_bos = (2 - 0.6) / 2 + 0.6 * 1 / 2 * p1[4]
    p_eos_after_4 = (1 - 0.6) / 2 + 0.6 * 2 / 2 * p1[2]
    assert np.exp(lm.log_probs([[4]])[0]).tolist() == pytest.approx([p_4_after_bos, p_eos_after_4])
    assert lm.perplexity([[4]]) == pytest.approx(math.exp(-(math.log(p_4_after_bos) + math.log(p_eos_after_4)) / 2))


def test_unigram_is_add_one() -> None:
    lm = UnigramLM(6).fit([[4], [4, 5]])  # counts: 4 twice, 5 once, eos twice; V' has 4 ids
    assert np.exp(lm.next_log_probs([4])).tolist() == pytest.approx([0, 0, 3 / 9, 1 / 9, 3 / 9, 2 / 9])


def test_lm_rejects_ids_outside_the_vocabulary() -> None:
    with pytest.raises(ValueError, match="outside the vocabulary"):
        UnigramLM(6).fit([[4, 9]])
    with pytest.raises(ValueError, match="bos"):
        KneserNeyLM(6).fit([[1, 4]])


# ------------------------------------------------------------------------------------------
# Translation

TRAIN_PAIRS = [
    ("the dog sleeps", "el perro duerme"),
    ("the cat sleeps", "el gato duerme"),
    ("the dog eats", "el perro come"),
    ("the cat eats", "el gato come"),
    ("the red dog sleeps", "el perro rojo duerme"),
    ("the big cat eats", "el gato grande come"),
    ("the big dog sleeps", "el perro grande duerme"),
    ("the red cat eats", "el gato rojo come"),
    ("a dog eats", "un perro come"),
    ("a cat sleeps", "un gato duerme"),
    ("a big dog eats", "un perro grande come"),
    ("a red cat sleeps", "un gato rojo duerme"),
]


def test_dictionary_learns_word_translations_not_the_commonest_word() -> None:
    model = WordByWordDictionary().fit(*zip(*TRAIN_PAIRS))
    assert model.table_ == {
        "the": "el",
        "a": "un",
        "dog": "perro",
        "cat": "gato",
        "red": "rojo",
        "big": "grande",
        "sleeps": "duerme",
        "eats": "come",
    }
    assert model.translate("the zebra sleeps") == "el zebra duerme"  # unknown words copied


def test_dictionary_translation_scores_between_0_and_100_where_order_differs() -> None:
    model = WordByWordDictionary().fit(*zip(*TRAIN_PAIRS))
    sources = ["the red dog eats today", "a big cat sleeps today", "the dog eats and the cat sleeps"]
    references = ["el perro rojo come today", "un gato grande duerme today", "el perro come and el gato duerme"]
    hypotheses = model.predict(sources)
    assert hypotheses[0] == "el rojo perro come today"  # adjective before the noun: English order
    bleu = M.corpus_bleu(hypotheses, references)
    assert 0 < bleu.score < 100
    assert M.corpus_bleu(references, references).score == pytest.approx(100.0)
