"""Benchmark of the stochastic decoding kinds (harness/checks/stochastic.py): how often a correct search fails,
against the bound each verdict states, and how often a search of the other convention is caught.

For each of ``--seeds`` check seeds, the checks run in process (no worker) on correct searches: the textbook
convention's (torch, a generator), the template's (numpy's global generator) and a token-by-token sampler. Prints,
per check: the failures of the check (a false alarm each) against the stated Bonferroni bound; every drawn case's
p-value, as the fraction below 0.1, 0.01 and 0.001 (a calibrated test gives about those fractions); and the
fraction of seeds on which the searches of the other convention fail (the power), with the seconds a verdict takes.

    python bench/bench_stochastic.py [--seeds 30] [--runs 2000]

With --seeds 20 --runs 2000 (the default options of the kinds), at commit 9f263ea: no false alarm in the 80
checks of correct searches (stated bounds 0.007, 0.006, 0.002 and 0.002 a check); of the 340 drawn cases'
p-values, 33 below 0.1, 2 below 0.01 and none below 0.001 (34, 3.4 and 0.34 expected); the search of the
other convention failed on 20 of 20 seeds under each convention.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from test_stochastic_decoding import (  # noqa: E402  the searches the tests grade, written several ways
    TEMPLATE, TEXTBOOK, sample_numpy, sample_torch, sequence_verdict, template_search, template_with_generator,
    textbook_from_globals, textbook_search, verdict)

LEVELS = (0.1, 0.01, 0.001)


def measure(name: str, judge, seeds: int, wrong=None) -> None:
    failures, p_values, seconds, caught = 0, [], [], 0
    bound = None
    for seed in range(seeds):
        start = time.perf_counter()
        result = judge(seed)
        seconds.append(time.perf_counter() - start)
        bound = result.numbers["false_alarm_bound"]
        failures += not result.passed
        p_values += [c["p"] for c in result.numbers.get("per_case", []) if "p" in c]
        if wrong is not None:
            caught += not wrong(seed).passed
    below = ", ".join(f"{sum(p < a for p in p_values) / len(p_values):.3f} below {a:g}" for a in LEVELS)
    print(f"{name}: {failures} false alarms in {seeds} checks (stated bound {bound:.2g} a check); "
          f"{len(p_values)} drawn cases' p-values: {below}; "
          f"{statistics.median(seconds):.2f} s a verdict (median)", flush=True)
    if wrong is not None:
        print(f"    the other convention's search fails on {caught} of {seeds} seeds", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    runs = args.runs
    measure("stochastic_beam, textbook convention", lambda s: verdict(textbook_search, seed=s, runs=runs, **TEXTBOOK),
            args.seeds, lambda s: verdict(template_with_generator, seed=s, runs=runs, **TEXTBOOK))
    measure("stochastic_beam, template convention", lambda s: verdict(template_search, seed=s, runs=runs, **TEMPLATE),
            args.seeds, lambda s: verdict(textbook_from_globals, seed=s, runs=runs, **TEMPLATE))
    measure("sample_sequence, generator", lambda s: sequence_verdict(sample_torch, seed=s, runs=runs), args.seeds)
    measure("sample_sequence, global numpy",
            lambda s: sequence_verdict(sample_numpy, seed=s, runs=runs, randomness="global"), args.seeds)


if __name__ == "__main__":
    main()
