"""Checking one submission, on either side: what ``harness check``, ``harness ci`` and ``harness.check()`` run.

On the instructor's side (the answer key is installed) the specs come from the tasks folder and the
expected values from the answer key, live. On a student's machine they come from the assignment's
released bundle (``.harness/`` in the submission's folder or a parent), and only public checks run:
the rest are graded after submission, and the results say how many points that is.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Callable

from . import bundle as bundles
from .answers import BundleAnswers
from .results import Results
from .spec import VISIBILITIES, load_tasks


class CheckingError(Exception):
    """The check cannot run as asked (no bundle, hidden checks asked for on a student's machine)."""


def answer_key_installed() -> bool:
    """True on the instructor's side: ``reference_models`` can be imported."""
    return importlib.util.find_spec("reference_models") is not None


def run(path: Path | str, tasks: list[str] | tuple = (), all_checks: bool = False, bundle: Path | str | None = None,
        tasks_dir: Path | str | None = None, progress: Callable[[str], None] | None = None,
        isolation=None) -> Results:
    """Grade the submission at ``path``: public checks, or every check with ``all_checks`` (instructor).

    ``bundle``: a released ``.harness`` folder to check against (default on a student's machine: the one
    of the assignment ``path`` is in). ``tasks_dir``: the instructor's task specs (default: those shipped)."""
    from .grading import grade

    path = Path(path)
    if bundle is None and not answer_key_installed():
        bundle = bundles.find(path)
        if bundle is None:
            raise CheckingError(f"no assignment bundle found in {path.resolve()} or its parents: run the check "
                                f"inside the folder your course released (it has {bundles.FOLDER}/{bundles.INDEX}), "
                                "or pass --bundle FOLDER (instructors: harness release writes that folder)")
    if bundle is None:
        specs = load_tasks(Path(tasks_dir) if tasks_dir else None, list(tasks) or None)
        return grade(path, specs, visibility=VISIBILITIES if all_checks else ("public",), progress=progress,
                     isolation=isolation)
    if all_checks:
        raise CheckingError("the checks graded after submission are not on this machine: they run on the "
                            "instructor's side (harness grade); leave out --all")
    released = bundles.load(Path(bundle))
    return grade(path, released.specs(list(tasks)), visibility=("public",), progress=progress,
                 answers=BundleAnswers(released), isolation=isolation)


def not_graded(path: Path | str, refused) -> Results:
    """The results of a submission whose worker could not be confined as its mode promises (IsolationFailed):
    no check ran, and the notes and the sandbox section say which protection failed and why."""
    from datetime import datetime, timezone

    from . import __version__

    return Results(submission=str(path), harness_version=__version__,
                   created=datetime.now(timezone.utc).isoformat(timespec="seconds"), tasks=[], checks=[],
                   notes=[],
                   sandbox={"mode": refused.isolation.mode, "not_graded": str(refused), "missing": refused.missing,
                            "protections": refused.held,
                            "notes": refused.notes})
