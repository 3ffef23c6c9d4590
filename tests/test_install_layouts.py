"""Every install layout the README documents confines the worker: a hostile submission is stopped in each.

The submission is a probe: at import, its ``cells.py`` tries what a hostile student tries — read the answer
key, the hidden specs and the judge's code, list the task folders, write into another student's folder,
the judge's output and the checkout, see the judge's processes, keep capabilities or uid 0, unmount its
private /tmp — and raises with what it achieved, which the grader records as the
import error of every check. Each layout is graded through its own installed ``harness`` command:

- editable (``pip install -e .``, the venv inside the checkout: this test environment);
- the tasks from ``--tasks-dir``, a course folder outside the checkout;
- ``pip install .`` (the instructor's wheel) in a venv outside the checkout, tasks from ``harness_tasks``;
- the student's wheel in a fresh venv, checking a released assignment folder.

The judge's command line carries a random marker, so that a probe that can see the judge's processes says so.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from student_env import make_venv_with_wheel, student_subprocess_env

pytestmark = pytest.mark.skipif(not (sys.platform.startswith("linux") and os.geteuid() == 0),
                                reason="the full isolation: Linux as root")

ROOT = Path(__file__).resolve().parents[1]

PROBE = r'''
import ctypes, json, os

_here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(_here, "targets.json")) as f:
    _targets = json.load(f)
found = {"read": [], "listed": [], "wrote": []}
for i, path in enumerate(_targets["secrets"]):
    try:
        with open(path, "rb") as f:
            if f.read(64):
                found["read"].append(i)
    except OSError:
        pass
for i, folder in enumerate(_targets["folders"]):
    try:
        if os.listdir(folder):
            found["listed"].append(i)
    except OSError:
        pass
for i, path in enumerate(_targets["writes"]):
    try:
        with open(path, "w") as f:
            f.write("pwned")
        found["wrote"].append(i)
    except OSError:
        pass
with open("/proc/self/status") as f:
    status = dict(line.split(":", 1) for line in f if ":" in line)
found["uid"] = int(status["Uid"].split()[0])
found["caps"] = int(status["CapEff"].strip(), 16)
pids = [p for p in os.listdir("/proc") if p.isdigit()]
found["processes"] = len(pids)
found["judge_seen"] = False
for p in pids:
    try:
        with open(f"/proc/{p}/cmdline", "rb") as f:
            found["judge_seen"] |= _targets["marker"].encode() in f.read()
    except OSError:
        pass
found["unmounted_tmp"] = ctypes.CDLL(None, use_errno=True).umount2(b"/tmp", 2) == 0
raise RuntimeError("PROBE " + json.dumps(found, separators=(",", ":")))
'''


def outside_everything() -> Path:
    """A folder outside the checkout, $HOME and the temporary folders (which the worker's covers hide anyway), as
    a course's folder or a venv usually is; the tests' own tmp when there is none."""
    parent = next((d for d in ("/srv", "/opt", "/var/lib") if os.access(d, os.W_OK)), None)
    where = Path(tempfile.mkdtemp(prefix="harness-layout-", dir=parent))
    where.chmod(0o755)
    return where


@pytest.fixture
def outside():
    where = outside_everything()
    yield where
    shutil.rmtree(where, ignore_errors=True)


def write_probe(folder: Path, secrets: list[Path], folders: list[Path], writes: list[Path], marker: str) -> None:
    for path in secrets:
        assert path.is_file(), f"the test's premise: the judge can read {path}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cells.py").write_text(PROBE, encoding="utf-8")
    (folder / "targets.json").write_text(json.dumps({
        "secrets": [str(p) for p in secrets], "folders": [str(p) for p in folders],
        "writes": [str(p) for p in writes], "marker": marker}), encoding="utf-8")


def run_check(harness_cmd: Path, folder: Path, out: Path, *args: str, env: dict | None = None) -> dict:
    """``harness check FOLDER --task cells`` with the layout's command; what the probe achieved."""
    done = subprocess.run([str(harness_cmd), "check", str(folder), "--task", "cells", "--json", str(out), *args],
                          cwd=folder, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("Isolation: full"), done.stdout[:300]  # said before grading starts
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["sandbox"]["mode"] == "full"
    assert all(results["sandbox"]["protections"].values()), results["sandbox"]
    messages = {c["message"] for c in results["checks"]}
    probes = {m for m in messages if "PROBE" in m}
    assert probes and probes == messages, messages  # every check: the probe's import error, nothing else
    return json.loads(re.search(r"PROBE (\{.*?\})", probes.pop()).group(1))


def assert_stopped(found: dict, writes: list[Path], may_write: set[int] = frozenset()) -> None:
    assert found["read"] == [], f"the worker read secrets {found['read']}"
    assert found["listed"] == [], f"the worker listed hidden folders {found['listed']}"
    assert set(found["wrote"]) <= set(may_write), f"the worker wrote {found['wrote']}"
    for path in writes:
        assert not path.exists(), f"{path} was written from inside the worker"
    assert found["uid"] != 0 and found["caps"] == 0, found
    assert found["processes"] <= 3 and not found["judge_seen"], found  # its own namespace: init, itself
    assert not found["unmounted_tmp"], found


def class_folders(where: Path, marker: str) -> tuple[Path, Path, list[Path]]:
    """Another student's folder and the judge's output folder, with the paths the probe tries to write."""
    other = where / "class" / "bob"
    shutil.copytree(ROOT / "submissions" / "reference", other)
    graded = where / marker / "graded"
    (graded / "alice").mkdir(parents=True)
    return other, graded, [other / "cells.py.pwned", graded / "alice" / "results.json", ROOT / f"{marker}.pwned",
                           Path("/tmp") / f"{marker}.pwned"]


def test_editable_install_with_the_venv_inside_the_checkout(tmp_path):
    import harness
    import reference_models

    marker = f"harness-probe-{uuid.uuid4().hex[:10]}"
    other, graded, writes = class_folders(tmp_path, marker)
    secrets = [Path(reference_models.__file__).parent / "cells.py", ROOT / "tasks" / "cells" / "hidden.toml",
               Path(harness.__file__).parent / "sandbox" / "launcher.py", other / "cells.py"]
    probe = tmp_path / "class" / "mallory"
    write_probe(probe, secrets, [ROOT / "tasks", ROOT / "reference_models"], writes, marker)
    found = run_check(Path(sys.executable).parent / "harness", probe, graded / "mallory" / "results.json")
    assert_stopped(found, writes[:3], may_write={3})  # /tmp: its private one


def test_tasks_from_a_course_folder_outside_the_checkout(tmp_path, outside):
    marker = f"harness-probe-{uuid.uuid4().hex[:10]}"
    course = outside / "course"
    shutil.copytree(ROOT / "tasks" / "cells", course / "cells")
    other, graded, writes = class_folders(outside, marker)
    probe = outside / "class" / "mallory"
    shutil.copytree(ROOT / "tasks" / "attention", course / "attention")  # a task of the course not graded now
    write_probe(probe, [course / "cells" / "hidden.toml", course / "cells" / "answer_key.py", other / "cells.py",
                        course / "attention" / "hidden.toml"],
                [course / "cells"], writes, marker)
    found = run_check(Path(sys.executable).parent / "harness", probe, graded / "mallory" / "results.json",
                      "--tasks-dir", str(course))
    assert_stopped(found, writes[:3], may_write={3})


def test_pip_install_dot_in_a_venv_outside_the_checkout(instructor_wheel, outside):
    """The README's non-editable install: the tasks are inside site-packages (harness_tasks), nested in a folder
    hidden too — the layout that once stopped the confinement half-way and ran the submission as root."""
    python = make_venv_with_wheel(instructor_wheel, outside / "venv", with_pip=False)
    site = Path(subprocess.run([str(python), "-c", "import harness, os; print(os.path.dirname(os.path.dirname("
                                "harness.__file__)))"], capture_output=True, text=True, check=True,
                               env=student_subprocess_env(), cwd=outside).stdout.strip())
    assert (site / "harness_tasks" / "cells" / "hidden.toml").is_file()
    marker = f"harness-probe-{uuid.uuid4().hex[:10]}"
    other, graded, writes = class_folders(outside, marker)
    probe = outside / "class" / "mallory"
    write_probe(probe, [site / "reference_models" / "cells.py", site / "harness_tasks" / "cells" / "hidden.toml",
                        site / "harness" / "sandbox" / "launcher.py", other / "cells.py"],
                [site / "harness_tasks", site / "reference_models"], writes, marker)
    found = run_check(python.parent / "harness", probe, graded / "mallory" / "results.json", env=student_subprocess_env())
    assert_stopped(found, writes[:3], may_write={3})


def test_the_student_wheel_in_a_released_folder(student_venv, outside):
    from harness.release import write_release
    from harness.spec import load_tasks

    folder = outside / "assignment"
    write_release(folder, load_tasks(names=["cells"]))
    site = Path(subprocess.run([str(student_venv), "-c", "import harness, os; print(os.path.dirname(os.path.dirname("
                                "harness.__file__)))"], capture_output=True, text=True, check=True,
                               env=student_subprocess_env(), cwd=outside).stdout.strip())
    marker = f"harness-probe-{uuid.uuid4().hex[:10]}"
    other, graded, writes = class_folders(outside, marker)
    write_probe(folder, [site / "harness" / "checking.py", other / "cells.py"], [site / "harness"], writes, marker)
    found = run_check(student_venv.parent / "harness", folder, graded / "mallory" / "results.json", env=student_subprocess_env())
    assert_stopped(found, writes[:3], may_write={3})
