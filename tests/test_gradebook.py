"""The gradebook (CSV, SQLite) and the class overview, from hand-built outcomes: no sandbox, no grading."""
from __future__ import annotations

import csv
import re
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.classrun import ClassRun, Outcome, count
from harness.gradebook import Database, csv_rows, write_csv
from harness.overview import check_rows, histogram, render_overview
from harness.results import CheckResult, Results, TaskResult

SCRIPT = "<script>alert('pwned')</script>"
SPECS = [SimpleNamespace(name="sequences", title="Preparing text", version="1", digest="s" * 16, max_score=5.0),
         SimpleNamespace(name="cells", title="Recurrent cells", version="2", digest="c" * 16, max_score=4.0)]


def results(name: str, cells: list[tuple[str, str, float, float, str]], seq: float = 5.0, seconds: float = 2.0,
            created: str = "2026-01-01T00:00:00+00:00") -> Results:
    """A Results of two tasks: the given cells checks (id, status, points, max, message) and one sequences check."""
    checks = [CheckResult(i, "cells", s, p, m, msg, hint="look at the gate") for i, s, p, m, msg in cells]
    checks.append(CheckResult("sequences.pad_sequences", "sequences", "passed" if seq == 5 else "failed", seq, 5.0,
                              "ok" if seq == 5 else "padding at the wrong end"))
    tasks = [TaskResult("cells", "Recurrent cells", "cells", "cells.py", sum(c[2] for c in cells),
                        sum(c[3] for c in cells), "2", "c" * 16),
             TaskResult("sequences", "Preparing text", "sequences", "sequences.py", seq, 5.0, "1", "s" * 16)]
    return Results(submission=f"class/{name}", harness_version="0.1.0", created=created, tasks=tasks, checks=checks,
                   environment={"submission_sha256": name * 3}, seconds=seconds)


def graded(name: str, *args, run: int = 1, how: str = "graded", **kwargs) -> Outcome:
    r = results(name, *args, **kwargs)
    return Outcome(name, Path("class") / name, "graded", results=r, content_hash=name * 3, how=how, graded_in_run=run,
                   seconds=r.seconds)


def not_graded(name: str, reason: str, how: str = "not graded") -> Outcome:
    return Outcome(name, Path("class") / name, "not graded", reason, content_hash=None, how=how)


FULL = [("cells.GRUCell.forward", "passed", 3.0, 3.0, "matches"), ("cells.RNNCell.shapes", "passed", 1.0, 1.0, "ok")]


@pytest.fixture
def outcomes() -> list[Outcome]:
    return [
        graded("zoë", FULL, seconds=9.5),
        graded("ada", [("cells.GRUCell.forward", "failed", 0.0, 3.0, "largest error 1.03 at index [0, 2]"),
                       ("cells.RNNCell.shapes", "passed", 1.0, 1.0, "ok")], seq=0.0, seconds=1.0),
        graded("ben", [("cells.GRUCell.forward", "failed", 0.0, 3.0, "largest error 0.25 at index [1, 0]"),
                       ("cells.RNNCell.shapes", "error", 0.0, 1.0, f"your code raised {SCRIPT}")], seconds=3.0),
        not_graded("=cmd|calc", "an archive (=cmd|calc.zip), not a folder"),
        not_graded("eve", "=HYPERLINK(\"http://x\")"),
        not_graded(SCRIPT, "empty folder: nothing was submitted"),
    ]


def test_csv_is_one_row_per_student_with_stable_columns(outcomes, tmp_path):
    path = write_csv(outcomes, SPECS, tmp_path / "gradebook.csv")
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") and "zoë".encode() in raw  # UTF-8, no byte-order mark
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["student", "cells", "sequences", "total", "max", "percentage", "status"]  # tasks by name
    assert [r[0].lstrip("'") for r in rows[1:]] == sorted(o.name for o in outcomes)  # no index column; by student
    by_name = {r[0]: dict(zip(rows[0], r)) for r in rows[1:]}
    assert by_name["zoë"] == {"student": "zoë", "cells": "4", "sequences": "5", "total": "9", "max": "9",
                              "percentage": "100.0", "status": "graded"}
    assert by_name["ada"]["cells"] == "1" and by_name["ada"]["sequences"] == "0" and by_name["ada"]["percentage"] == "11.1"
    empty = by_name[SCRIPT]
    assert (empty["cells"], empty["total"], empty["percentage"]) == ("", "", "")  # blank, not a zero nobody decided
    assert empty["max"] == "9" and empty["status"] == "empty folder: nothing was submitted"
    assert "'=cmd|calc" in by_name and by_name["eve"]["status"].startswith("'=HYPERLINK")  # not run as formulas
    assert csv_rows(outcomes, SPECS) == csv_rows(list(reversed(outcomes)), SPECS)


def test_sqlite_keeps_every_run_and_links_kept_results_to_the_run_that_graded_them(outcomes, tmp_path):
    path = tmp_path / "gradebook.sqlite"
    with Database(path) as db:
        first = db.start_run(started="t0", harness_version="0.1.0", specs=SPECS, workers=2, scheduler=None,
                             submissions_dir=Path("class"), out_dir=tmp_path, regrade=False)
        for o in outcomes:
            db.record(first, o)
        db.finish_run(first, finished="t1", status="finished", graded=3, up_to_date=0, not_graded=2)
        second = db.start_run(started="t2", harness_version="0.1.0", specs=SPECS, workers=None,
                              scheduler="tcp://127.0.0.1:8786", submissions_dir=Path("class"), out_dir=tmp_path,
                              regrade=False)
        kept = outcomes[0]
        assert db.graded_in(kept.name, kept.content_hash, kept.results.created) == first
        db.record(second, Outcome(kept.name, kept.path, "graded", results=kept.results, content_hash=kept.content_hash,
                                  how="up to date", graded_in_run=first))
        db.record(second, graded("ada", FULL, run=second, created="2026-01-02T00:00:00+00:00"))
        db.finish_run(second, finished="t3", status="finished", graded=1, up_to_date=1, not_graded=0)

    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"runs", "submissions", "outcomes", "check_results", "task_scores"} <= tables
    columns = {r[1] for r in conn.execute("PRAGMA table_info(check_results)")}
    assert {"run_id", "submission", "check_id", "task", "status", "points", "max_points", "message", "hint"} <= columns
    runs = conn.execute("SELECT run_id, status, workers, scheduler, spec_digests FROM runs ORDER BY run_id").fetchall()
    assert [(r[0], r[1], r[2], r[3]) for r in runs] == [(1, "finished", 2, None), (2, "finished", None, "tcp://127.0.0.1:8786")]
    assert '"cells": {"version": "2", "digest": "cccccccccccccccc"}' in runs[0][4]
    # checks are stored once, under the run that graded them
    assert conn.execute("SELECT count(*) FROM check_results WHERE run_id = 2 AND submission = 'zoë'").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM check_results WHERE run_id = 2 AND submission = 'ada'").fetchone()[0] == 3
    # the documented query: everyone's checks as of the last run, kept ones included
    latest = conn.execute(
        "SELECT o.submission, count(*), sum(c.points) FROM outcomes o JOIN check_results c "
        "ON c.run_id = o.graded_in_run AND c.submission = o.submission "
        "WHERE o.run_id = (SELECT max(run_id) FROM runs) GROUP BY o.submission ORDER BY o.submission").fetchall()
    assert latest == [("ada", 3, 9.0), ("zoë", 3, 9.0)]
    history = conn.execute("SELECT run_id, score, how FROM outcomes WHERE submission = 'ada' ORDER BY run_id").fetchall()
    assert history == [(1, 1.0, "graded"), (2, 9.0, "graded")]
    assert conn.execute("SELECT reason FROM outcomes WHERE submission = ?", (SCRIPT,)).fetchone()[0].startswith("empty")
    # one row per version of a student's files
    assert conn.execute("SELECT count(*) FROM submissions WHERE name = 'ada'").fetchone()[0] == 1
    assert {r[0] for r in conn.execute("SELECT task FROM task_scores WHERE run_id = 1 AND submission = 'ben'")} == \
        {"cells", "sequences"}


def run_of(outcomes: list[Outcome], interrupted: bool = False) -> ClassRun:
    return ClassRun(7, Path("out"), outcomes, SPECS, "2026-01-01T00:00:00+00:00", "2026-01-01T00:01:00+00:00", 2,
                    None, interrupted, 60.0, count(outcomes))


def test_overview_counts_links_reasons_and_escapes(outcomes):
    page = render_overview(run_of(outcomes))
    assert "6 submissions" in page and "<strong>3</strong> graded" in page and "<strong>3</strong> could not be graded" in page
    for name in ("zo%C3%AB", "ada", "ben"):
        assert f'href="submissions/{name}/report.html"' in page
    assert page.count("/report.html") == 3 + 3  # every graded one, and the slowest list
    assert "an archive (=cmd|calc.zip), not a folder" in page and "empty folder: nothing was submitted" in page
    assert SCRIPT not in page and "&lt;script&gt;" in page
    assert "<svg" in page and "Recurrent cells" in page and "Preparing text" in page
    assert not re.search(r'(src|href)="(https?:)?//', page) and "<script" not in page  # opens offline, nothing to fetch
    slowest = page[page.index("Slowest to grade"):page.index("All submissions")]
    assert slowest.index("zo") < slowest.index("ben") < slowest.index("ada")
    assert "stopped before every submission" in render_overview(run_of(outcomes, interrupted=True))


def test_pass_rates_worst_first_with_the_most_common_failure(outcomes):
    rows = check_rows([o for o in outcomes if o.results])
    assert [r["id"] for r in rows] == ["cells.GRUCell.forward", "cells.RNNCell.shapes", "sequences.pad_sequences"]
    gru = rows[0]
    assert (gru["n"], gru["passed"], gru["rate"], gru["failures"]) == (3, 1, 33.3, 2)
    # the same mistake with other numbers is one message
    assert gru["message"] == "largest error 1.03 at index [0, 2]" and gru["message_count"] == 2
    assert rows[1]["rate"] == rows[2]["rate"] == 66.7 and SCRIPT in rows[1]["message"]


def test_histogram_is_deterministic_and_self_contained():
    shares = [100.0, 88.4, 93.0, 100.0, 12.5, 0.0]
    svg = histogram(shares)
    assert svg.startswith("<svg") and svg == histogram(list(shares))
    assert "<metadata>" not in svg and "http://" not in svg.replace("http://www.w3.org", "")
    assert 'aria-label="Histogram of 6 scores; median 91 percent"' in svg
    assert histogram([]) == ""
