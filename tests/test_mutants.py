"""Mistakes derived from the answer key (harness.checks.mutants): each operator makes the slip it is meant to, a
student with exactly that slip is told what to change in the contract's words, two matches or none leave the
check's own hint, a correct answer written differently is never named, the catalogue comes first, and the
same hints come from a release as live. A mutant that would loop forever is stopped by counted work.
"""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import torch

from harness import bundle
from harness.answers import BundleAnswers, LiveAnswers
from harness.checks import mutants
from harness.course import task_python
from harness.grading import grade
from harness.release import write_release
from harness.spec import load_tasks

# --------------------------------------------------------------------------- each operator on a small answer key

KEY = '''
import torch


def gate(x, w, b):
    pre = x @ w.T + b
    return torch.sigmoid(pre)


def squash(x):
    return x.tanh() * 2


def halves(x):
    i, f = x.chunk(2, dim=-1)
    return i * 3 + f


def joined(a, b):
    return torch.cat([a, b], dim=-1)


def pair(a, b):
    return a + 1, b * 2


def weights(scores):
    return scores.softmax(dim=-1)


def running(x, n):
    total = x[0] * 0
    for t in range(n):
        total = total + x[t]
    return total


def head(x, n):
    return x[:n]


def kept(x, mask):
    return x.masked_fill(~mask, 0.0)


def picked(mask, a, b):
    return torch.where(mask, a, b)


def above(x, threshold):
    return (x > threshold).sum()


def scaled(q, k, d):
    return q * k / d


def joint(x, mask, valid):
    return x.masked_fill(~(mask & valid), 0.0)


def backwards(x):
    return x.flip(0) * 2


def countdown(n):
    k = n
    while k > 0:
        k = k - 1
    return k
'''

CONVENTIONS = {"gate": "gate(x, w, b) returns sigmoid(x @ w.T + b).",
               "halves": "The two halves of x are i and f, in that order; returns 3 * i + f.",
               "shared": "total, mask, x, a, b, t, q, k, d"}

g = torch.Generator().manual_seed(0)
X, W, B = torch.randn(3, 4, generator=g), torch.randn(5, 4, generator=g), torch.randn(5, generator=g)
A, Bv = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g)
MASK = torch.rand(3, 4, generator=g) > 0.4

#: For each operator: the contract name, its arguments, the slip written by hand, and a phrase of the description.
SLIPS = [
    ("nonlinearity swapped", "gate", (X, W, B), lambda x, w, b: torch.tanh(x @ w.T + b),
     "uses tanh instead of sigmoid"),
    ("nonlinearity left out", "gate", (X, W, B), lambda x, w, b: x @ w.T + b, "the sigmoid is left out"),
    ("method nonlinearity left out", "squash", (X,), lambda x: x * 2, "the tanh is left out"),
    ("a term left out", "gate", (X, W, B), lambda x, w, b: torch.sigmoid(x @ w.T), "the term b is left out"),
    ("chunk blocks swapped", "halves", (X,), lambda x: x.chunk(2, -1)[1] * 3 + x.chunk(2, -1)[0],
     "read in the order f, i instead of i, f"),
    ("cat parts swapped", "joined", (A, Bv), lambda a, b: torch.cat([b, a], dim=-1), "joins a and b in each other's"),
    ("returned parts swapped", "pair", (A, Bv), lambda a, b: (b * 2, a + 1), "it returns b * 2 and a + 1"),
    ("softmax axis", "weights", (A,), lambda s: s.softmax(dim=0), "taken over dim 0 instead of the last axis"),
    ("range one short", "running", (A, 3), lambda x, n: x[0] + x[1], "range ends one step early"),
    ("index one on", "running", (A, 2), lambda x, n: x[1] + x[2], "x is off by one: it is read at t + 1"),
    ("slice one short", "head", (A, 3), lambda x, n: x[:n - 1], "a slice of it ends at n - 1 instead of n"),
    ("mask inverted", "kept", (A, MASK), lambda x, m: x.masked_fill(m, 0.0),
     "kept: the mask is used the other way round"),
    ("where flipped", "picked", (MASK, A, Bv), lambda m, a, b: torch.where(m, b, a), "condition of a where"),
    ("a factor left out", "scaled", (A, Bv, 2.0), lambda q, k, d: q / d, "the factor k is left out"),
    ("a divisor left out", "scaled", (A, Bv, 2.0), lambda q, k, d: q * k, "is not divided by d"),
    ("multiplied, not divided", "scaled", (A, Bv, 2.0), lambda q, k, d: q * k * d, "is multiplied by d instead of"),
    ("a mask ignored", "joint", (A, MASK, MASK.flip(1)), lambda x, m, v: x.masked_fill(~v, 0.0),
     "joint: the mask is ignored"),
    ("a joined mask inverted", "joint", (A, MASK, MASK.flip(1)), lambda x, m, v: x.masked_fill(~(~m & v), 0.0),
     "joint: the mask is used the other way round"),
    ("a flip left out", "backwards", (A,), lambda x: x * 2, "the flip of the value returned is left out"),
    ("comparison flipped", "above", (torch.tensor([0.0, 1.0, 2.0]), 1.0), lambda x, t: (x >= t).sum(),
     "the test x > threshold is taken the other way round (x >= threshold)"),
]


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    folder = tmp_path_factory.mktemp("key")
    (folder / "small_key.py").write_text(KEY, encoding="utf-8")
    return task_python(folder, "small_key.py")


def same(a, b) -> bool:
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return isinstance(b, torch.Tensor) and a.shape == b.shape and torch.allclose(a.double(), b.double())


@pytest.mark.parametrize("operator, target, args, slip, phrase", SLIPS, ids=[s[0] for s in SLIPS])
def test_each_operator_makes_its_slip(key, operator, target, args, slip, phrase):
    made = mutants.mutants_of("small", target, getattr(key, target), CONVENTIONS)
    assert made and all(m.kind == "mutant" and m.target == target for m in made)
    want = slip(*args)
    matching = []
    for m in made:
        try:
            value = m.impl(*args)
        except Exception:  # noqa: BLE001 - a mutant that cannot run these arguments matches nothing
            continue
        if same(want, value):
            matching.append(m)
    assert [phrase in m.description for m in matching].count(True) == 1, [m.description for m in matching]
    assert not same(getattr(key, target)(*args), want)


def test_descriptions_use_the_contracts_words_never_other_source(key):
    """An identifier the contract does not use is not shown: without conventions the term is not named."""
    said = {m.description for m in mutants.mutants_of("small", "gate", key.gate, CONVENTIONS)}
    assert "gate: the term b is left out of the sum that gives one of its values" in said  # `pre`: the key's own
    assert not any("pre" in d for d in said)
    bare = {m.description for m in mutants.mutants_of("small", "halves", key.halves, {})}
    assert any("blocks 1 and 2 of 2 are read in each other's place" in d for d in bare)


def test_a_local_name_is_said_only_when_it_is_the_contracts_symbol():
    words = mutants.Words(frozenset({"f", "b", "h"}))
    assert [words.symbol(n) for n in ("h", "a_f", "out_b", "x_q", None)] == ["h", "f", None, None, None]


def test_the_order_and_the_cap_are_fixed(key):
    first = [(m.name, m.description) for m in mutants.mutants_of("small", "running", key.running, CONVENTIONS)]
    again = [(m.name, m.description) for m in mutants.mutants_of("small", "running", key.running, CONVENTIONS)]
    assert first == again and len({n for n, _ in first}) == len(first)
    assert [m.name for m in mutants.mutants_of("small", "running", key.running, CONVENTIONS, limit=3)] == \
        [n for n, _ in first[:3]]


def test_names_are_unique_across_modules_that_share_a_contract_name(key):
    """Two tasks may both have build_model: a bundle holds their mutants side by side, each name once."""
    one = {m.name for m in mutants.mutants_of("small", "running", key.running, CONVENTIONS)}
    other = {m.name for m in mutants.mutants_of("other", "running", key.running, CONVENTIONS)}
    assert one and len(one) == len(other) and not one & other


def test_a_mutant_that_would_loop_forever_stops_by_counted_work(key):
    made = mutants.mutants_of("small", "countdown", key.countdown, {})
    endless = [m for m in made if "is not subtracted" in m.description]  # k = k: the loop never ends
    assert len(endless) == 1
    with pytest.raises(mutants.OutOfWork, match=f"more than {mutants.LINE_BUDGET} lines"):
        endless[0].impl(3)
    assert key.countdown(3) == 0  # the answer key itself is untouched


def test_class_methods_and_helpers_are_mutated_beside_the_answer_key():
    """A class's mutant is a subclass with one method changed (super() still works); a module helper it calls is
    changed in a copy of its module's globals, never in the module itself."""
    from reference_models import attention, cells

    made = mutants.mutants_of("cells", "LSTMCell", cells.LSTMCell, {"LSTMCell": "i, f, g, o"})
    ifog = [m for m in made if "order i, f, o, g" in m.description]
    assert len(ifog) == 1 and issubclass(ifog[0].impl, cells.LSTMCell)
    torch.manual_seed(0)
    cell = ifog[0].impl(3, 2)
    x = torch.randn(4, 3)
    h, c = cell(x)
    reference = cells.LSTMCell(3, 2)
    reference.load_state_dict(cell.state_dict())
    assert not torch.allclose(h, reference(x)[0])
    axis = [m for m in mutants.mutants_of("attention", "dot_attention", attention.dot_attention, {})
            if "softmax" in m.description and "dim 0" in m.description]
    assert len(axis) == 1
    q, k = torch.randn(2, 3), torch.randn(2, 4, 3)
    assert torch.allclose(axis[0].impl(q, k, k)[1].sum(dim=0), torch.ones(4))  # normalised over the batch
    assert torch.allclose(attention.dot_attention(q, k, k)[1].sum(dim=-1), torch.ones(2))  # the key is untouched


# --------------------------------------------------------------------------- a course's own task, no catalogue

TASK = '''
[task]
name = "gates"
title = "Gates"
module = "gates"
version = "1"
seed = 7
description = "Two small gated functions."

[interface]
names = ["mix", "both", "peak"]

[interface.conventions]
mix = """mix(x, h, w, u) with x (B, D), h (B, H), w and u (H, D): z = sigmoid(x @ w.T) is the update gate and
n = tanh(x @ u.T + h) the candidate; returns (1 - z) * n + z * h."""
both = "both(a) returns sigmoid(a) * sigmoid(a), the product of two gates i and f of the same a."
peak = "peak(scores) returns the sum over rows of each row's largest score, a number."

[checks."gates.mix.forward"]
kind = "equals"
target = "mix"
points = 2
cases = [{ args = [{ randn = [3, 4] }, { randn = [3, 5] }, { randn = [5, 4] }, { randn = [5, 4] }] }]

[checks."gates.both.forward"]
kind = "equals"
target = "both"
points = 1
cases = [{ args = [{ randn = [3, 4] }] }]

[checks."gates.peak.forward"]
kind = "equals"
target = "peak"
points = 1
cases = [{ args = [{ randn = [3, 4] }] }]
'''

ANSWER_KEY = '''
import torch


def mix(x, h, w, u):
    z = torch.sigmoid(x @ w.T)
    n = torch.tanh(x @ u.T + h)
    return (1 - z) * n + z * h


def both(a):
    i = torch.sigmoid(a)
    f = torch.sigmoid(a)
    return i * f


def peak(scores):
    return scores.amax(dim=-1).sum()
'''

CORRECT = '''
import torch


def mix(x, h, w, u):
    z = 1 / (1 + torch.exp(-(x @ w.T)))
    return n_of(x, h, u) * (1 - z) + h * z


def n_of(x, h, u):
    return torch.tanh(h + x @ u.T)


def both(a):
    return torch.sigmoid(a) ** 2


def peak(scores):
    return scores.max(dim=1).values.sum()
'''

SUBMISSIONS = {
    "correct": CORRECT,
    "z_tanh": CORRECT.replace("1 / (1 + torch.exp(-(x @ w.T)))", "torch.tanh(x @ w.T)"),  # one slip
    "two_slips": CORRECT.replace("1 / (1 + torch.exp(-(x @ w.T)))", "torch.tanh(x @ w.T)")
                        .replace("torch.tanh(h + x @ u.T)", "h + x @ u.T"),         # matches no single change
    "one_gate_tanh": CORRECT.replace("torch.sigmoid(a) ** 2", "torch.sigmoid(a) * torch.tanh(a)"),  # i or f: two
    "peak_columns": CORRECT.replace("scores.max(dim=1)", "scores.max(dim=0)"),  # one number: too little to tell
}


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("course")
    (root / "tasks" / "gates").mkdir(parents=True)
    (root / "tasks" / "gates" / "task.toml").write_text(TASK, encoding="utf-8")
    (root / "tasks" / "gates" / "answer_key.py").write_text(ANSWER_KEY, encoding="utf-8")
    for name, text in SUBMISSIONS.items():
        (root / "submissions" / name).mkdir(parents=True)
        (root / "submissions" / name / "gates.py").write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def live(course) -> dict:
    return {name: {c.id: c for c in grade(course / "submissions" / name, load_tasks(course / "tasks")).checks}
            for name in SUBMISSIONS}


def test_a_student_with_exactly_one_slip_is_told_what_to_change(live):
    check = live["z_tanh"]["gates.mix.forward"]
    assert check.status == "failed"
    assert check.hint == "This matches one small slip: mix: z uses tanh instead of sigmoid"
    assert check.numbers["diagnosis"][0].startswith("mutant.gates.mix.")
    assert live["z_tanh"]["gates.both.forward"].status == "passed"


def test_two_matches_or_none_leave_the_checks_own_hint(live):
    for name, check_id in (("two_slips", "gates.mix.forward"), ("one_gate_tanh", "gates.both.forward")):
        check = live[name][check_id]
        assert check.status == "failed", check_id
        assert "diagnosis" not in check.numbers and "slip" not in check.hint, (name, check.hint)


def test_a_single_number_is_too_little_to_name_a_slip(course, live, monkeypatch):
    """One number that one change explains is still a coincidence many programs share: nothing is named, though
    the axis change is the only one that matches (as the same grading without the evidence rule shows)."""
    from harness.checks import diagnose

    check = live["peak_columns"]["gates.peak.forward"]
    assert check.status == "failed" and "diagnosis" not in check.numbers
    monkeypatch.setattr(diagnose, "EVIDENCE", 0)
    unguarded = next(c for c in grade(course / "submissions" / "peak_columns", load_tasks(course / "tasks")).checks
                     if c.id == "gates.peak.forward")
    assert unguarded.hint == "This matches one small slip: peak: the amax(…) in the value returned is taken over " \
                             "dim 0 instead of the last axis"


def test_evidence_counts_differing_tensor_elements():
    from harness.checks.diagnose import evidence

    a = torch.zeros(2, 3)
    assert evidence(a, a, 1e-6, 1e-7) == 0
    assert evidence((a + 1, [a]), (a, [a]), 1e-6, 1e-7) == 6
    assert evidence({"h": a}, {"h": torch.zeros(3, 2)}, 1e-6, 1e-7) == 0  # another shape: no evidence
    assert evidence([[1, 2], 0.5], [[1, 3], 0.7], 1e-6, 1e-7) == 0       # tokens and numbers: none


def test_a_correct_answer_written_differently_is_never_named(live):
    assert all(c.status == "passed" and "diagnosis" not in c.numbers for c in live["correct"].values())


def test_the_catalogue_comes_first(course, tmp_path):
    tasks = tmp_path / "tasks"
    (tasks / "gates").mkdir(parents=True)
    for name in ("task.toml", "answer_key.py"):
        (tasks / "gates" / name).write_bytes((course / "tasks" / "gates" / name).read_bytes())
    (tasks / "gates" / "catalogue.py").write_text(textwrap.dedent('''
        import torch

        def mix_tanh(x, h, w, u):
            z = torch.tanh(x @ w.T)
            return (1 - z) * torch.tanh(x @ u.T + h) + z * h

        CATALOGUE = [{"name": "mix_tanh_gate", "target": "mix", "kind": "mistake", "impl": mix_tanh,
                      "description": "the update gate z is a tanh; the contract has a sigmoid"}]
        '''), encoding="utf-8")
    check = next(c for c in grade(course / "submissions" / "z_tanh", load_tasks(tasks)).checks
                 if c.id == "gates.mix.forward")
    assert check.numbers["diagnosis"] == ["mix_tanh_gate"]
    assert check.hint == "This matches a common mistake: the update gate z is a tanh; the contract has a sigmoid"


def test_a_release_names_them_offline_as_live(course, live, tmp_path):
    write_release(tmp_path / "released", load_tasks(course / "tasks"))
    released = bundle.load(tmp_path / "released" / bundle.FOLDER)
    assert released.mutants("gates", "mix") and all(m.kind == "mutant" for m in released.mutants("gates", "mix"))
    index = json.loads((tmp_path / "released" / bundle.FOLDER / bundle.INDEX).read_text())
    assert "def mix" not in json.dumps(index) and "torch.sigmoid" not in json.dumps(index)  # descriptions, no code
    for name in SUBMISSIONS:
        offline = grade(course / "submissions" / name, released.specs(), visibility=("public",),
                        answers=BundleAnswers(released))
        assert [(c.id, c.status, c.hint, c.numbers.get("diagnosis")) for c in offline.checks] == \
               [(c.id, c.status, c.hint, c.numbers.get("diagnosis")) for c in live[name].values()], name


@pytest.mark.parametrize("mutants_entry, phrase", [
    ("not a list", '"mutants" must be a list, got str'),
    ([{"name": "m", "module": "gates", "target": "mix", "kind": "mistake", "description": "d"}], "kind"),
    ([{"name": 1, "module": "gates", "target": "mix", "kind": "mutant", "description": "d"}], '"mutants"[0]'),
    ([{"name": "m", "module": "gates", "target": "mix", "kind": "mutant", "description": "d", "impl": "x"}],
     '"mutants"[0]'),
])
def test_a_bundle_with_a_bad_mutants_list_is_refused_naming_it(course, tmp_path, mutants_entry, phrase):
    write_release(tmp_path / "released", load_tasks(course / "tasks"))
    folder = tmp_path / "released" / bundle.FOLDER
    index = json.loads((folder / bundle.INDEX).read_text())
    index["mutants"] = mutants_entry
    index["digest"] = bundle._content_digest(index, (folder / bundle.VALUES).read_bytes())  # a crafted, valid digest
    (folder / bundle.INDEX).write_text(json.dumps(index))
    with pytest.raises(bundle.BundleError, match="take .harness/ again") as error:
        bundle.load(folder)
    assert phrase in str(error.value)


# --------------------------------------------------------------------------- the default course, catalogue removed


class WithoutCatalogue(LiveAnswers):
    """The catalogue's mistakes and variants removed; the forms the contract accepts stay (they name nothing)."""

    def catalogue(self, module: str) -> list:
        return [entry for entry in super().catalogue(module) if entry.kind == "accepted"]


@pytest.mark.parametrize("example, named", [
    ("lstm_gate_order_ifog", "LSTMCell: the blocks are read in the order i, f, o, g instead of i, f, g, o"),
    ("lstm_forget_no_bias", None),  # one gate's bias: no single operator makes it, and none is named
])
def test_default_course_fixtures_without_their_catalogue_entries(example, named, tmp_path):
    import patches
    from test_verdicts import SUBMISSIONS as EXAMPLES, assert_verdict, expected_of, fast_specs, limits_of

    expected = expected_of(f"buggy/{example}")
    path = patches.overlay(EXAMPLES / "buggy" / example, EXAMPLES / "reference", tmp_path / example)
    specs = fast_specs([expected["module"]], limits_of(expected))
    results = grade(path, specs, answers=WithoutCatalogue(specs))
    assert_verdict(EXAMPLES / "buggy" / example, results, {k: v for k, v in expected.items()
                                                           if k not in ("diagnosis", "words")})
    check = next(c for c in results.checks if c.id == "cells.LSTMCell.forward")
    if named:
        assert check.hint == f"This matches one small slip: {named}"
    else:
        assert "diagnosis" not in check.numbers
        assert check.hint == ("already the first step differs: compare your equations with the contract's, one gate "
                              "at a time")


def test_a_default_course_release_without_the_catalogue_names_the_same_slip_offline(tmp_path, monkeypatch):
    """The release records the derived mistakes' values for the public checks: a student's machine names the slip
    the live run names, with the catalogue's mistakes and variants removed on both sides."""
    import patches
    from harness.release import record
    from test_verdicts import SUBMISSIONS as EXAMPLES, fast_specs

    monkeypatch.setattr(record.Recorder, "catalogue", lambda self, module: [
        entry for entry in LiveAnswers.catalogue(self, module) if entry.kind == "accepted"])
    example = "lstm_gate_order_ifog"
    path = patches.overlay(EXAMPLES / "buggy" / example, EXAMPLES / "reference", tmp_path / example)
    write_release(tmp_path / "released", fast_specs(["cells"]))
    released = bundle.load(tmp_path / "released" / bundle.FOLDER)
    offline = grade(path, released.specs(), visibility=("public",), answers=BundleAnswers(released))
    specs = fast_specs(["cells"])
    live = grade(path, specs, visibility=("public",), answers=WithoutCatalogue(specs))
    said = [(c.id, c.status, c.hint, c.numbers.get("diagnosis")) for c in offline.checks]
    assert said == [(c.id, c.status, c.hint, c.numbers.get("diagnosis")) for c in live.checks]
    assert any(hint.endswith("in the order i, f, o, g instead of i, f, g, o") for _, _, hint, _ in said)


def test_a_name_without_readable_source_has_no_mutants_and_no_error():
    """A builtin, an object made by exec, a constant or a class of another module give nothing to change."""
    namespace: dict = {}
    exec("def made(x):\n    return x + 1\n", namespace)  # noqa: S102 - a function whose source is nowhere
    assert mutants.mutants_of("m", "tanh", torch.tanh, {}) == []
    assert mutants.mutants_of("m", "made", namespace["made"], {}) == []
    assert mutants.mutants_of("m", "SIZE", 3, {}) == []
