"""GitHub Classroom: the ``result`` step output of ``harness ci``, read back as the reporter reads it, and the
workflow ``harness release --classroom`` writes.

The reporter (classroom-resources/autograding-grading-reporter) splits its ``runners`` input on commas and
spaces, reads ``<RUNNER IN CAPITALS>_RESULTS`` from the environment, base64-decodes it and parses JSON; it
announces ``Points <sum of tests[].score>/<sum of max_score>`` over the steps whose max_score is not 0, and
fails the job when a step's status is ``fail`` or ``error``. :func:`reporter_reads` does exactly that here.
"""
from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import pytest

from harness import classroom
from harness.ci import Outcome
from harness.results import CheckResult, Results, TaskResult

from test_ci import SUBMISSIONS, overlay, read_json, run

ROOT = Path(__file__).resolve().parents[1]
TEST_FIELDS = {"name", "status", "score", "message", "test_code", "filename", "line_no", "duration"}


def step_output(path: Path) -> dict[str, str]:
    """A GitHub output file's ``name=value`` lines, as the runner reads them after the step."""
    return dict(line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines() if "=" in line)


def reporter_reads(runners: str, env: dict[str, str]) -> tuple[list[dict], str | None, bool]:
    """What the reporter makes of its input: each runner's document, the points notice, whether the job fails."""
    documents = []
    for runner in (r for r in re.split(r"[\s,]", runners) if r):
        encoded = env[f"{runner.strip().upper()}_RESULTS"]
        documents.append(json.loads(base64.b64decode(encoded).decode("utf-8")))
    total = sum(t["score"] for d in documents if d.get("max_score") for t in d["tests"])
    top = sum(d["max_score"] for d in documents if d.get("max_score"))
    notice = f"Points {total:g}/{top:g}" if top else None
    fails = any(d["status"] in ("fail", "error") for d in documents)
    return documents, notice, fails


def classroom_run(tmp_path: Path, submission: Path, *tasks: str, extra=()) -> tuple[object, dict, dict]:
    """``harness ci`` with --classroom-result into a fresh output file: the CLI result, the decoded document, the
    results JSON."""
    output, results_json = tmp_path / "github_output", tmp_path / "results.json"
    output.write_text("earlier=kept\n")  # the step's file may hold other outputs already: appended to, never replaced
    args = ["ci", submission, "--classroom-result", output, "--json", results_json, *extra]
    for task in tasks:
        args += ["--task", task]
    result = run(args, env={"GITHUB_WORKSPACE": str(tmp_path)})
    outputs = step_output(output)
    assert outputs["earlier"] == "kept"
    documents, _, _ = reporter_reads(classroom.STEP_ID, {classroom.results_variable(): outputs["result"]})
    return result, documents[0], read_json(results_json) if results_json.exists() else {}


def check_shape(document: dict) -> None:
    """Every field the reporter and the runners use, with the type they give it."""
    assert document["version"] == 1 and document["status"] in ("pass", "fail", "error")
    assert isinstance(document["max_score"], (int, float))
    for test in document["tests"]:
        assert set(test) == TEST_FIELDS, test
        assert test["status"] in ("pass", "fail", "error")
        assert isinstance(test["name"], str) and test["name"]
        assert isinstance(test["score"], (int, float)) and isinstance(test["line_no"], int)
        assert test["message"] is None or isinstance(test["message"], str)


def test_the_reference_earns_every_public_point_and_says_what_is_graded_later(tmp_path):
    result, doc, results = classroom_run(tmp_path, SUBMISSIONS / "reference", "cells", "sequences")
    assert result.exit_code == 0, result.output
    check_shape(doc)
    assert doc["status"] == "pass" and doc["max_score"] == results["max_score"] == results["score"] == 43
    tests, later = doc["tests"][:-1], doc["tests"][-1]
    assert [t["name"] for t in tests] == [c["id"] for c in results["checks"]]
    assert all(t["status"] == "pass" and t["message"] is None for t in tests)
    assert [t["score"] for t in tests] == [c["max_points"] for c in results["checks"]]
    # cells has checks graded after submission: said in a test worth nothing, which the reporter prints
    assert later["score"] == 0 and later["status"] == "pass"
    not_run = sum(t["not_run_points"] for t in results["tasks"]), sum(t["not_run_checks"] for t in results["tasks"])
    assert not_run[0] > 0 and later["name"] == f"{not_run[0]:g} more points ({not_run[1]} checks): graded after submission"
    assert later["test_code"].startswith("public checks: 43 of 43 points;") and "hidden" in later["test_code"]
    _, notice, fails = reporter_reads("harness", {"HARNESS_RESULTS": classroom.encode(doc)})
    assert notice == "Points 43/43" and not fails


def test_a_buggy_gru_loses_its_points_with_the_hint_at_its_line(tmp_path):
    sub = overlay(tmp_path, "buggy/gru_z_swapped")
    result, doc, results = classroom_run(tmp_path, sub, "cells")
    assert result.exit_code == 1, result.output  # the rule fails: the step goes on (continue-on-error)
    check_shape(doc)
    assert doc["status"] == "fail" and doc["max_score"] == 38
    tests = {t["name"]: t for t in doc["tests"]}
    failed = {name for name, t in tests.items() if t["status"] == "fail"}
    assert failed == {"cells.GRUCell.forward", "cells.GRUCell.gradients"}
    gru_line = next(i for i, line in enumerate((sub / "cells.py").read_text().splitlines(), 1)
                    if line.startswith("class GRUCell"))
    forward = tests["cells.GRUCell.forward"]
    assert forward["score"] == 0 and "How to fix:" in forward["message"]
    assert (forward["filename"], forward["line_no"]) == ("submission/cells.py", gru_line)
    assert tests["cells.RNNCell.forward"]["status"] == "pass" and tests["cells.RNNCell.forward"]["score"] == 2
    _, notice, fails = reporter_reads("harness", {"HARNESS_RESULTS": classroom.encode(doc)})
    assert notice == f"Points {results['score']:g}/38" == "Points 33/38" and fails


def test_a_submission_that_does_not_parse_errors_every_check_at_its_line(tmp_path):
    sub = overlay(tmp_path, "broken/syntax_error")
    result, doc, results = classroom_run(tmp_path, sub, "attention")
    assert result.exit_code == 1, result.output
    check_shape(doc)
    assert doc["status"] == "fail" and doc["max_score"] == results["max_score"] > 0
    checks = [t for t in doc["tests"] if t["name"] in {c["id"] for c in results["checks"]}]
    assert {t["status"] for t in checks} == {"error"} and len(checks) == len(results["checks"]) == 7
    assert all("SyntaxError" in t["message"] and t["score"] == 0 for t in checks)
    assert {(t["filename"], t["line_no"]) for t in checks} == {("submission/attention.py", 77)}
    assert [t["name"] for t in doc["tests"][len(checks):]] == [t["name"] for t in doc["tests"]
                                                             if t["name"].endswith(": graded after submission")]
    _, notice, fails = reporter_reads("harness", {"HARNESS_RESULTS": classroom.encode(doc)})
    assert notice == f"Points 0/{results['max_score']:g}" and fails


def test_a_notebook_that_is_not_json_is_ungradable_and_every_check_says_why(tmp_path):
    sub = tmp_path / "submission"
    shutil.copytree(SUBMISSIONS / "broken" / "not_json", sub, ignore=shutil.ignore_patterns("EXPECTED.toml"))
    result, doc, results = classroom_run(tmp_path, sub, "cells")
    assert result.exit_code == 1, result.output
    check_shape(doc)
    ids = [c["id"] for c in results["checks"]]
    checks = [t for t in doc["tests"] if t["name"] in ids]
    assert doc["status"] == "fail" and doc["max_score"] == results["max_score"] > 0 and len(checks) == len(ids)
    assert {t["status"] for t in checks} == {"error"} and {t["score"] for t in checks} == {0}
    assert all("JSON" in t["message"] for t in checks), checks[0]["message"]
    _, notice, fails = reporter_reads("harness", {"HARNESS_RESULTS": classroom.encode(doc)})
    assert notice == f"Points 0/{results['max_score']:g}" and fails


def test_when_the_harness_cannot_grade_the_step_errors_and_announces_no_points(tmp_path):
    result, doc, _ = classroom_run(tmp_path, tmp_path / "nope", "sequences")
    assert result.exit_code == 2 and "no such folder" in result.output
    check_shape(doc)
    assert doc["status"] == "error" and doc["max_score"] == 0
    assert doc["tests"][0]["status"] == "error" and "no such folder" in doc["tests"][0]["message"]
    _, notice, fails = reporter_reads("harness", {"HARNESS_RESULTS": classroom.encode(doc)})
    assert notice is None and fails  # no "Points 0/0": nothing was graded


def test_the_output_file_must_be_a_regular_file(tmp_path):
    folder = tmp_path / "a_folder"
    folder.mkdir()
    result = run(["ci", SUBMISSIONS / "reference", "--task", "sequences", "--classroom-result", folder])
    assert result.exit_code == 2 and "classroom" in result.output.lower()
    target, link = tmp_path / "elsewhere", tmp_path / "link"
    target.write_text("")
    link.symlink_to(target)
    linked = run(["ci", SUBMISSIONS / "reference", "--task", "sequences", "--classroom-result", link])
    assert linked.exit_code == 2 and "not a regular file" in linked.output and target.read_text() == ""


def test_classroom_output_never_holds_the_checks_graded_after_submission(tmp_path):
    output = tmp_path / "github_output"
    result = run(["ci", SUBMISSIONS / "reference", "--task", "sequences", "--all", "--classroom-result", output])
    assert result.exit_code == 2 and "public checks only; drop --all" in result.output and not output.exists()


def hand_made(status: str, points: float, hint: str = "") -> Results:
    checks = [CheckResult("cells.RNNCell.forward", "cells", status, points, 2, "ünïcode ✓ message", hint)]
    return Results("sub", "0", "2025-01-01T00:00:00+00:00", [TaskResult("cells", "Cells", "cells", "", points, 2, "1", "d")],
                   checks)


def test_statuses_partial_credit_and_encoding_on_hand_made_results():
    passed = Outcome(True, "", "")
    skipped = classroom.to_classroom(hand_made("skipped", 0, "ask the course staff"), passed)["tests"][0]
    assert skipped["status"] == "fail" and skipped["message"].startswith("skipped: ünïcode")
    partial = classroom.to_classroom(hand_made("passed", 1.5, "longer beams"), passed)["tests"][0]
    assert partial["status"] == "pass" and partial["score"] == 1.5 and partial["message"].endswith("longer beams")
    error = classroom.to_classroom(hand_made("error", 0), Outcome(False, "", ""))
    assert error["status"] == "fail" and error["tests"][0]["status"] == "error"
    encoded = classroom.encode(error)
    assert "\n" not in encoded and "=" not in encoded.rstrip("=")  # one line of base64, as a GitHub output value
    assert classroom.decode(encoded) == error
    assert json.loads(base64.b64decode(encoded).decode("utf-8"))["tests"][0]["message"] == "ünïcode ✓ message"
    with pytest.raises(ValueError):  # a NaN would not be JSON the reporter can parse
        classroom.encode({"max_score": float("nan")})


# --------------------------------------------------------------------------- the workflow


def workflow_of(folder: Path) -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load((folder / ".github" / "workflows" / "classroom.yml").read_text())


def test_release_classroom_writes_the_workflow_classroom_recognises(tmp_path):
    folder = tmp_path / "assignment"
    result = run(["release", folder, "--task", "sequences", "--classroom"])
    assert result.exit_code == 0, result.output
    assert not (folder / ".github" / "workflows" / "harness.yml").exists()  # one workflow on push: Classroom's
    assert "classroom.yml: its install step" in result.output
    data = workflow_of(folder)
    assert data["name"] == "Autograding Tests" and list(data["jobs"]) == ["run-autograding-tests"]
    assert set(data[True]) >= {"push"}  # YAML 1.1 reads the key `on` as True
    job = data["jobs"]["run-autograding-tests"]
    assert job["env"]["HARNESS_TASKS"] == "sequences"
    steps = job["steps"]
    grading = next(s for s in steps if s.get("id") == classroom.STEP_ID)
    assert grading["run"].startswith('harness ci . --classroom-result "$GITHUB_OUTPUT"')
    assert grading["continue-on-error"] is True
    install = next(s for s in steps if "pip install" in s.get("run", ""))
    assert "harness-student==" in install["run"] and steps.index(install) < steps.index(grading)
    reporter = next(s for s in steps if "autograding-grading-reporter" in s.get("uses", ""))
    assert reporter["uses"] == "classroom-resources/autograding-grading-reporter@v1"
    assert steps.index(reporter) > steps.index(grading) and "cancelled()" in reporter["if"]
    # the reporter reads <runner in capitals>_RESULTS: the env it is given must hold the step's output
    runners = [r for r in re.split(r"[\s,]", reporter["with"]["runners"]) if r]
    assert runners == [classroom.STEP_ID]
    assert reporter["env"] == {classroom.results_variable(r): f"${{{{ steps.{r}.outputs.{classroom.OUTPUT} }}}}"
                               for r in runners} == {"HARNESS_RESULTS": "${{ steps.harness.outputs.result }}"}


def test_a_flood_of_long_messages_still_fits_in_one_environment_variable(tmp_path):
    """The reporter gets the output as HARNESS_RESULTS; Linux refuses an environment string over 128 KiB."""
    long = "x" * 4000  # a check's message at its longest (harness.results.TEXT_LIMIT)
    checks = [CheckResult(f"cells.check_{i}", "cells", "failed", 0.25, 1, long, "y" * 4000) for i in range(80)]
    results = Results("sub", "0", "", [TaskResult("cells", "Cells", "cells", "", 20, 80, "1", "d")], checks)
    document = classroom.to_classroom(results, Outcome(False, "", ""))
    assert len(classroom.encode(document)) > 128 * 1024
    output = tmp_path / "out"
    classroom.append_output(output, document)
    value = step_output(output)["result"]
    assert len(value) <= classroom.ENCODED_LIMIT
    fitted = classroom.decode(value)
    assert [t["name"] for t in fitted["tests"]] == [c.id for c in checks]  # every check kept, messages cut
    assert all(t["message"].endswith(classroom.CUT) for t in fitted["tests"])
    _, notice, _ = reporter_reads("harness", {"HARNESS_RESULTS": value})
    assert notice == "Points 20/80"  # the points are unchanged
    many = [CheckResult(f"cells.{'n' * 190}_{i}", "cells", "passed", 1, 1, "ok") for i in range(600)]
    crowded = classroom.fit(classroom.to_classroom(
        Results("sub", "0", "", [TaskResult("cells", "Cells", "cells", "", 600, 600, "1", "d")], many),
        Outcome(True, "", "")))
    assert len(classroom.encode(crowded)) <= classroom.ENCODED_LIMIT
    assert crowded["tests"][-1]["name"].endswith("more checks (not listed: GitHub's limit on a step's output)")
    assert sum(t["score"] for t in crowded["tests"]) == 600 and crowded["tests"][-1]["status"] == "pass"
