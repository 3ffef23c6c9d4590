"""harness.data.synthetic.translation: a deterministic English → Spanish grammar."""
import re
from collections import defaultdict
from pathlib import Path

import pytest

from harness.data import build_dataset
from harness.data.synthetic import translation as T
from harness.data.text import detokenize

NOUN = {n[0]: i for i, n in enumerate(T.NOUNS)}
ADJ = {a[0]: i for i, a in enumerate(T.ADJECTIVES)}
VERB = {v[0]: i for i, v in enumerate(T.VERBS)}
PRON = {p[0]: i for i, p in enumerate(T.PRONOUNS)}


def np_(noun, plural=False, definite=True, adjective=None):
    return T.NounPhrase(NOUN[noun], plural, definite, ADJ[adjective] if adjective else None)


@pytest.mark.parametrize("sentence, english, spanish", [
    (T.Sentence(np_("dog", True, adjective="big"), VERB["want"], True, np_("car", adjective="red")),
     "the big dogs do not want the red car.", "los perros grandes no quieren el coche rojo."),
    (T.Sentence(PRON["she"], VERB["see"], False, np_("girl")), "she sees the girl.", "ella ve a la niña."),
    (T.Sentence(PRON["we"], VERB["see"], False, np_("boy")), "we see the boy.", "nosotros vemos al niño."),
    (T.Sentence(PRON["i"], VERB["need"], False, np_("book", definite=False, adjective="old")),
     "i need an old book.", "yo necesito un libro viejo."),
    (T.Sentence(np_("woman"), VERB["eat"], True, np_("apple", True, adjective="red")),
     "the woman does not eat the red apples.", "la mujer no come las manzanas rojas."),
    (T.Sentence(PRON["you"], VERB["have"], False, np_("house", definite=False, adjective="white")),
     "you have a white house.", "tú tienes una casa blanca."),
    (T.Sentence(np_("girl", True, adjective="young"), VERB["read"], False, np_("letter", True, adjective="new")),
     "the young girls read the new letters.", "las niñas jóvenes leen las cartas nuevas."),
    (T.Sentence(PRON["they"], VERB["find"], True, np_("woman", True)),
     "they do not find the women.", "ellos no encuentran a las mujeres."),
])
def test_agreement_placement_negation_and_personal_a(sentence, english, spanish):
    assert T.render(sentence) == (english, spanish)


def test_splits_are_seeded_and_sized():
    a, b, c = T.generate(seed=0), T.generate(seed=0), T.generate(seed=1)
    assert (a.train, a.valid, a.test) == (b.train, b.valid, b.test)
    assert a.train != c.train
    assert (len(a.train), len(a.valid), len(a.test)) == (4000, 500, 1000)
    assert a.optimum["bleu"] == 100.0 and 0 <= a.optimum["test_in_train"] < 0.5


def test_same_english_always_gives_the_same_spanish():
    seen = defaultdict(set)
    for seed in range(3):
        c = T.generate(seed=seed)
        for en, es in c.train + c.valid + c.test:
            seen[en].add(es)
    assert len(seen) > 5000
    assert all(len(v) == 1 for v in seen.values())


def test_sentences_are_3_to_10_tokens_and_vocabularies_small():
    c = T.generate(seed=0)
    for side in (0, 1):
        lengths = [len(re.findall(r"\w+|[^\w\s]", pair[side])) for pair in c.train]
        assert 3 <= min(lengths) and max(lengths) <= 10
        vocab = {w for pair in c.train for w in re.findall(r"\w+|[^\w\s]", pair[side])}
        assert len(vocab) < 130


def test_word_by_word_dictionary_is_clearly_imperfect():
    pytest.importorskip("sacrebleu")
    from harness.metrics import corpus_bleu

    c = T.generate(seed=0)
    refs = [es for _, es in c.test]
    assert corpus_bleu(refs, refs).score == pytest.approx(100.0)
    assert corpus_bleu([T.word_by_word(en) for en, _ in c.test], refs).score < 40
    assert T.word_by_word("the red car.") == "el rojo coche."


def test_dataset_tensors_and_references_round_trip():
    data = build_dataset({"kind": "synthetic-translation", "train_size": 300, "valid_size": 20, "test_size": 50},
                         Path("tasks/translation/task.toml"))
    s = data.test
    n_src = (s.src != 0).sum(1)
    assert (s.src[range(len(n_src)), n_src - 1] == 2).all()  # source ends with <eos>
    assert (s.tgt_in[:, 0] == 1).all()
    real = s.tgt_in[:, 1:] != 0
    assert (s.tgt_in[:, 1:][real] == s.tgt_out[:, :-1][real]).all()
    # decoding the gold target gives the reference back: a perfect model scores BLEU 100
    for row, (_, ref) in zip(s.tgt_out, s.pairs):
        words = data.tgt_vocab.decode(row.tolist())
        if "<unk>" not in words:
            assert detokenize(words) == ref
