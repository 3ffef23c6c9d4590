"""Results: one JSON document per graded submission, the single source reports are rendered from.

Schema (version 3)::

    {"schema_version": 3, "harness_version", "submission", "created", "score", "max_score",
     "tasks": [{"name", "title", "module", "source", "score", "max_score", "spec_version", "spec_digest",
                "not_run_checks", "not_run_points", "ignored", "never_shown_checks",
                "never_shown_points"}],
     "checks": [{"id", "task", "status", "points", "max_points", "message", "hint", "numbers",
                 "visibility", "seconds"}],
     "figures": [{"id", "title", "task", "data"}],
     "notes": [...], "environment": {...}, "sandbox": {...}, "seconds"}

Numbers that are not finite. A submission's values can be NaN or infinite, and ``numbers`` and ``figures``
report them as they are. JSON has no such numbers, so the document holds them as the strings ``"NaN"``,
``"Infinity"`` and ``"-Infinity"`` (the spellings JavaScript and Python's own ``json`` module print), and
reading turns those three strings back into floats wherever they appear in a check's ``numbers``, the figures,
``environment`` and ``sandbox`` (there, a string that happens to be spelled so reads back as the float it names,
which is shown the same way; messages, hints, notes and names are never read as numbers). Points and scores are
always finite: a check whose points are not a finite number scores 0, and a check's points lie between 0 and its
``max_points`` (at most :data:`POINTS_LIMIT`).

Strings a submission controls. Messages that quote its output, its exception text, its names, notes about its
files, source lines: every string of a document is cut to :data:`TEXT_LIMIT` characters (:data:`NAME_LIMIT`
for ids, names and a module's source), and ``numbers`` and ``figures`` are cut at :data:`DEPTH_LIMIT`
levels of nesting, when a result is made and again when one is read. What ends up in the gradebook, the
reports and the class overview comes from here, so none of them sees more.

Version 3 added the encoding of non-finite numbers; documents of version 2 (which could not hold them) are
read as they are. A task's ``never_shown_checks``/``never_shown_points`` (of the checks not run, those whose
visibility is "hidden") came later within version 3: a document without them reads them as ``None``, unknown.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

SCHEMA_VERSION = 3  # 2: visibilities public/after_due_date/hidden; tasks say what was not run; 3: NaN/inf as strings
READABLE_SCHEMAS = (2, 3)
STATUSES = ("passed", "failed", "error", "skipped")
TEXT_LIMIT = 4000  # characters of any one string in a results document (a message, a traceback, a note)
NAME_LIMIT = 200   # characters of an id, a name, a module's source or the submission's path
DEPTH_LIMIT = 12   # levels of nesting kept in ``numbers`` and figure data
NOTES_LIMIT = 200  # notes kept (one per skipped notebook line, say); the rest are counted
POINTS_LIMIT = 1e6  # points of one check, at most: a check's points lie between 0 and its max_points
NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
DECODED = ("figures", "environment", "sandbox")  # with each check's numbers: where a non-finite number is read back


#: Control characters (but tab and newline) shown as their escapes: a terminal, a CI log or a spreadsheet that
#: reads a submission's text must not receive an escape sequence, a carriage return that overwrites a line, or a bell.
CONTROLS = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7f, 0xa0)] if c not in (0x09, 0x0a)}


def cut(text, limit: int = TEXT_LIMIT) -> str:
    """``text`` as a string of at most ``limit`` characters, saying how much was cut, with its control characters
    shown as escapes (:data:`CONTROLS`), and one that UTF-8 can hold."""
    text = (text if isinstance(text, str) else str(text)).translate(CONTROLS)
    if len(text) > limit:
        keep = max(limit - len(f" [… {len(text)} more characters cut]"), 0)
        text = (text[:keep] + f" [… {len(text) - keep} more characters cut]")[:limit]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (JSON can carry one): no file could be written with it
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def bounded(value, limit: int = TEXT_LIMIT, depth: int = 0):
    """A JSON-like tree with every string cut to ``limit``, keys to NAME_LIMIT, nesting to DEPTH_LIMIT."""
    if isinstance(value, str):
        return cut(value, limit)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if depth >= DEPTH_LIMIT:
        return f"[nested deeper than {DEPTH_LIMIT} levels: cut]"
    if isinstance(value, dict):
        return {cut(k, NAME_LIMIT): bounded(v, limit, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [bounded(v, limit, depth + 1) for v in value]
    return value  # not a JSON value: encoded (or refused) on writing, see encode()


def number(value: float) -> str:
    """A number of points as people write them: 3, 2.5, 0.33."""
    return f"{round(value, 2):g}"


def points_phrase(value: float, between: str = "") -> str:
    """"1 point", "2.5 points", "0 points" (``between``: words before "point", e.g. "more ")."""
    text = number(value)
    return f"{text} {between}point{'' if text == '1' else 's'}"


def count(n: int, noun: str) -> str:
    """"1 check", "3 checks"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def expect(value, kind: type, field: str):
    """``value`` when it is a ``kind`` (a bool is not an int here); TypeError naming ``field`` otherwise: a document
    read back with a field of another type is refused, never rendered half-way."""
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise TypeError(f"{field} is {type(value).__name__}, not {kind.__name__}")
    return value


def finite_or_zero(value) -> float:
    """A points value as a finite float (0 for anything else: no points for a number that is not one)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0


def encode(value):
    """A tree with non-finite floats as their strings (see the module's docstring), ready for strict JSON.
    What JSON cannot hold otherwise (a tensor a check left in its numbers, say) is written as its repr, cut."""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    try:
        return encode(float(value)) if hasattr(value, "__float__") and not hasattr(value, "__len__") else cut(repr(value))
    except (TypeError, ValueError):
        return cut(repr(value))


def decode(value):
    """Inverse of :func:`encode`: the strings of non-finite numbers back to floats."""
    if isinstance(value, str):
        return NON_FINITE.get(value, value)
    if isinstance(value, dict):
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


@dataclass
class CheckResult:
    id: str
    task: str
    status: str
    points: float
    max_points: float
    message: str
    hint: str = ""
    numbers: dict = field(default_factory=dict)
    visibility: str = "public"
    seconds: float = 0.0

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")
        for name in ("id", "task", "message", "hint", "visibility"):
            expect(getattr(self, name), str, f"a check's {name}")
        self.id, self.task = cut(self.id, NAME_LIMIT), cut(self.task, NAME_LIMIT)
        self.message, self.hint = cut(self.message), cut(self.hint)
        self.numbers = bounded(expect(self.numbers, dict, "a check's numbers"))
        self.max_points = min(max(finite_or_zero(self.max_points), 0.0), POINTS_LIMIT)
        self.points = min(max(finite_or_zero(self.points), 0.0), self.max_points)
        self.seconds = finite_or_zero(self.seconds)


@dataclass
class TaskResult:
    name: str
    title: str
    module: str
    source: str
    score: float
    max_score: float
    spec_version: str
    spec_digest: str
    not_run_checks: int = 0      # checks graded after submission that this run did not run
    not_run_points: float = 0.0  # and their points: ``max_score`` counts only what ran
    ignored: list[str] = field(default_factory=list)  # other files for the module, not graded: "name (why)"
    never_shown_checks: int | None = None    # of the checks not run, those of visibility "hidden" (None: not known)
    never_shown_points: float | None = None  # and their points

    def __post_init__(self):
        for name in ("name", "title", "module", "source", "spec_version", "spec_digest"):
            expect(getattr(self, name), str, f"a task's {name}")
        expect(self.not_run_checks, int, "a task's not_run_checks")
        self.ignored = [cut(expect(v, str, "a task's ignored file"), TEXT_LIMIT // 4)
                        for v in expect(self.ignored, list, "a task's ignored")[:NOTES_LIMIT]]
        self.name, self.title, self.module = (cut(v, NAME_LIMIT) for v in (self.name, self.title, self.module))
        self.source = cut(self.source, NAME_LIMIT)
        self.score, self.max_score = finite_or_zero(self.score), finite_or_zero(self.max_score)
        self.not_run_points = finite_or_zero(self.not_run_points)
        if self.never_shown_checks is None:
            self.never_shown_points = None
        else:
            expect(self.never_shown_checks, int, "a task's never_shown_checks")
            self.never_shown_checks = min(max(self.never_shown_checks, 0), self.not_run_checks)
            self.never_shown_points = finite_or_zero(self.never_shown_points)


NOT_SUBMITTED = "not submitted"    # a task's source when no file was found for its module
NOT_READ = " (could not be read)"  # after a task's source when its file was found but refused (the checks say why)


def files_line(task: "TaskResult") -> str:
    """Which file was graded for a task and which were left aside, with why ("" when there was no choice)."""
    if not task.ignored:
        return ""
    return f"{task.name}: graded {task.source}; ignored {'; '.join(task.ignored)}"


@dataclass
class Results:
    submission: str
    harness_version: str
    created: str
    tasks: list[TaskResult]
    checks: list[CheckResult]
    figures: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    environment: dict = field(default_factory=dict)
    sandbox: dict = field(default_factory=dict)
    seconds: float = 0.0
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self):
        for name in ("submission", "harness_version", "created"):
            expect(getattr(self, name), str, name)
        for name, kind in (("tasks", TaskResult), ("checks", CheckResult), ("figures", dict), ("notes", str)):
            for item in expect(getattr(self, name), list, name):
                expect(item, kind, f"an entry of {name}")
        expect(self.environment, dict, "environment")
        expect(self.sandbox, dict, "sandbox")
        self.submission = cut(self.submission)
        notes = [cut(n) for n in self.notes[:NOTES_LIMIT]]
        if len(self.notes) > NOTES_LIMIT:
            notes.append(f"… and {len(self.notes) - NOTES_LIMIT} more notes, not kept")
        self.notes = notes
        self.figures = bounded(self.figures)
        self.environment, self.sandbox = bounded(self.environment), bounded(self.sandbox)
        self.seconds = finite_or_zero(self.seconds)

    @property
    def score(self) -> float:
        return round(sum(c.points for c in self.checks), 6)

    @property
    def max_score(self) -> float:
        return round(sum(c.max_points for c in self.checks), 6)

    @property
    def not_run_points(self) -> float:
        """Points of checks graded after submission that this run did not run (0 when all ran)."""
        return round(sum(t.not_run_points for t in self.tasks), 6)

    @property
    def not_run_checks(self) -> int:
        return sum(t.not_run_checks for t in self.tasks)

    @property
    def never_shown(self) -> tuple[int, float] | None:
        """(checks, points) of the checks not run whose results are never shown to students (visibility
        "hidden"); None when a task does not say (a document or bundle written before this was recorded)."""
        if any(t.not_run_checks and t.never_shown_checks is None for t in self.tasks):
            return None
        return (sum(t.never_shown_checks or 0 for t in self.tasks),
                round(sum(t.never_shown_points or 0.0 for t in self.tasks), 6))

    def later_line(self) -> str:
        """How many points are graded after submission and whether their results will be shown ("" if none)."""
        n = self.not_run_checks
        if not n:
            return ""
        more = points_phrase(self.not_run_points, "more ")
        line = f"{more} ({count(n, 'check')}) {'is' if more.endswith('point') else 'are'} graded after submission"
        if self.never_shown is None:
            return line
        hidden, hidden_points = self.never_shown
        if not hidden:
            return line + f"; {'its result is' if n == 1 else 'their results are'} shown to students after the due date"
        one = hidden == 1
        kept = (f"{'its result is' if one else 'their results are'} never shown to students, though "
                f"{'its' if one else 'their'} points count towards the grade")
        if hidden == n:
            return line + f"; {'it is' if one else 'they are'} hidden: {kept}"
        rest = n - hidden
        return line + (f"; {hidden} of them ({points_phrase(hidden_points)}) {'is' if one else 'are'} hidden: {kept}; "
                       f"{'the other one is' if rest == 1 else f'the other {rest} are'} shown to students after the due date")

    def coverage_line(self) -> str:
        """What this run covered, said so that a public run never reads as the final grade."""
        if not self.not_run_checks:
            return ""
        return f"public checks: {number(self.score)} of {points_phrase(self.max_score)}; {self.later_line()}"

    def counts(self) -> dict[str, int]:
        return {s: sum(c.status == s for c in self.checks) for s in STATUSES}

    def to_dict(self) -> dict:
        """The document as JSON values (non-finite numbers as their strings, see the module's docstring)."""
        data = asdict(self)
        data["score"], data["max_score"] = self.score, self.max_score
        order = ["schema_version", "harness_version", "submission", "created", "score", "max_score"]
        return encode({**{k: data[k] for k in order}, **{k: v for k, v in data.items() if k not in order}})

    def to_json(self) -> str:
        """The document's text, strict JSON (what :meth:`write` puts in the file)."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    def write(self, path: Path, within: Path | None = None) -> None:
        """Write the document to ``path`` atomically and never through a link (``within``: see
        harness.files.write_output)."""
        from .files import write_output

        write_output(path, self.to_json(), within)

    @classmethod
    def from_dict(cls, data: dict) -> "Results":
        """A document of a readable schema (version 2 or 3) back as Results; ValueError for anything else (another
        schema, a field missing or of the wrong type)."""
        if not isinstance(data, dict) or data.get("schema_version") not in READABLE_SCHEMAS:
            found = data.get("schema_version") if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"results schema {found} is not one of {', '.join(map(str, READABLE_SCHEMAS))}")
        try:
            data = {k: (decode(v) if k in DECODED else v) for k, v in data.items() if k not in ("score", "max_score")}
            data["schema_version"] = SCHEMA_VERSION  # read, it is what this version writes
            data["tasks"] = [TaskResult(**t) for t in data["tasks"]]
            data["checks"] = [CheckResult(**{**c, "numbers": decode(c.get("numbers", {}))}) for c in data["checks"]]
            return cls(**data)
        except (TypeError, KeyError, AttributeError) as exc:  # a field missing, of another type, or unknown
            raise ValueError(f"the results document is malformed ({type(exc).__name__}: {cut(str(exc), 200)})") from None

    @classmethod
    def from_json(cls, text: str) -> "Results":
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))

    @classmethod
    def read(cls, path: Path, within: Path | None = None) -> "Results":
        """A results file as the harness wrote it: a regular file (a link or a FIFO is refused with an OSError),
        of at most harness.files.RESULTS_BYTES; ``within``: a folder from which every folder on the way to
        ``path`` must be a real one."""
        from .files import RESULTS_BYTES, read_path, read_regular

        if within is None:
            return cls.from_json(read_path(path, RESULTS_BYTES).decode("utf-8"))
        relative = os.path.relpath(os.path.abspath(path), os.path.abspath(within))
        return cls.from_json(read_regular(within, relative, RESULTS_BYTES).decode("utf-8"))
