"""The judge's handle on a worker: start it confined, send requests, enforce time, kill it.

The launcher never imports submission code. It copies the worker's runtime — the folder
``harness/runtime``, whole — into the scratch directory, starts ``python -I`` there in a new session
with a scrubbed environment, and speaks the framed protocol of ``runtime/wire.py`` over two dedicated
pipes. The worker confines itself first thing (``runtime/confine.py``) and reports in its hello
message which protections held.

Failure handling — a misbehaving submission costs the request it was running, never the judge:
- every wait is bounded: the reply (``timeout``), and also the sending of a request, so a worker
  that stops reading its input cannot block the judge;
- a death is noticed within ~50 ms even when a child of the worker keeps the reply pipe open;
- the kill takes the PID namespace's init (through a pidfd, so a recycled pid is never hit), the
  whole process group and the process the judge started, and waits until the namespace is empty;
- stdout and stderr are drained by threads that keep the first ``output_bytes`` and count the
  rest; replies are read by a thread into a queue of at most two frames of at most ``reply_mb``, so
  neither a flood of output nor a flood of frames grows the judge's memory;
- a reply must carry the id of the request it answers; anything else is a protocol error;
- a third pipe, the lifeline, is held only by the judge: if the judge dies, the worker follows.
After a death the next request starts a fresh worker, and the modules loaded before are loaded again.

Warm starts (full and userns modes, given a ``zygote``): instead of a fresh ``python -I`` that imports torch, the
worker is forked by a fork server that has imported torch once (harness/sandbox/zygote.py); the child runs the
same confinement and loop from its first instruction (``worker.run``), its hello is checked the same way, and the
kill path is the same. Where the fork server cannot give a worker, the start is cold (``Sandbox.start_kind``).

Isolation mode (harness/sandbox/isolation.py): ``full`` (Linux as root), ``userns`` (Linux as an ordinary
user, in a user namespace) or ``basic`` (any OS), asked for with ``Sandbox(isolation=…)`` (the commands'
``--isolation``) or ``HARNESS_ISOLATION``, else the strongest this machine has. The full and userns modes
run the same worker, which confines itself (``runtime/confine.py``); each start is checked against what
the mode promises before any submission code is loaded, and a worker lacking a promised protection is
killed (``IsolationFailed``): the submission is not graded rather than graded half-confined.
The basic path starts the same worker as a separate process, in a new session (POSIX) or process
group (Windows), with a scrubbed environment, the scratch copy as its working directory and the same
wall-clock timeouts, output caps and pickle-free protocol — but over stdin/stdout rather than extra
descriptors, with requests written by a thread rather than on a non-blocking pipe, and without any
of ``confine.confine`` (namespaces, mounts, rlimits, uid change, prctl, pidfd). Instead of the
lifeline, the worker ends itself (and on POSIX its process group) when its request pipe closes; on
Windows the kill is ``taskkill /T``. The worker reports every protection off, each with why ("not
available on this OS (…)" or "HARNESS_ISOLATION=basic"), and ``Sandbox.mode`` says which path ran.
"""
from __future__ import annotations

import itertools
import os
import queue
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..runtime import wire
from ..runtime.config import TMP_DIRS, Confinement, Limits
from . import cgroups, isolation
from .bootstrap import RUNTIME_DIR, RUNTIME_PACKAGE, _package_root, install_runtime, installed_paths, worker_environment
from .isolation import Isolation, IsolationFailed
from .isolation import resolve as isolation_resolve
from .replies import ReplyError, check_reply

if TYPE_CHECKING:
    from .zygote import Zygote

try:
    import fcntl
    import termios
except ImportError:  # Windows
    fcntl = termios = None

# The worker runs the runtime folder copied next to the submission (harness/sandbox/bootstrap.py).
BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
        f"from {RUNTIME_PACKAGE}.worker import main; main(sys.argv[2:])")
POLL_S = 0.05
CGROUP_ROOT = "/sys/fs/cgroup"
WINDOWS_CRASHES = {0xC0000005: " (an access violation: the Windows segmentation fault)",
                   0xC00000FD: " (a stack overflow)", 0xC0000409: " (it aborted)"}


def isolation_mode() -> tuple[str, str]:
    """(mode, why) resolved from ``HARNESS_ISOLATION`` and this machine (harness/sandbox/isolation.py)."""
    chosen = isolation.resolve()
    return chosen.mode, chosen.why


class WorkerDied(Exception):
    """The worker stopped answering: it timed out, exited, was killed, or broke the protocol."""

    def __init__(self, reason: str, detail: str, output: str = ""):
        super().__init__(detail)
        self.reason = reason  # "timeout" | "exit" | "signal" | "protocol"
        self.detail = detail
        self.output = output


@dataclass
class Reply:
    header: dict
    value: object = None


class _Drain(threading.Thread):
    """Reads a pipe to its end, keeping at most ``cap`` bytes."""

    def __init__(self, fd: int, cap: int):
        super().__init__(daemon=True, name="harness-sandbox-output")
        self.fd, self.cap = fd, cap
        self.kept = bytearray()
        self.total = 0
        self.idle = False    # True while waiting in read() with everything read so far counted
        self.closed = False
        self.counting = threading.Lock()  # POSIX: held from taking bytes out of the pipe until they are counted

    def run(self):
        poller = select.poll() if hasattr(select, "poll") else None
        if poller is not None:
            poller.register(self.fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        while True:
            self.idle = True
            if poller is not None:
                poller.poll()  # readable or closed: the read below returns at once
            with self.counting:
                try:
                    chunk = os.read(self.fd, 1 << 16)
                except OSError:
                    break
                self.idle = False
                if not chunk:
                    break
                self.total += len(chunk)
                room = self.cap - len(self.kept)
                if room > 0:
                    self.kept += chunk[:room]
        self.closed = True
        os.close(self.fd)

    def settle(self, timeout: float = 1.0) -> None:
        """Wait (briefly) until what is already in the pipe has been counted: output written
        before a reply then shows in ``output()`` right after it."""
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            try:
                pending = _pending_bytes(self.fd)
            except OSError:
                return
            if pending is None:  # the OS cannot say: let the reader catch up for a moment
                time.sleep(0.02)
                pending = 0
            if pending == 0 and hasattr(select, "poll"):  # bytes taken out of the pipe are counted under the lock
                with self.counting:
                    return
            if pending == 0 and self.idle:
                return
            time.sleep(0.002)

    @property
    def dropped(self) -> int:
        return self.total - len(self.kept)

    def text(self) -> str:
        s = self.kept.decode("utf-8", "replace")
        if self.dropped > 0:
            s += f"\n[... {self.dropped} more bytes of output not kept]"
        return s


def _pending_bytes(fd: int) -> int | None:
    """Bytes waiting in the pipe ``fd``; None where the OS gives no way to ask."""
    if fcntl is not None:
        return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
    try:  # Windows: the read end of an anonymous pipe can be peeked at
        import _winapi
        import msvcrt

        return _winapi.PeekNamedPipe(msvcrt.get_osfhandle(fd), 0)[0]
    except ImportError:
        return None


class _Replies(threading.Thread):
    """Reads frames from the worker into a small queue; owns (and finally closes) the pipe."""

    def __init__(self, fd: int, max_payload: int):
        super().__init__(daemon=True, name="harness-sandbox-replies")
        self.fd, self.max_payload = fd, max_payload
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.stopped = threading.Event()

    def _put(self, item) -> None:
        while not self.stopped.is_set():
            try:
                self.queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def run(self):
        try:
            while not self.stopped.is_set():
                try:
                    header, tensors = wire.receive(self.fd, max_payload=self.max_payload)
                    item = Reply(header, wire.decode(header.get("value"), tensors))
                except EOFError:
                    self._put(None)
                    return
                except wire.ProtocolError as exc:
                    self._put(exc)
                    return
                except Exception as exc:  # noqa: BLE001 - anything odd the worker sent
                    self._put(wire.ProtocolError(f"{type(exc).__name__}: {exc}"))
                    return
                self._put(item)
        finally:
            os.close(self.fd)


def answer_key_paths() -> list[str]:
    """Directories the worker must not be able to read: the judge, the answer key, the tasks."""
    import importlib

    paths = set()
    for name in ("harness", "reference_models"):  # a student's install has no answer key
        try:
            paths.add(Path(importlib.import_module(name).__file__).parent)
        except ImportError:
            pass
    from ..spec import default_tasks_dir

    for tasks in (_package_root() / "tasks", default_tasks_dir()):  # a checkout's, or installed as harness_tasks
        if tasks.is_dir() and any(tasks.glob("*/task.toml")):
            paths.add(tasks.resolve())
    return sorted(str(p) for p in paths)


def _python_paths() -> tuple[list[str], list[str], list[str]]:
    """(directories of the Python installation, files to probe, extra sys.path entries).

    The worker needs to read the interpreter, the standard library and the installed packages, and
    nothing of the judge's checkout."""
    import torch

    root = str(_package_root())
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix)}
    dirs = set(prefixes) | {os.path.dirname(os.path.realpath(sys.executable))}
    extra = installed_paths()
    dirs.update(extra)
    probes = [os.path.realpath(sys.executable), os.__file__, torch.__file__]
    for name in ("safetensors", "numpy", "torch._C"):
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None):
            probes.append(module.__file__)
    probes = [p for p in probes if not os.path.realpath(p).startswith(root + os.sep)]
    return sorted(os.path.realpath(d) for d in dirs), probes, extra


def _kill_tree_windows(proc: subprocess.Popen) -> None:
    """Windows has no process groups to signal: ``taskkill /T`` ends the worker and the processes it
    started (found by their parent), then TerminateProcess in case taskkill is missing."""
    try:
        subprocess.run(["taskkill", "/F", "/T", "/PID", str(proc.pid)], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10, check=False,
                       creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        proc.kill()
    except OSError:
        pass


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` is still running (zombies, waiting for whatever reaps
    orphans here, do not count)."""
    if not os.path.isdir("/proc/self"):
        try:
            os.killpg(pgid, 0)
            return True
        except (ProcessLookupError, PermissionError):
            return False
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                return True
    return False


def over_budget(use: cgroups.Usage, lim: Limits, seen: int, doing: str,
                timed_out: bool = False) -> tuple[str, str] | None:
    """(reason, message) when a tree that used ``use`` (``seen`` processes at most) went over its budget while
    ``doing``; None when it did not. ``timed_out``: the clock ran out first. A tree that had met its memory
    limit by then is over its memory: the kernel may keep such a tree crawling, reclaiming the pages of its
    libraries again and again, rather than kill it, and how long it crawls depends on the machine, not on
    the code."""
    plural = "es" if seen != 1 else ""
    if use.oom_kills or (timed_out and use.memory_full):
        return "memory", (f"your code used more than {lim.memory_mb} MB (the task's limit, for all its processes "
                          f"together) — {seen} process{plural} at the time — while {doing}")
    if use.forks_refused:
        return "processes", (f"your code tried to run more than {lim.max_processes} processes and threads at "
                             f"once (the task's limit) while {doing}")
    if use.cpu_s > lim.cpu_s:
        return "cpu", (f"your code used more than {lim.cpu_s} s of CPU time (the task's limit, summed over its "
                       f"{seen} process{plural}) while {doing}")
    return None


class Sandbox:
    """One worker process over one scratch copy of a submission. Restartable after a death.

    ``hide`` adds directories the worker must not see (e.g. the folder of all submissions, the
    gradebook); the answer key, the judge's code and its checkout are always hidden. ``cover`` adds
    directories hidden the same way except for what the worker needs inside them (a venv, say): the
    submission's neighbours, the folder of task folders. ``disable``
    names protections not to attempt (e.g. ``"pid_namespace"``), to test the fallbacks. ``mode``
    (``"full"`` or ``"basic"``) is decided here, from the OS and ``HARNESS_ISOLATION``. ``zygote``: a fork
    server (harness/sandbox/zygote.py) that forks the worker warm in full mode; without one, or when it cannot
    give one, the worker starts cold (``start_kind`` says which, ``start_note`` why it went cold)."""

    def __init__(self, submission_copy: Path, scratch: Path, limits: Limits | None = None, *,
                 hide: list[Path] | tuple = (), disable: list[str] | tuple = (),
                 isolation: Isolation | str | None = None, cover: list[Path] | tuple = (), zygote: Zygote | None = None):
        self.submission = Path(submission_copy)
        self.scratch = Path(scratch)
        self.limits = limits or Limits()
        self.extra_hidden = [str(p) for p in hide]
        self.extra_covered = [str(p) for p in cover]  # hidden too, but what the worker needs inside stays visible
        self.disable = list(disable)  # protections not to attempt: for tests of the fallbacks only
        self.isolation = isolation if isinstance(isolation, Isolation) else isolation_resolve(isolation)
        self.mode, self.mode_reason = self.isolation.mode, self.isolation.why
        self.refused: IsolationFailed | None = None  # set when a worker came up without a promised protection
        self.proc: subprocess.Popen | None = None
        self.protections: dict = {}
        self.protection_notes: dict = {}
        self.starts = 0
        self.start_seconds: float | None = None
        self.zygote = zygote if self.mode != "basic" else None
        self.start_kind = ""    # "forked" (by the zygote) or "cold", for the last start
        self.start_note = ""    # why the last start was cold although a zygote was given
        self.shared_mb = 0      # memory a forked worker shares with the zygote, charged to the zygote's group
        self.worker_pid: int | None = None
        self.worker_uid: int | None = None
        self._init_pidfd: int | None = None
        self._loaded: dict[str, tuple[str, dict | None]] = {}
        self._ids = itertools.count(1)
        self._to = self._lifeline = None
        self._replies: _Replies | None = None
        self._output: _Drain | None = None
        self._sender: threading.Thread | None = None  # basic mode: the thread writing a request
        self.budget: cgroups.TreeBudget | None = None    # the control group(s) of the running worker
        self.tree_budget = ""                            # which mechanism limits the tree, or why none does
        self.tree_peak: dict = {}                        # the largest use of the budget seen, over all starts
        self._processes_seen = 0

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # life cycle -------------------------------------------------------------------------------
    def _install_runtime(self) -> Path:
        """Copy RUNTIME_DIR into ``scratch/runtime/RUNTIME_PACKAGE``, always fresh: the worker runs exactly
        the judge's version, and nothing a previous worker left there. The folder to put on sys.path."""
        return install_runtime(self.scratch / "runtime", RUNTIME_DIR)

    def _confinement(self, runtime: Path, home: Path) -> Confinement:
        python_dirs, probes, python_paths = _python_paths()
        covers = [str(_package_root()), *TMP_DIRS, *self.extra_hidden, *self.extra_covered]
        judge_home = os.path.expanduser("~")
        if judge_home not in ("", "/"):
            covers.append(judge_home)
        # An installed judge (pip install .) lives in site-packages, which the worker needs: its packages there are
        # hidden one by one (answer_key_paths), and a folder the Python installation holds is never a cover.
        installed = [d.rstrip(os.sep) + os.sep for d in python_dirs]
        covers = [c for c in covers if not any((os.path.realpath(c) + os.sep).startswith(d) for d in installed)]
        probes += [str(p) for p in (runtime / RUNTIME_PACKAGE).rglob("*.py")]
        if self.budget is not None:
            covers.append(CGROUP_ROOT)  # the worker cannot leave its group, whatever uid it ends up with
        return Confinement(self.limits, hide_paths=answer_key_paths() + self.extra_hidden,
                           cover_paths=covers, cgroup_procs=self.budget.procs_files if self.budget else [],
                           tree_budget=self.tree_budget, writable_paths=[str(self.submission), str(home)],
                           readable_paths=[str(runtime), *python_dirs], probe_files=probes,
                           python_paths=python_paths, disable=self.disable,
                           mode="basic" if self.mode == "basic" else "full", mode_reason=self.mode_reason)

    def start(self) -> None:
        if self.proc is not None:
            self.kill()
        begun = time.perf_counter()
        self.start_note = ""
        home = self.scratch / "home"
        home.mkdir(parents=True, exist_ok=True)  # the scratch folder too, when the caller left that to us
        shared_mb = self._zygote_warm()
        self._open_budget(shared_mb or 0)
        env = worker_environment(home)
        forked = self._start_forked(env, home) if shared_mb is not None else None
        if shared_mb and forked is None and self.budget is not None:  # cold after all: the whole budget is its own
            self.budget.remove()
            self._open_budget(0)
        if forked is not None:
            to_worker_w, from_worker_r, out_r, life_w = forked
        elif self.mode == "basic":
            runtime = self._install_runtime()
            to_worker_w, from_worker_r, out_r = self._start_basic(runtime, self._confinement(runtime, home), env, home)
            life_w = None
        else:
            runtime = self._install_runtime()
            conf = self._confinement(runtime, home)
            to_worker_r, to_worker_w = os.pipe()
            from_worker_r, from_worker_w = os.pipe()
            out_r, out_w = os.pipe()
            life_r, life_w = os.pipe()
            try:
                self.proc = subprocess.Popen(
                    [sys.executable, "-I", "-u", "-c", BOOT, str(runtime), str(to_worker_r), str(from_worker_w),
                     str(self.submission), str(life_r), conf.to_json()],
                    stdin=subprocess.DEVNULL, stdout=out_w, stderr=out_w, env=env, cwd=str(self.submission),
                    pass_fds=(to_worker_r, from_worker_w, life_r), start_new_session=True)
            except BaseException:
                for fd in (to_worker_w, from_worker_r, out_r, life_w):
                    os.close(fd)
                raise
            finally:
                for fd in (to_worker_r, from_worker_w, out_w, life_r):
                    os.close(fd)
            os.set_blocking(to_worker_w, False)  # sends are bounded by the request's deadline
        self.start_kind = "forked" if forked is not None else "cold"
        self._to, self._lifeline = to_worker_w, life_w
        self._init_pidfd = None
        self._output = _Drain(out_r, self.limits.output_bytes)
        self._output.start()
        self._replies = _Replies(from_worker_r, self.limits.reply_mb << 20)
        self._replies.start()
        self.starts += 1
        hello = self._wait(self.limits.load_timeout_s, "starting the worker")
        self.worker_pid = hello.header.get("pid")
        self.worker_uid = hello.header.get("uid")
        self.protections = dict(hello.header.get("protections") or {"unknown": True})
        self.protection_notes = dict(hello.header.get("notes") or {})
        self._watch_init(hello.header.get("init_pid"))
        # Fail closed: no submission code has run yet (it is loaded by the requests that follow); a worker
        # without every protection its mode promises is killed before any is.
        missing = self.isolation.missing(self.protections, self.disable, group_made=self.budget is not None)
        if missing and self.start_kind == "forked":  # a cold start, checked the same way, before giving up
            self.kill()
            self.zygote, lacked = None, ", ".join(missing)
            self.start()
            self.start_note = f"a worker forked by the fork server lacked {lacked}: started cold"
            return
        if missing:
            self.kill()
            self.refused = IsolationFailed(self.isolation, missing, self.protection_notes, self.protections)
            raise self.refused
        self.start_seconds = time.perf_counter() - begun
        for module, (filename, mapping) in list(self._loaded.items()):  # a restart is invisible to the checks
            self.load(module, filename, mapping)

    def _zygote_warm(self) -> int | None:
        """MB of memory a worker forked from the zygote shares with it (charged to the zygote's control group,
        not the worker's), once the zygote is warm; None, with ``start_note`` saying why, when it cannot fork one."""
        from .zygote import ZygoteUnavailable

        if self.zygote is None:
            return None
        if self.zygote.source != RUNTIME_DIR:  # the worker runs exactly the judge's runtime, forked or cold
            self.start_note = f"the fork server runs the runtime of {self.zygote.source}, this judge {RUNTIME_DIR}"
            return None
        try:
            return self.zygote.warm(self.limits.load_timeout_s)
        except ZygoteUnavailable as exc:
            self.start_note = str(exc)
            return None

    def _start_forked(self, env: dict, home: Path) -> tuple[int, int, int, int] | None:
        """Have the zygote fork the worker, then send it its start frame (folder, environment, confinement): the
        judge's ends (requests, replies, output, lifeline), or None, with ``start_note`` saying why, to start it cold."""
        from .zygote import ZygoteUnavailable

        conf = self._confinement(self.zygote.runtime, home)  # warm, so started: its runtime is in place
        ends = [os.pipe() for _ in range(4)]  # requests, replies, output, lifeline: (read, write) each
        ours = [ends[0][1], ends[1][0], ends[2][0], ends[3][1]]
        theirs = [ends[0][0], ends[1][1], ends[2][1], ends[3][0]]
        try:
            self.proc = self.zygote.spawn(theirs, ready_timeout=self.limits.load_timeout_s)
        except ZygoteUnavailable as exc:
            self.proc, self.start_note = None, str(exc)
            for fd in ours:
                os.close(fd)
            return None
        finally:
            for fd in theirs:
                os.close(fd)
        os.set_blocking(ours[0], False)  # sends are bounded by the request's deadline
        try:
            wire.send(ours[0], {"submission": str(self.submission), "env": env, "confinement": conf.to_json()},
                      timeout=self.limits.load_timeout_s)
        except (OSError, TimeoutError):
            pass  # the worker is gone or stuck: waiting for its hello says how
        return ours[0], ours[1], ours[2], ours[3]

    def _open_budget(self, shared_mb: int = 0) -> None:
        """A control group for the worker about to start (full mode, where the judge can make one): the task's
        limits for its whole process tree (harness/sandbox/cgroups.py). A worker forked from the zygote shares
        ``shared_mb`` of memory with it that its group is never charged for (torch and the runtime, loaded before
        the fork): its group gets that much less, so that the tree holds no more than the limit, as a cold one."""
        self.budget, self._processes_seen, self.shared_mb = None, 0, shared_mb
        if self.mode == "basic":
            self.tree_budget = ("none but the wall-clock timeout: basic isolation sets no memory, CPU or process "
                                "limit")
            return
        if "tree_budget" in self.disable:
            self.tree_budget = "per-process limits only: the control group was disabled"
            return
        where = cgroups.placement()
        if not where.available:
            self.tree_budget = f"per-process limits only: {where.reason}"
            return
        try:
            self.budget = where.create(replace(self.limits, memory_mb=max(1, self.limits.memory_mb - shared_mb)))
        except OSError as exc:
            self.tree_budget = f"per-process limits only: the kernel refused a control group ({exc})"
            return
        self.tree_budget = self.budget.mechanism

    def _over_budget(self, doing: str, timed_out: bool = False) -> WorkerDied | None:
        """The worker's tree went over its budget (memory, processes or CPU time): the error that says so,
        with the tree killed; None when it did not, or when no control group holds it."""
        if self.budget is None:
            return None
        use = self.budget.usage(memory_full=timed_out)
        self._processes_seen = max(self._processes_seen, use.processes)
        self.tree_peak = {"peak_mb": round(max(self.tree_peak.get("peak_mb", 0.0), use.peak_mb + self.shared_mb), 1),
                          "processes": max(self.tree_peak.get("processes", 0), self._processes_seen)}
        found = over_budget(use, self.limits, self._processes_seen, doing, timed_out)
        if found is None:
            return None
        self.kill()
        return WorkerDied(*found, self.output())

    def _start_basic(self, runtime: Path, conf: Confinement, env: dict, home: Path) -> tuple[int, int, int]:
        """Start the worker the way every OS can: its requests on stdin, its replies on stdout, its
        output on stderr; a session of its own on POSIX, a process group of its own on Windows.
        Returns the judge's ends: (requests, replies, output)."""
        if os.name == "nt":  # without these a Windows process cannot start or load DLLs
            system_root = os.environ.get("SYSTEMROOT", r"C:\Windows")
            env.update({"SYSTEMROOT": system_root, "WINDIR": system_root, "USERPROFILE": str(home),
                        "TEMP": str(home), "TMP": str(home),
                        "PATH": os.pathsep.join([os.path.dirname(sys.executable),
                                                 os.path.join(sys.prefix, "Library", "bin"),  # conda's DLLs
                                                 os.path.join(system_root, "System32"), system_root])})
            group = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP | getattr(subprocess, "CREATE_NO_WINDOW", 0)}
        else:
            group = {"start_new_session": True}
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        out_r, out_w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-u", "-c", BOOT, str(runtime), "-", "-", str(self.submission), "-1",
                 conf.to_json()],
                stdin=to_worker_r, stdout=from_worker_w, stderr=out_w, env=env, cwd=str(self.submission), **group)
        except BaseException:
            for fd in (to_worker_w, from_worker_r, out_r):
                os.close(fd)
            raise
        finally:
            for fd in (to_worker_r, from_worker_w, out_w):
                os.close(fd)
        return to_worker_w, from_worker_r, out_r

    def _send(self, header: dict, tensors: dict | None = None, timeout: float | None = None) -> None:
        """Send one frame within ``timeout`` seconds (TimeoutError otherwise). Full mode writes on a
        non-blocking pipe; basic mode writes in a thread (non-blocking pipes and poll() are POSIX-only)."""
        if self.mode != "basic":
            wire.send(self._to, header, tensors, timeout=timeout)
            return
        fd, failed = self._to, []
        if fd is None:
            raise OSError("the worker's request pipe is closed")

        def write():
            try:
                wire.send(fd, header, tensors)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller below
                failed.append(exc)

        self._sender = threading.Thread(target=write, daemon=True, name="harness-sandbox-send")
        self._sender.start()
        self._sender.join(timeout)
        if self._sender.is_alive():
            raise TimeoutError("the other side did not read in time")
        if failed:
            raise failed[0]

    def _watch_init(self, init_pid) -> None:
        """A pidfd on the PID namespace's init, once we know the pid is still that process."""
        if not isinstance(init_pid, int) or init_pid <= 1 or not hasattr(os, "pidfd_open"):
            return
        try:
            fd = os.pidfd_open(init_pid)
        except OSError:
            return
        # The pid names the init only if its parent is still the process we started (which forks
        # once); checked after opening, so the pidfd cannot refer to a recycled pid.
        if _parent_of(init_pid) == self.proc.pid:
            self._init_pidfd = fd
        else:
            os.close(fd)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        """What the worker printed (stdout and stderr, at most ``output_bytes``), up to now."""
        if self._output is None:
            return ""
        self._output.settle()
        return self._output.text()

    @property
    def output_dropped(self) -> int:
        """Bytes of stdout/stderr that were counted but not kept."""
        if self._output is None:
            return 0
        self._output.settle()
        return self._output.dropped

    def kill(self) -> None:
        """Kill everything the worker started, whatever signals it ignores; wait until it is gone."""
        if self.proc is None:
            return
        pidfd, self._init_pidfd = self._init_pidfd, None
        if pidfd is not None:
            # The namespace's init first: the kernel kills every process of the namespace, and the
            # pidfd turns readable only once they are all gone. The process we started then reaps
            # the init and exits by itself (killing it first would leave the init a zombie for
            # whatever reaps orphans on this machine, which need not be quick about it).
            try:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                wire.wait_fd(pidfd, 5)
                self.proc.wait(timeout=1)
            except (OSError, subprocess.TimeoutExpired):
                pass
            os.close(pidfd)
        if self.proc.returncode is None:
            if os.name == "nt":
                _kill_tree_windows(self.proc)
            else:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                try:  # Popen's, or a forked worker's through its pidfd: never a pid reused since
                    self.proc.send_signal(signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not ignorable
                pass
        if pidfd is None and os.name != "nt":  # no namespace: the rest of the process group, until none is left alive
            deadline = time.monotonic() + 2
            while _group_alive(self.proc.pid) and time.monotonic() < deadline:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    break
                time.sleep(0.01)
        sender, self._sender = self._sender, None
        if sender is not None:  # its write fails now that the worker is gone; never close its fd under it
            sender.join(timeout=2)
            if sender.is_alive():  # pragma: no cover - a child of the worker still holds the pipe
                self._to = None    # leaked rather than closed while in use (it could be reused by then)
        for attr in ("_to", "_lifeline"):
            fd = getattr(self, attr)
            setattr(self, attr, None)
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        if self._replies is not None:
            self._replies.stopped.set()
        if self._output is not None:
            self._output.join(timeout=2)
        budget, self.budget = self.budget, None
        if budget is not None:  # also takes whatever left the process group and the namespace
            budget.remove()

    def close(self) -> None:
        if self.alive:
            try:
                self._send({"cmd": "exit"}, timeout=1)
                self.proc.wait(timeout=2)
            except (OSError, TimeoutError, subprocess.TimeoutExpired):
                pass
        self.kill()
        self.proc = None

    # requests ---------------------------------------------------------------------------------
    def _died(self, doing: str) -> WorkerDied:
        """Diagnose a worker that ended (or closed its channel) while ``doing``; kills what is left."""
        over = self._over_budget(doing)
        if over is not None:
            return over
        try:
            code = self.proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            self.kill()
            return WorkerDied("protocol", f"the worker closed its reply channel while {doing}", self.output())
        self.kill()
        if code < 0:
            name = signal.Signals(-code).name
            why = {"SIGKILL": " (likely the memory or CPU limit)", "SIGXCPU": " (CPU time limit)",
                   "SIGSEGV": " (a segmentation fault)", "SIGXFSZ": " (file size limit)",
                   "SIGBUS": " (a bus error)", "SIGABRT": " (it aborted)"}.get(name, "")
            return WorkerDied("signal", f"the worker was killed by {name}{why} while {doing}", self.output())
        if os.name == "nt" and code in WINDOWS_CRASHES:
            return WorkerDied("signal", f"the worker crashed with status {code:#x}{WINDOWS_CRASHES[code]} "
                              f"while {doing}", self.output())
        return WorkerDied("exit", f"the worker exited with status {code} while {doing}", self.output())

    def _wait(self, timeout: float, doing: str, request_id: int | None = None,
              deadline: float | None = None, kind: str = "hello") -> Reply:
        """The reply to request ``request_id`` (None: the hello), checked against the schema of its ``kind``
        (sandbox/replies.py); a reply that does not fit is a protocol error, as a frame that is not one."""
        deadline = time.monotonic() + timeout if deadline is None else deadline
        replies = self._replies
        while True:  # the tree's budget is read each POLL_S and after each reply
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                over = self._over_budget(doing, timed_out=True)
                if over is not None:
                    raise over
                self.kill()
                raise WorkerDied("timeout", f"{doing} took longer than {timeout:g} s and was stopped",
                                 self.output())
            try:
                reply = replies.queue.get(timeout=min(remaining, POLL_S))
            except queue.Empty:
                over = self._over_budget(doing)
                if over is not None:
                    raise over
                if self.proc.poll() is None:
                    continue
                try:  # it ended: a last frame or the end of the pipe may still be on its way
                    reply = replies.queue.get(timeout=0.2)
                except queue.Empty:
                    raise self._died(doing) from None
            if isinstance(reply, Reply):
                if request_id is not None and reply.header.get("id") != request_id:
                    self.kill()
                    raise WorkerDied("protocol", f"the worker answered out of turn while {doing}",
                                     self.output())
                over = self._over_budget(doing)  # a fork refused that the code survived is still over budget
                if over is not None:
                    raise over
                try:
                    return Reply(check_reply(kind, reply.header), reply.value)
                except ReplyError as exc:
                    self.kill()
                    raise WorkerDied("protocol", f"the worker broke the protocol while {doing}: {exc}",
                                     self.output()) from None
            if isinstance(reply, wire.ProtocolError):
                self.kill()
                raise WorkerDied("protocol", f"the worker broke the protocol while {doing}: {reply}",
                                 self.output())
            raise self._died(doing)  # the end of the pipe

    def request(self, header: dict, tensors: dict | None = None, timeout: float | None = None,
                doing: str = "running a check") -> Reply:
        if not self.alive:
            self.start()
        timeout = self.limits.timeout_s if timeout is None else timeout
        deadline = time.monotonic() + timeout
        request_id = next(self._ids)
        try:
            self._send({**header, "id": request_id}, tensors, timeout=timeout)
        except TimeoutError:
            self.kill()
            raise WorkerDied("timeout", f"the worker did not read its request while {doing}",
                             self.output()) from None
        except OSError:
            pass  # the worker died; _wait says how
        return self._wait(timeout, doing, request_id, deadline, kind=header.get("cmd", ""))

    def load(self, module: str, filename: str, mapping: dict | None = None) -> Reply:
        """Import a module of the submission; ``mapping``: its interface map, as the worker applies it
        (``runtime/mapping.py``)."""
        header = {"cmd": "load", "module": module, "file": filename}
        if mapping:
            header["map"] = mapping
        reply = self.request(header, timeout=self.limits.load_timeout_s, doing=f"importing {filename}")
        if reply.header.get("ok"):
            self._loaded[module] = (filename, mapping)
        return reply

    def run(self, program: dict, inputs: dict, timeout: float | None = None, doing: str = "running a check") -> Reply:
        return self.request({"cmd": "run", "program": program}, inputs, timeout=timeout, doing=doing)
