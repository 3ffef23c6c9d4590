"""The results document: NaN and infinities survive a write and a read, every string is cut to its stated
length, old documents still read, and whatever a submission put in its results renders in the report, the
gradebook and the class overview without an exception."""
from __future__ import annotations

import json
import math
import sqlite3
import string
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.classrun import ClassRun, Outcome, count
from harness.gradebook import Database, csv_rows, write_csv
from harness.overview import render_overview
from harness.report import render_report
from harness.results import (DEPTH_LIMIT, NAME_LIMIT, NOTES_LIMIT, SCHEMA_VERSION, TEXT_LIMIT, CheckResult,
                             Results, TaskResult, cut)

SPECS = [SimpleNamespace(name="cells", title="Recurrent cells", version="1", digest="c" * 16, max_score=2.0)]
HUGE = "-" * (20 << 20)  # a 20 MB value, as a hostile harness.toml or notebook line can carry


def results_with(numbers: dict, message: str = "ok", notes=(), source: str = "cells.py", figures=()) -> Results:
    checks = [CheckResult("cells.LSTMCell.gradcheck", "cells", "failed", 0.0, 1.0, message, hint="fix it",
                          numbers=numbers),
              CheckResult("cells.LSTMCell.forward", "cells", "passed", 1.0, 1.0, "matches")]
    tasks = [TaskResult("cells", "Recurrent cells", "cells", source, 1.0, 2.0, "1", "c" * 16)]
    return Results(submission="class/ada", harness_version="0.1.0", created="2026-01-01T00:00:00+00:00",
                   tasks=tasks, checks=checks, figures=list(figures), notes=list(notes), seconds=1.5)


def strict_json(text: str):
    """Parse ``text`` as JSON that other languages can read: no NaN, Infinity or -Infinity tokens."""
    def refuse(token):
        raise ValueError(f"{token} is not JSON")
    return json.loads(text, parse_constant=refuse)


def same(a, b) -> bool:
    """Equal trees, NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def class_outputs(outcomes: list[Outcome], out: Path) -> dict[str, int]:
    """The gradebook (CSV and SQLite) and the overview for ``outcomes``; the size of each in bytes."""
    write_csv(outcomes, SPECS, out / "gradebook.csv")
    with Database(out / "gradebook.sqlite") as db:
        run_id = db.start_run(started="now", harness_version="0.1.0", specs=SPECS, workers=1, scheduler=None,
                              submissions_dir=out, out_dir=out, regrade=False)
        for o in outcomes:
            db.record(run_id, o)
    run = ClassRun(1, out, outcomes, SPECS, "now", "later", 1, None, counts=count(outcomes))
    (out / "index.html").write_text(render_overview(run), encoding="utf-8")
    return {name: (out / name).stat().st_size for name in ("gradebook.csv", "gradebook.sqlite", "index.html")}


def graded(name: str, results: Results) -> Outcome:
    return Outcome(name, Path("class") / name, "graded", results=results, content_hash="h", graded_in_run=1)


# --------------------------------------------------------------------------- NaN and infinities


def test_nan_and_infinities_are_written_as_strings_and_read_back_as_floats(tmp_path):
    numbers = {"directional": {"x": {"analytic": math.nan, "numeric": math.inf}, "h0": {"analytic": -math.inf}},
               "losses": [1.0, math.nan], "count": 3}
    path = tmp_path / "results.json"
    results_with(numbers).write(path)
    document = strict_json(path.read_text(encoding="utf-8"))
    assert document["schema_version"] == SCHEMA_VERSION == 3
    assert document["checks"][0]["numbers"]["directional"]["x"] == {"analytic": "NaN", "numeric": "Infinity"}
    assert document["checks"][0]["numbers"]["losses"] == [1.0, "NaN"]
    back = Results.read(path)
    assert same(back.checks[0].numbers, numbers)
    assert back.score == 1.0 and back.max_score == 2.0


def test_only_numbers_are_read_back_as_non_finite_floats():
    """A message or a note spelled like a non-finite number stays text; in numbers, the string reads as the float."""
    back = Results.from_json(results_with({"label": "NaN"}, message="NaN", notes=["Infinity"]).to_json())
    assert back.checks[0].message == "NaN" and back.notes == ["Infinity"]
    assert math.isnan(back.checks[0].numbers["label"])


def test_the_report_shows_nan_where_the_numbers_hold_it(tmp_path):
    results = results_with({"directional": {"x": {"analytic": math.nan, "numeric": -math.inf}}},
                           message="NaN or infinite gradients for x")
    html = render_report(results)
    assert '"analytic": NaN' in html.replace("&#34;", '"') and "-Infinity" in html


def test_points_that_are_not_a_finite_number_score_nothing():
    check = CheckResult("c", "cells", "passed", math.nan, 1.0, "ok")
    assert check.points == 0.0
    assert CheckResult("c", "cells", "failed", 0.0, math.inf, "ok").max_points == 0.0
    assert CheckResult("c", "cells", "passed", 1e306, 1.0, "ok").points == 1.0  # never more than the check is worth
    assert CheckResult("c", "cells", "failed", -3.0, 1.0, "ok").points == 0.0


def test_a_schema_2_document_is_still_read(tmp_path):
    """A resumed run reads the results.json of a run made before version 3."""
    old = results_with({"max_error": 0.5}).to_dict()
    old["schema_version"] = 2
    path = tmp_path / "results.json"
    path.write_text(json.dumps(old), encoding="utf-8")
    back = Results.read(path)
    assert back.checks[0].numbers == {"max_error": 0.5} and back.schema_version == SCHEMA_VERSION


@pytest.mark.parametrize("version", [1, 4, None, "3"])
def test_a_document_of_another_schema_is_refused_by_name(version):
    document = results_with({}).to_dict()
    document["schema_version"] = version
    with pytest.raises(ValueError, match="results schema"):
        Results.from_dict(document)


@pytest.mark.parametrize("change", [{"checks": [["not", "a", "check"]]}, {"tasks": 3}, {"notes": 5},
                                    {"checks": [{"id": "x"}]}, {"figures": None, "extra": 1}])
def test_a_malformed_document_is_a_value_error(change):
    """What a resumed run catches to grade the submission again, whatever is wrong with the file."""
    with pytest.raises(ValueError, match="malformed"):
        Results.from_dict({**results_with({}).to_dict(), **change})


# --------------------------------------------------------------------------- strings a submission controls


def test_cut_keeps_short_text_and_says_how_much_it_cut():
    assert cut("short") == "short"
    long = cut("x" * 10_000)
    assert len(long) <= TEXT_LIMIT and long.endswith("more characters cut]") and "6" in long[-40:]
    assert cut("\ud800 lone surrogate").encode("utf-8")  # one that UTF-8 can hold


def test_a_20_mb_string_reaches_neither_results_nor_gradebook_nor_overview(tmp_path):
    """What the submission controls — its output quoted in a message, a note about one of its lines, the name of
    its module's file, text in numbers and figures — is cut before it reaches any file."""
    results = results_with({"traceback": HUGE, HUGE[:300]: 1, "deep": _nested(50)}, message=HUGE,
                           notes=[HUGE] * (NOTES_LIMIT + 5), source=HUGE, figures=[{"id": "f", "data": HUGE}])
    check = results.checks[0]
    assert len(check.message) <= TEXT_LIMIT and len(check.numbers["traceback"]) <= TEXT_LIMIT
    assert all(len(k) <= NAME_LIMIT for k in check.numbers)
    assert len(results.tasks[0].source) <= NAME_LIMIT
    assert len(results.notes) == NOTES_LIMIT + 1 and "5 more notes" in results.notes[-1]
    assert _depth(check.numbers) <= DEPTH_LIMIT + 1
    path = tmp_path / "results.json"
    results.write(path)
    assert path.stat().st_size < 2 << 20
    results = Results.read(path)
    outcomes = [graded("ada", results),
                Outcome("eve", Path("class/eve"), "not graded", cut(HUGE), content_hash=None, how="not graded")]
    sizes = class_outputs(outcomes, tmp_path)
    assert all(size < 2 << 20 for size in sizes.values()), sizes
    assert len(render_report(results)) < 2 << 20


def _nested(levels: int):
    tree: object = "leaf"
    for _ in range(levels):
        tree = {"down": tree}
    return tree


def _depth(tree) -> int:
    if isinstance(tree, dict):
        return 1 + max((_depth(v) for v in tree.values()), default=0)
    if isinstance(tree, list):
        return 1 + max((_depth(v) for v in tree), default=0)
    return 0


# --------------------------------------------------------------------------- generated results


FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([math.nan, math.inf, -math.inf]))
TEXTS = st.one_of(st.text(max_size=30), st.sampled_from(["NaN", "Infinity", "<script>x</script>", "=cmd|calc", ""]),
                  st.integers(0, 3 * TEXT_LIMIT).map(lambda n: "y" * n))
KEYS = st.one_of(st.text(string.ascii_letters + "_", min_size=1, max_size=12),
                 st.sampled_from(["traceback", "output", "diagnosis", "directional", "file", "line"]))
LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), FLOATS, TEXTS)
TREES = st.recursive(LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(KEYS, inner, max_size=4)), max_leaves=25)
SERIES = st.fixed_dictionaries({"label": TEXTS, "values": st.lists(FLOATS, max_size=6)}, optional={"who": TEXTS})
FIGURES = st.one_of(TREES, st.fixed_dictionaries({"kind": st.sampled_from(["lines", "bars", "matrix", "text", "heatmaps"]),
                                                  "series": st.lists(SERIES, max_size=3)},
                                                 optional={"values": st.lists(st.lists(FLOATS, max_size=3), max_size=3),
                                                           "log_y": st.booleans(), "x_label": TEXTS}))
STATUSES = st.sampled_from(["passed", "failed", "error", "skipped"])
CHECKS = st.builds(CheckResult, id=TEXTS, task=st.just("cells"), status=STATUSES, points=FLOATS, max_points=FLOATS,
                   message=TEXTS, hint=TEXTS, numbers=st.dictionaries(KEYS, TREES, max_size=5),
                   visibility=st.sampled_from(["public", "hidden"]), seconds=FLOATS)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(checks=st.lists(CHECKS, min_size=1, max_size=4), notes=st.lists(TEXTS, max_size=3), figure=FIGURES)
def test_generated_results_go_through_write_read_report_and_gradebook(tmp_path_factory, checks, notes,
                                                                                figure):
    out = tmp_path_factory.mktemp("class")
    tasks = [TaskResult("cells", "Recurrent cells", "cells", "cells.py", 0.0, 1.0, "1", "c" * 16)]
    results = Results(submission="class/ada", harness_version="0.1.0", created="2026-01-01T00:00:00+00:00",
                      tasks=tasks, checks=checks, notes=notes, figures=[{"id": "f", "title": "t", "task": "cells",
                                                                         "data": figure}])
    text = results.to_json()
    strict_json(text)
    back = Results.from_json(text)
    assert math.isfinite(back.score) and math.isfinite(back.max_score)
    for before, after in zip(results.checks, back.checks):
        assert same(after.numbers, before.numbers) or _spells_a_non_finite(before.numbers)
        assert len(after.message) <= TEXT_LIMIT and len(after.id) <= NAME_LIMIT
    assert all(0 <= c.points <= c.max_points for c in back.checks)
    render_report(back)
    write_csv([graded("ada", back)], SPECS, out / "gradebook.csv")
    with Database(out / "gradebook.sqlite") as db:
        db.record(db.start_run(started="now", harness_version="0.1.0", specs=SPECS, workers=1, scheduler=None,
                               submissions_dir=out, out_dir=out, regrade=False), graded("ada", back))
    with sqlite3.connect(out / "gradebook.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM check_results").fetchone()[0] == len(checks)


def _spells_a_non_finite(tree) -> bool:
    """Whether a string of the tree is spelled as a non-finite number is (it reads back as that float)."""
    if isinstance(tree, str):
        return tree in ("NaN", "Infinity", "-Infinity")
    if isinstance(tree, dict):
        return any(_spells_a_non_finite(v) for v in tree.values())
    if isinstance(tree, list):
        return any(_spells_a_non_finite(v) for v in tree)
    return False


DOCUMENT_FIELDS = st.sampled_from(["schema_version", "submission", "tasks", "checks", "figures", "notes", "environment",
                                   "sandbox", "seconds", "created", "unknown"])
CHECK_FIELDS = st.sampled_from(["id", "status", "points", "max_points", "message", "numbers", "seconds", "visibility"])


@settings(max_examples=80, deadline=None, derandomize=True)
@given(changes=st.dictionaries(DOCUMENT_FIELDS, TREES, max_size=2),
       check_changes=st.dictionaries(CHECK_FIELDS, TREES, max_size=2))
def test_generated_documents_read_or_are_refused_and_what_reads_renders(changes, check_changes):
    """A results.json as a resumed run may find it, generated: it reads (and then writes and renders) or it is a
    ValueError, which the run takes as 'grade again'."""
    document = results_with({"x": math.nan}).to_dict()
    document["checks"][0] = {**document["checks"][0], **check_changes}
    document = {**document, **changes}
    try:
        results = Results.from_dict(json.loads(json.dumps(document)))
    except ValueError:
        return
    strict_json(results.to_json())
    render_report(results)
    assert len(csv_rows([graded("ada", results)], SPECS)) == 2
