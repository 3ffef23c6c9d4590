"""Only complete, sane reference figures are cached or used, and the cache can be seen and cleared.

A reference model whose training stopped early, or that does not beat the classical baseline a figure's
points start from by the spec's ``reference_margin``, stops grading with an error naming the task, the figure
and what to change, and leaves nothing in the cache (a chance-level reference once gave a constant classifier
full marks, on every later run, from a file nobody knew about).
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from harness.checks.classification import Classification
from harness.checks.trained import ReferenceUnfit, sane_reference
from harness.cli import main
from harness.errors import SpecError
from harness.grading import grade
from harness.spec import load_tasks

ROOT = Path(__file__).resolve().parents[1]
SPEC = SimpleNamespace(name="reviews", path=Path("tasks/reviews/task.toml"), training={"reference_margin": 0.02})


def figures(accuracy: float, f1: float, stopped: str = "completed") -> dict:
    return {"reference": {"accuracy": accuracy, "macro_f1": f1, "training": {"stopped": stopped, "epochs_done": 6}},
            "classical": {"majority class": {"accuracy": 0.5, "macro_f1": 0.33}}}


def test_a_reference_that_beats_its_floors_by_the_margin_is_sane():
    sane_reference(SPEC, Classification(), figures(0.95, 0.95), "public")  # no exception


@pytest.mark.parametrize("accuracy, f1, stopped, words", [
    (0.95, 0.95, "cpu budget", "training stopped early on the public split (cpu budget, 6 epochs done)"),
    (0.50, 0.95, "completed", "the reference model's accuracy is 0.5 and majority class's 0.5"),
    (0.95, 0.335, "completed", "the reference must do 2% better (0.3366)"),
    (float("nan"), 0.95, "completed", "accuracy is nan"),
])
def test_a_reference_that_stopped_or_does_not_beat_a_floor_is_unfit(accuracy, f1, stopped, words):
    with pytest.raises(ReferenceUnfit) as unfit:
        sane_reference(SPEC, Classification(), figures(accuracy, f1, stopped), "public")
    assert isinstance(unfit.value, SpecError) and words in str(unfit.value)
    assert str(unfit.value).startswith("tasks/reviews/task.toml: [training]")


def test_grading_stops_with_the_reason_and_caches_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    specs = load_tasks(names=["sentiment"])
    specs[0].training["reference_margin"] = 5.0  # 500% better than the majority class: no reference can
    with pytest.raises(ReferenceUnfit, match=r"reference_margin: on the public split the reference model's accuracy"):
        grade(ROOT / "submissions" / "reference", specs)
    assert not list((tmp_path / "cache").rglob("*.json"))


def test_the_old_wall_clock_budget_is_refused_naming_what_replaced_it(tmp_path):
    folder = tmp_path / "tasks" / "sentiment"
    folder.mkdir(parents=True)
    for path in (ROOT / "tasks" / "sentiment").iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    toml = folder / "task.toml"
    toml.write_text(toml.read_text().replace("[training]\n", "[training]\ntime_budget_s = 120\n"))
    with pytest.raises(SpecError, match=r"\[training\].time_budget_s: training is no longer bounded by the wall clock.*"
                                        r"cpu_budget_s"):
        load_tasks(tmp_path / "tasks")


def test_harness_cache_lists_and_clears(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path))
    folder = tmp_path / "baselines"
    folder.mkdir()
    (folder / "sentiment-0123456789abcdef0123.json").write_text(
        '{"reference": {"accuracy": 0.95, "training": {"stopped": "completed", "epochs_done": 6}}, "classical": {}}')
    (folder / "next_word-0123456789abcdef0123.json").write_text("not json")
    listed = CliRunner().invoke(main, ["cache", "list"], terminal_width=200)
    assert listed.exit_code == 0, listed.output
    assert "(2 files)" in listed.output and "accuracy 0.95" in listed.output and "unreadable" in listed.output
    from harness.cache import entries

    digest = next(e.digest for e in entries() if e.task == "sentiment")
    assert len(digest) == 16 and f"digest {digest}  sentiment-0123456789abcdef0123.json" in listed.output
    cleared = CliRunner().invoke(main, ["cache", "clear", "--task", "sentiment"])
    assert cleared.exit_code == 0 and "removed 1 cached file" in cleared.output
    assert [p.name for p in folder.iterdir()] == ["next_word-0123456789abcdef0123.json"]


@pytest.mark.parametrize("margin, accepted", [(0, True), (0.5, True), (-0.01, False)])
def test_a_reference_margin_of_zero_or_more_is_accepted(tmp_path, margin, accepted):
    folder = tmp_path / "tasks" / "sentiment"
    folder.mkdir(parents=True)
    for path in (ROOT / "tasks" / "sentiment").iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    toml = folder / "task.toml"
    toml.write_text(toml.read_text().replace("[training]\n", f"[training]\nreference_margin = {margin}\n"))
    if accepted:
        assert load_tasks(tmp_path / "tasks")[0].training["reference_margin"] == margin
    else:
        with pytest.raises(SpecError, match=r"\[training\].reference_margin: must be 0 or more, got -0.01"):
            load_tasks(tmp_path / "tasks")


def test_the_cache_key_covers_the_source_the_answer_keys_model_comes_from(tmp_path):
    """The answer key of the default course imports its model (reference_models/models.py): a change there changes
    the reference's figures, so it must change the key too, or the old figures would be read back."""
    import shutil

    from harness.checks.trained import _cache_path
    from harness.recipe import recipe_for
    from harness.spec import load_spec

    folder = tmp_path / "tasks" / "forecasting"
    shutil.copytree(ROOT / "tasks" / "forecasting", folder)
    (folder / "model_source.py").write_text("def build_model(window, horizon):\n    return None\n")
    (folder / "answer_key.py").write_text("import pathlib, sys\nsys.path.insert(0, str(pathlib.Path(__file__).parent))\n"
                                          "from model_source import build_model  # noqa: E402,F401\n")
    spec = load_spec(folder / "task.toml")
    recipe = recipe_for(spec.training, {})
    before = _cache_path(spec, spec.data, recipe)
    assert _cache_path(spec, spec.data, recipe) == before  # the same inputs, the same file
    (folder / "model_source.py").write_text("def build_model(window, horizon):\n    return 1\n")
    assert _cache_path(spec, spec.data, recipe) != before


RACE = r"""
import sys
from pathlib import Path
from harness.grading import grade
from harness.spec import load_spec

results = grade(Path(sys.argv[2]), [load_spec(Path(sys.argv[1]))])
print({c.id: c.status for c in results.checks}["reviews.fit"])
"""


def test_two_processes_missing_the_same_entry_train_the_reference_once(tmp_path):
    """Two class-run processes (a pool's, or two runs on one machine) that start with an empty cache: one trains the
    answer key's model while the other waits, then reads the figures it wrote. Both grade; the answer key's fit, which
    notes each run in a file, ran once (twice without the lock: each process trained its own)."""
    import os
    import subprocess
    import sys
    import textwrap

    from test_student_trained import ANSWER_KEY, write_task

    toml = write_task(tmp_path, budget=120)
    runs = tmp_path / "reference_runs.txt"
    (toml.parent / "answer_key.py").write_text(ANSWER_KEY.replace("def fit(train, valid, budget):\n", (
        "def fit(train, valid, budget):\n"
        f"    with open({str(runs)!r}, 'a') as runs:\n"
        "        runs.write('trained\\n')\n"), 1))
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "reviews.py").write_text(textwrap.dedent("""
        import torch

        def fit(train, valid, budget):
            return lambda ids: torch.zeros(len(ids), 2)
        """))
    env = {**os.environ, "HARNESS_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(Path(__file__).parent)}
    both = [subprocess.Popen([sys.executable, "-c", RACE, str(toml), str(submission)], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [process.communicate(timeout=600) for process in both]
    assert [process.returncode for process in both] == [0, 0], [err[-2000:] for _, err in outputs]
    assert [out.strip().splitlines()[-1] for out, _ in outputs] == ["passed", "passed"]
    assert runs.read_text().splitlines() == ["trained"]  # one run served both splits, in both processes
