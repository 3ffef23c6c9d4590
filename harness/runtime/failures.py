"""What went wrong in a submission's code, in words for the student: the exception's type and message, and the
innermost line of the student's own files it went through. The worker describes every error it reports this way;
a figure's part of a program computed apart (``training.apart``) describes its own failure the same way.

Part of the worker's runtime: it imports nothing from the harness.
"""
from __future__ import annotations

import os
import re
import traceback

#: terminal escape sequences (Keras wraps the message of an error raised in a layer's call in bold ones)
ESCAPES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _safe_str(value, limit: int = 4000, convert=str) -> str:
    """str() of something the submission made, which may raise, lie about its type or be huge."""
    try:
        text = convert(value)
        if not isinstance(text, str):
            raise TypeError
    except BaseException:  # noqa: BLE001
        try:
            text = object.__repr__(value)
        except BaseException:  # noqa: BLE001
            text = "<unprintable>"
    return text[:limit]


def describe_exception(exc: BaseException, submission_dir: str) -> dict:
    """Type, message and the innermost place in the submission's own files, for the student."""
    try:
        return _describe(exc, submission_dir)
    except BaseException:  # noqa: BLE001 - a hostile exception must not take the worker down
        return {"type": _safe_str(type(exc).__name__, 200), "message": _safe_str(exc)}


def _describe(exc: BaseException, submission_dir: str) -> dict:
    info = {"type": type(exc).__name__, "message": ESCAPES.sub("", _safe_str(exc))}
    if isinstance(exc, SystemExit):
        info["message"] = f"the code called sys.exit({_safe_str(exc.code, 200, repr)})"
    where = None
    if isinstance(exc, SyntaxError) and exc.filename:
        info["message"] = _safe_str(exc.msg)  # str(exc) repeats the place, which is reported below
        where = (exc.filename, exc.lineno, (exc.text or "").rstrip())
    for frame in traceback.extract_tb(exc.__traceback__):
        # Only real files: "<frozen importlib._bootstrap>" would resolve inside the submission (the cwd).
        if os.path.isabs(frame.filename) and frame.filename.startswith(submission_dir + os.sep):
            where = (frame.filename, frame.lineno, frame.line)
    if where is not None:
        filename, line, text = where
        info["file"] = os.path.relpath(os.path.abspath(filename), submission_dir)
        info["line"] = line
        info["code"] = text or ""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    info["traceback"] = tb[-6000:]
    return info
