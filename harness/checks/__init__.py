"""Checks: the judges. Each one builds programs, asks the worker for the submission's raw values,
evaluates the same programs on the answer key in this (trusted) process, and returns a Verdict.

A check is a function ``check(ctx) -> Verdict`` registered under its id (``cells.LSTMCell.forward``)
with the contract names it needs and its options (tolerances, sizes) that a spec may override.

This package is the engine: the machinery every check uses (cases, compare, diagnose, implementation,
sampling, tables), the kinds a task declares in TOML (declared, decoding with model_decoding) and the
trained-task families (trained and one module per family). The checks of one assignment live in its task
folder's ``checks.py`` (the default course's: ``tasks/<name>/checks.py``), registered into that task's own
registry (harness.course).
"""
from __future__ import annotations

import hashlib
import importlib
import pkgutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import torch

from ..sandbox.program import Program


@dataclass
class Verdict:
    passed: bool
    message: str
    hint: str = ""
    numbers: dict = field(default_factory=dict)
    fraction: float | None = None  # partial credit in [0, 1]; None means all or nothing by ``passed``


@dataclass(frozen=True)
class CheckDef:
    id: str
    module: str
    needs: tuple[str, ...]
    func: Callable
    options: dict
    description: str
    prepare: Callable | None = None  # ctx -> None: what it needs from the answer key beyond its programs
    consistent: Callable | None = None  # options -> None: raises OptionError when options disagree with each other

    def needs_for(self, options: dict) -> tuple[str, ...]:
        """The contract names a check of these options needs: a declared check's ``{target}`` is its target."""
        return tuple(options.get("target", n) if n == "{target}" else n for n in self.needs)

    def defaults(self) -> dict:
        """The options' default values (an option registered as a tuple of choices defaults to the first)."""
        return {k: v[0] if isinstance(v, tuple) else v.default if isinstance(v, Structured) else v
                for k, v in self.options.items()}


class OptionError(ValueError):
    """What is wrong with a structured option's value: ``where`` inside it (e.g. ``[2].next."A B"``), what, the fix."""

    def __init__(self, where: str, what: str, fix: str = ""):
        super().__init__(what)
        self.where, self.what, self.fix = where, what, fix


@dataclass(frozen=True)
class Structured:
    """An option whose value has a shape of its own (a list of decoding tables): ``validate(value)`` raises
    OptionError, which the spec loader reports with the file and the key, when the value is wrong."""
    default: object
    validate: Callable[[object], None]


@dataclass(frozen=True)
class FigureDef:
    id: str
    module: str
    needs: tuple[str, ...]
    func: Callable
    title: str


REGISTRY: dict[str, CheckDef] = {}   # the engine's checks: declared kinds and trained families
FIGURES: dict[str, FigureDef] = {}
_SCOPES: list[tuple[dict, dict]] = []  # a task's checks.py being imported: where its registrations go


def register(check_id: str, needs: tuple[str, ...] | list[str], description: str, prepare: Callable | None = None,
             consistent: Callable | None = None, **options):
    """Decorator: register ``func(ctx) -> Verdict`` as check ``check_id``. ``prepare(ctx)``, when given,
    computes (through ``ctx.computed``) the answer key's values the check needs besides those of its
    programs — a trained task's baselines — so that a release can record them. ``consistent(options)``, when
    given, raises OptionError when the spec's options, each valid alone, do not go together."""

    def deco(func):
        registry = _SCOPES[-1][0] if _SCOPES else REGISTRY
        _refuse_duplicate(registry, check_id, func)
        registry[check_id] = CheckDef(check_id, check_id.split(".")[0], tuple(needs), func, options, description,
                                      prepare, consistent)
        return func

    return deco


def register_figure(figure_id: str, needs, title: str):
    def deco(func):
        figures = _SCOPES[-1][1] if _SCOPES else FIGURES
        _refuse_duplicate(figures, figure_id, func)
        figures[figure_id] = FigureDef(figure_id, figure_id.split(".")[0], tuple(needs), func, title)
        return func

    return deco


@contextmanager
def collecting():
    """Registrations made inside go to a task's own registries, yielded as (checks, figures), not the engine's:
    how a task folder's checks.py is read (harness.course), so two courses may use the same ids."""
    scope: tuple[dict, dict] = ({}, {})
    _SCOPES.append(scope)
    try:
        yield scope
    finally:
        _SCOPES.pop()


class DuplicateCheck(Exception):
    """Two functions registered under one id: the second would silently replace the first."""


def _refuse_duplicate(registry: dict, key: str, func: Callable) -> None:
    old = registry.get(key)
    if old is None:
        return
    where = lambda f: f"{f.__module__}.{f.__qualname__}"  # noqa: E731
    if where(old.func) != where(func):  # the same function again (a module reloaded) is not a duplicate
        raise DuplicateCheck(f"{key!r} is registered twice: by {where(old.func)} and by {where(func)}; "
                             "give one of them another id")


def load_builtin_checks() -> None:
    """Import every module of this package: the engine's checks register themselves (a task's own are in its
    folder's checks.py, read by harness.course)."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


class StudentError(Exception):
    """The submission's code raised (or exited) while running a program."""

    def __init__(self, info: dict, where: str = ""):
        self.info = info
        self.where = where
        super().__init__(info.get("message", ""))

    @property
    def not_implemented(self) -> bool:
        return self.info.get("type") == "NotImplementedError"

    def describe(self) -> str:
        kind, msg = self.info.get("type", "Error"), self.info.get("message", "")
        place = f" ({self.where})" if self.where else ""
        return f"{kind}: {msg}{place}" if msg else f"{kind}{place}"


class ContractBroken(Exception):
    """The submission's objects do not have the contract's shape (names, parameters, shapes)."""

    lead = "does not follow the contract"
    # names the document harness release writes beside the starter files, one section per task (harness.release.contract)
    hint = "see CONTRACT.md, the section of this task, for the names, parameter names and shapes the checks expect"


class Context:
    """What a check sees: options, tolerances, seeded random inputs and three ways to run a program:
    on the submission (in the worker), on the answer key, and on a catalogue variant. The answer key's
    values come from ``answers`` (harness.answers): live on the instructor's side, from a released
    bundle on a student's machine."""

    def __init__(self, check_id: str, options: dict, tolerances: dict, seed: int, student_runner: Callable,
                 answers, task=None, state: dict | None = None, view: str = "public", source=None,
                 static_findings=(), hung: dict | None = None):
        self.check_id = check_id
        self.options = options
        self.tolerances = tolerances
        digest = hashlib.sha256(f"{seed}:{check_id}".encode()).digest()
        self.seed = int.from_bytes(digest[:4], "little")
        self.gen = torch.Generator().manual_seed(self.seed)
        self._student_runner = student_runner
        self.answers = answers
        self.forbidden: list[str] = []
        self.seconds = 0.0
        self.task = task                                   # the TaskSpec being graded
        self.state = {} if state is None else state        # shared by the checks and figures of one task
        self.view = view                                   # "public" or "hidden": which dataset view it scores
        self.source = source                               # the submission's ModuleSource
        self.static_findings = list(static_findings)       # forbidden built-ins found in the source
        self.hung = dict(hung or {})                        # contract name -> the check in which it timed out
        self.key = f"{task.name}/{check_id}" if task is not None else check_id  # names its values in a bundle
        self._draws = 0

    @property
    def data(self):
        """The trained task's dataset in this check's view."""
        return self.task.data_for(self.view)

    def tol(self, dtype) -> tuple[float, float]:
        t = self.tolerances[str(dtype).removeprefix("torch.")]
        return t.rtol, t.atol

    # random inputs ----------------------------------------------------------------------------
    def _draw(self, make: Callable[[], torch.Tensor]) -> torch.Tensor:
        index, self._draws = self._draws, self._draws + 1
        return self.answers.draw(self.key, index, make)

    def randn(self, *shape, dtype=torch.float64, scale: float = 1.0) -> torch.Tensor:
        return self._draw(lambda: (torch.randn(*shape, generator=self.gen, dtype=torch.float64) * scale).to(dtype))

    def uniform(self, *shape, low=-1.0, high=1.0, dtype=torch.float64) -> torch.Tensor:
        return self._draw(lambda: (torch.rand(*shape, generator=self.gen, dtype=torch.float64) * (high - low)
                                   + low).to(dtype))

    def randint(self, low: int, high: int, *shape) -> torch.Tensor:
        """Integers in [low, high) (int64), e.g. token ids, lengths, choices among cases."""
        return self._draw(lambda: torch.randint(low, high, shape, generator=self.gen, dtype=torch.int64))

    # running ----------------------------------------------------------------------------------
    def student(self, program: Program, case: str = "", timeout: float | None = None):
        """The submission's value for ``program`` (raises StudentError / ContractBroken / WorkerDied).
        ``case`` names the case in the message when the submission's code raises; ``timeout``
        overrides the spec's per-request limit (training runs)."""
        try:
            reply = self._student_runner(program) if timeout is None else self._student_runner(program, timeout)
        except StudentError as exc:
            if case:
                exc.where = f"{exc.where}; case: {case}" if exc.where else f"case: {case}"
            raise
        self.forbidden.extend(reply.header.get("forbidden", []))
        self.seconds += reply.header.get("seconds", 0.0)
        return reply.value

    def reference(self, program: Program, namespace: dict | None = None):
        """The answer key's value for ``program``."""
        return self.answers.reference(program, namespace)

    def variants(self, module: str, target: str) -> list:
        """The catalogue's variants of ``module.target`` (name, kind, description)."""
        return self.answers.variants(module, target)

    def mutants(self, module: str, target: str) -> list:
        """The mistakes derived from the answer key's code of ``module.target`` (harness.checks.mutants)."""
        return self.answers.mutants(module, target)

    def variant(self, program: Program, variant):
        """The value of a catalogue variant (or of a mutant) for ``program``; raises VariantFailed when it cannot
        run it."""
        return self.answers.variant(program, variant)

    def computed(self, name: str, compute: Callable[[], object]):
        """A value computed once per task and view from the answer key, such as a trained task's baselines."""
        return self.answers.computed(f"{self.task.name}:{self.view}:{name}", compute)
