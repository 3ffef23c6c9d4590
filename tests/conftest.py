"""Fixtures shared across test files: the student's wheel and a student's venv, each made once a session."""
from __future__ import annotations

import pytest


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
