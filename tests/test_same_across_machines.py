"""The same figures and verdicts on another machine, where the harness can make them so.

Two "machines" here are two fresh processes with their own reference cache, told different things about the
CPUs they have: one pinned to a single core with every thread-count variable at 1, the other free on every
core with the variables asking for as many threads as there are cores. Each records a release of the
sentiment task (training the reference model and the classical baselines afresh) and checks a submission
from that release. The harness sets torch's threads and deterministic algorithms itself, so the released
figures agree to the last bit and the verdicts word for word; only the seconds a run took may differ.
(A different CPU instruction set or torch build can still round differently: the torch version is part of
the cache key, the instruction set is not under the harness's control.)
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import DURATION, without_keys

ROOT = Path(__file__).resolve().parents[1]
TIMINGS = {"seconds", "cpu_seconds", "created"}

SCRIPT = r"""
import json, sys, torch
from pathlib import Path
from harness import cache
from harness.bundle import load
from harness.checking import run
from harness.release import write_release
from harness.spec import load_tasks

out, submission = Path(sys.argv[1]), Path(sys.argv[2])
write_release(out, load_tasks(names=["sentiment"]))
bundle = load(out / ".harness")
computed = {key: bundle.computed(key) for key in sorted(bundle.index["computed"])}
results = run(submission, ["sentiment"], bundle=out / ".harness")
print(json.dumps({
    "threads_before": int(sys.argv[3]),
    "computed": computed,
    "checks": [[c.id, c.status, c.points, c.message, c.hint] for c in results.checks],
    "environment": results.environment,
    "figures_used": bundle.index["figures_used"],
    "cached": [entry.digest for entry in cache.entries()],
}, default=lambda t: t.tolist()))
"""


def start_machine(tmp_path: Path, name: str, cpus: set[int], threads: int) -> subprocess.Popen:
    env = {**os.environ, "HARNESS_CACHE": str(tmp_path / name / "cache"),
           **{var: str(threads) for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}}
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(tmp_path / name / "assignment"),
         str(ROOT / "submissions" / "buggy" / "sentiment_constant"), str(threads)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: os.sched_setaffinity(0, cpus))


def finish_machine(machine: subprocess.Popen) -> dict:
    out, err = machine.communicate(timeout=600)
    assert machine.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs a Linux machine with at least two cores to pin one process to a single core")
def test_a_release_recorded_on_one_core_and_on_every_core_gives_the_same_figures_and_verdicts(tmp_path):
    every = os.sched_getaffinity(0)
    machines = [start_machine(tmp_path, "one-core", {min(every)}, 1),  # side by side: each on its own
                start_machine(tmp_path, "every-core", every, len(every))]
    one, many = [finish_machine(m) for m in machines]

    assert one["environment"]["threads"] == many["environment"]["threads"] == 1
    assert one["environment"]["deterministic_algorithms"] is many["environment"]["deterministic_algorithms"] is True
    figures = [key for key in one["computed"] if "baselines" in key]
    assert figures, f"the release recorded no reference figures: {sorted(one['computed'])}"
    assert json.dumps(without_keys(one["computed"], TIMINGS), sort_keys=True) == \
        json.dumps(without_keys(many["computed"], TIMINGS), sort_keys=True)
    assert [[DURATION.sub("#", str(part)) for part in c] for c in one["checks"]] == \
        [[DURATION.sub("#", str(part)) for part in c] for c in many["checks"]]
    by_id = {c[0]: c[1] for c in one["checks"]}
    assert by_id.get("sentiment.macro_f1") == "failed", by_id  # the constant classifier earns nothing there
    for machine in (one, many):  # the release names the cached figures it used, as harness cache list names them
        assert set(machine["figures_used"]) == set(figures)
        assert set(machine["figures_used"].values()) <= set(machine["cached"]), machine["cached"]
