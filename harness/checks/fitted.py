"""Student-trained tasks, the judge's side: ``[training] by = "student"``.

The student's ``fit(train, valid, budget)`` trains in the worker on the family's public splits and returns a
predictor (harness/runtime/fitting.py); the judge then sends the test inputs of each view to that predictor and
computes every figure itself, with the family's own ``evaluate``, checks and figures. The reference is the answer
key's own ``fit``, run in the judge the same way (never stopped; cached only when it returned and is sane, as a
harness-trained reference). Two programs, so that no hidden input reaches the worker before ``fit`` has returned:

1. ``fit``: seeds the global generators, calls ``fit`` with the public splits and a budget, keeps the predictor;
2. ``kept``: the kept predictor, called as the harness calls a model, on the test inputs of each view, with the
   family's extra outputs (the language model's causality probe and samples).
"""
from __future__ import annotations

import dataclasses
import math

from ..runtime.fitting import KEPT
from ..sandbox.launcher import WorkerDied
from ..sandbox.program import Program
from . import Context, ContractBroken, StudentError, Verdict, register
from .compare import describe
from .trained import STUDENT_TRAINED, baselines, family_of, once, outputs, student_run, view_outputs

# --------------------------------------------------------------------------- the data fit is given


def fit_splits(fam, data) -> tuple[dict, dict]:
    """``(train, valid)`` as fit receives them: the family's training tensors (x, y, …) of the training split and of
    the public validation split, and in ``train`` the sizes build_model would be given (vocab_size, …)."""
    sizes = dict(zip(fam.params, fam.build_args(data)))
    return {**fam.training_data(data), **sizes}, fam.training_data(dataclasses.replace(data, train=data.valid))


class _Dims:
    """A stand-in input whose dimensions are named ``"i.d"``: the family's expected_shape then gives the output's
    shape as a template the worker fills in for each batch."""

    def __init__(self, index: int, ndim: int):
        self.shape = tuple(f"{index}.{d}" for d in range(ndim))


def output_template(fam, data) -> list:
    inputs = fam.probe_inputs(data)
    return list(fam.expected_shape(data, [_Dims(i, t.dim()) for i, t in enumerate(inputs)]))


# --------------------------------------------------------------------------- the two programs


def fit_program(fam, module: str, data, seed: int, name: str, cpu_seconds: float | None) -> Program:
    p = Program()
    p.op("seed_globals", seed)
    train, valid = fit_splits(fam, data)
    p.result(p.op("fit", p.lookup(f"{module}.fit"), train, valid, name, cpu_seconds))
    return p


def predict_program(fam, data, name: str, views: dict, seed: int) -> Program:
    """The kept predictor on the test inputs of each view (view name -> dataset), and the family's extra outputs."""
    p = Program()
    return p.result(outputs(p, fam, p.op("kept", name, output_template(fam, data), fam.output), data, seed, views))


def kept_name(spec) -> str:
    return f"{spec.name}:{spec.digest}"


def reference_outputs(ctx: Context, fam, module: str, data, views: dict) -> dict:
    """The answer key's fit and predictor, run in the judge: the outputs ``run_program`` gives for a harness-trained
    reference (``training``: what fit did; ``views``)."""
    spec = ctx.task
    namespace = {module: ctx.answers.namespace[module]}
    name = f"reference:{kept_name(spec)}"
    record = ctx.reference(fit_program(fam, module, data, spec.seed, name, None), namespace)
    try:
        out = ctx.reference(predict_program(fam, data, name, views, spec.seed), namespace)
    finally:
        KEPT.pop(name, None)  # the judge's own copy of the op's store: the answer key's model is not needed again
    return {**out, "training": {**record, "epochs_done": None}}


def fitted_run(ctx: Context, budget: float, recipe: dict) -> dict:
    """The student's fit (once per task and submission) and its predictor on the check's view (once per view)."""
    spec, fam = ctx.task, family_of(ctx.task)

    def fitted():
        data = spec.data_for("public")  # fit sees the training and validation splits, the same in every view
        # the wall clock is the last resort only: the CPU budget stops fit, the worker's hard limits a fit that
        # silences it
        try:
            return fit_record(ctx.student(fit_program(fam, spec.module, data, spec.seed, kept_name(spec), budget),
                                          timeout=budget * 4 + 120))
        except WorkerDied as died:
            raise WorkerDied(died.reason, f"{died.detail}. fit had a budget of {budget:g} CPU seconds: when it is "
                             "spent, fit is stopped (BudgetSpent) and the predictor it kept is graded; a fit that "
                             "catches BudgetSpent or changes the CPU timer (SIGPROF) runs on until the worker's hard "
                             "limits end it, and then nothing is graded", died.output) from None

    def run():
        record = once(ctx, "fit", fitted)
        if record.get("graded") == "nothing":
            raise NothingKept(budget_words(record, budget), record)
        # every view the task's checks score, in one program (the probe and samples are drawn once)
        views = {v: spec.data_for(v) for v in ctx.state.get("views", (ctx.view,))}
        out = {**ctx.student(predict_program(fam, ctx.data, kept_name(spec), views, spec.seed)), "training": record}
        for view in views:
            ctx.state.setdefault(f"run:{view}", ("ok", {"out": view_outputs(out, view), "recipe": recipe,
                                                        "cpu_budget_s": budget}))
        return ctx.state[f"run:{ctx.view}"][1]

    return once(ctx, f"run:{ctx.view}", run)


#: the training split, scored as the test split is: a figure far better there than on the test split is a predictor
#: that learned its training data rather than the task (harness/checks/trained.py's graded_figure says so)
TRAINING_SPLIT = "training split"


def training_figures(ctx: Context) -> dict:
    """The family's figures of the student's predictor on the training split fit was given, asked for only to word a
    hint, in a program of its own after the graded views': {} when the predictor cannot be scored there (rows of
    another length, say, or too slow on the larger split), which then costs nothing but the hint."""
    def figures():
        student_run(ctx)
        spec, fam = ctx.task, family_of(ctx.task)
        seen = dataclasses.replace(ctx.data, test=ctx.data.train)
        try:
            out = ctx.student(predict_program(fam, ctx.data, kept_name(spec), {TRAINING_SPLIT: seen}, spec.seed))
            return fam.evaluate(seen, view_outputs(out, TRAINING_SPLIT))
        except (StudentError, ContractBroken, WorkerDied):
            return {}

    return once(ctx, f"figures:{TRAINING_SPLIT}", figures)


#: what the op fit reports (harness/runtime/fitting.py): each field, and what it must be
RECORD = {"stopped": ("completed", "cpu budget"), "graded": ("returned", "kept", "nothing"), "cpu_seconds": float,
          "seconds": float, "keeps": int, "kept_at": float}


def fit_record(value) -> dict:
    """The worker's report of fit, read as untrusted: each field of RECORD of its type (a number finite), else the
    reply is refused saying which field; ``kept_at`` may be None (nothing kept)."""
    if not isinstance(value, dict):
        raise ContractBroken(f"the worker's report of fit could not be read ({describe(value)})")
    record = {}
    for key, kind in RECORD.items():
        got = value.get(key)
        if isinstance(kind, tuple):
            ok = got in kind
        elif key == "kept_at" and got is None:
            ok = True
        else:
            ok = isinstance(got, (int, float)) and not isinstance(got, bool) and math.isfinite(got) and got >= 0 and (
                kind is float or got == int(got))
        if not ok:
            raise ContractBroken(f"the worker's report of fit could not be read: {key} is {describe(got)}")
        record[key] = got
    return record


class NothingKept(ContractBroken):
    """The budget stopped fit before it kept a predictor: nothing to score."""

    lead = "not scored"
    hint = ("call budget.keep(model) in fit whenever the model improves (e.g. after each epoch, on the validation "
            "split), and stop before budget.remaining() reaches 0")

    def __init__(self, message: str, record: dict):
        super().__init__(message)
        self.record = record


def budget_words(record: dict, budget: float) -> str:
    """What the budget did, in words, for a fit it stopped."""
    kept = record.get("kept_at")
    if record.get("graded") == "kept" and isinstance(kept, (int, float)):
        return (f"fit used its budget of {budget:g} CPU seconds and was stopped; graded the predictor it kept "
                f"at {kept:.1f} CPU seconds (budget.keep, {record.get('keeps')} calls)")
    return f"fit used its budget of {budget:g} CPU seconds and was stopped; it kept no predictor, so nothing is graded"


FIT_KEPT = ("cpu_seconds", "seconds", "keeps", "kept_at", "stopped", "graded")


def check_fit(ctx: Context) -> Verdict:
    fam = family_of(ctx.task)
    try:
        run = student_run(ctx)
    except NothingKept as nothing:
        return Verdict(False, str(nothing), nothing.hint, {k: nothing.record.get(k) for k in FIT_KEPT})
    record, budget = run["out"]["training"], run["cpu_budget_s"]
    numbers = {**{k: record.get(k) for k in FIT_KEPT}, "cpu_budget_s": budget}
    if record.get("stopped") == "cpu budget":
        return Verdict(False, budget_words(record, budget) + ". Its figures are scored, but may differ on a "
                       "faster or slower machine", NothingKept.hint, numbers)
    return Verdict(True, f"fit returned a predictor after {record['cpu_seconds']:.1f} of its {budget:g} CPU "
                   f"seconds; its outputs are {fam.output}", numbers=numbers)


register("fitted.fit", ["fit"], "fit returns a predictor within its CPU budget, called on the test inputs",
         prepare=baselines)(check_fit)


STUDENT_TRAINED.update(run=fitted_run, reference=reference_outputs, training_figures=training_figures)
