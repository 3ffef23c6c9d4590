"""Checks of the task modules: the harness trains the student's model and judges it on the hidden split.

For each task (``sentiment``, ``next_word``, ``translation``, ``forecasting``) the student provides
``build_model(...)``; the harness owns data, recipe and metrics. One program per submission builds
the model, trains it in the worker with the spec's recipe (bounded by the student's
``HYPERPARAMETERS``), and returns raw outputs on the test *inputs*: logits, token ids, forecasts.
Labels, targets, references and holdout values never leave this process; every figure is computed
here, and so are the same figures for the reference model and the classical baselines, which are
computed once per spec version and cached on disk.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .. import __version__, metrics
from ..sandbox.program import Program
from . import Context, ContractBroken, Verdict, register, register_figure
from .compare import describe

BOS, EOS = 1, 2


# --------------------------------------------------------------------------- families


@dataclass(frozen=True)
class Family:
    module: str
    loss: str
    signature: str                      # build_model's parameters, for messages
    build_args: Callable                # data -> positional arguments of build_model
    reference: Callable                 # the answer key's model for these arguments


def _reference(name: str):
    def build(*args):
        import reference_models.models as models

        return getattr(models, name)(*args)

    return build


FAMILIES = {
    "sentiment": Family("sentiment", "classes", "build_model(vocab_size, num_classes)",
                        lambda d: (len(d.vocab), len(d.class_names)), _reference("SentimentRNN")),
    "next_word": Family("next_word", "tokens", "build_model(vocab_size)", lambda d: (len(d.vocab),),
                        _reference("NextWordRNN")),
    "translation": Family("translation", "seq2seq", "build_model(src_vocab_size, tgt_vocab_size)",
                          lambda d: (len(d.src_vocab), len(d.tgt_vocab)), _reference("Seq2SeqAttention")),
    "forecasting": Family("forecasting", "regression", "build_model(window, horizon)",
                          lambda d: (d.window, d.horizon), _reference("Forecaster")),
}


def training_data(module: str, data) -> dict:
    """What the training loop sees: training inputs and their targets (never the test split)."""
    if module == "sentiment":
        return {"x": data.train.ids, "y": data.train.labels}
    if module == "next_word":
        return {"x": data.train.inputs, "y": data.train.targets}
    if module == "translation":
        return {"x": data.train.src, "tgt_in": data.train.tgt_in, "y": data.train.tgt_out}
    return {"x": data.X, "y": data.Y}


def probe_inputs(module: str, data, n: int = 4) -> list:
    """A few training inputs to look at the model's output shape before training."""
    if module == "sentiment":
        return [data.train.ids[:n]]
    if module == "next_word":
        return [data.train.inputs[:n]]
    if module == "translation":
        return [data.train.src[:n], data.train.tgt_in[:n]]
    return [data.X[:n]]


def expected_shape(module: str, data, inputs: list) -> tuple:
    if module == "sentiment":
        return (inputs[0].shape[0], len(data.class_names))
    if module == "next_word":
        return (*inputs[0].shape, len(data.vocab))
    if module == "translation":
        return (*inputs[1].shape, len(data.tgt_vocab))
    return (inputs[0].shape[0], data.horizon)


SHAPE_WORDS = {"sentiment": "(B, num_classes) logits", "next_word": "(B, T, vocab_size) next-token logits",
               "translation": "(B, T, tgt_vocab_size) logits", "forecasting": "(B, horizon) forecasts"}


# --------------------------------------------------------------------------- programs


def run_program(module: str, data, recipe: dict, seed: int, views: dict | None = None) -> Program:
    """Build, train on ``data``, and compute every raw output the checks and figures need, in one
    program: the outputs on the test inputs of each of ``views`` (view name -> dataset sharing
    ``data``'s training split; default: ``data`` alone, as "public"), under ``out["views"]``."""
    fam = FAMILIES[module]
    p = Program()
    p.op("manual_seed", seed)
    model = p.call(f"{module}.build_model", *fam.build_args(data))
    out = {"training": p.op("train", model, training_data(module, data), {**recipe, "loss": fam.loss, "seed": seed}),
           "views": {name: test_outputs(p, module, model, d) for name, d in (views or {"public": data}).items()}}
    if module == "next_word":
        ids = data.train.inputs[:16]
        cut = ids.shape[1] // 2
        altered = ids.clone()
        gen = torch.Generator().manual_seed(seed)
        altered[:, cut:] = torch.randint(4, len(data.vocab), (ids.shape[0], ids.shape[1] - cut), generator=gen)
        out["causal"] = {"cut": cut, "a": p.op("predict", model, [ids]), "b": p.op("predict", model, [altered])}
        out["samples"] = {f"{t:g}": p.op("sample_text", model, 3, BOS, EOS, 20, t, seed) for t in (0.5, 1.0, 1.5)}
        out["beam"] = p.op("beam_text", model, BOS, EOS, 3, 20)
    elif module == "forecasting":
        window = data.X[:16]
        out["probe"] = {"a": p.op("predict", model, [window]),
                        "b": p.op("predict", model, [window.flip(1) * 0.5 + 0.25])}
    return p.result(out)


def test_outputs(p: Program, module: str, model, data) -> dict:
    """Steps that run the trained model on the inputs of ``data``'s test split (never its targets)."""
    if module == "sentiment":
        return {"logits": p.op("predict", model, [data.test.ids])}
    if module == "next_word":
        return {"logits": p.op("predict", model, [data.test.inputs])}
    if module == "translation":
        return {"decoded": p.op("greedy_decode", model, data.test.src, BOS, EOS, data.test.tgt_out.shape[1] + 5)}
    return {"forecast": p.op("predict", model, [data.forecast_input])}


def view_outputs(out: dict, view: str) -> dict:
    """A run's outputs as one view's checks read them: the shared ones and the view's test outputs."""
    return {**{k: v for k, v in out.items() if k != "views"}, **out["views"][view]}


def same_training(module: str, a, b) -> bool:
    """Whether two views of a dataset train on the same data (then one run serves both)."""
    x, y = training_data(module, a), training_data(module, b)
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


def _tensor(value, shape: tuple, what: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise BadOutput(f"{what}: expected a tensor of shape {shape}, got {describe(value)}")
    if tuple(value.shape) != tuple(shape):
        raise BadOutput(f"{what}: expected shape {tuple(shape)}, got {tuple(value.shape)}")
    if not torch.isfinite(value).all():
        raise BadOutput(f"{what}: {int((~torch.isfinite(value)).sum())} values are NaN or infinite")
    return value.double()


def evaluate(module: str, data, out: dict) -> dict:
    """The task's figures for raw outputs: the student's, or the reference model's."""
    if module == "sentiment":
        logits = _tensor(out["logits"], (len(data.test.labels), len(data.class_names)), "test logits")
        pred, true = logits.argmax(-1).numpy(), data.test.labels.numpy()
        labels = list(range(len(data.class_names)))
        return {"accuracy": metrics.accuracy(true, pred), "macro_f1": metrics.macro_f1(true, pred, labels),
                "confusion": metrics.confusion_matrix(true, pred, labels).tolist()}
    if module == "next_word":
        targets = data.test.targets
        logits = _tensor(out["logits"], (*targets.shape, len(data.vocab)), "test logits")
        log_probs = torch.log_softmax(logits, dim=-1)  # the judge normalises: logits or log-probs both work
        figures = {"perplexity": metrics.corpus_perplexity(log_probs.numpy(), targets.numpy(), pad_id=0)}
        if "causal" in out:
            cut = out["causal"]["cut"]
            a, b = out["causal"]["a"], out["causal"]["b"]
            if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape:
                figures["causal_change"] = float((a[:, :cut] - b[:, :cut]).abs().max())
        return figures
    if module == "translation":
        tokens = out["decoded"]["tokens"] if isinstance(out.get("decoded"), dict) else None
        if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2 or tokens.shape[0] != len(data.test.pairs):
            raise BadOutput(f"greedy decoding returned {describe(tokens)}")
        from ..data.text import detokenize

        tokenizer = data.preprocessing.get("tokenizer", "word")
        hyps = [detokenize(data.tgt_vocab.decode(row.tolist()), tokenizer) for row in tokens]
        refs = [target for _, target in data.test.pairs]
        bleu, chrf = metrics.corpus_bleu(hyps, refs), metrics.corpus_chrf(hyps, refs)
        return {"bleu": bleu.score, "bleu_signature": bleu.signature, "chrf": chrf.score,
                "exact_match": float(np.mean([h == r for h, r in zip(hyps, refs)])), "hypotheses": hyps[:8]}
    forecast = _tensor(out["forecast"], (1, data.horizon), "forecast").numpy()[0]
    values = data.scaler.inverse_transform(forecast)[: len(data.holdout)]
    return {**forecast_figures(data, values), "forecast": values.tolist()}


def forecast_figures(data, values) -> dict:
    y, train = data.holdout, data.train
    return {"rmse": metrics.rmse(y, values), "mae": metrics.mae(y, values), "mape": metrics.mape(y, values),
            "smape": metrics.smape(y, values), "mase": metrics.mase(y, values, train, m=data.season_length)}


# --------------------------------------------------------------------------- baselines, cached


def cache_dir() -> Path:
    return Path(os.environ.get("HARNESS_CACHE", Path.home() / ".cache" / "harness")) / "baselines"


def classical_baselines(module: str, data) -> dict:
    """Figures of the classical baselines on the test split (and, for a series, their forecasts)."""
    from .. import baselines as b

    if module == "sentiment":
        true, labels = data.test.labels.numpy(), list(range(len(data.class_names)))
        out = {}
        for name, model, x_train, x_test in (
                ("majority class", b.MajorityClass(), data.train.texts, data.test.texts),
                ("bag-of-words logistic regression", b.BagOfWordsLogReg(), data.train.texts, data.test.texts)):
            pred = model.fit(x_train, data.train.labels.numpy()).predict(x_test)
            out[name] = {"accuracy": metrics.accuracy(true, pred), "macro_f1": metrics.macro_f1(true, pred, labels)}
        return out
    if module == "next_word":
        # the n-gram models take sentences without <bos>/<eos> and score <eos> themselves, as the judge does
        words = lambda t: [[int(i) for i in row if i not in (0, EOS)] for row in t]  # noqa: E731
        train, test, v = words(data.train.targets), words(data.test.targets), len(data.vocab)
        return {"unigram (add-one)": {"perplexity": b.UnigramLM(v).fit(train).perplexity(test)},
                "trigram (Kneser-Ney)": {"perplexity": b.KneserNeyLM(v, n=3).fit(train).perplexity(test)}}
    if module == "translation":
        src = [s for s, _ in data.train.pairs]
        tgt = [t for _, t in data.train.pairs]
        hyps = b.WordByWordDictionary().fit(src, tgt).predict([s for s, _ in data.test.pairs])
        refs = [t for _, t in data.test.pairs]
        return {"word-by-word dictionary": {"bleu": metrics.corpus_bleu(hyps, refs).score}}
    seasonal = b.SeasonalNaiveForecast(m=data.season_length).fit(data.train).predict(len(data.holdout))
    return {"naive (last value)": forecast_figures(data, b.NaiveForecast().fit(data.train).predict(len(data.holdout))),
            "seasonal naive": {**forecast_figures(data, seasonal), "forecast": [float(v) for v in seasonal]}}


def baselines(ctx: Context) -> dict:
    """Reference model and classical baselines on the check's view, computed once per spec version
    and dataset and cached (instructor), or read from the released bundle (student)."""
    return once(ctx, f"baselines:{ctx.view}", lambda: ctx.computed("baselines", lambda: _baselines(ctx)))


def _baselines(ctx: Context) -> dict:
    """The figures of one view, from the disk cache or computed; when the task's checks score another view
    that trains on the same data, one reference training run serves both (each is cached)."""
    spec, module = ctx.task, ctx.task.module
    recipe = recipe_for(spec.training, {})
    data = ctx.data
    found = _read_cache(_cache_path(spec, data, recipe))
    if found is not None:
        return found
    views = {v: spec.data_for(v) for v in ctx.state.get("views", (ctx.view,))}
    views = {v: d for v, d in views.items() if v == ctx.view or (
        _read_cache(_cache_path(spec, d, recipe)) is None and same_training(module, data, d))}
    namespace = {module: types.SimpleNamespace(build_model=FAMILIES[module].reference)}
    raw = ctx.reference(run_program(module, data, recipe, spec.seed, views), namespace)
    for view, view_data in views.items():
        out = view_outputs(raw, view)
        reference = evaluate(module, view_data, out)
        reference.pop("hypotheses", None)
        figures = {"reference": {**reference, "training": _curve(out["training"])},
                   "classical": classical_baselines(module, view_data)}
        if module == "translation" and isinstance(out["decoded"].get("attention"), torch.Tensor):
            figures["reference"]["has_attention"] = True
        path = _cache_path(spec, view_data, recipe)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(figures, allow_nan=True))
        tmp.replace(path)
        if view == ctx.view:
            found = figures
    return found


def _cache_path(spec, data, recipe: dict) -> Path:
    """One file per dataset view, reference recipe and seed: what the figures depend on (not the points,
    tolerances or limits of the spec, nor a training time budget the reference model stays well within)."""
    key = json.dumps({"data": data.fingerprint, "seed": spec.seed, "version": __version__,
                      "recipe": {k: v for k, v in recipe.items() if k != "time_budget_s"}}, sort_keys=True)
    return cache_dir() / f"{spec.name}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.json"


def _read_cache(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _curve(training: dict) -> dict:
    keep = {k: training.get(k) for k in ("epoch_losses", "batch_losses", "stopped", "seconds", "epochs_done")}
    return keep


# --------------------------------------------------------------------------- the student's run


def recipe_for(training: dict, hyper: dict) -> dict:
    """The spec's recipe with the student's HYPERPARAMETERS applied, clamped to the spec's bounds."""
    recipe = {k: v for k, v in training.items() if k != "bounds"}
    for key, value in hyper.items():
        low, high = training["bounds"].get(key, (value, value))
        recipe[key] = min(max(value, low), high)
    return recipe


def read_hyperparameters(value, bounds: dict) -> tuple[dict, list[str]]:
    """The usable HYPERPARAMETERS and the problems with the rest."""
    if value is None:
        return {}, []
    if not isinstance(value, dict):
        return {}, [f"HYPERPARAMETERS must be a dict like {{'lr': 0.003, 'epochs': 5}}, got {describe(value)}"]
    usable, problems = {}, []
    for key, v in value.items():
        if key not in bounds:
            problems.append(f"HYPERPARAMETERS[{key!r}] is not one the spec lets you set "
                            f"({', '.join(bounds) or 'none'}); it is ignored")
        elif not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
            problems.append(f"HYPERPARAMETERS[{key!r}] must be a number, got {v!r}; it is ignored")
        else:
            low, high = bounds[key]
            if not low <= v <= high:
                problems.append(f"HYPERPARAMETERS[{key!r}] = {v:g} is outside [{low:g}, {high:g}]; "
                                f"the harness used {min(max(v, low), high):g}")
            usable[key] = v
    return usable, problems


def interface(ctx: Context) -> dict:
    """HYPERPARAMETERS, and the model's output on a few training inputs, before any training."""
    return once(ctx, "interface", lambda: _interface(ctx))


def _interface(ctx: Context) -> dict:
    module, data = ctx.task.module, ctx.data
    inputs = probe_inputs(module, data)
    p = Program()
    hyper = p.lookup(f"{module}.HYPERPARAMETERS")
    p.op("manual_seed", ctx.task.seed)
    model = p.call(f"{module}.build_model", *FAMILIES[module].build_args(data))
    p.result({"hyper": hyper, "output": p.method(model, "__call__", *inputs),
              "parameters": p.op("count_parameters", model)})
    got = ctx.student(p)
    usable, problems = read_hyperparameters(got["hyper"], ctx.task.training["bounds"])
    return {**got, "usable": usable, "problems": problems, "inputs": inputs}


def student_run(ctx: Context) -> dict:
    """The student's model trained and run on the test inputs of the check's view: once per submission,
    shared by the checks. When the task's checks score both views and the two train on the same data
    (``ctx.state["views"]``), one training run serves both."""
    def run():
        spec, module = ctx.task, ctx.task.module
        recipe = recipe_for(spec.training, interface(ctx)["usable"])
        budget = float(recipe["time_budget_s"])
        data = ctx.data
        views = {v: spec.data_for(v) for v in ctx.state.get("views", (ctx.view,))}
        views = {v: d for v, d in views.items() if v == ctx.view or same_training(module, data, d)}
        out = ctx.student(run_program(module, data, recipe, spec.seed, views), timeout=budget * 1.5 + 60)
        for v in views:
            if v != ctx.view:
                ctx.state.setdefault(f"run:{v}", ("ok", {"out": view_outputs(out, v), "recipe": recipe}))
        return {"out": view_outputs(out, ctx.view), "recipe": recipe}

    return once(ctx, f"run:{ctx.view}", run)


def student_figures(ctx: Context) -> dict:
    return once(ctx, f"figures:{ctx.view}", lambda: evaluate(ctx.task.module, ctx.data, student_run(ctx)["out"]))


# --------------------------------------------------------------------------- checks


def check_interface(ctx: Context) -> Verdict:
    module, data = ctx.task.module, ctx.data
    got = interface(ctx)
    want = expected_shape(module, data, got["inputs"])
    out = got["output"]
    if not isinstance(out, torch.Tensor):
        return Verdict(False, f"model(...) returned {describe(out)}; the contract asks for {SHAPE_WORDS[module]}",
                       "return a single tensor from forward")
    if tuple(out.shape) != want:
        return Verdict(False, f"on a batch of {want[0]}, model(...) returned shape {tuple(out.shape)}; expected "
                       f"{want} — {SHAPE_WORDS[module]}",
                       "check which axis is time and that the output layer has the right size" +
                       ("; inputs are pre-padded with 0, so the last time step is the last word" if module == "sentiment" else ""))
    if not out.is_floating_point():
        return Verdict(False, f"model(...) returned {str(out.dtype).removeprefix('torch.')} values; expected floats")
    if got["problems"]:
        return Verdict(False, "; ".join(got["problems"]), "see the task's bounds on HYPERPARAMETERS")
    return Verdict(True, f"{FAMILIES[module].signature} builds a model with {got['parameters']:,} parameters whose "
                   f"output has shape {want}" + (f"; HYPERPARAMETERS {got['usable']}" if got["usable"] else ""),
                   numbers={"parameters": got["parameters"], "hyperparameters": got["usable"]})


def check_training(ctx: Context) -> Verdict:
    run = student_run(ctx)
    tr = run["out"]["training"]
    losses = tr.get("epoch_losses") or []
    numbers = {"recipe": run["recipe"], **_curve(tr)}
    numbers.pop("batch_losses", None)
    if tr.get("stopped") == "non-finite loss":
        return Verdict(False, f"the training loss became NaN or infinite at batch {len(tr.get('batch_losses', [])) + 1} "
                       f"of epoch {len(losses) + 1}", "look for log(0), division by zero, or an exploding recurrence; the harness already "
                       "clips gradients at norm " + f"{run['recipe']['clip']:g}", numbers)
    if tr.get("stopped") == "time budget":
        return Verdict(False, f"training stopped at the time budget of {run['recipe']['time_budget_s']:g} s after "
                       f"{tr.get('epochs_done')} of {run['recipe']['epochs']} epochs; the model was evaluated as it was",
                       "make the model smaller or cheaper per step, or ask for fewer epochs in HYPERPARAMETERS", numbers)
    if len(losses) >= 2 and not losses[-1] < losses[0]:
        return Verdict(False, f"the training loss did not go down ({losses[0]:.4g} in the first epoch, {losses[-1]:.4g} "
                       "in the last)", "check that forward uses its input and that the parameters are registered "
                       "(nn.Module attributes or nn.Parameter)", numbers)
    return Verdict(True, f"trained {tr.get('epochs_done')} epochs in {tr.get('seconds', 0):.1f} s; loss "
                   f"{losses[0]:.4g} → {losses[-1]:.4g}" if losses else "trained", numbers=numbers)


def graded_figure(ctx: Context, name: str, higher_is_better: bool, label: str, baseline_name: str,
                  log_scale: bool = False, fmt: str = ".4g") -> Verdict:
    """Points between a baseline (0) and the target (full), as the spec's options say."""
    figures = student_figures(ctx)
    value = figures[name]
    base = baselines(ctx)
    baseline = base["classical"][baseline_name][name] if baseline_name in base["classical"] else base["reference"][name]
    optimum = optimum_of(ctx.data, name)
    target_kind = "optimum" if ctx.options["target"] == "optimum" and optimum is not None else "reference model"
    target = optimum if target_kind == "optimum" else base["reference"][name]
    better = (lambda a, b: a > b) if higher_is_better else (lambda a, b: a < b)  # noqa: E731
    note = ""
    if not better(target, baseline):
        # on a small split the reference model can do no better than the spec's baseline: points then run from
        # the strongest classical baseline it does beat (or, with none, full points for matching it)
        weaker = [(k, v[name]) for k, v in base["classical"].items()
                  if isinstance(v.get(name), (int, float)) and better(target, v[name])]
        note = f" ({baseline_name} does better than the {target_kind} here)"
        if weaker:
            baseline_name, baseline = max(weaker, key=lambda kv: kv[1] if higher_is_better else -kv[1])
        else:
            baseline = target
    rel = metrics.relative_score(value, baseline, target, higher_is_better, log_scale=log_scale)
    fraction = min(1.0, rel / ctx.options["full_at"]) if ctx.options["full_at"] > 0 else 1.0
    numbers = {name: value, "baseline": {baseline_name: baseline}, "target": {target_kind: target},
               "reference_model": base["reference"][name], "optimum": optimum,
               "classical": {k: v.get(name) for k, v in base["classical"].items()}, "relative": rel}
    passed = rel >= ctx.options["pass_at"]
    message = (f"{label} {value:{fmt}} — {baseline_name} {baseline:{fmt}}, reference model "
               f"{base['reference'][name]:{fmt}}" + (f", best achievable {optimum:{fmt}}" if optimum is not None else "")
               + f": {100 * rel:.0f}% of the way from {baseline_name} to the {target_kind}{note}")
    hint = "" if fraction >= 1 else (
        f"full points from {100 * ctx.options['full_at']:.0f}% of the way; train longer (HYPERPARAMETERS), "
        "or change the model's size or cell")
    return Verdict(passed, message, hint, numbers, fraction=fraction)


def optimum_of(data, name: str):
    opt = data.optimum
    if name == "accuracy":
        return opt.get("bayes_accuracy_test", opt.get("bayes_accuracy"))
    return opt.get(name)


# --------------------------------------------------------------------------- registration


GRADED = {"target": "optimum", "full_at": 0.9, "pass_at": 0.5}


def _register(module: str) -> None:
    needs = ["build_model"]
    register(f"{module}.interface", needs, "build_model and the output's shape; HYPERPARAMETERS in bounds",
             prepare=baselines)(check_interface)
    register(f"{module}.training", needs, "trains with the harness's recipe: finite, decreasing loss, in budget",
             prepare=baselines)(check_training)


for _m in FAMILIES:
    _register(_m)


@register("sentiment.accuracy", ["build_model"], "test accuracy between the majority class and Bayes accuracy",
          prepare=baselines, **GRADED)
def check_accuracy(ctx: Context) -> Verdict:
    return graded_figure(ctx, "accuracy", True, "test accuracy", "majority class", fmt=".3f")


@register("sentiment.macro_f1", ["build_model"], "macro-F1 between the majority class and the reference model",
          prepare=baselines, **{**GRADED, "target": "reference"})
def check_macro_f1(ctx: Context) -> Verdict:
    return graded_figure(ctx, "macro_f1", True, "test macro-F1", "majority class", fmt=".3f")


@register("sentiment.learns", ["build_model"], "accuracy clearly above the majority class",
          prepare=baselines, margin=0.05)
def check_learns(ctx: Context) -> Verdict:
    acc = student_figures(ctx)["accuracy"]
    majority = baselines(ctx)["classical"]["majority class"]["accuracy"]
    if acc < majority + ctx.options["margin"]:
        return Verdict(False, f"test accuracy {acc:.3f} is at the level of always predicting the majority class "
                       f"({majority:.3f})", "the model is not learning: check that the output depends on the input "
                       "and that the loss goes down", {"accuracy": acc, "majority": majority})
    return Verdict(True, f"test accuracy {acc:.3f} is above the majority class's {majority:.3f}",
                   numbers={"accuracy": acc, "majority": majority})


CAUSAL_ATOL = 1e-5


@register("next_word.causal", ["build_model"], "changing later tokens does not change earlier predictions",
          prepare=baselines, atol=CAUSAL_ATOL)
def check_causal(ctx: Context) -> Verdict:
    change = student_figures(ctx).get("causal_change")
    cut = student_run(ctx)["out"]["causal"]["cut"]
    if change is None:
        return Verdict(False, "the causality probe could not be evaluated (the outputs had different shapes)")
    if change > ctx.options["atol"]:
        return Verdict(False, f"changing the tokens from position {cut} on changed the predictions at earlier "
                       f"positions by up to {change:.3g}: the model looks at future tokens",
                       "a language model may only read tokens up to t when predicting t+1: no bidirectional layer, "
                       "no attention without a causal mask", {"max_change": change})
    return Verdict(True, f"predictions before position {cut} do not depend on later tokens (max change {change:.2g})",
                   numbers={"max_change": change})


@register("next_word.perplexity", ["build_model"], "test perplexity between the unigram model and the optimum",
          prepare=baselines, **GRADED)
def check_perplexity(ctx: Context) -> Verdict:
    verdict = graded_figure(ctx, "perplexity", False, "test perplexity", "unigram (add-one)", log_scale=True,
                            fmt=".3f")
    change = student_figures(ctx).get("causal_change")
    if change is None or change > CAUSAL_ATOL:
        return Verdict(False, "no perplexity points: the model is not causal, so its perplexity is not a language "
                       "model's (it can read the word it predicts)", "see next_word.causal", verdict.numbers, fraction=0.0)
    return verdict


@register("translation.bleu", ["build_model"], "corpus BLEU of greedy decodes between a dictionary and BLEU 100",
          prepare=baselines, **GRADED)
def check_bleu(ctx: Context) -> Verdict:
    verdict = graded_figure(ctx, "bleu", True, "corpus BLEU", "word-by-word dictionary", fmt=".1f")
    verdict.numbers["signature"] = student_figures(ctx)["bleu_signature"]
    verdict.numbers["examples"] = student_figures(ctx)["hypotheses"]
    return verdict


@register("forecasting.mase", ["build_model"], "MASE on the holdout between seasonal naive and the target",
          prepare=baselines, **{**GRADED, "target": "reference"})
def check_mase(ctx: Context) -> Verdict:
    verdict = graded_figure(ctx, "mase", False, "holdout MASE", "seasonal naive", fmt=".3f")
    figures = student_figures(ctx)
    verdict.message += f" (RMSE {figures['rmse']:.1f}, MAPE {figures['mape']:.1f}%)"
    verdict.numbers.update({k: figures[k] for k in ("rmse", "mae", "mape", "smape")})
    return verdict


@register("forecasting.uses_input", ["build_model"], "the forecast changes when the input window changes",
          prepare=baselines, atol=1e-6)
def check_uses_input(ctx: Context) -> Verdict:
    probe = student_run(ctx)["out"]["probe"]
    a, b = probe["a"], probe["b"]
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape):
        return Verdict(False, f"the forecasts of two batches of windows were {describe(a)} and {describe(b)}")
    change = float((a - b).abs().max())
    if change <= ctx.options["atol"]:
        return Verdict(False, "the forecast is the same whatever the input window: the model ignores its input",
                       "forecast from x: run the recurrent layer over the window and map its last state to the horizon",
                       {"max_change": change})
    return Verdict(True, f"the forecast depends on the input window (max change {change:.3g})",
                   numbers={"max_change": change})


# --------------------------------------------------------------------------- figures


@register_figure("sentiment.training", ["build_model"], "Training loss")
@register_figure("next_word.training", ["build_model"], "Training loss")
@register_figure("translation.training", ["build_model"], "Training loss")
@register_figure("forecasting.training", ["build_model"], "Training loss")
def training_curve(ctx: Context) -> dict:
    series = [{"label": "reference model", "who": "reference",
               "values": baselines(ctx)["reference"]["training"]["batch_losses"]}]
    series.append({"label": "yours", "who": "student", "values": student_run(ctx)["out"]["training"]["batch_losses"]})
    return {"kind": "lines", "x_label": "batch", "y_label": "training loss", "log_y": False, "smooth": True,
            "series": series, "caption": "Both trained by the harness with the same recipe and seed."}


@register_figure("sentiment.confusion", ["build_model"], "Confusion matrix on the test split")
def confusion(ctx: Context) -> dict:
    names = ctx.data.class_names
    return {"kind": "matrix", "rows": names, "cols": names, "values": student_figures(ctx)["confusion"],
            "x_label": "predicted", "y_label": "true", "normalise": "rows"}


def _bars(ctx: Context, name: str, lower_is_better: bool, y_label: str, log_y: bool = False) -> dict:
    base = baselines(ctx)
    bars = [{"label": "yours", "value": student_figures(ctx)[name], "who": "student"},
            {"label": "reference model", "value": base["reference"][name], "who": "reference"}]
    bars += [{"label": k, "value": v[name], "who": "baseline"} for k, v in base["classical"].items()]
    optimum = optimum_of(ctx.data, name)
    if optimum is not None:
        bars.append({"label": "best achievable", "value": optimum, "who": "optimum"})
    return {"kind": "bars", "bars": bars, "y_label": y_label, "log_y": log_y, "lower_is_better": lower_is_better}


@register_figure("sentiment.accuracy", ["build_model"], "Test accuracy next to the baselines and the Bayes accuracy")
def accuracy_bars(ctx: Context) -> dict:
    return _bars(ctx, "accuracy", False, "test accuracy")


@register_figure("next_word.perplexity", ["build_model"], "Test perplexity next to the baselines and the optimum")
def perplexity_bars(ctx: Context) -> dict:
    return _bars(ctx, "perplexity", True, "test perplexity", log_y=True)


@register_figure("next_word.samples", ["build_model"], "Text generated by your model")
def samples(ctx: Context) -> dict:
    out, vocab = student_run(ctx)["out"], ctx.data.vocab
    text = lambda ids: " ".join(vocab.decode([int(i) for i in ids]))  # noqa: E731
    rows = [{"label": f"T = {t}", "text": text(seq)} for t, draws in out["samples"].items()
            for seq in (draws if isinstance(draws, torch.Tensor) else [])]
    beam = out.get("beam")
    if isinstance(beam, list):
        rows += [{"label": f"beam (width 3), log p = {score:.2f}", "text": text(tokens)} for tokens, score in beam[:3]]
    return {"kind": "text", "rows": rows, "note": "Sampled with the harness's sampler from softmax(logits / T); "
            "beam search keeps the 3 best prefixes by summed log-probability."}


@register_figure("translation.bleu", ["build_model"], "Corpus BLEU next to the baselines")
def bleu_bars(ctx: Context) -> dict:
    return _bars(ctx, "bleu", False, f"corpus BLEU ({student_figures(ctx)['bleu_signature']})")


@register_figure("translation.attention", ["build_model"], "Attention weights of your model on test sentences")
def attention_maps(ctx: Context) -> dict | None:
    decoded = student_run(ctx)["out"]["decoded"]
    att = decoded.get("attention") if isinstance(decoded, dict) else None
    data = ctx.data
    if not isinstance(att, torch.Tensor) or att.dim() != 3:
        return {"kind": "text", "rows": [], "note": "Your model does not set model.attention (B, T, S), so there is "
                "no heatmap. The contract allows it: set self.attention to the weights after a forward."}
    items = []
    for k in range(min(3, att.shape[0])):
        src = data.src_vocab.decode(data.test.src[k].tolist(), keep_special=False)
        tgt = data.tgt_vocab.decode(decoded["tokens"][k].tolist(), keep_special=False)
        values = att[k, :len(tgt) + 1, :len(src) + 1].tolist()
        items.append({"title": data.test.pairs[k][0], "rows": tgt + ["<eos>"], "cols": src + ["<eos>"], "values": values})
    return {"kind": "heatmaps", "items": items}


@register_figure("forecasting.forecast", ["build_model"], "Forecast against the actual series, holdout shaded")
def forecast_plot(ctx: Context) -> dict:
    data = ctx.data
    n_train = len(data.train)
    start = max(0, n_train - 48)
    months = data.months[start:]
    pad = [None] * (n_train - start)
    base = baselines(ctx)
    series = [{"label": "actual", "who": "actual", "values": [float(v) for v in data.values[start:]]},
              {"label": "yours", "who": "student", "values": pad + student_figures(ctx)["forecast"]},
              {"label": "reference model", "who": "reference", "values": pad + base["reference"]["forecast"]}]
    seasonal = base["classical"]["seasonal naive"]["forecast"]
    series.append({"label": "seasonal naive", "who": "baseline", "values": pad + seasonal})
    return {"kind": "lines", "x_labels": months, "x_label": "month", "y_label": "value", "log_y": False,
            "shade": {"from": n_train - start, "to": len(months) - 1, "label": "holdout"}, "series": series}

