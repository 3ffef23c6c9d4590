"""CI as a pipeline sees it: exit status by the rule, JUnit XML, the job summary, GitHub annotations,
Gradescope's results.json, and `harness check` running only the public checks.

Only the fast function tasks are graded here (cells, attention, sequences); everything about formats
that needs no grading runs on small hand-made Results documents.
"""
from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness import ci
from harness.cli import main
from harness.gradescope import to_gradescope
from harness.junit import to_junit
from harness.results import CheckResult, Results, TaskResult

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "submissions"
NO_GITHUB = {"GITHUB_ACTIONS": None, "GITHUB_STEP_SUMMARY": None, "GITHUB_WORKSPACE": None, "HARNESS_TASKS": None}


def overlay(tmp_path: Path, fixture: str) -> Path:
    """The reference submission with one module replaced by a buggy or broken fixture's."""
    sub = tmp_path / "submission"
    shutil.copytree(SUBMISSIONS / "reference", sub)
    for f in (SUBMISSIONS / fixture).iterdir():
        if f.suffix in (".py", ".ipynb"):
            shutil.copy(f, sub / f.name)
    return sub


def run(args: list[str], env: dict | None = None, cwd: Path | None = None):
    runner = CliRunner()
    environment = {**NO_GITHUB, **(env or {})}
    if cwd is None:
        return runner.invoke(main, [str(a) for a in args], env=environment)
    with runner.isolated_filesystem(temp_dir=cwd):
        return runner.invoke(main, [str(a) for a in args], env=environment)


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- exit status and files


def test_reference_passes_and_every_output_agrees_with_the_results(tmp_path):
    out = {k: tmp_path / f"out.{k}" for k in ("xml", "md", "json", "gs", "html")}
    result = run(["ci", SUBMISSIONS / "reference", "--task", "cells", "--task", "sequences",
                  "--junit", out["xml"], "--summary", out["md"], "--json", out["json"],
                  "--gradescope", out["gs"], "--report", out["html"]])
    assert result.exit_code == 0, result.output
    assert "harness ci: PASSED" in result.output and "::" not in result.output  # no annotations outside GitHub
    data = read_json(out["json"])
    checks = data["checks"]
    assert data["score"] == data["max_score"] == 43

    root = ET.parse(out["xml"]).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == (
        str(len(checks)), "0", "0", "0")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["cells", "sequences"]
    for suite in suites:
        cases = suite.findall("testcase")
        mine = [c for c in checks if c["task"] == suite.get("name")]
        assert suite.get("tests") == str(len(cases)) == str(len(mine))
        assert [c.get("name") for c in cases] == [c["id"] for c in mine]
        assert {c.get("classname") for c in cases} == {suite.get("name")}
        assert all(float(c.get("time")) >= 0 for c in cases)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", suite.get("timestamp"))
        props = {p.get("name"): p.get("value") for p in suite.find("properties")}
        assert props["score"] == props["max_score"]
        assert props[f"points.{mine[0]['id']}"] == f"{mine[0]['max_points']:g}/{mine[0]['max_points']:g}"
        assert not suite.findall(".//failure") and not suite.findall(".//error")

    summary = out["md"].read_text()
    assert summary.startswith("## ✅") and "43/43 points (100%)" in summary and "Fix first" not in summary
    assert "<details>" in summary and "`cells.GRUCell.forward`" in summary

    gs = read_json(out["gs"])
    assert gs["score"] == 43 and len(gs["tests"]) == len(checks)
    assert {t["status"] for t in gs["tests"]} == {"passed"} and {t["visibility"] for t in gs["tests"]} == {"visible"}
    assert "<svg" in out["html"].read_text()


def test_a_buggy_gru_fails_the_default_rule_passes_a_low_threshold_and_annotates_the_class(tmp_path):
    sub = overlay(tmp_path, "buggy/gru_z_swapped")
    step_summary = tmp_path / "step_summary.md"
    step_summary.write_text("earlier step\n")
    junit = tmp_path / "junit.xml"
    github = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(step_summary), "GITHUB_WORKSPACE": str(tmp_path)}
    result = run(["ci", sub, "--task", "cells", "--require-all", "--junit", junit], env=github)
    assert result.exit_code == 1, result.output
    assert "harness ci: FAILED" in result.output

    # JUnit: the two GRU checks fail, with the message and the hint in the text
    suite = ET.parse(junit).getroot().find("testsuite")
    failures = {case.get("name"): case.find("failure") for case in suite if case.find("failure") is not None}
    assert set(failures) == {"cells.GRUCell.forward", "cells.GRUCell.gradients"}
    assert suite.get("failures") == "2" and suite.get("errors") == "0"
    assert "How to fix:" in failures["cells.GRUCell.forward"].text
    assert "GRUCell" in failures["cells.GRUCell.forward"].get("message")

    # the step summary is appended to, as GitHub expects
    text = step_summary.read_text()
    assert text.startswith("earlier step\n## ❌") and "### Fix first" in text
    assert text.index("cells.GRUCell.forward") < text.index("cells.GRUCell.gradients")  # 3 points before 2

    # annotations at the GRUCell class of submission/cells.py, relative to the workspace
    gru_line = next(i for i, line in enumerate((sub / "cells.py").read_text().splitlines(), 1)
                    if line.startswith("class GRUCell"))
    errors = [line for line in result.output.splitlines() if line.startswith("::error ")]
    assert errors[0].startswith(f"::error file=submission/cells.py,line={gru_line},title=cells.GRUCell.forward::")
    assert "%0AHow to fix: " in errors[0] and "\n" not in errors[0]
    assert any(line.startswith("::notice title=harness::Score 33/38 (87%25)") for line in result.output.splitlines())

    low = run(["ci", sub, "--task", "cells", "--min-percent", "50"])
    assert low.exit_code == 0, low.output
    assert "harness ci: PASSED" in low.output and "score 86.8% ≥ 50%" in low.output
    both = run(["ci", sub, "--task", "cells", "--min-score", "30", "--require-all"])
    assert both.exit_code == 1 and "2 of 26 checks did not pass" in both.output


def test_a_syntax_error_is_annotated_at_its_line_once_for_all_the_checks_it_breaks(tmp_path):
    sub = overlay(tmp_path, "broken/syntax_error")
    junit = tmp_path / "junit.xml"
    result = run(["ci", sub, "--task", "attention", "--junit", junit, "--min-score", "1"],
                 env={"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(tmp_path)})
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("::error ")]
    assert len(errors) == 1  # seven checks, one cause, one annotation
    assert errors[0].startswith("::error file=submission/attention.py,line=77,title=attention.dot_attention and 6 more::")
    assert "SyntaxError" in errors[0]
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite.get("errors") == suite.get("tests") == "7" and suite.get("failures") == "0"
    assert all(case.find("error") is not None for case in suite.findall("testcase"))


def test_the_harness_failing_exits_2_and_says_so_everywhere(tmp_path):
    step_summary, gradescope = tmp_path / "summary.md", tmp_path / "gs.json"
    result = run(["ci", tmp_path / "nope", "--task", "sequences", "--gradescope", gradescope],
                 env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(step_summary)})
    assert result.exit_code == 2 and "no such folder" in result.output
    assert "::error title=harness could not run::" in result.output
    assert "could not run" in step_summary.read_text()
    assert read_json(gradescope)["score"] == 0 and "could not run" in read_json(gradescope)["output"]

    assert run(["ci", SUBMISSIONS / "reference", "--task", "no_such_task"]).exit_code == 2
    both = run(["ci", SUBMISSIONS / "reference", "--min-score", "1", "--min-percent", "1"])
    assert both.exit_code == 2 and "not both" in both.output  # a usage error


def test_tasks_come_from_HARNESS_TASKS_as_the_workflow_sets_them(tmp_path):
    out = tmp_path / "r.json"
    result = run(["ci", SUBMISSIONS / "reference", "--json", out], env={"HARNESS_TASKS": "sequences"})
    assert result.exit_code == 0, result.output
    assert {c["task"] for c in read_json(out)["checks"]} == {"sequences"}


def test_ci_forks_its_worker_from_a_fork_server_it_starts_and_stops(tmp_path):
    """As `harness check` does: the worker's torch import runs while the judge loads the specs."""
    from harness.sandbox import zygote

    zygote.stop_for_process()  # the session's fork server (tests/conftest.py): the command starts without one
    try:
        out = tmp_path / "r.json"
        result = run(["ci", SUBMISSIONS / "reference", "--json", out, "--task", "sequences"])
        assert result.exit_code == 0, result.output
        sandbox = read_json(out)["sandbox"]
        if zygote.supported()[0] and sandbox["mode"] != "basic":
            assert sandbox["start"] == "forked", sandbox
        assert zygote.current() is None  # stopped when the command ended
    finally:
        zygote.start_for_process()


# --------------------------------------------------------------------------- public and hidden checks


@pytest.fixture
def hidden_tasks(tmp_path) -> Path:
    """The sequences spec with make_windows a check graded after submission (in hidden.toml)."""
    tasks = tmp_path / "tasks" / "sequences"
    tasks.mkdir(parents=True)
    text = (ROOT / "tasks" / "sequences" / "task.toml").read_text()
    text = text.replace('[checks."sequences.make_windows"]\npoints = 2\n', "")
    assert "make_windows" not in text.split("[checks", 1)[1]
    (tasks / "task.toml").write_text(text)
    (tasks / "hidden.toml").write_text('seed = 5\n[checks."sequences.make_windows"]\npoints = 2\n')
    for name in ("answer_key.py", "checks.py"):
        shutil.copy(ROOT / "tasks" / "sequences" / name, tasks / name)
    return tmp_path / "tasks"


def test_check_runs_only_public_checks_unless_all_and_gradescope_hides_the_hidden(tmp_path, hidden_tasks):
    common = ["--tasks-dir", hidden_tasks, "--report", tmp_path / "r.html"]
    public = run(["check", SUBMISSIONS / "reference", *common, "--json", tmp_path / "public.json"])
    assert public.exit_code == 0, public.output
    assert [c["id"] for c in read_json(tmp_path / "public.json")["checks"]] == ["sequences.pad_sequences"]

    everything = run(["check", SUBMISSIONS / "reference", *common, "--all", "--json", tmp_path / "all.json",
                      "--gradescope", tmp_path / "gs.json"])
    assert everything.exit_code == 0, everything.output
    assert [c["id"] for c in read_json(tmp_path / "all.json")["checks"]] == ["sequences.pad_sequences",
                                                                            "sequences.make_windows.hidden"]
    tests = {t["name"]: t for t in read_json(tmp_path / "gs.json")["tests"]}
    assert tests["sequences.pad_sequences"]["visibility"] == "visible"
    assert tests["sequences.make_windows.hidden"]["visibility"] == "after_due_date"

    ci_public = run(["ci", SUBMISSIONS / "reference", "--tasks-dir", hidden_tasks, "--json", tmp_path / "ci.json"])
    assert ci_public.exit_code == 0 and len(read_json(tmp_path / "ci.json")["checks"]) == 1


# --------------------------------------------------------------------------- export


def test_export_converts_a_results_document(tmp_path):
    results_json = tmp_path / "results.json"
    sample_results().write(results_json)
    out = tmp_path / "gradescope.json"
    result = run(["export", "--gradescope", results_json, "-o", out])
    assert result.exit_code == 0, result.output
    gs = read_json(out)
    assert set(gs) >= {"score", "execution_time", "output", "visibility", "stdout_visibility", "tests"}
    assert gs["score"] == 2.5 and gs["stdout_visibility"] == "hidden" and isinstance(gs["execution_time"], int)

    junit = run(["export", "--junit", results_json])
    assert junit.exit_code == 0 and ET.fromstring(junit.output.split("\n", 1)[1]).get("tests") == "4"
    assert run(["export", results_json]).exit_code == 2  # no format: a usage error
    assert run(["export", "--gradescope", results_json, "-o", results_json]).exit_code == 2
    (tmp_path / "bad.json").write_text("{}")
    assert run(["export", "--markdown", tmp_path / "bad.json"]).exit_code == 2


# --------------------------------------------------------------------------- formats on hand-made results


def sample_results(submission: str = "sub") -> Results:
    checks = [
        CheckResult("cells.RNNCell.forward", "cells", "passed", 2, 2, "matches"),
        CheckResult("cells.LSTMCell.forward", "cells", "failed", 0, 3, "wrong\x00 <output> & \"quotes\"\nline 2",
                    "swap the gates, 100% sure"),
        CheckResult("generation.perplexity", "generation", "error", 0, 2,
                    "your code raised ValueError: no (generation.ipynb, cell 3, line 4)",
                    numbers={"traceback": 'File "/scratch/generation.py", line 40'}, visibility="hidden"),
        CheckResult("generation.beam_search", "generation", "passed", 0.5, 1, "partial", "longer beams"),
    ]
    tasks = [TaskResult("cells", "Cells", "cells", "cells.py", 2, 5, "1", "abc"),
             TaskResult("generation", "Generation", "generation", "generation.ipynb", 0.5, 3, "1", "def")]
    return Results(submission, "0.1.0", "2025-01-02T03:04:05+00:00", tasks, checks, seconds=1.6)


def test_junit_is_well_formed_whatever_the_messages_hold():
    root = ET.fromstring(to_junit(sample_results()).split("\n", 1)[1])
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "1", "1")
    lstm = root.find("testsuite/testcase[@name='cells.LSTMCell.forward']/failure")
    # the control character is shown as its escape (harness.results.cut)
    assert lstm.get("message").startswith("wrong\\x00 <output>") and "How to fix: swap the gates" in lstm.text
    assert root.find("testsuite[@name='cells']").get("timestamp") == "2025-01-02T03:04:05"


def test_gate_rules():
    results = sample_results()  # 2.5 of 8 points, one failure and one error
    assert not ci.evaluate(results, ci.Gate()).passed  # no threshold: every check must pass
    assert ci.evaluate(results, ci.Gate(min_score=2.5)).passed
    assert not ci.evaluate(results, ci.Gate(min_score=2.6)).passed
    assert ci.evaluate(results, ci.Gate(min_percent=31.25)).passed
    assert not ci.evaluate(results, ci.Gate(min_percent=30, require_all=True)).passed
    assert ci.evaluate(results, ci.Gate(min_percent=0)).exit_code == 0
    with pytest.raises(ci.CIError):
        ci.evaluate(Results("s", "0", "", [], []), ci.Gate())
    with pytest.raises(ValueError):
        ci.Gate(min_score=1, min_percent=1)


def test_annotations_escape_and_point_into_notebooks(tmp_path):
    lines = ci.annotations(sample_results(str(tmp_path / "sub")), workspace=tmp_path)
    lstm = next(line for line in lines if "cells.LSTMCell.forward" in line)
    assert lstm.startswith("::error file=sub/cells.py,title=cells.LSTMCell.forward::wrong")
    assert "%0Aline 2%0AHow to fix: swap the gates, 100%25 sure" in lstm
    notebook = next(line for line in lines if "generation.perplexity" in line)
    # the notebook is not on disk: no line of its file can be given, and the message names the cell
    assert notebook.startswith("::error file=sub/generation.ipynb,title=generation.perplexity::")
    assert ci.escape_property("a,b:c%\nd") == "a%2Cb%3Ac%25%0Ad"
    assert ci.locate(sample_results().checks[2], sample_results()).where == "generation.ipynb, cell 3, line 4"


def test_gradescope_document():
    gs = to_gradescope(sample_results())
    assert gs["score"] == 2.5 and gs["execution_time"] == 2 and gs["visibility"] == "visible"
    tests = {t["name"]: t for t in gs["tests"]}
    assert tests["cells.LSTMCell.forward"] == {
        "name": "cells.LSTMCell.forward", "score": 0, "max_score": 3, "status": "failed",
        "output": "wrong\\x00 <output> & \"quotes\"\nline 2\nHow to fix: swap the gates, 100% sure",
        "tags": ["cells"], "visibility": "visible"}
    assert tests["generation.perplexity"]["status"] == "failed"  # an error is a failure to Gradescope
    assert tests["generation.perplexity"]["visibility"] == "hidden"  # the check's own, as its spec says
    assert to_gradescope(sample_results(), hidden="after_published")["tests"][2]["visibility"] == "after_published"
    assert tests["generation.beam_search"]["score"] == 0.5 and tests["generation.beam_search"]["status"] == "passed"
    assert "Fix first" in gs["output"]
    assert to_gradescope(sample_results(), hidden="hidden")["tests"][2]["visibility"] == "hidden"


def test_the_markdown_summary_escapes_what_the_submission_controls():
    text = ci.markdown_summary(sample_results(), ci.evaluate(sample_results(), ci.Gate(min_percent=10)))
    assert text.startswith("## ✅") and "required a score of at least 10%" in text
    assert "&lt;output&gt;" in text and "<output>" not in text
    assert "| Generation | `generation.ipynb` | 0.5/3 |" in text
    assert "(generation.ipynb, cell 3, line 4)" in text


def test_templates_parse():
    workflow = (ROOT / "harness" / "templates" / "assignment-workflow.yml").read_text()
    assert "harness ci . --junit junit.xml" in workflow and "HARNESS_TASKS" in workflow
    script = (ROOT / "harness" / "templates" / "gradescope_run_autograder.sh").read_text()
    assert "--gradescope" in script and "/autograder/results/results.json" in script
    yaml = pytest.importorskip("yaml")
    data = yaml.safe_load(workflow)
    steps = data["jobs"]["grade"]["steps"]
    assert any("upload-artifact" in s.get("uses", "") for s in steps)
    assert set(data[True]) == {"push", "pull_request"}  # YAML 1.1 reads the key `on` as True
