"""Short movie reviews from a template grammar whose label depends on order and scope.

A review is one clause followed by a neutral closing sentence, or two clauses joined by "and"
(same polarity) or "but" (opposite polarities)::

    clause := [frame] the NOUN [PP] COPULA [not] [INTENSIFIER] ADJECTIVE
    frame  := "i think" | "i do not think"          (first clause only)

Clean label, a deterministic function of the text (``clean_label``):
- a clause's polarity is its adjective's, flipped by "not" in the clause or by the frame
  "i do not think" (negation at a distance, across the noun and its PP);
- a clause is *strong* when it has an intensifier (very, extremely, really) and no negation
  ("not very good" is mildly negative);
- one clause, or "and": that polarity; "but": the clause after "but" decides, unless only the
  clause before it is strong — intensifiers matter exactly when the two clauses disagree.
Observed labels are the clean ones flipped with probability ``noise`` (ε), independently of the
text, so the Bayes accuracy is exactly 1 − ε. A bag-of-words model cannot tell "the plot was good
but the acting was bad" from "the plot was bad but the acting was good"; its exact ceiling is
computed by enumerating the label-relevant part of the grammar (see ``bow_ceiling``).
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np

CLASS_NAMES = ["negative", "positive"]

POSITIVE = ("good", "great", "excellent", "wonderful", "brilliant", "superb", "charming", "enjoyable")
NEGATIVE = ("bad", "awful", "terrible", "boring", "dull", "weak", "poor", "dreadful")
ADJECTIVES = POSITIVE + NEGATIVE
INTENSIFIERS = ("very", "extremely", "really")
NOUNS = ("plot", "acting", "music", "ending", "story", "dialogue", "cast", "script", "pacing",
         "soundtrack", "direction", "camera work")
PPS = ("of this film", "in the sequel", "in the first act", "overall", "at the start")
COPULAS = ("was", "is")
CLOSERS = ("we saw it last week", "my brother picked it", "it runs two hours", "we watched it at home",
           "it came out last year", "the cinema was full")
FRAMES = ("", "i think", "i do not think")

# Probabilities of the grammar's choices.
P_STRUCTURE = {"single": 0.4, "but": 0.4, "and": 0.2}
P_FRAME = (0.5, 0.2, 0.3)  # none, "i think", "i do not think"
P_NOT = 0.3  # "not" in a clause (never together with the negative frame)
P_INTENSIFIER = 0.3
P_PP = 0.5

# Words whose counts carry information about the label; every other word is chosen independently
# of the label given the number of clauses (which "but"/"and" reveal).
RELEVANT = ("i", "think", "do", "not") + INTENSIFIERS + ADJECTIVES + ("but", "and")


@dataclass
class Clause:
    frame: int  # index into FRAMES
    negated: bool  # "not" in the clause itself
    intensifier: str  # "" for none
    adjective: str
    noun: str
    pp: str
    copula: str

    @property
    def polarity(self) -> int:
        base = 1 if self.adjective in POSITIVE else -1
        return -base if (self.negated or self.frame == 2) else base

    @property
    def strong(self) -> bool:
        return bool(self.intensifier) and not (self.negated or self.frame == 2)

    def text(self) -> str:
        words = [FRAMES[self.frame], "the", self.noun, self.pp, self.copula, "not" if self.negated else "",
                 self.intensifier, self.adjective]
        return " ".join(w for w in words if w)


def combine(p1: int, s1: bool, p2: int | None = None, s2: bool = False) -> int:
    """Label (+1/−1) of one clause, or of two joined by "but" (p2 = −p1) or "and" (p2 = p1)."""
    if p2 is None or p2 == p1:
        return p1
    return p1 if (s1 and not s2) else p2


def clean_label(text: str) -> int:
    """The clean label (1 positive, 0 negative) read from the text alone."""
    body = re.split(r"\s*\.\s*", text.strip())[0].split()
    clauses, cur, joiner = [], [], None
    for w in body:
        if w in ("but", "and"):
            clauses.append(cur)
            cur, joiner = [], w
        else:
            cur.append(w)
    clauses.append(cur)
    parsed = []
    for words in clauses:
        negated = "not" in words
        adjective = next(w for w in words if w in ADJECTIVES)
        polarity = (1 if adjective in POSITIVE else -1) * (-1 if negated else 1)
        parsed.append((polarity, negated is False and any(w in INTENSIFIERS for w in words)))
    if len(parsed) == 1:
        label = parsed[0][0]
    else:
        label = combine(parsed[0][0], parsed[0][1], parsed[1][0], parsed[1][1])
    return int(label > 0)


def _pick(u: float, probs) -> int:
    """The index i with cumsum(probs)[i−1] ≤ u < cumsum(probs)[i]."""
    total = 0.0
    for i, p in enumerate(probs):
        total += p
        if u < total:
            return i
    return len(probs) - 1


def _clause(u, first: bool, polarity: int | None, noun_exclude: str = "", copula: str = "") -> Clause:
    """One clause from 9 uniforms; ``polarity`` forces the clause's polarity (second clauses)."""
    frame = _pick(u[0], P_FRAME) if first else 0
    negated = frame != 2 and u[1] < P_NOT
    intensifier = INTENSIFIERS[min(int(u[3] * 3), 2)] if u[2] < P_INTENSIFIER else ""
    if polarity is None:
        adjective = ADJECTIVES[min(int(u[4] * 16), 15)]
    else:
        flipped = negated or frame == 2
        pool = POSITIVE if (polarity > 0) != flipped else NEGATIVE
        adjective = pool[min(int(u[4] * 8), 7)]
    nouns = [n for n in NOUNS if n != noun_exclude]
    noun = nouns[min(int(u[5] * len(nouns)), len(nouns) - 1)]
    pp = PPS[min(int(u[7] * len(PPS)), len(PPS) - 1)] if first and u[6] < P_PP else ""
    copula = copula or COPULAS[min(int(u[8] * 2), 1)]
    return Clause(frame, negated, intensifier, adjective, noun, pp, copula)


def sample_review(u) -> tuple[str, int]:
    """(text, clean label 0/1) from 20 uniforms."""
    structure = list(P_STRUCTURE)[_pick(u[0], list(P_STRUCTURE.values()))]
    c1 = _clause(u[1:10], True, None)
    if structure == "single":
        closer = CLOSERS[min(int(u[19] * len(CLOSERS)), len(CLOSERS) - 1)]
        return f"{c1.text()}. {closer}.", int(c1.polarity > 0)
    want = c1.polarity if structure == "and" else -c1.polarity
    c2 = _clause(u[10:19], False, want, noun_exclude=c1.noun, copula=c1.copula)
    label = combine(c1.polarity, c1.strong, c2.polarity, c2.strong)
    return f"{c1.text()} {structure} {c2.text()}.", int(label > 0)


def _relevant_counts(words) -> np.ndarray:
    v = np.zeros(len(RELEVANT), dtype=np.int64)
    for w in words:
        if w in _RELEVANT_COLUMN:
            v[_RELEVANT_COLUMN[w]] += 1
    return v


_RELEVANT_COLUMN = {w: i for i, w in enumerate(RELEVANT)}
_BASE = 5 ** np.arange(len(RELEVANT), dtype=np.int64)  # 5**26 < 2**63


def _clause_table(first: bool):
    """Every label-relevant clause: count vectors (K, R), probabilities (K,), polarity, strength.

    First clauses: probability of the clause; second clauses: probability given its polarity.
    """
    vecs, probs, pols, strong = [], [], [], []
    for frame, p_frame in (enumerate(P_FRAME) if first else [(0, 1.0)]):
        for negated in ((False,) if frame == 2 else (False, True)):
            p_neg = 1.0 if frame == 2 else (P_NOT if negated else 1 - P_NOT)
            for inten in ("",) + INTENSIFIERS:
                p_int = (1 - P_INTENSIFIER) if not inten else P_INTENSIFIER / len(INTENSIFIERS)
                for adj in ADJECTIVES:
                    c = Clause(frame, negated, inten, adj, "", "", "")
                    vecs.append(_relevant_counts(c.text().split()))
                    probs.append(p_frame * p_neg * p_int / (16 if first else 8))
                    pols.append(c.polarity)
                    strong.append(c.strong)
    return np.array(vecs), np.array(probs), np.array(pols), np.array(strong)


@functools.lru_cache(maxsize=1)
def relevant_bag_table() -> dict[int, tuple[float, float]]:
    """Exact P(relevant bag, clean label) for every bag: {relevant_key: (P(bag, neg), P(bag, pos))}.

    Enumerates the label-relevant choices (frame, negation, intensifier, adjective per clause,
    the joiner) with their probabilities. The other words (nouns, PPs, copulas, closers, "the")
    are disjoint from ``RELEVANT`` and drawn independently of the label given the number of
    clauses (which the joiner reveals), so P(label | whole bag) = P(label | relevant bag): grouping
    by the relevant counts gives the same ceiling as grouping by the whole bag of words.
    """
    v1, p1, pol1, s1 = _clause_table(first=True)
    v2, p2, pol2, s2 = _clause_table(first=False)
    rows, probs, labels = [v1], [P_STRUCTURE["single"] * p1], [pol1]
    for joiner in ("and", "but"):
        join = _relevant_counts([joiner])
        for sign in (+1, -1):  # first clauses of this polarity, with second clauses of the wanted one
            a = pol1 == sign
            b = pol2 == (sign if joiner == "and" else -sign)
            v = v1[a][:, None, :] + v2[b][None, :, :] + join  # (A, B, R)
            pa, pb = p1[a][:, None], p2[b][None, :]
            same = pol2[b][None, :] == pol1[a][:, None]
            keep_first = s1[a][:, None] & ~s2[b][None, :]
            label = np.where(same | keep_first, pol1[a][:, None], pol2[b][None, :])
            rows.append(v.reshape(-1, len(RELEVANT)))
            probs.append((P_STRUCTURE[joiner] * pa * pb).reshape(-1))
            labels.append(label.reshape(-1))
    rows, probs, labels = np.concatenate(rows), np.concatenate(probs), np.concatenate(labels)
    keys, group = np.unique(rows @ _BASE, return_inverse=True)
    mass = np.zeros((len(keys), 2))
    np.add.at(mass, (group.reshape(-1), (labels > 0).astype(int)), probs)
    return dict(zip(keys.tolist(), map(tuple, mass.tolist())))


def relevant_key(text: str) -> int:
    """The counts over ``RELEVANT`` of a review's words, as one integer (base 5: counts are ≤ 2)."""
    return int(_relevant_counts(re.findall(r"\w+", text)) @ _BASE)


def bow_rule(text: str) -> float:
    """P(the best bag-of-words rule predicts this text's clean label): 1, 0, or 0.5 on a tie.

    The rule is argmax P(label | bag) under the true distribution; ties are a fair coin.
    """
    neg, pos = relevant_bag_table()[relevant_key(text)]
    if abs(neg - pos) <= 1e-12 * (neg + pos):
        return 0.5
    return float(clean_label(text) == int(pos > neg))


def bow_key(text: str) -> tuple:
    """The bag of words of a text (sorted word counts), as used for the ceilings."""
    words = re.findall(r"\w+|[^\w\s]", text)
    return tuple(sorted((w, words.count(w)) for w in set(words)))


@dataclass
class SentimentSplit:
    texts: list[str]
    labels: np.ndarray  # (N,) int64, observed (noisy) labels: 1 positive, 0 negative
    clean_labels: np.ndarray  # (N,) int64, before the label noise (trusted side only)


@dataclass
class SentimentCorpus:
    train: SentimentSplit
    valid: SentimentSplit
    test: SentimentSplit
    optimum: dict
    class_names: list[str]

    def splits(self) -> dict[str, SentimentSplit]:
        return {"train": self.train, "valid": self.valid, "test": self.test}


def generate(seed: int = 0, train: int = 4000, valid: int = 500, test: int = 1000,
             noise: float = 0.05) -> SentimentCorpus:
    """Splits drawn i.i.d. in the order train, valid, test from one seeded stream."""
    if not 0 <= noise < 0.5:
        raise ValueError(f"noise must be in [0, 0.5), not {noise}")
    sizes = {"train": train, "valid": valid, "test": test}
    u = np.random.default_rng(seed).random((sum(sizes.values()), 21))
    splits, start = {}, 0
    for name, n in sizes.items():
        texts, clean = [], []
        for row in u[start:start + n].tolist():
            text, label = sample_review(row)
            texts.append(text)
            clean.append(label)
        clean = np.array(clean, dtype=np.int64)
        flip = (u[start:start + n, 20] < noise).astype(np.int64)
        splits[name] = SentimentSplit(texts, clean ^ flip, clean)
        start += n

    bow_clean = sum(max(m) for m in relevant_bag_table().values())
    t = splits["test"]
    n_test = max(len(t.texts), 1)
    groups: dict[tuple, list[int]] = {}
    for text, c in zip(t.texts, t.clean_labels):
        groups.setdefault(bow_key(text), [0, 0])[c] += 1
    grouped = sum(max(c) for c in groups.values()) / n_test
    rule = sum(bow_rule(text) for text in t.texts) / n_test
    # Accuracies against the noisy labels, expected over the label noise: a prediction equal to
    # the clean label is right with probability 1 − ε, any other with probability ε.
    optimum = {
        "noise": noise,
        "bayes_accuracy": 1 - noise,  # the Bayes rule predicts the clean label
        "bayes_accuracy_test": float((t.labels == t.clean_labels).mean()) if len(t.texts) else float("nan"),
        # best accuracy of any function of the word counts, under the true distribution
        "bow_ceiling": noise + (1 - 2 * noise) * bow_clean,
        # that best bag-of-words rule on the test split (expected over the noise and over ties)
        "bow_ceiling_test": noise + (1 - 2 * noise) * rule,
        # a function of the word counts fitted to the test texts themselves (test texts grouped by
        # bag of words): an optimistic bound, close to the Bayes figure when bags are nearly unique
        "bow_oracle_test": noise + (1 - 2 * noise) * grouped,
    }
    return SentimentCorpus(splits["train"], splits["valid"], splits["test"], optimum, list(CLASS_NAMES))
