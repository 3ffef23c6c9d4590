"""Metrics: pure functions over arrays, each fixing one convention of `shared/METRICS.md`.

They run in the trusted judge on raw numbers the worker returned (or on the reference's), and
they take numpy arrays, Python sequences or CPU torch tensors alike. Nothing here reads a file,
keeps state or knows about a submission: the same function scores students and baselines, so the
figures beside each other in a report mean the same thing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "accuracy",
    "macro_f1",
    "confusion_matrix",
    "perplexity_from_nll",
    "summed_nll",
    "corpus_perplexity",
    "check_log_probs_normalised",
    "NotNormalisedError",
    "word_perplexity",
    "bits_per_byte",
    "count_words",
    "count_bytes",
    "CorpusScore",
    "corpus_bleu",
    "corpus_chrf",
    "rmse",
    "mae",
    "mape",
    "smape",
    "mase",
    "relative_score",
]


def _array(x: Any, dtype: Any = None) -> NDArray[Any]:
    """A numpy array from a sequence, an array or a (CPU, possibly grad-tracking) torch tensor."""
    if hasattr(x, "detach"):  # torch.Tensor without importing torch here
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


# --------------------------------------------------------------------------------------------
# Classification


def _labels(y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence[Any]) -> tuple[NDArray[Any], NDArray[Any], list[Any]]:
    """Both label arrays, checked to have one shape and to hold only members of `labels`."""
    t, p = _array(y_true).ravel(), _array(y_pred).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} labels but y_pred has {p.size}")
    label_list = list(labels)
    if len(set(label_list)) != len(label_list) or not label_list:
        raise ValueError(f"labels must be a non-empty list of distinct classes, not {label_list}")
    for name, arr in (("y_true", t), ("y_pred", p)):
        outside = sorted(set(arr.tolist()) - set(label_list), key=repr)
        if outside:
            raise ValueError(f"{name} holds classes outside labels={label_list}: {outside[:5]}")
    return t, p, label_list


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of predictions equal to the true label, in [0, 1]."""
    t, p = _array(y_true).ravel(), _array(y_pred).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} labels but y_pred has {p.size}")
    if t.size == 0:
        raise ValueError("accuracy of an empty set is undefined")
    return float(np.mean(t == p))


def macro_f1(y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence[Any]) -> float:
    """Unweighted mean of per-class F1 over the given label set; a class never predicted nor present scores 0."""
    from sklearn.metrics import f1_score

    t, p, label_list = _labels(y_true, y_pred, labels)
    return float(f1_score(t, p, labels=label_list, average="macro", zero_division=0))


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence[Any]) -> NDArray[np.int64]:
    """Counts (C, C): row = true class, column = predicted class, in the order of `labels`."""
    from sklearn.metrics import confusion_matrix as sk_confusion_matrix

    t, p, label_list = _labels(y_true, y_pred, labels)
    return sk_confusion_matrix(t, p, labels=label_list).astype(np.int64)


# --------------------------------------------------------------------------------------------
# Language modelling


def perplexity_from_nll(total_nll: float, tokens: int) -> float:
    """Corpus perplexity exp(Σ NLL / scored tokens), from sums accumulated over all batches."""
    if tokens <= 0:
        raise ValueError(f"perplexity needs at least one scored token, not {tokens}")
    total = float(total_nll)
    if math.isnan(total):
        return math.nan
    mean = total / tokens
    return math.inf if mean > 709.0 else math.exp(mean)  # exp overflows float64 past ~709.78


def summed_nll(log_probs: ArrayLike, targets: ArrayLike, pad_id: int | None = 0) -> tuple[float, int]:
    """(Σ −log p(target), number of scored targets) over non-pad positions of log_probs (N,T,V), targets (N,T)."""
    lp = _array(log_probs, dtype=np.float64)
    tg = _array(targets)
    if lp.ndim < 1 or lp.shape[:-1] != tg.shape:
        raise ValueError(f"log_probs {tuple(lp.shape)} must be targets {tuple(tg.shape)} plus a vocabulary axis")
    if not np.issubdtype(tg.dtype, np.integer):
        raise ValueError(f"targets must be integer token ids, not {tg.dtype}")
    scored = np.ones(tg.shape, dtype=bool) if pad_id is None else tg != pad_id
    ids = tg[scored]
    vocab = lp.shape[-1]
    if ids.size and (ids.min() < 0 or ids.max() >= vocab):
        raise ValueError(f"targets hold ids outside the vocabulary [0, {vocab})")
    picked = lp[scored][np.arange(ids.size), ids]  # selecting, not multiplying: -inf at pad is harmless
    return float(-picked.sum()), int(ids.size)


def corpus_perplexity(log_probs: ArrayLike, targets: ArrayLike, pad_id: int | None = 0) -> float:
    """exp(mean NLL over all non-pad targets of the whole set); never a mean of per-batch figures."""
    return perplexity_from_nll(*summed_nll(log_probs, targets, pad_id))


class NotNormalisedError(ValueError):
    """Raised when what should be log-probabilities does not log-sum-exp to 0 over the vocabulary."""


def check_log_probs_normalised(log_probs: ArrayLike, atol: float = 1e-4, mask: ArrayLike | None = None) -> float:
    """Worst |logsumexp over the vocabulary axis| (0 for log-probabilities); raises NotNormalisedError past atol.

    `mask` (log_probs without its last axis, True = check) leaves out rows such as padded positions.
    NaN or +inf anywhere counts as infinitely far from normalised.
    """
    lp = _array(log_probs, dtype=np.float64)
    if mask is not None:
        m = _array(mask, dtype=bool)
        if m.shape != lp.shape[:-1]:
            raise ValueError(f"mask {tuple(m.shape)} must match log_probs {tuple(lp.shape)} without its last axis")
        lp = lp[m]
    if lp.size == 0:
        return 0.0
    if np.isnan(lp).any() or np.isposinf(lp).any():
        worst = math.inf
    else:
        top = lp.max(axis=-1, keepdims=True)
        top = np.where(np.isfinite(top), top, 0.0)  # a row of -inf: logsumexp = -inf, caught below
        with np.errstate(divide="ignore"):
            lse = np.log(np.exp(lp - top).sum(axis=-1)) + top[..., 0]
        worst = float(np.max(np.abs(lse)))
    if not worst <= atol:
        raise NotNormalisedError(
            f"not log-probabilities: logsumexp over the vocabulary is off 0 by up to {worst:.3g} "
            f"(tolerance {atol:g}); return log_softmax(logits), not logits or probabilities"
        )
    return worst


def word_perplexity(total_nll: float, words: int) -> float:
    """Word-level perplexity exp(Σ NLL / words), as lm-evaluation-harness reports it; tokenisation-independent."""
    return perplexity_from_nll(total_nll, words)


def bits_per_byte(total_nll: float, n_bytes: int) -> float:
    """Σ NLL (nats) / (UTF-8 bytes · ln 2), as lm-evaluation-harness reports it."""
    if n_bytes <= 0:
        raise ValueError(f"bits per byte needs at least one byte, not {n_bytes}")
    return float(total_nll) / (n_bytes * math.log(2))


def count_words(texts: Sequence[str]) -> int:
    """Whitespace-separated words in the texts (the denominator of word_perplexity)."""
    return sum(len(re.findall(r"\S+", t)) for t in texts)


def count_bytes(texts: Sequence[str]) -> int:
    """UTF-8 bytes in the texts (the denominator of bits_per_byte)."""
    return sum(len(t.encode("utf-8")) for t in texts)


# --------------------------------------------------------------------------------------------
# Translation


class CorpusScore(NamedTuple):
    """A corpus-level score with the sacrebleu signature that says how it was computed."""

    score: float
    signature: str

    def __str__(self) -> str:
        return f"{self.score:.2f} ({self.signature})"


def _streams(hypotheses: Sequence[str | None], references: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    """sacrebleu's inputs: hypotheses with None as "" and one reference stream, lengths checked."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not references:
        raise ValueError("a corpus score needs at least one sentence")
    hyps = ["" if h is None else " ".join(str(h).split()) for h in hypotheses]
    refs = [" ".join(str(r).split()) for r in references]
    return hyps, [refs]


def corpus_bleu(hypotheses: Sequence[str | None], references: Sequence[str]) -> CorpusScore:
    """sacrebleu corpus BLEU (0–100, tok 13a, exp smoothing) on detokenised strings, one reference each.

    n-gram counts are pooled over the corpus (not a mean of sentence BLEUs); an empty hypothesis
    scores nothing but still counts in the brevity penalty. A corpus with no 4-gram at all (every
    reference shorter than four tokens) scores 0 even when identical — sacrebleu's definition.
    """
    from sacrebleu.metrics import BLEU

    hyps, refs = _streams(hypotheses, references)
    bleu = BLEU()
    result = bleu.corpus_score(hyps, refs)
    return CorpusScore(float(result.score), f"{result.name}|{bleu.get_signature()}")


def corpus_chrf(hypotheses: Sequence[str | None], references: Sequence[str]) -> CorpusScore:
    """sacrebleu corpus chrF2 (0–100): character 6-grams, no word n-grams (not chrF++), β = 2."""
    from sacrebleu.metrics import CHRF

    hyps, refs = _streams(hypotheses, references)
    chrf = CHRF()
    result = chrf.corpus_score(hyps, refs)
    return CorpusScore(float(result.score), f"{result.name}|{chrf.get_signature()}")


# --------------------------------------------------------------------------------------------
# Forecasting


def _pair(actual: ArrayLike, forecast: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Actual and forecast as flat float64 arrays of one non-zero length."""
    y, f = _array(actual, dtype=np.float64).ravel(), _array(forecast, dtype=np.float64).ravel()
    if y.shape != f.shape:
        raise ValueError(f"actual has {y.size} values but forecast has {f.size}")
    if y.size == 0:
        raise ValueError("a forecast error needs at least one value")
    return y, f


def rmse(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Root mean squared error over the horizon, in the series' units."""
    y, f = _pair(actual, forecast)
    return float(np.sqrt(np.mean((y - f) ** 2)))


def mae(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Mean absolute error over the horizon, in the series' units."""
    y, f = _pair(actual, forecast)
    return float(np.mean(np.abs(y - f)))


def mape(actual: ArrayLike, forecast: ArrayLike) -> float:
    """MAPE in percent: 100/h Σ |y − ŷ| / |y|; undefined (ValueError) where an actual value is 0."""
    y, f = _pair(actual, forecast)
    if np.any(y == 0):
        raise ValueError("MAPE is undefined when an actual value is 0; use sMAPE or MASE")
    return float(100.0 * np.mean(np.abs(y - f) / np.abs(y)))


def smape(actual: ArrayLike, forecast: ArrayLike) -> float:
    """sMAPE as in M4, in percent 0–200: 200/h Σ |y − ŷ| / (|y| + |ŷ|); a term with y = ŷ = 0 counts 0."""
    y, f = _pair(actual, forecast)
    num, den = np.abs(y - f), np.abs(y) + np.abs(f)
    terms = np.divide(num, den, out=np.zeros_like(num), where=den != 0)
    return float(200.0 * np.mean(terms))


def mase(actual: ArrayLike, forecast: ArrayLike, train: ArrayLike, m: int = 12) -> float:
    """MASE as in M4: mean |y − ŷ| over the horizon / mean |y_t − y_{t−m}| over the training part; m = 12 (monthly).

    The scale is the in-sample error of the seasonal naive forecast; say m = 1 explicitly for
    non-seasonal data (some libraries default to it, which makes monthly figures incomparable).
    """
    y, f = _pair(actual, forecast)
    x = _array(train, dtype=np.float64).ravel()
    if not (isinstance(m, (int, np.integer)) and m >= 1):
        raise ValueError(f"the seasonal period m must be a positive integer, not {m!r}")
    if x.size <= m:
        raise ValueError(f"MASE with m = {m} needs more than {m} training values, not {x.size}")
    scale = float(np.mean(np.abs(x[m:] - x[:-m])))
    if scale == 0:
        raise ValueError(f"MASE is undefined: the training part has no change at lag {m}")
    return float(np.mean(np.abs(y - f)) / scale)


# --------------------------------------------------------------------------------------------
# Points relative to baselines


def relative_score(
    value: float, baseline: float, optimum: float, higher_is_better: bool, log_scale: bool = False
) -> float:
    """Where `value` lies from the baseline (0) to the optimum (1), clipped to [0, 1]; NaN scores 0.

    - Beating the optimum (by noise, or a lucky split) gives 1; doing worse than the baseline gives 0.
    - baseline == optimum leaves nothing to gain: 1 if the value is at least that good, else 0.
    - `log_scale` measures the distance in log(value), the natural scale for perplexities
      (log-perplexity is cross-entropy); all three figures must then be > 0.
    - A baseline better than the optimum is a spec error (ValueError).
    """
    v, b, o = float(value), float(baseline), float(optimum)
    if math.isnan(b) or math.isnan(o):
        raise ValueError(f"baseline ({b}) and optimum ({o}) must be numbers")
    if math.isnan(v):
        return 0.0
    if log_scale:
        if b <= 0 or o <= 0:
            raise ValueError(f"log_scale needs a positive baseline and optimum, not {b} and {o}")
        if v <= 0:
            return 0.0
        v, b, o = math.log(v), math.log(b), math.log(o)
    sign = 1.0 if higher_is_better else -1.0
    v, b, o = sign * v, sign * b, sign * o  # now higher is better
    if o < b:
        raise ValueError(
            f"the optimum {optimum} is worse than the baseline {baseline} "
            f"({'higher' if higher_is_better else 'lower'} is better)"
        )
    if o == b:
        return 1.0 if v >= o else 0.0
    return float(min(1.0, max(0.0, (v - b) / (o - b))))
