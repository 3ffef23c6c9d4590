"""A graded class's points in an LMS's gradebook-import layout: ``harness export --format canvas|moodle``.

Read: the last run of ``harness grade`` in its output folder (``gradebook.sqlite``, :func:`harness.gradebook.last_run`)
and the instructor's roster (:mod:`harness.lms.roster`), which maps each submission folder to the LMS's student.
Written: the LMS's file (:mod:`harness.lms.canvas`, :mod:`harness.lms.moodle`), one row per roster student who
has a graded submission, with the run's total points in one column named after the assignment; and beside it
``<name>.unmatched.csv`` (``canvas.csv``: ``canvas.unmatched.csv``), which lists what the LMS file leaves out, so that nothing is dropped without a word:

- a submission with no roster row (its points are in no LMS file until the roster names it);
- a roster student with no submission in the run (nothing to import for them);
- a matched submission that could not be graded (no row: the LMS keeps the grade it has; a blank or ``-``
  cell could clear it, and a 0 is a grade nobody decided).
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..gradebook import GRADED, Graded, GradebookError, LastRun, csv_text, last_run, spreadsheet_cell
from ..report import points
from ..results import POINTS_LIMIT, count
from . import canvas, moodle
from .roster import Roster, RosterError, Student, read_roster

LMS = ("canvas", "moodle")
UNMATCHED_SUFFIX = ".unmatched.csv"
NAME_LIMIT = 255  # characters of an assignment's name (Canvas's and Moodle's own limit)
OUT_OF_LIMIT = POINTS_LIMIT  # points an assignment can be out of, as a check's


class ExportError(Exception):
    """An export that cannot be made as asked. The message says how to fix it."""


@dataclass
class Export:
    lms: str
    assignment: str
    run: LastRun
    roster: Roster
    rows: list[list[str]]                                   # the LMS file, header first
    matched: list[tuple[Student, Graded]] = field(default_factory=list)
    unmatched_submissions: list[Graded] = field(default_factory=list)
    unmatched_students: list[Student] = field(default_factory=list)
    out_of: float | None = None                             # the points the file's grades are out of

    @property
    def not_graded(self) -> list[tuple[Student, Graded]]:
        return [(s, g) for s, g in self.matched if g.status != GRADED]

    def unmatched_rows(self) -> list[list[str]]:
        """``<file>.unmatched.csv``: one row per submission or student the LMS file leaves out."""
        rows = [["problem", "submission", "roster line", "student", "detail"]]
        for g in self.unmatched_submissions:
            rows.append(["submission without a roster row", g.name, "", "", _outcome(g) + _suggestion(g, self)])
        for s in self.unmatched_students:
            detail = ("the roster names no submission folder" if not s.submission else
                      f"no submission folder '{s.submission}' in the run")
            rows.append(["roster student without a submission", s.submission, str(s.line), s.label(), detail])
        for s, g in self.not_graded:
            rows.append(["not graded: left out", g.name, str(s.line), s.label(), g.reason])
        return [[spreadsheet_cell(c) for c in row] for row in rows]

    def summary(self, out: Path) -> list[str]:
        """What the terminal says: the file, then every submission or student it leaves out."""
        graded = len(self.matched) - len(self.not_graded)
        scaled = (f" (the harness's {points(self.run.points_possible)}, scaled)"
                  if self.out_of != self.run.points_possible and self.run.points_possible else "")
        lines = [f"wrote {out}: {self.lms.capitalize()}, assignment '{self.assignment}', {count(graded, 'grade')} out "
                 f"of {points(self.out_of)} points{scaled}"
                 + (f", {len(self.not_graded)} not graded: left out" if self.not_graded else "")
                 + f" (run {self.run.run_id}, {self.run.status} {self.run.finished})"]
        lines += [f"note: {n}" for n in self.roster.notes]
        for g in self.unmatched_submissions:
            lines.append(f"warning: submission '{g.name}' has no roster row ({_outcome(g)}){_suggestion(g, self)}; "
                         f"add a row with submission = '{g.name}'")
        for s in self.unmatched_students:
            lines.append(f"warning: {s.label()} has no submission in the run"
                         + (f" (no folder '{s.submission}')" if s.submission else ""))
        for s, g in self.not_graded:
            lines.append(f"warning: {s.label()}: submission '{g.name}' was not graded ({g.reason}); left out, the LMS keeps what it has")
        return lines


def _outcome(g: Graded) -> str:
    return f"graded {points(g.score)}/{points(g.max_score)}" if g.status == GRADED else f"not graded: {g.reason}"


def _suggestion(g: Graded, export: Export) -> str:
    free = [s.submission for s in export.unmatched_students if s.submission]
    close = difflib.get_close_matches(g.name, free, n=1, cutoff=0.75) or [
        s for s in free if s.casefold() == g.name.casefold()]
    return f"; the roster has '{close[0]}', with no such folder: the same student?" if close else ""


def check_assignment(name: str, lms: str) -> str:
    name = name.strip()
    if not name:
        raise ExportError("the assignment's name is empty; give --assignment NAME as the LMS names it")
    if any(c in name for c in "\r\n\t") or len(name) > NAME_LIMIT:
        raise ExportError(f"--assignment must be one line of at most {NAME_LIMIT} characters, as the LMS names it")
    problem = canvas.assignment_problem(name) if lms == "canvas" else None
    if problem:
        raise ExportError(f"--assignment '{name}': {problem}; name the assignment otherwise")
    return name


def build(folder: Path, roster_path: Path, lms: str, assignment: str | None = None,
          out_of: float | None = None) -> Export:
    """The export of the class graded into ``folder`` for ``lms``; raises ExportError, RosterError or
    GradebookError with what to fix. ``out_of``: the grades are scaled to this many points (the LMS assignment's
    maximum), else they are the harness's points."""
    if lms not in LMS:
        raise ExportError(f"no LMS layout '{lms}'; choose one of {', '.join(LMS)}")
    if out_of is not None and not (math.isfinite(out_of) and 0 < out_of <= OUT_OF_LIMIT):
        raise ExportError(f"--out-of must be a number of points above 0 and at most {OUT_OF_LIMIT:g}, not {out_of!r}: "
                          "the assignment's maximum in the LMS")
    run = last_run(folder)
    name = check_assignment(assignment if assignment is not None else "harness: " + ", ".join(run.tasks), lms)
    roster = read_roster(roster_path, lms)
    by_submission = roster.by_submission()
    in_run = {g.name: g for g in run.submissions}
    matched = [(s, in_run[s.submission]) for s in roster.students if s.submission in in_run]
    export = Export(lms, name, run, roster, [], matched,
                    [g for g in run.submissions if g.name not in by_submission],
                    [s for s in roster.students if s.submission not in in_run])
    top = run.points_possible
    export.out_of = top if out_of is None else out_of
    scale = export.out_of / top if top else 1.0
    scores = [(s, g.score * scale) for s, g in matched if g.status == GRADED and g.score is not None]
    export.rows = (canvas.table(scores, name, export.out_of) if lms == "canvas" else
                   moodle.table(scores, name, roster.columns))
    return export


def unmatched_path(out: Path) -> Path:
    out = Path(out)
    return out.with_name(out.stem + UNMATCHED_SUFFIX)


def write(export: Export, out: Path) -> tuple[Path, Path]:
    """Write the LMS file to ``out`` and the list of what it leaves out beside it (UTF-8, no byte-order mark),
    each atomically; returns both paths."""
    from ..files import write_output

    out = Path(out)
    if out.name.endswith(UNMATCHED_SUFFIX):
        raise ExportError(f"{out}: that name is kept for the list of unmatched rows; choose another")
    return write_output(out, csv_text(export.rows)), write_output(unmatched_path(out), csv_text(export.unmatched_rows()))
