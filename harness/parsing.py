"""``ast.parse`` for the judge: safe beside another thread that parses.

CPython 3.11 keeps one count of the depth of the AST it is building per interpreter (python/cpython#106905): a
parse that runs while another thread parses can fail with ``SystemError: AST constructor recursion depth mismatch``
though its source is fine. The judge has such a thread: ``harness check`` imports the report's modules in the
background while it grades (harness/cli.py), and those imports parse (``inspect.signature`` of built-ins does).
The count starts afresh at each call, so the parse is tried again; any other error is the caller's to handle.
"""
from __future__ import annotations

import ast

MISMATCH = "AST constructor recursion depth mismatch"
TRIES = 3


def parse(source: str) -> ast.Module:
    """``ast.parse(source)``, tried again when another thread's parse upset CPython's count (see above)."""
    for attempt in range(TRIES):
        try:
            return ast.parse(source)
        except SystemError as exc:
            if MISMATCH not in str(exc) or attempt == TRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
