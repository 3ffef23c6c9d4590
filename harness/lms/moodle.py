"""Moodle's CSV grade import (Grades > Import > CSV file): the columns it reads, written for one assignment.

Moodle reads any header row. On its import page the instructor says which column identifies the users
(*Map from*: this file's ``Email address``, ``ID number`` or ``Username`` column; *Map to*: the user field of the
same name) and, under *Grade item mappings*, which grade item each other column goes to: here the one column
named after the assignment, to be mapped to the assignment's grade item (or to *New grade item*, which creates
one of that name). A student the file has no row for keeps their grade. Moodle stops the whole
import at a user it cannot find, so the file holds only the roster's students, and at a grade outside the
grade item's range, so the item must be worth the harness's full marks.
"""
from __future__ import annotations

from ..report import points
from .roster import Student

def table(graded: list[tuple[Student, float]], assignment: str, columns: list[str]) -> list[list[str]]:
    """The import file's rows: the roster's identifier columns and the assignment's column, one per graded student."""
    rows = [[*columns, assignment]]
    for student, score in graded:
        rows.append([*(student.fields[c] for c in columns), points(score)])
    return rows
