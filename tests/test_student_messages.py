"""What a student reads about the checks, said whole and the same way wherever they read it.

Every surface that lists what to fix first (the HTML report, the terminal, CI's job summary and
annotations, Gradescope's output, a notebook's plain-text report) shows each cause's whole message and
its hint; points are counted in words that agree in number; a failure in a notebook is annotated at the
line of the .ipynb file that holds it; a search check graded later says what it was tested on; and what
is graded after submission says whether its results will be shown.
"""
from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner
from rich.console import Console

from harness import ci
from harness.checks.decoding import parse_tables, tables_tested
from harness.cli import main, print_summary
from harness.gradescope import to_gradescope
from harness.notebook import WIDTH, NotebookResult
from harness.notebook_json import file_line
from harness.report import render_report
from harness.results import TEXT_LIMIT, CheckResult, Results, TaskResult
from harness.spec import Withheld, load_tasks, not_run_counts
from helpers import run_in_process

ROOT = Path(__file__).resolve().parents[1]
WORDS = ("the hidden state of step t is computed from the input of step t and the state before it, "
         "and the gates decide how much of the old state is kept ")
LONG = "GRUCell: largest error 1.03 at step 7 of 9; " + WORDS * 12 + "END-OF-MESSAGE"
HINT = "the update gate is used the other way round: " + WORDS * 4 + "END-OF-HINT"


def flat(text: str) -> str:
    return " ".join(text.split())


def results_with(checks: list[CheckResult], *, not_run: int = 0, not_run_points: float = 0.0,
                 never_shown: int | None = 0, never_shown_points: float = 0.0, notes=(), source="cells.py") -> Results:
    task = TaskResult("cells", "Recurrent cells", "cells", source, sum(c.points for c in checks),
                      sum(c.max_points for c in checks), "1", "abc", not_run_checks=not_run,
                      not_run_points=not_run_points, never_shown_checks=never_shown,
                      never_shown_points=never_shown_points)
    return Results("submissions/alice", "0.1.0", "2026-01-01T00:00:00+00:00", [task], checks, notes=list(notes),
                   seconds=1.0)


def fix_first_surfaces(results: Results, workspace: Path | None = None) -> dict[str, str]:
    """The "Fix first" part of every surface, as text."""
    page = render_report(results)
    start = page.index('<section class="fix-first"')
    buffer = io.StringIO()
    print_summary(results, Console(file=buffer, width=80, color_system=None, highlight=False))
    summary = ci.markdown_summary(results)
    annotations = "\n".join(line for line in ci.annotations(results, workspace=workspace) if line.startswith("::error"))
    return {
        "html": html.unescape(re.sub(r"<[^>]+>", "", page[start:page.index("</section>", start)])),
        "terminal": buffer.getvalue().split("Fix first\n", 1)[1],
        "markdown": summary.split("### Fix first", 1)[1].split("<details>", 1)[0],
        "annotations": annotations.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%"),
        "gradescope": to_gradescope(results)["output"].split("Fix first:", 1)[1],
        "notebook": NotebookResult(results, Path("cells.ipynb")).summary().split("Fix first", 1)[1],
    }


# --------------------------------------------------------------------------- the whole message and its hint


def test_every_surface_shows_the_whole_message_and_its_hint():
    results = results_with([CheckResult("cells.GRUCell.forward", "cells", "failed", 0, 3, LONG, HINT)])
    for surface, text in fix_first_surfaces(results).items():
        assert flat(LONG) in flat(text), surface
        assert "How to fix: " + flat(HINT) in flat(text).replace("How to fix:* ", "How to fix: "), surface
    page = render_report(results)
    section = page[page.index('<section class="fix-first"'):]
    assert '<div class="hint"><strong>How to fix:</strong> the update gate' in section  # in "Fix first" itself


def test_a_message_the_results_cut_is_shown_as_they_hold_it():
    """The one bound is the results' own TEXT_LIMIT, which says how much it cut; no surface cuts further."""
    check = CheckResult("cells.GRUCell.forward", "cells", "failed", 0, 3, LONG * 6, HINT)
    assert len(check.message) <= TEXT_LIMIT and check.message.endswith("more characters cut]")
    for surface, text in fix_first_surfaces(results_with([check])).items():
        assert flat(check.message) in flat(text), surface


def test_the_html_fix_first_wraps_long_messages_on_a_phone():
    """Long words wrap in "Fix first" (no horizontal scrolling on a narrow screen): the message keeps the
    table's wrapping rules and the hint box its own."""
    unbroken = "x" * 900
    page = render_report(results_with([CheckResult("cells.GRUCell.forward", "cells", "failed", 0, 3, unbroken, HINT)]))
    section = page[page.index('<section class="fix-first"'):]
    assert f'<p class="message">{unbroken}</p>' in section
    css = page[:page.index("</style>")]
    assert ".message { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; }" in css
    assert "overflow-wrap: anywhere; }" in css[css.index(".hint {"):css.index(".hint strong")]


def test_the_notebooks_plain_text_report_is_as_complete_as_the_html_one():
    checks = [CheckResult(f"cells.Cell{i}.forward", "cells", "failed", 0, 1 + i % 2, f"cause {i}: " + WORDS,
                          f"fix {i}: " + WORDS) for i in range(12)]
    results = results_with(checks, not_run=3, not_run_points=4, never_shown=1, never_shown_points=1,
                           notes=["cells.ipynb, cell 3, line 1: skipped a shell command: !pip install torch"])
    text = NotebookResult(results, Path("cells.ipynb")).summary()
    page = html.unescape(render_report(results))
    for check in checks:  # every cause, with its points, whole message and hint: more than the old ten
        lost = f"{check.id} ({check.max_points:g} point{'s' if check.max_points != 1 else ''} lost): "
        assert lost + flat(check.message) in flat(text) and "How to fix: " + flat(check.hint) in flat(text)
        assert check.id in page
    assert "Fix first (12 checks did not pass; most points lost first):" in text
    assert flat(results.later_line()) in flat(text) and "skipped a shell command: !pip install torch" in text
    assert all(len(line) <= WIDTH for line in text.splitlines())  # wrapped, never cut


# --------------------------------------------------------------------------- points in words


def test_one_point_is_singular_and_two_are_plural_everywhere():
    checks = [CheckResult("cells.RNNCell.shapes", "cells", "failed", 0, 1, "RNNCell returned (3, 4), expected (3, 5)"),
              CheckResult("cells.GRUCell.forward", "cells", "failed", 0, 2, "GRUCell: largest error 1.03"),
              CheckResult("cells.LSTMCell.forward", "cells", "failed", 0, 0.5, "LSTMCell: largest error 0.41")]
    results = results_with(checks, not_run=1, not_run_points=1, never_shown=0)
    surfaces = fix_first_surfaces(results)
    for surface, text in surfaces.items():
        assert "1 point lost" in text and "2 points lost" in text and "0.5 points lost" in text, surface
        assert "1 points" not in text, surface
    assert "1 more point (1 check) is graded after submission" in results.coverage_line()
    assert "1 points" not in results.coverage_line() and "1 checks" not in results.coverage_line()
    page = render_report(results)
    assert "1 point lost" in page and "1 points" not in page
    assert "on 3 checks" in NotebookResult(results, Path("cells.ipynb")).score_line()
    assert ci.Gate(min_score=1).describe() == "a score of at least 1 point"
    assert ci.Gate(min_score=2).describe() == "a score of at least 2 points"


# --------------------------------------------------------------------------- a notebook's annotation


def notebook_text() -> str:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# Cells\nwritten by a student"),
                      nbformat.v4.new_code_cell("import torch\n\nclass GRUCell:\n    pass"),
                      nbformat.v4.new_markdown_cell("The forward pass:"),
                      nbformat.v4.new_code_cell("def forward(x):\n    h = x * 2\n    return h.sum(dim=5)")]
    return nbformat.writes(notebook)


def test_the_line_of_a_notebook_cell_is_found_in_the_ipynb_file():
    text = notebook_text()
    lines = text.splitlines()
    assert json.loads(lines[file_line(text, 2, 3) - 1].strip().rstrip(",")) == "    return h.sum(dim=5)"
    assert json.loads(lines[file_line(text, 1, 3) - 1].strip().rstrip(",")) == "class GRUCell:\n"
    assert file_line(text, 1, 2) != file_line(text, 1, 1)  # an empty line has its own string
    assert file_line(text, 2, 4) is None and file_line(text, 3, 1) is None  # markdown cells do not count
    one_line = json.dumps(json.loads(text))  # the whole file on one line, sources as strings or lists
    assert file_line(one_line, 2, 3) == 1
    as_string = json.loads(text)
    as_string["cells"][3]["source"] = "def forward(x):\n    h = x * 2\n    return h.sum(dim=5)"
    as_string_text = json.dumps(as_string, indent=1)
    at = file_line(as_string_text, 2, 3)
    assert "return h.sum(dim=5)" in as_string_text.splitlines()[at - 1]
    for broken in ("", "{", '{"cells": 3}', '{"worksheets": [{"cells": []}]}', "[" * 10000 + "]" * 10000):
        assert file_line(broken, 1, 1) is None


def test_a_failure_in_a_notebook_is_annotated_at_its_line_of_the_ipynb_file(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "cells.ipynb").write_text(notebook_text(), encoding="utf-8")
    check = CheckResult("cells.GRUCell.forward", "cells", "error", 0, 2,
                        "your code raised IndexError: dim 5 (cells.ipynb, cell 2, line 3)", "sum over dim=-1")
    results = results_with([check], source="cells.ipynb")
    results.submission = str(sub)
    error = next(line for line in ci.annotations(results, workspace=tmp_path) if line.startswith("::error"))
    line = file_line(notebook_text(), 2, 3)
    assert error.startswith(f"::error file=sub/cells.ipynb,line={line},title=cells.GRUCell.forward::")
    assert "return h.sum(dim=5)" in (sub / "cells.ipynb").read_text().splitlines()[line - 1]
    assert "(cells.ipynb, cell 2, line 3)" in ci.markdown_summary(results)
    (sub / "cells.ipynb").write_text("{}", encoding="utf-8")  # the file no longer holds the cell: no line
    error = next(line for line in ci.annotations(results, workspace=tmp_path) if line.startswith("::error"))
    assert error.startswith("::error file=sub/cells.ipynb,title=cells.GRUCell.forward::") and "cell 2, line 3" in error


def test_a_wrong_value_in_a_notebook_is_annotated_at_the_definition_it_is_about(tmp_path):
    """Nothing raised, so no line is named: the annotation points at the cell line where the class is
    defined, as it does in a .py file, and the place says which cell."""
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "cells.ipynb").write_text(notebook_text(), encoding="utf-8")
    check = CheckResult("cells.GRUCell.forward", "cells", "failed", 0, 2, "h: largest error 1.03", "")
    results = results_with([check], source="cells.ipynb")
    results.submission = str(sub)
    where = ci.locate(check, results, workspace=tmp_path)
    assert where.where == "cells.ipynb, cell 1, line 3"
    assert json.loads((sub / "cells.ipynb").read_text().splitlines()[where.line - 1].strip().rstrip(",")) \
        == "class GRUCell:\n"
    error = next(line for line in ci.annotations(results, workspace=tmp_path) if line.startswith("::error"))
    assert error.startswith(f"::error file=sub/cells.ipynb,line={where.line},title=cells.GRUCell.forward "
                            "(cells.ipynb%2C cell 1%2C line 3)::")
    missing = CheckResult("cells.LSTMCell.forward", "cells", "failed", 0, 2, "h differs", "")
    assert ci.locate(missing, results, workspace=tmp_path) == ci.Location("sub/cells.ipynb", None, "cells.ipynb")


def test_harness_ci_annotates_a_notebook_that_fails_at_a_known_cell_and_line(tmp_path):
    """Graded for real: the sequences task from a notebook whose second code cell raises on its line 4."""
    source = (ROOT / "submissions" / "reference" / "sequences.py").read_text()
    head = source.split("def make_windows", 1)[0]
    broken = ('def make_windows(ids, window):\n    """Sliding windows, cut wrongly."""\n'
              '    n = len(ids) - window\n    raise ValueError(f"cannot cut {n} windows")\n')
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# Sequences"), nbformat.v4.new_code_cell(head),
                      nbformat.v4.new_markdown_cell("Windows:"), nbformat.v4.new_code_cell(broken)]
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "sequences.ipynb").write_text(nbformat.writes(notebook), encoding="utf-8")
    env = {"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(tmp_path), "GITHUB_STEP_SUMMARY": None,
           "HARNESS_TASKS": None}
    result = CliRunner().invoke(main, ["ci", str(sub), "--task", "sequences", "--json", str(tmp_path / "r.json")],
                                env=env)
    assert result.exit_code == 1, result.output
    error = next(line for line in result.output.splitlines() if line.startswith("::error"))
    text = (sub / "sequences.ipynb").read_text().splitlines()
    line = int(error.split(",line=", 1)[1].split(",", 1)[0])
    assert error.startswith("::error file=sub/sequences.ipynb,line=") and "cell 2, line 4" in error
    assert 'raise ValueError(f\\"cannot cut {n} windows\\")' in text[line - 1]


# --------------------------------------------------------------------------- what a search check tested


@pytest.mark.parametrize("check_id,words", [
    ("generation.greedy_search", "greedy search matches on 8 random tables;"),
    ("generation.beam_search", "beam search finds the best hypothesis on 10 random tables (beam widths 2, 3);"),
])
def test_a_search_check_graded_later_says_it_tested_random_tables_only(check_id, words):
    """The hidden spec gives these checks no written tables: the message names the random ones alone."""
    hidden = next(c for spec in load_tasks() if spec.name == "generation" for c in spec.checks
                  if c.graded_later and c.id == check_id + ".hidden")
    assert not hidden.options.get("tables")
    verdict = run_in_process(check_id, {"tables": [], "random_tables": hidden.options["random_tables"]})
    assert verdict.passed and words in verdict.message, verdict.message
    assert "written" not in verdict.message and "()" not in verdict.message


def test_the_tables_a_search_was_tested_on_are_named_only_when_there_are_some():
    written = parse_tables([{"max_len": 2, "beam_widths": [1], "next": {"": {"eos": 1.0}}}], beam=True)
    assert tables_tested(written, [], beam=True) == "1 written table (beam width 1)"
    assert tables_tested(written, [], beam=False) == "1 written table"
    assert tables_tested([], []) == "no table"


# --------------------------------------------------------------------------- what is graded later


def test_the_checks_graded_later_say_whether_their_results_will_be_shown():
    passed = [CheckResult("cells.RNNCell.forward", "cells", "passed", 2, 2, "RNNCell matches the answer key")]
    one_hidden = results_with(passed, not_run=10, not_run_points=17, never_shown=1, never_shown_points=1)
    assert one_hidden.coverage_line() == (
        "public checks: 2 of 2 points; 17 more points (10 checks) are graded after submission; 1 of them (1 point) "
        "is hidden: its result is never shown to students, though its points count towards the grade; the other 9 "
        "are shown to students after the due date")
    none_hidden = results_with(passed, not_run=2, not_run_points=3, never_shown=0)
    assert none_hidden.later_line().endswith("; their results are shown to students after the due date")
    all_hidden = results_with(passed, not_run=2, not_run_points=3, never_shown=2, never_shown_points=3)
    assert all_hidden.later_line().endswith("; they are hidden: their results are never shown to students, though "
                                            "their points count towards the grade")
    unknown = results_with(passed, not_run=2, not_run_points=3, never_shown=None)  # an older bundle: no claim
    assert unknown.later_line() == "3 more points (2 checks) are graded after submission"

    sentence = flat(one_hidden.later_line())
    buffer = io.StringIO()
    print_summary(one_hidden, Console(file=buffer, width=80, color_system=None, highlight=False))
    shown = {"terminal": buffer.getvalue(), "report": html.unescape(render_report(one_hidden)),
             "notebook": NotebookResult(one_hidden, Path("cells.ipynb")).summary(),
             "ci": ci.markdown_summary(one_hidden), "gradescope": to_gradescope(one_hidden)["output"]}
    for surface, text in shown.items():
        assert sentence in flat(text), surface
    assert sentence in ci.evaluate(one_hidden, ci.Gate()).reason


def test_the_course_counts_its_hidden_checks_for_the_student():
    """The shipped cells task keeps one check of visibility "hidden": an instructor's public run, a released
    bundle's counts and the student's run from it all say so; a bundle that does not say is not guessed."""
    cells = next(spec for spec in load_tasks() if spec.name == "cells")
    later = [c for c in cells.checks if c.graded_later]
    hidden = [c for c in later if c.visibility == "hidden"]
    assert hidden, "the cells task should keep a check of visibility hidden"
    counts = not_run_counts(later)
    assert (counts["not_run_checks"], counts["never_shown_checks"]) == (len(later), len(hidden))
    assert counts["never_shown_points"] == sum(c.points for c in hidden)
    from harness.release.record import withheld

    recorded = withheld(later)  # what bundle.json tells the student's side
    assert recorded == {"checks": len(later), "points": counts["not_run_points"],
                        "never_shown_checks": len(hidden), "never_shown_points": counts["never_shown_points"]}
    released = Withheld(recorded["checks"], recorded["points"], recorded["never_shown_checks"],
                        recorded["never_shown_points"])
    assert not_run_counts([], released) == counts
    assert not_run_counts([], Withheld(6, 8.0, None))["never_shown_checks"] is None


def test_a_results_document_without_the_hidden_counts_still_reads():
    results = results_with([CheckResult("cells.RNNCell.forward", "cells", "passed", 2, 2, "ok")], not_run=2,
                           not_run_points=3, never_shown=1, never_shown_points=1)
    data = results.to_dict()
    assert Results.from_dict(data).later_line() == results.later_line()
    for task in data["tasks"]:
        del task["never_shown_checks"], task["never_shown_points"]
    older = Results.from_dict(data)
    assert older.never_shown is None and older.later_line() == "3 more points (2 checks) are graded after submission"



def test_the_notebooks_plain_text_says_why_nothing_was_graded():
    """A worker that could not be confined runs nothing: the plain text gives the reason, as the report does."""
    reason = "the worker could not be confined: the network namespace was refused (EPERM); nothing of the notebook ran"
    results = Results("submissions/alice", "0.1.0", "2026-01-01T00:00:00+00:00", [], [],
                      sandbox={"mode": "full", "not_graded": reason})
    text = NotebookResult(results, Path("cells.ipynb")).summary()
    assert "not graded: " + reason in " ".join(text.split())
    assert reason in html.unescape(render_report(results))


def test_the_terminal_prints_what_a_submission_wrote_as_text_never_as_markup():
    """A message, a hint and a note quote the submission: "[/]" or "[red]" in them is printed as written."""
    text = "your code raised KeyError: '[/]' in [red]weights[/red]"
    results = results_with([CheckResult("cells.GRUCell.forward", "cells", "error", 0, 2, text, "rename [bold]w[/bold]")],
                           notes=["cells.ipynb, cell 3, line 1: skipped a shell command: !echo [/]"])
    buffer = io.StringIO()
    print_summary(results, Console(file=buffer, width=200, color_system=None, highlight=False))
    shown = buffer.getvalue()
    assert shown.count(text) == 2 and "How to fix: rename [bold]w[/bold]" in shown  # the table and "Fix first"
    assert "note: cells.ipynb, cell 3, line 1: skipped a shell command: !echo [/]" in shown
