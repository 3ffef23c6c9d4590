"""harness.data.corpus and a text corpus with ``layout = "windows"``: running text cut into blocks by position and
windows inside each block, as courses train character language models; perplexity pooled over a split's tokens."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

from harness.baselines import KneserNeyLM, UnigramLM
from harness.checks import load_builtin_checks
from harness.data import DataError, build_dataset
from harness.data.build import public_text
from harness.data.corpus import BlocksError, blocks, token_spans, windows
from harness.data.vocab import PAD
from harness.spec import SpecError

WINDOW = 20


def language_model():
    """The language-model family, once the built-in checks are loaded in their own order (importing a family's
    module first would reorder the registry the guide's table is generated from)."""
    from harness.checks.trained import FAMILIES

    load_builtin_checks()
    return FAMILIES["language_model"]


def running_text(n: int = 300, seed: int = 0) -> str:
    """Sentences whose words are numbered, so that every stretch of the text is unique."""
    rng = random.Random(seed)
    words = ["the cat", "a dog", "sees", "likes", "the river", "a red ball"]
    return "".join(f"{rng.choice(words)} {rng.choice(words)} {i}. " + ("\n" if i % 7 == 0 else "") for i in range(n))


def table(**extra) -> dict:
    pre = {"tokenizer": "char", "window": WINDOW, **extra.pop("preprocessing", {})}
    return {"kind": "text-corpus", "path": "corpus.txt", "layout": "windows", "valid_fraction": 0.1,
            "test_fraction": 0.1, **extra, "preprocessing": pre}


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "corpus.txt").write_text(running_text(), encoding="utf-8")
    return tmp_path


# --------------------------------------------------------------------------- windows of one block


@pytest.mark.parametrize("n", [2, 21, 22, 40, 41, 57])
def test_windows_every_token_but_the_first_is_a_target_exactly_once(n):
    ids = list(range(10, 10 + n))
    inputs, targets = windows(ids, WINDOW, WINDOW)
    scored = targets[targets != PAD].tolist()
    assert sorted(scored) == ids[1:]  # once each, the first never (nothing precedes it in the block)
    for x, y in zip(inputs.tolist(), targets.tolist()):
        for j, target in enumerate(y):
            if target != PAD:
                assert target == x[j] + 1  # position j predicts the token after the one it reads
    assert inputs.shape[1] == targets.shape[1] == WINDOW


def test_training_windows_with_a_shorter_stride_overlap_and_cover_the_block():
    ids = list(range(10, 75))
    inputs, targets = windows(ids, WINDOW, 5)
    starts = [row[0] - 10 for row in inputs.tolist()]
    assert starts[:4] == [0, 5, 10, 15]
    assert set(targets[targets != PAD].tolist()) == set(ids[1:])
    assert (targets[:-1] != PAD).all()  # full windows, then one padded window for the block's last tokens


# --------------------------------------------------------------------------- blocks by position


def test_blocks_are_in_order_with_a_gap_of_one_window():
    b = blocks(1000, 0.1, 0.1, WINDOW, public_only=False)
    assert b.test == (900, 1000)  # the last tenth: what the hidden checks score
    assert b.public_end == 900 - WINDOW
    assert b.valid == (b.public_end - round(0.1 * b.public_end), b.public_end)
    assert b.valid[0] - b.train[1] == WINDOW and b.test[0] - b.valid[1] == WINDOW
    public = blocks(b.public_end, 0.1, 0.1, WINDOW, public_only=True)  # the public text alone: the same blocks
    assert (public.train, public.valid, public.test) == (b.train, b.valid, None)


@pytest.mark.parametrize("n, window, test_fraction, words", [
    (60, 20, 0.1, "the training block is 11 token"), (40, 2, 0.01, "the hidden block is 0 token"),
    (300, 200, 0.1, "the training block is 0 token")])
def test_a_text_too_short_for_its_blocks_says_which_block(n, window, test_fraction, words):
    blocks(100, 0.1, 0.1, 20, public_only=False)  # long enough
    with pytest.raises(BlocksError, match=words):
        blocks(n, 0.1, test_fraction, window, public_only=False)


def test_no_window_of_one_split_holds_text_of_another(folder):
    """The claim of the module's docstring, tested on the datasets a task builds: each split's windows read and
    predict only tokens of its own block, the blocks are a window apart, and the hidden block comes last."""
    spec = folder / "task.toml"
    hidden = build_dataset(table(preprocessing={"stride": 7}), spec, view="hidden")
    tokens = token_spans(running_text(), "char", True).tokens
    read = {}
    for name, split in hidden.splits.items():
        lo, hi = split.span
        stride = 7 if name == "train" else WINDOW
        seen = set()
        for row in range(split.inputs.shape[0]):
            start = lo + row * stride
            n = int((split.inputs[row] != PAD).sum())
            expected = hidden.vocab.encode(tokens[start:start + n])
            assert split.inputs[row, :n].tolist() == expected, (name, row)  # the window is the text at its place
            seen |= set(range(start, start + n + 1)) & set(range(lo, hi))
            assert start + n <= hi  # never past its block
        read[name] = seen
    assert not read["train"] & read["valid"] and not read["valid"] & read["test"] and not read["train"] & read["test"]
    assert hidden.valid.span[0] - hidden.train.span[1] >= WINDOW
    assert hidden.test.span[0] - hidden.valid.span[1] >= WINDOW
    assert hidden.test.span[1] == len(tokens)


def test_the_public_view_scores_the_valid_block_and_trains_as_the_hidden_view(folder):
    public = build_dataset(table(), folder / "task.toml", view="public")
    hidden = build_dataset(table(), folder / "task.toml", view="hidden")
    assert public.test.span == public.valid.span == hidden.valid.span
    assert hidden.test.span[0] > public.valid.span[1]
    from harness.checks.trained import same_training

    assert same_training(language_model(), public, hidden)  # one training run serves both views
    assert public.layout == "windows" and public.preprocessing["stride"] == WINDOW


# --------------------------------------------------------------------------- perplexity pooled over the split


def test_perplexity_is_pooled_over_the_split_every_target_scored_once(folder):
    """exp(Σ NLL / scored tokens) over every target of the split (METRICS.md), the first positions of each window
    included; neither the mean of per-window perplexities nor exp of the mean of per-window losses."""
    data = build_dataset(table(), folder / "task.toml", view="hidden")
    split = data.test
    lo, hi = split.span
    assert split.n_tokens == hi - lo - 1  # every token of the block but its first
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(*split.targets.shape, len(data.vocab), generator=gen) * 2
    figures = language_model().evaluate(data, {"logits": logits})
    nll = -torch.log_softmax(logits.double(), -1).gather(-1, split.targets.unsqueeze(-1)).squeeze(-1)
    scored = split.targets != PAD
    pooled = math.exp(float(nll[scored].sum()) / int(scored.sum()))
    assert figures["perplexity"] == pytest.approx(pooled, rel=1e-9)
    per_window = (nll * scored).sum(1) / scored.sum(1)
    assert figures["perplexity"] < float(per_window.exp().mean())  # the course callback's figure is larger
    assert figures["perplexity"] != pytest.approx(math.exp(float(per_window.mean())), rel=1e-6)
    uniform = language_model().evaluate(data, {"logits": torch.zeros_like(logits)})
    assert uniform["perplexity"] == pytest.approx(len(data.vocab))  # a uniform guess over the vocabulary


def test_the_ngram_baselines_score_each_window_from_its_own_tokens(folder):
    data = build_dataset(table(), folder / "task.toml", view="hidden")
    train = [data.vocab.encode(data.train.sentences[0])]
    v = len(data.vocab)
    unigram = UnigramLM(v).fit(train)
    scored = data.test.targets[data.test.targets != PAD].numpy()
    expected = math.exp(-np.log(unigram.probs_[scored]).mean())
    assert unigram.window_perplexity(data.test.inputs, data.test.targets) == pytest.approx(expected)
    kn = KneserNeyLM(v, n=3).fit(train)
    whole = kn.window_perplexity(data.test.inputs, data.test.targets)
    # a window is scored from its own tokens only: scoring the windows one at a time gives the same total
    nll = sum(math.log(kn.window_perplexity(data.test.inputs[i:i + 1], data.test.targets[i:i + 1]))
              * int((data.test.targets[i] != PAD).sum()) for i in range(data.test.inputs.shape[0]))
    assert math.exp(nll / data.test.n_tokens) == pytest.approx(whole)
    assert whole < unigram.window_perplexity(data.test.inputs, data.test.targets) / 2  # context helps on this text
    figures = language_model().classical_baselines(data)
    assert figures["trigram (Kneser-Ney)"]["perplexity"] == pytest.approx(whole)


# --------------------------------------------------------------------------- the spec's keys


@pytest.mark.parametrize("change, key, words", [
    ({"preprocessing": {"window": None}}, "[dataset.preprocessing].window", "missing"),
    ({"preprocessing": {"window": "100"}}, "[dataset.preprocessing].window", "must be an integer"),
    ({"preprocessing": {"window": 0}}, "[dataset.preprocessing].window", "must be ≥ 1"),
    ({"preprocessing": {"window": True}}, "[dataset.preprocessing].window", "must be an integer"),
    ({"preprocessing": {"window": 10 ** 9}}, "[dataset]", "training block"),
    ({"preprocessing": {"stride": 0}}, "[dataset.preprocessing].stride", "must be ≥ 1"),
    ({"preprocessing": {"stride": 2.5}}, "[dataset.preprocessing].stride", "must be an integer"),
    ({"preprocessing": {"stride": WINDOW + 1}}, "[dataset.preprocessing].stride", "longer than the window"),
    ({"preprocessing": {"maxlen": 50}}, "[dataset.preprocessing].maxlen", "not used with layout"),
    ({"sentences": "lines"}, "[dataset].sentences", "not used with layout"),
    ({"layout": "window"}, "[dataset].layout", "did you mean 'windows'"),
    ({"layout": "sentences"}, "[dataset.preprocessing].window", 'layout = "windows" only'),
    ({"public": "corpus.txt"}, "[dataset].public", "names the data file itself"),
    ({"public": 3}, "[dataset].public", "must be a file path string"),
    ({"public": "../../outside.txt"}, "[dataset].public", "must be a file name beside task.toml"),
    ({"public": "sub/p.txt"}, "[dataset].public", "must be a file name beside task.toml"),
    ({"public": ".."}, "[dataset].public", "must be a file name beside task.toml"),
    ({"valid_fraction": float("nan")}, "[dataset].valid_fraction", "must be a number"),
])
def test_a_wrong_windows_table_names_the_key_and_the_fix(folder, change, key, words):
    spec = table()
    pre = {k: v for k, v in {**spec["preprocessing"], **change.pop("preprocessing", {})}.items() if v is not None}
    spec = {**spec, **change, "preprocessing": pre}
    with pytest.raises(SpecError) as raised:
        build_dataset(spec, folder / "task.toml")
    assert raised.value.key == key and words in str(raised.value), str(raised.value)


def test_a_public_file_is_refused_for_a_corpus_of_sentences(folder):
    with pytest.raises(SpecError, match="seeded shuffle") as raised:
        build_dataset({"kind": "text-corpus", "path": "corpus.txt", "public": "p.txt"}, folder / "task.toml")
    assert raised.value.key == "[dataset].public" and 'layout = "windows"' in raised.value.fix


# --------------------------------------------------------------------------- the public file


def test_the_public_file_rebuilds_the_public_view_and_holds_no_hidden_text(folder, tmp_path_factory):
    spec = table(public="corpus_public.txt", preprocessing={"tokenizer": "word", "window": 8})
    name, text = public_text(spec, folder / "task.toml")
    full = build_dataset(spec, folder / "task.toml", view="hidden")
    assert name == "corpus_public.txt" and running_text().startswith(text)
    hidden_numbers = {t for t in full.test.sentences[0] if t.isdigit()}  # each sentence's number is unique
    assert "299" in hidden_numbers and not hidden_numbers & set(token_spans(text, "word", True).tokens)
    released = tmp_path_factory.mktemp("released")
    (released / name).write_text(text, encoding="utf-8")  # a student's folder: the public file, not corpus.txt
    public = build_dataset(spec, released / "task.toml", view="public")
    instructor = build_dataset(spec, folder / "task.toml", view="public")
    assert public.vocab.tokens == instructor.vocab.tokens
    for name_ in ("train", "valid", "test"):
        a, b = getattr(public, name_), getattr(instructor, name_)
        assert torch.equal(a.inputs, b.inputs) and torch.equal(a.targets, b.targets) and a.span == b.span
    with pytest.raises(DataError, match="released folder never holds") as raised:
        build_dataset(spec, released / "task.toml", view="hidden")
    assert raised.value.key == "file"


def test_a_public_file_that_is_not_the_public_text_is_refused(folder):
    spec = table(public="corpus_public.txt")
    _, text = public_text(spec, folder / "task.toml")
    (folder / "corpus_public.txt").write_text(text + "more", encoding="utf-8")
    with pytest.raises(DataError, match="is not the public part of corpus.txt") as raised:
        build_dataset(spec, folder / "task.toml")
    assert "harness release` writes it" in raised.value.fix
    (folder / "corpus_public.txt").write_text(text, encoding="utf-8")  # the right text is taken
    assert build_dataset(spec, folder / "task.toml").layout == "windows"
