"""harness/runtime/fitting.py in one process: the budget, what budget.keep snapshots, and the kept predictor as the
harness's ops call a model. (tests/test_student_trained.py grades whole submissions through the worker.)"""
from __future__ import annotations

import signal

import numpy as np
import pytest
import torch

from harness.runtime import fitting
from harness.runtime.contract import ContractError


def test_a_closure_is_kept_as_it_was_when_kept():
    weights = {"w": torch.ones(2)}
    budget = fitting.Budget(None)
    budget.keep(lambda x: x * weights["w"])
    weights["w"] += 5  # training goes on after the keep
    assert torch.equal(budget.kept(torch.ones(2)), torch.ones(2))
    assert budget.keeps == 1


def test_a_module_is_kept_as_a_copy():
    model = torch.nn.Linear(2, 2)
    budget = fitting.Budget(None)
    budget.keep(model)
    with torch.no_grad():
        model.weight.add_(1.0)
    assert not torch.equal(budget.kept.weight, model.weight)


def test_keep_refuses_what_it_cannot_run_or_copy():
    budget = fitting.Budget(None)
    with pytest.raises(TypeError, match=r"budget.keep needs the predictor \(a callable: a model or a function\), got a "
                                        "torch array of shape \\(2,\\)"):
        budget.keep(torch.ones(2))
    gen = (i for i in range(3))
    with pytest.raises(TypeError, match="budget.keep could not copy your predictor .*keep the model itself"):
        budget.keep(lambda x: next(gen))


def test_the_budget_stops_a_fit_that_catches_exceptions_and_grades_what_it_kept():
    before = signal.getsignal(signal.SIGPROF)

    def fit(train, valid, budget):
        model = torch.nn.Linear(2, 2)
        budget.keep(model)
        while True:
            try:
                sum(i * i for i in range(10_000))
            except Exception:  # noqa: BLE001 - what a student writes; the budget's stop is not an Exception
                pass

    record = fitting.fit(fit, {}, {}, "t", 0.3)
    assert record["stopped"] == "cpu budget" and record["graded"] == "kept" and record["keeps"] == 1
    assert record["cpu_seconds"] >= 0.3 * 0.8  # the kernel's CPU timer counts in ticks: about the budget
    assert isinstance(fitting.kept("t", ["0.0", 2], "logits")._predictor, torch.nn.Linear)
    assert signal.getsignal(signal.SIGPROF) == before  # the timer is put back as it was
    assert signal.getitimer(signal.ITIMER_PROF) == (0.0, 0.0)


def test_a_fit_that_keeps_nothing_leaves_nothing_to_run():
    def fit(train, valid, budget):
        while budget.remaining() >= 0:  # remaining() never goes below 0: only the budget ends this loop
            pass

    record = fitting.fit(fit, {}, {}, "nothing", 0.2)
    assert record["graded"] == "nothing"
    with pytest.raises(ContractError, match="no predictor to run: fit kept none, or the worker that ran fit has ended"):
        fitting.kept("nothing", ["0.0", 2], "logits")


def test_what_fit_returns_after_catching_the_budget_is_not_graded():
    def fit(train, valid, budget):
        try:
            while True:
                pass
        except BaseException:
            return lambda x: x  # returned after the budget was spent: ignored

    record = fitting.fit(fit, {}, {}, "late", 0.2)
    assert record["stopped"] == "cpu budget" and record["graded"] == "nothing"


def test_the_reference_has_no_budget():
    record = fitting.fit(lambda train, valid, budget: (lambda x: x) if budget.remaining() == float("inf") else None,
                         {}, {}, "ref", None)
    assert record["stopped"] == "completed" and record["graded"] == "returned"


def test_the_predictor_returns_float_tensors_of_the_template_shape():
    predictor = fitting.Predictor(lambda ids: np.zeros((len(ids), ids.shape[1], 5)), ["0.0", "0.1", 5], "logits")
    out = predictor(torch.zeros(3, 4, dtype=torch.long))
    assert out.dtype == torch.float32 and out.shape == (3, 4, 5)
    with pytest.raises(ContractError, match=r"returned shape \(3, 4, 5\) for inputs \(3, 7\); expected \(3, 7, 5\)"):
        fitting.Predictor(lambda ids: np.zeros((3, 4, 5)), ["0.0", "0.1", 5], "logits")(torch.zeros(3, 7))
