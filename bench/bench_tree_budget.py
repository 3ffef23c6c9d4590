"""Benchmark of the per-worker control group (harness/sandbox/cgroups.py): what one budget for a worker's whole
process tree costs a grading run.

Prints (1) creating and removing a group with the task's limits, alone, N times (what each submission pays
once, and again at each restart of its worker); (2) reading the group's usage (what the judge does every
50 ms while it waits for a reply); (3) a worker's start, loading a module and one small request, with the
group and without it (``disable=["tree_budget"]``), median/min/max of a few repeats. Needs a machine where
the judge can make control groups (Linux as root here); elsewhere it says why and measures (3) only.

    python bench/bench_tree_budget.py [--repeat 5] [--groups 200]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.runtime.config import Limits  # noqa: E402
from harness.sandbox import cgroups  # noqa: E402
from harness.sandbox.launcher import Sandbox  # noqa: E402
from harness.sandbox.program import Program  # noqa: E402


def spread(values: list[float], unit: float = 1e3, label: str = "ms") -> str:
    return (f"median {statistics.median(values) * unit:.3g} {label}, min {min(values) * unit:.3g}, "
            f"max {max(values) * unit:.3g} (n={len(values)})")


def groups(n: int) -> None:
    where = cgroups.placement()
    if not where.available:
        print(f"control groups: not available here ({where.reason})")
        return
    created, removed, reads = [], [], []
    for _ in range(n):
        t0 = time.perf_counter()
        budget = where.create(Limits())
        t1 = time.perf_counter()
        budget.usage()
        t2 = time.perf_counter()
        budget.remove()
        t3 = time.perf_counter()
        created.append(t1 - t0)
        reads.append(t2 - t1)
        removed.append(t3 - t2)
    print(f"mechanism: {budget.mechanism}")
    print(f"create a group:   {spread(created)}")
    print(f"remove a group:   {spread(removed)}")
    print(f"read its usage:   {spread(reads, 1e6, 'µs')}")


def worker(repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sub = Path(tmp) / "sub"
        sub.mkdir()
        (sub / "small.py").write_text("def add(a, b):\n    return a + b\n")
        for label, disable in (("with the group", []), ("without it", ["tree_budget"])):
            times = []
            for i in range(repeat):
                start = time.perf_counter()
                with Sandbox(sub, Path(tmp) / f"scratch-{label[:4]}-{i}", Limits(), disable=disable) as sandbox:
                    sandbox.load("small", "small.py")
                    p = Program()
                    for _ in range(20):  # twenty requests: the usage is read at each
                        sandbox.run(p.result(p.call("small.add", 1, 2)).to_json(), {})
                times.append(time.perf_counter() - start)
            print(f"worker start + load + 20 requests + close, {label}: {spread(times)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--groups", type=int, default=200)
    args = parser.parse_args()
    groups(args.groups)
    worker(args.repeat)


if __name__ == "__main__":
    main()
