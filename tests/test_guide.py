"""docs/WRITING_TASKS.md and the errors an instructor meets while following it.

The guide's lists that can drift are checked against the code they describe: every check id a trained family
registers, every ``[training]`` key with its bound, and the shapes each family's model is given and must return.
A misspelt check id suggests the nearest of *this* task's ids, never another family's.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.spec import default_tasks_dir, load_spec

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "WRITING_TASKS.md"
EXAMPLE_TASKS = ROOT / "docs" / "examples" / "tasks"


def task_copy(tmp_path: Path, name: str, tasks_dir: Path | None = None) -> Path:
    """A copy of a shipped task's folder, to misspell things in; its task.toml."""
    folder = tmp_path / name
    shutil.copytree((tasks_dir or default_tasks_dir()) / name, folder,
                    ignore=shutil.ignore_patterns("__pycache__"))
    return folder / "task.toml"


def spec_error(path: Path, old: str, new: str, file: Path | None = None) -> SpecError:
    """The error of loading ``path`` once ``old`` is replaced by ``new`` in it (or in ``file`` beside it)."""
    target = file or path
    text = target.read_text()
    assert old in text, old
    target.write_text(text.replace(old, new, 1))
    with pytest.raises(SpecError) as raised:
        load_spec(path)
    return raised.value


# --------------------------------------------------------------------------- an unknown check id


def test_a_misspelt_id_of_a_trained_task_suggests_its_own_id(tmp_path):
    path = task_copy(tmp_path, "sentiment")
    error = spec_error(path, '[checks."sentiment.accuracy"]', '[checks."sentiment.acuracy"]')
    assert error.path == str(path) and error.key == '[checks."sentiment.acuracy"]'
    assert error.problem == "unknown check id"
    assert error.fix.startswith("did you mean 'sentiment.accuracy'?")
    # how to declare a check instead, and where a written one goes
    assert "kind = one of beam, equals, gradcheck, gradients, greedy, implementation" in error.fix
    assert "register 'sentiment.acuracy' in the task's checks.py" in error.fix
    assert "classification." not in str(error)  # the task's own names, not the registry's


def test_another_familys_id_lists_this_tasks_ids_not_that_familys(tmp_path):
    """A classification task asking for perplexity: today's list of every family's definitions becomes the ids
    this task can have, named as the task names them."""
    path = task_copy(tmp_path, "sentiment")
    error = spec_error(path, '[checks."sentiment.accuracy"]', '[checks."sentiment.perplexity"]')
    assert "did you mean" not in error.fix
    assert error.fix.startswith("this task's ids are its classification family's: sentiment.accuracy, "
                                "sentiment.learns, sentiment.macro_f1, sentiment.interface, sentiment.training;")
    for other in ("perplexity", "causal", "bleu", "mase", "language_model", "series."):
        assert other not in error.fix.partition(";")[0], other


def test_a_misspelt_id_of_a_written_check_suggests_the_tasks_checks_py(tmp_path):
    path = task_copy(tmp_path, "cells")
    error = spec_error(path, '[checks."cells.LSTMCell.forward"]', '[checks."cells.LSTMcell.forwrd"]')
    assert re.match(r"did you mean 'cells\.LSTMCell\.forward'( or '[\w.]+'){0,2}\?;", error.fix), error.fix
    error = spec_error(path, '[checks."cells.LSTMcell.forwrd"]', '[checks."cells.attention"]')
    assert error.fix.startswith("this task's ids are its checks.py's: cells.Bidirectional.forward, ")
    assert "cells.clip_grad_value;" in error.fix and "trained." not in error.fix and "declared." not in error.fix


def test_a_misspelt_id_in_hidden_toml_names_that_file(tmp_path):
    path = task_copy(tmp_path, "cells")
    hidden = path.parent / "hidden.toml"
    error = spec_error(path, '[checks."cells.Bidirectional.forward"]', '[checks."cells.Bidirectional.froward"]', hidden)
    assert error.path == str(hidden) and error.key == '[checks."cells.Bidirectional.froward"]'
    assert error.fix.startswith("did you mean 'cells.Bidirectional.forward'?")


def test_a_task_with_only_declared_checks_is_told_how_to_declare(tmp_path):
    """The guide's example without its checks.py: no id is registered for it, so the fix is to declare."""
    path = task_copy(tmp_path, "charlm", EXAMPLE_TASKS)
    (path.parent / "checks.py").unlink()
    path.write_text(re.sub(r'\[checks\."charlm\.temperature_limits"\][^\[]*', "", path.read_text()))
    load_spec(path)  # a task of declared checks only
    error = spec_error(path, "\n[checks.", '\n[checks."charlm.softmax_t.forwrd"]\npoints = 1\n\n[checks.')
    assert error.key == '[checks."charlm.softmax_t.forwrd"]'
    assert error.fix.startswith("this task has no registered ids (no dataset, no checks.py beside task.toml "
                                "registering one); or declare the check: kind = one of ")


@pytest.mark.parametrize("bad", ["", "sentiment.", "." * 300, "sentiment." + "a" * 5000, "ünïcode.ïd"])
def test_odd_ids_are_refused_with_the_same_words(tmp_path, bad):
    path = task_copy(tmp_path, "sentiment")
    error = spec_error(path, '[checks."sentiment.accuracy"]', f'[checks."{bad}"]')
    assert error.problem == "unknown check id" and error.key == f'[checks."{bad}"]'
    assert "or declare the check: kind = one of" in error.fix


def test_a_misspelt_figure_suggests_this_tasks_figures(tmp_path):
    path = task_copy(tmp_path, "sentiment")
    error = spec_error(path, '"sentiment.confusion",', '"sentiment.confuson",')
    assert error.key == "figures" and error.fix == "did you mean 'sentiment.confusion'?"
    error = spec_error(path, '"sentiment.confuson",', '"sentiment.samples",')
    assert error.fix == ("this task's ids are its classification family's: sentiment.accuracy, sentiment.confusion, "
                         "sentiment.training")


# --------------------------------------------------------------------------- the guide's lists, from the code


def _value(v) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    return f'"{v}"' if isinstance(v, str) else f"{v:g}" if isinstance(v, float) else str(v)


def family_check_table() -> str:
    """The table of section 7 of the guide: every check and figure a trained family registers, as a task names it
    in task.toml (``<task>.accuracy``), with its description and the options a spec may set (their defaults)."""
    from harness.checks import FIGURES, REGISTRY, load_builtin_checks
    from harness.checks.trained import FAMILIES
    from harness.data.build import KINDS

    load_builtin_checks()
    rows = ["| id in `task.toml` | family (`[dataset].kind`) | what it tests | options (default) |",
            "|---|---|---|---|"]
    from harness.trained_by import FAMILIES as STUDENT_TRAINED

    families = [("trained", "every family"), ("fitted", f"{', '.join(STUDENT_TRAINED)}, student-trained")] + [
        (f, f"{f} ({', '.join(f'`{k}`' for k, v in KINDS.items() if v[0] == f)})") for f in FAMILIES]
    for prefix, words in families:
        for check_id, definition in REGISTRY.items():
            if check_id.startswith(f"{prefix}."):
                options = ", ".join(f"`{k}` ({_value(v)})" for k, v in definition.defaults().items())
                rows.append(f"| `<task>.{check_id.partition('.')[2]}` | {words} | {definition.description} "
                            f"| {options} |")
    for prefix, words in families:
        for figure_id, figure in FIGURES.items():
            if figure_id.startswith(f"{prefix}."):
                rows.append(f"| `<task>.{figure_id.partition('.')[2]}` in `figures` | {words} | {figure.title} "
                            "(a figure: not scored) | |")
    return "\n".join(rows)


def training_table() -> str:
    """The keys of [training], their defaults and the bounds harness/recipe.py enforces (test below)."""
    from harness.recipe import PLAIN, STUDENT_SETTABLE, TRAINING_DEFAULTS, TRAINING_OPTIONAL
    from harness.runtime.recipe import OPTIMIZERS, SCHEDULES

    choices = {"optimizer": f"one of {', '.join(OPTIMIZERS)}, or a table of its `kind` and parameters (below)",
               "schedule": f"one of {', '.join(SCHEDULES)}, or a table of its `kind` and parameters (below)",
               "early_stopping": "a table: `patience` and, optionally, `min_delta` (below); off without it"}
    settable = {"optimizer": "its kind, among the list `[training.bounds]` gives"}
    rows = ["| key | default | must be | a student's `HYPERPARAMETERS` may set it |", "|---|---|---|---|"]
    for key in [*TRAINING_DEFAULTS, *TRAINING_OPTIONAL]:
        default = _value(TRAINING_DEFAULTS[key]) if key in TRAINING_DEFAULTS else (
            "(off)" if key == "early_stopping" else "(derived)")
        may = settable.get(key, "yes, within `[training.bounds]`" if key in STUDENT_SETTABLE else "no")
        rows.append(f"| `{key}` | {default} | {PLAIN[key].what if key in PLAIN else choices[key]} | {may} |")
    return "\n".join(rows)


def recipe_parameters_table() -> str:
    """The parameters of each optimiser, schedule and early stopping, with their defaults and bounds."""
    from harness.recipe import PARAMETERS, STUDENT_SETTABLE
    from harness.runtime.recipe import EARLY_STOPPING, OPTIMIZERS, SCHEDULES

    rows = ["| of | parameter | default | must be | a student's `HYPERPARAMETERS` may set it |",
            "|---|---|---|---|---|"]
    groups = [*((f"`optimizer` {kind}", params) for kind, params in OPTIMIZERS.items()),
              *((f"`schedule` {kind}", params) for kind, params in SCHEDULES.items() if params),
              ("`early_stopping`", {"patience": None, **EARLY_STOPPING})]
    for where, params in groups:
        for key, default in params.items():
            may = "yes, within `[training.bounds]`" if key in STUDENT_SETTABLE and "schedule" not in where else "no"
            shown = "(required)" if default is None else _value(default)
            rows.append(f"| {where} | `{key}` | {shown} | {PARAMETERS[key].what} | {may} |")
    return "\n".join(rows)


def dataset_table() -> str:
    """Every [dataset] kind, its family, and the keys of [dataset] and [dataset.preprocessing] it takes with their
    defaults ("required" where there is none), as harness/data/build.py's KINDS says."""
    from harness.data.build import KINDS, OPTIONAL_NONE

    def keys(table: dict) -> str:
        def default(k, v) -> str:
            if v is None:
                return "unset" if k in OPTIONAL_NONE else "required"
            return str(v).lower() if isinstance(v, bool) else _value(v)

        shown = [f"`{k}` ({default(k, v)})" for k, v in table.items()]
        return ", ".join(shown) or "none"

    rows = ["| `kind` | family | `[dataset]` keys (default) | `[dataset.preprocessing]` keys (default) |",
            "|---|---|---|---|"]
    for kind, (fam, options, columns, pre) in KINDS.items():
        roles = ", ".join(f"{k} = {'unset' if v is None else _value(v)}" for k, v in columns.items())
        extra = f", `columns` ({roles})" if columns else ""
        rows.append(f"| `{kind}` | {fam} | {keys(options)}{extra} | {keys(pre)} |")
    return "\n".join(rows)


def test_the_guide_lists_every_dataset_kind_with_its_keys_and_defaults():
    assert dataset_table() in guide(), \
        "docs/WRITING_TASKS.md, section 7: paste the table `python tests/test_guide.py` prints"


def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def test_the_guide_lists_every_check_and_figure_of_every_family():
    table = family_check_table()
    assert table in guide(), "docs/WRITING_TASKS.md, section 7: paste the table `python tests/test_guide.py` prints"
    # every id the engine registers by itself (a fresh interpreter: a task's checks.py another test loaded
    # registers ids of its own here), but the declared kinds, is in the table
    listing = ("from harness.checks import FIGURES, REGISTRY, load_builtin_checks; load_builtin_checks(); "
               "print('\\n'.join([*REGISTRY, *FIGURES]))")
    engine = subprocess.run([sys.executable, "-c", listing], capture_output=True, text=True, check=True).stdout.split()
    assert len(engine) > 10
    for check_id in engine:
        if not check_id.startswith("declared."):
            assert f"`<task>.{check_id.partition('.')[2]}`" in table, check_id


def test_the_guide_lists_every_training_key_with_its_bound():
    from harness.checks.trained import BUDGET_FACTOR, BUDGET_FLOOR_S
    from harness.recipe import TRAINING_DEFAULTS, TRAINING_OPTIONAL
    from harness.runtime.recipe import EARLY_STOPPING, OPTIMIZERS, SCHEDULES

    table = training_table()
    assert table in guide(), "docs/WRITING_TASKS.md, section 7: paste the table `python tests/test_guide.py` prints"
    assert all(f"| `{key}` |" in table for key in [*TRAINING_DEFAULTS, *TRAINING_OPTIONAL])
    parameters = recipe_parameters_table()
    assert parameters in guide(), "docs/WRITING_TASKS.md, section 7: paste the tables python tests/test_guide.py prints"
    for params in [*OPTIMIZERS.values(), *SCHEDULES.values(), EARLY_STOPPING]:
        assert all(f"| `{key}` |" in parameters for key in params)
    assert f"{BUDGET_FACTOR} × the reference model's CPU seconds, at least {BUDGET_FLOOR_S:g}" in table


@pytest.mark.parametrize("line, refused", [
    ("lr = 0", "must be positive"), ("lr = 1e-9", None),
    ("epochs = 0", "must be positive"), ("epochs = 2.5", "must be a whole number"), ("epochs = 1", None),
    ("batch_size = 0", "must be positive"), ("batch_size = 3.5", "must be a whole number"), ("batch_size = 1", None),
    ("clip = 0", "must be positive"), ("clip = 0.01", None),
    ("reference_margin = -0.01", "must be 0 or more"), ("reference_margin = 0", None),
    ("cpu_budget_s = 0", "must be positive"), ("cpu_budget_s = 5", None),
    ('lr = "fast"', "must be a number"), ("time_budget_s = 60", "no longer bounded by the wall clock"),
    ("epoch = 3", "did you mean 'epochs'"),
])
def test_the_training_bounds_the_guide_states_are_the_ones_enforced(tmp_path, line, refused):
    """Each row of the guide's [training] table, tried on both sides of its bound."""
    path = task_copy(tmp_path, "sentiment")
    key = line.split(" = ")[0]
    text = re.sub(rf"(?m)^{key} = .*\n", "", path.read_text())
    path.write_text(text.replace("[training]\n", f"[training]\n{line}\n", 1))
    if refused is None:
        assert load_spec(path).training[key] == float(line.split(" = ")[1])
    else:
        with pytest.raises(SpecError, match=re.escape(refused)) as raised:
            load_spec(path)
        assert raised.value.key == f"[training].{key}"


@pytest.mark.parametrize("bounds, refused", [
    ("clip = [0.5, 2]", "cannot be set by a student"), ("lr = [0.1, 0.01]", "must be [low, high]"),
    ("epochs = 3", "must be [low, high]"), ("batch_size = [8, 16]", None),
])
def test_training_bounds_are_low_high_pairs_for_lr_epochs_and_batch_size(tmp_path, bounds, refused):
    path = task_copy(tmp_path, "sentiment")
    key = bounds.split(" = ")[0]
    text = re.sub(rf"(?m)^{key} = .*\n", "", path.read_text().split("[training.bounds]")[1])
    path.write_text(path.read_text().split("[training.bounds]")[0] + f"[training.bounds]\n{bounds}\n" + text)
    if refused is None:
        assert load_spec(path).training["bounds"][key] == [8, 16]
    else:
        with pytest.raises(SpecError, match=re.escape(refused)):
            load_spec(path)


@pytest.mark.parametrize("check_id, option, refused", [
    ("sentiment.accuracy", 'target = "refrence"', "must be one of 'best', 'reference', 'optimum', got 'refrence' — "
                                                  "did you mean 'reference'?"),
    ("sentiment.macro_f1", 'target = "optimum"', None), ("sentiment.macro_f1", 'target = "strongest"', "must be one of"),
    ("sentiment.accuracy", 'pass_at = "high"', "must be like 0.5"),
])
def test_a_graded_figures_target_is_one_of_those_the_guide_names(tmp_path, check_id, option, refused):
    """Before, any string was taken and meant the reference model: a misspelt "optimum" silently changed the target."""
    path = task_copy(tmp_path, "sentiment")
    header = f'[checks."{check_id}"]\n'
    if refused is None:
        spec_text = path.read_text().replace(header, header + option + "\n", 1)
        path.write_text(spec_text)
        (check,) = [c for c in load_spec(path).checks if c.id == check_id]
        assert check.options["target"] == "optimum"
        return
    error = spec_error(path, header, header + option + "\n")
    assert error.key == f'[checks."{check_id}"].{option.split(" = ")[0]}' and refused in str(error), str(error)

SHIPPED_OF_FAMILY = {"classification": "sentiment", "language_model": "next_word", "translation": "translation",
                     "series": "forecasting"}


def test_the_guide_states_what_each_familys_model_is_given_and_returns():
    """Each family's row: build_model's arguments, one input per argument the harness passes, each input's dtype
    and rank as a shipped task of the family gives them, and the output's words."""
    from harness.checks import load_builtin_checks
    from harness.checks.trained import FAMILIES
    from harness.spec import load_tasks

    load_builtin_checks()
    assert set(SHIPPED_OF_FAMILY) == set(FAMILIES)
    rows = {line.split(" | ")[0].strip("| "): line for line in guide().splitlines() if line.startswith("| ")}
    for name, fam in FAMILIES.items():
        row = rows[name]
        (spec,) = load_tasks(names=[SHIPPED_OF_FAMILY[name]])
        inputs = fam.probe_inputs(spec.data)
        call = re.search(r"then `model\(([^)]*)\)`", row).group(1).split(", ")
        assert f"`{fam.signature}`" in row and len(call) == len(inputs), row
        for arg, tensor in zip(call, inputs):
            dtype = str(tensor.dtype).removeprefix("torch.")
            shape = re.search(rf"{arg} {dtype} (\([^)]*\))", row)
            assert shape and shape.group(1).count(",") + 1 == tensor.dim(), (name, arg, dtype, tensor.shape)
        assert f"| {fam.output} |" in row
        assert len(fam.expected_shape(spec.data, inputs)) == fam.output.split(")")[0].count(",") + 1

if __name__ == "__main__":  # prints the tables to paste into docs/WRITING_TASKS.md when the code changes
    print(family_check_table(), training_table(), recipe_parameters_table(), dataset_table(), sep="\n\n")
