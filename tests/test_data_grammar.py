"""harness.data.synthetic.grammar: exact sentence probabilities and the optimal perplexity."""
import math
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from harness.data import build_dataset
from harness.data.synthetic import grammar as G

EOS = G.EOS_TOKEN


@pytest.fixture(scope="module")
def tiny():
    return G.build_pfsa(G.TINY)


def test_tiny_language_enumerates_to_one_and_forward_matches_paths(tiny):
    language = tiny.enumerate()
    assert sum(language.values()) == pytest.approx(1.0)
    assert len(language) > 50
    for sentence, p in language.items():
        assert tiny.log_prob(sentence) == pytest.approx(math.log(p), abs=1e-12)


def test_optimal_perplexity_equals_brute_force_on_a_tiny_grammar(tiny):
    corpus = G.generate(seed=3, train=10, valid=0, test=200, config=G.TINY)
    language = tiny.enumerate()
    rows = [s + [EOS] for s in corpus.test]
    brute = math.exp(-sum(math.log(language[tuple(r)]) for r in rows) / sum(len(r) for r in rows))
    ppl, tokens = G.optimal_perplexity(tiny, rows)
    assert tokens == sum(len(s) + 1 for s in corpus.test)  # every word and <eos>, as METRICS.md counts
    assert ppl == pytest.approx(brute, rel=1e-12)


def test_prefixes_and_unknown_words_add_up(tiny):
    language = tiny.enumerate()
    prefix = ("the", "dog", "that")
    assert math.exp(tiny.log_prob(prefix)) == pytest.approx(sum(p for s, p in language.items() if s[:3] == prefix))
    merge = {"dog": "<unk>", "dogs": "<unk>"}
    word_map = lambda w: merge.get(w, w)  # noqa: E731
    merged = defaultdict(float)
    for s, p in language.items():
        merged[tuple(word_map(w) for w in s)] += p
    for s, p in list(merged.items())[:40]:
        assert tiny.log_prob(s, word_map) == pytest.approx(math.log(p), abs=1e-12)


def test_sampler_draws_from_the_enumerated_distribution(tiny):
    rng = np.random.default_rng(0)
    n = 20000
    counts = Counter(tuple(tiny.sample(row)) for row in rng.random((n, tiny.max_length())).tolist())
    language = tiny.enumerate()
    for sentence, p in sorted(language.items(), key=lambda kv: -kv[1])[:8]:
        assert counts[sentence] / n == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / n))
    assert set(counts) <= set(language)


def test_subject_verb_agreement_across_phrases():
    pfsa = G.build_pfsa()
    good = [["the", "dog", "near", "the", "cats", "runs"], ["the", "dogs", "near", "a", "cat", "run"],
            ["the", "dog", "that", "the", "cats", "chase", "sleeps"], ["some", "dogs", "that", "see", "the", "cat"]]
    bad = [["the", "dog", "near", "the", "cats", "run"], ["the", "dogs", "near", "a", "cat", "runs"],
           ["the", "dog", "that", "the", "cats", "chases", "sleeps"], ["some", "dogs", "that", "sees", "the", "cat"],
           ["a", "dogs", "run"]]
    for words in good:
        assert pfsa.log_prob(words) > -math.inf, words
    for words in bad:
        assert pfsa.log_prob(words) == -math.inf, words


def test_default_grammar_size_determinism_and_lengths():
    cfg = G.GrammarConfig()
    assert 30 <= len(set(cfg.words)) <= 60
    a, b, c = G.generate(seed=0), G.generate(seed=0), G.generate(seed=1)
    assert (a.train, a.valid, a.test) == (b.train, b.valid, b.test)
    assert a.train != c.train
    assert (len(a.train), len(a.valid), len(a.test)) == (4000, 500, 1000)
    assert max(len(s) for s in a.train) + 1 <= a.pfsa.max_length() == 14


def test_optimum_at_default_sizes_beats_unigram():
    data = build_dataset({"kind": "synthetic-grammar"}, Path("tasks/next_word/task.toml"))
    o = data.optimum
    assert o["tokens"] == data.test.n_tokens
    assert o["perplexity"] < o["unigram_perplexity"] / 3
    assert o["perplexity"] == pytest.approx(o["entropy_rate_perplexity"], rel=0.05)
    # what a model is scored on: rows <bos> w… / w… <eos>, post-padded
    assert (data.test.inputs[:, 0] == 1).all()
    lengths = (data.test.targets != 0).sum(1)
    assert (data.test.targets[range(len(lengths)), lengths - 1] == 2).all()


def test_optimum_follows_vocabulary_and_truncation():
    spec = Path("t/task.toml")
    full = build_dataset({"kind": "synthetic-grammar"}, spec)
    small = build_dataset({"kind": "synthetic-grammar", "preprocessing": {"vocab_size": 30}}, spec)
    assert len(small.vocab) == 30 and (small.test.targets == 3).any()
    assert small.optimum["tokens"] == full.optimum["tokens"]
    assert small.optimum["perplexity"] < full.optimum["perplexity"]  # merged words can only gain
    cut = build_dataset({"kind": "synthetic-grammar", "preprocessing": {"maxlen": 4}}, spec)
    assert cut.test.targets.shape[1] == 4 and cut.optimum["tokens"] == cut.test.n_tokens < full.optimum["tokens"]
