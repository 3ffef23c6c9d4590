"""The judge's handle on a worker: start it confined, send requests, enforce time, kill it.

The launcher never imports submission code. It copies the worker runtime and the submission into
a scratch directory, starts ``python -I`` there with a scrubbed environment, and speaks the framed
protocol of ``wire.py`` over two dedicated pipes. stdout and stderr are drained by threads that
keep the first ``output_bytes`` and count the rest, so a flood of output can neither block the
worker nor fill the judge's memory.
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from . import isolation, wire
from .isolation import Confinement, Limits

RUNTIME_FILES = ("worker.py", "wire.py", "program.py")
BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
        "from _harness_runtime.worker import main; main(sys.argv[2:])")


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
        super().__init__(daemon=True)
        self.fd, self.cap = fd, cap
        self.kept = bytearray()
        self.total = 0

    def run(self):
        while True:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except OSError:
                break
            if not chunk:
                break
            self.total += len(chunk)
            room = self.cap - len(self.kept)
            if room > 0:
                self.kept += chunk[:room]
        os.close(self.fd)

    def text(self) -> str:
        s = self.kept.decode("utf-8", "replace")
        if self.total > len(self.kept):
            s += f"\n[... {self.total - len(self.kept)} more bytes of output not kept]"
        return s


def _package_root() -> Path:
    return Path(__file__).resolve().parents[2]


def answer_key_paths() -> list[str]:
    """Directories the worker must not be able to read: the judge, the answer key, the tasks."""
    import reference_models

    import harness

    paths = {Path(harness.__file__).parent, Path(reference_models.__file__).parent}
    tasks = _package_root() / "tasks"
    if tasks.is_dir():
        paths.add(tasks)
    return sorted(str(p) for p in paths)


class Sandbox:
    """One worker process over one scratch copy of a submission. Restartable after a death."""

    def __init__(self, submission_copy: Path, scratch: Path, limits: Limits | None = None):
        self.submission = Path(submission_copy)
        self.scratch = Path(scratch)
        self.limits = limits or Limits()
        self.proc: subprocess.Popen | None = None
        self.protections: dict = {}
        self.starts = 0
        self._replies: queue.Queue = queue.Queue()

    # life cycle -------------------------------------------------------------------------------
    def _install_runtime(self) -> Path:
        runtime = self.scratch / "runtime" / "_harness_runtime"
        if not runtime.exists():
            runtime.mkdir(parents=True)
            (runtime / "__init__.py").write_text("")
            for name in RUNTIME_FILES:
                shutil.copy(Path(__file__).parent / name, runtime / name)
        return runtime.parent

    def start(self) -> None:
        runtime = self._install_runtime()
        home = self.scratch / "home"
        home.mkdir(exist_ok=True)
        status = self.scratch / "home" / "confinement.json"
        status.unlink(missing_ok=True)
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        out_r, out_w = os.pipe()
        conf = Confinement(self.limits, hide_paths=answer_key_paths(),
                           writable_paths=[str(self.submission), str(home)], status_path=str(status))
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(home),
               "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "CUBLAS_WORKSPACE_CONFIG": ":4096:8", "MPLBACKEND": "Agg"}
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-u", "-c", BOOT, str(runtime), str(to_worker_r), str(from_worker_w),
             str(self.submission)],
            stdin=subprocess.DEVNULL, stdout=out_w, stderr=out_w, env=env, cwd=str(self.submission),
            pass_fds=(to_worker_r, from_worker_w), start_new_session=True,
            preexec_fn=lambda: isolation.confine(conf))
        for fd in (to_worker_r, from_worker_w, out_w):
            os.close(fd)
        self._to, self._from = to_worker_w, from_worker_r
        self._output = _Drain(out_r, self.limits.output_bytes)
        self._output.start()
        self._replies = queue.Queue()
        threading.Thread(target=self._read_replies, args=(from_worker_r, self._replies), daemon=True).start()
        self.starts += 1
        hello = self._wait(self.limits.load_timeout_s, "starting the worker")
        self.worker_pid = hello.header.get("pid")
        try:
            self.protections = json.loads(status.read_text())
        except (OSError, ValueError):
            self.protections = {"unknown": True}

    def _read_replies(self, fd: int, replies: queue.Queue) -> None:
        while True:
            try:
                header, tensors = wire.receive(fd)
                replies.put(Reply(header, wire.decode(header.get("value"), tensors)))
            except EOFError:
                replies.put(None)
                return
            except wire.ProtocolError as exc:
                replies.put(exc)
                return
            except Exception as exc:  # noqa: BLE001 - anything odd the worker sent
                replies.put(wire.ProtocolError(str(exc)))
                return

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        return self._output.text() if self.proc is not None else ""

    def kill(self) -> None:
        """Kill the worker's whole process group, whatever signals it ignores."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not ignorable
            pass
        for fd in (self._to, self._from):
            try:
                os.close(fd)
            except OSError:
                pass
        self._output.join(timeout=2)

    def close(self) -> None:
        if self.alive:
            try:
                wire.send(self._to, {"cmd": "exit"})
                self.proc.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()
        self.proc = None

    # requests ---------------------------------------------------------------------------------
    def _wait(self, timeout: float, doing: str) -> Reply:
        deadline = time.monotonic() + timeout
        try:
            reply = self._replies.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            self.kill()
            raise WorkerDied("timeout", f"{doing} took longer than {timeout:g} s and was stopped",
                             self.output()) from None
        if isinstance(reply, Reply):
            return reply
        if isinstance(reply, wire.ProtocolError):
            self.kill()
            raise WorkerDied("protocol", f"the worker broke the protocol while {doing}: {reply}", self.output())
        code = self.proc.wait(timeout=10) if self.proc else None
        self.kill()
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            why = {"SIGKILL": " (likely the memory or CPU limit)", "SIGXCPU": " (CPU time limit)",
                   "SIGSEGV": " (a segmentation fault)", "SIGXFSZ": " (file size limit)"}.get(name, "")
            raise WorkerDied("signal", f"the worker was killed by {name}{why} while {doing}", self.output())
        raise WorkerDied("exit", f"the worker exited with status {code} while {doing}", self.output())

    def request(self, header: dict, tensors: dict | None = None, timeout: float | None = None,
                doing: str = "running a check") -> Reply:
        if not self.alive:
            self.start()
        try:
            wire.send(self._to, header, tensors)
        except OSError:
            pass  # the worker died; _wait says how
        return self._wait(self.limits.timeout_s if timeout is None else timeout, doing)

    def load(self, module: str, filename: str) -> Reply:
        return self.request({"cmd": "load", "module": module, "file": filename},
                            timeout=self.limits.load_timeout_s, doing=f"importing {filename}")

    def run(self, program: dict, inputs: dict, timeout: float | None = None, doing: str = "running a check") -> Reply:
        return self.request({"cmd": "run", "program": program}, inputs, timeout=timeout, doing=doing)
