"""harness.parsing.parse: CPython 3.11's spurious SystemError when two threads parse at once is tried again;
every other error reaches the caller unchanged."""
from __future__ import annotations

import ast

import pytest

from harness import parsing


def failing(times: int, message: str = parsing.MISMATCH + " (before=159, after=20)"):
    """ast.parse raising SystemError(message) on its first ``times`` calls."""
    real, calls = ast.parse, []

    def parse(source, *args, **kwargs):
        calls.append(source)
        if len(calls) <= times:
            raise SystemError(message)
        return real(source, *args, **kwargs)

    return parse, calls


def test_a_parse_upset_by_another_thread_is_tried_again(monkeypatch):
    fake, calls = failing(parsing.TRIES - 1)
    monkeypatch.setattr(parsing.ast, "parse", fake)
    tree = parsing.parse("def f():\n    return 1\n")
    assert isinstance(tree.body[0], ast.FunctionDef) and len(calls) == parsing.TRIES


def test_it_gives_up_after_its_tries_and_passes_other_errors_on(monkeypatch):
    fake, calls = failing(parsing.TRIES)
    monkeypatch.setattr(parsing.ast, "parse", fake)
    with pytest.raises(SystemError, match="recursion depth mismatch"):
        parsing.parse("x = 1")
    assert len(calls) == parsing.TRIES
    other, calls = failing(1, "something else")
    monkeypatch.setattr(parsing.ast, "parse", other)
    with pytest.raises(SystemError, match="something else"):
        parsing.parse("x = 1")
    assert len(calls) == 1
    monkeypatch.undo()
    with pytest.raises(SyntaxError):
        parsing.parse("def (")

