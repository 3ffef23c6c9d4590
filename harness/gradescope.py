"""Results in Gradescope's autograder format (``/autograder/results/results.json``).

One Gradescope test per check: ``name`` is the check id, ``score``/``max_score`` its points (partial
credit included), ``status`` "passed" or "failed" (an error is a failure to Gradescope), ``output``
the message and how to fix it, ``tags`` the task. The top level carries the total ``score``, the
``execution_time``, an ``output`` with the score and what to fix first, and ``extra_data`` with the
harness and spec versions.

Visibility. A check's own visibility (harness.spec.VISIBILITIES) carries over: public checks are
``"visible"``, a check of ``hidden.toml`` is ``"after_due_date"`` (shown once the due date has passed)
or ``"hidden"`` (never shown to students), as its spec says. ``hidden=`` (``harness export
--hidden-as``) overrides the visibility of every check graded after submission, e.g.
``"after_published"``: shown once the instructor publishes the grades. ``stdout_visibility`` is
``"hidden"``: the autograder's log holds the harness's own diagnostics, not meant for students.

Running the harness inside Gradescope
-------------------------------------
The autograder zip holds ``setup.sh`` (install the harness, as in the assignment workflow) and
``run_autograder``; Gradescope copies the zip to ``/autograder/source`` and the student's files to
``/autograder/submission``. ``run_autograder`` grades every check, hidden ones included, and writes
the file Gradescope reads::

    #!/usr/bin/env bash
    harness ci /autograder/submission --all --min-percent 0 \\
        --tasks-dir /autograder/source/tasks --gradescope /autograder/results/results.json

(``--tasks-dir`` only when the course's specs differ from the ones the harness ships.) A complete
script, which also writes a results.json when the harness cannot run, is
``harness/templates/gradescope_run_autograder.sh``. Results graded elsewhere convert with
``harness export --gradescope results.json -o gradescope.json``.
"""
from __future__ import annotations

import json
from pathlib import Path

from .results import CheckResult, Results
from .triage import HOW_TO_FIX

HIDDEN_CHOICES = ("after_published", "after_due_date", "hidden", "visible")
FIX_FIRST = 5  # causes listed in the top-level output
GRADESCOPE_VISIBILITY = {"public": "visible", "after_due_date": "after_due_date", "hidden": "hidden"}


def _output(check: CheckResult) -> str:
    lines = [check.message]
    if check.hint and check.status != "passed":
        lines.append(f"{HOW_TO_FIX}: {check.hint}")
    elif check.hint and check.points < check.max_points:
        lines.append(check.hint)
    return "\n".join(line for line in lines if line)


def _summary(results: Results) -> str:
    from .ci import percent
    from .triage import as_text, fix_first

    lines = [f"Score {results.score:g}/{results.max_score:g} ({percent(results.score, results.max_score):.0f}%)"]
    if results.not_run_checks:
        lines.append(results.coverage_line())
    items = fix_first(results)
    if items:
        lines += ["", "Fix first:"]
        for item in items[:FIX_FIRST]:  # whole message and hint: Gradescope wraps the text
            lines += [f"- {line}" if i == 0 else line for i, line in enumerate(as_text(item))]
        if len(items) > FIX_FIRST:
            lines.append(f"… and {len(items) - FIX_FIRST} more (each test below has its message and hint)")
    if results.notes:
        lines += ["", "Notes:"] + [f"- {n}" for n in results.notes]
    return "\n".join(lines)


def to_gradescope(results: Results, hidden: str | None = None) -> dict:
    """The results.json document Gradescope's autograder reads; ``hidden`` overrides the visibility of
    the checks graded after submission (default: each check's own)."""
    if hidden is not None and hidden not in HIDDEN_CHOICES:
        raise ValueError(f"hidden checks' visibility must be one of {HIDDEN_CHOICES}, not {hidden!r}")
    tests = []
    for c in results.checks:
        tests.append({
            "name": c.id,
            "score": c.points,
            "max_score": c.max_points,
            "status": "passed" if c.status == "passed" else "failed",
            "output": _output(c),
            "tags": [c.task],
            "visibility": GRADESCOPE_VISIBILITY[c.visibility] if c.visibility == "public" or hidden is None else hidden,
        })
    return {
        "score": results.score,
        "execution_time": round(results.seconds),
        "output": _summary(results),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {"harness_version": results.harness_version, "schema_version": results.schema_version,
                       "max_score": results.max_score,
                       "specs": {t.name: {"version": t.spec_version, "digest": t.spec_digest} for t in results.tasks}},
    }


def write_gradescope(results: Results, path: Path, hidden: str | None = None) -> Path:
    from .files import write_output

    return write_output(path, json.dumps(to_gradescope(results, hidden), indent=2, allow_nan=False) + "\n")


def failure_document(message: str) -> dict:
    """What to hand Gradescope when the harness could not grade at all: score 0 and the reason."""
    return {"score": 0, "execution_time": 0, "visibility": "visible", "stdout_visibility": "hidden",
            "output": f"The autograder could not run: {message}\nPlease contact the course staff.", "tests": []}
