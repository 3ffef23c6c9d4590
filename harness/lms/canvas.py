"""Canvas's gradebook import (Grades > Import): the columns it reads, written for one assignment.

Canvas reads a header whose first columns are ``Student, ID, SIS User ID, SIS Login ID, Section`` (it finds
each student by ``ID``, Canvas's own user id, else by ``SIS User ID`` or ``SIS Login ID``, else by name), then
one column per assignment. An assignment column's header is the assignment's name followed by its id in
parentheses, ``Recurrent cells (123456)`` (the number in the assignment's address,
``/courses/…/assignments/123456``): the points go to that assignment whatever its name. A header without an
id goes to the assignment of exactly that name, and where there is none Canvas creates one, worth the
``Points Possible`` row's points (the row under the header whose first cell reads ``Points Possible``). A
number replaces the grade Canvas has; a student the file has no row for keeps theirs.

Canvas drops a column whose header contains ``Current Score``, ``Final Grade`` and the like (they are its
computed totals) and reads its own column names as student columns: such an assignment name is refused here.
"""
from __future__ import annotations

import re

from ..report import points
from .roster import CANVAS_COLUMNS, Student

POINTS_POSSIBLE = "Points Possible"
#: Headers Canvas's import reads as its computed totals (matched anywhere in the header) or as student columns.
COMPUTED = re.compile("Current Score|Current Points|Current Grade|Final Score|Final Points|Final Grade|"
                      "Override Score|Override Grade|Override Status")
STUDENT_COLUMNS = {*CANVAS_COLUMNS, "LastName", "FirstName", "Integration ID", "Root Account"}


def assignment_problem(name: str) -> str | None:
    """Why Canvas would not read ``name`` as an assignment column, or None."""
    found = COMPUTED.search(name)
    if found:
        return f"Canvas reads a column named with '{found.group(0)}' as its own total and drops it"
    if name.strip() in STUDENT_COLUMNS:
        return f"'{name.strip()}' is one of Canvas's student columns"
    return None


def table(graded: list[tuple[Student, float]], assignment: str, points_possible: float | None) -> list[list[str]]:
    """The import file's rows: header, Points Possible, then one row per graded student."""
    rows = [[*CANVAS_COLUMNS, assignment],
            [POINTS_POSSIBLE, *("" for _ in CANVAS_COLUMNS[1:]), "" if points_possible is None else points(points_possible)]]
    for student, score in graded:
        rows.append([*(student.fields.get(c, "") for c in CANVAS_COLUMNS), points(score)])
    return rows
