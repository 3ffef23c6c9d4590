"""Grading a class: every submission in a folder, in parallel, resumable, never stopped by one of them.

Each child of the submissions folder is one submission (a cloned assignment repo, or a folder of
notebooks), named by the folder: that name is the student's row in the gradebook. Grading is
embarrassingly parallel: a job is one ``grading.grade`` call (which starts the submission's own
sandboxed worker), run in a local pool of processes sized to the cores, or on a Dask distributed
cluster (``scheduler="tcp://host:8786"``; the cluster's workers need the harness installed and the
submissions and tasks folders at the same paths). A job is plain data — the submission's path, the
tasks folder and task names — and loads the specs itself.

What a run writes under ``out`` (each submission's files as soon as it finishes, atomically)::

    submissions/<name>/results.json   the Results document (plus environment.submission_sha256)
    submissions/<name>/report.html    its report
    gradebook.csv, gradebook.sqlite   see harness.gradebook
    index.html                        the class overview, see harness.overview

A submission is up to date — kept, not graded again — when its results.json records the same
harness version, the same spec digest and version for each task graded, and the same content hash
of the files the harness reads (``.py``, ``.ipynb``, ``harness.toml``). So a run stopped halfway
resumes where it stopped, and a spec change regrades everyone; ``regrade=True`` grades all again.

A submission that breaks the harness's assumptions (an empty folder, no recognised module, only
unreadable notebooks, an archive or a file instead of a folder, an unreadable folder) gets a row
with the reason and no report; an exception of the harness on one submission is recorded for that
submission alone. Ctrl-C stops the run: what finished is saved, the gradebook and overview are
written for it, and the next run grades the rest.

When a local run has one submission to grade (a class of one, or one student's files changed since the last
run), it grades it in the run's own process, which has imported torch already for the specs: a pool process
would import it once more, a second or so before the first check. Nothing else changes: the same job, the same
sandboxed worker (started from the run's own fork server, which starts as the run does when the class has one
submission), the same Ctrl-C. What the pool adds for a class — one job's crashed judge process costing that
job alone — matters little for one job: a crash of the judge's own process then ends the run as a kill would,
and the next run grades that submission.
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import itertools
import json
import multiprocessing
import os
import signal
import stat
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from . import __version__
from .classrun import GRADED, NOT_GRADED, ClassRun, Outcome, Tally, count
from .files import MIB, OutputError, TooManyEntries, read_regular, remove_output, walk, write_output
from .gradebook import Database, write_csv
from .results import Results, cut
from .sandbox.isolation import Isolation, IsolationFailed
from .sandbox.isolation import resolve as resolve_isolation
from .spec import VISIBILITIES, TaskSpec, default_tasks_dir, load_tasks
from .submission import MAX_ENTRIES, SKIP_DIRS, SubmissionError, locate, source_cap

ARCHIVES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".gz", ".bz2", ".xz",
            ".7z", ".rar")
HASHED_SUFFIXES = (".py", ".ipynb")
HASHED_NAMES = ("harness.toml",)
HASH_KEY = "submission_sha256"  # in Results.environment: which files were graded
HASH_FILE_BYTES = 64 * MIB   # a hashed file larger than this is hashed by its size and time of change, unread
HASH_TOTAL_BYTES = 256 * MIB  # and so is every hashed file once this much has been read
POLL_S = 0.2


class BatchError(Exception):
    """The run as a whole cannot start (no submissions folder, no Dask scheduler at the address)."""


@dataclass(frozen=True)
class Job:
    """One submission to grade: plain data, so that it travels to a pool process or a Dask worker."""

    name: str
    path: str
    tasks_dir: str
    tasks: tuple[str, ...]
    digests: tuple[tuple[str, str], ...]  # (task, spec digest) the run started with
    hide: tuple[str, ...] = ()             # folders the sandboxed worker must not see
    visibility: tuple[str, ...] = VISIBILITIES
    isolation: tuple[str, str] = ("", "")  # (mode, why) resolved once for the run; ("", "") resolves in the job
    warm: bool = True                      # a local pool process forks its workers from a fork server of its own


# --------------------------------------------------------------------------- finding submissions


def discover(submissions_dir: Path, out: Path | None = None) -> list[tuple[str, Path]]:
    """Each child of ``submissions_dir`` (name, path) in name order; hidden entries and ``out`` left out."""
    root = Path(submissions_dir)
    if not root.is_dir():
        raise BatchError(f"{root}: no such folder" if not root.exists() else f"{root} is not a folder")
    try:
        children = sorted(root.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        raise BatchError(f"{root}: cannot list it ({exc.strerror or exc})") from None
    skip = os.path.realpath(out) if out else None  # realpath: a link loop among the children does not raise
    return [(p.name, p) for p in children if not p.name.startswith(".") and os.path.realpath(p) != skip]


def content_hash(root: Path) -> str | None:
    """sha256 over the files the harness reads (``.py``, ``.ipynb``, ``harness.toml``), by relative path.

    Bounded like every step before the sandbox: links are never followed (a link, FIFO or device is hashed as
    what it is and where it points, never opened), a file over HASH_FILE_BYTES, or past HASH_TOTAL_BYTES read
    in all, by its size and time of change, at most MAX_ENTRIES entries walked. For a file (an archive): its
    size and time of change. None when the submission cannot be read, or is too large to walk."""
    digest = hashlib.sha256()
    try:
        info = os.stat(root)
        if not stat.S_ISDIR(info.st_mode):
            digest.update(f"file\0{info.st_size}\0{info.st_mtime_ns}".encode())
            return digest.hexdigest()
        read = 0
        for entry in walk(root, SKIP_DIRS, MAX_ENTRIES):
            name = entry.relative.rsplit("/", 1)[-1]
            if entry.is_folder or (not name.endswith(HASHED_SUFFIXES) and name not in HASHED_NAMES):
                continue
            head = f"{entry.relative}\0"
            if not entry.is_regular:
                link = os.readlink(os.path.join(root, entry.relative)) if stat.S_ISLNK(entry.info.st_mode) else ""
                digest.update(f"{head}{stat.S_IFMT(entry.info.st_mode)}\0{link}\0".encode())
            elif entry.info.st_size > HASH_FILE_BYTES or read + entry.info.st_size > HASH_TOTAL_BYTES:
                digest.update(f"{head}unread\0{entry.info.st_size}\0{entry.info.st_mtime_ns}\0".encode())
            else:
                data = read_regular(root, entry.relative, HASH_FILE_BYTES)
                read += len(data)
                digest.update(f"{head}{len(data)}\0".encode() + data)
    except (OSError, TooManyEntries):
        return None
    return digest.hexdigest()


def assumption_problem(root: Path, stems: list[str], max_bytes: int | None = None) -> str | None:
    """Why the submission at ``root`` cannot be graded at all, or None when it can (trusted side: reads only,
    bounded: see harness.submission.locate; ``max_bytes``: the most a module file may weigh)."""
    name = root.name
    if root.is_symlink() and not root.exists():
        return f"{name} is a broken link"
    if root.is_file():
        suffix = next((s for s in ARCHIVES if name.lower().endswith(s)), None)
        if suffix:
            return f"an archive ({name}), not a folder: unpack it into a folder (e.g. {name[:-len(suffix)]}/) and grade again"
        return f"a file ({name}), not a submission folder: put the student's files in a folder named after them"
    if not root.is_dir():
        return f"{name} is not a folder"
    try:
        shown = (p for p in root.iterdir() if not p.name.startswith(".") and p.name not in SKIP_DIRS)
        entries = list(itertools.islice(shown, MAX_ENTRIES))  # a bound: only names are listed from here on
    except OSError as exc:
        return f"the folder cannot be read ({exc.strerror or exc})"
    if not entries:
        return "empty folder: nothing was submitted"
    if not os.access(root, os.R_OK | os.X_OK):
        return "the folder cannot be read (permission denied)"
    try:
        sub = locate(root, stems, max_bytes)
    except SubmissionError as exc:
        return str(exc)
    found = [m for m in sub.modules.values() if m.path is not None]
    if not found:
        expected = ", ".join(f"{s}.py" for s in stems)
        wanted = {f"{s}{suffix}" for s in stems for suffix in HASHED_SUFFIXES}
        try:
            deeper = sorted(e.relative for e in walk(root, SKIP_DIRS, MAX_ENTRIES)
                            if "/" in e.relative and e.relative.rsplit("/", 1)[-1] in wanted)
        except (OSError, TooManyEntries) as exc:
            return f"no recognised module, and the folder cannot be searched ({exc}): remove data and environments"
        if deeper:
            return (f"no recognised module: expected {expected} (or .ipynb); found {', '.join(deeper[:3])} in a "
                    "subfolder: move it to the top of the submission or map it in harness.toml")
        names = sorted(p.name for p in entries)
        code = [n for n in names if n.endswith(HASHED_SUFFIXES)]
        fix = (f"; rename it, or map it in harness.toml, e.g. {stems[0]} = \"{code[0]}\"" if code else "")
        return (f"no recognised module: expected {expected} (or .ipynb) (the folder has: {', '.join(names[:6])}"
                f"{', …' if len(names) > 6 else ''}){fix}")
    if all(m.problem for m in found):
        return "; ".join(m.problem for m in found)
    return None


# --------------------------------------------------------------------------- one job (pool process or Dask worker)

_SPECS: dict[tuple, list[TaskSpec]] = {}


def grade_job(job: Job) -> dict:
    """Grade one submission. Returns plain data: status, reason, the Results as a dict and the report's HTML.

    Never raises for the submission's sake: what breaks the harness's assumptions and any exception
    of the harness come back as "not graded" with the reason (KeyboardInterrupt still stops it)."""
    started = time.perf_counter()
    path = Path(job.path)
    digest = None
    try:
        digest = content_hash(path)
        specs = _specs(job)
        problem = assumption_problem(path, sorted({s.module for s in specs}), source_cap(specs))
        if problem:
            return _payload(job, NOT_GRADED, problem, digest, started)
        results = _grade(path, specs, job.hide, job.visibility, job.isolation)
        results.environment[HASH_KEY] = digest
        results.submission = job.name  # what is handed back names the student, not the grading machine's folders
        from .report import render_report

        document = results.to_dict()
        json.dumps(document, allow_nan=False)  # what cannot be written fails here, charged to this submission
        return {**_payload(job, GRADED, "", digest, started), "results": document, "report": render_report(results)}
    except (SubmissionError, IsolationFailed) as exc:  # a worker without its promised protections ran nothing
        return _payload(job, NOT_GRADED, str(exc), digest, started)
    except Exception as exc:  # noqa: BLE001 - a bug of the harness costs this submission, not the run
        return _payload(job, NOT_GRADED, crash_reason(exc), digest, started)


def crash_reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    return (f"the harness failed on this submission ({type(exc).__name__}{': ' + text if text else ''}); "
            "the run went on — please report it")


def _payload(job: Job, status: str, reason: str, digest: str | None, started: float) -> dict:
    """A job's outcome as plain data; ``reason`` (which can quote the submission) cut to TEXT_LIMIT."""
    return {"name": job.name, "status": status, "reason": cut(reason), "content_hash": digest, "results": None,
            "report": None, "seconds": round(time.perf_counter() - started, 3)}


def _specs(job: Job) -> list[TaskSpec]:
    """The job's specs, loaded once per process and checked against the digests the run started with."""
    key = (job.tasks_dir, job.tasks, job.digests)
    if key not in _SPECS:
        specs = load_tasks(Path(job.tasks_dir), list(job.tasks))
        expected = dict(job.digests)
        changed = [s.name for s in specs if expected.get(s.name) != s.digest]
        if changed:
            raise RuntimeError(f"the spec of {', '.join(changed)} in {job.tasks_dir} is not the one this run "
                               "started with: was it edited during the run, or does this worker see another tasks folder?")
        _SPECS[key] = specs
    return _SPECS[key]


def _grade(path: Path, specs: list[TaskSpec], hide: tuple[str, ...], visibility: tuple[str, ...],
           isolation: tuple[str, str] = ("", "")) -> Results:
    """``grading.grade`` with the class's folders hidden from the submission's sandboxed worker, in the run's mode."""
    from . import grading

    mode = Isolation(*isolation) if isolation[0] else None
    return grading.grade(path, specs, visibility, hide=list(hide), isolation=mode)


def _hideable(paths: list[Path]) -> tuple[str, ...]:
    """The folders to hide, less any that holds the scratch folders (hiding it would hide the copy graded)."""
    scratch = Path(tempfile.gettempdir()).resolve()
    kept = []
    for p in paths:
        p = p.resolve()
        if p != scratch and p not in scratch.parents:
            kept.append(str(p))
    return tuple(dict.fromkeys(kept))


# --------------------------------------------------------------------------- running jobs


def _job_process() -> None:
    """Set up a process that grades a class's jobs: the judge's own torch work on one thread (the jobs side by side
    fill the cores), and the answer key's values kept for its next submission (harness.answers)."""
    import torch

    from .answers import keep_references

    torch.set_num_threads(1)
    keep_references()


def _pool_init(warm: bool) -> None:
    if warm:  # first: the fork server's torch import runs beside this process's own
        from .sandbox import zygote

        zygote.start_for_process()
    signal.signal(signal.SIGINT, _stopped_while_idle)
    _follow_parent()
    _job_process()


def _follow_parent(period: float = 0.5, grace: float = 5.0) -> None:
    """A pool process ends when the run that started it is gone (killed with SIGKILL, say), instead of
    grading on as an orphan: it stops its job as Ctrl-C would (the job's sandbox closes, its worker's control
    group with it), then exits. What a kill leaves anyway is swept by the next run (harness.sandbox.cgroups)."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(period)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(grace)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="harness-follow-parent").start()


#: set in a pool process by a Ctrl-C (the run's, or the parent's stop) that came between two jobs
_STOPPED = threading.Event()


def _stopped_while_idle(signum, frame) -> None:
    """A pool process between jobs: the run is stopping, so the next job it is handed is not started. (The pool
    may have handed it over already: ProcessPoolExecutor queues a job more than it has processes, and such a job
    cannot be cancelled.)"""
    _STOPPED.set()


def _pool_job(job: Job) -> dict:
    def interrupt(signum, frame):
        _STOPPED.set()
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # once: let grade() clean up its sandbox
        raise KeyboardInterrupt

    if _STOPPED.is_set():
        raise KeyboardInterrupt  # not started: the next run grades it
    signal.signal(signal.SIGINT, interrupt)
    if job.warm:  # started by _pool_init; again only if it died since (harness.sandbox.zygote says how often)
        from .sandbox import zygote

        zygote.start_for_process()
    try:
        return grade_job(job)
    finally:
        signal.signal(signal.SIGINT, _stopped_while_idle)


def run_local(jobs: list[Job], workers: int, stop: threading.Event) -> Iterator[tuple[Job, dict | BaseException]]:
    """Jobs on a local process pool, yielded as they finish. A job whose pool broke (its process died) is
    tried once more in a fresh pool before it is reported as failed."""
    queue, attempts = list(jobs), Counter()
    context = multiprocessing.get_context("spawn")  # no fork of a parent that holds torch's threads
    while queue and not stop.is_set():
        retry: list[Job] = []
        pool = cf.ProcessPoolExecutor(max_workers=max(1, min(workers, len(queue))), mp_context=context,
                                      initializer=_pool_init, initargs=(any(job.warm for job in queue),))
        futures = {pool.submit(_pool_job, job): job for job in queue}
        pending = set(futures)
        try:
            while pending and not stop.is_set():
                done, pending = cf.wait(pending, timeout=POLL_S, return_when=cf.FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: futures[f].name):
                    job, value = futures[future], _value(future)
                    if isinstance(value, BrokenProcessPool) and attempts[job.name] == 0:
                        attempts[job.name] += 1
                        retry.append(job)
                    else:
                        yield job, value
            if stop.is_set() and pending:
                for future in pending:
                    future.cancel()
                for pid in list(getattr(pool, "_processes", None) or {}):  # running jobs: stop them cleanly
                    try:
                        os.kill(pid, signal.SIGINT)
                    except ProcessLookupError:
                        pass
                pool.shutdown(wait=True, cancel_futures=True)
                for future in sorted(pending, key=lambda f: futures[f].name):  # finished before the stop reached them
                    if future.done() and not future.cancelled() and future.exception() is None:
                        yield futures[future], future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        queue = retry


def run_here(job: Job, stop: threading.Event) -> Iterator[tuple[Job, dict]]:
    """One job in this process (see the module's docstring). The first Ctrl-C sets ``stop`` and interrupts the job,
    whose sandbox closes as in a pool process; the job is then not yielded: the next run grades it."""
    def interrupt(signum, frame):
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C interrupts the clean-up too
        raise KeyboardInterrupt

    here = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, interrupt) if here else None
    try:
        if job.warm:  # the run's own fork server (grade_class stops it): started with the run for a class of one
            from .sandbox import zygote

            zygote.start_for_process()
        value = grade_job(job)
    except KeyboardInterrupt:
        if not stop.is_set():
            raise  # not a Ctrl-C of this run's: the caller's own
        return
    finally:
        if here:
            signal.signal(signal.SIGINT, previous)
    yield job, value


def _value(future) -> dict | BaseException:
    exc = future.exception()
    return exc if exc is not None else future.result()


def connect(address: str):
    """A Dask client of the scheduler at ``address`` (``tcp://host:8786``)."""
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - a dependency of the package
        raise BatchError("grading on a cluster needs Dask distributed: pip install distributed") from None
    try:
        return Client(address, timeout="20s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise BatchError(f"cannot reach the Dask scheduler at {address}: {exc}") from None


def _dask_job(job: Job) -> dict:
    _job_process()
    return grade_job(job)


def run_dask(jobs: list[Job], client, stop: threading.Event) -> Iterator[tuple[Job, dict | BaseException]]:
    """The same jobs on a Dask distributed cluster, one task per submission, yielded as they finish."""
    from distributed import as_completed

    token = uuid.uuid4().hex[:8]
    futures = {client.submit(_dask_job, job, key=f"harness-grade-{token}-{i}", pure=False, retries=0): job
               for i, job in enumerate(jobs)}
    ready = as_completed(list(futures), loop=client.loop)
    while not ready.is_empty() and not stop.is_set():
        if not ready.has_ready():
            time.sleep(POLL_S)
            continue
        for future in ready.next_batch(block=False):
            try:
                value = future.result()
            except Exception as exc:  # noqa: BLE001 - the task failed, or its worker died (KilledWorker)
                value = exc
            yield futures[future], value
    if stop.is_set():
        client.cancel([f for f in futures if not f.done()])


# --------------------------------------------------------------------------- the run


def grade_class(submissions_dir: Path, out: Path, *, tasks: list[str] | None = None, tasks_dir: Path | None = None,
                workers: int | None = None, scheduler: str | None = None, regrade: bool = False,
                progress: Callable[[Tally, Outcome | None], None] | None = None,
                stop: threading.Event | None = None, isolation: str | Isolation | None = None,
                warm_workers: bool = True) -> ClassRun:
    """Grade every submission in ``submissions_dir`` into ``out``; see the module's docstring.

    ``workers``: local processes (default: the number of cores); ``scheduler``: a Dask address
    instead. ``progress(tally, outcome)`` is called at the start (outcome None) and after each job.
    ``stop``, when set (Ctrl-C sets it), ends the run early with what finished saved. ``isolation``: the
    workers' mode (harness/sandbox/isolation.py), by default :func:`class_isolation`; a mode this machine
    cannot give raises IsolationError before anything runs. ``warm_workers``: each local pool process forks its
    sandboxed workers from a fork server that has imported torch once (harness/sandbox/zygote.py), rather than
    starting each one cold; where none can run, workers start cold anyway."""
    begun = time.perf_counter()
    chosen = isolation if isinstance(isolation, Isolation) else class_isolation(isolation)
    submissions_dir, out = Path(submissions_dir), Path(out)
    tasks_dir = Path(tasks_dir) if tasks_dir else default_tasks_dir()
    entries = discover(submissions_dir, out)
    with _own_fork_server(warm_workers and not scheduler and len(entries) == 1 and chosen.mode != "basic"):
        specs = load_tasks(tasks_dir, tasks)
        _refuse_single_submission(submissions_dir, entries, specs)
        workers = None if scheduler else (workers or os.cpu_count() or 1)
        stop = stop or threading.Event()
        client = connect(scheduler) if scheduler else None
        (out / "submissions").mkdir(parents=True, exist_ok=True)
        db = Database(out / "gradebook.sqlite")
        started = _now()
        run_id = db.start_run(started=started, harness_version=__version__, specs=specs, workers=workers,
                              scheduler=scheduler, submissions_dir=submissions_dir.resolve(), out_dir=out.resolve(),
                              regrade=regrade)
        outcomes: dict[str, Outcome] = {}
        completed = False
        previous = _catch_ctrl_c(stop)
        try:
            jobs = _plan(entries, specs, tasks_dir, out, run_id, db, regrade, outcomes,
                         _hideable([submissions_dir, out]), (chosen.mode, chosen.why), warm_workers)
            tally = Tally(total=len(entries), to_grade=len(jobs))
            if progress:
                progress(tally, None)
            paths = dict(entries)
            running = (iter(()) if not jobs else run_dask(jobs, client, stop) if client else
                       run_here(jobs[0], stop) if len(jobs) == 1 else run_local(jobs, workers, stop))
            for job, value in running:
                if stop.is_set() and (isinstance(value, BaseException) or value.get("status") == NOT_GRADED):
                    continue  # stopped mid-way (its failure may be the stop's own doing): graded next time
                if isinstance(value, BaseException):
                    value = _payload(job, NOT_GRADED, crash_reason(value), None, time.perf_counter())
                try:
                    outcome = _save(out, run_id, paths[job.name], value)
                    db.record(run_id, outcome)
                except Exception as exc:  # noqa: BLE001 - what one submission's results break costs that submission
                    failed = {**_payload(job, NOT_GRADED, crash_reason(exc), value.get("content_hash"), time.perf_counter()),
                              "seconds": value.get("seconds", 0.0)}
                    outcome = _save(out, run_id, paths[job.name], failed)
                    db.record(run_id, outcome)
                outcomes[job.name] = outcome
                tally.done += 1
                tally.not_graded += outcome.status != GRADED
                if progress:
                    progress(tally, outcome)
            completed = True
        finally:
            _restore_ctrl_c(previous)
            if client is not None:
                client.close()
            interrupted = stop.is_set() and len(outcomes) < len(entries)
            why = ("the run was stopped before this submission was graded" if interrupted or completed else
                   "the run failed before this submission was graded")
            for name, path in entries:
                if name not in outcomes:
                    outcomes[name] = Outcome(name, path, NOT_GRADED, why, content_hash=content_hash(path),
                                             how="not reached")
                    db.record(run_id, outcomes[name])
            ordered = [outcomes[name] for name, _ in entries]
            counts = count(ordered)
            run = ClassRun(run_id, out, ordered, specs, started, _now(), workers, scheduler, interrupted,
                           round(time.perf_counter() - begun, 3), counts)
            try:
                write_csv(ordered, specs, out / "gradebook.csv")
                from .overview import write_overview

                write_overview(run, out / "index.html")
            finally:
                status = "interrupted" if interrupted else "finished" if completed else "failed"
                db.finish_run(run_id, finished=run.finished, status=status, graded=counts["graded_now"],
                              up_to_date=counts["up_to_date"], not_graded=counts["not_graded"])
                db.close()
        return run


@contextlib.contextmanager
def _own_fork_server(early: bool) -> Iterator[None]:
    """The fork server of a run that grades in this process (:func:`run_here`): started first thing when ``early``
    (a class of one), so that its torch import runs beside the specs' own, and stopped when the run ends if the run
    started it; a server that was running already is used and left to its owner."""
    from .sandbox import zygote

    ours = zygote.current() is None
    if early and ours:
        zygote.start_for_process()
    try:
        yield
    finally:
        if ours and zygote.current() is not None:
            zygote.stop_for_process()


def class_isolation(asked: str | None = None) -> Isolation:
    """The mode a class is graded in: ``asked``, else ``HARNESS_ISOLATION``, else ``full`` on Linux (the strongest
    elsewhere). Never weaker than asked: IsolationError when this machine cannot give it."""
    if not asked and not os.environ.get("HARNESS_ISOLATION", "").strip() and sys.platform.startswith("linux"):
        asked = "full"
    return resolve_isolation(asked)


def _plan(entries: list[tuple[str, Path]], specs: list[TaskSpec], tasks_dir: Path, out: Path, run_id: int,
          db: Database, regrade: bool, outcomes: dict[str, Outcome], hide: tuple[str, ...],
          isolation: tuple[str, str] = ("", ""), warm: bool = True) -> list[Job]:
    """Keep (and record) what is up to date; return the jobs for the rest."""
    jobs = []
    digests = tuple(sorted((s.name, s.digest) for s in specs))
    for name, path in entries:
        digest = content_hash(path)
        kept = None if regrade else up_to_date(out, name, specs, digest)
        # kept only when this gradebook recorded grading it, with that score, under these specs (hidden checks
        # included): a results.json alone, which anyone with write access to --out could have made, proves nothing
        graded_in = db.vouch(name, digest, kept.created, kept.score, dict(digests)) if kept is not None else None
        if graded_in is None:
            jobs.append(Job(name, str(path.absolute()), str(tasks_dir.resolve()), tuple(s.name for s in specs),
                            digests, hide, isolation=isolation, warm=warm))
            continue
        outcome = Outcome(name, path, GRADED, results=kept, content_hash=digest, how="up to date",
                          graded_in_run=graded_in, seconds=kept.seconds)
        report = out / "submissions" / name / "report.html"
        if not os.path.lexists(report):  # rendered from the Results, the single source
            from .report import render_report

            write_output(report, render_report(kept), within=out)
        db.record(run_id, outcome)
        outcomes[name] = outcome
    return jobs


def up_to_date(out: Path, name: str, specs: list[TaskSpec], digest: str | None) -> Results | None:
    """The submission's Results when they were made by this harness from these files and these specs."""
    path = out / "submissions" / name / "results.json"
    if digest is None or not path.is_file():
        return None
    try:
        results = Results.read(path, within=out)  # through real folders only: a planted link is not read
    except (OSError, ValueError, TypeError, KeyError):
        return None  # unreadable or of another schema: grade again
    stamp = {t.name: (t.spec_digest, t.spec_version) for t in results.tasks}  # the public digests: students see them
    if (results.harness_version != __version__ or results.environment.get(HASH_KEY) != digest
            or stamp != {s.name: (s.public_digest, s.version) for s in specs}):
        return None
    return results


def _save(out: Path, run_id: int, path: Path, payload: dict) -> Outcome:
    """Write a finished job's files (atomically) and make its Outcome."""
    name = payload["name"]
    folder = out / "submissions" / name
    reason = payload["reason"]
    try:
        if payload["status"] == GRADED:
            results = Results.from_dict(payload["results"])
            results.write(folder / "results.json", within=out)
            write_output(folder / "report.html", payload["report"], within=out)
            return Outcome(name, path, GRADED, results=results, content_hash=payload["content_hash"], how="graded",
                           graded_in_run=run_id, seconds=payload["seconds"])
        for stale in ("results.json", "report.html"):  # an earlier grading of files that are no longer there
            remove_output(folder / stale, within=out)
    except OutputError as exc:  # a link planted in --out: this submission's files are not written through it
        reason = f"graded, but its files were not saved: {exc}"
    return Outcome(name, path, NOT_GRADED, reason, content_hash=payload["content_hash"], how=NOT_GRADED,
                   seconds=payload["seconds"])


def _refuse_single_submission(root: Path, entries: list[tuple[str, Path]], specs: list[TaskSpec]) -> None:
    modules = {f"{s.module}{suffix}" for s in specs for suffix in HASHED_SUFFIXES}
    if entries and not any(p.is_dir() for _, p in entries) and any(n in modules for n, _ in entries):
        raise BatchError(f"{root} looks like one submission, not a folder of submissions: "
                         "grade it with `harness check`, or put it in a folder of its own")


def _catch_ctrl_c(stop: threading.Event):
    """First Ctrl-C: set ``stop`` (the run saves what finished); a second one interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    return signal.signal(signal.SIGINT, handler)


def _restore_ctrl_c(previous) -> None:
    if previous is not None:
        signal.signal(signal.SIGINT, previous)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- the terminal's view


class ProgressBar:
    """A rich progress bar for ``grade_class``: done/total, not graded so far, elapsed time and ETA."""

    def __init__(self, console=None):
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self.progress = Progress(TextColumn("[bold]grading[/]"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("[red]{task.fields[failures]} not graded[/]"), TimeElapsedColumn(),
                                 TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=False)
        self.task = None

    def __enter__(self) -> ProgressBar:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def __call__(self, tally: Tally, outcome: Outcome | None) -> None:
        if self.task is None:
            self.task = self.progress.add_task("grading", total=tally.to_grade, failures=0)
            if tally.total > tally.to_grade:
                self.progress.console.print(f"{tally.total - tally.to_grade} of {tally.total} submissions are "
                                            "up to date (use --regrade to grade them again)")
        self.progress.update(self.task, completed=tally.done, failures=tally.not_graded)
        if outcome is not None and outcome.status != GRADED:
            from rich.markup import escape

            self.progress.console.print(f"[red]not graded[/] {escape(outcome.name)}: {escape(outcome.reason)}",
                                        highlight=False)
