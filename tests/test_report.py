"""The HTML report, rendered from a hand-built Results document (no sandbox, no grading)."""
from __future__ import annotations

import re

import pytest

from harness.figures import draw
from harness.report import render_report, write_report
from harness.results import CheckResult, Results, TaskResult

SCRIPT = "<script>alert('pwned')</script>"


def line(cell: str, who: str, values: list[float]) -> dict:
    return {"label": f"{cell} ({'answer key' if who == 'reference' else 'yours'})", "cell": cell, "who": who,
            "values": values}


def gradient_flow_figure() -> dict:
    steps = range(12)
    return {"id": "cells.gradient_flow", "title": "Gradient norm through time", "task": "cells", "data": {
        "kind": "lines", "x_label": "input step t", "y_label": "‖∂L/∂x_t‖ (log scale)", "log_y": True,
        "series": [line("RNNCell", "reference", [10.0 ** (t - 12) for t in steps]),
                   line("RNNCell", "student", [10.0 ** (t - 11) for t in steps]),
                   line("LSTMCell", "reference", [0.5 ** (12 - t) for t in steps])],
        "errors": {"LSTMCell": f"your LSTMCell could not be run: {SCRIPT}"}}}


@pytest.fixture
def results() -> Results:
    checks = [
        CheckResult("cells.RNNCell.forward", "cells", "passed", 2.0, 2.0, "RNNCell matches the answer key",
                    numbers={"max_abs_error": {"float64": 0.0}}),
        CheckResult("cells.GRUCell.forward", "cells", "failed", 0.0, 3.0, "GRUCell: largest error 1.03",
                    hint="the update gate is used the other way round", numbers={"diagnosis": "gru_z_swapped"}),
        CheckResult("cells.LSTMCell.shapes", "cells", "error", 0.0, 1.0, f"your code raised ValueError: {SCRIPT}",
                    numbers={"traceback": 'Traceback (most recent call last):\n  File "cells.py", line 80\n'
                                          f"ValueError: {SCRIPT}\n"}),
    ]
    tasks = [TaskResult("cells", "Recurrent cells and layers", "cells", "cells.py", 2.0, 6.0, "1", "f1cabfa60fe5700b")]
    return Results(submission="submissions/alice", harness_version="0.1.0", created="2026-01-01T00:00:00+00:00",
                   tasks=tasks, checks=checks, figures=[gradient_flow_figure()],
                   notes=["cells.ipynb, cell 3, line 1: skipped a shell command: !pip install torch"],
                   environment={"python": "3.11.7", "torch": "2.13.0+cpu", "platform": "Linux",
                                "seeds": {"cells": 2024}},
                   sandbox={"protections": {"network_namespace": True, "process_limit": False,
                                            "unprivileged_uid": "skipped: not root"}, "worker_starts": 1},
                   seconds=3.2)


def test_report_shows_score_checks_hint_and_figure(results):
    page = render_report(results)
    assert "alice" in page
    assert ">2</span>" in page and "/ 6 points" in page and "33.3" in page
    for check in results.checks:
        assert check.id in page
    for status in ("passed", "failed", "error"):
        assert f'class="badge {status}"' in page
    assert "How to fix" in page and "the update gate is used the other way round" in page
    assert re.search(r"<svg\b[^>]*role=\"img\"", page)
    assert "LSTMCell is not drawn" in page
    assert "skipped a shell command" in page
    assert "2024" in page and "2.13.0+cpu" in page and "process limit: not held" in page


def test_fix_first_links_to_checks_that_did_not_pass_most_points_lost_first(results):
    results.checks.append(CheckResult("cells.GRUCell.gradients", "cells", "failed", 0.0, 1.0,
                                      "GRUCell: largest error 1.03", hint="the update gate is used the other way round"))
    page = render_report(results)
    fix_first = page[page.index("Fix first"):page.index('<section class="task"')]
    links = re.findall(r'<li><a href="#(check-[^"]+)"', fix_first)
    assert links == ["check-cells.GRUCell.forward", "check-cells.LSTMCell.shapes"]  # one item per cause
    assert "cells.GRUCell.forward</code></a> and 1 more" in fix_first and "4 points lost" in fix_first
    assert 'href="#check-cells.GRUCell.gradients"' in fix_first  # the cause's other check, linked too
    assert "3 checks did not pass, for 2 causes" in fix_first
    assert "RNNCell.forward" not in fix_first
    assert 'id="check-cells.GRUCell.forward"' in page


def test_report_is_self_contained(results):
    page = render_report(results)
    without_namespaces = re.sub(r'xmlns(:\w+)?="[^"]*"', "", page)
    assert "http://" not in without_namespaces and "https://" not in without_namespaces
    for external in ("<script src", "<link", "@import", "url(http", "<img"):
        assert external not in page.lower()


def test_student_text_is_escaped(results):
    page = render_report(results)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(" in page


def test_rendering_is_deterministic(results):
    assert render_report(results) == render_report(results)


def test_write_report_creates_parent_folders(results, tmp_path):
    path = write_report(results, tmp_path / "reports" / "alice" / "report.html")
    assert path.exists() and path.read_text(encoding="utf-8") == render_report(results)


def test_a_figure_that_cannot_be_drawn_is_a_note_not_an_exception(results):
    results.figures += [{"id": "x.pie", "title": "A pie", "task": "cells", "data": {"kind": "pie"}},
                        {"id": "x.broken", "title": "Broken", "task": "cells", "data": {"error": "worker died"}}]
    page = render_report(results)
    assert "cannot draw a figure of kind" in page and "worker died" in page
    assert draw({"kind": "lines"}).svg == ""


def test_answer_key_dashed_student_solid_in_one_colour():
    svg = draw(gradient_flow_figure()["data"], "Gradient norm", "g").svg
    rnn = re.findall(r'<g id="fig-g-line2d_\d+">\s*<path[^>]*style="([^"]*)"', svg)
    styles = {s for s in rnn if "#0072b2" in s.lower()}  # lines and their legend handles
    assert len(styles) == 2  # answer key and student share the RNNCell colour
    assert sum("stroke-dasharray" in s for s in styles) == 1


def test_a_public_run_says_it_is_not_the_final_grade(results):
    """Checks graded after submission did not run: the page says how many points that leaves out."""
    assert "Not the final grade" not in render_report(results)
    results.tasks[0].not_run_checks, results.tasks[0].not_run_points = 6, 8.0
    html = render_report(results)
    assert ("<strong>Not the final grade:</strong> public checks: 2 of 6 points; 8 more points (6 checks) are "
            "graded after submission.") in html


def test_a_report_of_the_current_folder_is_named_after_it(results, tmp_path, monkeypatch):
    """`harness check .` records the submission as "."; the page is titled with the folder's name."""
    monkeypatch.chdir(tmp_path)
    results.submission = "."
    assert f"<h1>{tmp_path.name}</h1>" in render_report(results)


def graded(comparison) -> Results:
    check = CheckResult("forecasting.mase", "forecasting", "passed", 3.2, 4.0, "holdout MASE 1.700 — …",
                        numbers={"mase": 1.7, "comparison": comparison})
    return Results(submission="submissions/alice", harness_version="0.1.0", created="2026-01-01T00:00:00+00:00",
                   tasks=[TaskResult("forecasting", "Forecasting", "forecasting", "forecasting.py", 3.2, 4.0, "1", "x")],
                   checks=[check], figures=[], notes=[], environment={}, sandbox={}, seconds=1.0)


COMPARISON = [{"label": "Holt-Winters", "value": 1.014, "role": "full points"},
              {"label": "yours", "value": 1.7, "role": "yours"},
              {"label": "reference model", "value": 1.805, "role": ""},
              {"label": "naive (last value)", "value": 4.033, "role": "no points"}]


def test_a_graded_figure_is_shown_beside_every_figure_it_is_measured_against():
    page = render_report(graded(COMPARISON))
    table = re.search(r'<table class="comparison">(.*?)</table>', page, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", " ", row).split() for row in re.findall(r"<tr\b.*?</tr>", table, re.S)[1:]]
    assert [" ".join(c) for c in cells] == ["Holt-Winters 1.014 full points", "yours 1.7",
                                            "reference model 1.805", "naive (last value) 4.033 no points"]
    assert '<tr class="yours"><td>yours</td>' in table
    assert "&#34;comparison&#34;" not in page  # shown as the table, not again among the numbers (escaped JSON)


@pytest.mark.parametrize("hostile", [
    "Holt-Winters 1.0",                                               # not a list
    [{"label": "Holt-Winters", "value": "1.0", "role": ""}],          # a value that is not a number
    [{"label": "Holt-Winters", "value": True, "role": ""}],           # a flag is not a figure
    [{"label": ["x"], "value": 1.0}],                                 # a label that is not text
    [{"label": "m", "value": 1.0, "role": ""}] * 10_000,              # far longer than any task's list
    [],
])
def test_a_comparison_of_any_other_form_stays_among_the_numbers(hostile):
    page = render_report(graded(hostile))
    assert 'class="comparison"' not in page
    assert "&#34;comparison&#34;" in page  # the numbers' JSON, escaped


def test_a_comparison_label_is_escaped():
    page = render_report(graded([{"label": SCRIPT, "value": 1.0, "role": ""}]))
    assert SCRIPT not in page and "&lt;script&gt;" in page
