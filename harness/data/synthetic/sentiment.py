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
    clauses, cur = [], []
    for w in body:
        if w in ("but", "and"):  # "and" joins clauses of one polarity, so only "but" needs the rule
            clauses.append(cur)
            cur = []
        else:
            cur.append(w)
    clauses.append(cur)
    parsed = []
    for words in clauses:
        negated = "not" in words
        adjective = next(w for w in words if w in POSITIVE or w in NEGATIVE)
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


def _choose(u: float, items):
    """Item ⌊u·n⌋ of n: a uniform choice from one uniform in [0, 1)."""
    return items[min(int(u * len(items)), len(items) - 1)]


def _clause(u, first: bool, polarity: int | None, noun_exclude: str = "", copula: str = "") -> Clause:
    """One clause from 9 uniforms; ``polarity`` forces the clause's polarity (second clauses)."""
    frame = _pick(u[0], P_FRAME) if first else 0
    negated = frame != 2 and u[1] < P_NOT
    intensifier = _choose(u[3], INTENSIFIERS) if u[2] < P_INTENSIFIER else ""
    if polarity is None:
        adjective = _choose(u[4], POSITIVE + NEGATIVE)
    else:
        flipped = negated or frame == 2
        adjective = _choose(u[4], POSITIVE if (polarity > 0) != flipped else NEGATIVE)
    noun = _choose(u[5], [n for n in NOUNS if n != noun_exclude])
    pp = _choose(u[7], PPS) if first and u[6] < P_PP else ""
    copula = copula or _choose(u[8], COPULAS)
    return Clause(frame, negated, intensifier, adjective, noun, pp, copula)


def sample_review(u) -> tuple[str, int]:
    """(text, clean label 0/1) from 20 uniforms."""
    structure = list(P_STRUCTURE)[_pick(u[0], list(P_STRUCTURE.values()))]
    c1 = _clause(u[1:10], True, None)
    if structure == "single":
        closer = _choose(u[19], CLOSERS)
        return f"{c1.text()}. {closer}.", int(c1.polarity > 0)
    want = c1.polarity if structure == "and" else -c1.polarity
    c2 = _clause(u[10:19], False, want, noun_exclude=c1.noun, copula=c1.copula)
    label = combine(c1.polarity, c1.strong, c2.polarity, c2.strong)
    return f"{c1.text()} {structure} {c2.text()}.", int(label > 0)


def _relevant_words() -> tuple[str, ...]:
    """Words whose counts carry information about the label (read from the word lists now)."""
    return ("i", "think", "do", "not") + INTENSIFIERS + POSITIVE + NEGATIVE + ("but", "and")


def _relevant_counts(words, relevant: tuple[str, ...]) -> np.ndarray:
    column = {w: i for i, w in enumerate(relevant)}
    v = np.zeros(len(relevant), dtype=np.int64)
    for w in words:
        if w in column:
            v[column[w]] += 1
    return v


def _base(relevant: tuple[str, ...]) -> np.ndarray:
    """Place values that turn a count vector into one integer (counts are ≤ 4 < 5)."""
    if 5 ** len(relevant) >= 2 ** 63:
        raise ValueError("too many label-relevant words for one int64 key")
    return 5 ** np.arange(len(relevant), dtype=np.int64)


def _clause_table(first: bool, relevant: tuple[str, ...]):
    """Every label-relevant clause: count vectors (K, R), probabilities (K,), polarity, strength.

    First clauses: probability of the clause; second clauses: probability given its polarity.
    """
    adjectives = POSITIVE + NEGATIVE
    vecs, probs, pols, strong = [], [], [], []
    for frame, p_frame in (enumerate(P_FRAME) if first else [(0, 1.0)]):
        for negated in ((False,) if frame == 2 else (False, True)):
            p_neg = 1.0 if frame == 2 else (P_NOT if negated else 1 - P_NOT)
            for inten in ("",) + INTENSIFIERS:
                p_int = (1 - P_INTENSIFIER) if not inten else P_INTENSIFIER / len(INTENSIFIERS)
                for adj in adjectives:
                    c = Clause(frame, negated, inten, adj, "", "", "")
                    vecs.append(_relevant_counts(c.text().split(), relevant))
                    p_adj = 1 / len(adjectives) if first else 1 / len(POSITIVE if adj in POSITIVE else NEGATIVE)
                    probs.append(p_frame * p_neg * p_int * p_adj)
                    pols.append(c.polarity)
                    strong.append(c.strong)
    return np.array(vecs), np.array(probs), np.array(pols), np.array(strong)


def relevant_bag_table() -> dict[int, tuple[float, float]]:
    """Exact P(relevant bag, clean label) for every bag: {relevant_key: (P(bag, neg), P(bag, pos))}.

    Enumerates the label-relevant choices (frame, negation, intensifier, adjective per clause,
    the joiner) with their probabilities. The other words (nouns, PPs, copulas, closers, "the")
    are disjoint from the relevant ones and drawn independently of the label given the number of
    clauses (which the joiner reveals), so P(label | whole bag) = P(label | relevant bag): grouping
    by the relevant counts gives the same ceiling as grouping by the whole bag of words (a test
    checks this against a brute-force enumeration of every text of a small word list).
    """
    return _relevant_bag_table(_relevant_words(), P_FRAME, P_NOT, P_INTENSIFIER, tuple(P_STRUCTURE.items()))


@functools.lru_cache(maxsize=4)
def _relevant_bag_table(relevant, *probabilities) -> dict[int, tuple[float, float]]:
    v1, p1, pol1, s1 = _clause_table(True, relevant)
    v2, p2, pol2, s2 = _clause_table(False, relevant)
    rows, probs, labels = [v1], [P_STRUCTURE["single"] * p1], [pol1]
    for joiner in ("and", "but"):
        join = _relevant_counts([joiner], relevant)
        for sign in (+1, -1):  # first clauses of this polarity, with second clauses of the wanted one
            a = pol1 == sign
            b = pol2 == (sign if joiner == "and" else -sign)
            v = v1[a][:, None, :] + v2[b][None, :, :] + join  # (A, B, R)
            pa, pb = p1[a][:, None], p2[b][None, :]
            same = pol2[b][None, :] == pol1[a][:, None]
            keep_first = s1[a][:, None] & ~s2[b][None, :]
            label = np.where(same | keep_first, pol1[a][:, None], pol2[b][None, :])
            rows.append(v.reshape(-1, len(relevant)))
            probs.append((P_STRUCTURE[joiner] * pa * pb).reshape(-1))
            labels.append(label.reshape(-1))
    rows, probs, labels = np.concatenate(rows), np.concatenate(probs), np.concatenate(labels)
    keys, group = np.unique(rows @ _base(relevant), return_inverse=True)
    mass = np.zeros((len(keys), 2))
    np.add.at(mass, (group.reshape(-1), (labels > 0).astype(int)), probs)
    return dict(zip(keys.tolist(), map(tuple, mass.tolist())))


def relevant_key(text: str) -> int:
    """The counts of the label-relevant words of a review, as one integer key of ``relevant_bag_table``."""
    relevant = _relevant_words()
    return int(_relevant_counts(re.findall(r"\w+", text), relevant) @ _base(relevant))


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
