"""A trained task's ``[training]`` table: the recipe the harness trains every model with, validated, and a student's
``HYPERPARAMETERS`` applied to it within ``[training.bounds]``.

The recipe is the work (epochs of the chosen optimiser, schedule and early stopping on the same data and seed), so
the same recipe gives the same model on any machine; every key of it goes into the reference's cache key. The
choices' parameters and defaults are those of harness/runtime/recipe.py, which builds them in the worker.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from .errors import SpecError, suggest
from .runtime.recipe import EARLY_STOPPING, OPTIMIZERS, SCHEDULES

#: The harness's training recipe: its plain keys and their defaults.
TRAINING_DEFAULTS = {"lr": 3e-3, "epochs": 5, "batch_size": 64, "clip": 1.0, "reference_margin": 0.02,
                     "optimizer": "adam", "schedule": "none", "validation_fraction": 0.1}
#: [training] keys without a default: cpu_budget_s, the CPU seconds a student's training may use before the safety
#: net stops it (default: harness/checks/trained.py derives it from the reference model's own cost); early_stopping,
#: off unless given.
TRAINING_OPTIONAL = ("cpu_budget_s", "early_stopping")
#: what a student's HYPERPARAMETERS may set, each only when [training.bounds] lists it
STUDENT_SETTABLE = ("lr", "epochs", "batch_size", "optimizer", "momentum", "weight_decay", "patience")
#: the settable keys that are a parameter of the optimiser, and the one of early stopping
OPTIMIZER_SETTABLE, STOPPING_SETTABLE = ("momentum", "weight_decay"), ("patience",)


@dataclass(frozen=True)
class Rule:
    """What a number (or flag) of the recipe must be, in words for errors and the guide."""

    what: str                 # "a number > 0"
    whole: bool = False
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    flag: bool = False
    refusal: str = ""         # what an out-of-range value is told, when shorter than "must be <what>"

    def problem(self, value) -> str | None:
        """Why ``value`` breaks the rule, or None."""
        if self.flag:
            return None if isinstance(value, bool) else f"must be true or false, got {value!r}"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number, got {value!r}"
        if not math.isfinite(value):
            return f"must be {self.what}, got {value!r}"
        if self.whole and int(value) != value:
            return f"must be a whole number, got {value!r}"
        below = value <= self.low if self.low_open else value < self.low
        above = value >= self.high if self.high_open else value > self.high
        return f"{self.refusal or 'must be ' + self.what}, got {value!r}" if below or above else None


POSITIVE = Rule("a number > 0", low=0, low_open=True, refusal="must be positive")
WHOLE_POSITIVE = Rule("a whole number > 0", True, 0, low_open=True, refusal="must be positive")
NON_NEGATIVE, FRACTION = Rule("a number ≥ 0", low=0), Rule("a number in [0, 1)", low=0, high=1, high_open=True)
#: the plain keys of [training]
PLAIN = {"lr": POSITIVE, "epochs": WHOLE_POSITIVE, "batch_size": WHOLE_POSITIVE,
         "clip": Rule("a number > 0 (the gradients' norm is clipped to it)", low=0, low_open=True,
                      refusal="must be positive"),
         "reference_margin": Rule("a number ≥ 0 (0.02: the reference must do 2% better than each floor)", low=0,
                                  refusal="must be 0 or more"),
         "cpu_budget_s": Rule("a number > 0; default: 20 × the reference model's CPU seconds, at least 60",
                              low=0, low_open=True, refusal="must be positive"),
         "validation_fraction": Rule("a number in (0, 0.5]: the share of the training rows early stopping and the "
                                     "plateau schedule hold out", low=0, high=0.5, low_open=True)}
#: the parameters of the optimisers, the schedules and early stopping
PARAMETERS = {"betas": Rule("[b1, b2], each in [0, 1)"),
              "eps": Rule("a number in (0, 1]", low=0, high=1, low_open=True),
              "weight_decay": Rule("a number in [0, 1]", low=0, high=1),
              "alpha": FRACTION, "momentum": FRACTION, "nesterov": Rule("true or false", flag=True),
              "step_size": WHOLE_POSITIVE, "gamma": Rule("a number in (0, 1]", low=0, high=1, low_open=True),
              "eta_min": NON_NEGATIVE,
              "factor": Rule("a number in (0, 1)", low=0, high=1, low_open=True, high_open=True),
              "patience": Rule("a whole number ≥ 0", True, 0), "min_lr": NON_NEGATIVE, "min_delta": NON_NEGATIVE}
#: the settable keys whose rule asks for a whole number: a student's value of one is rounded to it
WHOLE = tuple(k for k in STUDENT_SETTABLE if getattr({**PLAIN, **PARAMETERS}.get(k), "whole", False))
EXAMPLES = {"optimizer": 'optimizer = { kind = "sgd", momentum = 0.9 }',
            "schedule": 'schedule = { kind = "step", step_size = 2, gamma = 0.5 }',
            "early_stopping": "early_stopping = { patience = 3, min_delta = 0.0 }"}


def read_training(path: Path, table) -> dict:
    """The [training] table: the recipe (defaults filled in) and [training.bounds] on HYPERPARAMETERS."""
    if not isinstance(table, dict):
        raise SpecError(path, "[training]", "must be a table", "e.g. [training] epochs = 5")
    table = dict(table)
    bounds = table.pop("bounds", {})
    recipe = {k: v for k, v in TRAINING_DEFAULTS.items() if k not in ("optimizer", "schedule")}
    for key, value in table.items():
        if key == "time_budget_s":
            raise SpecError(path, "[training].time_budget_s", "training is no longer bounded by the wall clock, but "
                            "by its epochs (the same work on a busy machine as on an idle one)",
                            "remove the key; to cap a slow model, set cpu_budget_s (CPU seconds of the student's "
                            "training; by default 20 times what the reference model needs)")
        if key not in TRAINING_DEFAULTS and key not in TRAINING_OPTIONAL:
            raise SpecError(path, f"[training].{key}", "unknown key", _allowed(key, [*TRAINING_DEFAULTS,
                                                                                   *TRAINING_OPTIONAL]))
        if key in PLAIN:
            _check(path, f"[training].{key}", PLAIN[key], value)
            recipe[key] = value
    recipe["optimizer"] = _choice(path, "optimizer", table.get("optimizer", "adam"), OPTIMIZERS)
    recipe["schedule"] = _choice(path, "schedule", table.get("schedule", "none"), SCHEDULES)
    recipe["early_stopping"] = _early_stopping(path, table["early_stopping"]) if "early_stopping" in table else None
    recipe["bounds"] = _bounds(path, bounds)
    return recipe


def _allowed(key: str, options) -> str:
    hint = suggest(key, options)
    return hint if hint.startswith("allowed") else f"{hint} (allowed: {', '.join(sorted(options))})"


def _check(path: Path, where: str, rule: Rule, value) -> None:
    problem = rule.problem(value)
    if problem:
        raise SpecError(path, where, problem)


def _parameter(path: Path, where: str, key: str, value):
    """One parameter of an optimiser, schedule or early stopping, checked against its rule."""
    if key == "betas":
        if (not isinstance(value, list) or len(value) != 2 or
                any(FRACTION.problem(v) for v in value)):
            raise SpecError(path, where, f"must be [b1, b2], each in [0, 1), got {value!r}",
                            "e.g. betas = [0.9, 0.999]")
        return [float(v) for v in value]
    _check(path, where, PARAMETERS[key], value)
    return value


def _choice(path: Path, name: str, value, kinds: dict) -> dict:
    """``optimizer`` or ``schedule``: a kind's name, or a table of its kind and parameters; the kind's defaults
    filled in."""
    where = f"[training].{name}"
    table = {"kind": value} if isinstance(value, str) else value
    if not isinstance(table, dict) or not isinstance(table.get("kind"), str):
        raise SpecError(path, where, f"must be one of {', '.join(kinds)}, or a table with its kind and parameters, "
                        f"got {value!r}", f"e.g. {EXAMPLES[name]}")
    kind = table["kind"]
    if kind not in kinds:
        raise SpecError(path, f"{where}.kind", f"unknown {name} {kind!r}", _allowed(kind, kinds))
    chosen = {"kind": kind, **kinds[kind]}
    for key, v in table.items():
        if key == "kind":
            continue
        if key not in kinds[kind]:
            takes = ", ".join(kinds[kind]) or "no parameters"
            raise SpecError(path, f"{where}.{key}", f"{kind} does not take {key!r}", f"{kind} takes {takes}"
                            + _others(key, kinds))
        chosen[key] = _parameter(path, f"{where}.{key}", key, v)
    if name == "optimizer" and chosen.get("nesterov") and not chosen.get("momentum"):
        raise SpecError(path, f"{where}.nesterov", "Nesterov momentum needs a momentum > 0",
                        'e.g. optimizer = { kind = "sgd", momentum = 0.9, nesterov = true }')
    return chosen


def _others(key: str, kinds: dict) -> str:
    having = [k for k, params in kinds.items() if key in params]
    return f"; {key} is a parameter of {', '.join(having)}" if having else ""


def _early_stopping(path: Path, table) -> dict:
    where = "[training].early_stopping"
    if not isinstance(table, dict) or "patience" not in table:
        raise SpecError(path, where, f"must be a table with patience (and min_delta), got {table!r}",
                        f"e.g. {EXAMPLES['early_stopping']}")
    chosen = dict(EARLY_STOPPING)
    for key, value in table.items():
        if key not in ("patience", *EARLY_STOPPING):
            raise SpecError(path, f"{where}.{key}", "unknown key", _allowed(key, ["patience", *EARLY_STOPPING]))
        chosen[key] = _parameter(path, f"{where}.{key}", key, value)
    return chosen


def _bounds(path: Path, bounds) -> dict:
    if not isinstance(bounds, dict):
        raise SpecError(path, "[training.bounds]", "must be a table", "e.g. [training.bounds] epochs = [1, 20]")
    checked = {}
    for key, pair in bounds.items():
        where = f"[training.bounds].{key}"
        if key not in STUDENT_SETTABLE:
            raise SpecError(path, where, "cannot be set by a student", f"bounds are for {', '.join(STUDENT_SETTABLE)}")
        if key == "optimizer":
            if (not isinstance(pair, list) or not pair or not all(isinstance(k, str) for k in pair)):
                raise SpecError(path, where, f"must be a list of the optimisers a student may choose, got {pair!r}",
                                'e.g. optimizer = ["adam", "rmsprop", "sgd"]')
            for kind in pair:
                if kind not in OPTIMIZERS:
                    raise SpecError(path, where, f"unknown optimizer {kind!r}", _allowed(kind, OPTIMIZERS))
        elif (not isinstance(pair, list) or len(pair) != 2 or
              not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in pair)
              or pair[0] > pair[1]):
            raise SpecError(path, where, f"must be [low, high], got {pair!r}", f"e.g. {key} = [1, 20]")
        else:
            rule = PLAIN.get(key) or PARAMETERS[key]
            for v in pair:
                _check(path, where, rule, v)
        checked[key] = pair
    return checked


# --------------------------------------------------------------------------- a student's HYPERPARAMETERS


def current(training: dict, key: str):
    """The task's own value of a key a student may set (the optimiser's kind for ``optimizer``; None for a
    parameter the task's optimiser does not take, or patience when early stopping is off)."""
    if key == "optimizer":
        return training["optimizer"]["kind"]
    if key in OPTIMIZER_SETTABLE:
        return training["optimizer"].get(key)
    if key in STOPPING_SETTABLE:
        return (training.get("early_stopping") or {}).get(key)
    return training[key]


def bound_text(key: str, bound) -> str:
    """A bound in words: "lr in [0.001, 0.01]", "optimizer one of adam, rmsprop"."""
    if key == "optimizer":
        return f"optimizer one of {', '.join(bound)}"
    return f"{key} in [{bound[0]:g}, {bound[1]:g}]"


def read_hyperparameters(value, training: dict) -> tuple[dict, list[str]]:
    """The usable HYPERPARAMETERS (numbers clamped to their bounds) and the problems with the rest."""
    from .checks.compare import describe  # the worker's values in words; torch is not needed to load a spec

    def said(v) -> str:
        return repr(v) if isinstance(v, (str, int, float)) and len(repr(v)) <= 40 else describe(v)

    if value is None:
        return {}, []
    bounds = training["bounds"]
    if not isinstance(value, dict):
        return {}, [f"HYPERPARAMETERS must be a dict like {{'lr': 0.003, 'epochs': 5}}, got {describe(value)}"]
    usable, problems = {}, []
    kind = value.get("optimizer") if value.get("optimizer") in bounds.get("optimizer", ()) else \
        training["optimizer"]["kind"]
    for key, v in value.items():
        if key not in bounds:
            problems.append(f"HYPERPARAMETERS[{key!r}] is not one the spec lets you set "
                            f"({', '.join(bounds) or 'none'}); it is ignored")
        elif key == "optimizer":
            if v in bounds[key]:
                usable[key] = v
            else:
                problems.append(f"HYPERPARAMETERS['optimizer'] = {said(v)} is not one this task allows "
                                f"({', '.join(bounds[key])}); the harness used {training['optimizer']['kind']}")
        elif not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
            problems.append(f"HYPERPARAMETERS[{key!r}] must be a number, got {said(v)}; it is ignored")
        elif key in OPTIMIZER_SETTABLE and key not in OPTIMIZERS[kind]:
            problems.append(f"HYPERPARAMETERS[{key!r}]: {kind} takes no {key}"
                            f"{_others(key, OPTIMIZERS)}; it is ignored")
        else:
            low, high = bounds[key]
            used = min(max(v, low), high)
            if key in WHOLE:
                used = int(round(used))
            if not low <= v <= high:
                problems.append(f"HYPERPARAMETERS[{key!r}] = {v:g} is outside [{low:g}, {high:g}]; "
                                f"the harness used {used:g}")
            elif used != v:
                problems.append(f"HYPERPARAMETERS[{key!r}] = {v:g} must be a whole number; the harness used {used:g}")
            usable[key] = used
    return usable, problems


def recipe_for(training: dict, hyper: dict) -> dict:
    """The spec's recipe (the work: not the bounds, nor the students' CPU budget) with the student's usable
    HYPERPARAMETERS (as :func:`read_hyperparameters` gives them) applied. Choosing another optimiser starts from
    that optimiser's defaults."""
    recipe = {k: v for k, v in training.items() if k not in ("bounds", "cpu_budget_s")}
    optimizer = dict(recipe["optimizer"])
    if hyper.get("optimizer", optimizer["kind"]) != optimizer["kind"]:
        optimizer = {"kind": hyper["optimizer"], **OPTIMIZERS[hyper["optimizer"]]}
    for key, value in hyper.items():
        if key in OPTIMIZER_SETTABLE:
            if key in optimizer:
                optimizer[key] = value
        elif key in STOPPING_SETTABLE:
            recipe["early_stopping"] = {**(recipe.get("early_stopping") or EARLY_STOPPING), key: value}
        elif key != "optimizer":
            recipe[key] = value
    recipe["optimizer"] = optimizer
    return recipe
