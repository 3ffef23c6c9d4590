"""A reduced isolation is said where the student reads it: one plain line on the terminal (harness check and
harness ci) and at the top of the inline notebook report; the report's Sandbox panel lists each protection once,
with the status the results JSON records. In full isolation there is no such line.
"""
from __future__ import annotations

import html
import os
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.notebook import NotebookResult
from harness.report import render_report
from harness.results import Results
from harness.sandbox import reduced
from harness.sandbox.isolation import PROMISES, IsolationError

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "submissions" / "reference"
LINE_START = "Reduced isolation ("
full_here = pytest.mark.skipif(not (sys.platform.startswith("linux") and os.geteuid() == 0),
                               reason="full isolation needs Linux as root")


def checked(tmp_path: Path, command: str, mode: str | None, monkeypatch) -> tuple[str, Results]:
    """``harness <command>`` of the reference on the sequences task (one worker start) in ``mode``."""
    if mode:
        monkeypatch.setenv("HARNESS_ISOLATION", mode)
    else:
        monkeypatch.delenv("HARNESS_ISOLATION", raising=False)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / f"{command}-{mode}.json"
    result = CliRunner().invoke(main, [command, str(REFERENCE), "--task", "sequences", "--json", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output, Results.from_json(out.read_text())


def panel(results: Results) -> str:
    page = render_report(results)
    return page[page.index("<h3>Sandbox</h3>"):page.index("<h3>Grading</h3>")]


def listed(results: Results) -> list[tuple[str, str]]:
    """The protections the Sandbox panel lists: (name as in the JSON, "held" or "not held")."""
    rows = re.findall(r'<li class="prot [^"]*">.*?</span> ([a-z ]+): (held|not held)', panel(results))
    return [(name.replace(" ", "_"), state) for name, state in rows]


@pytest.fixture(scope="module")
def basic(tmp_path_factory):
    """``harness check`` in basic isolation: its output and results."""
    with pytest.MonkeyPatch.context() as mp:
        return checked(tmp_path_factory.mktemp("basic"), "check", "basic", mp)


def test_basic_isolation_is_one_plain_line_on_the_terminal(basic):
    output, results = basic
    said = [line for line in output.splitlines() if line.startswith(LINE_START)]
    assert said == [reduced.line_of(results.sandbox)]
    line = said[0]
    assert line.startswith("Reduced isolation (basic): not held here: network cut-off, your other files out of "
                           "reach, a read-only filesystem, memory and CPU limits")
    assert "the instructor grades in full isolation" in line
    lines = output.splitlines()
    assert lines[0].startswith("Isolation: basic") and lines[1] == line  # right under the mode line


def test_the_line_says_only_what_the_worker_did_not_hold(basic):
    _, results = basic
    held = results.sandbox["protections"]
    for name, words in reduced.PLAIN.items():
        if name in PROMISES["full"] and held.get(name) is not True:
            assert words in reduced.line_of(results.sandbox)
    # the launcher's session is held in basic isolation too: its words are not in the line
    assert held["process_group"] is (os.name == "posix")
    assert "its processes stopped together" not in reduced.line_of(results.sandbox)
    # userns lacks only two of full's protections, and says only those
    userns = reduced.line("userns")
    assert "not held here: a limit on processes, a user of its own." in userns and "network" not in userns
    assert reduced.line("full") == "" and reduced.line_of({"mode": "full", "protections": {"rlimits": True}}) == ""


def test_the_inline_notebook_report_says_it_at_the_top(basic):
    _, results = basic
    shown = NotebookResult(results, REFERENCE / "sequences.py")
    summary = " ".join(shown.summary().split())  # wrapped to the plain text's width
    said = reduced.line_of(results.sandbox)
    assert summary.count(LINE_START) == 1 and said in summary
    assert summary.index("harness.check:") < summary.index(said) < summary.index("every check passed")
    page = shown._repr_html_()
    top = page.split("<iframe", 1)[0]
    assert html.escape(reduced.line_of(results.sandbox)) in top
    assert top.index('class="harness-isolation"') < top.index("Checked the saved file")


def test_the_sandbox_panel_lists_each_protection_once_as_the_json_records_it(basic):
    _, results = basic
    rows = listed(results)
    names = [name for name, _ in rows]
    assert len(names) == len(set(names)) and set(names) == set(results.sandbox["protections"])
    for name, state in rows:
        assert (state == "held") is (results.sandbox["protections"][name] is True), name
    said = panel(results)
    assert said.count(LINE_START) == 1 and html.escape(reduced.line_of(results.sandbox)) in said
    # no per-process limits are held in basic isolation, and the Limits line says so
    assert results.sandbox["protections"]["rlimits"] is False
    assert "Limits: none but the wall-clock timeout" in said and "per-process limits only" not in said


def test_a_document_written_before_said_per_process_limits_in_basic_isolation(basic):
    _, results = basic
    old = Results.from_dict({**results.to_dict(), "sandbox": {
        **results.sandbox, "limits": "per-process limits only: basic isolation attempts no operating-system protection",
        "protections": {**results.sandbox["protections"], "process_group": False}}})
    said = panel(old)
    assert "Limits: none but the wall-clock timeout (basic isolation attempts no operating-system protection)" in said
    assert ("process_group", "not held") in listed(old)  # as that document records it


def test_harness_ci_says_it_too(tmp_path, monkeypatch):
    output, results = checked(tmp_path, "ci", "basic", monkeypatch)
    assert [line for line in output.splitlines() if line.startswith(LINE_START)] == [reduced.line_of(results.sandbox)]


@full_here
def test_full_isolation_has_no_such_line(tmp_path, monkeypatch):
    output, results = checked(tmp_path, "check", None, monkeypatch)
    assert results.sandbox["mode"] == "full"
    assert LINE_START not in output and reduced.line_of(results.sandbox) == ""
    shown = NotebookResult(results, tmp_path / "sequences.ipynb")
    assert LINE_START not in shown.summary() and "harness-isolation" not in shown._repr_html_()
    rows = listed(results)
    assert LINE_START not in panel(results)
    assert len(rows) == len({n for n, _ in rows}) == len(results.sandbox["protections"])
    for name, state in rows:
        assert (state == "held") is (results.sandbox["protections"][name] is True), name
    assert all(results.sandbox["protections"][p] is True for p in PROMISES["full"])


def test_the_line_is_true_that_the_instructor_grades_in_full_isolation(monkeypatch):
    from harness.batch import class_isolation

    monkeypatch.delenv("HARNESS_ISOLATION", raising=False)
    if not sys.platform.startswith("linux"):
        pytest.skip("harness grade asks for full isolation on Linux only")
    try:
        assert class_isolation().mode == "full"
    except IsolationError as exc:  # a machine that cannot give it refuses, never grades a class in less
        assert "full" in str(exc)
