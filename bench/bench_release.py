"""Benchmark of a release and of checking from it: what ``harness release`` costs, what it weighs, and how
fast a student's check runs from the bundle next to the instructor's live check.

Prints (1) the wall time of ``write_release`` — with ``--cold`` first into an empty baseline cache (the
trained tasks' reference models are trained then: minutes), then warm — with the part spent recording
the bundle, and per task the time to record it alone and the size of its bundle; (2) the released folder:
bundle.json, values.safetensors, every other file, in bytes; (3) grading submissions/reference in this
process from the bundle (``harness.checking.run(..., bundle=...)``, what a student's machine does) against
the live answer key (``harness.checking.run(path, tasks)``, the instructor's), median/min/max of a few
repeats, and whether both give the same verdicts; (4) with ``--venv``, the same check through the
``harness`` command of a fresh student venv (only ``harness-student``) and of this environment.

    python bench/bench_release.py [--task sequences ...] [--cold] [--repeat 3] [--venv]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # student_env: the student's venv, as the tests make it

from harness import bundle  # noqa: E402
from harness.checking import run as check  # noqa: E402
from harness.checks.trained import cache_dir  # noqa: E402
from harness.release import write_release  # noqa: E402
from harness.release.record import record  # noqa: E402
from harness.spec import load_tasks  # noqa: E402

SUBMISSION = ROOT / "submissions" / "reference"


def timed(func, *args, **kwargs):
    start = time.perf_counter()
    value = func(*args, **kwargs)
    return value, time.perf_counter() - start


def stats(times: list[float]) -> str:
    return (f"median {statistics.median(times):7.2f} s   min {min(times):6.2f}   max {max(times):6.2f}   "
            f"runs: {', '.join(f'{t:.2f}' for t in times)}")


def release(specs, where: Path) -> tuple[Path, float, float]:
    """write_release into a new folder under ``where``: (folder, total seconds, seconds spent recording)."""
    folder = Path(tempfile.mkdtemp(prefix="release-", dir=where)) / "assignment"
    spent = []

    def timed_record(s):
        contents, seconds = timed(record, s)
        spent.append(seconds)
        return contents

    _, total = timed(write_release, folder, specs, record=timed_record)
    return folder, total, sum(spent)


def size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def print_release_times(specs, work: Path, cold: bool) -> Path:
    print(f"(1) write_release, {len(specs)} tasks: {', '.join(s.name for s in specs)}")
    if cold:
        os.environ["HARNESS_CACHE"] = tempfile.mkdtemp(prefix="cache-", dir=work)
        _, total, recording = release(specs, work)
        print(f"  cold (empty baseline cache {cache_dir()}):  {total:8.2f} s   recording the bundle {recording:8.2f} s")
        label = "warm (same cache)"
    else:
        _, total, recording = release(specs, work)
        print(f"  first (baseline cache as found, {cache_dir()}): {total:8.2f} s   recording {recording:8.2f} s")
        label = "again (warm cache)"
    folder, total, recording = release(specs, work)
    print(f"  {label + ':':<42}{total:8.2f} s   recording the bundle {recording:8.2f} s   "
          f"the rest (starters, files) {total - recording:.2f} s")
    print(f"\n  per task, warm: {'task':14} {'public':>6} {'record s':>9} {'bundle.json':>12} {'values':>12} "
          f"{'draws':>6} {'programs':>8} {'variants':>8}")
    for spec in specs:
        contents, seconds = timed(record, [spec])
        one = Path(tempfile.mkdtemp(prefix=f"bundle-{spec.name}-", dir=work))
        bundle.write(one, contents)
        public = sum(not c.graded_later for c in spec.checks)
        n_variants = sum(len(by) for by in contents.variants.values())
        print(f"  {'':16}{spec.name:14} {public:6d} {seconds:9.2f} {size(one / bundle.INDEX):12,d} "
              f"{size(one / bundle.VALUES):12,d} {sum(map(len, contents.draws.values())):6d} "
              f"{len(contents.references):8d} {n_variants:8d}")
    return folder


def print_sizes(folder: Path) -> None:
    harness_dir = folder / bundle.FOLDER
    index, values = harness_dir / bundle.INDEX, harness_dir / bundle.VALUES
    print(f"\n(2) the released folder {folder}")
    print(f"  {'.harness/' + bundle.INDEX:40} {size(index):12,d} bytes")
    print(f"  {'.harness/' + bundle.VALUES:40} {size(values):12,d} bytes")
    print(f"  {'the bundle (both)':40} {size(index) + size(values):12,d} bytes")
    print(f"  {'.harness/' + bundle.TASKS + '/ (public task files)':40} {size(harness_dir / bundle.TASKS):12,d} bytes")
    others = sorted(p for p in folder.rglob("*") if p.is_file() and harness_dir not in p.parents)
    for path in others:
        print(f"  {path.relative_to(folder).as_posix():40} {size(path):12,d} bytes")
    print(f"  {'the released folder, total':40} {size(folder):12,d} bytes in "
          f"{sum(1 for p in folder.rglob('*') if p.is_file())} files")


def student_folder(release_dir: Path, specs, work: Path) -> Path:
    """The release with submissions/reference's modules in place of the starter files: a student's folder."""
    folder = Path(tempfile.mkdtemp(prefix="student-", dir=work)) / "assignment"
    shutil.copytree(release_dir, folder)
    for spec in specs:
        for name in (f"{spec.module}.py", f"{spec.module}.ipynb"):
            if (SUBMISSION / name).is_file():
                (folder / f"{spec.module}.py").unlink(missing_ok=True)
                shutil.copy(SUBMISSION / name, folder / name)
                break
    return folder


def verdicts(results) -> dict[str, tuple[str, float]]:
    return {c.id: (c.status, c.points) for c in results.checks}


def print_check_times(release_dir: Path, folder: Path, names: list[str], repeat: int) -> None:
    print(f"\n(3) checking submissions/reference in this process, public checks, {repeat} repeats")
    from_bundle, live = [], []
    for _ in range(repeat):
        results_bundle, seconds = timed(check, folder, names, bundle=release_dir / bundle.FOLDER)
        from_bundle.append(seconds)
        results_live, seconds = timed(check, SUBMISSION, names)
        live.append(seconds)
    a, b = verdicts(results_bundle), verdicts(results_live)
    print(f"  from the bundle (student):    {stats(from_bundle)}")
    print(f"  live answer key (instructor): {stats(live)}")
    print(f"  ratio bundle / live: {statistics.median(from_bundle) / statistics.median(live):.2f} x; "
          f"{len(a)} checks, score {results_bundle.score:g}/{results_bundle.max_score:g} from the bundle, "
          f"{results_live.score:g}/{results_live.max_score:g} live; "
          f"{'same verdicts' if a == b else 'DIFFERENT verdicts: ' + repr({k: (a.get(k), b.get(k)) for k in a.keys() | b.keys() if a.get(k) != b.get(k)})}")
    if results_bundle.not_run_checks:
        print(f"  {results_bundle.coverage_line()}")
    from harness.report import write_report

    _, seconds = timed(write_report, results_bundle, folder / "report.html")
    print(f"  then writing report.html (what `harness check` adds): {seconds:.2f} s; these are warm-process "
          "figures (the release ran every check's code already): see (4) for a process's whole cost")


def print_cli_times(folder: Path, names: list[str], repeat: int, work: Path) -> None:
    from harness.release.wheel import build_student_wheel
    from student_env import make_student_venv, student_subprocess_env

    print(f"\n(4) the `harness check` command, {repeat} repeats (wall time of the process)")
    wheel, seconds = timed(build_student_wheel, work / "wheel")
    print(f"  build harness-student: {seconds:.2f} s ({wheel.stat().st_size:,d} bytes)")
    python, seconds = timed(make_student_venv, wheel, work / "student-venv")
    print(f"  make the student venv: {seconds:.2f} s")
    env = student_subprocess_env()
    tasks = [arg for name in names for arg in ("--task", name)]
    out = work / "cli-out"
    commands = {
        "student venv, from the folder's .harness/": (python.parent / "harness", folder, folder),
        "this environment, live answer key": (Path(sys.executable).parent / "harness", SUBMISSION, work),
    }
    medians = {}
    for label, (command, target, cwd) in commands.items():
        startup = []
        for _ in range(repeat):
            start = time.perf_counter()
            subprocess.run([str(command), "--version"], cwd=cwd, env=env, capture_output=True, check=True)
            startup.append(time.perf_counter() - start)
        times = []
        for i in range(repeat):
            start = time.perf_counter()
            done = subprocess.run([str(command), "check", str(target), *tasks, "--json", str(out / f"{i}.json"),
                                   "--report", str(out / f"{i}.html")], cwd=cwd, env=env, capture_output=True,
                                  text=True)
            times.append(time.perf_counter() - start)
            if done.returncode != 0:
                print(f"  {label}: exit status {done.returncode}\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
                break
        print(f"  {label}:\n    harness --version  {stats(startup)}\n    harness check      {stats(times)}")
        medians[label] = statistics.median(times)
    student, live = medians.values()
    print(f"  target (issue 18) the student's check in at most the instructor's live time: "
          f"{'met' if student <= live else 'NOT met'} ({student:.2f} s against {live:.2f} s, medians)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--task", action="append", help="Release this task (repeatable). Default: all tasks.")
    parser.add_argument("--cold", action="store_true",
                        help="Release first into an empty baseline cache (trains the trained tasks' reference models).")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--venv", action="store_true", help="Also time the command of a student venv.")
    args = parser.parse_args()
    specs = load_tasks(names=args.task)
    names = [s.name for s in specs]
    with tempfile.TemporaryDirectory(prefix="harness-bench-release-") as tmp:
        work = Path(tmp)
        release_dir = print_release_times(specs, work, args.cold)
        print_sizes(release_dir)
        folder = student_folder(release_dir, specs, work)
        print_check_times(release_dir, folder, names, args.repeat)
        if args.venv:
            print_cli_times(folder, names, args.repeat, work)


if __name__ == "__main__":
    main()
