"""A next-word corpus from a probabilistic finite-state grammar with long-range agreement.

Sentences are "the/a/some [ADJ] NOUN" subjects, optionally followed by a prepositional phrase
("near the cats") or a relative clause ("that chases the cats", "that the cats chase"), then the
main verb, which agrees in number with the subject noun across the phrase and its distractor
noun; a transitive verb takes an object; an optional adverb; then ``<eos>``::

    the old dog near the cats sleeps <eos>
    some children that the teacher sees chase a bird quickly <eos>

The automaton is deterministic (the next state is a function of the state and the word) and its
language finite, so the exact probability of any sentence is a product along its one path; the
forward algorithm computes it even when the vocabulary merges words into ``<unk>``. The optimal
perplexity of a split is exp(−Σ log p(sentence incl. <eos>) / number of scored tokens), tokens
counted as METRICS.md: every target after ``<bos>``, ``<eos>`` included, padding excluded.
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np

EOS_TOKEN = "<eos>"
FINAL = ("final",)


@dataclass(frozen=True)
class GrammarConfig:
    """Words and choice probabilities; every word list is paired singular/plural where it agrees."""

    nouns_sg: tuple[str, ...] = ("dog", "cat", "bird", "child", "teacher", "farmer", "horse", "girl")
    nouns_pl: tuple[str, ...] = ("dogs", "cats", "birds", "children", "teachers", "farmers", "horses", "girls")
    transitive_sg: tuple[str, ...] = ("sees", "chases", "likes", "follows")
    transitive_pl: tuple[str, ...] = ("see", "chase", "like", "follow")
    intransitive_sg: tuple[str, ...] = ("runs", "sleeps", "sings", "waits")
    intransitive_pl: tuple[str, ...] = ("run", "sleep", "sing", "wait")
    prepositions: tuple[str, ...] = ("near", "behind", "with")
    adjectives: tuple[str, ...] = ("small", "happy", "big", "young")
    adverbs: tuple[str, ...] = ("quickly", "today", "again")
    # determiners: "the" (either number), "a" (singular), "some" (plural)
    p_det: tuple[float, float, float] = (0.6, 0.2, 0.2)
    p_adjective: float = 0.3
    p_pp: float = 0.2  # after the subject noun: a prepositional phrase …
    p_relative: float = 0.25  # … or a relative clause (else the main verb follows at once)
    p_object_relative: float = 0.5  # "that the cats chase" rather than "that chases the cats"
    p_transitive: float = 0.5
    p_adverb: float = 0.3

    @property
    def words(self) -> list[str]:
        out = ["the", "a", "some", "that"]
        for group in (self.nouns_sg, self.nouns_pl, self.transitive_sg, self.transitive_pl,
                      self.intransitive_sg, self.intransitive_pl, self.prepositions, self.adjectives,
                      self.adverbs):
            out.extend(group)
        return out


TINY = GrammarConfig(nouns_sg=("dog",), nouns_pl=("dogs",), transitive_sg=("sees",), transitive_pl=("see",),
                     intransitive_sg=("runs",), intransitive_pl=("run",), prepositions=("near",),
                     adjectives=(), adverbs=("today",))


@dataclass
class PFSA:
    """start state; arcs[state] = [(word, next state, probability)]; ``<eos>`` leads to FINAL."""

    start: Hashable
    arcs: dict[Hashable, list[tuple[str, Hashable, float]]]
    _index: dict = field(default_factory=dict, repr=False)

    def check(self) -> None:
        """Each state's probabilities sum to 1, and a word leads to one next state (deterministic)."""
        for state, arcs in self.arcs.items():
            total = sum(p for _, _, p in arcs)
            if abs(total - 1) > 1e-9:
                raise AssertionError(f"{state}: probabilities sum to {total}")
            words = [w for w, _, _ in arcs]
            if len(words) != len(set(words)):
                raise AssertionError(f"{state}: a word leads to two states")

    def sample(self, u: Sequence[float]) -> list[str]:
        """One sentence (ending with ``<eos>``), one uniform in [0, 1) per token."""
        state, out = self.start, []
        for x in u:
            arcs = self.arcs[state]
            total = 0.0
            for word, nxt, p in arcs:
                total += p
                if x < total:
                    break
            out.append(word)
            state = nxt
            if state == FINAL:
                return out
        raise ValueError("ran out of uniforms: pass at least max_length() per sentence")

    def _arcs_by_token(self, word_map: Callable[[str], str] | None):
        key = id(word_map) if word_map else None
        if key not in self._index:
            table: dict = defaultdict(list)
            for state, arcs in self.arcs.items():
                for word, nxt, p in arcs:
                    table[(state, word_map(word) if word_map else word)].append((nxt, p))
            self._index[key] = (word_map, table)
        return self._index[key][1]

    def log_prob(self, tokens: Sequence[str], word_map: Callable[[str], str] | None = None) -> float:
        """log P(the sentence starts with ``tokens``) by the forward algorithm.

        With ``<eos>`` last this is the probability of the whole sentence; without, of the prefix
        (what a truncated row scores). ``word_map`` maps each generated word to the token a model
        sees (e.g. ``<unk>`` for words outside the vocabulary); merged words add up.
        """
        table = self._arcs_by_token(word_map)
        alpha, logp = {self.start: 1.0}, 0.0
        for tok in tokens:
            nxt: dict = defaultdict(float)
            for state, a in alpha.items():
                for s2, p in table.get((state, tok), ()):
                    nxt[s2] += a * p
            total = sum(nxt.values())
            if total == 0.0:
                return -math.inf
            logp += math.log(total)
            alpha = {s: a / total for s, a in nxt.items()}
        return logp

    def enumerate(self) -> dict[tuple[str, ...], float]:
        """Every sentence of the (finite) language with its probability, by depth-first search."""
        out: dict[tuple[str, ...], float] = defaultdict(float)

        def walk(state, prefix, prob):
            for word, nxt, p in self.arcs[state]:
                if nxt == FINAL:
                    out[prefix + (word,)] += prob * p
                else:
                    walk(nxt, prefix + (word,), prob * p)

        walk(self.start, (), 1.0)
        return dict(out)

    def _order(self) -> list:
        """States in topological order (the language is finite, so the graph is acyclic)."""
        seen, order = set(), []

        def visit(s):
            if s in seen or s == FINAL:
                return
            seen.add(s)
            for _, nxt, _ in self.arcs[s]:
                visit(nxt)
            order.append(s)

        visit(self.start)
        return order[::-1]

    def expected_visits(self) -> dict:
        """E[number of times each state emits a token] per sentence."""
        visits: dict = defaultdict(float)
        visits[self.start] = 1.0
        for s in self._order():
            for _, nxt, p in self.arcs[s]:
                if nxt != FINAL:
                    visits[nxt] += visits[s] * p
        return dict(visits)

    def max_length(self) -> int:
        """Tokens in the longest sentence, ``<eos>`` included."""
        longest: dict = {FINAL: 0}
        for s in reversed(self._order()):
            longest[s] = 1 + max(longest[nxt] for _, nxt, _ in self.arcs[s])
        return longest[self.start]

    def population_figures(self) -> dict:
        """Exact per-token figures of the generator itself (expected over sentences).

        ``entropy_rate_perplexity`` = exp(E[−log p(sentence)] / E[tokens]): what an optimal model
        reaches on an infinitely large test split; ``unigram_perplexity`` = exp(H(q)) with q the
        generator's token frequencies (``<eos>`` included): the best a unigram model can do.
        """
        visits = self.expected_visits()
        tokens = sum(visits.values())
        nll = sum(v * -sum(p * math.log(p) for _, _, p in self.arcs[s] if p > 0) for s, v in visits.items())
        counts: dict = defaultdict(float)
        for s, v in visits.items():
            for word, _, p in self.arcs[s]:
                counts[word] += v * p
        q = np.array(list(counts.values())) / tokens
        return {
            "tokens_per_sentence": tokens,
            "entropy_rate_perplexity": math.exp(nll / tokens),
            "unigram_perplexity": math.exp(-float(np.sum(q * np.log(q)))),
        }


def build_pfsa(cfg: GrammarConfig = GrammarConfig()) -> PFSA:
    arcs: dict = defaultdict(list)
    nouns = {"sg": cfg.nouns_sg, "pl": cfg.nouns_pl}
    trans = {"sg": cfg.transitive_sg, "pl": cfg.transitive_pl}
    intrans = {"sg": cfg.intransitive_sg, "pl": cfg.intransitive_pl}

    def uniform(state, words, nxt, mass):
        for w in words:
            arcs[state].append((w, nxt, mass / len(words)))

    def noun_phrase(state, ctx, mass, after):
        """From ``state``, with probability ``mass``: det [adj] noun, then state ``after(ctx, number)``."""
        for det, allowed, p in (("the", ("sg", "pl"), cfg.p_det[0]), ("a", ("sg",), cfg.p_det[1]),
                                ("some", ("pl",), cfg.p_det[2])):
            det_state = ("det", ctx, allowed)
            arcs[state].append((det, det_state, mass * p))
            if det_state in arcs:
                continue
            p_adj = cfg.p_adjective if cfg.adjectives else 0.0
            adj_state = ("adj", ctx, allowed)
            uniform(det_state, cfg.adjectives, adj_state, p_adj)
            for target, m in ((det_state, 1 - p_adj), (adj_state, 1.0)):
                if target == adj_state and not p_adj:
                    continue
                choices = [(w, num) for num in allowed for w in nouns[num]]
                for w, num in choices:
                    arcs[target].append((w, after(ctx, num), m / len(choices)))

    def main_verb(state, n, mass):
        uniform(state, trans[n], ("obj",), mass * cfg.p_transitive)
        uniform(state, intrans[n], ("end",), mass * (1 - cfg.p_transitive))

    def after_noun(ctx, num):
        kind = ctx[0]
        if kind == "subj":
            return ("post", num)
        if kind in ("pp", "srel"):  # back to the main clause; the head noun's number decides
            return ("verb", ctx[1])
        if kind == "orel":  # the relative clause's own subject decides its verb
            return ("orel_verb", ctx[1], num)
        return ("end",)  # main object

    start = ("start",)
    noun_phrase(start, ("subj",), 1.0, after_noun)
    for n in ("sg", "pl"):
        post = ("post", n)
        p_main = 1 - cfg.p_pp - cfg.p_relative
        uniform(post, cfg.prepositions, ("pp", n), cfg.p_pp)
        arcs[post].append(("that", ("rel", n), cfg.p_relative))
        main_verb(post, n, p_main)
        noun_phrase(("pp", n), ("pp", n), 1.0, after_noun)
        uniform(("rel", n), trans[n], ("srel", n), 1 - cfg.p_object_relative)
        noun_phrase(("rel", n), ("orel", n), cfg.p_object_relative, after_noun)
        noun_phrase(("srel", n), ("srel", n), 1.0, after_noun)
        for m in ("sg", "pl"):
            uniform(("orel_verb", n, m), trans[m], ("verb", n), 1.0)
        main_verb(("verb", n), n, 1.0)
    noun_phrase(("obj",), ("obj",), 1.0, after_noun)
    uniform(("end",), cfg.adverbs, ("eos",), cfg.p_adverb if cfg.adverbs else 0.0)
    arcs[("end",)].append((EOS_TOKEN, FINAL, 1 - (cfg.p_adverb if cfg.adverbs else 0.0)))
    arcs[("eos",)].append((EOS_TOKEN, FINAL, 1.0))
    # Drop zero-probability arcs and states only they reach.
    arcs = {s: [a for a in lst if a[2] > 0] for s, lst in arcs.items()}
    pfsa = PFSA(start, arcs)
    pfsa.check()
    return pfsa


@dataclass
class GrammarCorpus:
    train: list[list[str]]  # sentences as words, without <bos>/<eos>
    valid: list[list[str]]
    test: list[list[str]]
    pfsa: PFSA
    config: GrammarConfig


def generate(seed: int = 0, train: int = 4000, valid: int = 500, test: int = 1000,
             config: GrammarConfig = GrammarConfig()) -> GrammarCorpus:
    """Sentences drawn i.i.d. in the order train, valid, test from one seeded stream."""
    pfsa = build_pfsa(config)
    sizes = {"train": train, "valid": valid, "test": test}
    u = np.random.default_rng(seed).random((sum(sizes.values()), pfsa.max_length())).tolist()
    sentences = [pfsa.sample(row)[:-1] for row in u]
    out, start = {}, 0
    for name, n in sizes.items():
        out[name] = sentences[start:start + n]
        start += n
    return GrammarCorpus(out["train"], out["valid"], out["test"], pfsa, config)


def optimal_perplexity(pfsa: PFSA, rows: Sequence[Sequence[str]], word_map: Callable[[str], str] | None = None,
                       ) -> tuple[float, int]:
    """(exp(−Σ log p / tokens), tokens) over rows of scored target tokens.

    Each row is what a model is scored on for one sentence: its words then ``<eos>``, or a prefix
    of that when the row was truncated. ``word_map`` as in ``PFSA.log_prob``.
    """
    total, tokens = 0.0, 0
    for row in rows:
        total += pfsa.log_prob(row, word_map)
        tokens += len(row)
    return math.exp(-total / tokens) if tokens else float("nan"), tokens
