"""The training recipe a course teaches: optimiser, learning-rate schedule and early stopping (harness/recipe.py,
harness/runtime/recipe.py). Each option changes what training does; bad values are refused naming the key, what it
must be and how to write it; a student's HYPERPARAMETERS are kept to the task's bounds; the recipe is in the
reference cache's key. Tiny models and few epochs: nothing here depends on timing."""
from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import pytest
import torch

from harness.checks.trained import _cache_path, training_split
from harness.errors import SpecError
from harness.recipe import read_hyperparameters, read_training, recipe_for
from harness.runtime.training import train
from harness.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]


def recipe(text: str = "") -> dict:
    """The recipe of a [training] table written as TOML (``text``: its lines)."""
    import tomllib

    return read_training(Path("task.toml"), tomllib.loads(text).get("training", {}))


def runnable(resolved: dict, **extra) -> dict:
    return {**{k: v for k, v in resolved.items() if k not in ("bounds", "cpu_budget_s")},
            "loss": "regression", "seed": 0, **extra}


def regression(n: int = 64, seed: int = 0, noise: bool = False) -> dict:
    """x (n, 4) -> y (n, 2), a linear map (or, with ``noise``, targets that are pure noise: memorised, not learnt)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=gen)
    y = torch.randn(n, 2, generator=gen) if noise else x @ torch.randn(4, 2, generator=gen)
    return {"x": x, "y": y}


def model(hidden: int = 0) -> torch.nn.Module:
    torch.manual_seed(0)
    if hidden:
        return torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 2))
    return torch.nn.Linear(4, 2)


def run(resolved: dict, data: dict | None = None, valid: dict | None = None, hidden: int = 0, **extra):
    net = model(hidden)
    report = train(net, data or regression(), runnable(resolved, **extra), valid)
    return net, report


# --------------------------------------------------------------------------- each option changes what happens


def test_the_default_is_adam_with_torchs_defaults_and_nothing_held_out():
    r = recipe("[training]\nlr = 0.01\n")
    assert r["optimizer"] == {"kind": "adam", "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0}
    assert r["schedule"] == {"kind": "none"} and r["early_stopping"] is None
    net, report = run(r, epochs=3, batch_size=16)
    # the same as torch.optim.Adam(lr) stepped by hand on the same batches
    twin = model()
    adam = torch.optim.Adam(twin.parameters(), lr=0.01)
    gen, data = torch.Generator().manual_seed(0), regression()
    for _ in range(3):
        order = torch.randperm(64, generator=gen)
        for i in range(0, 64, 16):
            idx = order[i:i + 16]
            loss = torch.nn.functional.mse_loss(twin(data["x"][idx]), data["y"][idx])
            adam.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(twin.parameters(), 1.0)
            adam.step()
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), twin.state_dict().values()))
    assert report["valid_losses"] == [] and report["lrs"] == [0.01] * 3 and report["epoch_kept"] == 3


@pytest.mark.parametrize("other", ['"rmsprop"', '"sgd"', '"adamw"', '{ kind = "sgd", momentum = 0.9 }',
                                   '{ kind = "adam", betas = [0.5, 0.9] }', '{ kind = "rmsprop", alpha = 0.9 }'])
def test_another_optimiser_or_parameter_trains_differently(other):
    base = run(recipe("[training]\nlr = 0.01\n"), epochs=2, batch_size=16)[1]["batch_losses"]
    changed = run(recipe(f"[training]\nlr = 0.01\noptimizer = {other}\n"), epochs=2, batch_size=16)[1]["batch_losses"]
    assert base[0] == changed[0]  # the same first batch, before any step
    assert base[1:] != changed[1:]


def test_sgd_momentum_and_nesterov_each_change_the_steps():
    losses = [run(recipe(f"[training]\nlr = 0.05\noptimizer = {opt}\n"), epochs=2, batch_size=16)[1]["batch_losses"]
              for opt in ('"sgd"', '{ kind = "sgd", momentum = 0.9 }',
                          '{ kind = "sgd", momentum = 0.9, nesterov = true }')]
    assert losses[0] != losses[1] != losses[2] != losses[0]


@pytest.mark.parametrize("schedule, lrs", [
    ('{ kind = "step", step_size = 2, gamma = 0.5 }', [0.1, 0.1, 0.05, 0.05, 0.025]),
    ('"step"', [0.1, 0.01, 0.001, 1e-4, 1e-5]),
    ('{ kind = "cosine", eta_min = 0.02 }', [0.02 + 0.04 * (1 + math.cos(math.pi * e / 5)) for e in range(5)]),
])
def test_a_schedule_sets_each_epochs_learning_rate(schedule, lrs):
    _, report = run(recipe(f"[training]\nlr = 0.1\nschedule = {schedule}\n"), epochs=5, batch_size=16)
    assert report["lrs"] == pytest.approx(lrs)


def test_the_plateau_schedule_lowers_the_rate_when_the_validation_loss_stalls():
    train_rows, valid = regression(64, 0, noise=True), regression(32, 1, noise=True)  # nothing to learn: it stalls
    r = recipe('[training]\nlr = 0.05\nschedule = { kind = "plateau", factor = 0.5, patience = 1 }\n')
    _, report = run(r, train_rows, valid, hidden=32, epochs=8, batch_size=16)
    assert len(report["valid_losses"]) == 8
    assert report["lrs"][0] == 0.05 and report["lrs"][-1] < 0.05
    drops = [i for i in range(1, 8) if report["lrs"][i] < report["lrs"][i - 1]]
    assert drops and all(report["lrs"][i] == pytest.approx(report["lrs"][i - 1] / 2) for i in drops)
    valid = report["valid_losses"]
    for i in drops:  # each drop follows two epochs (patience 1, then one more) without a new best validation loss
        assert min(valid[i - 2:i]) >= min(valid[:i - 2]) * (1 - 1e-4)
    _, fixed = run(recipe("[training]\nlr = 0.05\n"), train_rows, valid=None, hidden=32, epochs=8, batch_size=16)
    assert fixed["lrs"] == [0.05] * 8


# --------------------------------------------------------------------------- early stopping


def overfitting(**stopping):
    """A net that memorises noise: its validation loss (fresh noise) rises once it starts to memorise."""
    text = ", ".join(f"{k} = {v}" for k, v in stopping.items())
    r = recipe(f"[training]\nlr = 0.02\nearly_stopping = {{ {text} }}\n")
    return run(r, regression(48, 0, noise=True), regression(48, 1, noise=True), hidden=64, epochs=40, batch_size=8)


def test_early_stopping_stops_at_patience_and_restores_the_best_epoch():
    net, report = overfitting(patience=3)
    valid = report["valid_losses"]
    best = valid.index(min(valid)) + 1
    assert report["stopped"] == "early stopping" and report["epoch_kept"] == best
    assert report["epochs_done"] == best + 3 < 40 and len(valid) == best + 3
    assert all(v >= valid[best - 1] for v in valid[best:])  # the curve rose (or stayed) after the epoch kept
    # the weights graded are those of the epoch kept: the same run stopped by its epochs there has them
    again = model(64)
    r = recipe("[training]\nlr = 0.02\n")
    train(again, regression(48, 0, noise=True), runnable(r, epochs=best, batch_size=8))
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values()))


def test_early_stopping_is_the_same_on_every_run():
    """No clock in it: two runs stop at the same epoch with the same curves and weights (timings aside)."""
    (a, first), (b, second) = overfitting(patience=3), overfitting(patience=3)
    timings = ("seconds", "cpu_seconds")
    assert {k: v for k, v in first.items() if k not in timings} == {k: v for k, v in second.items() if k not in timings}
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_min_delta_asks_for_a_larger_improvement_and_stops_sooner():
    _, plain = overfitting(patience=2)
    _, strict = overfitting(patience=2, min_delta=0.5)
    assert strict["epochs_done"] < plain["epochs_done"] and strict["epoch_kept"] <= plain["epoch_kept"]


def test_a_run_that_keeps_improving_keeps_its_last_epoch_and_completes():
    r = recipe("[training]\nlr = 0.02\nearly_stopping = { patience = 2 }\n")
    _, report = run(r, regression(64, 0), regression(32, 1), epochs=4, batch_size=16)
    assert report["stopped"] == "completed" and report["epoch_kept"] == 4 == report["epochs_done"]
    assert report["valid_losses"] == sorted(report["valid_losses"], reverse=True)


def test_the_validation_rows_are_held_out_of_training():
    from harness.checks import load_builtin_checks
    from harness.checks.trained import family_of

    load_builtin_checks()  # the families, registered in their own order
    spec = load_spec(ROOT / "tasks" / "next_word" / "task.toml")
    data = spec.data
    fam = family_of(spec)
    off = recipe_for(spec.training, {})
    rows, valid = training_split(fam, data, off, spec.seed)
    assert valid is None and torch.equal(rows["x"], data.train.inputs)
    on = {**off, "early_stopping": {"patience": 2, "min_delta": 0.0}}
    rows, valid = training_split(fam, data, on, spec.seed)
    n = data.train.inputs.shape[0]
    assert valid["x"].shape[0] == round(0.1 * n) and rows["x"].shape[0] + valid["x"].shape[0] == n
    seen = {tuple(r.tolist()) for r in rows["x"]}
    assert sum(tuple(r.tolist()) in seen for r in valid["x"]) < valid["x"].shape[0]  # rows, not copies of them
    assert training_split(fam, data, on, spec.seed)[1]["x"].equal(valid["x"])  # drawn by the seed: the same
    series = load_spec(ROOT / "tasks" / "forecasting" / "task.toml")
    sdata = series.data
    rows, valid = training_split(family_of(series), sdata, {**recipe_for(series.training, {}), **on}, series.seed)
    k, h = valid["x"].shape[0], sdata.horizon
    assert torch.equal(valid["x"], sdata.X[-k:]) and torch.equal(rows["x"], sdata.X[:sdata.X.shape[0] - k - h + 1])
    # no value a validation window is scored on is one a training window was trained to predict
    last_trained = (rows["x"].shape[0] - 1) + sdata.window + h - 1
    first_validated = (sdata.X.shape[0] - k) + sdata.window
    assert last_trained < first_validated


# --------------------------------------------------------------------------- refused, naming what is wrong


@pytest.mark.parametrize("line, key, words", [
    ('optimizer = "adagrad"', "[training].optimizer.kind",
     "unknown optimizer 'adagrad' — allowed: adam, adamw, rmsprop, sgd"),
    ('optimizer = "rmsprob"', "[training].optimizer.kind", "did you mean 'rmsprop'?"),
    ("optimizer = 3", "[training].optimizer", "must be one of adam, adamw, rmsprop, sgd, or a table"),
    ('optimizer = { momentum = 0.9 }', "[training].optimizer", 'e.g. optimizer = { kind = "sgd", momentum = 0.9 }'),
    ('optimizer = { kind = "adam", momentum = 0.9 }', "[training].optimizer.momentum",
     "adam does not take 'momentum' — adam takes betas, eps, weight_decay; momentum is a parameter of rmsprop, sgd"),
    ('optimizer = { kind = "sgd", momentum = 1.0 }', "[training].optimizer.momentum",
     "must be a number in [0, 1), got 1.0"),
    ('optimizer = { kind = "sgd", momentum = nan }', "[training].optimizer.momentum",
     "must be a number in [0, 1), got nan"),
    ('optimizer = { kind = "sgd", momentum = "0.9" }', "[training].optimizer.momentum", "must be a number, got '0.9'"),
    ('optimizer = { kind = "sgd", nesterov = 1 }', "[training].optimizer.nesterov", "must be true or false, got 1"),
    ('optimizer = { kind = "sgd", nesterov = true }', "[training].optimizer.nesterov", "needs a momentum > 0"),
    ('optimizer = { kind = "adam", betas = [0.9] }', "[training].optimizer.betas", "must be [b1, b2], each in [0, 1)"),
    ('optimizer = { kind = "adam", betas = [0.9, 1.0] }', "[training].optimizer.betas", "got [0.9, 1.0]"),
    ('optimizer = { kind = "adamw", eps = 0 }', "[training].optimizer.eps", "must be a number in (0, 1], got 0"),
    ('optimizer = { kind = "adamw", weight_decay = -1e300 }', "[training].optimizer.weight_decay",
     "must be a number in [0, 1], got -1e+300"),
    ('optimizer = { kind = "sgd", weight_decay = 1e300 }', "[training].optimizer.weight_decay",
     "must be a number in [0, 1], got 1e+300"),
    ('optimizer = { kind = "rmsprop", alpha = inf }', "[training].optimizer.alpha",
     "must be a number in [0, 1), got inf"),
    ('schedule = "exponential"', "[training].schedule.kind",
     "unknown schedule 'exponential' — allowed: cosine, none, plateau, step"),
    ('schedule = { kind = "step", gamma = 0 }', "[training].schedule.gamma", "must be a number in (0, 1], got 0"),
    ('schedule = { kind = "step", step_size = 1.5 }', "[training].schedule.step_size",
     "must be a whole number, got 1.5"),
    ('schedule = { kind = "cosine", factor = 0.5 }', "[training].schedule.factor",
     "cosine does not take 'factor' — cosine takes eta_min; factor is a parameter of plateau"),
    ('schedule = { kind = "plateau", factor = 1 }', "[training].schedule.factor", "must be a number in (0, 1), got 1"),
    ("early_stopping = 3", "[training].early_stopping", "must be a table with patience (and min_delta), got 3"),
    ("early_stopping = { min_delta = 0.1 }", "[training].early_stopping", "e.g. early_stopping = { patience = 3"),
    ("early_stopping = { patience = -1 }", "[training].early_stopping.patience",
     "must be a whole number ≥ 0, got -1"),
    ("early_stopping = { patience = 2.5 }", "[training].early_stopping.patience", "must be a whole number, got 2.5"),
    ("early_stopping = { patience = 2, min_delta = nan }", "[training].early_stopping.min_delta", "got nan"),
    ("early_stopping = { patience = 2, restore = true }", "[training].early_stopping.restore",
     "unknown key — allowed: min_delta, patience"),
    ("validation_fraction = 0.9", "[training].validation_fraction", "must be a number in (0, 0.5]"),
    ("validation_fraction = 0", "[training].validation_fraction", "must be a number in (0, 0.5]"),
    ("optimiser = \"sgd\"", "[training].optimiser", "did you mean 'optimizer'?"),
])
def test_a_bad_recipe_is_refused_naming_the_key_and_what_it_must_be(line, key, words):
    with pytest.raises(SpecError) as raised:
        recipe(f"[training]\n{line}\n")
    assert raised.value.key == key
    assert words in str(raised.value)


@pytest.mark.parametrize("bounds, words", [
    ('optimizer = ["adam", "adagrad"]', "unknown optimizer 'adagrad'"),
    ("optimizer = []", 'must be a list of the optimisers a student may choose, got [] — e.g. optimizer = ["adam"'),
    ("optimizer = [0.1, 0.2]", "must be a list of the optimisers"),
    ("momentum = [0, 1.5]", "must be a number in [0, 1), got 1.5"),
    ("patience = [3, 1]", "must be [low, high], got [3, 1]"),
    ("patience = [1, nan]", "must be [low, high]"),
    ("alpha = [0.8, 0.9]", "cannot be set by a student"),
])
def test_bad_bounds_are_refused(bounds, words):
    with pytest.raises(SpecError, match=re.escape(words)):
        recipe(f"[training]\n[training.bounds]\n{bounds}\n")


# --------------------------------------------------------------------------- a student's HYPERPARAMETERS


BOUNDED = ('[training]\nlr = 0.01\noptimizer = { kind = "sgd", momentum = 0.5 }\n'
           '[training.bounds]\noptimizer = ["sgd", "rmsprop", "adam"]\nmomentum = [0, 0.95]\npatience = [1, 5]\n'
           "weight_decay = [0, 0.01]\n")


@pytest.mark.parametrize("hyper, usable, problem", [
    ({"optimizer": "rmsprop", "momentum": 0.9}, {"optimizer": "rmsprop", "momentum": 0.9}, None),
    ({"optimizer": "adagrad"}, {}, "HYPERPARAMETERS['optimizer'] = 'adagrad' is not one this task allows "
                                   "(sgd, rmsprop, adam); the harness used sgd"),
    ({"optimizer": ["adam"]}, {}, "HYPERPARAMETERS['optimizer'] = a list of 1 is not one this task allows"),
    ({"optimizer": "x" * 10**6}, {}, "HYPERPARAMETERS['optimizer'] = str 'xxxx"),
    ({"momentum": "0.9"}, {}, "HYPERPARAMETERS['momentum'] must be a number, got '0.9'; it is ignored"),
    ({"optimizer": "adam", "momentum": 0.9}, {"optimizer": "adam"},
     "HYPERPARAMETERS['momentum']: adam takes no momentum; momentum is a parameter of rmsprop, sgd; it is ignored"),
    ({"momentum": 2.0}, {"momentum": 0.95},
     "HYPERPARAMETERS['momentum'] = 2 is outside [0, 0.95]; the harness used 0.95"),
    ({"momentum": float("nan")}, {}, "HYPERPARAMETERS['momentum'] must be a number, got nan; it is ignored"),
    ({"patience": 10**9}, {"patience": 5}, "is outside [1, 5]; the harness used 5"),
    ({"patience": 2.5}, {"patience": 2},
     "HYPERPARAMETERS['patience'] = 2.5 must be a whole number; the harness used 2"),
    ({"min_delta": 0.1}, {}, "HYPERPARAMETERS['min_delta'] is not one the spec lets you set"),
])
def test_hyperparameters_are_kept_to_the_bounds_with_a_clear_problem(hyper, usable, problem):
    training = recipe(BOUNDED)
    got, problems = read_hyperparameters(hyper, training)
    assert got == usable
    assert (problem is None and problems == []) or any(problem in p for p in problems), problems
    assert all(len(p) < 400 for p in problems)


def test_hyperparameters_choose_the_optimiser_and_turn_early_stopping_on():
    training = recipe(BOUNDED)
    same = recipe_for(training, read_hyperparameters({"momentum": 0.9}, training)[0])
    assert same["optimizer"] == {"kind": "sgd", "momentum": 0.9, "nesterov": False, "weight_decay": 0.0}
    other = recipe_for(training, read_hyperparameters({"optimizer": "rmsprop", "patience": 2}, training)[0])
    assert other["optimizer"] == {"kind": "rmsprop", "alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "weight_decay": 0.0}
    assert other["early_stopping"] == {"patience": 2, "min_delta": 0.0}
    assert training["early_stopping"] is None and training["optimizer"]["kind"] == "sgd"  # the spec's is untouched


# --------------------------------------------------------------------------- the reference cache


def test_the_cache_key_changes_with_every_part_of_the_recipe(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "sentiment"
    shutil.copytree(ROOT / "tasks" / "sentiment", folder, ignore=shutil.ignore_patterns("__pycache__"))
    spec = load_spec(folder / "task.toml")
    base = recipe_for(spec.training, {})
    variants = [base, {**base, "optimizer": {**base["optimizer"], "kind": "adamw"}},
                {**base, "optimizer": {**base["optimizer"], "eps": 1e-7}},
                {**base, "schedule": {"kind": "step", "step_size": 1, "gamma": 0.1}},
                {**base, "early_stopping": {"patience": 2, "min_delta": 0.0}},
                {**base, "early_stopping": {"patience": 3, "min_delta": 0.0}},
                {**base, "validation_fraction": 0.2}]
    keys = {_cache_path(spec, spec.data, r).name for r in variants}
    assert len(keys) == len(variants)
    assert _cache_path(spec, spec.data, recipe_for(spec.training, {})).name in keys  # and is stable


# --------------------------------------------------------------------------- graded through the worker


def small_sentiment(tmp_path: Path, training: str, hyper: str = "") -> tuple:
    """The sentiment task on a few hundred rows with ``training`` added to its recipe, and the reference
    submission (with ``hyper`` appended to it)."""
    folder = tmp_path / "tasks" / "sentiment"
    shutil.copytree(ROOT / "tasks" / "sentiment", folder, ignore=shutil.ignore_patterns("__pycache__"))
    path = folder / "task.toml"
    text = path.read_text().replace("noise = 0.05",
                                    "noise = 0.05\ntrain_size = 1000\nvalid_size = 100\ntest_size = 300")
    text = text.replace("epochs = 6\n", "epochs = 6\n" + training)
    path.write_text(text)
    submission = tmp_path / "student"
    submission.mkdir()
    (submission / "sentiment.py").write_text((ROOT / "submissions" / "reference" / "sentiment.py").read_text() + hyper)
    return load_spec(path), submission


def test_a_graded_recipe_with_rmsprop_and_early_stopping_says_which_epoch_it_kept(tmp_path):
    from harness.grading import grade

    runs = {}
    for name, training in (("adam", ""), ("rmsprop", 'optimizer = { kind = "rmsprop", alpha = 0.9 }\n'
                                                      "early_stopping = { patience = 1, min_delta = 0.01 }\n")):
        spec, submission = small_sentiment(tmp_path / name, training)
        results = grade(submission, [spec], visibility=("public",))
        runs[name] = ({c.id: c for c in results.checks}, {f["id"]: f for f in results.figures})
    checks, figures = runs["rmsprop"]
    training = checks["sentiment.training"]
    assert training.status == "passed", training.message
    numbers = training.numbers
    assert numbers["recipe"]["optimizer"]["kind"] == "rmsprop" and numbers["stopped"] in ("completed", "early stopping")
    assert len(numbers["valid_losses"]) == numbers["epochs_done"]
    assert 1 <= numbers["epoch_kept"] <= numbers["epochs_done"]
    assert f"kept epoch {numbers['epoch_kept']}, the best validation loss" in training.message
    assert min(numbers["valid_losses"]) == numbers["valid_losses"][numbers["epoch_kept"] - 1]
    curve = figures["sentiment.training"]["data"]
    assert curve["marks"] == [{"at": numbers["epoch_ends"][numbers["epoch_kept"] - 1] - 1,
                               "label": f"epoch {numbers['epoch_kept']} kept", "who": "student"}]
    adam_checks, adam_figures = runs["adam"]
    assert adam_checks["sentiment.training"].numbers["valid_losses"] == []
    assert "marks" not in adam_figures["sentiment.training"]["data"]
    assert adam_checks["sentiment.training"].numbers["epoch_losses"] != numbers["epoch_losses"]


@pytest.mark.parametrize("reply", [
    {}, {"epoch_kept": "2", "valid_losses": [0.5, 0.4]}, {"epoch_kept": 3, "valid_losses": [0.5, 0.4]},
    {"epoch_kept": True, "valid_losses": [0.5]}, {"epoch_kept": 1, "valid_losses": ["0.5"]},
    {"epoch_kept": 10**9, "valid_losses": [0.5]}, {"epoch_kept": 0, "valid_losses": [0.5]},
])
def test_a_reply_without_a_sane_epoch_kept_says_nothing_of_one(reply):
    from harness.checks.trained import epoch_kept

    stopping = {"early_stopping": {"patience": 2, "min_delta": 0.0}, "epochs": 5}
    assert epoch_kept(reply, stopping) == ""
    assert epoch_kept({"epoch_kept": 2, "valid_losses": [0.5, 0.25, 0.3], "stopped": "early stopping",
                       "epochs_done": 3}, stopping) == ("; stopped early after epoch 3 of 5: the validation loss had "
                                                         "not improved by more than 0 for 2 epochs; kept epoch 2, the "
                                                         "best validation loss (0.25)")


def test_the_students_contract_and_starter_state_the_recipe():
    from harness.release.contract import hyperparameters_section
    from harness.starter import hyperparameters_item

    spec = load_spec(ROOT / "tasks" / "sentiment" / "task.toml")
    assert "Training: Adam, gradients clipped" in hyperparameters_section(spec)
    spec.training = recipe('[training]\nlr = 0.01\noptimizer = { kind = "rmsprop", alpha = 0.9 }\n'
                           'schedule = { kind = "step", step_size = 2, gamma = 0.5 }\n'
                           "early_stopping = { patience = 3 }\n"
                           '[training.bounds]\noptimizer = ["rmsprop", "sgd"]\npatience = [1, 5]\n')
    text = hyperparameters_section(spec)
    assert "Training: RMSprop (alpha 0.9), the learning rate on the step schedule (step_size 2, gamma 0.5)" in text
    assert ("stopped early when the validation loss has not improved by more than 0 for 3 epochs (validation rows: "
            "0.1 of the training split), the best epoch's weights kept") in text
    assert "optimizer = rmsprop, patience = 3" in text and "optimizer one of rmsprop, sgd, patience in [1, 5]" in text
    code = hyperparameters_item(spec).code
    assert 'HYPERPARAMETERS = {"optimizer": "rmsprop", "patience": 3}' in code


def test_a_key_the_task_leaves_unset_is_left_out_of_the_starter_and_said_unset_in_the_contract():
    from harness.release.contract import hyperparameters_section
    from harness.starter import hyperparameters_item

    spec = load_spec(ROOT / "tasks" / "sentiment" / "task.toml")
    spec.training = recipe("[training]\nlr = 0.01\n[training.bounds]\nlr = [0.001, 0.1]\npatience = [1, 5]\n"
                           "momentum = [0, 0.9]\n")
    assert 'HYPERPARAMETERS = {"lr": 0.01}' in hyperparameters_item(spec).code
    assert "lr = 0.01, momentum = unset, patience = unset" in hyperparameters_section(spec)
    assert read_hyperparameters({"lr": 0.01}, spec.training) == ({"lr": 0.01}, [])


def test_a_students_run_through_the_worker_stops_early_and_is_scored_on_the_epoch_kept(tmp_path):
    """lr 0.02 for up to 15 epochs on 1000 reviews: the validation loss turns up and training stops two epochs on."""
    from harness.grading import grade

    spec, submission = small_sentiment(tmp_path, "early_stopping = { patience = 2 }\n",
                                       hyper='\nHYPERPARAMETERS = {"lr": 0.02, "epochs": 15}\n')
    checks = {c.id: c for c in grade(submission, [spec], visibility=("public",)).checks}
    training = checks["sentiment.training"]
    numbers, valid = training.numbers, training.numbers["valid_losses"]
    kept = valid.index(min(valid)) + 1
    assert training.status == "passed" and numbers["stopped"] == "early stopping"
    assert numbers["epoch_kept"] == kept and numbers["epochs_done"] == kept + 2 < 15
    assert (f"stopped early after epoch {kept + 2} of 15: the validation loss had not improved by more than 0 for 2 "
            f"epochs; kept epoch {kept}, the best validation loss ({min(valid):.4g})") in training.message
    assert checks["sentiment.accuracy"].status == "passed"


def test_a_reference_stopped_early_is_complete_and_one_stopped_by_its_budget_is_not():
    from harness.checks.trained import ReferenceUnfit, family_of, sane_reference

    spec = load_spec(ROOT / "tasks" / "sentiment" / "task.toml")
    figures = lambda stopped: {"reference": {"accuracy": 0.9, "macro_f1": 0.9, "training": {  # noqa: E731
        "stopped": stopped, "epochs_done": 3}}, "classical": {"majority class": {"accuracy": 0.5, "macro_f1": 0.33}}}
    sane_reference(spec, family_of(spec), figures("early stopping"), "public")
    with pytest.raises(ReferenceUnfit, match="stopped early on the public split \\(cpu budget, 3 epochs done\\)"):
        sane_reference(spec, family_of(spec), figures("cpu budget"), "public")


def test_the_guides_recipe_example_loads_as_it_says():
    guide = (ROOT / "docs" / "WRITING_TASKS.md").read_text(encoding="utf-8")
    example = guide.split("early stopping are the recipe's too")[1].split("```toml\n")[1].split("```")[0]
    r = recipe(example)
    assert r["optimizer"] == {"kind": "rmsprop", "alpha": 0.9, "eps": 1e-8, "momentum": 0.0, "weight_decay": 0.0}
    assert r["schedule"] == {"kind": "plateau", "factor": 0.5, "patience": 1, "min_lr": 0.0}
    assert r["early_stopping"] == {"patience": 3, "min_delta": 0.001} and r["validation_fraction"] == 0.1
    assert r["bounds"] == {"optimizer": ["adam", "rmsprop", "sgd"], "momentum": [0, 0.99], "patience": [1, 5]}
