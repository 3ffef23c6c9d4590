"""harness.data.synthetic.sentiment: labels from order and scope, Bayes accuracy 1 − ε, BoW ceiling."""
import re
from collections import Counter, defaultdict

import numpy as np
import pytest

from harness.data.synthetic import sentiment as S


@pytest.fixture(scope="module")
def corpus():
    return S.generate(seed=0)


def test_same_seed_same_splits_other_seed_differs(corpus):
    again = S.generate(seed=0)
    for name, split in corpus.splits().items():
        assert split.texts == again.splits()[name].texts
        assert np.array_equal(split.labels, again.splits()[name].labels)
    other = S.generate(seed=1)
    assert other.train.texts != corpus.train.texts
    small = S.generate(seed=0, train=10, valid=5, test=7)
    assert (len(small.train.texts), len(small.valid.texts), len(small.test.texts)) == (10, 5, 7)


def test_reviews_are_5_to_20_words_and_balanced(corpus):
    words = [len(re.findall(r"\w+", t)) for t in corpus.train.texts]
    assert min(words) >= 5 and max(words) <= 20
    assert 0.45 < corpus.train.clean_labels.mean() < 0.55


@pytest.mark.parametrize("text, label", [
    ("the plot was good. we saw it last week.", 1),
    ("the plot was not good. we saw it last week.", 0),  # negation flips
    ("i do not think the plot of this film was good. it runs two hours.", 0),  # negation at a distance
    ("i think the plot was bad. it runs two hours.", 0),
    ("the plot was good but the acting was bad.", 0),  # the clause after "but" decides …
    ("the plot was bad but the acting was good.", 1),
    ("the plot was very good but the acting was bad.", 1),  # … unless only the first is intensified
    ("the plot was very good but the acting was extremely bad.", 0),
    ("the plot was not very good but the acting was bad.", 0),  # "not very good" is not strong
    ("the plot was not bad but the acting was really dull.", 0),
    ("the plot was not bad and the acting was good.", 1),
])
def test_clean_label_reads_order_and_scope(text, label):
    assert S.clean_label(text) == label


def test_no_text_has_two_clean_labels_and_the_parser_agrees():
    seen: dict[str, set] = defaultdict(set)
    for seed in range(3):
        c = S.generate(seed=seed)
        for split in c.splits().values():
            for text, clean in zip(split.texts, split.clean_labels):
                seen[text].add(int(clean))
                assert S.clean_label(text) == clean, text
    assert all(len(labels) == 1 for labels in seen.values())
    assert sum(1 for _ in seen) > 10_000  # many distinct texts were compared


def test_label_noise_rate(corpus):
    flipped = np.concatenate([s.labels != s.clean_labels for s in corpus.splits().values()])
    assert flipped.mean() == pytest.approx(0.05, abs=0.01)
    assert np.array_equal(S.generate(noise=0.0).train.labels, S.generate(noise=0.0).train.clean_labels)
    with pytest.raises(ValueError):
        S.generate(noise=0.5)


def test_same_bag_of_words_opposite_labels():
    a, b = "the plot was good but the acting was bad.", "the plot was bad but the acting was good."
    assert S.bow_key(a) == S.bow_key(b) and S.clean_label(a) != S.clean_label(b)
    assert S.bow_rule(a) == 0.5  # the best bag-of-words rule can only toss a coin here


def test_optimum_figures(corpus):
    o = corpus.optimum
    assert o["bayes_accuracy"] == 0.95
    assert o["bayes_accuracy_test"] == pytest.approx((corpus.test.labels == corpus.test.clean_labels).mean())
    assert o["bow_ceiling"] < o["bayes_accuracy"] - 0.1
    assert o["bow_ceiling_test"] < o["bayes_accuracy"] - 0.1
    assert abs(o["bow_ceiling_test"] - o["bow_ceiling"]) < 0.03  # the test split is a fair sample
    assert o["bow_oracle_test"] <= o["bayes_accuracy"] + 1e-12
    table = S.relevant_bag_table()
    assert sum(n + p for n, p in table.values()) == pytest.approx(1.0)
    assert sum(p for _, p in table.values()) == pytest.approx(0.5)  # symmetric polarities


def _brute_force_ceiling() -> tuple[float, float]:
    """Σ over whole bags of words of max_label P(bag, label), enumerating every text with its probability."""
    mass: dict[tuple, list[float]] = defaultdict(lambda: [0.0, 0.0])

    def clauses(first, polarity):
        frames = list(enumerate(S.P_FRAME)) if first else [(0, 1.0)]
        for frame, pf in frames:
            for negated in ((False,) if frame == 2 else (False, True)):
                pn = 1.0 if frame == 2 else (S.P_NOT if negated else 1 - S.P_NOT)
                for inten in ("",) + S.INTENSIFIERS:
                    pi = (1 - S.P_INTENSIFIER) if not inten else S.P_INTENSIFIER / len(S.INTENSIFIERS)
                    for adj in S.POSITIVE + S.NEGATIVE:
                        c = S.Clause(frame, negated, inten, adj, "", "", "")
                        if polarity is not None and c.polarity != polarity:
                            continue
                        pa = 1 / (len(S.POSITIVE) + len(S.NEGATIVE)) if first else 1 / len(S.POSITIVE)
                        yield c, pf * pn * pi * pa

    def surface(first):  # (noun, pp, copula, probability) — copula of a second clause copies the first
        for noun in S.NOUNS:
            for pp, pp_p in ([("", 1 - S.P_PP)] + [(x, S.P_PP / len(S.PPS)) for x in S.PPS]) if first else [("", 1)]:
                for cop in S.COPULAS:
                    yield noun, pp, cop, (1 / len(S.NOUNS)) * pp_p * (1 / len(S.COPULAS))

    for c1, p1 in clauses(True, None):
        for noun, pp, cop, ps in surface(True):
            a = S.Clause(c1.frame, c1.negated, c1.intensifier, c1.adjective, noun, pp, cop)
            for closer in S.CLOSERS:
                text = f"{a.text()}. {closer}."
                mass[S.bow_key(text)][S.clean_label(text)] += S.P_STRUCTURE["single"] * p1 * ps / len(S.CLOSERS)
            for joiner in ("and", "but"):
                want = a.polarity if joiner == "and" else -a.polarity
                for c2, p2 in clauses(False, want):
                    others = [n for n in S.NOUNS if n != noun]
                    for noun2 in others:
                        b = S.Clause(0, c2.negated, c2.intensifier, c2.adjective, noun2, "", cop)
                        text = f"{a.text()} {joiner} {b.text()}."
                        p = S.P_STRUCTURE[joiner] * p1 * ps * p2 / len(others)
                        mass[S.bow_key(text)][S.clean_label(text)] += p
    total = sum(sum(m) for m in mass.values())
    return sum(max(m) for m in mass.values()), total


def test_bow_ceiling_equals_brute_force_over_every_text(monkeypatch):
    """On a small word list: grouping whole texts by bag of words = the relevant-words table."""
    monkeypatch.setattr(S, "POSITIVE", ("good", "great"))
    monkeypatch.setattr(S, "NEGATIVE", ("bad", "dull"))
    monkeypatch.setattr(S, "INTENSIFIERS", ("very", "really"))
    monkeypatch.setattr(S, "NOUNS", ("plot", "camera work", "cast"))
    monkeypatch.setattr(S, "PPS", ("of this film", "overall"))
    monkeypatch.setattr(S, "CLOSERS", ("we saw it last week", "the cinema was full"))
    brute, total = _brute_force_ceiling()
    assert total == pytest.approx(1.0)
    table = S.relevant_bag_table()
    assert sum(max(m) for m in table.values()) == pytest.approx(brute, rel=1e-12)
    assert brute < 0.9
    # the sampler draws from that same distribution: compare bag frequencies on a sample
    rng = np.random.default_rng(5)
    texts = [S.sample_review(row)[0] for row in rng.random((20000, 21)).tolist()]
    counts = Counter(S.relevant_key(t) for t in texts)
    for key, (neg, pos) in sorted(table.items(), key=lambda kv: -sum(kv[1]))[:5]:
        p = neg + pos
        assert counts[key] / 20000 == pytest.approx(p, abs=4 * (p * (1 - p) / 20000) ** 0.5 + 1e-3)


def test_bag_of_words_logistic_regression_falls_short(corpus):
    pytest.importorskip("sklearn")
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = CountVectorizer(token_pattern=r"\w+|[^\w\s]")
    model = LogisticRegression(max_iter=2000).fit(vec.fit_transform(corpus.train.texts), corpus.train.labels)
    acc = float((model.predict(vec.transform(corpus.test.texts)) == corpus.test.labels).mean())
    assert acc < corpus.optimum["bow_ceiling"] + 0.03  # no function of word counts does much better
    assert acc < corpus.optimum["bayes_accuracy"] - 0.15
    # while the rule that reads order reaches the Bayes figure on the same split
    rule = np.array([S.clean_label(t) for t in corpus.test.texts])
    assert float((rule == corpus.test.labels).mean()) == corpus.optimum["bayes_accuracy_test"]


def test_classification_dataset_is_pre_padded_with_a_train_only_vocabulary():
    from pathlib import Path

    from harness.data import build_dataset

    data = build_dataset({"kind": "synthetic-sentiment", "preprocessing": {"vocab_size": 40}},
                         Path("tasks/sentiment/task.toml"))
    assert len(data.vocab) == 40 and data.class_names == ["negative", "positive"]
    ids = data.train.ids
    assert ids.shape[0] == 4000 and (ids[:, -1] != 0).all() and (ids[:, 0] == 0).any()  # padding in front
    assert data.train.labels.dtype.is_floating_point is False and set(data.train.labels.tolist()) == {0, 1}
    train_words = {w for t in data.train.texts for w in re.findall(r"\w+|[^\w\s]", t)}
    assert set(data.vocab.tokens[4:]) <= train_words
    assert data.optimum["bayes_accuracy"] == 0.95
