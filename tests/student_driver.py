"""Run in a student's venv (the student package alone): check many submissions against a released bundle.

    python student_driver.py JOBS.json OUT_DIR

JOBS.json: {"bundle": ".harness folder", "jobs": [{"name", "path", "tasks": [...], "limits": {key: value},
"cpu_budget_s": {task: s}}, ...]}. For each job, the public checks of its tasks run from the bundle, as
``harness check`` runs them on a student's machine, and the results go to OUT_DIR/<name>.json. Each job's
``limits`` (of the tasks' [limits]) and training CPU budgets are those tests/test_verdicts.py's ``fast_specs``
gives the instructor's side, so that both sides grade under the same limits. This file imports nothing
from the tests or the checkout: it runs where only the student's wheel is installed.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from harness import bundle as bundles
from harness.answers import BundleAnswers
from harness.grading import grade
from harness.sandbox import zygote


def main(jobs_path: str, out_dir: str) -> None:
    zygote.start_for_process()  # workers forked from a fork server, as harness check's are
    assert importlib.util.find_spec("reference_models") is None, "the answer key is importable here"
    config = json.loads(Path(jobs_path).read_text())
    released = bundles.load(Path(config["bundle"]))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for job in config["jobs"]:
        specs = released.specs(job["tasks"])
        for spec in specs:
            for key, value in job["limits"].items():
                setattr(spec.limits, key, value)
            if spec.training:
                spec.training["cpu_budget_s"] = job["cpu_budget_s"][spec.name]
        results = grade(Path(job["path"]), specs, visibility=("public",), answers=BundleAnswers(released))
        results.write(out / f"{job['name']}.json")
        print(job["name"], results.score, results.max_score, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
