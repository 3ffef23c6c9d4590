"""Programs: what the judge asks the worker to evaluate, as data — the judge's side (building them).

A check never ships code to the worker. It builds a *program* — a short list of steps such as
"construct ``cells.LSTMCell(3, 4)``", "load these weights", "unroll over x", "return the outputs
and the gradients" — and the worker evaluates it against the student's modules and sends back raw
values. The judge evaluates the very same program against the answer key (``reference_models``)
in its own process to get the expected values, so a check is written once and compared twice.

The interpreter and its trusted helper ops run on both sides, so they live in the worker's runtime
(``harness/runtime/interpreter.py``, ``ops.py``); this builder runs in the judge only. The judge's
callers evaluate programs through the names re-exported here (``run``, ``ContractError``).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import torch

from ..runtime.interpreter import resolve, run
from ..runtime.ops import DTYPES, OPS, ContractError

__all__ = ["Program", "Ref", "run", "resolve", "ContractError", "OPS", "DTYPES"]


@dataclass(frozen=True)
class Ref:
    """A variable of a program under construction."""

    name: str


@dataclass
class Program:
    """A list of ``(variable, expression)`` steps and a result expression."""

    steps: list = field(default_factory=list)
    inputs: dict = field(default_factory=dict)
    result_expr: object = None
    _names: itertools.count = field(default_factory=itertools.count, repr=False)

    # expressions ------------------------------------------------------------------------------
    def _expr(self, value):
        if isinstance(value, Ref):
            return {"var": value.name}
        if isinstance(value, torch.Tensor):
            name = f"in{len(self.inputs)}"
            self.inputs[name] = value.detach().clone()
            return {"$tensor": name}
        if isinstance(value, tuple):
            return {"$tuple": [self._expr(v) for v in value]}
        if isinstance(value, list):
            return [self._expr(v) for v in value]
        if isinstance(value, dict):
            return {"$dict": {k: self._expr(v) for k, v in value.items()}}
        if isinstance(value, torch.dtype):
            return {"$dtype": str(value).removeprefix("torch.")}
        return value

    def _let(self, expr) -> Ref:
        ref = Ref(f"v{next(self._names)}")
        self.steps.append([ref.name, expr])
        return ref

    def call(self, name: str, *args, **kwargs) -> Ref:
        """Call ``module.attr`` of the namespace (a submission's function or class)."""
        return self._let({"call": name, "args": self._expr(list(args)), "kwargs": self._expr(kwargs)})

    def method(self, obj: Ref, name: str, *args, **kwargs) -> Ref:
        return self._let({"method": [self._expr(obj), name], "args": self._expr(list(args)),
                          "kwargs": self._expr(kwargs)})

    def lookup(self, name: str) -> Ref:
        """The value of ``module.attr`` in the namespace, or None when it is not defined."""
        return self._let({"lookup": name})

    def assign(self, name: str, value) -> Ref:
        """Set the global ``module.attr`` of the namespace (a notebook's ``char2idx``) until the program ends."""
        return self._let({"assign": name, "value": self._expr(value)})

    def op(self, name: str, *args) -> Ref:
        """One of the trusted helper ops in :data:`OPS`."""
        if name not in OPS:
            raise KeyError(f"unknown program op {name!r}")
        return self._let({"op": name, "args": self._expr(list(args))})

    def result(self, value) -> "Program":
        self.result_expr = self._expr(value)
        return self

    def to_json(self) -> dict:
        return {"steps": self.steps, "result": self.result_expr}
