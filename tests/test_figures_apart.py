"""Figures never cost points: what a figure shows (samples, beam search, attention maps) is computed apart from
the graded outputs, fed the shapes the contract promises; when the student's model fails on it, the figure says
why in its place and every check keeps its status and points. A model whose graded outputs fail still fails."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from harness.checks.trained import figure_part
from harness.runtime import training
from harness.grading import grade
from harness.report import render_report
from harness.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]


def small_task(tmp_path: Path, shipped: str, name: str, sizes: str, epochs: tuple[str, str]) -> Path:
    """A shipped trained task under another name and module, on a small dataset trained briefly (seconds)."""
    folder = tmp_path / "tasks" / name
    folder.mkdir(parents=True)
    text = (ROOT / "tasks" / shipped / "task.toml").read_text()
    for key in (f'name = "{shipped}"', f'module = "{shipped}"', f'checks."{shipped}.', f'"{shipped}.'):
        text = text.replace(key, key.replace(shipped, name))
    text = text.replace("[dataset]\n", f"[dataset]\n{sizes}\n").replace(*epochs)
    (folder / "task.toml").write_text(text)
    shutil.copy(ROOT / "tasks" / shipped / "answer_key.py", folder / "answer_key.py")
    return folder / "task.toml"


def graded(tmp_path: Path, spec, module: str, source: str, who: str):
    submission = tmp_path / who
    submission.mkdir()
    (submission / f"{module}.py").write_text(source)
    return grade(submission, [spec], visibility=("public",))


def verdicts(results) -> dict:
    return {c.id: (c.status, c.points) for c in results.checks}


def figure(results, suffix: str) -> dict:
    return next(f["data"] for f in results.figures if f["id"].endswith(suffix))


# --------------------------------------------------------------------------- a language model, in the course's style

LM_SIZES = "train_size = 600\nvalid_size = 50\ntest_size = 120"

#: a course-style character/word model: an embedding, an LSTM, a linear layer; ``{prepare}`` is the line under test
LM = '''"""A recurrent language model in the course's style."""
import torch
from torch import nn

HYPERPARAMETERS = {{"lr": 0.01, "epochs": 3, "batch_size": 64}}


class RNNModel(nn.Module):
    def __init__(self, vocab_size, embedding_dim=24, hidden_dim=64):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim, batch_first=True)
        self.fc = nn.Linear(hidden_dim, vocab_size)

    def forward(self, x):
        {prepare}
        out, _ = self.lstm(self.embedding(x))    # (B, T, H)
        return self.fc(out[:, :, :])              # (B, T, V)


def build_model(vocab_size):
    return RNNModel(vocab_size)
'''

PLAIN = LM.format(prepare="x = x.long()")
#: squeezes a trailing axis of size 1 (as a model fed (B, T, 1) would): harmless on the contract's (B, T) ids
SQUEEZES_LAST = LM.format(prepare="x = x.squeeze(-1)")
#: squeezes every axis of size 1: a batch of one row becomes (T,), and the LSTM's output (T, H) cannot be indexed
SQUEEZES_ALL = LM.format(prepare="x = x.squeeze()")
#: the graded outputs fail too: the model reads the token it predicts (the next one), so it is not causal
PEEKS = LM.format(prepare="x = torch.roll(x, -1, dims=1)")


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lm")
    spec = load_spec(small_task(tmp, "next_word", "words", LM_SIZES, ("epochs = 6", "epochs = 3")))
    return tmp, spec, graded(tmp, spec, "words", PLAIN, "plain")


def test_the_language_model_figure_feeds_the_contracts_shape(lm):
    """The samples and the beam search feed (B, T) ids as training does, so a model that squeezes a trailing axis
    (harmless on the contract's inputs; the reported case failed every check on (B, 1) inputs) draws its samples."""
    tmp, spec, plain = lm
    results = graded(tmp, spec, "words", SQUEEZES_LAST, "squeezes_last")
    assert verdicts(results) == verdicts(plain)
    samples = figure(results, ".samples")
    assert "errors" not in samples, samples
    labels = [row["label"] for row in samples["rows"]]
    assert labels[:9] == ["T = 0.5"] * 3 + ["T = 1"] * 3 + ["T = 1.5"] * 3 and labels[9].startswith("beam (width 3)")


def test_a_language_model_failing_only_on_the_figure_keeps_every_point(lm):
    tmp, spec, plain = lm
    assert all(status == "passed" for status, _ in verdicts(plain).values()), verdicts(plain)
    results = graded(tmp, spec, "words", SQUEEZES_ALL, "squeezes_all")
    assert verdicts(results) == verdicts(plain)  # same statuses, same points
    assert [t.score for t in results.tasks] == [t.score for t in plain.tasks]
    samples = figure(results, ".samples")
    # sampling feeds (3, T): it works; the beam search starts from one beam, (1, T), where the model fails
    assert [row["label"] for row in samples["rows"]] == ["T = 0.5"] * 3 + ["T = 1"] * 3 + ["T = 1.5"] * 3
    width = spec.data_for("public").train.inputs.shape[1]
    why = samples["errors"]["beam search"]
    assert why.startswith(f"beam search (width 3) fed your model ids (1, {width}) and it raised IndexError: too "
                          "many indices for tensor of dimension 2 at words.py, line 18: return self.fc(out[:, :, :])")
    assert "No check's points depend on this figure" in samples["hint"]
    page = render_report(results)
    assert "beam search is not shown: beam search (width 3) fed your model ids (1, " in page
    assert page.index("beam search is not shown") > page.index("Text generated by your model")


def test_a_language_model_whose_graded_outputs_fail_still_fails(lm):
    tmp, spec, plain = lm
    results = graded(tmp, spec, "words", PEEKS, "peeks")
    got = verdicts(results)
    assert got["words.causal"][0] == "failed" and got["words.perplexity"] == ("failed", 0.0), got
    assert results.tasks[0].score < plain.tasks[0].score
    perplexity = next(c for c in results.checks if c.id == "words.perplexity")
    assert perplexity.hint == "see words.causal"  # this task's own check, whatever the task is called


# --------------------------------------------------------------------------- translation: the attention figure

MT_SIZES = "train_size = 800\nvalid_size = 50\ntest_size = 40"

MT = '''"""A GRU encoder-decoder with dot-product attention."""
import torch
from torch import nn

HYPERPARAMETERS = {{"lr": 0.01, "epochs": 3, "batch_size": 64}}


class Seq2Seq(nn.Module):
    def __init__(self, src_vocab_size, tgt_vocab_size, embed=32, hidden=64):
        super().__init__()
        self.src_embed = nn.Embedding(src_vocab_size, embed, padding_idx=0)
        self.tgt_embed = nn.Embedding(tgt_vocab_size, embed, padding_idx=0)
        self.encoder = nn.GRU(embed, hidden, batch_first=True)
        self.decoder = nn.GRU(embed, hidden, batch_first=True)
        self.out = nn.Linear(2 * hidden, tgt_vocab_size)
        self.steps = []

    def forward(self, src, tgt_in):
        keys, h = self.encoder(self.src_embed(src))             # (B, S, H)
        queries, _ = self.decoder(self.tgt_embed(tgt_in), h)     # (B, T, H)
        scores = (queries @ keys.transpose(1, 2)).masked_fill((src == 0)[:, None, :], float("-inf"))
        weights = torch.softmax(scores, dim=-1)                  # (B, T, S)
        {record}
        return self.out(torch.cat([queries, weights @ keys], dim=-1))   # (B, T, V)
{attention}

def build_model(src_vocab_size, tgt_vocab_size):
    return Seq2Seq(src_vocab_size, tgt_vocab_size)
'''

MT_PLAIN = MT.format(record="self.attention = weights.detach()", attention="")
#: keeps every forward's weights and stacks them when asked: batches of different sizes cannot be stacked
MT_STACKS = MT.format(record="self.steps.append(weights[:, -1].detach())", attention='''
    @property
    def attention(self):
        return torch.stack(self.steps, dim=1)                   # (B, T, S)
''')


def test_a_translation_model_failing_only_on_the_attention_figure_keeps_every_point(tmp_path):
    spec = load_spec(small_task(tmp_path, "translation", "mt", MT_SIZES, ("epochs = 8", "epochs = 8")))
    plain = graded(tmp_path, spec, "mt", MT_PLAIN, "plain")
    heatmaps = figure(plain, ".attention")
    assert heatmaps["kind"] == "heatmaps" and len(heatmaps["items"]) == 3
    results = graded(tmp_path, spec, "mt", MT_STACKS, "stacks")
    assert verdicts(results) == verdicts(plain) and verdicts(plain)["mt.training"] == ("passed", 1.0)
    why = figure(results, ".attention")["error"]
    assert why.startswith("the attention figure (one teacher-forced forward over your model's own greedy decodes) "
                          f"fed your model src (3, {spec.data_for('public').test.src.shape[1]}) and tgt_in (3, ")
    assert "and it raised RuntimeError: stack expects each tensor to be equal size" in why
    assert "at mt.py, line 28: return torch.stack(self.steps, dim=1)" in why
    assert "this figure could not be made: the attention figure" in render_report(results)


# --------------------------------------------------------------------------- the judge reads the worker's reply


@pytest.mark.parametrize("part, why", [
    ({"failed": {"type": "ValueError", "message": "bad\nvalue", "fed": "ids (1, 9)", "file": "m.py", "line": 3,
                 "code": "x = y"}},
     "sampling fed your model ids (1, 9) and it raised ValueError: bad value at m.py, line 3: x = y"),
    ({"failed": {"type": "output", "fed": "ids (3, 9)", "returned": "it returned a tensor of shape (9, 5), not "
                 "next-token logits (B, T, vocab_size)"}},
     "sampling fed your model ids (3, 9): it returned a tensor of shape (9, 5), not next-token logits "
     "(B, T, vocab_size)"),
    ({"failed": {"type": "E", "message": "m" * 10_000, "line": True, "file": "f.py"}},
     "sampling and it raised E: " + "m" * 600 + " at f.py"),
    ({"failed": {"type": 3, "message": None}}, "sampling and it raised an error"),
    ({"failed": "boom"}, "sampling: the worker's reply could not be read (dict {'failed': 'boom'})"),
    ({"value": 1, "failed": {}}, "sampling: the worker's reply could not be read (dict {"),
    (torch.zeros(2), "sampling: the worker's reply could not be read (a float32 tensor of shape (2))"),
])
def test_a_failure_reply_of_any_form_is_read_into_words(part, why):
    value, got = figure_part(part, "sampling")
    assert value is None and got.startswith(why), got


def test_a_value_reply_is_the_value():
    assert figure_part({"value": [1, 2]}, "sampling") == ([1, 2], "")


# --------------------------------------------------------------------------- the worker's side, in-process


class Bigram(torch.nn.Module):
    """A causal toy language model over 6 tokens; ``on_one_row`` says what it does with a batch of one row."""

    def __init__(self, on_one_row: str = ""):
        super().__init__()
        torch.manual_seed(0)
        self.embed, self.on_one_row = torch.nn.Embedding(6, 6), on_one_row
        self.fed = []

    def forward(self, ids):
        self.fed.append(tuple(ids.shape))
        if ids.shape[0] == 1 and self.on_one_row == "exit":
            raise SystemExit(3)
        logits = self.embed(ids)  # (B, T, V)
        return logits[0] if ids.shape[0] == 1 and self.on_one_row == "drop batch" else logits


def test_apart_returns_the_ops_value_and_feeds_the_training_width():
    model = Bigram()
    got = training.apart("sample_text", model, 3, 1, 2, 7, 1.0, 5)
    assert torch.equal(got["value"], training.sample_text(model, 3, 1, 2, 7, 1.0, 5))
    assert got["value"].shape == (3, 6) and set(model.fed) == {(3, 7)}  # every step feeds (3, T), never (3, 1)
    beams = training.apart("beam_text", model, 1, 2, 3, 7)["value"]
    assert 1 <= len(beams) <= 3 and all(len(tokens) <= 6 for tokens, _ in beams)
    assert {shape[1] for shape in model.fed} == {7}


@pytest.mark.parametrize("on_one_row, want", [
    ("exit", {"type": "SystemExit", "message": "the code called sys.exit(3)", "fed": "ids (1, 7)"}),
    ("drop batch", {"type": "output", "fed": "ids (1, 7)",
                    "returned": "it returned a tensor of shape (7, 6), not next-token logits (B, T, vocab_size)"}),
])
def test_apart_describes_what_the_model_did_on_what_it_was_fed(on_one_row, want):
    got = training.apart("beam_text", Bigram(on_one_row), 1, 2, 3, 7)
    assert set(got) == {"failed"} and {k: got["failed"].get(k) for k in want} == want, got
    _, why = figure_part(got, "beam search")
    assert why.startswith("beam search fed your model ids (1, 7)"), why
