"""Fixtures shared across test files: the student's wheel and a student's venv, each made once a session.

The suite runs in two processes (pytest-xdist, ``-n 2 --dist loadfile`` in pyproject.toml: a file's tests stay
together) or in one (``-n 0``). Either way, one folder per run holds what its processes share:
the cached reference figures and the student's side of tests/test_verdicts.py.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest


def pytest_configure(config):
    """The run's folder: made by the first process (pytest alone, or xdist's controller), handed to its workers.
    Hermetic: the cached reference figures live there, seen by every process the run starts (never the user's
    ~/.cache/harness, nor what another run of the suite left)."""
    worker = getattr(config, "workerinput", None)
    run = Path(worker["harness_test_run"]) if worker else Path(tempfile.mkdtemp(prefix="harness-test-run-"))
    config._harness_run_folder = run
    os.environ["HARNESS_CACHE"] = str(run / "cache")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist's controller: each worker shares the run's folder."""
    node.workerinput["harness_test_run"] = str(node.config._harness_run_folder)


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
    """When a selected test needs ``student_side``, start it now (once a run: in the first worker, or in pytest
    alone), so that it runs beside the rest of the suite; and run the files with such tests last (in their order),
    so that the rest of the suite runs meanwhile."""
    needs = {item.path for item in items if "student_side" in getattr(item, "fixturenames", ())}
    if not needs:
        return
    if os.environ.get("PYTEST_XDIST_WORKER", "gw0") == "gw0":
        from student_side import StudentSide

        config._student_side = StudentSide(config._harness_run_folder / "student-side")
    items[:] = [item for item in items if item.path not in needs] + [item for item in items if item.path in needs]


def pytest_sessionfinish(session, exitstatus):
    run = getattr(session.config, "_student_side", None)
    if run is not None:  # other workers may still wait for it: it finishes, unless the run was interrupted
        run.close(wait=exitstatus != pytest.ExitCode.INTERRUPTED)
    if getattr(session.config, "workerinput", None) is None:  # the run's first process, after its workers
        shutil.rmtree(session.config._harness_run_folder, ignore_errors=True)


@pytest.fixture(scope="session")
def student_side(request):
    """Every example submission checked from a released bundle in a student's venv (tests/student_side.py):
    example name ("reference", "buggy/pad_post", …) -> its Results, waited for when first asked for."""
    from student_side import ResultsIn

    return ResultsIn(request.config._harness_run_folder / "student-side")
