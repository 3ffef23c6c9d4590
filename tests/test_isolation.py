"""Isolation fails closed: the mode is resolved and said before anything runs, never weakened quietly, and a
worker that comes up without a protection its mode promises runs none of the submission's code.

A confinement that breaks is simulated the way the kernel or a new install layout would break it: the
worker's runtime is copied and its filesystem step made to raise (what a task folder nested in a hidden
one once did). In the commands, which start their own processes, a ``sitecustomize`` on PYTHONPATH points
the launcher at that copy.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.sandbox import isolation
from harness.sandbox import launcher
from harness.sandbox.isolation import Isolation, IsolationError, IsolationFailed, resolve

ROOT = Path(__file__).resolve().parents[1]
as_root_on_linux = pytest.mark.skipif(not (sys.platform.startswith("linux") and os.geteuid() == 0),
                                      reason="the full isolation: Linux as root")
HELD = {name: True for name in isolation.PROMISES["full"]}


# --------------------------------------------------------------------------- choosing the mode


def test_a_mode_stronger_than_the_machine_gives_is_refused_naming_the_ones_it_can(monkeypatch):
    monkeypatch.delenv("HARNESS_ISOLATION", raising=False)
    monkeypatch.setattr(isolation, "available", lambda: ("userns", "Linux as an ordinary user"))
    with pytest.raises(IsolationError, match=r"--isolation=full: this machine cannot give that isolation .* needs "
                                             r"Linux and root.*--isolation userns, --isolation basic"):
        resolve("full")
    assert resolve("userns") == Isolation("userns", "Linux as an ordinary user")
    assert resolve(None).mode == "userns"  # auto: the strongest here
    assert resolve("basic") == Isolation("basic", "--isolation basic")


def test_a_stronger_mode_than_asked_is_given_and_basic_is_basic_when_asked(monkeypatch):
    monkeypatch.delenv("HARNESS_ISOLATION", raising=False)
    monkeypatch.setattr(isolation, "available", lambda: ("full", "Linux as root"))
    assert resolve("userns").mode == "full"
    monkeypatch.setenv("HARNESS_ISOLATION", "basic")
    assert resolve(None) == Isolation("basic", "HARNESS_ISOLATION=basic")
    assert resolve("full").mode == "full"  # the option wins over the environment
    monkeypatch.setenv("HARNESS_ISOLATION", "sandboxed")
    with pytest.raises(IsolationError, match="HARNESS_ISOLATION='sandboxed' is not one of: full, userns, basic, auto"):
        resolve(None)


def test_without_user_namespaces_an_ordinary_user_has_basic_and_is_told_why(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(isolation, "_user_namespaces_refused", lambda: "unshare(CLONE_NEWUSER): Operation not permitted")
    mode, why = isolation.available()
    assert mode == "basic" and "without user namespaces (unshare(CLONE_NEWUSER): Operation not permitted)" in why
    monkeypatch.setattr(sys, "platform", "darwin")
    assert isolation.available() == ("basic", "not available on this OS (macOS)")


def test_a_class_is_graded_in_full_isolation_by_default_on_linux(monkeypatch):
    from harness.batch import class_isolation

    monkeypatch.delenv("HARNESS_ISOLATION", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(isolation, "available", lambda: ("userns", "Linux as an ordinary user"))
    with pytest.raises(IsolationError, match="--isolation=full"):
        class_isolation(None)
    assert class_isolation("userns").mode == "userns"


# --------------------------------------------------------------------------- what each mode promises


def test_what_a_worker_must_report_held_before_it_runs_anything():
    full = Isolation("full", "")
    assert full.missing(HELD) == []
    assert full.missing({**HELD, "answer_key_hidden": False}) == ["answer_key_hidden"]
    assert full.missing({k: v for k, v in HELD.items() if k != "no_new_privs"}) == ["no_new_privs"]  # unreported
    assert full.missing({**HELD, "readonly_filesystem": "yes"}) == ["readonly_filesystem"]  # True, nothing else
    assert full.missing(HELD, group_made=True) == ["tree_budget"]  # the judge made a group: it must be joined
    # switched off on purpose (tests of the fallbacks): what depends on it goes too
    off = {**HELD, "pid_namespace": False, "private_proc": False}
    assert full.missing(off, disabled=["pid_namespace"]) == []
    userns = Isolation("userns", "")
    assert userns.missing({**HELD, "unprivileged_uid": False, "process_limit": False}) == []
    assert Isolation("basic", "").missing({}) == []


def test_the_refusal_says_which_protection_failed_why_and_what_to_do():
    failed = IsolationFailed(Isolation("full", "Linux as root"), ["answer_key_hidden", "unprivileged_uid"],
                             {"answer_key_hidden": "still visible: /x", "error": "FileNotFoundError(2, '…')"})
    text = str(failed)
    assert text.startswith("not graded: the worker's full isolation could not be put in place")
    assert "answer_key_hidden: still visible: /x; unprivileged_uid: did not hold" in text
    assert "the confinement stopped on FileNotFoundError" in text
    assert "the submission's code was not run" in text and "--isolation userns, --isolation basic" in text


# --------------------------------------------------------------------------- a confinement that breaks


def broken_runtime(where: Path) -> Path:
    """A copy of the worker's runtime whose filesystem step raises, as a missing folder once made it."""
    copy = where / "runtime"
    shutil.copytree(launcher.RUNTIME_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    confine = copy / "confine.py"
    confine.write_text(confine.read_text(encoding="utf-8") + "\n\ndef _prepare_filesystem(*args, **kwargs):\n"
                       "    raise FileNotFoundError(2, 'No such file or directory')\n", encoding="utf-8")
    return copy


MARKER_MODULE = '''
import os
open(os.path.join({folder!r}, "ran.txt"), "w").write("the submission ran")

def double(x):
    return x * 2
'''


def marker_submission(folder: Path, witness: Path) -> Path:
    folder.mkdir(parents=True)
    witness.mkdir(parents=True, exist_ok=True)
    witness.chmod(0o777)
    (folder / "cells.py").write_text(MARKER_MODULE.format(folder=str(witness)), encoding="utf-8")
    return folder


@as_root_on_linux
def test_a_worker_missing_a_protection_is_killed_before_any_submission_code(tmp_path, monkeypatch):
    from harness.runtime.config import Limits

    monkeypatch.setattr(launcher, "RUNTIME_DIR", broken_runtime(tmp_path))
    witness = tmp_path / "witness"
    sub = marker_submission(tmp_path / "sub", witness)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    sb = launcher.Sandbox(sub, scratch, Limits(load_timeout_s=30), isolation="full")
    try:
        with pytest.raises(IsolationFailed) as refused:
            sb.load("cells", "cells.py")
        assert refused.value.held["network_namespace"]  # what came before the break held; what followed did not
        assert {"answer_key_hidden", "readonly_filesystem", "unprivileged_uid", "capabilities_dropped"} <= set(
            refused.value.missing)
        assert "FileNotFoundError" in str(refused.value)
        assert not sb.alive and sb.refused is refused.value
        with pytest.raises(IsolationFailed):  # every start is checked, not only the first
            sb.load("cells", "cells.py")
    finally:
        sb.close()
    assert not (witness / "ran.txt").exists(), "the submission's code ran in a worker that was not confined"


@as_root_on_linux
def test_grading_raises_and_grades_nothing(tmp_path, monkeypatch):
    from harness.grading import grade
    from harness.spec import load_tasks

    monkeypatch.setattr(launcher, "RUNTIME_DIR", broken_runtime(tmp_path))
    witness = tmp_path / "witness"
    sub = marker_submission(tmp_path / "sub", witness)
    with pytest.raises(IsolationFailed, match="not graded: the worker's full isolation"):
        grade(sub, load_tasks(names=["cells"]), isolation="full")
    assert not (witness / "ran.txt").exists()


def command_env(tmp_path: Path) -> dict:
    """The environment of a command whose processes (the pool's too) get the broken runtime."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import pathlib\nimport harness.sandbox.launcher as launcher\n"
        f"launcher.RUNTIME_DIR = pathlib.Path({str(broken_runtime(tmp_path))!r})\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "HARNESS_ISOLATION"}
    return {**env, "PYTHONPATH": str(hook)}


@as_root_on_linux
def test_harness_check_says_so_on_the_terminal_and_in_the_report_and_exits_2(tmp_path):
    witness = tmp_path / "witness"
    sub = marker_submission(tmp_path / "alice", witness)
    done = subprocess.run([str(Path(sys.executable).parent / "harness"), "check", str(sub), "--task", "cells"],
                          cwd=tmp_path, env=command_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stdout + done.stderr
    out = " ".join(done.stdout.split())
    assert out.startswith("Isolation: full")
    assert "error: not graded: the worker's full isolation could not be put in place" in out
    assert "answer_key_hidden" in out and "FileNotFoundError" in out
    results = json.loads((tmp_path / "reports" / "alice" / "results.json").read_text(encoding="utf-8"))
    assert results["checks"] == [] and results["sandbox"]["not_graded"].startswith("not graded:")
    assert results["sandbox"]["protections"]["answer_key_hidden"] is False
    page = (tmp_path / "reports" / "alice" / "report.html").read_text(encoding="utf-8")
    assert "could not be put in place" in page
    assert not (witness / "ran.txt").exists()


@as_root_on_linux
def test_harness_grade_gives_each_submission_a_not_graded_row_with_the_reason(tmp_path):
    witness = tmp_path / "witness"
    for name in ("alice", "bob"):
        marker_submission(tmp_path / "class" / name, witness)
    done = subprocess.run([str(Path(sys.executable).parent / "harness"), "grade", str(tmp_path / "class"),
                           "--out", str(tmp_path / "graded"), "--task", "cells", "--workers", "1"],
                          cwd=tmp_path, env=command_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("Isolation: full")
    rows = (tmp_path / "graded" / "gradebook.csv").read_text(encoding="utf-8")
    assert rows.count("could not be put in place") == 2, rows
    overview = (tmp_path / "graded" / "index.html").read_text(encoding="utf-8")
    assert overview.count("could not be put in place") >= 2
    assert not (tmp_path / "graded" / "submissions" / "alice" / "results.json").exists()
    assert not (witness / "ran.txt").exists()


def test_the_mode_line_says_why_once():
    from harness.sandbox.isolation import Isolation

    assert Isolation("full", "Linux as root").describe().count("Linux as root") == 1
    line = Isolation("basic", "asked for with HARNESS_ISOLATION=basic").describe()
    assert line.startswith("Isolation: basic (") and line.endswith(" — asked for with HARNESS_ISOLATION=basic")
