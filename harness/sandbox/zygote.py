"""The judge's handle on a fork server: workers that start without importing torch again.

A cold worker is a fresh ``python -I`` that confines itself and then imports torch: over a second of CPU per
submission. A :class:`Zygote` is started the same way (the worker's scrubbed environment, ``-I``, a session of
its own, from a runtime copy of its own that no worker can write: it lives in a folder only the judge's uid may
write, which every worker sees read-only or not at all) and imports torch and the runtime once
(``harness/runtime/zygote.py``). For each worker the launcher hands it four pipe ends; it forks, and the child
runs exactly the cold worker's path: confinement, then the request loop. Its hello is checked against the
mode's promises as a cold worker's is.

The forked worker is the zygote's child, not the judge's: :class:`ForkedWorker` gives the launcher what it
uses of ``subprocess.Popen`` (``pid``, ``poll``, ``wait``, ``returncode``, ``send_signal``) through a pidfd the
zygote sends with the pid (so the handle never names a recycled pid) and the exit status the zygote reports
when it reaps the child. The kill path is the cold worker's: the namespace's init by pidfd, the process group,
the control group.

One zygote per judge process (:func:`current`), started by ``harness grade``'s pool processes (as each starts,
before its own torch import), by the run itself when it grades one submission (harness.batch) and by ``harness
check`` and ``harness ci`` (first thing), and killed with them: it exits when its socket to the judge closes,
killing the workers it still has. A zygote that cannot start, refuses (it runs more than one thread) or dies costs
nothing but speed: the launcher starts that worker cold and ``Sandbox.start_kind`` says so. Linux only (it needs
pidfds and a fork server that is a Linux worker's parent); the basic mode never uses it.
"""
from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .bootstrap import RUNTIME_DIR, RUNTIME_PACKAGE, install_runtime, installed_paths, worker_environment

BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
        f"from {RUNTIME_PACKAGE}.zygote import main; main(sys.argv[1:])")
READY_TIMEOUT_S = 120.0   # the zygote's torch import on a busy machine
REPLY_TIMEOUT_S = 10.0    # a fork, once it is ready


def _wait_readable(fd: int, timeout: float | None) -> bool:
    """Whether ``fd`` turns readable within ``timeout`` s (None: however long it takes). wire.wait_fd's twin: wire
    imports torch, and this module is imported before the judge has (so that the fork server warms up meanwhile)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(None if timeout is None else max(0, int(timeout * 1000))))


class ZygoteUnavailable(Exception):
    """The fork server cannot give a worker now (not started, gone, or refused): start it cold."""


def supported() -> tuple[bool, str]:
    """Whether this machine can run a fork server, and why not."""
    if not sys.platform.startswith("linux"):
        return False, f"fork servers run on Linux only (this is {sys.platform})"
    if not hasattr(os, "pidfd_open") or not hasattr(socket, "send_fds"):
        return False, "this Python has no pidfd_open or send_fds (3.9 or later on Linux 5.3 or later)"
    return True, ""


class ForkedWorker:
    """A worker the zygote forked, seen through the part of ``subprocess.Popen`` the launcher uses."""

    def __init__(self, zygote: Zygote, pid: int, pidfd: int):
        self.zygote, self.pid, self._pidfd = zygote, pid, pidfd
        self.args = f"worker forked by the fork server {zygote.pid}"
        self.returncode: int | None = None
        self.status_lost = False  # the zygote died before it could say how the worker ended

    def _ended(self, status: int | None) -> int:
        """Record the exit status (None: the zygote died before it could report one) and let the pidfd go."""
        if status is None:  # reaped by whoever adopted it; how it ended is lost
            self.returncode = -signal.SIGKILL
            self.status_lost = True
        else:
            self.returncode = os.waitstatus_to_exitcode(status)
        pidfd, self._pidfd = self._pidfd, None
        if pidfd is not None:
            os.close(pidfd)
        return self.returncode

    def poll(self) -> int | None:
        """The exit code once the worker has ended and the zygote has said how (negative: a signal), else None."""
        if self.returncode is not None:
            return self.returncode
        if not _wait_readable(self._pidfd, 0):
            return None
        status = self.zygote.exit_status(self.pid, 0.2)  # the process is gone: its status is on the way
        if status is None and self.zygote.alive:
            return None
        return self._ended(status)

    def wait(self, timeout: float | None = None) -> int:
        """The exit code, waiting up to ``timeout`` s for it (subprocess.TimeoutExpired after that)."""
        if self.returncode is not None:
            return self.returncode
        deadline = None if timeout is None else time.monotonic() + timeout

        def left() -> float | None:
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        if not _wait_readable(self._pidfd, left()):
            raise subprocess.TimeoutExpired(self.args, timeout)
        while True:  # it has ended: the zygote's report of how is on its way
            status = self.zygote.exit_status(self.pid, 0.2 if deadline is None else min(0.2, left()))
            if status is not None or not self.zygote.alive:
                return self._ended(status)
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout)

    def send_signal(self, sig: int) -> None:
        """Signal the worker through its pidfd (never a process that got its pid since); nothing once it ended."""
        if self.returncode is None and self._pidfd is not None:
            try:
                signal.pidfd_send_signal(self._pidfd, sig)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        """SIGKILL, as ``Popen.kill``."""
        self.send_signal(signal.SIGKILL)

    def __del__(self):
        if getattr(self, "_pidfd", None) is not None:
            os.close(self._pidfd)


class Zygote:
    """One fork server and the socket to it. ``start`` returns at once; ``spawn`` waits for it to be warm."""

    def __init__(self):
        self.proc: subprocess.Popen | None = None
        self.folder: Path | None = None
        self.runtime: Path | None = None    # the runtime its workers run: a worker must be able to read it
        self.source: Path | None = None     # the folder that runtime was copied from
        self.ready = False
        self.shared_mb = 0                  # its memory after warming up, which every worker it forks shares
        self.why_not = ""                   # why it cannot serve, once it cannot
        self.spawned = 0
        self._sock: socket.socket | None = None
        self._statuses: dict[int, int] = {}
        self._lock = threading.RLock()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and self._sock is not None

    def start(self) -> Zygote:
        """Start the fork server (its warm-up runs on while the judge goes on); ZygoteUnavailable if it cannot."""
        ok, why = supported()
        if not ok:
            self.why_not = why
            raise ZygoteUnavailable(why)
        self.folder = Path(tempfile.mkdtemp(prefix="harness-zygote-"))
        os.chmod(self.folder, 0o711)  # the runtime inside is readable by a worker's uid, writable by the judge's only
        self.source = RUNTIME_DIR
        self.runtime = install_runtime(self.folder / "runtime", self.source)
        home = self.folder / "home"
        home.mkdir(mode=0o711)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        log = open(self.folder / "zygote.log", "wb")  # noqa: SIM115 - handed to the child, closed below
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-u", "-c", BOOT, str(self.runtime), str(theirs.fileno()),
                 json.dumps(installed_paths())],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=worker_environment(home), cwd=str(self.folder),
                pass_fds=(theirs.fileno(),), start_new_session=True)
        except OSError as exc:
            ours.close()
            self.why_not = f"the fork server could not start ({exc})"
            self._remove_folder()
            raise ZygoteUnavailable(self.why_not) from None
        finally:
            theirs.close()
            log.close()
        self._sock = ours
        return self

    # messages -------------------------------------------------------------------------------------
    def _receive(self, timeout: float) -> tuple[dict, list[int]] | None:
        """One message (and the descriptors it carries) within ``timeout`` s; None if none came. A closed
        socket (the zygote is gone) marks it unusable."""
        if self._sock is None or not _wait_readable(self._sock.fileno(), timeout):
            return None
        try:
            data, fds, _, _ = socket.recv_fds(self._sock, 4096, 1)
        except OSError as exc:
            data, fds = b"", []
            self.why_not = f"the fork server's socket failed ({exc})"
        if not data:
            self._gone()
            return None
        try:
            return json.loads(data), fds
        except ValueError:
            for fd in fds:
                os.close(fd)
            self._gone(f"the fork server sent something that is not JSON: {data[:80]!r}")
            return None

    def _next(self, timeout: float, wanted: tuple[str, ...]) -> tuple[dict, list[int]] | None:
        """The next message with one of the ``wanted`` keys within ``timeout`` s; exit reports met on the way
        are kept for :meth:`exit_status`."""
        deadline = time.monotonic() + timeout
        while True:
            got = self._receive(max(0.0, deadline - time.monotonic()))
            if got is None:
                return None
            message, fds = got
            if "exit" in message:
                self._statuses[int(message["exit"])] = int(message["status"])
            elif "ready" in message:
                self.ready = True
                self.shared_mb = max(0, int(message.get("shared_mb", 0)))
            if any(k in message for k in wanted):
                return message, fds
            for fd in fds:
                os.close(fd)

    def _gone(self, why: str = "") -> None:
        code = self.proc.poll() if self.proc else None
        if not why:
            why = ("the fork server has exited" + (f" (status {code})" if code is not None else "")
                   + self._log_tail())
        self.why_not = self.why_not or why
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _log_tail(self) -> str:
        try:
            tail = (self.folder / "zygote.log").read_bytes()[-300:].decode("utf-8", "replace").strip()
        except (OSError, TypeError):
            return ""
        return f": {tail}" if tail else ""

    # what the launcher asks -------------------------------------------------------------------------
    def warm(self, timeout: float = READY_TIMEOUT_S) -> int:
        """Wait up to ``timeout`` s for the zygote to finish warming up; the MB of memory each worker it forks
        shares with it (its anonymous memory then). ZygoteUnavailable if it is gone or not ready in time."""
        with self._lock:
            if not self.alive:
                if self.proc is not None:
                    self._gone()
                raise ZygoteUnavailable(self.why_not or "the fork server is not running")
            if not self.ready and self._next(timeout, ("ready",)) is None:
                why = self.why_not or f"the fork server was not ready after {timeout:g} s"
                self.close()
                raise ZygoteUnavailable(why)
            return self.shared_mb

    def spawn(self, fds: list[int], ready_timeout: float = READY_TIMEOUT_S) -> ForkedWorker:
        """A worker forked with ``fds`` (its request, reply and output pipes and its lifeline, the worker's ends).
        Waits up to ``ready_timeout`` s for the zygote to be warm. ZygoteUnavailable if it cannot."""
        with self._lock:
            self.warm(ready_timeout)
            try:
                socket.send_fds(self._sock, [json.dumps({"fork": True}).encode()], fds)
            except OSError as exc:
                self._gone(f"the fork server did not take the request ({exc})")
                raise ZygoteUnavailable(self.why_not) from None
            got = self._next(REPLY_TIMEOUT_S, ("pid", "refused"))
            if got is None:
                why = self.why_not or f"the fork server did not answer within {REPLY_TIMEOUT_S:g} s"
                self.close()
                raise ZygoteUnavailable(why)
            message, pidfds = got
            if "refused" in message:
                raise ZygoteUnavailable(f"the fork server refused: {message['refused']}")
            if len(pidfds) != 1:
                for fd in pidfds:
                    os.close(fd)
                self.close()
                raise ZygoteUnavailable("the fork server answered without the worker's pidfd")
            self.spawned += 1
            return ForkedWorker(self, int(message["pid"]), pidfds[0])

    def exit_status(self, pid: int, timeout: float) -> int | None:
        """The wait status of worker ``pid`` once the zygote has reaped it (waiting up to ``timeout`` s)."""
        with self._lock:
            if pid not in self._statuses:
                deadline = time.monotonic() + timeout
                while pid not in self._statuses and self.alive:
                    left = deadline - time.monotonic()
                    if left <= 0 or self._next(left, ("exit",)) is None:
                        break
            return self._statuses.pop(pid, None)

    def close(self) -> None:
        """Stop the fork server (its workers go with it) and remove its folder."""
        with self._lock:
            if self._sock is not None:
                self._sock.close()  # the zygote kills its workers and exits on this
                self._sock = None
            if self.proc is not None and self.proc.poll() is None:
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.why_not = self.why_not or "the fork server was stopped"
            self._remove_folder()

    def _remove_folder(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


_current: Zygote | None = None
_restarts = 0
MAX_RESTARTS = 2  # per judge process: a fork server that keeps dying is not started again (workers start cold)


def start_for_process() -> Zygote | None:
    """This judge process's fork server: started on the first call, and again when the last one died (MAX_RESTARTS
    times at most; a server stopped on purpose does not count); None, quietly, where none can run: workers start
    cold."""
    global _current, _restarts
    if _current is not None and not _current.alive and _restarts < MAX_RESTARTS:
        _restarts += 1
        stop_for_process()
    if _current is None:
        try:
            _current = Zygote().start()
        except ZygoteUnavailable:
            return None
        atexit.register(_current.close)
    return _current


def stop_for_process() -> None:
    """Stop this judge process's fork server, if it has one: later workers start cold."""
    global _current
    server, _current = _current, None
    if server is not None:
        server.close()
        atexit.unregister(server.close)


def current() -> Zygote | None:
    """This judge process's fork server, if one was started (a dead one too: the launcher says why it went cold)."""
    return _current
