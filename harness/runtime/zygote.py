"""The fork server ("zygote"): imports torch and the worker's runtime once, then forks a fresh worker per request.

A cold worker spends most of its start importing torch. The judge (``harness/sandbox/zygote.py``) starts this
process the way it starts a worker — ``python -I`` with the worker's scrubbed environment, from a runtime copy
of its own that no worker can write — and it imports torch, sets what :func:`worker.prepare_process` sets for the
whole process (one thread, deterministic algorithms), loads every module of the runtime, and waits. It never
loads a submission, a spec or an answer key, and it never learns what a worker is for: a request carries only
descriptors (the worker's request, reply and output pipes and its lifeline). Per request it forks; the child
closes every other descriptor, takes an empty stdin and the output pipe as stdout and stderr, starts a session
of its own, reads its start frame (submission folder, environment, confinement) from the judge on its request
pipe, and runs :func:`worker.run`: the same confinement and the same loop as a cold worker.

The fork happens only while this process runs one thread (``/proc/self/task``): forking a process that runs
others copies their locks mid-use. Otherwise the request is refused, and the judge starts that worker cold.

Messages on the socket to the judge (a SOCK_SEQPACKET pair, one JSON object each):
- from the zygote: ``{"ready": true, "threads": n, "shared_mb": its anonymous memory}`` once; per request ``{"pid": p}`` with a pidfd of the child
  attached, or ``{"refused": why}``; and when a child ends, ``{"exit": p, "status": wait status}`` (it reaps them);
- from the judge: ``{"fork": true}`` with the four descriptors attached.
When the judge's end closes (the judge exited or was killed), the zygote kills the children it still has and
exits. Standard library only, apart from the runtime modules it loads for its children.
"""
from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import sys

FDS_PER_WORKER = 4  # requests in, replies out, output out, lifeline in
MESSAGE_BYTES = 4096


def threads() -> int:
    """How many threads this process runs now."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0  # cannot tell: treated as unsafe to fork


def anonymous_mb() -> int:
    """This process's anonymous memory in MB, rounded up: what a forked child shares with it and is not charged for."""
    try:
        with open("/proc/self/smaps_rollup") as f:
            for line in f:
                if line.startswith("Anonymous:"):
                    return -(-int(line.split()[1]) // 1024)
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _warm() -> None:
    """Everything a worker loads before it reads a submission, once for every worker."""
    from . import config, confine, forbidden, interpreter, mapping, ops, tokens, training, wire, worker  # noqa: F401

    worker.prepare_process()
    import torch.nn.functional  # noqa: F401 - what the tripwire guards
    import torch.nn.modules.activation  # noqa: F401
    import torch.nn.modules.rnn  # noqa: F401


def _send(sock: socket.socket, message: dict, fds: list[int] = ()) -> None:
    socket.send_fds(sock, [json.dumps(message).encode()], list(fds))


def main(argv: list[str]) -> None:
    """``runtime_root socket_fd python_paths_json``: warm up, say ready, then serve fork requests until the judge
    is gone (its end of the socket closed, or a message to it refused)."""
    folder = os.path.dirname(os.path.abspath(argv[0]))
    sock = socket.socket(fileno=int(argv[1]))
    children: dict[int, int] = {}  # pidfd -> pid of a worker still running
    try:
        for path in json.loads(argv[2]):
            if path not in sys.path:
                sys.path.append(path)
        _warm()
        _send(sock, {"ready": True, "threads": threads(), "shared_mb": anonymous_mb()})
        _serve(sock, children)
    finally:  # only the server gets here: a forked child never returns from _serve_request
        _end(children, folder)


def _serve(sock: socket.socket, children: dict[int, int]) -> None:
    """Fork a worker per request and report each one's end, until the judge's end of the socket closes."""
    while True:
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        for pidfd in children:
            poller.register(pidfd, select.POLLIN)
        try:
            events = poller.poll()
        except InterruptedError:
            continue
        for fd, _ in events:
            if fd == sock.fileno():
                if not _serve_request(sock, children):
                    return
            elif fd in children:
                pid = children.pop(fd)
                _, status = os.waitpid(pid, 0)
                os.close(fd)
                _send(sock, {"exit": pid, "status": status})


def _end(children: dict[int, int], folder: str) -> None:
    """The judge is gone: its workers go with it (their lifelines say so too), then this process and its folder
    (the parent of the runtime it was started from, which the judge made for it alone)."""
    for pidfd in children:
        try:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        except OSError:
            pass
    shutil.rmtree(folder, ignore_errors=True)
    os._exit(0)


def _serve_request(sock: socket.socket, children: dict[int, int]) -> bool:
    """Fork a worker for one request; False when the judge has closed its end."""
    try:
        data, fds, _, _ = socket.recv_fds(sock, MESSAGE_BYTES, FDS_PER_WORKER + 1)
    except OSError:
        return False
    if not data:
        return False
    try:
        request = json.loads(data)
        if not request.get("fork") or len(fds) != FDS_PER_WORKER:
            _send(sock, {"refused": f"a fork request carries {FDS_PER_WORKER} descriptors, this one {len(fds)}"})
            return True
        running = threads()
        if running != 1:
            _send(sock, {"refused": f"the fork server runs {running} threads, and forks only while it runs one"})
            return True
        try:
            pid = os.fork()
        except OSError as exc:
            _send(sock, {"refused": f"fork failed: {exc}"})
            return True
        if pid == 0:
            _become_worker(fds)
        pidfd = os.pidfd_open(pid)  # before any waitpid here: it names this child, never a recycled pid
        children[pidfd] = pid
        _send(sock, {"pid": pid}, [pidfd])
        return True
    finally:
        for fd in fds:
            os.close(fd)


def _become_worker(fds: list[int]) -> None:
    """In the child: keep only the judge's descriptors, then run exactly what a cold worker runs. Never returns."""
    try:
        fd_in, fd_out, output, lifeline = fds
        os.setsid()  # a session and process group of its own, as a cold worker's Popen gives it
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(output, 1)
        os.dup2(output, 2)
        keep = {0, 1, 2, fd_in, fd_out, lifeline}
        for name in os.listdir("/proc/self/fd"):
            if int(name) not in keep:
                try:
                    os.close(int(name))
                except OSError:
                    pass  # the descriptor of the listing itself, already closed
        for fd in (fd_in, fd_out, lifeline):
            os.set_inheritable(fd, False)
        from . import wire, worker

        start, _ = wire.receive(fd_in)  # the judge sends it right after the fork
        os.environ.clear()
        os.environ.update(start["env"])
        if "numpy.random" in sys.modules:  # its global generator afresh, as a cold worker's (Python's random reseeds itself)
            sys.modules["numpy.random"].seed()
        os.chdir(start["submission"])
        sys.argv = ["-c"]  # what a cold worker shows past it (descriptors, paths) is nobody's business here
        worker.run(fd_in, fd_out, start["submission"], lifeline, start["confinement"])
    except BaseException:  # noqa: BLE001 - never back into the server's loop
        try:  # on the worker's output (fd 2, once it is), which the judge shows with the death
            import traceback

            traceback.print_exc()
        finally:
            os._exit(70)
    os._exit(0)
