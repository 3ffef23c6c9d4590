"""The figures a trained task's points run between, on this machine: for each task and view, the reference model's
figure and training cost, every classical baseline's, the optimum where known, the target full points are reached
at, and the reference submission's figure beside them.

    python bench/bench_targets.py                               # every trained task of the default course
    python bench/bench_targets.py forecasting                   # one task
    python bench/bench_targets.py forecasting --seeds 1 2 3     # and the reference model trained from other seeds

The reference figures are computed afresh (an empty cache in a temporary folder), as a first grading computes them.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GRADED = {"sentiment": "accuracy", "next_word": "perplexity", "translation": "bleu", "forecasting": "mase"}
VIEWS = {"public": "", "hidden": ".hidden"}


def graded(spec):
    """Grade submissions/reference on ``spec`` with an empty cache: (results, seconds, {view: reference training})."""
    from harness.checks.trained import _cache_path
    from harness.recipe import recipe_for
    from harness.grading import grade

    os.environ["HARNESS_CACHE"] = tempfile.mkdtemp(prefix="harness-bench-cache-")
    start = time.perf_counter()
    results = grade(ROOT / "submissions" / "reference", [spec])
    seconds = time.perf_counter() - start
    recipe = recipe_for(spec.training, {})
    training = {}
    for view in VIEWS:
        path = _cache_path(spec, spec.data_for(view), recipe)
        if path.is_file():
            training[view] = json.loads(path.read_text())["reference"]["training"]
    return results, seconds, training


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tasks", nargs="*", default=list(GRADED))
    parser.add_argument("--seeds", nargs="*", type=int, default=[], help="train the reference from these seeds too")
    args = parser.parse_args()
    from harness.spec import load_tasks

    for spec in load_tasks(names=args.tasks):
        metric = GRADED[spec.name]
        results, seconds, training = graded(spec)
        print(f"{spec.name}: grade submissions/reference with a cold cache in {seconds:.1f} s, "
              f"{results.score:g}/{results.max_score:g} points")
        for view, suffix in VIEWS.items():
            check = next((c for c in results.checks if c.id == f"{spec.name}.{metric}{suffix}"), None)
            if check is None:
                continue
            print(f"  {check.id} ({view} split; {check.points:g}/{check.max_points:g} points):")
            for row in check.numbers.get("comparison") or []:
                label = "reference submission" if row["role"] == "yours" else row["label"]
                print(f"    {label:30} {row['value']:10.4g}  {'' if row['role'] == 'yours' else row['role']}")
            if view in training:
                t = training[view]
                print(f"    the reference model trained {t['epochs_done']} epochs in {t['cpu_seconds']:.1f} s of CPU "
                      f"({t['seconds']:.1f} s wall; the task's limit per request: {spec.limits.timeout_s:g} s)")
        for seed in args.seeds:
            spec.seed = seed
            results, _, _ = graded(spec)
            figures = {view: c.numbers.get("reference_model") for view, suffix in VIEWS.items()
                       for c in results.checks if c.id == f"{spec.name}.{metric}{suffix}"}
            print(f"  reference model from seed {seed}: " + ", ".join(f"{v} {x:.4g}" for v, x in figures.items()))
        print()


if __name__ == "__main__":
    main()
