"""Checks: the judges. Each one builds programs, asks the worker for the submission's raw values,
evaluates the same programs on the answer key in this (trusted) process, and returns a Verdict.

A check is a function ``check(ctx) -> Verdict`` registered under its id (``cells.LSTMCell.forward``)
with the contract names it needs and its options (tolerances, sizes) that a spec may override.
"""
from __future__ import annotations

import hashlib
import importlib
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


@dataclass(frozen=True)
class FigureDef:
    id: str
    module: str
    needs: tuple[str, ...]
    func: Callable
    title: str


REGISTRY: dict[str, CheckDef] = {}
FIGURES: dict[str, FigureDef] = {}
BUILTIN = ("cells", "attention", "sequences", "generation", "tasks")


def register(check_id: str, needs: tuple[str, ...] | list[str], description: str, **options):
    """Decorator: register ``func(ctx) -> Verdict`` as check ``check_id``."""

    def deco(func):
        REGISTRY[check_id] = CheckDef(check_id, check_id.split(".")[0], tuple(needs), func, options, description)
        return func

    return deco


def register_figure(figure_id: str, needs, title: str):
    def deco(func):
        FIGURES[figure_id] = FigureDef(figure_id, figure_id.split(".")[0], tuple(needs), func, title)
        return func

    return deco


def load_builtin_checks() -> None:
    for name in BUILTIN:
        importlib.import_module(f"{__name__}.{name}")


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
    hint = "see the contract for names, parameter names and shapes"


def detached(value):
    """The answer key's values without their autograd graphs, like values decoded from the worker."""
    if isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, tuple):
        return tuple(detached(v) for v in value)
    if isinstance(value, list):
        return [detached(v) for v in value]
    if isinstance(value, dict):
        return {k: detached(v) for k, v in value.items()}
    return value


class Context:
    """What a check sees: options, tolerances, a seeded generator and three ways to run a program:
    on the submission (in the worker), on the answer key, and on a catalogue variant."""

    def __init__(self, check_id: str, options: dict, tolerances: dict, seed: int, student_runner: Callable,
                 reference_namespace: dict, task=None, state: dict | None = None):
        self.check_id = check_id
        self.options = options
        self.tolerances = tolerances
        digest = hashlib.sha256(f"{seed}:{check_id}".encode()).digest()
        self.seed = int.from_bytes(digest[:4], "little")
        self.gen = torch.Generator().manual_seed(self.seed)
        self._student_runner = student_runner
        self.reference_namespace = reference_namespace
        self.forbidden: list[str] = []
        self.seconds = 0.0
        self.task = task                                   # the TaskSpec being graded
        self.state = {} if state is None else state        # shared by the checks and figures of one task

    def tol(self, dtype) -> tuple[float, float]:
        t = self.tolerances[str(dtype).removeprefix("torch.")]
        return t.rtol, t.atol

    # random inputs ----------------------------------------------------------------------------
    def randn(self, *shape, dtype=torch.float64, scale: float = 1.0) -> torch.Tensor:
        return (torch.randn(*shape, generator=self.gen, dtype=torch.float64) * scale).to(dtype)

    def uniform(self, *shape, low=-1.0, high=1.0, dtype=torch.float64) -> torch.Tensor:
        return (torch.rand(*shape, generator=self.gen, dtype=torch.float64) * (high - low) + low).to(dtype)

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
        """The answer key's value for ``program``, computed in this process."""
        from ..sandbox import program as interpreter

        value = interpreter.run(program.to_json(), program.inputs, namespace or self.reference_namespace)
        return detached(value)

    def variant(self, program: Program, variant):
        """The value of a catalogue variant (the answer key with one known mistake) for ``program``."""
        import types

        namespace = dict(self.reference_namespace)
        original = namespace[variant.module]
        patched = types.SimpleNamespace(**vars(original))
        setattr(patched, variant.target, variant.impl)
        namespace[variant.module] = patched
        return self.reference(program, namespace)
