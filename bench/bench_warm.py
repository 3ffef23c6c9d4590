"""Benchmark of warm workers: a class graded with 2 worker processes, every worker started cold, then every worker
forked from each pool process's fork server (harness/sandbox/zygote.py).

The class is bench_batch's (every third submission correct, the others each with one known bug), graded on the
four function-level tasks. Prints, for each start, the wall time and throughput of the run, how each worker was
started (``results.sandbox.start``: forked or cold) and the time from asking for a worker to its accepted hello
(``results.sandbox.start_seconds``: median and 90th percentile per submission), and the ratio of the two runs.
The runs alternate (cold, forked, cold, …) ``--rounds`` times; the figures are medians over the rounds.

Then ``harness check`` of one correct submission, as whole processes, alternating cold and warm ``--checks``
times: the warm one starts its fork server before the judge imports torch, so that the worker's torch import
runs while the judge imports its own and loads the specs and the answer key.

With ``--against DIR`` (a checkout of an earlier commit, e.g. ``git worktree add /tmp/base 32abef8``, the commit
issue 18 was filed against), the same class is also graded by that checkout's harness, in a process of its own,
alternating with the two runs above, and the forked run's throughput is compared with it: issue 18's target is
twice the throughput of its day.

    python bench/bench_warm.py [--n 100] [--rounds 1] [--checks 5] [--task cells ...] [--against DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from bench_batch import FUNCTION_TASKS, make_class  # noqa: E402

from harness.batch import grade_class  # noqa: E402


def starts(out: Path) -> tuple[Counter, list[float]]:
    """How each graded submission's worker started, and how long each start took (s)."""
    kinds, seconds = Counter(), []
    for path in sorted((out / "submissions").glob("*/results.json")):
        sandbox = json.loads(path.read_text())["sandbox"]
        kinds[sandbox.get("start", "?")] += 1
        if "start_seconds" in sandbox:
            seconds.append(sandbox["start_seconds"])
    return kinds, seconds


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


CHECK = ("import sys; import harness.sandbox.zygote as z\n"
         "if sys.argv[1] == 'cold': z.start_for_process = lambda: None\n"
         "from harness.cli import main; main(['check', *sys.argv[2:]])")


AGAINST = ("import sys, time\nfrom pathlib import Path\nimport harness\nfrom harness.batch import grade_class\n"
           "assert Path(harness.__file__).resolve().is_relative_to(Path(sys.argv[1]).resolve()), harness.__file__\n"
           "begun = time.perf_counter()\n"
           "run = grade_class(Path(sys.argv[2]), Path(sys.argv[3]), tasks=sys.argv[5:], workers=int(sys.argv[4]), "
           "regrade=True)\n"
           "print(time.perf_counter() - begun, sum(o.status == 'graded' for o in run.outcomes))")


def grade_with(checkout: Path, klass: Path, out: Path, workers: int, tasks: list[str]) -> float:
    """Seconds ``checkout``'s harness takes to grade ``klass`` (every submission must be graded)."""
    done = subprocess.run([sys.executable, "-c", AGAINST, str(checkout), str(klass), str(out), str(workers), *tasks],
                          capture_output=True, text=True, cwd=checkout,  # its folder first on the path, not this one
                          env={**os.environ, "PYTHONPATH": str(checkout)})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    seconds, graded = done.stdout.split()[-2:]
    assert int(graded) == len([p for p in klass.iterdir() if p.is_dir()]), f"{graded} graded by {checkout}"
    return float(seconds)


def time_checks(folder: Path, tasks: list[str], times: int) -> dict[str, list[float]]:
    """Wall time of ``harness check`` on ``folder``, whole processes, cold and warm alternating ``times`` times."""
    seconds: dict[str, list[float]] = {"cold": [], "warm": []}
    args = [str(folder), *(a for t in tasks for a in ("--task", t))]
    for i in range(times):
        for kind in ("cold", "warm"):
            out = folder.parent / f"check-{kind}-{i}"
            begun = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", CHECK, kind, *args, "--json", str(out / "r.json"),
                                   "--report", str(out / "r.html")], capture_output=True, text=True, cwd=folder.parent,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)})  # this checkout's harness
            seconds[kind].append(time.perf_counter() - begun)
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
            start = json.loads((out / "r.json").read_text())["sandbox"].get("start")
            assert start == ("forked" if kind == "warm" else "cold"), start
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--checks", type=int, default=5)
    parser.add_argument("--task", action="append")
    parser.add_argument("--against", type=Path, help="a checkout of an earlier commit to compare the throughput with")
    args = parser.parse_args()
    tasks = args.task or FUNCTION_TASKS
    work = Path(tempfile.mkdtemp(prefix="harness-bench-warm-"))
    figures: dict[str, dict[str, list]] = {kind: {"wall": [], "start": [], "kinds": []} for kind in ("cold", "forked")}
    against: list[float] = []
    try:
        correct = make_class(work / "class", args.n, set(tasks))
        for round_ in range(args.rounds):
            for kind in ("cold", "forked"):
                out = work / f"out-{kind}-{round_}"
                begun = time.perf_counter()
                run = grade_class(work / "class", out, tasks=tasks, workers=args.workers, regrade=True,
                                  warm_workers=kind == "forked")
                figures[kind]["wall"].append(time.perf_counter() - begun)
                graded = sum(o.status == "graded" for o in run.outcomes)
                assert graded == args.n, f"{graded} of {args.n} graded"
                kinds, seconds = starts(out)
                figures[kind]["start"].extend(seconds)
                figures[kind]["kinds"].append(dict(kinds))
            if args.against:
                against.append(grade_with(args.against, work / "class", work / f"out-against-{round_}", args.workers,
                                          tasks))
        print(f"class: {args.n} submissions ({correct} correct, {args.n - correct} with one bug); tasks: "
              f"{', '.join(tasks)}; {args.workers} worker processes; {args.rounds} round(s), alternating")
        wall = {}
        for kind, f in figures.items():
            wall[kind] = statistics.median(f["wall"])
            print(f"  {kind:>6} starts: {wall[kind]:7.1f} s   {60 * args.n / wall[kind]:6.1f} submissions/minute   "
                  f"worker start per submission: median {statistics.median(f['start']):.3f} s, "
                  f"90th percentile {percentile(f['start'], 0.9):.3f} s   starts recorded: {f['kinds']}")
        print(f"  throughput forked vs cold: {wall['cold'] / wall['forked']:.2f} x")
        if against:
            base = statistics.median(against)
            ratio = base / wall["forked"]
            print(f"  {args.against}: {base:7.1f} s   {60 * args.n / base:6.1f} submissions/minute")
            print(f"  throughput forked vs {args.against}: {ratio:.2f} x")
            print(f"  target (issue 18) forked >= 2 x the throughput of the commit it was filed against: "
                  f"{'met' if ratio >= 2 else 'NOT met'}")
        else:
            print("  target (issue 18): twice the throughput of the commit it was filed against; pass --against DIR")
        if args.checks:
            checks = time_checks(work / "class" / "student000", tasks, args.checks)
            cold, warm = statistics.median(checks["cold"]), statistics.median(checks["warm"])
            print(f"harness check of one correct submission ({args.checks} whole-process runs each, alternating): "
                  f"cold {cold:.2f} s, warm {warm:.2f} s (medians): {cold / warm:.2f} x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
