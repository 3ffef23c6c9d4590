"""The sequences checks grade the example submissions as their verdicts say.

The reference passes, the starter fails as "not implemented", each buggy sequences.py fails exactly
the checks its EXPECTED.toml lists with the named diagnosis; a few wrong variants are also judged
in-process (without a worker) to see what their messages say.
"""
from __future__ import annotations

from pathlib import Path

import torch

import reference_models.sequences as ref

from helpers import run_in_process

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "submissions"
MODULE = "sequences"


# --------------------------------------------------------------------------- in-process, no worker


def test_the_message_shows_the_call_and_the_rows():
    def pad_post(seqs, maxlen=None, padding="pre", truncating="pre", value=0):
        return ref.pad_sequences(seqs, maxlen, "post", truncating, value)

    verdict = run_in_process("sequences.pad_sequences", pad_sequences=pad_post)
    assert not verdict.passed
    assert verdict.message == ("case (the defaults: padding and truncating at the front): pad_sequences([[1, 2, 3], "
                               "[4, 5, 6, 7, 8, 9], [10]], maxlen=4) row 0 (sequence [1, 2, 3]): expected [0, 1, 2, 3], "
                               "got [1, 2, 3, 0] — and 5 more of the 11 cases fail")
    assert verdict.numbers["diagnosis"] == ["pad_post"] and verdict.fraction == 5 / 11


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


# --------------------------------------------------------------------------- credit per case


def pad_without_maxlen_none(seqs, maxlen=None, padding="pre", truncating="pre", value=0):
    """Right everywhere but maxlen=None (pads to 0 columns): one edge case of the contract missed."""
    return ref.pad_sequences(seqs, 0 if maxlen is None else maxlen, padding, truncating, value)


def test_one_missed_edge_case_costs_its_share_and_is_named():
    verdict = run_in_process("sequences.pad_sequences", pad_sequences=pad_without_maxlen_none)
    assert not verdict.passed
    assert verdict.message.startswith("case (maxlen=None: the length of the longest sequence)")
    assert verdict.message.endswith("— and 1 more of the 11 cases fail")  # maxlen=None with empty sequences too
    assert verdict.fraction == 9 / 11 and verdict.numbers["cases_passed"] == 9


def test_all_or_nothing_credit_stops_at_the_first_failing_case():
    verdict = run_in_process("sequences.pad_sequences", {"credit": "all-or-nothing"},
                             pad_sequences=pad_without_maxlen_none)
    assert not verdict.passed and verdict.fraction is None and "more of the" not in verdict.message


def test_a_case_that_raises_fails_alone(tmp_path):
    def pad_raises_on_empty(seqs, maxlen=None, padding="pre", truncating="pre", value=0):
        if any(len(s) == 0 for s in seqs):
            raise IndexError("list index out of range")
        return ref.pad_sequences(seqs, maxlen, padding, truncating, value)

    from harness.checks import StudentError

    def raising(seqs, *args, **kwargs):  # the worker turns an exception into a StudentError; so does this stand-in
        try:
            return pad_raises_on_empty(seqs, *args, **kwargs)
        except IndexError as exc:
            raise StudentError({"type": "IndexError", "message": str(exc)}) from None

    verdict = run_in_process("sequences.pad_sequences", pad_sequences=raising)
    assert verdict.fraction == 9 / 11 and "your code raised IndexError" in verdict.message


def test_the_credit_option_is_one_of_its_choices(tmp_path):
    import pytest

    from harness.spec import SpecError, load_spec

    folder = tmp_path / "sequences"
    folder.mkdir()
    text = (ROOT / "tasks" / "sequences" / "task.toml").read_text()
    (folder / "checks.py").write_text((ROOT / "tasks" / "sequences" / "checks.py").read_text())
    (folder / "task.toml").write_text(text.replace('[checks."sequences.make_windows"]\npoints = 2',
                                                   '[checks."sequences.make_windows"]\npoints = 2\ncredit = "percase"'))
    with pytest.raises(SpecError, match=r"credit: must be one of 'per-case', 'all-or-nothing'.*did you mean 'per-case'"):
        load_spec(folder / "task.toml")
