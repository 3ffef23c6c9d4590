"""Fixtures shared across test files: the student's wheel and a student's venv, each made once a session."""
from __future__ import annotations

import os
import tempfile

import pytest

# Hermetic: the suite's cached reference figures live in a folder of its own, made anew for each run and seen
# by every process it starts (never the user's ~/.cache/harness, nor what another run of the suite left there).
os.environ["HARNESS_CACHE"] = tempfile.mkdtemp(prefix="harness-test-cache-")


@pytest.fixture(scope="session", autouse=True)
def fork_server():
    """Workers that ``grade()`` starts in this process are forked from a fork server, as ``harness grade``'s pool
    processes fork theirs (harness/sandbox/zygote.py): the path a class takes, and a second or two less per
    worker. Tests that build a ``Sandbox`` themselves start it cold unless they hand it one; tests/test_sandbox.py
    runs cold and tests/test_warm_worker.py runs its cases forked."""
    from harness.sandbox import zygote

    server = zygote.start_for_process()
    yield server
    zygote.stop_for_process()


@pytest.fixture(scope="session")
def student_wheel(tmp_path_factory):
    """``harness-student``, built from this checkout (a few seconds)."""
    from harness.release.wheel import build_student_wheel

    return build_student_wheel(tmp_path_factory.mktemp("student-wheel"))


@pytest.fixture(scope="session")
def student_venv(student_wheel, tmp_path_factory):
    """The python of a fresh venv, outside the repository, with the student's wheel installed and none of
    the answer key (dependencies borrowed from this environment: see tests/student_env.py)."""
    from student_env import make_student_venv

    return make_student_venv(student_wheel, tmp_path_factory.mktemp("student-venv"))


@pytest.fixture(scope="session")
def instructor_wheel(tmp_path_factory):
    """``pip wheel .`` of this checkout (the README's non-editable install), built from a copy of what the build
    reads: a build in the checkout would write build/ there."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    src = tmp_path_factory.mktemp("instructor") / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("harness", "reference_models", "tasks"):
        shutil.copytree(root / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(root / name, src / name)
    out = src.parent / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "--disable-pip-version-check", "-q", "-w", str(out), str(src)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (wheel,) = out.glob("harness-*.whl")
    return wheel


# --------------------------------------------------------------------------- the student's side of the verdicts


def pytest_collection_modifyitems(session, config, items):
    """When a selected test needs ``student_side``, start it now, so it runs beside the rest of the suite, and run
    the tests that need it last (in their order), so that the rest of the suite runs meanwhile."""
    needs = ["student_side" in getattr(item, "fixturenames", ()) for item in items]
    if any(needs):
        from student_side import StudentSide

        config._student_side = StudentSide()
        items[:] = [item for item, later in zip(items, needs) if not later] + \
                   [item for item, later in zip(items, needs) if later]


def pytest_sessionfinish(session, exitstatus):
    run = getattr(session.config, "_student_side", None)
    if run is not None:
        run.close()
    import shutil

    shutil.rmtree(os.environ["HARNESS_CACHE"], ignore_errors=True)


@pytest.fixture(scope="session")
def student_side(request) -> dict:
    """Every example submission checked from a released bundle in a student's venv (tests/student_side.py):
    example name ("reference", "buggy/pad_post", …) -> its Results."""
    return request.config._student_side.results()
