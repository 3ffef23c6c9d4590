"""Task specs: the shipped ones load; broken ones fail with the file, the key and the fix."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.spec import SpecError, default_tasks_dir, load_spec, load_tasks

#: the cells task's written checks, which a spec of that task names
CELLS_CHECKS = default_tasks_dir() / "cells" / "checks.py"

GOOD = '''
[task]
name = "cells"
title = "Cells"
module = "cells"

[checks."cells.LSTMCell.forward"]
points = 2
steps = 7
'''


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cells" / "task.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    shutil.copy(CELLS_CHECKS, path.parent)
    return path


def test_shipped_specs_load_and_carry_points():
    specs = load_tasks()
    assert {s.name for s in specs} >= {"cells"}
    for spec in specs:
        assert spec.max_score > 0
        assert all(c.id.startswith(spec.module + ".") for c in spec.checks)


def test_options_override_the_check_defaults(tmp_path):
    spec = load_spec(write(tmp_path, GOOD))
    (check,) = spec.checks
    assert check.points == 2 and check.options["steps"] == 7 and check.options["batch"] == 3


@pytest.mark.parametrize("mutation, key, words", [
    (lambda s: s.replace('"cells.LSTMCell.forward"', '"cells.LSTMCell.forwrd"'), 'checks."cells.LSTMCell.forwrd"',
     "did you mean 'cells.LSTMCell.forward'"),
    (lambda s: s.replace("points = 2", 'points = "two"'), "points", "must be a number"),
    (lambda s: s.replace("points = 2", "points = -1"), "points", "≥ 0"),
    (lambda s: s.replace("steps = 7", "stepz = 7"), "stepz", "did you mean 'steps'"),
    (lambda s: s.replace("steps = 7", 'steps = "seven"'), "steps", "like 5"),
    (lambda s: s.replace('module = "cells"', ""), "[task].module", "missing"),
    (lambda s: s.replace("[task]", "[tsak]"), "tsak", "did you mean 'task'"),
    (lambda s: s + "\n[limits]\ntimeout = 3\n", "[limits].timeout", "did you mean 'timeout_s'"),
    (lambda s: s + "\n[tolerances]\nfloat16 = { rtol = 1 }\n", "float16", "unknown dtype"),
    (lambda s: s.replace("[checks.", "[checks.\n", 1), "syntax", "not valid TOML"),
])
def test_broken_spec_names_file_key_and_fix(tmp_path, mutation, key, words):
    path = write(tmp_path, mutation(GOOD))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    text = str(info.value)
    assert str(path) in text and key in text and words in text, text


def test_folder_and_name_must_agree(tmp_path):
    path = tmp_path / "other" / "task.toml"
    path.parent.mkdir()
    path.write_text(GOOD)
    shutil.copy(CELLS_CHECKS, path.parent)
    with pytest.raises(SpecError, match="make them the same"):
        load_tasks(tmp_path)


def test_unknown_task_name_is_suggested():
    with pytest.raises(SpecError, match="did you mean 'cells'"):
        load_tasks(names=["cels"])
