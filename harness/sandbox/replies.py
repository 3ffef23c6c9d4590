"""What the judge accepts from a worker: one schema per kind of reply, checked before anything reads it.

The worker runs the submission's code, so every frame it sends may be forged: a submission can reach the
reply pipe, or patch the worker's own functions, and send ``names = 3``, an error that is a list, a
traceback of 20 MB or a header nested a thousand levels deep. The launcher passes each reply through
:func:`check_reply` with the kind of the request it answers (``hello`` for the first frame of a worker, then
``load`` or ``run``); what does not fit the schema is a :class:`ReplyError` that names the field and what
was expected, which the launcher turns into a protocol error charged to the submission (its request fails,
the worker is killed). What fits comes back with its texts cut to the lengths of ``harness.results``, so
that no reader of a reply has to guard against a wrong type, a missing key or a huge string.

The reply's ``value`` (the outputs of a program) is not checked here: it is any tree ``wire.decode`` could
build (tensors, numbers including NaN and infinities, strings, tuples, lists, dicts), and the checks compare
it with what they expect, describing any difference in bounded words.

Runs in the judge only.
"""
from __future__ import annotations

import math
from typing import Callable

from ..results import NAME_LIMIT, TEXT_LIMIT, cut

MAX_ITEMS = 10_000  # entries of a list or mapping in a reply's fields (names, imports, notes)
HELLO_DEPTH = 4     # nesting of a hello field this schema does not know (kept for the launcher, bounded)


class ReplyError(Exception):
    """A reply that does not fit its schema: which field, what was expected, what came."""

    def __init__(self, kind: str, field: str, expected: str, got):
        self.kind, self.field, self.expected = kind, field, expected
        self.got = _kind_of(got)
        super().__init__(f"its {kind} reply has {field} = {self.got}, where {expected} was expected")


def _kind_of(value) -> str:
    """A short description of a value that came from the worker (never its whole text)."""
    if isinstance(value, str):
        return f"a string of {len(value)} characters" if len(value) > 40 else repr(value)
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, (int, float)):
        return cut(repr(value), 40)
    if isinstance(value, (list, dict)):
        return f"a {type(value).__name__} of {len(value)}"
    return f"a {type(value).__name__}"


Field = Callable[[str, str, object], object]  # (kind, field name, value) -> the value to keep, or ReplyError


def text(limit: int = TEXT_LIMIT) -> Field:
    """A string, cut to ``limit`` characters (a submission's exception text can be as long as it likes)."""
    def field(kind, name, value):
        if not isinstance(value, str):
            raise ReplyError(kind, name, "a string", value)
        return cut(value, limit)
    return field


def integer(kind, name, value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ReplyError(kind, name, "an integer", value)
    return value


def optional(inner: Field) -> Field:
    return lambda kind, name, value: None if value is None else inner(kind, name, value)


def boolean(kind, name, value):
    if not isinstance(value, bool):
        raise ReplyError(kind, name, "true or false", value)
    return value


def seconds(kind, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ReplyError(kind, name, "a finite number of seconds, 0 or more", value)
    return float(value)


def listing(inner: Field) -> Field:
    """A list of at most MAX_ITEMS entries, each checked by ``inner``."""
    def field(kind, name, value):
        if not isinstance(value, list) or len(value) > MAX_ITEMS:
            raise ReplyError(kind, name, f"a list of at most {MAX_ITEMS} entries", value)
        return [inner(kind, f"{name}[{i}]", v) for i, v in enumerate(value)]
    return field


def mapping(inner: Field) -> Field:
    """An object of at most MAX_ITEMS entries with names as keys, each value checked by ``inner``."""
    def field(kind, name, value):
        if not isinstance(value, dict) or len(value) > MAX_ITEMS:
            raise ReplyError(kind, name, f"an object of at most {MAX_ITEMS} entries", value)
        for key in value:
            if len(key) > NAME_LIMIT:
                raise ReplyError(kind, f"a key of {name}", f"a name of at most {NAME_LIMIT} characters", key)
        return {key: inner(kind, f"{name}[{key!r}]", v) for key, v in value.items()}
    return field


def record(fields: dict[str, Field], required: tuple[str, ...] = ()) -> Field:
    """An object with the given fields (each optional unless ``required``) and no others."""
    def field(kind, name, value):
        if not isinstance(value, dict):
            raise ReplyError(kind, name, "an object", value)
        def path(key):
            return f"{name}.{key}" if name else key

        for key in value:
            if key not in fields:
                raise ReplyError(kind, f"an unknown field {path(cut(key, 40))!r}", f"only {', '.join(fields)}",
                                 value[key])
        for key in required:
            if key not in value:
                raise ReplyError(kind, path(key), "a value (it is required)", None)
        return {key: fields[key](kind, path(key), v) for key, v in value.items()}
    return field


def plain(depth: int = HELLO_DEPTH) -> Field:
    """Any JSON value nested at most ``depth`` levels, with strings cut: for fields the schema leaves open."""
    def field(kind, name, value):
        if isinstance(value, str):
            return cut(value)
        if value is None or isinstance(value, (bool, int)):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else cut(repr(value))
        if depth > 0 and isinstance(value, list):
            return listing(plain(depth - 1))(kind, name, value)
        if depth > 0 and isinstance(value, dict):
            return mapping(plain(depth - 1))(kind, name, value)
        raise ReplyError(kind, name, f"a JSON value nested at most {HELLO_DEPTH} levels", value)
    return field


def anything(kind, name, value):
    """The decoded value of a program (see the module's docstring)."""
    return value


# The error a worker reports when the submission's code raised (runtime/worker.py, describe_exception).
ERROR = record({"type": text(NAME_LIMIT), "message": text(), "file": text(NAME_LIMIT), "line": integer,
                "code": text(), "traceback": text()}, required=("type",))
NAMES = listing(text(NAME_LIMIT))
COMMON = {"id": integer, "ok": boolean, "answer_key_imports": NAMES, "error": ERROR}

SCHEMAS: dict[str, tuple[dict[str, Field], tuple[str, ...]]] = {
    # The first frame of a worker: who it is and which protections held (runtime/confine.py).
    "hello": ({"hello": boolean, "pid": integer, "init_pid": optional(integer), "uid": optional(integer),
               "protections": mapping(boolean), "notes": mapping(text()), "mode": text(NAME_LIMIT)}, ("hello",)),
    "load": ({**COMMON, "names": NAMES, "map_problems": mapping(text())}, ("id", "ok")),
    "run": ({**COMMON, "value": anything, "seconds": seconds, "forbidden": NAMES, "contract": text()}, ("id", "ok")),
}
OPEN = {"hello"}  # kinds whose unknown fields are kept (bounded): the launcher may grow what it reads there


def check_reply(kind: str, header) -> dict:
    """The reply ``header`` to a request of ``kind`` checked against its schema, texts cut; ReplyError if it
    does not fit. A reply that is not ok must say why (an ``error`` or, for ``run``, a ``contract``). A kind
    without a schema of its own gets the fields every reply shares, its other fields kept bounded."""
    fields, required = SCHEMAS.get(kind, (COMMON, ("id", "ok")))
    if kind in OPEN or kind not in SCHEMAS:
        fields = {**{key: plain() for key in (header if isinstance(header, dict) else {})}, **fields}
    if not isinstance(header, dict):
        raise ReplyError(kind, "its header", "an object", header)
    checked = record(fields, required)(kind, "", header)
    if checked.get("ok") is False and "error" not in checked and "contract" not in checked:
        raise ReplyError(kind, "error", "an error or a broken contract, as ok is false,", None)
    return checked
