"""The cache of reference figures, for the command line: what is there, and clearing it.

A reference model's figures and the classical baselines' are computed once per everything they depend on
(harness/checks/trained.py ``_cache_path``) and kept as one JSON file each under ``$HARNESS_CACHE/baselines``
(default ``~/.cache/harness/baselines``). Only complete, sane figures are ever written there; these functions
let an instructor see them and start afresh.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path


@dataclass
class Entry:
    path: Path
    task: str
    created: str
    epochs: int | None
    stopped: str
    figures: dict  # the reference model's scalar figures
    digest: str = ""  # of everything the file holds (figures_digest): a release's bundle names the ones it used


def figures_digest(figures: dict) -> str:
    """A short name for one cached set of figures, the same in the cache listing and in a release's bundle, which
    says which figures a release used without naming the cache key (a function of the answer key's source)."""
    text = json.dumps({k: v for k, v in figures.items() if k != "cache_key"}, sort_keys=True, allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def folder() -> Path:
    from .checks.trained import cache_dir

    return cache_dir()


def entries() -> list[Entry]:
    """Every cached file, oldest first; one that cannot be read is listed with stopped = "unreadable"."""
    found = []
    for path in sorted(folder().glob("*.json"), key=lambda p: p.stat().st_mtime) if folder().is_dir() else []:
        created = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")
        task = path.stem.rpartition("-")[0]
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            reference = data["reference"]
            training = reference.get("training", {})
            figures = {k: v for k, v in reference.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            found.append(Entry(path, task, created, training.get("epochs_done"), str(training.get("stopped")), figures,
                               figures_digest(data)))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            found.append(Entry(path, task, created, None, "unreadable", {}))
    return found


def clear(task: str | None = None) -> list[Path]:
    """Remove the cached files (of ``task`` only, when given); the paths removed."""
    removed = []
    for entry in entries():
        if task is None or entry.task == task:
            entry.path.unlink(missing_ok=True)
            entry.path.with_suffix(".lock").unlink(missing_ok=True)  # held only while its figures are computed
            removed.append(entry.path)
    return removed
