"""Benchmark of grading a class of student-trained submissions: the sentiment_fit task (``[training] by = "student"``)
for ``--n`` generated students with ``harness grade --workers 2``.

Each generated student writes their own ``fit`` (an embedding, an LSTM or a GRU, a linear layer, Adam) with their
own hidden size, embedding size, learning rate, seed, number of epochs and way of choosing the model returned (the
best validation epoch, kept with ``budget.keep``, or the last one): honest work, each trained in its worker. Two
students of every twenty fail, as submissions/buggy/ does: a fit whose optimiser never steps (the gradients cleared
first) and one whose predictor returns the predicted classes instead of logits.

Prints (1) what the reference costs once (the answer key's fit and the classical baselines, graded with an empty
cache), (2) the class graded with an empty reference cache, (3) the class graded again with the cache filled
(``regrade``): wall time, per-submission time (the job's own seconds: median, max), and the difference, what
computing the reference in the class run costs. Asserts that every honest student passes fit and learns, and that
each failing one fails what it should.

    python bench/bench_fit_class.py [--n 20] [--workers 2]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from harness.batch import grade_class  # noqa: E402
from harness.grading import grade  # noqa: E402
from harness.spec import load_tasks  # noqa: E402
from patches import overlay  # noqa: E402  (tests/patches.py: a fixture laid over the reference)

TASK = "sentiment_fit"
#: the failing students: the buggy fixture laid over the reference, and the checks it must fail
FAILING = {"sentiment_fit_grads_cleared": ["sentiment_fit.learns"],
           "sentiment_fit_returns_classes": ["sentiment_fit.fit", "sentiment_fit.learns"]}

STUDENT = '''\
"""Student {i}: {cell} classifier, hidden {hidden}, embedding {embed}, lr {lr}, {epochs} epochs, returns {returns}."""
import torch
from torch import nn


class Classifier(nn.Module):
    def __init__(self, vocab_size, num_classes):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, {embed}, padding_idx=0)
        self.rnn = nn.{cell}({embed}, {hidden}, batch_first=True)
        self.head = nn.Linear({hidden}, num_classes)

    def forward(self, ids):
        states, _ = self.rnn(self.embed(ids))
        return self.head(states[:, -1])


def fit(train, valid, budget):
    torch.manual_seed({seed})
    model = Classifier(train["vocab_size"], train["num_classes"])
    optimizer = torch.optim.Adam(model.parameters(), lr={lr})
    x, y = train["x"], train["y"]
    best = -1.0
    for epoch in range({epochs}):
        model.train()
        order = torch.randperm(len(x))
        for start in range(0, len(x), {batch}):
            rows = order[start:start + {batch}]
            loss = nn.functional.cross_entropy(model(x[rows]), y[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(valid["x"]).argmax(1) == valid["y"]).float().mean().item()
        if accuracy > best:
            best = accuracy
            budget.keep(model)
    return {returned}
'''


def student(i: int) -> str:
    """Student ``i``'s sentiment_fit.py: each setting drawn from the index, so that neighbours differ."""
    best = i % 2 == 0
    return STUDENT.format(i=i, cell=("LSTM", "GRU")[i % 2], hidden=(16, 32, 48, 64)[i % 4], embed=(16, 24, 32)[i % 3],
                          lr=(0.003, 0.005, 0.01)[i % 3], epochs=2 + i % 4, batch=(32, 64)[i % 2], seed=1000 + i,
                          returns="the best validation epoch" if best else "the last epoch",
                          returned="budget.kept" if best else "model")


def make_fit_class(folder: Path, n: int, failing_at: tuple[int, ...] = (7, 13)) -> dict[str, list[str]]:
    """``n`` submissions of the sentiment_fit task in ``folder`` (one subfolder each); the students at ``failing_at``
    of every twenty are the failing fixtures, in FAILING's order. Returns, per submission, the checks it must fail
    (none for honest work)."""
    failing = dict(zip(failing_at, FAILING))
    expected = {}
    for i in range(n):
        name = f"student{i:03d}"
        fixture = failing.get(i % 20)
        if fixture:
            overlay(ROOT / "submissions" / "buggy" / fixture, ROOT / "submissions" / "reference", folder / name)
            expected[name] = FAILING[fixture]
        else:
            (folder / name).mkdir(parents=True)
            (folder / name / f"{TASK}.py").write_text(student(i))
            expected[name] = []
    return expected


def verdicts_hold(run, expected: dict[str, list[str]]) -> list[str]:
    """What differs from the expected verdicts: every submission graded; honest ones pass fit and learns, failing
    ones fail each check named."""
    wrong = []
    for outcome in run.outcomes:
        if outcome.results is None:
            wrong.append(f"{outcome.name}: not graded ({outcome.reason})")
            continue
        status = {c.id: c.status for c in outcome.results.checks}
        must_fail = expected[outcome.name]
        for check in must_fail or [f"{TASK}.fit", f"{TASK}.learns"]:
            if (status.get(check) == "passed") == bool(must_fail):
                wrong.append(f"{outcome.name}: {check} {status.get(check)}")
    return wrong


def timed_class(klass: Path, out: Path, workers: int, regrade: bool):
    """The class graded: (run, wall seconds, the machine's load average over the run's first minute)."""
    start = time.perf_counter()
    run = grade_class(klass, out, tasks=[TASK], workers=workers, regrade=regrade)
    return run, time.perf_counter() - start, os.getloadavg()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="harness-bench-fit-class-"))
    try:
        klass = work / "class"
        expected = make_fit_class(klass, args.n)
        os.environ["HARNESS_CACHE"] = str(work / "cache-once")
        start = time.perf_counter()
        grade(klass / "student000", load_tasks(names=[TASK]))
        once = time.perf_counter() - start
        start = time.perf_counter()
        grade(klass / "student000", load_tasks(names=[TASK]))
        once_warm = time.perf_counter() - start

        os.environ["HARNESS_CACHE"] = str(work / "cache")  # empty: the class run computes the reference
        cold, cold_s, cold_load = timed_class(klass, work / "out", args.workers, regrade=False)
        warm, warm_s, warm_load = timed_class(klass, work / "out", args.workers, regrade=True)
        wrong = verdicts_hold(cold, expected) + verdicts_hold(warm, expected)
        failing = sum(bool(v) for v in expected.values())
        print(f"class: {args.n} student-trained submissions of {TASK} ({args.n - failing} honest, {failing} failing), "
              f"{args.workers} workers")
        print(f"  one submission alone, empty cache (the answer key's fit and the baselines computed): {once:6.1f} s; "
              f"cache filled: {once_warm:6.1f} s; the reference costs {once - once_warm:.1f} s once")
        for label, run, seconds, load in (("empty reference cache", cold, cold_s, cold_load),
                                          ("reference cached", warm, warm_s, warm_load)):
            per = [o.seconds for o in run.outcomes]
            print(f"  {label:22s} {seconds:7.1f} s wall, {seconds / args.n:5.2f} s per submission; each job "
                  f"median {statistics.median(per):5.1f} s, max {max(per):5.1f} s (load average {load:.1f} "
                  f"on {os.cpu_count()} cores)")
        slowest = max(o.seconds for o in warm.outcomes)
        slower = sorted(o.seconds for o in cold.outcomes if o.seconds > slowest)
        print(f"  the cache's effect on the class: {cold_s - warm_s:+.1f} s of wall time "
              f"({cold_s / warm_s:.2f} x the cached run's); jobs of the first run slower than any of the cached run "
              f"(where the reference was computed, once, or waited for by another pool process): "
              f"{', '.join(f'{s:.1f} s' for s in slower) or 'none'}")
        scores = sorted(o.results.score for o in warm.outcomes if o.results is not None)
        print(f"  scores (of {warm.specs[0].max_score:g}): {', '.join(f'{s:.1f}' for s in scores)}")
        assert not wrong, "verdicts differ from the expected ones:\n" + "\n".join(wrong)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
