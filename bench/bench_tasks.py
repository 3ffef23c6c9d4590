"""Benchmark of the trained-model tasks on this machine.

For each task: the training time of the answer key's model (reference_models.models, trained by the
harness's recipe in this process, or the answer key's own fit for sentiment_fit) and of the reference submission's
model (in the worker: the harness's recipe, or the submission's fit), each
figure next to the best achievable one (figure / optimum); then the wall time of grading
submissions/reference end to end, every task, with a cold and a warm baseline cache.

    python bench/bench_tasks.py
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TRAINED = ["sentiment", "next_word", "translation", "forecasting", "sentiment_fit"]
HEADLINE = {"sentiment": ("accuracy", True), "next_word": ("perplexity", False), "translation": ("bleu", True),
            "forecasting": ("mase", False), "sentiment_fit": ("accuracy", True)}


def main() -> None:
    os.environ["HARNESS_CACHE"] = tempfile.mkdtemp(prefix="harness-bench-cache-")
    from harness.checks.trained import optimum_of
    from harness.grading import grade
    from harness.spec import load_tasks

    specs = {s.name: s for s in load_tasks()}
    start = time.perf_counter()
    cold = grade(ROOT / "submissions" / "reference", list(specs.values()))
    cold_s = time.perf_counter() - start
    start = time.perf_counter()
    warm = grade(ROOT / "submissions" / "reference", list(specs.values()))
    warm_s = time.perf_counter() - start

    print(f"{'task':14} {'metric':10} {'answer key':>10} {'train s':>8} {'submission':>10} {'train s':>8} "
          f"{'optimum':>8} {'key/opt':>8} {'sub/opt':>8}")
    for name in TRAINED:
        metric, higher = HEADLINE[name]
        check = next(c for c in warm.checks if c.id.startswith(name + ".") and metric in c.numbers)
        # the harness's training of build_model, or the student's own fit (a student-trained task)
        training = next(c for c in warm.checks if c.id in (f"{name}.training", f"{name}.fit"))
        import json

        cache = Path(os.environ["HARNESS_CACHE"]) / "baselines"
        ref = json.loads(next(cache.glob(f"{name}-*.json")).read_text())["reference"]
        optimum = optimum_of(specs[name].data, metric)
        ratio = (lambda v: f"{v / optimum:8.3f}") if optimum else (lambda v: f"{'-':>8}")
        print(f"{name:14} {metric:10} {ref[metric]:10.4g} {ref['training']['seconds']:8.1f} "
              f"{check.numbers[metric]:10.4g} {training.numbers.get('seconds', 0):8.1f} "
              f"{optimum if optimum else float('nan'):8.4g} {ratio(ref[metric])} {ratio(check.numbers[metric])}")
    print(f"\ngrade submissions/reference, all {len(specs)} tasks ({len(warm.checks)} checks), "
          f"score {warm.score:g}/{warm.max_score:g}:")
    print(f"  cold baseline cache (reference models and classical baselines computed): {cold_s:6.1f} s")
    print(f"  warm baseline cache (the per-submission cost):                          {warm_s:6.1f} s")
    assert cold.score == cold.max_score and warm.score == warm.max_score


if __name__ == "__main__":
    main()
