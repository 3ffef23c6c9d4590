"""Benchmark: grading submissions/reference, with the sandbox and without it.

Prints wall time of ``grade()`` (worker start, scratch copy, every check's programs over the pipe,
verdicts, figures; the worker forked from a fork server as ``harness grade`` does, or started cold with
``--cold``) and of the bare computation — the same checks run in this process with the
submission imported directly, no worker — so the harness's overhead shows as a ratio; and peak
resident memory of the judge and of the workers.

Target (issue 18): sandboxed at most 1.5 times bare; the last line says whether it is met.

    python bench/bench_grading.py [--repeat 3] [--task cells ...] [--cold]
"""
from __future__ import annotations

import argparse
import importlib.util
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.answers import LiveAnswers, detached  # noqa: E402
from harness.checks import Context, load_builtin_checks  # noqa: E402
from harness.checks.implementation import scan_source  # noqa: E402
from harness.grading import grade, view_of  # noqa: E402
from harness.sandbox import program as interpreter  # noqa: E402
from harness.sandbox.launcher import Reply  # noqa: E402
from harness.spec import load_tasks  # noqa: E402
from harness.submission import locate  # noqa: E402

SUBMISSION = ROOT / "submissions" / "reference"
FUNCTION_TASKS = ["cells", "attention", "sequences", "generation"]  # the tasks of issue 18's target


def import_submission(folder: Path, stems: list[str]) -> dict:
    sys.path.insert(0, str(folder))
    namespace = {}
    for stem in stems:
        spec = importlib.util.spec_from_file_location(stem, folder / f"{stem}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[stem] = module
        spec.loader.exec_module(module)
        namespace[stem] = module
    return namespace


def bare(specs) -> float:
    """Every check's work (programs on the submission and on the answer key, verdicts) in-process."""
    load_builtin_checks()
    stems = sorted({s.module for s in specs})
    student = import_submission(SUBMISSION, stems)
    sources = locate(SUBMISSION, stems).modules
    answers = LiveAnswers()
    start = time.perf_counter()
    for spec in specs:
        for check in spec.checks:
            run = lambda p, timeout=None: Reply({"ok": True}, detached(interpreter.run(p.to_json(), p.inputs, student)))  # noqa: E731
            ctx = Context(check.id, check.options, spec.tolerances, spec.seed_for(check), run, answers, spec,
                          view=view_of(check), source=sources[spec.module],
                          static_findings=scan_source(sources[spec.module].python))
            verdict = spec.definitions[check.definition].func(ctx)
            assert verdict.passed, (check.id, verdict.message)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--task", action="append")
    parser.add_argument("--cold", action="store_true", help="start each worker cold (no fork server)")
    args = parser.parse_args()
    if not args.cold:
        from harness.sandbox import zygote

        zygote.start_for_process()
    specs = load_tasks(names=args.task or FUNCTION_TASKS)
    n_checks = sum(len(s.checks) for s in specs)
    grade(SUBMISSION, specs)  # untimed: the fork server's warm-up, the answer key's first import
    sandboxed = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        results = grade(SUBMISSION, specs)
        sandboxed.append(time.perf_counter() - start)
        assert results.score == results.max_score, "the reference submission must score full marks"
    bare_times = [bare(specs) for _ in range(args.repeat)]
    s, b = statistics.median(sandboxed), statistics.median(bare_times)
    judge_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"tasks: {', '.join(sp.name for sp in specs)}; checks: {n_checks}; repeats: {args.repeat} (median)")
    print(f"grade submissions/reference (sandboxed):  {s:7.2f} s   runs: {', '.join(f'{t:.2f}' for t in sandboxed)}")
    print(f"same checks, bare (in-process, no worker): {b:7.2f} s   runs: {', '.join(f'{t:.2f}' for t in bare_times)}")
    print(f"overhead ratio sandboxed / bare:           {s / b:7.2f} x   (+{s - b:.2f} s per submission)")
    print(f"peak RSS: judge {judge_mb:.0f} MiB, largest worker {worker_mb:.0f} MiB")
    print(f"worker start: {results.sandbox.get('start', '?')} ({results.sandbox.get('start_seconds', float('nan')):.2f} s)")
    print(f"target sandboxed <= 1.5 x bare: {'met' if s <= 1.5 * b else 'NOT met'} ({s / b:.2f} x)")


if __name__ == "__main__":
    main()
