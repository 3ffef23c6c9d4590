"""docs/WRITING_TASKS.md and the errors an instructor meets while following it.

The guide's lists that can drift are checked against the code they describe: every check id a trained family
registers, every ``[training]`` key with its bound, and the shapes each family's model is given and must return.
A misspelt check id suggests the nearest of *this* task's ids, never another family's.
"""
from __future__ import annotations

import re
import shutil
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
