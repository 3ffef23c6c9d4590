"""The gradebook of a class: a CSV of its points and an SQLite history of every run (an LMS's own import
layout is ``harness export --format canvas|moodle``'s, harness.lms, read from :func:`last_run`).

Both are written from the outcomes of a run (``harness.classrun``, made by ``harness.batch``),
which carry each submission's Results document; nothing here grades or reads a submission.

``gradebook.csv`` — UTF-8, a header row, no index column, one row per student (the submission
folder's name) in name order (text that a spreadsheet would run as a formula, starting with = + - @,
gets a leading '), columns ``student, <task>… (in task-name order), total, max,
percentage, status``. Points are written as people write them (3, 2.5); ``status`` is ``graded``
or the reason the submission could not be graded, in which case its points, total and percentage
are left blank (not a zero nobody decided).

``gradebook.sqlite`` — every ``harness grade`` is a run; re-runs append. Schema::

    runs(run_id INTEGER PRIMARY KEY, started TEXT, finished TEXT, status TEXT,   -- running | finished | interrupted
         harness_version TEXT, tasks TEXT,            -- JSON list of task names
         spec_digests TEXT,                           -- JSON {task: {"version", "digest"}}
         workers INTEGER, scheduler TEXT,             -- a local pool of N processes, or a Dask address
         submissions_dir TEXT, out_dir TEXT, regrade INTEGER,
         graded INTEGER, up_to_date INTEGER, not_graded INTEGER)
    submissions(name TEXT, content_hash TEXT, path TEXT, first_run INTEGER,
                PRIMARY KEY (name, content_hash))     -- one row per version of a submission's files
                                                      -- (content_hash '' when they could not be read)
    outcomes(run_id INTEGER, submission TEXT, content_hash TEXT,
             status TEXT,                             -- graded | not graded
             reason TEXT,                             -- why not graded ('' when graded)
             how TEXT,                                -- graded: in this run; up to date: kept from
                                                      -- graded_in_run; imported: a results.json this
                                                      -- database had not seen, recorded under this run;
                                                      -- not graded; not reached: the run was stopped
             graded_in_run INTEGER,                   -- the run whose check_results hold its checks
             score REAL, max_score REAL, seconds REAL, created TEXT,
             PRIMARY KEY (run_id, submission))
    check_results(run_id INTEGER, submission TEXT, check_id TEXT, task TEXT, status TEXT,
                  points REAL, max_points REAL, message TEXT, hint TEXT, visibility TEXT, seconds REAL)
    task_scores(run_id INTEGER, submission TEXT, task TEXT, score REAL, max_score REAL,
                spec_version TEXT, spec_digest TEXT)

Check results and task scores are stored once, under the run that graded them; a later run that
finds a submission up to date links to that run through ``outcomes.graded_in_run``. For example,
every student's checks as of the last run::

    SELECT o.submission, c.check_id, c.status, c.points
    FROM outcomes o JOIN check_results c ON c.run_id = o.graded_in_run AND c.submission = o.submission
    WHERE o.run_id = (SELECT max(run_id) FROM runs);

and one student's history: ``SELECT run_id, status, score, how FROM outcomes WHERE submission = 'alice'``.
:func:`last_run` reads the last finished (or stopped) run's outcomes, without writing: what ``harness export
--format canvas|moodle`` exports (harness.lms).
"""
from __future__ import annotations

import csv
import io
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from .classrun import GRADED, Outcome
from .files import check_output, write_output
from .report import percent, points

if TYPE_CHECKING:  # pragma: no cover
    from .spec import TaskSpec

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run these as formulas

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY, started TEXT NOT NULL, finished TEXT, status TEXT NOT NULL,
    harness_version TEXT, tasks TEXT, spec_digests TEXT, workers INTEGER, scheduler TEXT,
    submissions_dir TEXT, out_dir TEXT, regrade INTEGER,
    graded INTEGER, up_to_date INTEGER, not_graded INTEGER);
CREATE TABLE IF NOT EXISTS submissions (
    name TEXT NOT NULL, content_hash TEXT NOT NULL, path TEXT, first_run INTEGER REFERENCES runs(run_id),
    PRIMARY KEY (name, content_hash));
CREATE TABLE IF NOT EXISTS outcomes (
    run_id INTEGER NOT NULL REFERENCES runs(run_id), submission TEXT NOT NULL, content_hash TEXT,
    status TEXT NOT NULL, reason TEXT, how TEXT NOT NULL, graded_in_run INTEGER REFERENCES runs(run_id),
    score REAL, max_score REAL, seconds REAL, created TEXT,
    PRIMARY KEY (run_id, submission));
CREATE TABLE IF NOT EXISTS check_results (
    run_id INTEGER NOT NULL REFERENCES runs(run_id), submission TEXT NOT NULL, check_id TEXT NOT NULL,
    task TEXT, status TEXT, points REAL, max_points REAL, message TEXT, hint TEXT, visibility TEXT, seconds REAL);
CREATE INDEX IF NOT EXISTS check_results_by_submission ON check_results (submission, run_id);
CREATE TABLE IF NOT EXISTS task_scores (
    run_id INTEGER NOT NULL REFERENCES runs(run_id), submission TEXT NOT NULL, task TEXT NOT NULL,
    score REAL, max_score REAL, spec_version TEXT, spec_digest TEXT,
    PRIMARY KEY (run_id, submission, task));
"""


# --------------------------------------------------------------------------- CSV


def csv_header(specs: Iterable[TaskSpec]) -> list[str]:
    return ["student", *sorted(s.name for s in specs), "total", "max", "percentage", "status"]


def csv_rows(outcomes: Iterable[Outcome], specs: list[TaskSpec]) -> list[list[str]]:
    """The gradebook as rows of strings, header first."""
    header = csv_header(specs)
    tasks = header[1:-4]
    full_marks = {s.name: s.max_score for s in specs}
    rows = [header]
    for o in sorted(outcomes, key=lambda o: o.name):
        if o.status == GRADED and o.results is not None:
            scores = {t.name: t.score for t in o.results.tasks}
            score, top = o.results.score, o.results.max_score
            pct = percent(score, top)
            rows.append([spreadsheet_cell(o.name), *(points(scores[t]) if t in scores else "" for t in tasks), points(score),
                         points(top), "" if pct is None else f"{pct:.1f}", GRADED])
        else:
            top = sum(full_marks[t] for t in tasks)
            rows.append([spreadsheet_cell(o.name), *("" for _ in tasks), "", points(top), "", spreadsheet_cell(o.reason)])
    return rows


def write_csv(outcomes: Iterable[Outcome], specs: list[TaskSpec], path: Path) -> Path:
    """Write ``gradebook.csv`` (atomically: a reader never sees half a file)."""
    return write_output(path, csv_text(csv_rows(outcomes, specs)))


def csv_text(rows: Iterable[list[str]]) -> str:
    """Rows as the text of a CSV file (the csv module's default dialect: commas, CRLF line ends), the gradebook's
    and the LMS files' alike."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


def spreadsheet_cell(text: str) -> str:
    """Text a spreadsheet shows as text, on one line: a folder or file name may start with '='."""
    text = " ".join(str(text).split())
    return "'" + text if text.startswith(FORMULA_STARTS) else text


# --------------------------------------------------------------------------- SQLite


@dataclass(frozen=True)
class Graded:
    """One submission as the last run of a class left it (a row of ``outcomes``)."""

    name: str
    status: str          # graded | not graded
    reason: str          # why not graded ('' when graded)
    score: float | None
    max_score: float | None


@dataclass(frozen=True)
class LastRun:
    """What ``harness export --format canvas|moodle`` reads: the last finished (or stopped) run of a class."""

    run_id: int
    status: str          # finished | interrupted
    finished: str
    tasks: list[str]
    submissions: list[Graded]  # in name order

    @property
    def points_possible(self) -> float | None:
        """The full marks of the run's tasks, as its graded submissions record them (None: none was graded)."""
        tops = {s.max_score for s in self.submissions if s.status == GRADED and s.max_score is not None}
        if len(tops) > 1:
            raise GradebookError(f"run {self.run_id} graded submissions out of different full marks "
                                 f"({', '.join(points(t) for t in sorted(tops))}); grade the class again with "
                                 "harness grade --regrade")
        return tops.pop() if tops else None


class GradebookError(Exception):
    """A class folder whose gradebook cannot be read. The message says what to do."""


def last_run(out: Path) -> LastRun:
    """The last run of ``harness grade`` recorded in ``out/gradebook.sqlite`` that finished or was stopped
    (a run still going, or one that failed, is passed over), read without writing to the database."""
    path = Path(out) / "gradebook.sqlite"
    if not path.is_file() or path.is_symlink():
        raise GradebookError(f"{out} holds no gradebook.sqlite: give the folder harness grade wrote "
                             "(its --out), once a run has finished")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            run = conn.execute("SELECT run_id, status, finished, tasks FROM runs WHERE status IN "
                               "('finished', 'interrupted') ORDER BY run_id DESC LIMIT 1").fetchone()
            if run is None:
                raise GradebookError(f"{path}: no run of harness grade has finished yet")
            rows = conn.execute("SELECT submission, status, reason, score, max_score FROM outcomes "
                                "WHERE run_id = ? ORDER BY submission", (run[0],)).fetchall()
        finally:
            conn.close()
        tasks = json.loads(run[3] or "[]")
    except (sqlite3.Error, ValueError) as exc:
        raise GradebookError(f"{path} cannot be read as the gradebook harness grade writes ({exc})") from None
    return LastRun(int(run[0]), run[1], run[2] or "", [str(t) for t in tasks],
                   [Graded(str(n), str(st), str(r or ""), sc, mx) for n, st, r, sc, mx in rows])


class Database:
    """``gradebook.sqlite``: runs, submissions, outcomes, check results and task scores (see above)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        check_output(self.path)  # SQLite opens it by name: never a link planted there
        self.conn = sqlite3.connect(self.path, timeout=30)
        self.conn.execute("PRAGMA foreign_keys = ON")
        with self.conn:
            self.conn.executescript(SCHEMA)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start_run(self, *, started: str, harness_version: str, specs: list[TaskSpec], workers: int | None,
                  scheduler: str | None, submissions_dir: Path, out_dir: Path, regrade: bool) -> int:
        digests = {s.name: {"version": s.version, "digest": s.digest} for s in sorted(specs, key=lambda s: s.name)}
        with self.conn:
            cursor = self.conn.execute(
                "INSERT INTO runs (started, status, harness_version, tasks, spec_digests, workers, scheduler, "
                "submissions_dir, out_dir, regrade) VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)",
                (started, harness_version, json.dumps(sorted(digests)), json.dumps(digests), workers, scheduler,
                 str(submissions_dir), str(out_dir), int(regrade)))
        return int(cursor.lastrowid)

    def finish_run(self, run_id: int, *, finished: str, status: str, graded: int, up_to_date: int,
                   not_graded: int) -> None:
        with self.conn:
            self.conn.execute("UPDATE runs SET finished = ?, status = ?, graded = ?, up_to_date = ?, not_graded = ? "
                              "WHERE run_id = ?", (finished, status, graded, up_to_date, not_graded, run_id))

    def vouch(self, name: str, content_hash: str | None, created: str, score: float, digests: dict[str, str]) -> int | None:
        """The run that graded these files into Results created at ``created`` with this score, under these specs'
        full digests (task -> digest, hidden checks included), if this database recorded it; else None. A
        results.json it cannot vouch for proves nothing and is graded again."""
        row = self.conn.execute(
            "SELECT o.run_id, o.score, r.spec_digests FROM outcomes o JOIN runs r ON r.run_id = o.run_id "
            "WHERE o.submission = ? AND o.content_hash = ? AND o.created = ? AND o.how = 'graded' "
            "ORDER BY o.run_id DESC LIMIT 1", (name, content_hash or "", created)).fetchone()
        if row is None or row[1] is None or abs(float(row[1]) - score) > 1e-6:
            return None
        try:
            recorded = {task: entry["digest"] for task, entry in json.loads(row[2] or "{}").items()}
        except (ValueError, TypeError, KeyError):
            return None
        return int(row[0]) if all(recorded.get(task) == d for task, d in digests.items()) else None

    def graded_in(self, name: str, content_hash: str | None, created: str) -> int | None:
        """The run that graded this submission's files into the Results created at ``created``, if recorded."""
        row = self.conn.execute(
            "SELECT run_id FROM outcomes WHERE submission = ? AND content_hash = ? AND created = ? "
            "AND how IN ('graded', 'imported') ORDER BY run_id DESC LIMIT 1",
            (name, content_hash or "", created)).fetchone()
        return None if row is None else int(row[0])

    def record(self, run_id: int, outcome: Outcome) -> None:
        """What this run found for one submission, in one transaction; checks only when graded in this run."""
        results = outcome.results
        content_hash = outcome.content_hash or ""
        with self.conn:
            self.conn.execute("INSERT OR IGNORE INTO submissions (name, content_hash, path, first_run) "
                              "VALUES (?, ?, ?, ?)", (outcome.name, content_hash, str(outcome.path), run_id))
            self.conn.execute(
                "INSERT OR REPLACE INTO outcomes (run_id, submission, content_hash, status, reason, how, graded_in_run, "
                "score, max_score, seconds, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, outcome.name, content_hash, outcome.status, outcome.reason, outcome.how, outcome.graded_in_run,
                 results.score if results else None, results.max_score if results else None,
                 results.seconds if results else outcome.seconds, results.created if results else None))
            if results is None or outcome.graded_in_run != run_id:
                return
            self.conn.execute("DELETE FROM check_results WHERE run_id = ? AND submission = ?", (run_id, outcome.name))
            self.conn.executemany(
                "INSERT INTO check_results (run_id, submission, check_id, task, status, points, max_points, message, "
                "hint, visibility, seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(run_id, outcome.name, c.id, c.task, c.status, c.points, c.max_points, c.message, c.hint,
                  c.visibility, c.seconds) for c in results.checks])
            self.conn.executemany(
                "INSERT OR REPLACE INTO task_scores (run_id, submission, task, score, max_score, spec_version, "
                "spec_digest) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(run_id, outcome.name, t.name, t.score, t.max_score, t.spec_version, t.spec_digest)
                 for t in results.tasks])
