"""Checking one submission, on either side: what ``harness check``, ``harness ci`` and ``harness.check()`` run.

On the instructor's side (the answer key is installed) the specs come from the tasks folder and the
expected values from the answer key, live. On a student's machine they come from the assignment's
released bundle (``.harness/`` in the submission's folder or a parent), and only public checks run:
the rest are graded after submission, and the results say how many points that is.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Callable

from .results import Results
from .spec import VISIBILITIES, load_tasks

MODULE_SUFFIXES = (".py", ".ipynb")  # a path to one of these is a file of the submission, chosen to be graded


class CheckingError(Exception):
    """The check cannot run as asked (no bundle, hidden checks asked for on a student's machine)."""


class NotGradedFile(CheckingError):
    """The file asked for holds none of the assignment's modules."""


def answer_key_installed() -> bool:
    """True on the instructor's side: ``reference_models`` can be imported."""
    return importlib.util.find_spec("reference_models") is not None


def run(path: Path | str, tasks: list[str] | tuple = (), all_checks: bool = False, bundle: Path | str | None = None,
        tasks_dir: Path | str | None = None, progress: Callable[[str], None] | None = None,
        isolation=None, file: str | None = None, chosen_specs: Callable[[list], None] | None = None) -> Results:
    """Grade the submission at ``path``: public checks, or every check with ``all_checks`` (instructor).

    ``path``: the submission's folder, or one file in it (``generation.ipynb``; or name it with ``file``): then
    that file is graded for the modules it holds (:func:`held_by`), whatever else the folder has, and without
    ``tasks`` only their tasks run. ``bundle``: a released ``.harness`` folder to check against (default on a
    student's machine: the one of the assignment ``path`` is in). ``tasks_dir``: the instructor's task specs
    (default: those shipped). ``chosen_specs`` is called with the specs to be graded, before grading starts."""
    from . import bundle as bundles  # here, not at the top: they import torch, which `harness grade`'s parent never needs
    from .answers import BundleAnswers
    from .grading import grade

    chosen_specs = chosen_specs or (lambda specs: None)

    path, asked = Path(path), file
    if asked is None and path.suffix in MODULE_SUFFIXES and os.path.lexists(path) and not path.is_dir():
        asked, path = path.name, path.parent  # a link too: the submission's reader refuses it, saying so
    if bundle is None and not answer_key_installed():
        bundle = bundles.find(path)
        if bundle is None:
            raise CheckingError(f"no assignment bundle found in {path.resolve()} or its parents: run the check "
                                f"inside the folder your course released (it has {bundles.FOLDER}/{bundles.INDEX}), "
                                "or pass --bundle FOLDER (instructors: harness release writes that folder)")
    if bundle is None:
        specs = load_tasks(Path(tasks_dir) if tasks_dir else None, list(tasks) or None)
        every = lambda: load_tasks(Path(tasks_dir) if tasks_dir else None)  # noqa: E731
        specs, chosen = _asked(path, asked, specs, bool(tasks), every)
        chosen_specs(specs)
        return grade(path, specs, visibility=VISIBILITIES if all_checks else ("public",), progress=progress,
                     isolation=isolation, chosen=chosen)
    if all_checks:
        raise CheckingError("the checks graded after submission are not on this machine: they run on the "
                            "instructor's side (harness grade); leave out --all")
    released = bundles.load(Path(bundle))
    specs, chosen = _asked(path, asked, released.specs(list(tasks)), bool(tasks), lambda: released.specs([]))
    chosen_specs(specs)
    return grade(path, specs, visibility=("public",), progress=progress, answers=BundleAnswers(released),
                 isolation=isolation, chosen=chosen)


def held_by(folder: Path, name: str, modules: list[str] | None = None) -> list[str]:
    """The contract modules (of ``modules``; None: any) the file ``name`` of ``folder`` holds: those its
    harness.toml maps to it, else the one it is named after."""
    from .submission import SubmissionError, _read_mapping

    try:
        mapping = _read_mapping(folder)
    except SubmissionError:
        mapping = {}  # grading reports the broken harness.toml itself
    mapped = [m for m, target in mapping.items()
              if os.path.normpath(target) == os.path.normpath(name) and (modules is None or m in modules)]
    stem = Path(name).stem
    return mapped or [stem] if modules is None or stem in modules else mapped


def _asked(folder: Path, asked: str | None, specs: list, named: bool, every: Callable[[], list]
           ) -> tuple[list, dict[str, str]]:
    """The specs to run and the file chosen per module when the student asked for one file (``asked``): the modules
    it holds, or, when the student ``named`` the tasks, theirs (unless the file is named after another module of
    the assignment: ``every`` gives all its specs)."""
    if asked is None:
        return specs, {}
    if Path(asked).name != asked or asked in ("", ".", ".."):
        raise CheckingError(f"{asked!r}: name a file of the submission's folder, e.g. generation.ipynb, not a path")
    modules, stem = list(dict.fromkeys(s.module for s in specs)), Path(asked).stem
    held = held_by(folder, asked, modules)
    if not held and named and stem in {s.module for s in every()}:
        raise NotGradedFile(f"{asked} is the {stem} module, not {', '.join(modules)}: check it without naming a task, "
                            f"or name its own (--task {stem})")
    held = held or (modules if named else [])
    if not held:
        first = min(modules) if modules else "cells"
        raise NotGradedFile(f"{asked} is not a file this assignment grades (its modules: {', '.join(sorted(modules))}): "
                            "name it after "
                            f"its module (e.g. {first}{Path(asked).suffix}), map it in harness.toml "
                            f'([modules] {first} = "{asked}"), or name its task (--task {first})')
    return [s for s in specs if s.module in held], {m: asked for m in held}


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
