"""Example submissions stored as unified diffs against the reference, applied in pure Python.

A fixture folder under ``submissions/buggy`` holds ``EXPECTED.toml`` and, for each module it changes, either the
whole module or ``<module>.patch``: a unified diff (``diff -U2``) against ``submissions/reference/<module>.py``.
A hunk applies where its header says, or where its context and removed lines are found once further on (the
reference gained or lost lines above it); otherwise :class:`PatchError` says which fixture, hunk and line — a
change of the reference that breaks a fixture is seen at once, never graded silently.

    python tests/patches.py submissions/buggy/<name> DEST    # the fixture as a whole submission, to edit and re-diff
"""
from __future__ import annotations

import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

HEADER = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


class PatchError(Exception):
    """A patch that is malformed, or no longer applies to the text it was made against."""


@dataclass
class Hunk:
    header: str
    start: int  # 0-based index of the first old line (for a pure insertion: of the line it goes before)
    old_count: int
    new_count: int
    old: list[str] = field(default_factory=list)  # context and removed lines, with their line ends
    new: list[str] = field(default_factory=list)  # context and added lines


def lines(text: str) -> list[str]:
    """``text`` split after each newline only (``str.splitlines`` would also split at form feeds and the like)."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def parse(patch: str, name: str = "patch") -> list[Hunk]:
    hunks: list[Hunk] = []
    sides: tuple[list[str], ...] = ()
    for number, line in enumerate(lines(patch), 1):
        if line.startswith("@@"):
            m = HEADER.match(line)
            if not m:
                raise PatchError(f"{name}, line {number}: not a hunk header: {line.rstrip()!r}")
            old_count, new_count = int(m[2] or 1), int(m[4] or 1)
            start = int(m[1]) - 1 if old_count else int(m[1])
            hunks.append(Hunk(line.rstrip("\n"), start, old_count, new_count))
        elif not hunks:
            continue  # the ---/+++ lines, or anything else before the first hunk
        elif line.startswith("\\"):  # "\ No newline at end of file": the line before ends without one
            for side in sides:
                side[-1] = side[-1].removesuffix("\n")
        else:
            hunk, kind = hunks[-1], line[:1]
            if kind not in (" ", "-", "+", "\n"):
                raise PatchError(f"{name}, line {number}: in {hunk.header}, a line that is not ' ', '-' or '+': "
                                 f"{line.rstrip()!r}")
            text = line[1:] if kind != "\n" else "\n"  # an empty context line whose space an editor trimmed
            sides = {"-": (hunk.old,), "+": (hunk.new,)}.get(kind, (hunk.old, hunk.new))
            for side in sides:
                side.append(text)
    for hunk in hunks:
        if (len(hunk.old), len(hunk.new)) != (hunk.old_count, hunk.new_count):
            raise PatchError(f"{name}: {hunk.header} has {len(hunk.old)} old and {len(hunk.new)} new lines "
                             f"(a hand edit that did not update the header?)")
    if not hunks:
        raise PatchError(f"{name}: no hunk (is it a unified diff, made with diff -U2?)")
    return hunks


def apply(original: str, patch: str, name: str = "patch") -> str:
    """``original`` with ``patch`` applied; :class:`PatchError` when a hunk's context or removed lines differ."""
    source, hunks = lines(original), parse(patch, name)
    out: list[str] = []
    done = offset = 0  # source lines already copied; how far the last hunk was from where its header said
    for number, hunk in enumerate(hunks, 1):
        want = hunk.start + offset
        places = locate(source, hunk, want, done)
        if len(places) != 1:
            why = (f"its lines are not at line {want + 1} but at lines {', '.join(str(a + 1) for a in places)}"
                   if places else mismatch(source, hunk, max(want, done)))
            raise PatchError(f"{name}: hunk {number} of {len(hunks)} ({hunk.header}) no longer applies: {why}; "
                             f"the reference changed under this fixture, so remake its patch "
                             f"(submissions/README.md says how)")
        at = places[0]
        out += source[done:at] + hunk.new
        done, offset = at + len(hunk.old), at - hunk.start
    return "".join(out + source[done:])


def locate(source: list[str], hunk: Hunk, want: int, first: int) -> list[int]:
    """Where the hunk's old lines are: ``want`` if they are there, else every place they are from ``first`` on
    (the hunk applies only if there is one)."""
    def fits(at: int) -> bool:
        return source[at:at + len(hunk.old)] == hunk.old

    if first <= want <= len(source) and fits(want):
        return [want]
    if not hunk.old:
        return []
    return [at for at in range(first, len(source) - len(hunk.old) + 1) if fits(at)]


def mismatch(source: list[str], hunk: Hunk, at: int) -> str:
    """Where the hunk's old lines first differ from the source's, read at ``at``."""
    for i, expected in enumerate(hunk.old):
        found = source[at + i] if at + i < len(source) else None
        if found != expected:
            reads = "is past the end" if found is None else f"reads {found.rstrip(chr(10))!r}"
            return f"line {at + i + 1} of the reference {reads}, the patch expects {expected.rstrip(chr(10))!r}"
    return f"it would overlap the hunk before it at line {at + 1}"


def overlay(fixture: Path, reference: Path, dest: Path) -> Path:
    """A copy of ``reference`` at ``dest`` with the fixture's modules laid over it, its patches applied."""
    shutil.copytree(reference, dest)
    for path in sorted(fixture.iterdir()):
        if path.name == "EXPECTED.toml":
            continue
        if path.suffix == ".patch":
            module = dest / f"{path.stem}.py"
            name = f"{fixture.parent.name}/{fixture.name}/{path.name}"
            patched = apply(module.read_bytes().decode("utf-8"), path.read_bytes().decode("utf-8"), name)
            module.write_bytes(patched.encode("utf-8"))
        else:
            shutil.copy(path, dest / path.name)
    return dest


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.rsplit("\n\n", 1)[-1])
    fixture = Path(sys.argv[1]).resolve()
    print(overlay(fixture, fixture.parents[1] / "reference", Path(sys.argv[2])))
