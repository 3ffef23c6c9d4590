"""Benchmark of grading a class: 100 generated submissions with 1 and with 2 worker processes.

The class mixes correct submissions (copies of submissions/reference) and buggy ones (the reference
with one module from submissions/buggy/<bug> laid over it), graded on the four function-level
tasks. Prints throughput with 1 and 2 processes and the speed-up as a ratio, and the time the
harness adds per submission over the work of the checks themselves (bench_grading's bare figure).

    python bench/bench_batch.py [--n 100] [--task cells ...]
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from bench_grading import bare  # noqa: E402

from harness.batch import grade_class  # noqa: E402
from patches import overlay  # noqa: E402  (tests/patches.py: a fixture laid over the reference)
from harness.spec import load_tasks  # noqa: E402

FUNCTION_TASKS = ["cells", "attention", "sequences", "generation"]


def make_class(folder: Path, n: int, modules: set[str]) -> int:
    """``n`` submissions, every third one correct, the others each with one known bug."""
    buggy = [p.parent for p in sorted((ROOT / "submissions" / "buggy").glob("*/EXPECTED.toml"))
             if tomllib.loads(p.read_text())["module"] in modules]
    correct = 0
    for i in range(n):
        dest = folder / f"student{i:03d}"
        if i % 3 == 0:
            shutil.copytree(ROOT / "submissions" / "reference", dest)
            correct += 1
            continue
        overlay(buggy[i % len(buggy)], ROOT / "submissions" / "reference", dest)  # whole modules or patches
    return correct


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--task", action="append")
    args = parser.parse_args()
    tasks = args.task or FUNCTION_TASKS
    work = Path(tempfile.mkdtemp(prefix="harness-bench-class-"))
    try:
        correct = make_class(work / "class", args.n, set(tasks))
        times = {}
        for workers in (1, 2):
            start = time.perf_counter()
            run = grade_class(work / "class", work / f"out{workers}", tasks=tasks, workers=workers, regrade=True)
            times[workers] = time.perf_counter() - start
            graded = sum(o.status == "graded" for o in run.outcomes)
            assert graded == args.n, f"{graded} of {args.n} graded"
        per_submission_bare = bare(load_tasks(names=tasks))
        print(f"class: {args.n} submissions ({correct} correct, {args.n - correct} with one bug); tasks: {', '.join(tasks)}")
        for workers, seconds in times.items():
            print(f"  {workers} worker process{'es' if workers > 1 else ''}: {seconds:7.1f} s   "
                  f"{60 * args.n / seconds:6.1f} submissions/minute")
        print(f"  speed-up 2 vs 1 processes: {times[1] / times[2]:.2f} x (on a 2-core machine)")
        per = times[1] / args.n
        print(f"  per submission with 1 process: {per:.2f} s, of which the checks' own work (bare, in-process) is "
              f"{per_submission_bare:.2f} s: the harness adds {per - per_submission_bare:.2f} s "
              "(worker start with torch import, scratch copy, pipe, report and gradebook writing)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
