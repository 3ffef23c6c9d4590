"""The error a wrong task spec raises, and the suggestion it makes: shared by the spec and the dataset loaders,
which both read task.toml and must name the file, the key and the fix the same way."""
from __future__ import annotations

import difflib
from pathlib import Path


class SpecError(Exception):
    """A task spec is wrong. The message names the file, the key and the fix."""

    def __init__(self, path: Path | str, key: str, problem: str, fix: str = ""):
        self.path, self.key, self.problem, self.fix = str(path), key, problem, fix
        text = f"{path}: {key}: {problem}"
        if fix:
            text += f" — {fix}"
        super().__init__(text)


def suggest(word: str, options) -> str:
    """"did you mean 'x'?" for the closest of ``options``, else the list of what is allowed."""
    close = difflib.get_close_matches(word, list(options), n=1)
    return f"did you mean {close[0]!r}?" if close else "allowed: " + ", ".join(sorted(options))
