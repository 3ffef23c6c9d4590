"""A task is a folder: ``tasks/<name>/task.toml``, and beside it the Python its instructor writes.

- ``answer_key.py``: the contract module's reference — the functions and classes the checks compare a
  submission with, or ``build_model`` for a trained task. The default course's are one line each, taken
  from ``reference_models``.
- ``catalogue.py``: ``CATALOGUE``, the known forms of an answer: mistakes, variants from the literature,
  and forms the contract also accepts. Each entry has ``name``, ``target`` (the contract name it stands
  in for), ``kind`` ("mistake", "variant" or "accepted"), ``description`` (one sentence a student reads)
  and ``impl`` (a drop-in replacement for ``target``); ``module`` defaults to the task's. An entry is an
  object with those attributes or a dict with those keys.
- ``checks.py``: the task's written checks, registered with ``harness.checks.register`` like the engine's, but
  into the task's own registry (two courses may use the same ids). A check the TOML can declare
  (harness.checks.declared) needs no Python.

Only the judge loads them, from the instructor's tasks folder; the worker cannot see a task folder
(harness.grading hides each one). A release copies a task's TOML, data files and ``checks.py`` — never its
answer key or catalogue (harness.release): a student's machine gets expected values and the catalogue's
descriptions from the bundle instead, and runs the released checks.py against them, once the bundle's
digests say it is the file the instructor released. The instructor's side reads task folders only from
its tasks directory, never from a bundle or a submission.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, SimpleNamespace

from .errors import SpecError

ANSWER_KEY, CATALOGUE, CHECKS = "answer_key.py", "catalogue.py", "checks.py"
KINDS = ("mistake", "variant", "accepted")
#: What a task's Python sees should it import Keras (the worker's values, harness/sandbox/bootstrap.py): without
#: them Keras would look for TensorFlow, which the harness does not install, or for another backend it cannot train
KERAS_ON_TORCH = {"KERAS_BACKEND": "torch", "KERAS_TORCH_DEVICE": "cpu"}


def task_python(folder: Path, filename: str) -> ModuleType | None:
    """The module ``folder/filename`` of a task, imported once under a name of its own (two courses' answer
    keys never collide), or None when the task has no such file."""
    path = Path(folder) / filename
    if not path.is_file():
        return None
    path = path.resolve()
    name = f"harness_task_{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    for variable, value in KERAS_ON_TORCH.items():  # an answer key in Keras runs on torch, as the worker's does
        os.environ.setdefault(variable, value)
    writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no __pycache__ in task folders
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise SpecError(path, filename, f"importing it raised {type(exc).__name__}: {exc}",
                        "fix the task's Python (it runs on the judge's side only)") from exc
    finally:
        sys.dont_write_bytecode = writes_bytecode
    return module


def task_sources(folder: Path, names: tuple[str, ...] = (ANSWER_KEY, CATALOGUE, CHECKS)) -> bytes:
    """The task's Python (or the ``names`` of it), as bytes in a fixed order: part of the spec's digest, so that a
    changed check or answer key is a changed task."""
    return b"".join(b"\0" + name.encode() + b"\0" + (Path(folder) / name).read_bytes()
                    for name in names if (Path(folder) / name).is_file())


_WRITTEN: dict[str, tuple[dict, dict]] = {}  # module name of a checks.py -> what it registered


def written_checks(folder: Path) -> tuple[dict, dict]:
    """The checks and figures a task folder's ``checks.py`` registers, as (checks, figures) by id; empty when the
    task has none. Imported once per file, like the answer key."""
    from .checks import collecting

    if not (Path(folder) / CHECKS).is_file():
        return {}, {}
    with collecting() as registered:  # a check registered twice fails the import, naming both functions
        module = task_python(folder, CHECKS)
    # the first import registers (a failed one raises); a module already imported registers nothing again
    return _WRITTEN.setdefault(module.__name__, registered)


def answer_key(spec) -> ModuleType | None:
    """The task's answer key (``answer_key.py`` beside its task.toml), or None when it has none."""
    return task_python(spec.path.parent, ANSWER_KEY)


@dataclass(frozen=True)
class Entry:
    """One form in a task's catalogue (see the module docstring)."""
    name: str
    module: str
    target: str
    kind: str
    description: str
    impl: object


def catalogue(spec) -> list[Entry]:
    """The task's catalogue (``catalogue.py``'s CATALOGUE), checked: every entry has a unique name, a known kind
    and a target the answer key defines."""
    module = task_python(spec.path.parent, CATALOGUE)
    if module is None:
        return []
    path = spec.path.parent / CATALOGUE
    raw = getattr(module, "CATALOGUE", None)
    if not isinstance(raw, (list, tuple)):
        raise SpecError(path, "CATALOGUE", "missing, or not a list", "define CATALOGUE = [...] of known forms")
    key = answer_key(spec)
    entries, seen = [], set()
    for i, item in enumerate(raw):
        where = f"CATALOGUE[{i}]"
        if isinstance(item, dict):  # an entry may be a plain dict
            item = SimpleNamespace(**item)
        try:
            entry = Entry(item.name, getattr(item, "module", spec.module), item.target, item.kind, item.description,
                          item.impl)
        except AttributeError as exc:
            raise SpecError(path, where, f"has no {exc.name!r}",
                            "each entry needs name, target, kind, description and impl") from None
        if entry.module != spec.module:
            continue  # the default course keeps one catalogue for its four function tasks
        if entry.kind not in KINDS:
            raise SpecError(path, f"{where}.kind", f"must be one of {', '.join(KINDS)}, got {entry.kind!r}")
        if entry.name in seen:
            raise SpecError(path, f"{where}.name", f"{entry.name!r} is in the catalogue twice")
        if key is not None and not hasattr(key, entry.target):
            raise SpecError(path, f"{where}.target", f"the answer key defines no {entry.target!r}",
                            f"name a contract name of {spec.module}")
        seen.add(entry.name)
        entries.append(entry)
    return entries
