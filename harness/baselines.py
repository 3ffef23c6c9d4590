"""Classical baselines shown beside a student's figure: what a model must beat to have learned anything.

Each is a small class with `fit(...)` and `predict(...)` (the language models: `log_probs(...)`),
deterministic, with no torch: a report's "baseline" column is computed once per spec version from
these and cached (on the instructor's side; a release records the figures). Scoring is left to
`harness.metrics`, the functions that score students too.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .data.vocab import BOS, EOS, PAD
from .metrics import perplexity_from_nll

__all__ = [
    "MajorityClass",
    "BagOfWordsLogReg",
    "UnigramLM",
    "KneserNeyLM",
    "NGramLM",
    "WordByWordDictionary",
    "NaiveForecast",
    "SeasonalNaiveForecast",
]


# --------------------------------------------------------------------------------------------
# Sentiment


class MajorityClass:
    """Predicts the most frequent training label for every input (ties: the smallest label).

    Its accuracy is the share of that class in the test split: a model at this level has learned
    nothing from the text.
    """

    def __init__(self) -> None:
        self.label_: Hashable | None = None

    def fit(self, inputs: Sequence[Any], labels: Sequence[Hashable]) -> MajorityClass:
        counts = Counter(labels)
        if not counts:
            raise ValueError("MajorityClass needs at least one training label")
        top = max(counts.values())
        self.label_ = min(label for label, c in counts.items() if c == top)
        return self

    def predict(self, inputs: Sequence[Any]) -> NDArray[Any]:
        if self.label_ is None:
            raise RuntimeError("call fit before predict")
        return np.array([self.label_] * len(inputs))


class BagOfWordsLogReg:
    """Word counts (scikit-learn CountVectorizer) → logistic regression, on raw texts.

    Word order is thrown away, so negation scope and "but" clauses are out of its reach: the gap
    between it and the Bayes accuracy is what a sequence model can win. Deterministic: liblinear
    with a fixed random_state; tokens are lower-cased runs of word characters, one-letter words kept.
    """

    def __init__(self, ngram_range: tuple[int, int] = (1, 1), C: float = 1.0, random_state: int = 0) -> None:
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.linear_model import LogisticRegression

        self.vectorizer = CountVectorizer(lowercase=True, token_pattern=r"(?u)\b\w+\b", ngram_range=ngram_range)
        self.model = LogisticRegression(C=C, solver="liblinear", max_iter=1000, random_state=random_state)

    def fit(self, texts: Sequence[str], labels: Sequence[Hashable]) -> BagOfWordsLogReg:
        features = self.vectorizer.fit_transform(list(texts))
        self.model.fit(features, np.asarray(labels))
        return self

    def predict(self, texts: Sequence[str]) -> NDArray[Any]:
        return self.model.predict(self.vectorizer.transform(list(texts)))


# --------------------------------------------------------------------------------------------
# Language modelling


def _strip(sequences: Iterable[Sequence[int]] | ArrayLike, pad_id: int | None) -> list[list[int]]:
    """Token id lists without padding (pre- or post-), from lists or a padded (N, T) array."""
    out = []
    for seq in sequences:  # type: ignore[union-attr]
        ids = [int(t) for t in seq]
        out.append([t for t in ids if t != pad_id] if pad_id is not None else ids)
    return out


class _LanguageModel:
    """Shared interface of the count-based LMs over token id sequences (contract ids by default).

    A sequence is a sentence's ids without `bos`/`eos`: the model reads `bos`, predicts each token
    and then `eos` (scored as an ordinary token, as METRICS.md fixes). `pad` and `bos` are never
    targets and get probability 0; every other id of range(vocab_size) gets some, so a context's
    distribution sums to 1 over the whole vocabulary.
    """

    def __init__(self, vocab_size: int, bos: int = BOS, eos: int = EOS, pad: int | None = PAD) -> None:
        self.vocab_size = int(vocab_size)
        self.bos, self.eos, self.pad = bos, eos, pad
        never = {bos} | ({pad} if pad is not None else set())
        self.support = np.array([t for t in range(self.vocab_size) if t not in never], dtype=np.int64)
        self._support_set = frozenset(self.support.tolist())
        if eos in never or not 0 <= eos < self.vocab_size:
            raise ValueError(f"eos ({eos}) must be an ordinary id below vocab_size ({vocab_size})")

    def _check(self, seqs: list[list[int]]) -> None:
        for seq in seqs:
            for t in seq:
                if not 0 <= t < self.vocab_size or t == self.bos:
                    raise ValueError(f"token id {t} is outside the vocabulary or is bos ({self.bos})")

    # subclasses implement these two
    def _prob(self, token: int, history: tuple[int, ...]) -> float:
        raise NotImplementedError

    def _dense(self, history: tuple[int, ...]) -> NDArray[np.float64]:
        raise NotImplementedError

    def _histories(self, seq: list[int]) -> list[tuple[tuple[int, ...], int]]:
        """(history, target) for every target of one sentence, eos last."""
        raise NotImplementedError

    def log_probs(self, sequences: Iterable[Sequence[int]] | ArrayLike, pad_id: int | None = PAD) -> list[NDArray[np.float64]]:
        """Per sentence, log p(target | history) for each of its tokens and then eos (len + 1 values)."""
        seqs = _strip(sequences, pad_id)
        self._check(seqs)
        return [np.log(np.array([self._prob(t, h) for h, t in self._histories(s)], dtype=np.float64)) for s in seqs]

    def next_log_probs(self, context: Sequence[int]) -> NDArray[np.float64]:
        """log p(· | bos, *context) over the whole vocabulary (V,); −inf for pad and bos."""
        ctx = [int(t) for t in context]
        self._check([ctx])
        history = self._histories(ctx)[-1][0]
        with np.errstate(divide="ignore"):
            return np.log(self._dense(history))

    def dense_log_probs(
        self, sequences: Iterable[Sequence[int]] | ArrayLike, pad_id: int = PAD
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """(log_probs (N,T,V), targets (N,T) post-padded with pad_id): what a student's LM hands the judge.

        For small sets: memory is N·T·V floats. Use `perplexity` for large ones.
        """
        seqs = _strip(sequences, pad_id)
        self._check(seqs)
        n, t = len(seqs), max((len(s) + 1 for s in seqs), default=0)
        log_probs = np.zeros((n, t, self.vocab_size))
        targets = np.full((n, t), pad_id, dtype=np.int64)
        for i, seq in enumerate(seqs):
            for j, (history, target) in enumerate(self._histories(seq)):
                with np.errstate(divide="ignore"):
                    log_probs[i, j] = np.log(self._dense(history))
                targets[i, j] = target
        return log_probs, targets

    def perplexity(self, sequences: Iterable[Sequence[int]] | ArrayLike, pad_id: int | None = PAD) -> float:
        """Corpus perplexity of the sentences (eos scored), through harness.metrics.perplexity_from_nll."""
        per_sentence = self.log_probs(sequences, pad_id)
        total = -sum(float(lp.sum()) for lp in per_sentence)
        return perplexity_from_nll(total, sum(lp.size for lp in per_sentence))


    def window_perplexity(self, inputs: ArrayLike, targets: ArrayLike, pad_id: int = PAD) -> float:
        """Corpus perplexity of windows of running text (harness.data.corpus): the target at position j of a row is
        scored given the row's inputs up to j, nothing before the row; no bos read, no eos scored, pad left out."""
        order = getattr(self, "n", 1)
        total, count = 0.0, 0
        for x_row, y_row in zip(np.asarray(inputs).tolist(), np.asarray(targets).tolist()):
            for j, target in enumerate(y_row):
                if target != pad_id:
                    total -= math.log(self._prob(int(target), tuple(x_row[max(0, j + 2 - order):j + 1])))
                    count += 1
        return perplexity_from_nll(total, count)


class UnigramLM(_LanguageModel):
    """Add-one (Laplace) unigram LM: p(w) = (c(w) + 1) / (N + |V'|), V' = the vocabulary less pad and bos.

    Counts include one eos per training sentence. It ignores context entirely: the floor any
    sequence model must clear.
    """

    def fit(self, sequences: Iterable[Sequence[int]] | ArrayLike, pad_id: int | None = PAD) -> UnigramLM:
        seqs = _strip(sequences, pad_id)
        self._check(seqs)
        counts = np.zeros(self.vocab_size)
        for seq in seqs:
            np.add.at(counts, np.asarray(seq, dtype=np.int64), 1.0)
            counts[self.eos] += 1.0
        probs = np.zeros(self.vocab_size)
        probs[self.support] = (counts[self.support] + 1.0) / (counts.sum() + self.support.size)
        self.probs_ = probs
        return self

    def _histories(self, seq: list[int]) -> list[tuple[tuple[int, ...], int]]:
        return [((), t) for t in [*seq, self.eos]]

    def _prob(self, token: int, history: tuple[int, ...]) -> float:
        return float(self.probs_[token])

    def _dense(self, history: tuple[int, ...]) -> NDArray[np.float64]:
        return self.probs_


class KneserNeyLM(_LanguageModel):
    """Interpolated Kneser-Ney n-gram LM (Chen & Goodman 1998), n = 3 by default.

    p(w | h) = max(c(h w) − D, 0) / c(h ·) + D · N1+(h ·) / c(h ·) · p(w | h minus its first word),
    with raw counts c at the highest order and continuation counts N1+(· h w) (distinct left
    neighbours) at the lower ones — except n-grams starting with bos, which cannot be extended
    to the left and keep raw counts (as KenLM does). One discount per order, D = n1 / (n1 + 2 n2)
    from that order's count-of-counts (0.75 if undefined). An unseen history backs off with weight 1;
    the unigram level interpolates with the uniform distribution over V', so every id but pad and
    bos has probability > 0. Sentences are padded on the left with n − 1 bos.
    """

    def __init__(self, vocab_size: int, n: int = 3, bos: int = BOS, eos: int = EOS, pad: int | None = PAD) -> None:
        super().__init__(vocab_size, bos, eos, pad)
        if n < 1:
            raise ValueError(f"n must be >= 1, not {n}")
        self.n = int(n)

    def fit(self, sequences: Iterable[Sequence[int]] | ArrayLike, pad_id: int | None = PAD) -> KneserNeyLM:
        seqs = _strip(sequences, pad_id)
        self._check(seqs)
        n = self.n
        raw: list[Counter[tuple[int, ...]]] = [Counter() for _ in range(n + 1)]  # raw[k]: k-gram counts
        for seq in seqs:
            padded = [self.bos] * (n - 1) + seq + [self.eos]
            for i in range(n - 1, len(padded)):
                for k in range(1, n + 1):
                    raw[k][tuple(padded[i - k + 1 : i + 1])] += 1
        left: list[defaultdict[tuple[int, ...], set[int]]] = [defaultdict(set) for _ in range(n + 1)]
        for k in range(2, n + 1):
            for gram in raw[k]:
                left[k - 1][gram[1:]].add(gram[0])
        # counts[k][history] = {word: count used at order k}; raw at k = n and for bos-initial grams
        self.counts_: list[dict[tuple[int, ...], dict[int, float]]] = [{} for _ in range(n + 1)]
        self.discount_: list[float] = [0.0] * (n + 1)
        for k in range(1, n + 1):
            table: defaultdict[tuple[int, ...], dict[int, float]] = defaultdict(dict)
            for gram, c in raw[k].items():
                use_raw = k == n or gram[0] == self.bos
                table[gram[:-1]][gram[-1]] = float(c if use_raw else len(left[k][gram]))
            self.counts_[k] = dict(table)
            of = Counter(c for words in table.values() for c in words.values())
            n1, n2 = of.get(1.0, 0), of.get(2.0, 0)
            self.discount_[k] = n1 / (n1 + 2 * n2) if n1 > 0 and n2 > 0 else 0.75
        self.totals_ = [{h: sum(ws.values()) for h, ws in self.counts_[k].items()} for k in range(n + 1)]
        self._uniform = np.zeros(self.vocab_size)
        self._uniform[self.support] = 1.0 / self.support.size
        self._cache: dict[tuple[int, ...], NDArray[np.float64]] = {}
        return self

    def _histories(self, seq: list[int]) -> list[tuple[tuple[int, ...], int]]:
        padded = [self.bos] * (self.n - 1) + seq + [self.eos]
        return [(tuple(padded[i - self.n + 1 : i]), padded[i]) for i in range(self.n - 1, len(padded))]

    def _prob(self, token: int, history: tuple[int, ...]) -> float:
        if token not in self._support_set:
            return 0.0
        p = 1.0 / self.support.size
        for k in range(1, self.n + 1):  # from the unigram level up to the full history
            h = history[len(history) - (k - 1) :] if k > 1 else ()
            words = self.counts_[k].get(h)
            if not words:
                continue  # unseen history: keep the lower-order estimate
            d, total = self.discount_[k], self.totals_[k][h]
            p = max(words.get(token, 0.0) - d, 0.0) / total + d * len(words) / total * p
        return p

    def _dense(self, history: tuple[int, ...]) -> NDArray[np.float64]:
        cached = self._cache.get(history)
        if cached is not None:
            return cached
        p = self._uniform.copy()
        for k in range(1, self.n + 1):
            h = history[len(history) - (k - 1) :] if k > 1 else ()
            words = self.counts_[k].get(h)
            if not words:
                continue
            d, total = self.discount_[k], self.totals_[k][h]
            ids = np.fromiter(words.keys(), dtype=np.int64, count=len(words))
            counts = np.fromiter(words.values(), dtype=np.float64, count=len(words))
            p = p * (d * len(words) / total)
            p[ids] += np.maximum(counts - d, 0.0) / total
        self._cache[history] = p
        return p


NGramLM = KneserNeyLM  # the smoothed n-gram baseline the specs name


# --------------------------------------------------------------------------------------------
# Translation


class WordByWordDictionary:
    """Translates each source word by its most probable target word under IBM Model 1 (Brown et al. 1993).

    Lexical probabilities t(e | f) are estimated by EM from sentence pairs (uniform start, no NULL
    word, `iterations` rounds); plain co-occurrence counts would map every word to the commonest
    target word, EM explains those away. Each source word becomes argmax_e t(e | f) (ties: the
    alphabetically first); unseen source words are copied. No reordering, no agreement, one word
    for one word: what attention must beat. Strings are split on whitespace and joined with spaces.
    """

    def __init__(self, iterations: int = 10) -> None:
        self.iterations = int(iterations)
        self.table_: dict[str, str] = {}

    def fit(self, sources: Sequence[str], targets: Sequence[str]) -> WordByWordDictionary:
        if len(sources) != len(targets):
            raise ValueError(f"{len(sources)} source sentences but {len(targets)} targets")
        pairs = [(s.split(), t.split()) for s, t in zip(sources, targets)]
        pairs = [(f, e) for f, e in pairs if f and e]
        t: defaultdict[tuple[str, str], float] = defaultdict(lambda: 1.0)  # uniform start (scale-free)
        for _ in range(self.iterations):
            count: defaultdict[tuple[str, str], float] = defaultdict(float)
            total: defaultdict[str, float] = defaultdict(float)
            for f_words, e_words in pairs:
                for e in e_words:  # E-step: share each target word among the source words
                    z = sum(t[(e, f)] for f in f_words)
                    for f in f_words:
                        share = t[(e, f)] / z
                        count[(e, f)] += share
                        total[f] += share
            t = defaultdict(float, {(e, f): c / total[f] for (e, f), c in count.items()})  # M-step
        best: dict[str, tuple[float, str]] = {}
        for (e, f), p in t.items():
            if f not in best or p > best[f][0] or (p == best[f][0] and e < best[f][1]):
                best[f] = (p, e)
        self.table_ = {f: e for f, (_, e) in best.items()}
        return self

    def translate(self, sentence: str) -> str:
        """The sentence with each word replaced by its dictionary entry (unknown words kept)."""
        return " ".join(self.table_.get(w, w) for w in sentence.split())

    def predict(self, sources: Sequence[str]) -> list[str]:
        return [self.translate(s) for s in sources]


# --------------------------------------------------------------------------------------------
# Forecasting


class NaiveForecast:
    """The last training value, repeated over the horizon (multi-step from the end of training)."""

    def fit(self, train: ArrayLike) -> NaiveForecast:
        y = np.asarray(train, dtype=np.float64).ravel()
        if y.size == 0:
            raise ValueError("a forecast needs at least one training value")
        self.last_ = float(y[-1])
        return self

    def predict(self, horizon: int) -> NDArray[np.float64]:
        return np.full(int(horizon), self.last_)


class SeasonalNaiveForecast:
    """The last full season of training, repeated: ŷ_{T+i} = y_{T+i−m·⌈i/m⌉}; m = 12 for monthly data."""

    def __init__(self, m: int = 12) -> None:
        if m < 1:
            raise ValueError(f"the season length m must be >= 1, not {m}")
        self.m = int(m)

    def fit(self, train: ArrayLike) -> SeasonalNaiveForecast:
        y = np.asarray(train, dtype=np.float64).ravel()
        if y.size < self.m:
            raise ValueError(f"seasonal naive with m = {self.m} needs at least {self.m} training values, not {y.size}")
        self.season_ = y[-self.m :].copy()
        return self

    def predict(self, horizon: int) -> NDArray[np.float64]:
        return np.resize(self.season_, int(horizon))
