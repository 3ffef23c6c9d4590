"""The errors of what the harness reads — a wrong task spec, a submission that cannot be graded — and the
suggestion they make: shared by the spec, dataset and interface-map loaders, which must name the file, the key
and the fix the same way."""
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


class SubmissionError(Exception):
    """The submission as a whole cannot be graded (missing folder, an archive, a bad harness.toml)."""


def suggest(word: str, options) -> str:
    """"did you mean 'x'?" for the closest of ``options``, else the list of what is allowed."""
    close = difflib.get_close_matches(word, list(options), n=1)
    return f"did you mean {close[0]!r}?" if close else "allowed: " + ", ".join(sorted(options))
