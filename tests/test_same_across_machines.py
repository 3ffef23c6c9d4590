"""The same figures and verdicts on another machine, where the harness can make them so.

"Machines" here are fresh processes with their own reference cache, told different things about the CPUs they
have: one pinned to a single core with every thread-count variable at 1; one free on every core with the
variables asking for as many threads as there are cores; and one whose torch runs the kernels of a CPU without
vector instructions (ATEN_CPU_CAPABILITY=default, as on an older machine; judge and worker alike). Each records a
release of the sentiment task (training the reference model and the classical baselines afresh) and checks every
example submission of that task that trains in a few seconds, from that release.

The harness sets torch's threads and deterministic algorithms itself, so the first two agree to the last bit
and word for word; only the seconds a run took may differ. Another instruction set rounds differently (the
training losses part in their seventh digit), which the harness cannot prevent and records in the results
(environment.cpu_capability); the verdicts and every scored figure stay the same.
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

out, submissions = Path(sys.argv[1]), [Path(p) for p in sys.argv[2].split(",")]
write_release(out, load_tasks(names=["sentiment"]))
bundle = load(out / ".harness")
computed = {key: bundle.computed(key) for key in sorted(bundle.index["computed"])}
graded = {s.name: run(s, ["sentiment"], bundle=out / ".harness") for s in submissions}
print(json.dumps({
    "threads_before": int(sys.argv[3]),
    "computed": computed,
    "checks": {name: [[c.id, c.status, c.points, c.message, c.hint] for c in results.checks]
               for name, results in graded.items()},
    "environment": graded[submissions[0].name].environment,
    "figures_used": bundle.index["figures_used"],
    "cached": [entry.digest for entry in cache.entries()],
}, default=lambda t: t.tolist()))
"""


#: the sentiment task's example submissions with their own folder, but the one that runs out of time
SUBMISSIONS = [ROOT / "submissions" / "reference", *(ROOT / "submissions" / "buggy" / name for name in (
    "sentiment_constant", "sentiment_nan_loss", "sentiment_wrong_shape"))]


def start_machine(tmp_path: Path, name: str, cpus: set[int], threads: int, **env_vars: str) -> subprocess.Popen:
    env = {key: value for key, value in os.environ.items() if key != "ATEN_CPU_CAPABILITY"}
    env.update({"HARNESS_CACHE": str(tmp_path / name / "cache"), **env_vars,
                **{var: str(threads) for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}})
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(tmp_path / name / "assignment"), ",".join(map(str, SUBMISSIONS)),
         str(threads)],
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
                start_machine(tmp_path, "every-core", every, len(every)),
                start_machine(tmp_path, "older-cpu", every, 1, ATEN_CPU_CAPABILITY="default")]
    one, many, older = [finish_machine(m) for m in machines]

    for machine in (one, many, older):
        assert machine["environment"]["threads"] == 1
        assert machine["environment"]["deterministic_algorithms"] is True
    assert older["environment"]["cpu_capability"] == "DEFAULT" != one["environment"]["cpu_capability"]
    figures = [key for key in one["computed"] if "baselines" in key]
    assert figures, f"the release recorded no reference figures: {sorted(one['computed'])}"
    assert json.dumps(without_keys(one["computed"], TIMINGS), sort_keys=True) == \
        json.dumps(without_keys(many["computed"], TIMINGS), sort_keys=True)
    assert set(one["checks"]) == {s.name for s in SUBMISSIONS}
    for name in one["checks"]:  # word for word on all three, the instruction set included
        verdicts = [[[DURATION.sub("#", str(part)) for part in c] for c in m["checks"][name]] for m in (one, many, older)]
        assert verdicts[0] == verdicts[1] == verdicts[2], name
    by_id = {c[0]: c[1] for c in one["checks"]["sentiment_constant"]}
    assert by_id.get("sentiment.macro_f1") == "failed", by_id  # the constant classifier earns nothing there
    assert all(c[1] == "passed" for c in one["checks"]["reference"]), one["checks"]["reference"]
    for machine in (one, many, older):  # the release names the cached figures it used, as harness cache list names them
        assert set(machine["figures_used"]) == set(figures)
        assert set(machine["figures_used"].values()) <= set(machine["cached"]), machine["cached"]
    # the older CPU's kernels round differently: its losses part from the others' in the last digits, and
    # every figure a check scores is the same
    for key in figures:
        ours, theirs = one["computed"][key], older["computed"][key]
        for model in ours:
            for figure, value in ours[model].items():
                if figure == "training" or figure in TIMINGS:
                    continue
                if isinstance(value, float):
                    assert theirs[model][figure] == pytest.approx(value, rel=1e-9, abs=1e-12), (key, model, figure)
                else:
                    assert theirs[model][figure] == value, (key, model, figure)
            losses = ours[model].get("training", {}).get("epoch_losses")
            if losses:
                assert theirs[model]["training"]["epoch_losses"] == pytest.approx(losses, rel=1e-4)
