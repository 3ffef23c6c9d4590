"""Student-trained tasks, the worker's side: the student's ``fit`` under a CPU budget, and its predictor kept.

A task with ``[training] by = "student"`` hands the student's ``fit(train, valid, budget)`` the public splits and
lets it train as it likes. Two programs keep the hidden split away from ``fit``: the first (op ``fit``) calls
``fit`` and keeps what it returns here, under a name the judge gives; the second (op ``kept``) runs that
predictor on the test inputs, sent only then. What ``fit`` may do is bounded by ``budget``:

- ``budget.cpu_seconds``: the CPU seconds of this process (all its threads) ``fit`` may use;
- ``budget.remaining()``: how many are left, so a loop can stop itself;
- ``budget.keep(predictor)``: a snapshot (a deep copy) of the best predictor so far.

When the budget is spent, a CPU timer (``ITIMER_PROF``) raises :class:`BudgetSpent` in ``fit``, derived from
BaseException so that ``except Exception`` does not swallow it, and again each CPU second after; the last
snapshot is graded, else nothing. A ``fit`` that silences the timer meets the worker's hard limits instead,
which end the worker. The reference's ``fit`` runs in the judge without a budget.

A harness-trained model is kept the same way (ops ``keep`` and ``kept_model``), so that its test inputs too reach
the worker only after it has trained.

Part of the worker's runtime: imports nothing from the harness.
"""
from __future__ import annotations

import copy
import math
import signal
import threading
import time
import types

import numpy as np
import torch

from .contract import ContractError

#: predictors kept by ``fit`` in this process, by the name the judge gave: read by the op ``kept``
KEPT: dict[str, dict] = {}
#: how often the timer fires again once the budget is spent (CPU seconds): a ``fit`` that catches it once meets it again
AGAIN_S = 1.0


class BudgetSpent(BaseException):
    """Raised in ``fit`` when its CPU budget is spent. Not an Exception: ``except Exception`` lets it through."""


def _describe(value) -> str:
    if isinstance(value, (torch.Tensor, np.ndarray)):
        dtype = str(value.dtype).removeprefix("torch.")
        return f"a {type(value).__module__.split('.')[0]} array of shape {tuple(value.shape)} and dtype {dtype}"
    return "None" if value is None else f"a {type(value).__name__}"


def snapshot(predictor):
    """A copy of ``predictor`` that later training cannot change: a deep copy; for a plain function, the function
    with deep copies of its defaults and of what it closes over (a deep copy of a function is itself)."""
    if isinstance(predictor, types.FunctionType):
        closure = tuple(types.CellType(copy.deepcopy(c.cell_contents)) for c in predictor.__closure__ or ())
        fn = types.FunctionType(predictor.__code__, predictor.__globals__, predictor.__name__,
                                copy.deepcopy(predictor.__defaults__), closure or None)
        fn.__kwdefaults__ = copy.deepcopy(predictor.__kwdefaults__)
        return fn
    return copy.deepcopy(predictor)


class Budget:
    """What ``fit`` is given as ``budget``. Without ``cpu_seconds`` (the reference's fit, in the judge) nothing
    stops it, and ``keep`` still snapshots."""

    def __init__(self, cpu_seconds: float | None):
        self.cpu_seconds = None if cpu_seconds is None else float(cpu_seconds)
        self._start = time.process_time()
        self._kept = None
        self.kept_at: float | None = None  # CPU seconds into fit of the last keep
        self.keeps = 0
        self.spent = False     # the timer fired: what fit returns from now on is not graded
        self._armed = False

    def used(self) -> float:
        """CPU seconds this process has used since fit started."""
        return time.process_time() - self._start

    def remaining(self) -> float:
        """CPU seconds left (``math.inf`` without a budget)."""
        return math.inf if self.cpu_seconds is None else max(0.0, self.cpu_seconds - self.used())

    def keep(self, predictor) -> None:
        """Snapshot ``predictor``: it is what is graded if the budget ends fit. Keep the model itself (or a callable
        object or function that holds it); each call replaces the previous snapshot."""
        if not callable(predictor):
            raise TypeError(f"budget.keep needs the predictor (a callable: a model or a function), got "
                            f"{_describe(predictor)}")
        blocked = self._block()
        try:
            try:
                copied = snapshot(predictor)
            except Exception as exc:  # noqa: BLE001 - said to the student, in their fit
                raise TypeError(f"budget.keep could not copy your predictor ({type(exc).__name__}: {exc}); keep the "
                                "model itself, e.g. budget.keep(model)") from None
            self._kept, self.kept_at, self.keeps = copied, self.used(), self.keeps + 1
        finally:
            if blocked:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGPROF})

    @property
    def kept(self):
        return self._kept

    def __repr__(self) -> str:
        return f"Budget(cpu_seconds={self.cpu_seconds}, remaining={self.remaining():.1f})"

    # the timer ---------------------------------------------------------------------------------------------------
    def _block(self) -> bool:
        """Hold the timer's signal while a snapshot is taken (a half-copied model is never kept)."""
        if not self._armed or not hasattr(signal, "pthread_sigmask"):
            return False
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGPROF})
        return True

    def _fired(self, signum, frame):
        if self._armed:
            self.spent = True
            raise BudgetSpent(f"fit used its budget of {self.cpu_seconds:g} CPU seconds")

    def arm(self):
        """Start the CPU timer (main thread of a process that has ITIMER_PROF only; elsewhere nothing stops fit
        but the worker's hard limits)."""
        if self.cpu_seconds is None or not hasattr(signal, "setitimer"):
            return None
        if threading.current_thread() is not threading.main_thread():
            return None
        previous = signal.signal(signal.SIGPROF, self._fired)
        self._armed = True
        signal.setitimer(signal.ITIMER_PROF, max(self.cpu_seconds, 1e-3), AGAIN_S)
        return previous

    def disarm(self, previous) -> None:
        if not self._armed:
            return
        self._armed = False  # first: a signal already on its way now does nothing
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        signal.signal(signal.SIGPROF, previous if previous is not None else signal.SIG_DFL)


def fit(fit_fn, train: dict, valid: dict, name: str, cpu_seconds: float | None = None) -> dict:
    """Call ``fit_fn(train, valid, budget)`` and keep its predictor under ``name``: the one it returned, or when
    the budget ended it, the last one it kept. Returns what happened, for the judge: why fit ended, CPU seconds,
    whether a predictor was kept. Raises ContractError when fit returns no predictor."""
    if not callable(fit_fn):
        raise ContractError(f"fit must be a function fit(train, valid, budget), got {_describe(fit_fn)}")
    KEPT.pop(name, None)
    budget = Budget(cpu_seconds)
    start = time.perf_counter()
    previous = budget.arm()
    returned, stopped = None, "completed"
    try:
        returned = fit_fn(train, valid, budget)
    except BudgetSpent:
        stopped = "cpu budget"
    finally:
        while True:  # the timer may fire once more between fit's return and its disarming: that too is the budget
            try:
                budget.disarm(previous)
                break
            except BudgetSpent:
                pass
    if budget.spent:
        stopped = "cpu budget"  # fit caught the timer and went on: what it returned after is not graded
    record = {"stopped": stopped, "cpu_seconds": budget.used(), "seconds": time.perf_counter() - start,
              "cpu_budget_s": cpu_seconds, "keeps": budget.keeps, "kept_at": budget.kept_at}
    if stopped == "cpu budget":
        record["graded"] = "kept" if budget.kept is not None else "nothing"
        if budget.kept is not None:
            KEPT[name] = {"predictor": budget.kept}
        return record
    if not callable(returned):
        raise ContractError(f"fit returned {_describe(returned)}; it must return the trained predictor: a callable "
                            "such as the model itself")
    KEPT[name] = {"predictor": returned}
    record["graded"] = "returned"
    return record


class Predictor:
    """A kept predictor as the harness's ops call a model: ``eval()``, then ``predictor(*inputs)`` returning one
    float tensor of the shape the contract gives (``template``: each entry a number, or ``"i.d"`` for dimension d
    of input i), checked before anything is copied so that a wrong or huge output is refused with its shape."""

    def __init__(self, predictor, template: list, output: str):
        self._predictor, self._template, self._output = predictor, list(template), output

    def eval(self):
        if isinstance(self._predictor, torch.nn.Module):
            self._predictor.eval()
        return self

    @property
    def attention(self):  # a translation model's weights, for its figure
        return getattr(self._predictor, "attention", None)

    def _want(self, inputs) -> tuple:
        dims = []
        for entry in self._template:
            if isinstance(entry, str):
                i, d = (int(k) for k in entry.split("."))
                dims.append(int(inputs[i].shape[d]))
            else:
                dims.append(int(entry))
        return tuple(dims)

    def __call__(self, *inputs):
        out = self._predictor(*inputs)
        want = self._want(inputs)
        fed = " and ".join(f"({', '.join(map(str, t.shape))})" for t in inputs)
        if not isinstance(out, (torch.Tensor, np.ndarray)):
            raise ContractError(f"your predictor returned {_describe(out)} for inputs {fed}; it must return "
                                f"{self._output}, a torch tensor or a numpy array of shape {want}")
        if tuple(out.shape) != want:
            raise ContractError(f"your predictor returned shape {tuple(out.shape)} for inputs {fed}; expected {want}: "
                                f"{self._output}")
        if isinstance(out, np.ndarray):
            if out.dtype.kind != "f":
                raise ContractError(f"your predictor returned a numpy array of dtype {out.dtype}; it must return "
                                    f"floats: {self._output}")
            out = torch.from_numpy(np.ascontiguousarray(out))
        elif not out.is_floating_point():
            raise ContractError(f"your predictor returned {str(out.dtype).removeprefix('torch.')} values; it must "
                                f"return floats: {self._output}")
        return out.detach().float()


def kept(name: str, template: list, output: str) -> Predictor:
    """The predictor ``fit`` kept under ``name``, as a model the harness's ops call."""
    entry = KEPT.get(name)
    if entry is None:
        raise ContractError("no predictor to run: fit kept none, or the worker that ran fit has ended since "
                            "(see the task's fit check)")
    return Predictor(entry["predictor"], template, output)


def keep(name: str, model) -> None:
    """Keep a model the harness trained (build_model's) under ``name``, for ``kept_model``."""
    KEPT[name] = {"predictor": model}


def kept_model(name: str):
    """The model kept under ``name``, as it is: the harness's ops call it as they call any model."""
    entry = KEPT.get(name)
    if entry is None:
        raise ContractError("no trained model to run: the worker that trained it has ended since")
    return entry["predictor"]


OPS = {"fit": fit, "kept": kept, "keep": keep, "kept_model": kept_model}
