"""The assignment repository works end to end: what ``harness release`` writes is what a student's CI runs.

The instructor releases the function tasks into a folder outside this checkout; a student's solution is
put in; the workflow's grading step runs exactly as written, as GitHub Actions would run it — with only
the student package on the path (a fresh venv holding ``harness-student``, see tests/student_env.py),
the checks coming from the released ``.harness/`` folder, offline. Only function tasks are released
here (sequences, generation, cells: about 2 s to record, and cells brings the catalogue's diagnosis and a
figure along); a trained task would first train its reference models, for minutes.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import textwrap
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

import harness
from harness.release import write_release
from harness.spec import load_tasks
from student_env import student_subprocess_env

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "submissions"
TASKS = ["sequences", "generation", "cells"]
BUGGY = "pad_post"  # one bug in sequences.py; EXPECTED.toml beside it says what must fail
WORKFLOW = Path(".github") / "workflows" / "harness.yml"
GRADE_STEP = "Grade the public checks"
INSTALL_STEP = "Install the harness (the student package)"
#: Any HTTP(S) request of the run goes to a closed local port: the check must need no network.
NO_NETWORK = {name: "http://127.0.0.1:9" for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy",
                                                        "https_proxy", "all_proxy")}

pytestmark = pytest.mark.skipif(os.name == "nt" or shutil.which("bash") is None,
                                reason="the workflow's run: blocks are bash, as on GitHub's ubuntu runner")


# --------------------------------------------------------------------------- reading the workflow (no YAML)


def workflow_steps(text: str) -> list[dict[str, str]]:
    """The job's steps, each as {key: value} of its scalar keys; a ``run: |`` block dedented to its script.

    Enough YAML for the file ``harness release`` writes: block sequences of mappings, ``|`` scalars,
    comments; nested mappings (``with:``) are left out."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "steps:")
    steps: list[dict[str, str]] = []
    step_indent = None
    i = start + 1
    while i < len(lines):
        line, stripped = lines[i], lines[i].strip()
        i += 1
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        if step_indent is None:
            step_indent = indent
        if indent < step_indent:
            break
        if indent == step_indent and stripped.startswith("- "):
            steps.append({})
            indent, stripped = indent + 2, stripped[2:]
        if indent != step_indent + 2 or ":" not in stripped:
            continue  # inside a nested mapping
        key, _, value = stripped.partition(":")
        value = value.strip()
        if value in ("|", "|-"):
            block = []
            while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                block.append(lines[i])
                i += 1
            value = textwrap.dedent("\n".join(block)).strip("\n") + ("\n" if value == "|" else "")
        elif value[:1] in "\"'":
            value = value[1:-1]
        steps[-1][key.strip()] = value
    return steps


def job_env(text: str) -> dict[str, str]:
    """The job's ``env:`` (what GitHub sets for every step), read off ``KEY: "value"`` lines."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "env:")
    indent = len(lines[start]) - len(lines[start].lstrip())
    env = {}
    for line in lines[start + 1:]:
        if line.strip() and not line.strip().startswith("#"):
            if len(line) - len(line.lstrip()) <= indent:
                break
            key, _, value = line.strip().partition(":")
            env[key] = value.strip().strip("\"'")
    return env


def step(steps: list[dict[str, str]], name: str) -> dict[str, str]:
    (found,) = [s for s in steps if s.get("name") == name]
    return found


def pip_requirements(script: str) -> list[str]:
    """What the ``pip install`` lines of a script install (their arguments that are not options)."""
    takes_value = {"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "-c", "--constraint",
                   "--python", "--target", "-t"}
    found = []
    for line in script.splitlines():
        words = shlex.split(line, comments=True)
        if "install" not in words or "pip" not in " ".join(words[: words.index("install")]):
            continue
        args = iter(words[words.index("install") + 1:])
        for arg in args:
            if arg in takes_value:
                next(args, None)
            elif not arg.startswith("-"):
                found.append(arg)
            elif arg in ("-e", "--editable", "-r", "--requirement"):
                found.append(f"{arg} {next(args, '')}")  # never expected: kept so the assertion shows it
    return found


# --------------------------------------------------------------------------- the release and the runs


@dataclass
class Run:
    folder: Path
    returncode: int
    stdout: str
    stderr: str
    summary: str
    command: list[str]

    @property
    def annotations(self) -> list[str]:
        return [line for line in self.stdout.splitlines() if line.startswith("::")]


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    """The assignment folder of TASKS, as ``harness release --task sequences ...`` writes it, outside this
    checkout (about 2 s: no trained task, so no reference model to train)."""
    folder = tmp_path_factory.mktemp("assignment") / "assignment"
    assert not folder.resolve().is_relative_to(ROOT.resolve())
    write_release(folder, load_tasks(names=TASKS))
    return folder


@pytest.fixture(scope="module")
def workflow(released) -> str:
    return (released / WORKFLOW).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def grade(student_venv, released, workflow, tmp_path_factory):
    """Runs the workflow's grading step on a copy of the release with the given solution files in it."""
    steps = workflow_steps(workflow)
    script = step(steps, GRADE_STEP)["run"]
    env_of_job = job_env(workflow)

    def run(solution: list[Path], name: str, with_bundle: bool = True, extra_env: dict | None = None) -> Run:
        folder = tmp_path_factory.mktemp(name) / "repo"
        shutil.copytree(released, folder)
        if not with_bundle:
            shutil.rmtree(folder / ".harness")
        for path in solution:
            shutil.copy(path, folder / path.name)  # over the starter file
        summary = folder.parent / "step_summary.md"
        summary.touch()
        env = {**student_subprocess_env(), **env_of_job, **NO_NETWORK, **(extra_env or {}),
               "PATH": f"{student_venv.parent}{os.pathsep}{os.environ.get('PATH', '')}",
               "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_WORKSPACE": str(folder)}
        assert Path(shutil.which("harness", path=env["PATH"])).parent == student_venv.parent
        command = ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", script]  # GitHub's `shell: bash`
        done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
        return Run(folder, done.returncode, done.stdout, done.stderr, summary.read_text(encoding="utf-8"), command)

    return run


def solution(folder: Path) -> list[Path]:
    """The modules of the released tasks in ``folder`` (a fixture may hold only the one it breaks)."""
    modules = {s.module for s in load_tasks(names=TASKS)}
    return [folder / f"{m}.py" for m in sorted(modules) if (folder / f"{m}.py").exists()]


@pytest.fixture(scope="module")
def correct(grade) -> Run:
    return grade(solution(SUBMISSIONS / "reference"), "correct", extra_env={"PYTHONPROFILEIMPORTTIME": "1"})


@pytest.fixture(scope="module")
def buggy(grade) -> Run:
    return grade(solution(SUBMISSIONS / "reference") + solution(SUBMISSIONS / "buggy" / BUGGY), "buggy")


@pytest.fixture(scope="module")
def specs():
    return load_tasks(names=TASKS)


def public_checks(specs) -> list[str]:
    return [c.id for s in specs for c in s.checks if not c.graded_later]


def graded_later(specs) -> tuple[int, float]:
    later = [c for s in specs for c in s.checks if c.graded_later]
    return len(later), sum(c.points for c in later)


def junit_cases(path: Path) -> list[tuple[str, ET.Element]]:
    """(name, element) of every test case, in order (a check listed twice would show twice)."""
    return [(case.get("name"), case) for case in ET.parse(path).getroot().iter("testcase")]


def failed_cases(path: Path) -> set[str]:
    return {name for name, case in junit_cases(path)
            if case.find("failure") is not None or case.find("error") is not None}


def outputs(run: Run) -> dict[str, Path]:
    """The files the grading command names (--junit, --report, --json), in the folder it ran in."""
    words = shlex.split(run.command[-1])
    return {option: run.folder / words[words.index(option) + 1] for option in ("--junit", "--report", "--json")}


# --------------------------------------------------------------------------- the workflow as written


def test_the_release_is_the_assignment_folder(released, specs):
    for spec in specs:
        assert (released / f"{spec.module}.py").is_file()  # the starter file, where the solution goes
        assert (released / ".harness" / "tasks" / spec.name / "task.toml").is_file()
    assert (released / ".harness" / "bundle.json").is_file() and (released / ".harness" / "values.safetensors").is_file()
    assert not list(released.rglob("hidden.toml"))
    assert {p.name for p in (released / ".harness").rglob("*.py")} <= {"checks.py"}  # the written checks, no answer key
    assert (released / "README.md").is_file()


def test_the_workflow_installs_the_student_package_and_never_the_instructors(workflow):
    steps = workflow_steps(workflow)
    install = step(steps, INSTALL_STEP)["run"]
    assert f'"harness-student=={harness.__version__}"' in install
    assert pip_requirements(install) == ["pip", f"harness-student=={harness.__version__}"]
    for script in (s["run"] for s in steps if "run" in s):
        assert "git+" not in script and "harness @" not in script and "VERSION" not in script
        assert not re.search(r"(^|\s)(-e|--editable)\s", script)
    # no path to this checkout anywhere (comments included), nor to its answer key
    assert str(ROOT) not in workflow and "reference_models" not in workflow


def test_the_workflow_grades_with_harness_ci_on_the_released_tasks(workflow, specs):
    steps = workflow_steps(workflow)
    words = shlex.split(step(steps, GRADE_STEP)["run"])
    assert words[:3] == ["harness", "ci", "."]
    assert {"--junit", "--report", "--json"} <= set(words)
    assert "--all" not in words and "--bundle" not in words  # public checks, from the folder's own .harness/
    assert job_env(workflow)["HARNESS_TASKS"].split() == [s.name for s in specs]
    # the upload step keeps what the grading step writes
    keep = workflow[workflow.index("upload-artifact"):]
    for option in ("--junit", "--report", "--json"):
        assert words[words.index(option) + 1] in keep


# --------------------------------------------------------------------------- a student's solution, graded by it


def test_a_correct_solution_passes(correct, specs):
    assert correct.returncode == 0, correct.stdout + correct.stderr
    files = outputs(correct)
    assert sorted(name for name, _ in junit_cases(files["--junit"])) == sorted(public_checks(specs))
    assert failed_cases(files["--junit"]) == set()
    assert files["--report"].is_file() and files["--report"].read_text(encoding="utf-8").lstrip().startswith("<!")
    results = json.loads(files["--json"].read_text(encoding="utf-8"))
    assert results["score"] == results["max_score"] == sum(c.points for s in specs for c in s.checks
                                                           if not c.graded_later)
    assert sorted(c["id"] for c in results["checks"]) == sorted(public_checks(specs))
    n_later, points_later = graded_later(specs)
    assert sum(t["not_run_checks"] for t in results["tasks"]) == n_later
    assert sum(t["not_run_points"] for t in results["tasks"]) == pytest.approx(points_later)
    assert [a for a in correct.annotations if a.startswith("::error")] == []
    assert any(a.startswith("::notice") and "passed" in a for a in correct.annotations)
    assert correct.summary.startswith("## ✅ harness:")
    for spec in specs:
        assert f"`{spec.module}.py`" in correct.summary  # the table of tasks
    # and on the terminal, the points graded later (rich may wrap the line)
    assert f"{points_later:g} more points ({n_later} checks) are graded after submission" in " ".join(correct.stdout.split())


def test_a_buggy_solution_fails_at_its_file_and_line(buggy, specs):
    expected = tomllib.loads((SUBMISSIONS / "buggy" / BUGGY / "EXPECTED.toml").read_text(encoding="utf-8"))
    assert buggy.returncode == 1, buggy.stdout + buggy.stderr
    files = outputs(buggy)
    assert sorted(name for name, _ in junit_cases(files["--junit"])) == sorted(public_checks(specs))
    assert failed_cases(files["--junit"]) == set(expected["failed"])
    assert files["--report"].is_file()
    results = json.loads(files["--json"].read_text(encoding="utf-8"))
    failing = {c["id"]: c for c in results["checks"] if c["status"] != "passed"}
    assert set(failing) == set(expected["failed"])
    if "diagnosis" in expected:  # the catalogue's outputs are in the bundle: the mistake is named offline
        assert expected["diagnosis"] in failing[expected["words"]["check"]]["numbers"]["diagnosis"]
    source = (buggy.folder / f"{expected['module']}.py").read_text(encoding="utf-8").splitlines()
    errors = [a for a in buggy.annotations if a.startswith("::error")]
    assert len(errors) == len(expected["failed"])
    for check in expected["failed"]:
        name = check.split(".")[1]
        line = next(n for n, text in enumerate(source, start=1) if re.match(rf"\s*(def|class) {name}\b", text))
        assert any(a.startswith(f"::error file={expected['module']}.py,line={line},") and f"title={check}::" in a
                   for a in errors), errors
    assert buggy.summary.startswith("## ❌ harness:") and "### Fix first" in buggy.summary
    assert all(f"`{check}`" in buggy.summary for check in expected["failed"])


def test_the_job_summary_says_how_many_points_are_graded_after_submission(correct, buggy, specs):
    n_later, points_later = graded_later(specs)
    for run in (correct, buggy):
        assert f"{points_later:g} more points ({n_later} checks) are graded after submission" in run.summary


def test_the_run_used_the_student_package_alone(correct, student_venv):
    venv = student_venv.parent.parent.resolve()
    probe = ("import importlib.util, harness; print(harness.__file__); "
             "print(importlib.util.find_spec('reference_models') is None); "
             "print(importlib.util.find_spec('harness.release') is None)")
    done = subprocess.run([str(student_venv), "-c", probe], cwd=correct.folder, env=student_subprocess_env(),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    harness_file, no_answer_key, no_release_tools = done.stdout.split()
    assert Path(harness_file).resolve().is_relative_to(venv)
    assert no_answer_key == "True" and no_release_tools == "True"
    # what the grading command itself imported (PYTHONPROFILEIMPORTTIME=1 on its run)
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in correct.stderr.splitlines()
                if line.startswith("import time:")}
    assert "harness" in imported and "torch" in imported
    assert not imported & {"reference_models", "harness_tasks"}


def test_without_the_bundle_the_workflow_cannot_run(grade):
    run = grade(solution(SUBMISSIONS / "reference"), "no-bundle", with_bundle=False)
    assert run.returncode == 2, run.stdout + run.stderr
    said = " ".join((run.stdout + run.stderr).split())
    assert ".harness" in said and "--bundle" in said
    assert any(a.startswith("::error") and ".harness" in a for a in run.annotations)
    assert run.summary.startswith("## 💥 harness could not run") and ".harness" in run.summary


# --------------------------------------------------------------------------- GitHub Classroom's workflow


def test_the_classroom_workflow_s_grading_step_leaves_the_reporter_its_result(student_venv, tmp_path):
    """``harness release --classroom``: its grading step, run as written with the student package alone, appends
    the ``result`` output the reporter decodes: the buggy module's check fails, the others pass."""
    import base64

    folder = tmp_path / "assignment"
    specs = load_tasks(names=["sequences"])
    write_release(folder, specs, classroom=True)
    text = (folder / ".github" / "workflows" / "classroom.yml").read_text(encoding="utf-8")
    grading = step(workflow_steps(text), GRADE_STEP)
    assert grading["id"] == "harness" and grading["continue-on-error"] == "true"
    shutil.copy(SUBMISSIONS / "buggy" / BUGGY / "sequences.py", folder / "sequences.py")
    output = tmp_path / "github_output"
    output.touch()
    env = {**student_subprocess_env(), **job_env(text), **NO_NETWORK,
           "PATH": f"{student_venv.parent}{os.pathsep}{os.environ.get('PATH', '')}", "GITHUB_ACTIONS": "true",
           "GITHUB_WORKSPACE": str(folder), "GITHUB_OUTPUT": str(output),
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}
    done = subprocess.run(["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", grading["run"]],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr  # the rule fails; the step goes on to the reporter
    (line,) = output.read_text(encoding="utf-8").splitlines()
    name, _, value = line.partition("=")
    assert name == "result"
    document = json.loads(base64.b64decode(value, validate=True).decode("utf-8"))
    expected = tomllib.loads((SUBMISSIONS / "buggy" / BUGGY / "EXPECTED.toml").read_text())
    assert document["status"] == "fail" and document["max_score"] == sum(
        c.points for s in specs for c in s.checks if not c.graded_later)
    checks = {t["name"]: t for t in document["tests"] if t["name"] in public_checks(specs)}
    assert set(checks) == set(public_checks(specs))
    assert {n for n, t in checks.items() if t["status"] != "pass"} == set(expected["failed"])
    points = {c.id: c.points for s in specs for c in s.checks}
    for name in expected["failed"]:  # partial credit per case, the hint, and the line annotated in the module
        test = checks[name]
        assert test["score"] < points[name] and "How to fix:" in test["message"]
        assert test["filename"] == "sequences.py" and test["line_no"] > 0
