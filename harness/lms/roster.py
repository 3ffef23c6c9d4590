"""The roster: the instructor's CSV that says which LMS student each submission folder belongs to.

A CSV file, UTF-8 (a byte-order mark is fine), separated by commas (or semicolons, or tabs: the header row
decides), with a header row. Column names are matched without regard to case or surrounding spaces; other
columns are ignored, so an export of the LMS's own gradebook with one column added serves as the roster.

``submission``
    the submission's folder name, as ``harness grade`` named its row in ``gradebook.csv``. May be blank: a
    student the instructor has no submission for (listed as a student without a submission).
Canvas: ``Student``, ``ID``, ``SIS User ID``, ``SIS Login ID``, ``Section``
    Canvas's own columns, copied into the import file. Canvas finds the student by ``ID``, else by the SIS
    ids; each row needs at least one of the three (Canvas would otherwise match by name alone).
Moodle: ``Email address``, ``ID number``, ``Username``
    the user fields Moodle's import can map a column from. A column is written only when every row fills it
    (Moodle gives a row with a blank identifier the previous row's student); at least one must be.

Refused, with the line and the fix: a file that is not UTF-8 text, a missing ``submission`` column or
identifier column, the same submission or the same identifier on two rows, a row without an identifier. A
row whose first cell reads ``Points Possible`` (Canvas's export has one under its header) is not a student
and is skipped.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

ROSTER_LIMIT = 8 * 1024 * 1024  # bytes of a roster: some 100 000 students
SUBMISSION = "submission"
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_IDS = ("ID", "SIS User ID", "SIS Login ID")
MOODLE_IDS = ("Email address", "ID number", "Username")
IDENTIFIERS = {"canvas": CANVAS_IDS, "moodle": MOODLE_IDS}
COLUMNS = {"canvas": CANVAS_COLUMNS, "moodle": MOODLE_IDS}
CANVAS_POINTS_ROW = "points possible"
SAVE_AS_UTF8 = ("save it as UTF-8 text (Excel: Save As > \"CSV UTF-8\"; LibreOffice: Character set \"Unicode "
                "(UTF-8)\"; Google Sheets: File > Download > CSV)")


class RosterError(Exception):
    """A roster that cannot be used. The message names the file, the line or column, and the fix."""


@dataclass(frozen=True)
class Student:
    """One row of the roster: its line in the file, the submission folder, and the LMS's columns it fills."""

    line: int
    submission: str
    fields: dict[str, str]

    def label(self) -> str:
        """How the instructor finds the row again: the name where there is one, else its identifiers."""
        shown = self.fields.get("Student") or ", ".join(v for v in self.fields.values() if v)
        return f"{shown} (roster line {self.line})" if shown else f"roster line {self.line}"


@dataclass
class Roster:
    path: Path
    lms: str
    columns: list[str]                       # the LMS columns the file has, in the LMS's order
    students: list[Student]
    notes: list[str] = field(default_factory=list)  # columns left out, rows skipped

    def by_submission(self) -> dict[str, Student]:
        return {s.submission: s for s in self.students if s.submission}


def _key(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").split()).casefold()


def _text(path: Path) -> str:
    from ..files import read_path

    try:
        data = read_path(path, ROSTER_LIMIT)
    except FileNotFoundError:
        raise RosterError(f"{path}: no such file") from None
    except OSError as exc:  # a folder, a link, a FIFO, too large: harness.files says which
        raise RosterError(f"{path}: {exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RosterError(f"{path}, line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); {SAVE_AS_UTF8}") \
            from None
    if "\x00" in text:
        raise RosterError(f"{path}: holds NUL characters, so it is not a text file; {SAVE_AS_UTF8}")
    if not text.strip():
        raise RosterError(f"{path}: empty; it needs a header row with a '{SUBMISSION}' column and one row per student")
    return text


def _delimiter(header_line: str) -> str:
    """The separator that splits the header into the most columns (Excel writes ';' where ',' is a decimal)."""
    return max(",;\t", key=lambda d: len(next(csv.reader([header_line], delimiter=d), [])))


def read_roster(path: Path, lms: str) -> Roster:
    """Read and check a roster for ``lms`` ("canvas" or "moodle"); see the module's docstring."""
    path = Path(path)
    text = _text(path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text.splitlines()[0]), strict=True)
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise RosterError(f"{path}, line {reader.line_num}: not a CSV row the harness can read ({exc}); check its "
                          "quotes, or save the sheet as CSV again") from None
    header = [_key(h) for h in rows[0]]
    where = {}
    for i, name in enumerate(header):
        if name and name in where:
            raise RosterError(f"{path}: the column '{rows[0][i].strip()}' appears twice in the header; keep one")
        where[name] = i
    if SUBMISSION not in where:
        raise RosterError(f"{path}: no '{SUBMISSION}' column in the header ({', '.join(repr(h.strip()) for h in rows[0])}); "
                          f"add one holding each student's submission folder name, as harness grade names it")
    wanted = [c for c in COLUMNS[lms] if _key(c) in where]
    ids = [c for c in IDENTIFIERS[lms] if c in wanted]
    if not ids:
        raise RosterError(f"{path}: no column that identifies students in {lms.capitalize()}; add one of "
                          + ", ".join(f"'{c}'" for c in IDENTIFIERS[lms]))
    students, notes = [], []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cell = lambda column: row[where[_key(column)]].strip() if where[_key(column)] < len(row) else ""  # noqa: E731
        if lms == "canvas" and _key(row[0]) == CANVAS_POINTS_ROW:
            notes.append(f"roster line {number}: Canvas's Points Possible row, not a student: skipped")
            continue
        students.append(Student(number, cell(SUBMISSION), {c: cell(c) for c in wanted}))
    if not students:
        raise RosterError(f"{path}: a header and no student; add one row per student")
    _unique(path, students, SUBMISSION, lambda s: s.submission)
    for column in ids:
        _unique(path, students, column, lambda s: s.fields[column])
    if lms == "canvas":
        for s in students:
            if not any(s.fields[c] for c in ids):
                raise RosterError(f"{path}, line {s.line}: no {' or '.join(ids)} for this student; fill one in (Canvas "
                                  "would match the row by name alone)")
    else:
        full = [c for c in ids if all(s.fields[c] for s in students)]
        if not full:
            blanks = {c: [s.line for s in students if not s.fields[c]] for c in ids}
            raise RosterError(f"{path}: no identifier column is filled on every row ("
                              + "; ".join(f"'{c}' is blank on line{'s' if len(v) > 1 else ''} {_lines(v)}"
                                          for c, v in blanks.items())
                              + "); fill one in for every student: Moodle gives a row without one to the student "
                                "of the row before")
        for c in ids:
            if c not in full:
                notes.append(f"the roster's '{c}' column is blank on some rows: left out of the Moodle file "
                             f"(map from {' or '.join(repr(f) for f in full)})")
        wanted = [c for c in wanted if c in full]
        students = [Student(s.line, s.submission, {c: s.fields[c] for c in wanted}) for s in students]
    return Roster(path, lms, wanted, students, notes)


def _lines(numbers: list[int], shown: int = 5) -> str:
    text = ", ".join(str(n) for n in numbers[:shown])
    return text + (f" and {len(numbers) - shown} more" if len(numbers) > shown else "")


def _unique(path: Path, students: list[Student], column: str, value) -> None:
    seen: dict[str, int] = {}
    for s in students:
        v = value(s)
        if not v:
            continue
        if v in seen:
            raise RosterError(f"{path}: '{v}' is the {column} of two rows (lines {seen[v]} and {s.line}); "
                              "each student has one row")
        seen[v] = s.line
