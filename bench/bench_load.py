"""Benchmark of grading under load: the same submissions graded on an idle machine and beside CPU hogs.

Grades every trained example (the reference, each buggy sentiment/next-word/translation/forecasting/sentiment_fit
fixture) with an empty reference cache each time, and a class of ``--n`` function-task submissions with
``--workers`` processes; then does it all again while one spinning process per core (``--hogs``) keeps the machine
busy.
Prints each part's time idle and busy, the slowdown, and whether every score, status, message and figure's
data came out the same (timings aside; a model stopped by the CPU budget: statuses and points).

    python bench/bench_load.py [--n 10] [--workers 2] [--hogs N]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from bench_batch import make_class  # noqa: E402
from test_load import comparable, cpu_hogs  # noqa: E402  (tests/test_load.py: the fast version of this)

from harness.batch import grade_class  # noqa: E402
from harness.grading import grade  # noqa: E402
from harness.spec import load_tasks  # noqa: E402
from patches import overlay  # noqa: E402

TRAINED = ("sentiment", "next_word", "translation", "forecasting", "sentiment_fit")


def trained_examples(folder: Path) -> dict[str, tuple[Path, str]]:
    """name -> (submission, task): the reference for each trained task and every buggy trained fixture."""
    out = {f"reference:{t}": (ROOT / "submissions" / "reference", t) for t in TRAINED}
    for expected in sorted((ROOT / "submissions" / "buggy").glob("*/EXPECTED.toml")):
        module = tomllib.loads(expected.read_text())["module"]
        if module in TRAINED:
            name = expected.parent.name
            out[name] = (overlay(expected.parent, ROOT / "submissions" / "reference", folder / name), module)
    return out


def grade_all(examples: dict, klass: Path, out: Path, workers: int, cache: Path) -> tuple[dict, object, dict]:
    os.environ["HARNESS_CACHE"] = str(cache)
    results, seconds = {}, {}
    for name, (path, task) in examples.items():
        began = time.perf_counter()
        results[name] = grade(path, load_tasks(names=[task]))
        seconds[name] = time.perf_counter() - began
    began = time.perf_counter()
    run = grade_class(klass, out, tasks=["cells", "attention", "sequences", "generation"], workers=workers)
    seconds["class"] = time.perf_counter() - began
    return results, run, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10, help="function-task submissions in the class")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--hogs", type=int, default=os.cpu_count() or 2, help="spinning processes (default: one per core)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="harness-bench-load-") as tmp:
        tmp = Path(tmp)
        examples = trained_examples(tmp / "examples")
        klass = tmp / "class"
        klass.mkdir()
        make_class(klass, args.n, {"cells", "attention", "sequences", "generation"})
        idle, idle_run, idle_s = grade_all(examples, klass, tmp / "idle", args.workers, tmp / "cache-idle")
        with cpu_hogs(args.hogs):
            busy, busy_run, busy_s = grade_all(examples, klass, tmp / "busy", args.workers, tmp / "cache-busy")
        shutil.rmtree(tmp / "examples", ignore_errors=True)
    print(f"{'part':<32} {'idle s':>8} {'busy s':>8} {'slowdown':>9}  same results")
    differ = 0
    for name in [*examples, "class"]:
        if name == "class":
            same = all(comparable(a.results) == comparable(b.results)
                       for a, b in zip(idle_run.outcomes, busy_run.outcomes))
        else:
            slow = any(c.id.endswith(".training") and "CPU budget" in c.message for c in idle[name].checks)
            same = comparable(idle[name], slow) == comparable(busy[name], slow)
        differ += not same
        label = f"class of {args.n}, {args.workers} workers" if name == "class" else name
        print(f"{label:<32} {idle_s[name]:8.1f} {busy_s[name]:8.1f} {busy_s[name] / idle_s[name]:8.2f}x  "
              f"{'yes' if same else 'NO'}")
    total_idle, total_busy = sum(idle_s.values()), sum(busy_s.values())
    print(f"{'all':<32} {total_idle:8.1f} {total_busy:8.1f} {total_busy / total_idle:8.2f}x  "
          f"{'all the same' if not differ else f'{differ} differ'} ({args.hogs} hogs on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
