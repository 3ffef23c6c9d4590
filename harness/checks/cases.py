"""Credit for a check made of independent cases (padding edge cases, windows, masks, decoding tables).

``credit = "per-case"`` (the default of such checks): points in proportion to the cases that pass, and the
message names the first failing case and how many others fail — one missed edge case out of eleven costs
one eleventh, which is what an instructor grading by hand would do. ``credit = "all-or-nothing"``: the first
failing case decides, as a unit test would.
"""
from __future__ import annotations

from typing import Callable, Iterable

from . import Context, StudentError, Verdict

CREDIT = ("per-case", "all-or-nothing")


def by_case(ctx: Context, cases: Iterable, judge: Callable[[object], Verdict | None],
            passed: Verdict | Callable[[], Verdict]) -> Verdict:
    """``judge(case)`` gives a failed Verdict for a failing case and None for a passing one; ``passed`` is the
    verdict (or makes it, after the cases ran) when every case passes. A case whose code raises fails alone
    (every case raising is the check's error, raised as such)."""
    cases = list(cases)
    if callable(passed):
        passed = _Later(passed)
    if ctx.options.get("credit", CREDIT[0]) == "all-or-nothing":
        for case in cases:
            verdict = judge(case)
            if verdict is not None:
                return verdict
        return passed.verdict() if isinstance(passed, _Later) else passed
    failures, raised = [], []
    for case in cases:
        try:
            verdict = judge(case)
        except StudentError as exc:
            raised.append(exc)
            verdict = Verdict(False, f"your code raised {exc.describe()}")
        if verdict is not None:
            failures.append(verdict)
    if not failures:
        return passed.verdict() if isinstance(passed, _Later) else passed
    if len(raised) == len(cases):
        raise raised[0]
    first = failures[0]
    ok = len(cases) - len(failures)
    others = len(failures) - 1
    message = first.message + (f" — and {others} more of the {len(cases)} cases fail" if others else
                               f" — the only one of the {len(cases)} cases that fails" if len(cases) > 1 else "")
    numbers = {**first.numbers, "cases_passed": ok, "cases": len(cases)}
    return Verdict(False, message, first.hint, numbers, fraction=ok / len(cases))


class _Later:
    def __init__(self, make: Callable[[], Verdict]):
        self.verdict = make
