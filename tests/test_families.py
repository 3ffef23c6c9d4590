"""Trained tasks by family: a task's checks are its dataset family's, so a new trained task of an existing
family is a spec, a dataset and an answer key — no Python of the harness changes."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.checks import REGISTRY, load_builtin_checks
from harness.checks.trained import FAMILIES, family_of
from harness.grading import grade
from harness.spec import SpecError, load_spec, load_tasks
from harness.trained_by import by_student

ROOT = Path(__file__).resolve().parents[1]
load_builtin_checks()


def test_every_shipped_trained_task_runs_its_dataset_familys_checks():
    trained = {s.name: s for s in load_tasks() if s.dataset is not None}
    assert {name: family_of(s).name for name, s in trained.items()} == {
        "sentiment": "classification", "next_word": "language_model", "translation": "translation",
        "forecasting": "series", "sentiment_fit": "classification"}
    for spec in trained.values():
        prefixes = {c.definition.split(".")[0] for c in spec.checks}
        # a student-trained task has fit's check (fitted) where a harness-trained one has build_model's (trained)
        assert prefixes <= {family_of(spec).name, "fitted" if by_student(spec) else "trained"}, (spec.name, prefixes)
    assert set(FAMILIES) == {"classification", "language_model", "translation", "series"}


def reviews_task(tmp_path: Path, checks: str = "") -> Path:
    """The sentiment task under another name and module: a course's own classification assignment."""
    folder = tmp_path / "tasks" / "reviews"
    folder.mkdir(parents=True)
    text = (ROOT / "tasks" / "sentiment" / "task.toml").read_text()
    for key in ('name = "sentiment"', 'module = "sentiment"', 'checks."sentiment.', '"sentiment.'):
        text = text.replace(key, key.replace("sentiment", "reviews"))
    text = text.replace("noise = 0.05", "noise = 0.05\ntrain_size = 400\nvalid_size = 100\ntest_size = 200")
    text = text.replace("epochs = 6", "epochs = 2")  # a small class of reviews: seconds, not minutes
    (folder / "task.toml").write_text(text + checks)
    shutil.copy(ROOT / "tasks" / "sentiment" / "answer_key.py", folder / "answer_key.py")
    return folder


def test_a_new_classification_task_is_a_spec_and_an_answer_key(tmp_path):
    folder = reviews_task(tmp_path)
    spec = load_spec(folder / "task.toml")
    assert {c.id: c.definition for c in spec.checks if not c.graded_later} == {
        "reviews.interface": "trained.interface", "reviews.training": "trained.training",
        "reviews.learns": "classification.learns", "reviews.accuracy": "classification.accuracy",
        "reviews.macro_f1": "classification.macro_f1"}
    submission = tmp_path / "student"
    submission.mkdir()
    shutil.copy(ROOT / "submissions" / "reference" / "sentiment.py", submission / "reviews.py")
    results = grade(submission, [spec], visibility=("public",))
    statuses = {c.id: c.status for c in results.checks}
    assert list(statuses) == [c.id for c in spec.checks if not c.graded_later]
    assert all(statuses[f"reviews.{name}"] == "passed" for name in ("interface", "training", "learns")), statuses
    graded = {c.id: c for c in results.checks}["reviews.accuracy"]
    assert graded.status in ("passed", "failed") and {"baseline", "reference_model"} <= set(graded.numbers)
    assert [f["id"] for f in results.figures] == spec.figures and not any(
        "error" in (f.get("data") or {}) for f in results.figures)


def test_a_check_of_another_family_is_unknown_with_a_suggestion(tmp_path):
    folder = reviews_task(tmp_path, '\n[checks."reviews.perplexity"]\npoints = 1\n')
    with pytest.raises(SpecError, match="unknown check id"):
        load_spec(folder / "task.toml")
    assert "language_model.perplexity" in REGISTRY
