"""The sequences checks grade the example submissions as their verdicts say.

The reference passes, the starter fails as "not implemented", each buggy sequences.py fails exactly
the checks its EXPECTED.toml lists with the named diagnosis; a few wrong variants are also judged
in-process (without a worker) to see what their messages say.
"""
from __future__ import annotations

import shutil
import tomllib
import types
from pathlib import Path

import pytest
import torch

from harness.checks import REGISTRY, Context, load_builtin_checks
from harness.grading import grade, reference_namespace
from harness.sandbox import program as interpreter
from harness.spec import DEFAULT_TOLERANCES, load_tasks
import reference_models.sequences as ref

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "submissions"
MODULE = "sequences"


def examples(module: str) -> list[Path]:
    return [p.parent for p in sorted((SUBMISSIONS / "buggy").glob("*/EXPECTED.toml"))
            if tomllib.loads(p.read_text())["module"] == module]


def overlay(example: Path, dest: Path) -> Path:
    shutil.copytree(SUBMISSIONS / "reference", dest)
    for path in example.glob("*.py"):
        shutil.copy(path, dest / path.name)
    return dest


def specs():
    return load_tasks(names=[MODULE])


def test_reference_passes_and_starter_fails_as_not_implemented():
    results = grade(SUBMISSIONS / "reference", specs())
    assert [(c.id, c.message) for c in results.checks if c.status != "passed"] == []
    assert results.tasks[0].score == results.tasks[0].max_score > 0
    results = grade(SUBMISSIONS / "starter", specs())
    assert [(c.id, c.status) for c in results.checks if c.status != "failed"] == []
    assert all("not implemented" in c.message for c in results.checks)
    assert results.tasks[0].score == 0


@pytest.mark.parametrize("example", examples(MODULE), ids=lambda p: p.name)
def test_buggy_submission_fails_exactly_its_checks(example: Path, tmp_path: Path):
    expected = tomllib.loads((example / "EXPECTED.toml").read_text())
    results = grade(overlay(example, tmp_path / example.name), specs())
    status = {c.id: c.status for c in results.checks}
    want = {check_id: ("failed" if check_id in expected["failed"] else "passed") for check_id in status}
    assert status == want, [(c.id, c.status, c.message, c.hint) for c in results.checks if c.status != want[c.id]]
    failing = [c for c in results.checks if c.status == "failed"]
    assert all(c.message and c.hint for c in failing)
    if "diagnosis" in expected:
        assert all(expected["diagnosis"] in c.numbers.get("diagnosis", []) for c in failing), \
            [(c.id, c.numbers.get("diagnosis")) for c in failing]
    for c in failing:  # the first failing case is named with its input, the expected and the returned rows
        assert "case (" in c.message and "expected" in c.message and "got" in c.message, c.message


# --------------------------------------------------------------------------- in-process, no worker


def run_in_process(check_id: str, **replacements):
    load_builtin_checks()
    definition = REGISTRY[check_id]
    namespace = reference_namespace()
    module = types.SimpleNamespace(**vars(namespace[MODULE]))
    for name, value in replacements.items():
        setattr(module, name, value)
    student = {**namespace, MODULE: module}

    def runner(program):
        return types.SimpleNamespace(header={}, value=interpreter.run(program.to_json(), program.inputs, student))

    ctx = Context(check_id, dict(definition.options), DEFAULT_TOLERANCES, 2024, runner, namespace)
    ctx.static_findings, ctx.source = [], None
    return definition.func(ctx)


def test_the_message_shows_the_call_and_the_rows():
    def pad_post(seqs, maxlen=None, padding="pre", truncating="pre", value=0):
        return ref.pad_sequences(seqs, maxlen, "post", truncating, value)

    verdict = run_in_process("sequences.pad_sequences", pad_sequences=pad_post)
    assert not verdict.passed
    assert verdict.message == ("case (the defaults: padding and truncating at the front): pad_sequences([[1, 2, 3], "
                               "[4, 5, 6, 7, 8, 9], [10]], maxlen=4) row 0 (sequence [1, 2, 3]): expected [0, 1, 2, 3], "
                               "got [1, 2, 3, 0]")
    assert verdict.numbers["diagnosis"] == ["pad_post"]


def test_a_custom_value_that_is_ignored_is_found():
    def no_value(seqs, maxlen=None, padding="pre", truncating="pre", value=0):
        return ref.pad_sequences(seqs, maxlen, padding, truncating, 0)

    verdict = run_in_process("sequences.pad_sequences", pad_sequences=no_value)
    assert not verdict.passed and "value=-1" in verdict.message and "diagnosis" not in verdict.numbers


def test_a_float_result_is_not_a_long_tensor():
    def as_float(*args, **kwargs):
        return ref.pad_sequences(*args, **kwargs).float()

    verdict = run_in_process("sequences.pad_sequences", pad_sequences=as_float)
    assert not verdict.passed and "LongTensor" in verdict.message and "float32" in verdict.message


def test_no_window_must_still_have_the_window_shapes():
    def flat_when_empty(ids, window):
        inputs, targets = ref.make_windows(ids, window)
        return (inputs, targets) if len(inputs) else (torch.empty(0, dtype=torch.long), targets)

    verdict = run_in_process("sequences.make_windows", make_windows=flat_when_empty)
    assert not verdict.passed
    assert "no window" in verdict.message and "(0, 3)" in verdict.message and "torch.empty(0, window" in verdict.hint


def test_a_missing_last_window_is_diagnosed():
    def drops_last(ids, window):
        inputs, targets = ref.make_windows(ids, window)
        return inputs[:-1], targets[:-1]

    verdict = run_in_process("sequences.make_windows", make_windows=drops_last)
    assert not verdict.passed and verdict.numbers["diagnosis"] == ["make_windows_drops_last"]
