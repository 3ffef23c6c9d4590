"""A trained task's full points are reached at the best of the reference model, the optimum and the classical
baselines (harness/checks/trained.py ``graded_figure``), unless the spec's ``target`` names another; every one of
them is shown beside the student's figure.

The figures are set by hand (no training): the airline holdout's as METRICS.md gives them, with the reference LSTM
the task shipped before (MASE 1.805), which Holt-Winters (1.014) and the airline SARIMA (1.381) both beat.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from harness.checks import classification, forecasting, language_model  # noqa: F401  (the families the figures below are of)
from harness.checks.trained import GRADED, choose_target, compared, graded_figure

AIRLINE = {"reference": {"mase": 1.805, "training": {}},
           "classical": {"naive (last value)": {"mase": 4.033}, "seasonal naive": {"mase": 2.494},
                         "Holt-Winters": {"mase": 1.014}, "airline SARIMA": {"mase": 1.381}}}


def forecast_ctx(student: float, figures: dict = AIRLINE, optimum: dict | None = None, **options) -> SimpleNamespace:
    """What graded_figure reads of a check's context: the task's family, the student's and the baselines' figures
    (as a graded run leaves them in ``state``), the data's optimum and the check's options."""
    return SimpleNamespace(task=SimpleNamespace(dataset={"kind": "airline"}, training={}), view="hidden",
                           data=SimpleNamespace(optimum=optimum or {}),
                           state={"figures:hidden": ("ok", {"mase": student}), "baselines:hidden": ("ok", figures)},
                           options={"target": GRADED["target"][0], "full_at": 0.9, "pass_at": 0.5, **options})


def test_the_default_target_is_the_best_of_the_reference_and_the_baselines():
    assert GRADED["target"][0] == "best"
    verdict = graded_figure(forecast_ctx(1.7), "mase", "holdout MASE", fmt=".3f")
    assert verdict.numbers["target"] == {"Holt-Winters": 1.014}
    assert verdict.numbers["baseline"] == {"naive (last value)": 4.033}
    assert verdict.numbers["relative"] == pytest.approx((4.033 - 1.7) / (4.033 - 1.014))
    assert "to the best of them, Holt-Winters" in verdict.message


def test_a_student_between_the_reference_and_a_stronger_baseline_no_longer_gets_full_points():
    student = 1.7  # better than the reference LSTM (1.805), worse than Holt-Winters (1.014) and SARIMA (1.381)
    best = graded_figure(forecast_ctx(student), "mase", "holdout MASE")
    assert best.passed and 0 < best.fraction < 1
    assert "full points from 90% of the way to Holt-Winters (1.014)" in best.hint
    reference = graded_figure(forecast_ctx(student, target="reference"), "mase", "holdout MASE")
    assert reference.fraction == 1 and reference.numbers["target"] == {"reference model": 1.805}
    assert not reference.hint


def test_a_student_at_the_best_baseline_gets_full_points_and_one_below_the_floor_none():
    assert graded_figure(forecast_ctx(1.014), "mase", "holdout MASE").fraction == 1
    worst = graded_figure(forecast_ctx(5.0), "mase", "holdout MASE")
    assert worst.fraction == 0 and not worst.passed


def test_the_message_and_the_comparison_name_every_figure_beside_the_students():
    verdict = graded_figure(forecast_ctx(1.7), "mase", "holdout MASE", fmt=".3f")
    for words in ("holdout MASE 1.700", "naive (last value) 4.033", "Holt-Winters 1.014", "airline SARIMA 1.381",
                  "reference model 1.805", "seasonal naive 2.494"):
        assert words in verdict.message
    rows = verdict.numbers["comparison"]
    assert [r["label"] for r in rows] == ["Holt-Winters", "airline SARIMA", "yours", "reference model",
                                          "seasonal naive", "naive (last value)"]  # best first: lower MASE
    roles = {r["label"]: r["role"] for r in rows}
    assert roles["Holt-Winters"] == "full points" and roles["naive (last value)"] == "no points"
    assert roles["yours"] == "yours" and roles["reference model"] == ""


def test_a_known_optimum_is_a_candidate_and_higher_is_better_figures_rank_the_other_way():
    figures = {"reference": {"accuracy": 0.90}, "classical": {"majority class": {"accuracy": 0.5},
                                                               "TF-IDF logistic regression": {"accuracy": 0.93}}}
    ctx = SimpleNamespace(task=SimpleNamespace(dataset={"kind": "synthetic-sentiment"}, training={}), view="public",
                          data=SimpleNamespace(optimum={"bayes_accuracy_test": 0.95}),
                          state={"figures:public": ("ok", {"accuracy": 0.92}), "baselines:public": ("ok", figures)},
                          options={"target": "best", "full_at": 1.0, "pass_at": 0.5})
    verdict = graded_figure(ctx, "accuracy", "test accuracy")
    assert verdict.numbers["target"] == {"best achievable": 0.95}
    ctx.data.optimum = {}
    verdict = graded_figure(ctx, "accuracy", "test accuracy")  # no optimum: the TF-IDF model beats the reference
    assert verdict.numbers["target"] == {"TF-IDF logistic regression": 0.93} and verdict.fraction < 1
    ctx.options["target"] = "optimum"  # no optimum known: the reference model, as the option's docs say
    assert graded_figure(ctx, "accuracy", "test accuracy").numbers["target"] == {"reference model": 0.90}


def test_the_issues_language_model_a_student_behind_kneser_ney_is_not_given_full_points():
    """The issue's case: an Elman reference at perplexity 14.7, a Kneser-Ney trigram at 5.4, a student LSTM at 9.4
    (no optimum: a real corpus). Before, 9.4 beat the reference and got full points."""
    figures = {"reference": {"perplexity": 14.7}, "classical": {"unigram (add-one)": {"perplexity": 30.0},
                                                                 "trigram (Kneser-Ney)": {"perplexity": 5.4}}}
    ctx = SimpleNamespace(task=SimpleNamespace(dataset={"kind": "text-corpus"}, training={}), view="hidden",
                          data=SimpleNamespace(optimum={}),
                          state={"figures:hidden": ("ok", {"perplexity": 9.4}), "baselines:hidden": ("ok", figures)},
                          options={"target": "best", "full_at": 0.9, "pass_at": 0.5})
    verdict = graded_figure(ctx, "perplexity", "test perplexity", log_scale=True)
    assert verdict.numbers["target"] == {"trigram (Kneser-Ney)": 5.4}
    assert verdict.numbers["relative"] == pytest.approx(math.log(30 / 9.4) / math.log(30 / 5.4))  # on a log scale
    assert verdict.fraction < 1
    ctx.options["target"] = "reference"
    assert graded_figure(ctx, "perplexity", "test perplexity", log_scale=True).fraction == 1


def test_figures_that_are_not_finite_numbers_are_never_a_target():
    base = {"reference": {"mase": 1.8}, "classical": {"broken": {"mase": float("nan")}, "none": {"mase": None},
                                                      "flag": {"mase": True}, "text": {"mase": "0.1"}}}
    assert compared(base, None, "mase") == {"reference model": 1.8}
    assert choose_target({"a": 2.0, "b": 1.0}, "best", higher_is_better=False) == "b"
    assert choose_target({"a": 2.0, "b": 1.0}, "best", higher_is_better=True) == "a"


def test_the_default_forecasting_reference_reaches_mase_1_on_the_last_24_months_ahead_of_every_baseline():
    """The answer key's Forecaster (reference_models/models.py) trained by the task's own recipe, on the hidden
    split (the airline series' last 24 months): MASE at most 1.0, better than Holt-Winters and the airline SARIMA,
    so it is the target there; and the reference submission, written apart from it, gets full points."""
    from pathlib import Path

    from harness.grading import grade
    from harness.spec import load_tasks

    root = Path(__file__).resolve().parents[1]
    results = grade(root / "submissions" / "reference", load_tasks(names=["forecasting"]))
    hidden = next(c for c in results.checks if c.id == "forecasting.mase.hidden")
    reference, classical = hidden.numbers["reference_model"], hidden.numbers["classical"]
    assert reference <= 1.0 and reference < min(classical["Holt-Winters"], classical["airline SARIMA"])
    assert hidden.numbers["target"] == {"reference model": reference}
    assert all(c.points == c.max_points for c in results.checks), [(c.id, c.points, c.message) for c in results.checks]
