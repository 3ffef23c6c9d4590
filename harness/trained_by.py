"""Who trains a trained task's model: ``[training] by``, read and checked when the spec loads.

``"harness"`` (the default): the harness trains the student's ``build_model`` with the spec's recipe
(harness/checks/trained.py). ``"student"``: the student's own ``fit(train, valid, budget)`` trains, and its checks
need ``fit`` where the family's need ``build_model`` (harness/checks/fitted.py grades it).
"""
from __future__ import annotations

import dataclasses
import json
import math

from .errors import SpecError

BY = ("harness", "student")
#: the [training] keys of a student-trained task: the rest are the harness's recipe, which its fit does not follow
STUDENT_KEYS = ("by", "cpu_budget_s", "reference_margin")


def by_student(spec) -> bool:
    """Whether the student's own ``fit`` trains this task's model."""
    return bool(spec.training) and spec.training.get("by") == "student"


def read_by(path, table) -> tuple[dict, str]:
    """``[training] by`` and the rest of the table for the recipe's own validation. A student-trained task may set
    only ``STUDENT_KEYS``: a recipe its students do not follow would be a rule nobody is graded by."""
    if not isinstance(table, dict) or "by" not in table:
        return table, "harness"
    table = dict(table)
    by = table.pop("by")
    if by not in BY:
        raise SpecError(path, "[training].by", f"must be one of {', '.join(map(repr, BY))}, got {by!r}",
                        '"harness" trains build_model with the recipe; "student" calls the student\'s fit')
    if by == "student":
        for key in table:
            if key not in STUDENT_KEYS:
                raise SpecError(path, f"[training].{key}", "is the harness's recipe, and a student-trained task's fit "
                                "chooses its own training", f"remove it; a student-trained task takes "
                                f"{', '.join(STUDENT_KEYS)}")
        budget = table.get("cpu_budget_s")
        if isinstance(budget, float) and not math.isfinite(budget):
            raise SpecError(path, "[training].cpu_budget_s", f"must be a finite number of CPU seconds, got {budget}",
                            "e.g. cpu_budget_s = 60, or leave it out for 20 times what the answer key's fit uses")
    return table, by


def within_limits(path, training: dict, cpu_s: float) -> None:
    """A student-trained task's budget must end fit before the worker's hard CPU limit does: otherwise no kept
    predictor could ever be graded."""
    budget = training.get("cpu_budget_s")
    if budget is not None and budget >= cpu_s:
        raise SpecError(path, "[training].cpu_budget_s", f"is {budget:g} CPU seconds, and the worker's hard limit "
                        f"([limits] cpu_s) is {cpu_s:g}: the limit would end the worker before the budget stops fit",
                        f"lower cpu_budget_s, or raise [limits] cpu_s above it (e.g. cpu_s = {int(budget * 2 + 60)})")


#: the prefix of the checks only a student-trained task has (``fitted.fit``: its ``<task>.fit``)
CHECKS_PREFIX = "fitted"
#: the checks of build_model alone: a student-trained task has fitted.fit instead
BUILD_MODEL_CHECKS = ("trained.interface", "trained.training")
#: the families whose student-trained tasks are graded (their data has a validation split for fit, and tests)
FAMILIES = ("classification", "language_model")


def student_definitions(path, checks: list, definitions: dict, family: str, figures: dict) -> dict:
    """A student-trained task's check definitions: each needs ``fit`` where a harness-trained one needs
    ``build_model``. The checks of build_model alone (interface, training) are refused, naming ``fit``'s, and so is
    the figure of the harness's training loss (``figures``: figure id -> its FigureDef)."""
    if family not in FAMILIES:
        raise SpecError(path, "[training].by", f'"student" is not available for the {family} family yet (only '
                        f"{', '.join(FAMILIES)})", 'remove it: the harness trains build_model with the recipe')
    for check in checks:
        if check.definition in BUILD_MODEL_CHECKS:
            raise SpecError(path, f'[checks."{check.id}"]', "tests build_model, which a student-trained task "
                            "does not have", f'use [checks."{check.id.rpartition(".")[0]}.fit"]: fit returns a '
                            "predictor within its budget")
    for figure, definition in figures.items():
        if definition.id in BUILD_MODEL_CHECKS:
            raise SpecError(path, "figures", f"{figure!r} draws the loss of the harness's training, which a "
                            "student-trained task does not have", f"remove {figure!r}")
    return {k: dataclasses.replace(d, needs=tuple("fit" if n == "build_model" else n for n in d.needs))
            for k, d in definitions.items()}


def fit_words(spec) -> str:
    """What a student-trained task's students are told of fit, its data and its budget (CONTRACT.md)."""
    budget = spec.training.get("cpu_budget_s")
    amount = f"{budget:g} CPU seconds" if budget else "a CPU budget (20 times what the course's own fit uses, at least 60 s)"
    return ("The harness owns the data and the metrics; you write and train the model in `fit(train, valid, budget)`. "
            "It calls fit with the training and validation splits (dicts of torch tensors) and a budget, then scores "
            "the predictor fit returns on a test split that is not in this folder; Python's, numpy's and torch's "
            f"generators are seeded first. fit may use {amount}: `budget.remaining()` says how many are left, and "
            "`budget.keep(model)` keeps a copy of your best predictor so far. When the budget is spent, fit is "
            "stopped and the predictor you last kept is scored (none kept: nothing is).")


def _hidden_split(spec) -> str:
    """What decides a trained task's hidden test rows: its data (preprocessing aside) and its hidden seed."""
    data = {k: v for k, v in spec.dataset.items() if k != "preprocessing"}
    return json.dumps([data, spec.hidden_seed], sort_keys=True, default=str)


def refuse_shared_hidden(specs: list) -> None:
    """A student-trained task's hidden split may not be another task's: one worker runs a submission's every task,
    and code graded in the other task is handed those rows' inputs, which it could leave where the student-trained
    task's fit, run later in the same worker, reads them (for a language model, the inputs are the targets)."""
    # only a task whose checks score its hidden split is handed those inputs: a release (no hidden.toml) has none
    trained = [s for s in specs if s.dataset is not None and any(c.graded_later for c in s.checks)]
    for spec in trained:
        if not by_student(spec):
            continue
        for other in trained:
            if other is not spec and _hidden_split(other) == _hidden_split(spec):
                raise SpecError(spec.path, "hidden.toml seed", f"the hidden split of {spec.name} is also "
                                f"{other.name}'s: {other.name}'s code would see its inputs before {spec.name}'s fit "
                                "runs, in the same worker", "give the student-trained task a hidden split of its own: "
                                "another seed in its hidden.toml (a synthetic dataset), or another data file")
