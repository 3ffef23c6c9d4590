"""Trained tasks: the harness trains the student's model and judges it on a split the student does not see.

The student provides ``build_model(...)``; the harness owns data, recipe and metrics. One program per
submission builds the model, trains it in the worker with the spec's recipe (bounded by the student's
``HYPERPARAMETERS``), and returns raw outputs on the test *inputs*: logits, token ids, forecasts.
Labels, targets, references and holdout values never leave this process; every figure is computed
here, and so are the same figures for the reference model (the task's answer key) and the classical
baselines, which are computed once per spec version and cached on disk.

What differs between a classifier, a language model, a translator and a forecaster is a :class:`Family`,
each in a module of its own (classification.py, language_model.py, translation.py, forecasting.py) with its
checks and figures, registered under the family's name (``classification.accuracy``). A task's family is
its dataset's (``[dataset].kind``, harness/data/build.py), never its module's name, so a new trained task
of an existing family is a spec and a dataset: its ``[checks."<task>.accuracy"]`` runs
``classification.accuracy``. This module holds what they share, registered under ``trained``.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

import torch

from .. import __version__, metrics
from ..errors import SpecError
from ..recipe import read_hyperparameters, recipe_for
from ..runtime.recipe import COMPLETE, watches_validation
from ..sandbox.program import Program
from ..trained_by import by_student
from . import Context, ContractBroken, Verdict, register, register_figure
from .compare import describe


# --------------------------------------------------------------------------- families


class Family:
    """One family of trained tasks. ``params``: build_model's parameters; ``loss``: the training loop's loss;
    ``output``: the model's output in words, for messages; ``shape_hint``: said when its shape is wrong."""

    name = ""
    loss = ""
    params: tuple[str, ...] = ()
    output = ""
    shape_hint = "check which axis is time and that the output layer has the right size"
    #: figure -> (the classical baseline its points start from, higher is better): the reference model must beat
    #: each by the spec's [training] reference_margin before its figures are cached or used
    floors: dict[str, tuple[str, bool]] = {}

    @property
    def signature(self) -> str:
        return f"build_model({', '.join(self.params)})"

    def build_args(self, data) -> tuple:
        raise NotImplementedError

    def training_data(self, data) -> dict:
        """What the training loop sees: training inputs and their targets (never the test split)."""
        raise NotImplementedError

    def validation_rows(self, data, n: int, k: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Which of the ``n`` training rows the model trains on, and which ``k`` it is validated on: drawn by the
        seed, as independent rows are."""
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        return order[k:].sort().values, order[:k].sort().values

    def probe_inputs(self, data, n: int = 4) -> list:
        """A few training inputs to look at the model's output shape before training."""
        raise NotImplementedError

    def expected_shape(self, data, inputs: list) -> tuple:
        raise NotImplementedError

    def test_outputs(self, p: Program, model, data) -> dict:
        """Steps that run the trained model on the inputs of ``data``'s test split (never its targets)."""
        raise NotImplementedError

    def extra_outputs(self, p: Program, model, data, seed: int) -> dict:
        """More raw outputs of the trained model that the family's checks and figures read."""
        return {}

    def evaluate(self, data, out: dict) -> dict:
        """The task's figures for raw outputs: the student's, or the reference model's."""
        raise NotImplementedError

    def reference_extras(self, out: dict) -> dict:
        """Facts about the reference model's outputs kept beside its figures."""
        return {}

    def classical_baselines(self, data) -> dict:
        """Figures of the classical baselines on the test split."""
        raise NotImplementedError


FAMILIES: dict[str, Family] = {}


def family(cls: type[Family]) -> type[Family]:
    """Class decorator: ``cls`` is the family of its ``name`` (a dataset family of harness/data/build.py)."""
    FAMILIES[cls.name] = cls()
    return cls


def family_of(spec) -> Family:
    """The family of a trained task: its dataset's."""
    from ..data.build import KINDS

    return FAMILIES[KINDS[spec.dataset["kind"]][0]]


#: a task trained by the student's own fit ([training] by = "student"): its "run" (ctx, CPU budget, recipe -> the
#: run's outputs, as student_run's) and its "reference" (ctx, family, module, data, views -> the answer key's raw
#: outputs, as run_program's), registered by harness/checks/fitted.py
STUDENT_TRAINED: dict[str, Callable] = {}


# --------------------------------------------------------------------------- programs


def run_program(fam: Family, module: str, data, recipe: dict, seed: int, views: dict | None = None,
                keep: str | None = None) -> Program:
    """Build, train on ``data``, and compute every raw output the checks and figures need, in one
    program: the outputs on the test inputs of each of ``views`` (view name -> dataset sharing
    ``data``'s training split; default: ``data`` alone, as "public"), under ``out["views"]``. With ``keep`` (a name),
    the program stops after training and keeps the model in the worker under that name: ``outputs_program`` then
    sends the test inputs, which the model's code never sees while it trains (a student's, in the worker)."""
    p = Program()
    p.op("manual_seed", seed)
    model = p.op("as_module", p.call(f"{module}.build_model", *fam.build_args(data)), *fam.probe_inputs(data))
    rows, valid = training_split(fam, data, recipe, seed)
    training = p.op("train", model, rows, {**recipe, "loss": fam.loss, "seed": seed}, valid)
    if keep is not None:
        return p.result({"training": training, "kept": p.op("keep", keep, model)})
    return p.result({"training": training, **outputs(p, fam, model, data, seed, views or {"public": data})})


def outputs(p: Program, fam: Family, model, data, seed: int, views: dict) -> dict:
    """Steps of ``p`` computing a trained model's raw outputs: on the test inputs of each of ``views`` (under
    "views"), and the family's extra outputs on ``data``."""
    return {"views": {name: fam.test_outputs(p, model, d) for name, d in views.items()},
            **fam.extra_outputs(p, model, data, seed)}


def outputs_program(fam: Family, kept: str, data, seed: int, views: dict) -> Program:
    """The raw outputs of the model a ``run_program(..., keep=kept)`` trained, as ``run_program`` gives them."""
    p = Program()
    return p.result(outputs(p, fam, p.op("kept_model", kept), data, seed, views))


def training_split(fam: Family, data, recipe: dict, seed: int) -> tuple[dict, dict | None]:
    """The rows the model trains on, and the rows of its validation loss when the recipe reads one (early
    stopping, the plateau schedule): ``validation_fraction`` of the training split, held out of training (the
    dataset's valid split is not used: for a data file it is what the public checks score)."""
    rows = fam.training_data(data)
    if not watches_validation(recipe):
        return rows, None
    n = next(iter(rows.values())).shape[0]
    k = max(1, round(float(recipe["validation_fraction"]) * n))
    train, valid = fam.validation_rows(data, n, k, seed)
    if len(train) < 1:
        raise SpecError("the task's spec", "[training].validation_fraction", f"holding out {k} of the {n} training "
                        "rows for validation leaves none to train on", "lower validation_fraction, or give more data")
    return {name: t[train] for name, t in rows.items()}, {name: t[valid] for name, t in rows.items()}


def view_outputs(out: dict, view: str) -> dict:
    """A run's outputs as one view's checks read them: the shared ones and the view's test outputs."""
    return {**{k: v for k, v in out.items() if k != "views"}, **out["views"][view]}


def same_training(fam: Family, a, b) -> bool:
    """Whether two views of a dataset train on the same data (then one run serves both)."""
    x, y = fam.training_data(a), fam.training_data(b)
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


# --------------------------------------------------------------------------- judging raw outputs


class BadOutput(ContractBroken):
    """The model's outputs cannot be scored (wrong shape, not finite)."""

    lead = "the trained model's outputs cannot be scored"
    hint = "see the task's training check first: a model that diverged gives NaN outputs"


def once(ctx: Context, key: str, compute: Callable):
    """``compute()`` once per task and submission; a failure is remembered and raised again, so a
    crashed training run costs every check that needs it but runs only once."""
    if key not in ctx.state:
        try:
            ctx.state[key] = ("ok", compute())
        except Exception as exc:
            ctx.state[key] = ("raised", exc)
    kind, value = ctx.state[key]
    if kind == "raised":
        raise value
    return value


def scorable(value, shape: tuple, what: str) -> torch.Tensor:
    """``value`` as float64 when it is a finite tensor of ``shape``; else BadOutput saying what it is."""
    if not isinstance(value, torch.Tensor):
        raise BadOutput(f"{what}: expected a tensor of shape {shape}, got {describe(value)}")
    if tuple(value.shape) != tuple(shape):
        raise BadOutput(f"{what}: expected shape {tuple(shape)}, got {tuple(value.shape)}")
    if not torch.isfinite(value).all():
        raise BadOutput(f"{what}: {int((~torch.isfinite(value)).sum())} values are NaN or infinite")
    return value.double()


# --------------------------------------------------------------------------- what figures compute apart


#: the fields of a failure the worker describes (runtime/training.apart), each kept to a readable length
FAILURE_TEXT = {"type": 100, "message": 600, "file": 200, "code": 200, "fed": 120, "returned": 300}


def figure_part(part, what: str) -> tuple[object, str]:
    """A part of a program computed apart for a figure (``p.op("apart", ...)``): ``(value, "")``, or ``(None, why)``
    with why in the student's terms: what ``what`` (e.g. "sampling at T = 0.5") fed the model, what it raised or
    returned, and where in the student's file. A reply of any other form is said to be unreadable."""
    if isinstance(part, dict) and set(part) == {"value"}:
        return part["value"], ""
    info = part.get("failed") if isinstance(part, dict) and set(part) == {"failed"} else None
    if not isinstance(info, dict):
        return None, f"{what}: the worker's reply could not be read ({describe(part)})"
    text = {k: " ".join(info[k].split())[:n] for k, n in FAILURE_TEXT.items() if isinstance(info.get(k), str)}
    line = info.get("line") if _whole(info.get("line")) else None
    fed = f" fed your model {text['fed']}" if text.get("fed") else ""
    if text.get("type") == "output" and text.get("returned"):
        return None, f"{what}{fed}: {text['returned']}"
    raised = text.get("type", "an error") + (f": {text['message']}" if text.get("message") else "")
    where = ""
    if text.get("file"):
        where = f" at {text['file']}" + (f", line {line}" if line is not None else "")
        where += f": {text['code']}" if text.get("code") else ""
    return None, f"{what}{fed} and it raised {raised}{where}"


# --------------------------------------------------------------------------- baselines, cached


def cache_dir() -> Path:
    """Where reference figures are cached: ``$HARNESS_CACHE/baselines``, by default ``~/.cache/harness/baselines``."""
    return Path(os.environ.get("HARNESS_CACHE", Path.home() / ".cache" / "harness")) / "baselines"


class ReferenceUnfit(SpecError):
    """The reference model's figures cannot anchor a grade: its training stopped early, or it does not beat the
    classical baseline a figure's points start from. Nothing is cached, and grading stops."""


def sane_reference(spec, fam: "Family", figures: dict, view: str) -> None:
    """Raise :class:`ReferenceUnfit` unless the reference model trained the whole recipe and beats each floor of
    its family by the spec's ``reference_margin`` (relative: 0.02 is 2% better)."""
    training = figures["reference"]["training"]
    where = spec.path or spec.name
    if training.get("stopped") not in COMPLETE:
        raise ReferenceUnfit(where, "[training]", f"the reference model's training stopped early on the {view} split "
                             f"({training.get('stopped')}, {training.get('epochs_done')} epochs done): its figures "
                             "are neither cached nor used", "check the answer key's build_model and the recipe")
    margin = float(spec.training.get("reference_margin", 0.0))
    for name, (floor_name, higher) in fam.floors.items():
        ref, floor = figures["reference"].get(name), figures["classical"].get(floor_name, {}).get(name)
        if not isinstance(ref, (int, float)) or not isinstance(floor, (int, float)):
            continue
        wanted = floor + margin * abs(floor) if higher else floor - margin * abs(floor)
        if not math.isfinite(ref) or not (ref > wanted if higher else ref < wanted):
            raise ReferenceUnfit(
                where, "[training] reference_margin",
                f"on the {view} split the reference model's {name} is {ref:.4g} and {floor_name}'s {floor:.4g}: the "
                f"reference must do {100 * margin:g}% better ({wanted:.4g}) for the points of the {name} checks to "
                "mean anything, so nothing was cached and grading stopped",
                "train the answer key's model longer or make it stronger ([training] epochs, lr; answer_key.py), or "
                "lower reference_margin if that baseline is truly hard to beat on this data")


def baselines(ctx: Context) -> dict:
    """Reference model and classical baselines on the check's view, computed once per spec version
    and dataset and cached (instructor), or read from the released bundle (student)."""
    return once(ctx, f"baselines:{ctx.view}", lambda: ctx.computed("baselines", lambda: _baselines(ctx)))


def _baselines(ctx: Context) -> dict:
    """The figures of one view, from the disk cache or computed; when the task's checks score another view
    that trains on the same data, one reference training run serves both (each is cached)."""
    spec = ctx.task
    recipe = recipe_for(spec.training, {})
    data, path_of = ctx.data, _cache_paths(spec, recipe)
    found = _read_cache(path_of(data))
    if found is not None:
        return found
    with _computing(path_of(data)):
        found = _read_cache(path_of(data))  # written by another process while this one waited for it
        return found if found is not None else _computed_baselines(ctx, recipe, path_of)


@contextmanager
def _computing(path: Path):
    """Held while the figures of ``path`` are computed: the pool processes of a class run (or two runs on one
    machine) that miss the same cache entry train the reference once, the others waiting to read what it wrote.
    A lock of the operating system's (flock), released when its process ends however it ends; where there is none
    (Windows), each computes its own, as before."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _computed_baselines(ctx: Context, recipe: dict, path_of) -> dict:
    """The figures of the views that train as ctx.view does and are not cached yet, computed and cached; those of
    ctx.view returned."""
    spec, module, fam, data, found = ctx.task, ctx.task.module, family_of(ctx.task), ctx.data, None
    views = {v: spec.data_for(v) for v in ctx.state.get("views", (ctx.view,))}
    views = {v: d for v, d in views.items() if v == ctx.view or (
        _read_cache(path_of(d)) is None and same_training(fam, data, d))}
    # the task's answer key (its build_model), named explicitly: a release records these figures, not the raw outputs
    namespace = {module: ctx.answers.namespace[module]}
    if by_student(spec):  # the answer key's own fit
        raw = STUDENT_TRAINED["reference"](ctx, fam, module, data, views)
    else:
        raw = ctx.reference(run_program(fam, module, data, recipe, spec.seed, views), namespace)
    for view, view_data in views.items():
        out = view_outputs(raw, view)
        reference = fam.evaluate(view_data, out)
        reference.pop("hypotheses", None)
        figures = {"reference": {**reference, "training": _curve(out["training"]), **fam.reference_extras(out)},
                   "classical": fam.classical_baselines(view_data)}
        sane_reference(spec, fam, figures, view)  # only complete, sane figures are cached (or used)
        path = path_of(view_data)  # in the folder _computing made
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(figures, allow_nan=True))
        tmp.replace(path)
        if view == ctx.view:
            found = {**figures, "cache_key": path.stem}  # as _read_cache names them
    return found


def _cache_path(spec, data, recipe: dict) -> Path:
    """One file per everything the figures depend on: the dataset view, seed and recipe, the answer key's source and
    the source of the module its build_model (a student-trained task's: fit) comes from, the code of the family and
    of the classical baselines, the harness and torch versions and the instruction set torch's kernels use (not the
    points, tolerances or limits of the spec, nor the students' budget)."""
    return _cache_paths(spec, recipe)(data)


def _cache_paths(spec, recipe: dict):
    """The function from a dataset view to its :func:`_cache_path`: what the views share is read and hashed once."""
    from ..course import ANSWER_KEY, answer_key, task_sources

    answer_key_src = task_sources(spec.path.parent, (ANSWER_KEY,)) if spec.path else b""
    trains = "fit" if by_student(spec) else "build_model"  # the answer key's name whose module trains its model
    model_file = _source_file(getattr(answer_key(spec) if spec.path else None, trains, None))
    code = hashlib.sha256(b"".join(_read(f) for f in (model_file, _source_file(type(family_of(spec))),
                                                       _source_file(_baselines_module())))).hexdigest()
    shared = {"seed": spec.seed, "version": __version__, "torch": torch.__version__,
              "kernels": torch.backends.cpu.get_cpu_capability(),  # another instruction set rounds otherwise
              "answer_key": hashlib.sha256(answer_key_src).hexdigest() if spec.path else "", "code": code,
              "recipe": recipe}

    def path_of(data) -> Path:
        key = json.dumps({"data": data.fingerprint, **shared}, sort_keys=True)
        return cache_dir() / f"{spec.name}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.json"

    return path_of


def _source_file(obj) -> Path | None:
    import inspect

    try:
        found = inspect.getsourcefile(obj) if obj is not None else None
    except TypeError:  # a built-in, or an object made at run time
        return None
    return Path(found) if found else None


def _read(path: Path | None) -> bytes:
    return b"\0" + (path.read_bytes() if path is not None and path.is_file() else b"")


def _baselines_module():
    from .. import baselines as module

    return module


def _read_cache(path: Path) -> dict | None:
    """The cached figures at ``path``, named by their key (a release records which it used); None if unreadable."""
    try:
        figures = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return {**figures, "cache_key": path.stem} if isinstance(figures, dict) else None


TRAINING_KEPT = ("epoch_losses", "batch_losses", "valid_losses", "lrs", "epoch_ends", "epoch_kept", "stopped",
                 "seconds", "cpu_seconds", "epochs_done", "batches_done", "batches_planned")


def _curve(training: dict) -> dict:
    return {k: training.get(k) for k in TRAINING_KEPT}


BUDGET_FACTOR, BUDGET_FLOOR_S = 20, 60.0


def cpu_budget(ctx: Context, recipe: dict) -> float:
    """CPU seconds the student's training may use: the spec's ``cpu_budget_s``, else 20 times what the reference
    model needed for its recipe, scaled by the epochs asked for (at least 60 s). Only a safety net: a model within
    a few times the reference's cost never meets it, however busy the machine."""
    if ctx.task.training.get("cpu_budget_s"):
        return float(ctx.task.training["cpu_budget_s"])
    ref_epochs = max(1, int(ctx.task.training["epochs"]))
    return max(BUDGET_FLOOR_S, BUDGET_FACTOR * reference_cpu(ctx) * max(1.0, int(recipe["epochs"]) / ref_epochs))


def reference_cpu(ctx: Context) -> float:
    """CPU seconds the reference model's training took (its wall seconds where an older record has no CPU time)."""
    ref = baselines(ctx)["reference"]["training"]
    return float(ref.get("cpu_seconds") or ref.get("seconds") or 0.0)


# --------------------------------------------------------------------------- the student's run


def interface(ctx: Context) -> dict:
    """HYPERPARAMETERS, and the model's output on a few training inputs, before any training."""
    return once(ctx, "interface", lambda: _interface(ctx))


def _interface(ctx: Context) -> dict:
    module, data, fam = ctx.task.module, ctx.data, family_of(ctx.task)
    inputs = fam.probe_inputs(data)
    p = Program()
    hyper = p.lookup(f"{module}.HYPERPARAMETERS")
    p.op("manual_seed", ctx.task.seed)
    model = p.op("as_module", p.call(f"{module}.build_model", *fam.build_args(data)), *inputs)
    p.result({"hyper": hyper, "output": p.method(model, "__call__", *inputs),
              "parameters": p.op("count_parameters", model)})
    got = ctx.student(p)
    usable, problems = read_hyperparameters(got["hyper"], ctx.task.training)
    return {**got, "usable": usable, "problems": problems, "inputs": inputs}


def student_run(ctx: Context) -> dict:
    """The student's model trained and run on the test inputs of the check's view: once per submission,
    shared by the checks. When the task's checks score both views and the two train on the same data
    (``ctx.state["views"]``), one training run serves both."""
    if by_student(ctx.task):  # the student's own fit
        recipe = recipe_for(ctx.task.training, {})
        return STUDENT_TRAINED["run"](ctx, cpu_budget(ctx, recipe), recipe)

    def run():
        spec, module, fam = ctx.task, ctx.task.module, family_of(ctx.task)
        recipe = recipe_for(spec.training, interface(ctx)["usable"])
        budget = cpu_budget(ctx, recipe)  # a safety net, measured: kept out of the recipe results show
        data = ctx.data
        views = {v: spec.data_for(v) for v in ctx.state.get("views", (ctx.view,))}
        views = {v: d for v, d in views.items() if v == ctx.view or same_training(fam, data, d)}
        # the wall clock is the last resort only: a busy machine slows the run without changing its work; the test
        # inputs reach the worker only once the model is trained (two programs)
        kept = f"{spec.name}:{spec.digest}:build_model"
        trained = ctx.student(run_program(fam, module, data, {**recipe, "cpu_budget_s": budget}, spec.seed, keep=kept),
                              timeout=budget * 4 + 120)
        out = {**ctx.student(outputs_program(fam, kept, data, spec.seed, views), timeout=budget * 4 + 120),
               "training": trained["training"]}
        for v in views:
            if v != ctx.view:
                ctx.state.setdefault(f"run:{v}", ("ok", {"out": view_outputs(out, v), "recipe": recipe,
                                                         "cpu_budget_s": budget}))
        return {"out": view_outputs(out, ctx.view), "recipe": recipe, "cpu_budget_s": budget}

    return once(ctx, f"run:{ctx.view}", run)


class Unfinished(ContractBroken):
    """The student's training was stopped by the safety net before it did the recipe's work: not scored."""

    lead = "not scored"
    hint = ("make the model cheaper per step, or ask for fewer epochs in HYPERPARAMETERS: a model is scored only "
            "once it has trained with the whole recipe")


def work_done(run: dict) -> str:
    """"2 of 6 epochs (38% of the batches)": how much of the recipe's work a stopped run did."""
    tr = run["out"]["training"]
    planned = tr.get("batches_planned") or 0
    share = f" ({100 * (tr.get('batches_done') or 0) / planned:.0f}% of the batches)" if planned else ""
    return f"{tr.get('epochs_done')} of {run['recipe']['epochs']} epochs{share}"


def student_figures(ctx: Context) -> dict:
    """The student's figures on the check's view, only for a model trained with the whole recipe: a run the CPU
    budget stopped is not scored (its figures would depend on how fast the machine was)."""
    def figures():
        run = student_run(ctx)
        # a student-trained task's fit stopped by its budget is graded on the predictor it kept (fitted.py)
        if run["out"]["training"].get("stopped") == "cpu budget" and not by_student(ctx.task):
            raise Unfinished(f"training stopped at the CPU budget after {work_done(run)}, so the model's figures "
                             "are not scored")
        return family_of(ctx.task).evaluate(ctx.data, run["out"])

    return once(ctx, f"figures:{ctx.view}", figures)


# --------------------------------------------------------------------------- checks


def check_interface(ctx: Context) -> Verdict:
    fam, data = family_of(ctx.task), ctx.data
    got = interface(ctx)
    want = fam.expected_shape(data, got["inputs"])
    out = got["output"]
    if not isinstance(out, torch.Tensor):
        return Verdict(False, f"model(...) returned {describe(out)}; the contract asks for {fam.output}",
                       "return a single tensor from forward")
    if tuple(out.shape) != want:
        return Verdict(False, f"on a batch of {want[0]}, model(...) returned shape {tuple(out.shape)}; expected "
                       f"{want} — {fam.output}", fam.shape_hint)
    if not out.is_floating_point():
        return Verdict(False, f"model(...) returned {str(out.dtype).removeprefix('torch.')} values; expected floats")
    if got["problems"]:
        return Verdict(False, "; ".join(got["problems"]), "see the task's bounds on HYPERPARAMETERS")
    return Verdict(True, f"{fam.signature} builds a model with {got['parameters']:,} parameters whose "
                   f"output has shape {want}" + (f"; HYPERPARAMETERS {got['usable']}" if got["usable"] else ""),
                   numbers={"parameters": got["parameters"], "hyperparameters": got["usable"]})


def check_training(ctx: Context) -> Verdict:
    run = student_run(ctx)
    tr = run["out"]["training"]
    losses = tr.get("epoch_losses") or []
    numbers = {"recipe": run["recipe"], **_curve(tr), "cpu_budget_s": run["cpu_budget_s"]}
    numbers.pop("batch_losses", None)
    if tr.get("stopped") == "non-finite loss":
        return Verdict(False, f"the training loss became NaN or infinite at batch {len(tr.get('batch_losses', [])) + 1} "
                       f"of epoch {len(losses) + 1}", "look for log(0), division by zero, or an exploding recurrence; the harness already "
                       "clips gradients at norm " + f"{run['recipe']['clip']:g}", numbers)
    if tr.get("stopped") == "cpu budget":
        return Verdict(False, f"training stopped at the CPU budget of {run['cpu_budget_s']:.0f} s after "
                       f"{work_done(run)}; the reference model does the whole recipe in "
                       f"{reference_cpu(ctx):.1f} s of CPU. A model is scored only once "
                       "trained with the whole recipe, so its figure checks score nothing",
                       "make the model smaller or cheaper per step, or ask for fewer epochs in HYPERPARAMETERS", numbers)
    if len(losses) >= 2 and not losses[-1] < losses[0]:
        return Verdict(False, f"the training loss did not go down ({losses[0]:.4g} in the first epoch, {losses[-1]:.4g} "
                       "in the last)", "check that forward uses its input and that the parameters are registered "
                       "(nn.Module attributes or nn.Parameter)", numbers)
    return Verdict(True, (f"trained {tr.get('epochs_done')} epochs in {tr.get('seconds', 0):.1f} s; loss "
                   f"{losses[0]:.4g} → {losses[-1]:.4g}" if losses else "trained") + epoch_kept(tr, run["recipe"]),
                   numbers=numbers)


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def epoch_kept(training: dict, recipe: dict) -> str:
    """Which epoch's weights were kept and why training stopped, in words ("" without early stopping)."""
    stopping, valid = recipe.get("early_stopping"), training.get("valid_losses") or []
    kept = training.get("epoch_kept")
    if not stopping or not _whole(kept) or not 1 <= kept <= len(valid) or not isinstance(valid[kept - 1], float):
        return ""  # a reply without them (or forged) says nothing of an epoch kept
    why = (f"; stopped early after epoch {training.get('epochs_done')} of {recipe['epochs']}: the validation loss "
           f"had not improved by more than {stopping['min_delta']:g} for {stopping['patience']} epochs"
           if training.get("stopped") == "early stopping" else "")
    return f"{why}; kept epoch {kept}, the best validation loss ({valid[kept - 1]:.4g})"


def graded_figure(ctx: Context, name: str, label: str, log_scale: bool = False, fmt: str = ".4g") -> Verdict:
    """Points between the family's floor for ``name`` (0) and the target (full), as the spec's options say: by
    default the best of the reference model, the optimum where the data's generator knows it, and every classical
    baseline, so that a model worse than a classical one anyone would try first never gets full points."""
    floor_name, higher_is_better = family_of(ctx.task).floors[name]
    value = student_figures(ctx)[name]
    base = baselines(ctx)
    optimum = optimum_of(ctx.data, name)
    candidates = compared(base, optimum, name)
    floor = candidates.get(floor_name, base["reference"][name])
    target_name = choose_target(candidates, ctx.options["target"], higher_is_better)
    target = candidates[target_name]
    better = (lambda a, b: a > b) if higher_is_better else (lambda a, b: a < b)  # noqa: E731
    note = ""
    if not better(target, floor):
        # the chosen target (a reference model on a small split, say) does no better than the floor: points then
        # run from the strongest candidate it does beat (or, with none, full points for matching it)
        weaker = [(k, v) for k, v in candidates.items() if better(target, v)]
        note = f" ({floor_name} does no worse than the {target_name} here)" if floor_name != target_name else ""
        if weaker:
            floor_name, floor = ranked(dict(weaker), higher_is_better)[0]
        else:
            floor = target
    rel = metrics.relative_score(value, floor, target, higher_is_better, log_scale=log_scale)
    fraction = min(1.0, rel / ctx.options["full_at"]) if ctx.options["full_at"] > 0 else 1.0
    numbers = {name: value, "baseline": {floor_name: floor}, "target": {target_name: target},
               "reference_model": base["reference"][name], "optimum": optimum,
               "classical": {k: v.get(name) for k, v in base["classical"].items()}, "relative": rel,
               "comparison": comparison(value, candidates, floor_name, target_name, higher_is_better)}
    passed = rel >= ctx.options["pass_at"]
    others = ", ".join(f"{k} {v:{fmt}}" for k, v in ranked(candidates, higher_is_better) if k != floor_name)
    which = ("the best of them" if ctx.options["target"] == "best" else "the target") + f", {target_name}"
    message = (f"{label} {value:{fmt}} — {floor_name} {floor:{fmt}}, {others}: {100 * rel:.0f}% of the way from "
               f"{floor_name} to {which}{note}")
    how = "in your fit" if by_student(ctx.task) else "(HYPERPARAMETERS)"
    hint = "" if fraction >= 1 else (
        f"full points from {100 * ctx.options['full_at']:.0f}% of the way to {target_name} ({target:{fmt}}); train "
        f"longer {how}, or change the model's size or cell")
    seen = STUDENT_TRAINED["training_figures"](ctx).get(name) if fraction < 1 and by_student(ctx.task) else None
    if isinstance(seen, (int, float)) and math.isfinite(seen):
        rel_seen = metrics.relative_score(seen, floor, target, higher_is_better, log_scale=log_scale)
        numbers["training_split"] = seen
        # full points on what it trained on and far fewer on the test split: training longer will not help
        if rel_seen >= ctx.options["full_at"] and rel_seen - rel >= OVERFIT_GAP:
            hint = (f"on the training split fit was given, your model's {name} is {seen:{fmt}} ({100 * rel_seen:.0f}% "
                    f"of the way): it has learned its training data rather than the task (it overfits). Stop "
                    "training when the validation figure stops improving and keep that epoch's model "
                    "(budget.keep), or make the model smaller")
    return Verdict(passed, message, hint, numbers, fraction=fraction)


#: how much further along the way from floor to target a student-trained predictor must be on its training split
#: than on the test split for its figure's hint to say it overfits (a model a little better on the rows it trained
#: on, as any is, is told to train longer)
OVERFIT_GAP = 0.25


#: what a graded figure's full points are reached at (``target``; the first is the default): the best of the
#: reference model, the optimum and the classical baselines; the reference model; the optimum where the data's
#: generator knows it, else the reference model
TARGETS = ("best", "reference", "optimum")
REFERENCE, OPTIMUM = "reference model", "best achievable"


def compared(base: dict, optimum, name: str) -> dict[str, float]:
    """Every figure a student's ``name`` is shown beside: the reference model's, the optimum (when known) and
    each classical baseline's, by label; a figure that is not a finite number is left out."""
    found = {REFERENCE: base["reference"].get(name), OPTIMUM: optimum,
             **{k: v.get(name) for k, v in base["classical"].items() if isinstance(v, dict)}}
    return {k: float(v) for k, v in found.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


def ranked(candidates: dict[str, float], higher_is_better: bool) -> list[tuple[str, float]]:
    """The candidates, best first (ties: in the order given)."""
    return sorted(candidates.items(), key=lambda kv: -kv[1] if higher_is_better else kv[1])


def choose_target(candidates: dict[str, float], target: str, higher_is_better: bool) -> str:
    """The label of the candidate full points are reached at, for the spec's ``target`` option."""
    if target == "best":
        return ranked(candidates, higher_is_better)[0][0]
    if target == "optimum" and OPTIMUM in candidates:
        return OPTIMUM
    return REFERENCE


def comparison(value: float, candidates: dict[str, float], floor: str, target: str, higher_is_better: bool) -> list:
    """The student's figure among the others, best first, each with the part it plays in the points: what the
    report's table of a graded figure shows."""
    rows = [{"label": k, "value": v, "role": "full points" if k == target else "no points" if k == floor else ""}
            for k, v in candidates.items()]
    rows.append({"label": "yours", "value": float(value), "role": "yours"})
    return sorted(rows, key=lambda r: -r["value"] if higher_is_better else r["value"])


def optimum_of(data, name: str):
    opt = data.optimum
    if name == "accuracy":
        return opt.get("bayes_accuracy_test", opt.get("bayes_accuracy"))
    return opt.get(name)


# --------------------------------------------------------------------------- registration


#: the options of a graded figure: its target (TARGETS, the first the default), and where points are full and passed
GRADED = {"target": TARGETS, "full_at": 0.9, "pass_at": 0.5}

register("trained.interface", ["build_model"], "build_model and the output's shape; HYPERPARAMETERS in bounds",
         prepare=baselines)(check_interface)
register("trained.training", ["build_model"], "trains with the harness's whole recipe: finite, decreasing loss",
         prepare=baselines)(check_training)


@register_figure("trained.training", ["build_model"], "Training loss")
def training_curve(ctx: Context) -> dict:
    series = [{"label": "reference model", "who": "reference",
               "values": baselines(ctx)["reference"]["training"]["batch_losses"]}]
    run = student_run(ctx)
    training = run["out"]["training"]
    series.append({"label": "yours", "who": "student", "values": training["batch_losses"]})
    figure = {"kind": "lines", "x_label": "batch", "y_label": "training loss", "log_y": False, "smooth": True,
              "series": series, "caption": "Both trained by the harness with the same recipe and seed."}
    kept, ends = training.get("epoch_kept"), training.get("epoch_ends") or []
    if run["recipe"].get("early_stopping") and _whole(kept) and 1 <= kept <= len(ends) and _whole(ends[kept - 1]):
        figure["marks"] = [{"at": ends[kept - 1] - 1, "label": f"epoch {kept} kept", "who": "student"}]
        stopped = (f"; training stopped early after epoch {training.get('epochs_done')}"
                   if training.get("stopped") == "early stopping" else "")
        figure["caption"] += (f" The vertical line marks the end of epoch {kept}, the best on the validation loss: "
                              f"the weights graded are yours at that point{stopped}.")
    return figure



def bars_figure(ctx: Context, name: str, lower_is_better: bool, y_label: str, log_y: bool = False) -> dict:
    base = baselines(ctx)
    bars = [{"label": "yours", "value": student_figures(ctx)[name], "who": "student"},
            {"label": "reference model", "value": base["reference"][name], "who": "reference"}]
    bars += [{"label": k, "value": v[name], "who": "baseline"} for k, v in base["classical"].items()]
    optimum = optimum_of(ctx.data, name)
    if optimum is not None:
        bars.append({"label": "best achievable", "value": optimum, "who": "optimum"})
    return {"kind": "bars", "bars": bars, "y_label": y_label, "log_y": log_y, "lower_is_better": lower_is_better}
