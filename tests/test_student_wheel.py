"""The two installs: the student's wheel holds the judge and nothing of the answer key; the instructor's
holds the answer key and the default task specs, found from any folder once installed."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import harness
from harness.release.wheel import StudentWheelError, selected, verify_student_wheel
from harness.spec import SpecError, default_tasks_dir, load_tasks
from student_env import make_venv_with_wheel, run_in, student_subprocess_env

ROOT = Path(__file__).resolve().parents[1]
TASKS = sorted(p.relative_to(ROOT / "tasks").as_posix() for p in (ROOT / "tasks").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts)


def files_of(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as z:
        return {name: z.read(name) for name in z.namelist() if not name.endswith("/")}


def dist_info(files: dict[str, bytes], name: str) -> str:
    (found,) = [k for k in files if k.endswith(f".dist-info/{name}")]
    return files[found].decode()


@pytest.fixture(scope="module")
def student_files(student_wheel) -> dict[str, bytes]:
    return files_of(student_wheel)


# ------------------------------------------------------------------------------- the student's wheel


def test_the_student_wheel_holds_nothing_of_the_answer_key(student_files):
    names = list(student_files)
    assert not [n for n in names if "reference_models" in n.split("/")]
    assert not [n for n in names if n.startswith(("harness/release/", "harness_tasks/", "tasks/"))]
    assert "harness/starter.py" not in names
    assert not [n for n in names if n.rsplit("/", 1)[-1] in ("task.toml", "hidden.toml")]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    answer_key = re.compile(r"^\s*class (RNNCell|LSTMCell|GRUCell|PeepholeLSTMCell|Variant)\b|^def variants_for\(",
                            re.MULTILINE)
    sources = {n: b.decode() for n, b in student_files.items() if n.endswith(".py")}
    assert {n: m.group(0) for n, text in sources.items() if (m := answer_key.search(text))} == {}
    lstm = ast.get_source_segment(text := (ROOT / "reference_models" / "cells.py").read_text(),
                                  next(n for n in ast.parse(text).body if getattr(n, "name", "") == "LSTMCell"))
    assert not [n for n, source in sources.items() if lstm in source]


def test_the_student_wheel_holds_the_judge_and_its_command(student_files):
    names = set(student_files)
    for path in ("harness/__init__.py", "harness/cli.py", "harness/spec.py", "harness/checks/__init__.py",
                 "harness/checks/declared.py", "harness/checks/decoding.py", "harness/runtime/worker.py"):
        assert path in names
    templates = {p.name for p in (ROOT / "harness" / "templates").iterdir() if p.is_file()}
    assert {n.rsplit("/", 1)[-1] for n in names if n.startswith("harness/templates/")} == templates
    entry_points = dist_info(student_files, "entry_points.txt")
    assert "[console_scripts]" in entry_points and "harness = harness.cli:main" in entry_points
    metadata = dist_info(student_files, "METADATA")
    assert "Name: harness-student" in metadata.splitlines()
    assert f"Version: {harness.__version__}" in metadata.splitlines()
    requires = [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert any(r.startswith("torch==") for r in requires) and any(r.startswith("click") for r in requires)
    assert not [r for r in requires if r.startswith(("distributed", "statsmodels"))]
    # the instructor's Keras extra, offered under the same name: pip install 'harness-student[keras]'
    assert "Provides-Extra: keras" in metadata.splitlines()
    assert [r for r in requires if r.startswith("keras")] == ["keras<3.16,>=3.15.1; extra == \"keras\""]


@pytest.mark.parametrize("path, shipped", [
    ("harness/cli.py", True), ("harness/checks/declared.py", True), ("harness/templates/report.html.j2", True),
    ("harness/release/wheel.py", False), ("harness/release", False), ("harness/starter.py", False),
    ("harness/__pycache__/cli.cpython-311.pyc", False), ("harness/checks/__pycache__/x.py", False),
    ("reference_models/cells.py", False), ("tasks/cells/task.toml", False), ("harness/notes.md", False),
])
def test_the_rule_says_what_ships(path, shipped):
    assert selected(path) is shipped


def test_a_wheel_with_answer_key_in_it_is_refused(tmp_path):
    copied = (ROOT / "reference_models" / "generation.py").read_text()  # pasted into the judge: caught verbatim
    bad = tmp_path / "bad.whl"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("harness/cli.py", "import reference_models  # a mention is not a leak\n")
        z.writestr("harness/checks/helpers.py", "import torch\n\n" + copied)
        z.writestr("harness/leak.py", "class LSTMCell(nn.Module):\n    pass\n")
        z.writestr("reference_models/cells.py", "")
        z.writestr("harness/release/record.py", "")
        z.writestr("harness/starter.py", "")
        z.writestr("harness_tasks/cells/task.toml", "")
        z.writestr("harness/data/hidden.toml", "")
    with pytest.raises(StudentWheelError) as raised:
        verify_student_wheel(bad, ROOT)
    message = str(raised.value)
    for culprit in ("reference_models/cells.py", "harness/release/record.py", "harness/starter.py",
                    "harness_tasks/cells/task.toml", "harness/data/hidden.toml", "harness/leak.py: answer-key source",
                    "harness/checks/helpers.py: answer-key source (generation.py: beam_search)"):
        assert culprit in message
    assert "harness/cli.py" not in message


def test_a_students_venv_runs_the_command_without_the_answer_key(student_venv, tmp_path):
    assert not tmp_path.resolve().is_relative_to(ROOT)
    env = student_subprocess_env()
    imported = subprocess.run([str(student_venv), "-c", "import reference_models"], cwd=tmp_path, env=env,
                              capture_output=True, text=True)
    assert imported.returncode != 0 and "No module named 'reference_models'" in imported.stderr
    command = student_venv.parent / ("harness.exe" if sys.platform == "win32" else "harness")
    helped = subprocess.run([str(command), "--help"], cwd=tmp_path, env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
                            capture_output=True, text=True)
    assert helped.returncode == 0, helped.stderr
    assert "check" in helped.stdout
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in helped.stderr.splitlines()
                if line.startswith("import time:")}
    assert "harness" in imported and "click" in imported
    # Dask is not a student's dependency; the answer key and the specs are not on a student's machine
    assert not imported & {"distributed", "dask", "reference_models", "harness_tasks"}


# ------------------------------------------------------------------------ the instructor's wheel (tasks)


def test_the_instructor_wheel_ships_the_answer_key_and_the_default_tasks(instructor_wheel):
    names = set(files_of(instructor_wheel))
    assert "harness_tasks/cells/task.toml" in names
    assert {f"harness_tasks/{t}" for t in TASKS} <= names  # specs, hidden specs and data files alike
    assert "harness_tasks/forecasting/airline_passengers.csv" in names
    assert "reference_models/cells.py" in names and "harness/release/wheel.py" in names
    # pyproject lists its packages (to map tasks/ to harness_tasks): none of the checkout's may be missed
    sources = {p.relative_to(ROOT).as_posix() for top in ("harness", "reference_models")
               for p in (ROOT / top).rglob("*.py") if "__pycache__" not in p.parts}
    assert sources - names == set()


def test_installed_not_editable_the_default_tasks_are_found_from_any_folder(instructor_wheel, tmp_path):
    python = make_venv_with_wheel(instructor_wheel, tmp_path / "venv", with_pip=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = "from harness.spec import default_tasks_dir; print(default_tasks_dir())"
    where = Path(run_in(python, elsewhere, "-c", probe).strip())
    assert where.name == "harness_tasks" and where.resolve().is_relative_to(tmp_path.resolve())  # in the venv
    installed = [p for p in where.rglob("*") if p.is_file() and "__pycache__" not in p.parts]  # pip compiles .py
    assert sorted(p.relative_to(where).as_posix() for p in installed) == TASKS


def test_in_this_checkout_the_default_tasks_are_its_tasks_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert default_tasks_dir().resolve() == (ROOT / "tasks").resolve()


def test_a_missing_tasks_folder_names_the_option(tmp_path):
    with pytest.raises(SpecError, match="--tasks-dir"):
        load_tasks(tmp_path / "nowhere")
