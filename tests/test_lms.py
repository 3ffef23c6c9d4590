"""harness export --format canvas|moodle: a graded class's points in the LMS's gradebook-import layout.

The files are read back as each LMS reads them (Canvas's importer: a header of Student, ID, SIS User ID, SIS
Login ID, Section, then ``Name (id)`` assignment columns and a Points Possible row; Moodle's: one identifier
column mapped to a user field, one column per grade item, ``-`` for no grade, and a blank identifier taken as
the previous row's student). Most tests use a gradebook built from hand-made outcomes; one grades a small
class for real.
"""
from __future__ import annotations

import csv
import io
import re
import shutil
from pathlib import Path

import pytest

from harness import lms
from harness.gradebook import Database
from harness.lms.roster import RosterError, read_roster

from test_ci import SUBMISSIONS, run
from test_gradebook import FULL, SPECS, graded, not_graded

ZOE = "Müller, Zoë"  # an accent and a comma: quoted, kept as written
SECTION = "Sección A, martes"


@pytest.fixture
def class_folder(tmp_path) -> Path:
    """A gradebook whose last run graded zoë (9/9), ada (1/9) and orphan (9/9), and could not grade eve."""
    out = tmp_path / "graded"
    out.mkdir()
    with Database(out / "gradebook.sqlite") as db:
        first = db.start_run(started="2026-01-01T00:00:00+00:00", harness_version="0", specs=SPECS, workers=1,
                             scheduler=None, submissions_dir=tmp_path, out_dir=out, regrade=False)
        db.record(first, graded("zoë", FULL, run=first, seq=0.0))  # an older run: its score is not exported
        db.finish_run(first, finished="2026-01-01T00:01:00+00:00", status="finished", graded=1, up_to_date=0,
                      not_graded=0)
        second = db.start_run(started="2026-01-02T00:00:00+00:00", harness_version="0", specs=SPECS, workers=1,
                              scheduler=None, submissions_dir=tmp_path, out_dir=out, regrade=False)
        for outcome in (graded("zoë", FULL, run=second),
                        graded("ada", [("cells.GRUCell.forward", "failed", 0.0, 3.0, "no"),
                                       ("cells.RNNCell.shapes", "passed", 1.0, 1.0, "ok")], seq=0.0, run=second),
                        graded("orphan", FULL, run=second),
                        not_graded("eve", "empty folder: nothing was submitted")):
            db.record(second, outcome)
        db.finish_run(second, finished="2026-01-02T00:01:00+00:00", status="finished", graded=3, up_to_date=0,
                      not_graded=1)
    return out


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8", delimiter: str = ",") -> Path:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


CANVAS_ROSTER = [
    ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Recurrent cells (123456)", "submission"],
    ["    Points Possible", "", "", "", "", "46", ""],  # as Canvas's own export has it: skipped
    [ZOE, "101", "S-001", "zoe@uni.example", SECTION, "", "zoë"],
    ["Lovelace, Ada", "102", "", "", "Sección B", "", "ada"],
    ["Eve", "", "S-003", "", "Sección B", "", "eve"],
    ["Dave", "104", "", "", "Sección B", "", "dave"],  # no such folder: a student without a submission
]


def read_rows(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")  # UTF-8 without a byte-order mark
    return list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))


def canvas_reads(rows: list[list[str]]) -> dict:
    """Canvas's importer on these rows: its header test, the assignment's title and id, points possible, and
    per student the identifiers it looks them up by and the grade."""
    header = rows[0]
    assert "Student" in header[0] and "ID" in header[1]
    assert re.search(r"SIS\s+User\s+ID", header[2]) and re.search(r"SIS\s+Login\s+ID", header[3])
    assert "Section" in header[4]  # the last student column
    title, id_ = re.fullmatch(r"(.*)\s+\((\d+)\)", header[5]).groups() if re.fullmatch(
        r"(.*)\s+\((\d+)\)", header[5]) else (header[5], None)
    assert "Points Possible" in rows[1][0]
    students = {}
    for row in rows[2:]:
        assert len(row) == len(header)
        students[row[0]] = {"ID": row[1], "SIS User ID": row[2], "SIS Login ID": row[3], "Section": row[4],
                            "grade": row[5]}
    return {"title": title, "id": id_, "points_possible": rows[1][5], "students": students}


def test_canvas_file_reads_as_canvas_reads_it_and_lists_what_it_leaves_out(class_folder, tmp_path):
    roster = write_csv(tmp_path / "roster.csv", CANVAS_ROSTER)
    out = tmp_path / "canvas.csv"
    result = run(["export", class_folder, "--format", "canvas", "--roster", roster, "--out", out,
                  "--assignment", "Recurrent cells (123456)"])
    assert result.exit_code == 0, result.output
    rows = read_rows(out)
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Recurrent cells (123456)"]
    seen = canvas_reads(rows)
    assert (seen["title"], seen["id"], seen["points_possible"]) == ("Recurrent cells", "123456", "9")
    assert seen["students"] == {
        ZOE: {"ID": "101", "SIS User ID": "S-001", "SIS Login ID": "zoe@uni.example", "Section": SECTION,
              "grade": "9"},
        "Lovelace, Ada": {"ID": "102", "SIS User ID": "", "SIS Login ID": "", "Section": "Sección B", "grade": "1"},
    }  # eve could not be graded and dave has no submission: no row, so Canvas keeps what it has
    assert f'"{ZOE}"'.encode() in out.read_bytes() and f'"{SECTION}"'.encode() in out.read_bytes()

    unmatched = read_rows(tmp_path / "canvas.unmatched.csv")
    assert unmatched[0] == ["problem", "submission", "roster line", "student", "detail"]
    problems = {(r[0], r[1]): r for r in unmatched[1:]}
    assert set(problems) == {("submission without a roster row", "orphan"),
                             ("roster student without a submission", "dave"), ("not graded: left out", "eve")}
    assert problems[("submission without a roster row", "orphan")][4] == "graded 9/9"
    assert problems[("roster student without a submission", "dave")][2:4] == ["6", "Dave (roster line 6)"]
    assert problems[("not graded: left out", "eve")][4] == "empty folder: nothing was submitted"
    # and on the terminal, each with what to do
    assert "submission 'orphan' has no roster row (graded 9/9); add a row with submission = 'orphan'" in result.output
    assert "Dave (roster line 6) has no submission in the run (no folder 'dave')" in result.output
    assert "Points Possible row, not a student: skipped" in result.output
    assert "Eve (roster line 5): submission 'eve' was not graded (empty folder: nothing was submitted); left out" \
        in result.output
    assert "2 grades out of 9 points, 1 not graded: left out (run 2, finished" in result.output


def test_the_default_assignment_names_the_run_s_tasks_and_a_near_miss_is_pointed_out(class_folder, tmp_path):
    rows = [r[:] for r in CANVAS_ROSTER]
    rows[3][-1] = "Ada"  # the folder is 'ada'
    roster = write_csv(tmp_path / "roster.csv", rows)
    result = run(["export", class_folder, "--format", "canvas", "--roster", roster, "--out", tmp_path / "c.csv"])
    assert result.exit_code == 0, result.output
    assert read_rows(tmp_path / "c.csv")[0][-1] == "harness: cells, sequences"
    assert "submission 'ada' has no roster row (graded 1/9); the roster has 'Ada', with no such folder" in result.output


def test_moodle_file_has_only_complete_identifiers_and_only_graded_students(class_folder, tmp_path):
    roster = write_csv(tmp_path / "roster.csv", [
        ["First name", "Surname", "ID number", "Email address", "Submission"],
        ["Zoë", "Müller, jr.", "A-1", "zoe@uni.example", "zoë"],
        ["Ada", "Lovelace", "", "ada@uni.example", "ada"],  # no ID number: that column is left out
        ["Eve", "Adams", "A-3", "eve@uni.example", "eve"],
        ["Dave", "Jones", "A-4", "dave@uni.example", ""],  # no submission named
    ], encoding="utf-8-sig", delimiter=";")  # as Excel saves where ',' is the decimal mark, with a BOM
    out = tmp_path / "moodle.csv"
    result = run(["export", class_folder, "--format", "moodle", "--roster", roster, "--out", out,
                  "--assignment", "Tarea 1: celdas, atención"])
    assert result.exit_code == 0, result.output
    rows = read_rows(out)
    assert rows == [["Email address", "Tarea 1: celdas, atención"], ["zoe@uni.example", "9"],
                    ["ada@uni.example", "1"]]
    # as Moodle's import reads it: every row identifies its user (a blank would take the previous row's), and
    # every grade is a number
    assert all(r[0] for r in rows[1:]) and all(float(r[1]) >= 0 for r in rows[1:])
    assert "'ID number' column is blank on some rows: left out of the Moodle file (map from 'Email address')" in \
        result.output
    unmatched = read_rows(tmp_path / "moodle.unmatched.csv")
    assert {(r[0], r[1]) for r in unmatched[1:]} == {("submission without a roster row", "orphan"),
                                                     ("roster student without a submission", ""),
                                                     ("not graded: left out", "eve")}
    dave = next(r for r in unmatched if r[0] == "roster student without a submission")
    assert dave[2] == "5" and dave[4] == "the roster names no submission folder"


def test_a_real_class_graded_then_exported(tmp_path):
    klass = tmp_path / "class"
    shutil.copytree(SUBMISSIONS / "reference", klass / "alice")
    (klass / "bob").mkdir()  # empty: not graded
    out = tmp_path / "graded"
    graded_run = run(["grade", klass, "--out", out, "--task", "sequences", "--workers", "1"])
    assert graded_run.exit_code == 0, graded_run.output
    roster = write_csv(tmp_path / "roster.csv", [["submission", "Email address"], ["alice", "alice@uni.example"],
                                                  ["bob", "bob@uni.example"], ["carol", "carol@uni.example"]])
    result = run(["export", out, "--format", "moodle", "--roster", roster, "-o", tmp_path / "m.csv"])
    assert result.exit_code == 0, result.output
    gradebook = {r[0]: r for r in read_rows(out / "gradebook.csv")}
    assert read_rows(tmp_path / "m.csv") == [["Email address", "harness: sequences"],
                                             ["alice@uni.example", gradebook["alice"][2]]]
    assert gradebook["alice"][2] == gradebook["alice"][3] != "0"  # full marks, the same figure as gradebook.csv
    assert "carol@uni.example (roster line 4) has no submission in the run (no folder 'carol')" in result.output
    assert "bob@uni.example (roster line 3): submission 'bob' was not graded (" in result.output


# --------------------------------------------------------------------------- what is refused, and how


@pytest.mark.parametrize("rows, lms_name, message", [
    ([["ID", "Student"], ["1", "A"]], "canvas", "no 'submission' column in the header"),
    ([["submission", "Student", "Section"], ["a", "A", "S"]], "canvas", "no column that identifies students in "
                                                                        "Canvas; add one of 'ID', 'SIS User ID'"),
    ([["submission", "ID"], ["a", "1"], ["a", "2"]], "canvas", "'a' is the submission of two rows (lines 2 and 3)"),
    ([["submission", "ID"], ["a", "1"], ["b", "1"]], "canvas", "'1' is the ID of two rows (lines 2 and 3)"),
    ([["submission", "ID", "SIS User ID"], ["a", "", ""]], "canvas", "line 2: no ID or SIS User ID for this student"),
    ([["submission", "Email address", "Username"], ["a", "a@x", ""], ["b", "", "b"]], "moodle",
     "no identifier column is filled on every row ('Email address' is blank on line 3; 'Username' is blank on line 2)"),
    ([["submission", "Username"]], "moodle", "a header and no student"),
    ([["submission", "ID", "id"], ["a", "1", "1"]], "canvas", "the column 'id' appears twice in the header"),
])
def test_a_roster_that_cannot_be_used_is_refused_with_the_fix(tmp_path, rows, lms_name, message):
    roster = write_csv(tmp_path / "roster.csv", rows)
    with pytest.raises(RosterError) as caught:
        read_roster(roster, lms_name)
    assert message in str(caught.value), str(caught.value)


def test_hostile_roster_files(tmp_path, class_folder):
    latin1 = write_csv(tmp_path / "latin1.csv", [["submission", "ID", "Student"], ["zoë", "1", "Zoë"]], "latin-1")
    with pytest.raises(RosterError, match=r"line 2: not UTF-8 text \(byte 0xeb\); save it as UTF-8 text"):
        read_roster(latin1, "canvas")
    (tmp_path / "nul.csv").write_bytes(b"submission,ID\na\x00,1\n")
    with pytest.raises(RosterError, match="NUL characters"):
        read_roster(tmp_path / "nul.csv", "canvas")
    (tmp_path / "empty.csv").write_bytes(b"\xef\xbb\xbf \n")
    with pytest.raises(RosterError, match="empty; it needs a header row"):
        read_roster(tmp_path / "empty.csv", "canvas")
    (tmp_path / "huge_field.csv").write_text("submission,ID\na," + "1" * 200_000 + "\n")
    with pytest.raises(RosterError, match="line 2: not a CSV row the harness can read"):
        read_roster(tmp_path / "huge_field.csv", "canvas")
    (tmp_path / "quote.csv").write_text('submission,ID\n"a,1\n')
    with pytest.raises(RosterError, match="not a CSV row the harness can read"):
        read_roster(tmp_path / "quote.csv", "canvas")
    (tmp_path / "a_folder.csv").mkdir()
    with pytest.raises(RosterError, match="a_folder.csv"):
        read_roster(tmp_path / "a_folder.csv", "canvas")
    good = write_csv(tmp_path / "good.csv", [["submission", "ID"], ["zoë", "1"]])
    (tmp_path / "link.csv").symlink_to(good)
    with pytest.raises(RosterError, match="link"):
        read_roster(tmp_path / "link.csv", "canvas")
    with pytest.raises(RosterError, match="no such file"):
        read_roster(tmp_path / "missing.csv", "canvas")
    # through the command: exit 2, the message on the terminal, nothing written
    result = run(["export", class_folder, "--format", "canvas", "--roster", latin1, "--out", tmp_path / "c.csv"])
    assert result.exit_code == 2 and "not UTF-8 text" in result.output and not (tmp_path / "c.csv").exists()


def test_assignment_names_canvas_would_drop_and_folders_that_are_not_graded_classes(tmp_path, class_folder):
    roster = write_csv(tmp_path / "roster.csv", [["submission", "ID"], ["zoë", "1"]])
    common = ["--roster", roster, "--out", tmp_path / "c.csv"]
    final = run(["export", class_folder, "--format", "canvas", *common, "--assignment", "Final Score project"])
    assert final.exit_code == 2 and "'Final Score' as its own total and drops it" in final.output
    two_lines = run(["export", class_folder, "--format", "moodle", *common, "--assignment", "a\nb"])
    assert two_lines.exit_code == 2 and "--assignment must be one line" in two_lines.output
    assert run(["export", class_folder, "--format", "canvas", *common, "--assignment", "Section"]).exit_code == 2
    nowhere = run(["export", tmp_path, "--format", "canvas", *common])
    assert nowhere.exit_code == 2 and "holds no gradebook.sqlite: give the folder harness grade wrote" in nowhere.output
    with Database(tmp_path / "gradebook.sqlite") as db:  # a run still going has no final grades
        db.start_run(started="x", harness_version="0", specs=SPECS, workers=1, scheduler=None,
                     submissions_dir=tmp_path, out_dir=tmp_path, regrade=False)
    running = run(["export", tmp_path, "--format", "canvas", *common])
    assert running.exit_code == 2 and "no run of harness grade has finished yet" in running.output
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "gradebook.sqlite").write_text("not a database")
    broken = run(["export", tmp_path / "other", "--format", "canvas", *common])
    assert broken.exit_code == 2 and "cannot be read as the gradebook harness grade writes" in broken.output
    usage = run(["export", class_folder, "--format", "canvas", "--out", tmp_path / "c.csv"])
    assert usage.exit_code == 2 and "needs --roster" in usage.output
    assert run(["export", class_folder, "--junit", "--format", "canvas", *common]).exit_code == 2  # two formats
    kept = run(["export", class_folder, "--format", "canvas", "--roster", roster, "--out", tmp_path / "x.unmatched.csv"])
    assert kept.exit_code == 2 and "kept for the list of unmatched rows" in kept.output


def test_grades_scale_to_the_lms_assignment_s_maximum(class_folder, tmp_path):
    roster = write_csv(tmp_path / "roster.csv", CANVAS_ROSTER)
    out = tmp_path / "canvas.csv"
    result = run(["export", class_folder, "--format", "canvas", "--roster", roster, "--out", out, "--out-of", "100"])
    assert result.exit_code == 0, result.output
    seen = canvas_reads(read_rows(out))
    assert seen["points_possible"] == "100"
    assert {name: s["grade"] for name, s in seen["students"].items()} == {ZOE: "100", "Lovelace, Ada": "11.11"}
    assert "out of 100 points (the harness's 9, scaled)" in result.output
    for bad in ("0", "-5", "nan", "inf", "1e7"):
        refused = run(["export", class_folder, "--format", "canvas", "--roster", roster, "--out", out, "--out-of", bad])
        assert refused.exit_code == 2 and "--out-of must be a number of points above 0" in refused.output, bad
    assert run(["export", class_folder, "--junit", "--out-of", "10"]).exit_code == 2  # not for a results JSON
