"""A class run's pool process keeps the answer key's values for its next submission (harness.answers.keep_references):
the same values as computing them again, handed out as copies, never for a variant's namespace, and only where a
class is graded."""
from __future__ import annotations

import types

import pytest
import torch

from harness import answers
from harness.sandbox.program import Program


class Counting:
    """An answer key module whose ``double`` counts its calls."""

    def __init__(self):
        self.calls = 0

    def double(self, x):
        self.calls += 1
        return {"twice": x * 2, "shape": list(x.shape), "note": "ok"}


def program(x: torch.Tensor) -> Program:
    p = Program()
    p.result(p.call("key.double", x))
    return p


@pytest.fixture
def kept(monkeypatch):
    monkeypatch.setattr(answers, "_KEPT", None)
    answers.keep_references()
    return answers


def live(module) -> answers.LiveAnswers:
    live = answers.LiveAnswers([])
    live._namespace, live._catalogues = {"key": module}, {}
    return live


def test_a_program_asked_again_is_answered_from_what_was_kept_with_the_same_value(kept):
    key = Counting()
    x = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    first = live(key).reference(program(x))
    again = live(key).reference(program(x.clone()))  # another submission's grading: a new LiveAnswers
    assert key.calls == 1
    assert torch.equal(again["twice"], first["twice"]) and again["shape"] == [2, 3] and again["note"] == "ok"
    other = live(key).reference(program(x + 1))  # other inputs: another program
    assert key.calls == 2 and torch.equal(other["twice"], (x + 1) * 2)


def test_a_value_changed_by_a_check_does_not_change_what_the_next_submission_gets(kept):
    key, x = Counting(), torch.ones(3, dtype=torch.float64)
    live(key).reference(program(x))["twice"].add_(100)
    got = live(key).reference(program(x))
    got["twice"].mul_(7)
    assert torch.equal(live(key).reference(program(x))["twice"], x * 2)


def test_a_variants_namespace_and_another_answer_key_are_never_answered_from_what_was_kept(kept):
    key, variant = Counting(), Counting()
    x = torch.ones(2, dtype=torch.float64)
    answers_ = live(key)
    answers_.reference(program(x))
    patched = types.SimpleNamespace(double=lambda v: {"twice": v * 3, "shape": [], "note": "variant"})
    assert answers_.reference(program(x), {"key": patched})["note"] == "variant"
    assert torch.equal(live(variant).reference(program(x))["twice"], x * 2) and variant.calls == 1


def test_outside_a_class_run_nothing_is_kept(monkeypatch):
    monkeypatch.setattr(answers, "_KEPT", None)
    key, x = Counting(), torch.ones(2, dtype=torch.float64)
    live(key).reference(program(x))
    live(key).reference(program(x))
    assert key.calls == 2 and answers._KEPT is None
