"""Grades do not move with the machine's load: the same submissions graded on an idle machine and beside CPU
hogs that keep every core busy give the same scores, statuses, messages and figures' data (timings aside).

Training is bounded by its epochs, not the clock; the reference model's figures are computed once (each run
here starts from an empty cache of its own, so the loaded run trains the reference again, under load); the
judge and each worker run torch on one thread. Graded: the reference and a constant classifier on the
sentiment task, a model too slow to grade (stopped by the CPU budget: its statuses and points must agree; how
many batches fit in the budget depends on the CPU, and its messages say so), and a class of six function-task
submissions with two workers. ``bench/bench_load.py`` does the same with more submissions and prints the slowdown.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

import patches
from helpers import DURATION, without_keys
from test_verdicts import cpu_budget_of, expected_of, limits_of
from harness.batch import grade_class
from harness.grading import grade
from harness.spec import load_tasks

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "submissions"
#: measured, so they differ from run to run: wall and CPU seconds, and the CPU budget derived from the reference's
TIMING_KEYS = ("seconds", "cpu_seconds", "cpu_budget_s")
FUNCTION_BUGS = ["gru_z_swapped", "lstm_forget_no_bias", "rnnlayer_detached", "clip_norm_per_parameter", None, None]


@contextmanager
def cpu_hogs(n: int | None = None):
    """``n`` processes (default: one per core) that spin until the block ends."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n or os.cpu_count() or 2)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def comparable(results, slow: bool = False) -> list:
    """What must not change with the load: per check its status, points and (timings aside) message, hint and
    numbers; per figure its data. A run the CPU budget stopped keeps its statuses and points only."""
    def numbers(n):
        return {k: v for k, v in n.items() if k not in (*TIMING_KEYS, "traceback")}

    checks = [(c.id, c.status, c.points) if slow else
              (c.id, c.status, c.points, DURATION.sub("#", c.message), DURATION.sub("#", c.hint),
               json.dumps(without_keys(numbers(c.numbers), TIMING_KEYS), sort_keys=True, default=str)) for c in results.checks]
    figures = [] if slow else [json.dumps(without_keys(f, TIMING_KEYS), sort_keys=True, default=str) for f in results.figures]
    return [checks, figures]


def trained_examples(root: Path) -> dict[str, Path]:
    out = {"reference": SUBMISSIONS / "reference"}
    for name in ("sentiment_constant", "sentiment_too_slow"):
        out[name] = patches.overlay(SUBMISSIONS / "buggy" / name, SUBMISSIONS / "reference", root / name)
    return out


def grade_trained(examples: dict[str, Path], cache: Path, monkeypatch) -> dict:
    monkeypatch.setenv("HARNESS_CACHE", str(cache))  # each run trains the reference model itself
    out = {}
    for name, path in examples.items():
        limits = limits_of(expected_of(f"buggy/{name}"))
        specs = load_tasks(names=["sentiment"])
        for spec in specs:  # as tests/test_verdicts.py gives it: the slow model stops within seconds
            spec.training["cpu_budget_s"] = cpu_budget_of(spec.name, limits)
        out[name] = grade(path, specs)
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="CPU hogs on Linux")
def test_trained_tasks_grade_the_same_idle_and_beside_cpu_hogs(tmp_path, monkeypatch):
    examples = trained_examples(tmp_path / "examples")
    idle = grade_trained(examples, tmp_path / "cache-idle", monkeypatch)
    with cpu_hogs():
        busy = grade_trained(examples, tmp_path / "cache-busy", monkeypatch)
    for name in examples:
        slow = name == "sentiment_too_slow"
        assert comparable(busy[name], slow) == comparable(idle[name], slow), name
    assert idle["reference"].score == idle["reference"].max_score
    constant = {c.id: c.status for c in idle["sentiment_constant"].checks}
    assert constant["sentiment.macro_f1.hidden"] == "failed" and constant["sentiment.accuracy"] == "failed"
    slow = {c.id: c for c in busy["sentiment_too_slow"].checks}
    assert slow["sentiment.training"].status == "failed" and "CPU budget" in slow["sentiment.training"].message
    assert slow["sentiment.accuracy"].status == "failed" and "not scored" in slow["sentiment.accuracy"].message
    print(f"\nsentiment, 3 submissions: idle {sum(r.seconds for r in idle.values()):.1f} s, beside "
          f"{os.cpu_count()} hogs {sum(r.seconds for r in busy.values()):.1f} s")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="CPU hogs on Linux")
def test_a_class_graded_with_two_workers_is_the_same_idle_and_beside_cpu_hogs(tmp_path):
    klass = tmp_path / "class"
    klass.mkdir()
    for i, bug in enumerate(FUNCTION_BUGS):
        folder = klass / f"student{i:02d}"
        if bug:
            patches.overlay(SUBMISSIONS / "buggy" / bug, SUBMISSIONS / "reference", folder)
        else:
            shutil.copytree(SUBMISSIONS / "reference", folder)
    idle = grade_class(klass, tmp_path / "idle", tasks=["cells"], workers=2)
    with cpu_hogs():
        busy = grade_class(klass, tmp_path / "busy", tasks=["cells"], workers=2)
    assert [o.status for o in idle.outcomes] == ["graded"] * len(FUNCTION_BUGS)
    for a, b in zip(idle.outcomes, busy.outcomes):
        assert comparable(b.results) == comparable(a.results), a.name
    print(f"\nclass of {len(FUNCTION_BUGS)} (cells), 2 workers: idle {idle.seconds:.1f} s, beside {os.cpu_count()} hogs {busy.seconds:.1f} s")


def test_the_judge_settles_torch_without_loading_its_compiler():
    """One thread and deterministic algorithms, set without torch.use_deterministic_algorithms's import of
    torch._inductor, torch._dynamo and sympy (over 70 MB and a second of every judge's start)."""
    probe = ("import sys, torch; from harness.grading import settle_torch, environment; settle_torch(); "
             "e = environment(); print(e['threads'], e['deterministic_algorithms'], "
             "torch.is_deterministic_algorithms_warn_only_enabled(), "
             "sorted(m for m in ('torch._inductor', 'torch._dynamo', 'sympy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[0] == "1 True True []"
