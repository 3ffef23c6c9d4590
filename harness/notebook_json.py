"""Where a notebook cell's line sits in the ``.ipynb`` file's own text.

A place in a notebook is said as "cell 3, line 4" (the third code cell, as harness.submission numbers
them); tools that only know files — GitHub's annotations, an editor's "go to line" — need the line of
the JSON file instead. Jupyter writes each source line of a cell as one string of the cell's ``source``
list, on a line of its own, so that line is where the student's line sits in the file. The notebook is
read as text and parsed here, on the trusted side, never run or imported; anything that is not a
version-4 notebook, or a place it does not have, gives None.
"""
from __future__ import annotations

import json
from json.decoder import scanstring

MAX_DEPTH = 64  # a notebook nests a few levels; deeper JSON is not one
SPACE = " \t\n\r"


class _Parser:
    """JSON to (offset, value) nodes: the offset of each value in the text, with its value made of nodes."""

    def __init__(self, text: str):
        self.text = text
        self.scalars = json.JSONDecoder()

    def skip(self, i: int) -> int:
        while i < len(self.text) and self.text[i] in SPACE:
            i += 1
        return i

    def value(self, i: int, depth: int = 0) -> tuple[tuple[int, object], int]:
        """(the node of the value at ``i``, where it ends); ValueError for text that is not JSON."""
        if depth > MAX_DEPTH:
            raise ValueError("nested too deep")
        i = self.skip(i)
        start, char = i, self.text[i:i + 1]
        if char == '"':
            string, end = scanstring(self.text, i + 1, True)
            return (start, string), end
        if char not in "[{":
            scalar, end = self.scalars.raw_decode(self.text, i)
            return (start, scalar), end
        closing, items, members = ("]" if char == "[" else "}"), [], {}
        i = self.skip(i + 1)
        if self.text[i:i + 1] == closing:
            return (start, items if char == "[" else members), i + 1
        while True:
            if char == "{":
                (_, key), i = self.value(i, depth + 1)
                if not isinstance(key, str):
                    raise ValueError("a key that is not a string")
                i = self.skip(i)
                if self.text[i:i + 1] != ":":
                    raise ValueError("':' expected")
                members[key], i = self.value(i + 1, depth + 1)
            else:
                node, i = self.value(i, depth + 1)
                items.append(node)
            i = self.skip(i)
            if self.text[i:i + 1] == closing:
                return (start, items if char == "[" else members), i + 1
            if self.text[i:i + 1] != ",":
                raise ValueError("',' expected")
            i += 1


def _code_cells(text: str) -> list | None:
    """Each code cell's source node (the offset of its ``source`` value, and that value), or None when
    ``text`` is not a version-4 notebook."""
    try:
        (_, root), _ = _Parser(text).value(0)
    except (ValueError, IndexError, RecursionError):
        return None
    cells = root.get("cells") if isinstance(root, dict) else None
    if not isinstance(cells, tuple) or not isinstance(cells[1], list):
        return None
    code = [c for _, c in cells[1] if isinstance(c, dict) and c.get("cell_type", (0, None))[1] == "code"]
    return [c.get("source") for c in code]


def _pieces(source) -> list[tuple[int, str]] | None:
    """A cell's source node as (offset, string) pieces: one string, or a list of strings; None otherwise."""
    if not isinstance(source, tuple):
        return None
    offset, value = source
    pieces = [(offset, value)] if isinstance(value, str) else value
    return pieces if isinstance(pieces, list) and all(isinstance(piece, str) for _, piece in pieces) else None


def code_sources(text: str) -> list[str] | None:
    """The source of each code cell of the notebook ``text``, in order (a cell whose source is not text
    is ""), or None when ``text`` is not a version-4 notebook."""
    cells = _code_cells(text)
    if cells is None:
        return None
    return ["".join(piece for _, piece in _pieces(source) or []) for source in cells]


def file_line(text: str, cell: int, line: int) -> int | None:
    """The line (from 1) of the notebook file ``text`` holding line ``line`` of its code cell ``cell`` (both
    from 1, as harness.submission counts them: code cells only, the source split as str.splitlines does);
    None when the text is not a version-4 notebook or has no such cell or line."""
    cells = _code_cells(text)
    if cells is None or not 1 <= cell <= len(cells) or line < 1:
        return None
    pieces = _pieces(cells[cell - 1])
    if pieces is None:
        return None
    joined = "".join(piece for _, piece in pieces)
    lines = joined.splitlines(keepends=True)
    if line > len(lines):
        return None
    at = sum(len(text_line) for text_line in lines[:line - 1])  # where the line starts in the joined source
    for piece_offset, piece in pieces:
        if at < len(piece):
            return text.count("\n", 0, piece_offset) + 1
        at -= len(piece)
    return None
