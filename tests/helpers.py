"""Shared by the tests: running one check in-process, with the answer key standing in for a submission."""
from __future__ import annotations

import functools
import re
import types

from harness.answers import LiveAnswers
from harness.checks import Context
from harness.sandbox import program as interpreter
from harness.spec import DEFAULT_TOLERANCES, load_tasks

#: A duration in a message ("trained 6 epochs in 0.8 s", a student's fit "returned a predictor after 2.6 of its 10
#: CPU seconds"): how long a run took, not what it did.
DURATION = re.compile(r"\d+(\.\d+)? s\b|after \d+(\.\d+)? of its")


def without_keys(value, keys):
    """A nested value (dicts, lists) with the entries named ``keys`` left out at every depth: timings, say."""
    if isinstance(value, dict):
        return {k: without_keys(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [without_keys(v, keys) for v in value]
    return value


@functools.cache
def shipped_answers() -> LiveAnswers:
    """The shipped tasks' answer keys and catalogues (harness.course), loaded once for the session."""
    return LiveAnswers()


@functools.cache
def shipped_definitions() -> dict:
    """Every check the shipped tasks run, by its registered id: the engine's and the tasks' own (checks.py)."""
    return {name: definition for spec in load_tasks() for name, definition in spec.definitions.items()}


def task_checks(name: str):
    """The module of a shipped task's checks.py (``task_checks("generation").SAMPLING_LOGITS``)."""
    from harness.course import CHECKS, task_python
    from harness.spec import default_tasks_dir

    return task_python(default_tasks_dir() / name, CHECKS)


@functools.cache
def shipped_options() -> dict:
    """The options the shipped task specs give each public check (the tables of the decoding checks, say)."""
    return {c.id: c.options for spec in load_tasks() for c in spec.checks if not c.graded_later}


def run_in_process(check_id: str, options: dict | None = None, **replacements):
    """Run one check with no worker: the submission is the answer key with ``replacements`` swapped in
    (for example ``beam_search=my_variant``), so a check's verdict on a hand-written variant is quick to test.
    The check's options are the shipped spec's, with ``options`` on top."""
    definition = shipped_definitions()[check_id]
    answers = shipped_answers()
    namespace = answers.namespace
    module = types.SimpleNamespace(**vars(namespace[definition.module]))
    for name, value in replacements.items():
        setattr(module, name, value)
    student = {**namespace, definition.module: module}

    def runner(program):
        return types.SimpleNamespace(header={}, value=interpreter.run(program.to_json(), program.inputs, student))

    given = {**definition.defaults(), **shipped_options().get(check_id, {}), **(options or {})}
    ctx = Context(check_id, given, DEFAULT_TOLERANCES, 2024, runner, answers)
    return definition.func(ctx)
