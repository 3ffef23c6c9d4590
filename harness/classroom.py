"""Results as a GitHub Classroom grading step: the ``result`` output its autograding reporter reads.

GitHub Classroom shows points only through ``classroom-resources/autograding-grading-reporter``. The
reporter takes an input ``runners`` (step ids, separated by commas) and, for each id, reads the
environment variable ``<ID>_RESULTS`` (the id in capitals), which the workflow fills from that step's
output ``result``: a JSON document, base64-encoded, of this shape (what the course's own runners,
``autograding-command-grader`` and ``autograding-io-grader``, leave)::

    {"version": 1, "status": "pass" | "fail" | "error", "max_score": <points>,
     "tests": [{"name", "status": "pass" | "fail" | "error", "score", "message", "test_code",
                "filename", "line_no", "duration"}]}

The reporter adds up ``tests[].score`` over the steps whose ``max_score`` is not 0, and the points it
announces ("Points 33/38") are what the Classroom dashboard shows; a step whose ``status`` is ``fail`` or
``error`` fails the job. It prints each test's ``name``, its ``message`` when the test did not pass, and its
``test_code`` when there is one.

Here one check is one test: its points and maximum, ``pass`` when it passed, ``error`` when the student's code
raised (or the check could not run it), ``fail`` otherwise (a skipped check too: its points were not earned);
the message with how to fix it; the file and line where ``harness ci`` annotates the problem. ``max_score`` is
the points of the checks run, the public ones. When checks are graded after submission, one more test, worth
nothing and passed, says so ("8 more points (6 checks): graded after submission", the whole
line of ``harness check`` as its ``test_code``): the reporter's
output is the only place a student reads, and the dashboard's points are the public ones. The step's
``status`` is ``pass`` when ``harness ci``'s rule holds, ``fail`` when it does not, ``error`` when the
harness could not grade (:func:`failure_document`).

The output is written as the runners write theirs: a line ``result=<base64>`` appended to the file GitHub
names in ``$GITHUB_OUTPUT`` (``harness ci --classroom-result "$GITHUB_OUTPUT"``).
"""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import TYPE_CHECKING

from .results import Results, count, points_phrase
from .triage import HOW_TO_FIX

if TYPE_CHECKING:  # pragma: no cover
    from .ci import Outcome

VERSION = 1
OUTPUT = "result"  # the step output the reporter's ``<ID>_RESULTS`` is filled from
STEP_ID = "harness"  # the grading step's id in the workflow harness release --classroom writes
STATUS = {"passed": "pass", "failed": "fail", "error": "error", "skipped": "fail"}
#: Characters of the encoded output, at most. The reporter receives it as one environment variable, and Linux
#: refuses to start a program with an environment string over 128 KiB (MAX_ARG_STRLEN): messages are cut first,
#: then the last tests are folded into one that carries their points.
ENCODED_LIMIT = 100_000
CUT = " [… cut: the job's summary has the whole message]"


def results_variable(step_id: str = STEP_ID) -> str:
    """The environment variable the reporter reads a step's result from: ``HARNESS_RESULTS`` for ``harness``."""
    return f"{step_id.strip().upper()}_RESULTS"


def _message(check) -> str | None:
    if check.status == "passed" and check.points >= check.max_points:
        return None
    lines = [check.message] if check.status != "skipped" else [f"skipped: {check.message}"]
    if check.hint:
        lines.append(f"{HOW_TO_FIX}: {check.hint}")
    return "\n".join(line for line in lines if line)


def to_classroom(results: Results, outcome: Outcome, workspace: Path | None = None) -> dict:
    """The result document of one ``harness ci`` run (public checks): one test per check."""
    from .ci import locate

    tests = []
    for c in results.checks:
        where = locate(c, results, workspace)
        tests.append({"name": c.id, "status": STATUS[c.status], "score": c.points, "message": _message(c),
                      "test_code": "", "filename": where.file or "", "line_no": where.line or 0,
                      "duration": round(c.seconds * 1000)})
    if results.not_run_checks:
        later = f"{points_phrase(results.not_run_points, 'more ')} ({count(results.not_run_checks, 'check')})"
        tests.append({"name": f"{later}: graded after submission", "status": "pass", "score": 0,
                      "message": None, "test_code": results.coverage_line(), "filename": "", "line_no": 0,
                      "duration": 0})
    return {"version": VERSION, "status": "pass" if outcome.passed else "fail", "max_score": results.max_score,
            "tests": tests}


def failure_document(message: str) -> dict:
    """The result when the harness could not grade: status ``error``, one test saying why, no points."""
    return {"version": VERSION, "status": "error", "max_score": 0,
            "tests": [{"name": "harness could not run", "status": "error", "score": 0, "message": message,
                       "test_code": "", "filename": "", "line_no": 0, "duration": 0}]}


def _shorten(text: str | None, limit: int) -> str | None:
    return text if not text or len(text) <= limit else text[:limit] + CUT


def fit(document: dict, limit: int = ENCODED_LIMIT) -> dict:
    """The document within ``limit`` characters once encoded, its points unchanged (see ENCODED_LIMIT)."""
    for keep in (1000, 200, 0):
        if len(encode(document)) <= limit:
            return document
        document = {**document, "tests": [{**t, "message": _shorten(t["message"], keep),
                                            "test_code": _shorten(t["test_code"], keep)} for t in document["tests"]]}
    tests = document["tests"]

    def folded(n: int) -> dict:  # the tests from the n-th on, as one carrying their points
        rest = tests[n:]
        one = {"name": f"{len(rest)} more checks (not listed: GitHub's limit on a step's output)",
               "status": "pass" if all(t["status"] == "pass" for t in rest) else "fail",
               "score": round(sum(t["score"] for t in rest), 6), "message": "the job's summary lists them",
               "test_code": "", "filename": "", "line_no": 0, "duration": sum(t["duration"] for t in rest)}
        return {**document, "tests": tests[:n] + [one]}

    return next((d for d in map(folded, range(len(tests) - 1, 0, -1)) if len(encode(d)) <= limit), folded(0))


def encode(document: dict) -> str:
    """The document as the reporter decodes it: compact JSON, UTF-8, base64 (one line, no newline)."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def decode(value: str) -> dict:
    """What the reporter reads from ``<ID>_RESULTS``: base64, then UTF-8 JSON."""
    return json.loads(base64.b64decode(value, validate=True).decode("utf-8"))


def append_output(path: Path, document: dict) -> Path:
    """Append ``result=<base64>`` to a GitHub output file (``$GITHUB_OUTPUT``), as the runners do.

    Appended, never replaced: the file is the whole step's, other commands may have written to it."""
    path = Path(path)
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise OSError(f"{path} is not a regular file: give the file GitHub names in $GITHUB_OUTPUT")
    with open(path, "a", encoding="utf-8", newline="\n") as f:
        f.write(f"{OUTPUT}={encode(fit(document))}\n")
    return path

