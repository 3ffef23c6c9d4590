"""bench/bench_fit_class.py's class of student-trained submissions, small: its generator writes honest fits that
pass and places a failing fixture where asked, and a class run with two workers grades them all as expected."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from bench_fit_class import TASK, make_fit_class, student, verdicts_hold  # noqa: E402

from harness.batch import grade_class  # noqa: E402


def test_the_generated_students_differ_and_each_trains():
    first, second = student(0), student(1)
    assert "nn.LSTM(16, 16" in first and "nn.GRU(24, 32" in second and "torch.manual_seed(1000)" in first
    assert first.rstrip().endswith("return budget.kept") and second.rstrip().endswith("return model")
    assert all("optimizer.step()" in student(i) for i in range(20))


def test_a_small_class_is_graded_by_two_workers_with_its_expected_verdicts(tmp_path):
    expected = make_fit_class(tmp_path / "class", 3, failing_at=(2,))
    assert expected == {"student000": [], "student001": [],
                        "student002": ["sentiment_fit.learns"]}  # the fit whose optimiser never steps
    run = grade_class(tmp_path / "class", tmp_path / "out", tasks=[TASK], workers=2)
    assert verdicts_hold(run, expected) == []
    # the check can fail: the failing student counted as honest is caught
    assert verdicts_hold(run, {**expected, "student002": []}) == ["student002: sentiment_fit.learns failed"]
