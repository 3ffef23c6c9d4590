"""The sandbox holds against misbehaving submissions: each costs only the request it was running.

The tests drive :class:`Sandbox` directly with programs built by :class:`Program`, over small
throwaway submissions written into tmp dirs. Each worker start costs ~2 s (torch import), so cases
that do not kill the worker share one sandbox, and the lethal ones share another that restarts
itself on the next request.

Processes the submission starts are recognised by a random marker in their command line (they
exec ``/bin/sleep`` under that name): a pid written by the submission would be of no use, as the
worker lives in its own PID namespace where pids are not the judge's.
"""
from __future__ import annotations

import os
import socket
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
import torch

from harness.runtime.config import Limits
from harness.runtime.confine import PROTECTIONS
from harness.sandbox.launcher import Sandbox, WorkerDied
from harness.sandbox.program import Program

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the sandbox needs a POSIX system")

LIMITS = {"timeout_s": 3, "load_timeout_s": 20}
HANG_S = 1.0  # the timeout of requests that are meant to hang

COMMON = '''
import os, signal, subprocess, sys, time

def double(x):
    return x * 2

def spawn(marker, setsid=False):
    """A child by subprocess, one by fork+exec, and (optionally) one that leaves the session."""
    subprocess.Popen([marker, "60"], executable="/bin/sleep", stdin=subprocess.DEVNULL)
    if os.fork() == 0:
        try:
            os.execv("/bin/sleep", [marker, "60"])
        finally:
            os._exit(1)
    if setsid and os.fork() == 0:
        try:
            os.setsid()
            os.execv("/bin/sleep", [marker, "60"])
        finally:
            os._exit(1)
    return True
'''

SAFE = COMMON + '''
import socket, resource

def leave(code):
    sys.exit(code)

def allocate(megabytes):
    import torch
    return torch.empty(megabytes << 20, dtype=torch.uint8).sum()

def allocate_bytes(megabytes):
    return len(bytearray(megabytes << 20))

def connect(port):
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        return "connected"

def import_answer_key(name):
    import importlib
    importlib.import_module(name)
    return "imported"

def read(path):
    with open(path) as f:
        return f.read()

def environment():
    return dict(os.environ)

def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return True

def identity():
    return [os.getuid(), os.getpid()]

def hidden_builtin(x, h):
    """torch's LSTM cell, by a name the static scan cannot read."""
    import torch
    return getattr(torch.nn, "LSTM" + "Cell")(x.shape[1], h.shape[1]).double()(x, (h, h))[0]

def built_on_a_base(n):
    """A cell of its own on torch's cell base, which has no forward to call."""
    import torch
    class Mine(getattr(torch.nn, "RNNCell" + "Base")):
        def __init__(self):
            super().__init__(n, n, bias=True, num_chunks=1)
    return Mine().weight_ih.shape[0]

def torch_layer():
    """torch's own GRU, built on RNNBase: constructing it is not a use of the base."""
    import torch
    return type(torch.nn.GRU(2, 2)).__name__
'''

LETHAL = COMMON + '''
import ctypes

def hang():
    while True:
        pass

def stubborn_hang(marker):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    spawn(marker)
    while True:
        time.sleep(0.05)

def hard_exit(code):
    os._exit(code)

def segfault():
    return ctypes.string_at(0)

def burn():
    x = 0
    while True:
        x += 1

def fork_bomb(marker, depth, record):
    """Every process forks two children until `depth`, then becomes `sleep 60` (bounded: at most
    2 ** (depth + 1) - 2 processes). The worker itself then hangs."""
    worker, level = True, 0
    while level < depth:
        forked_child = False
        for _ in range(2):
            try:
                pid = os.fork()
            except OSError:  # the process limit
                break
            if pid == 0:
                forked_child = True
                break
        if not forked_child:
            break
        worker, level = False, level + 1
    if worker:
        time.sleep(60)
        return
    try:
        with open(record, "a") as f:
            f.write("x\\n")
        os.execv("/bin/sleep", [marker, "60"])
    finally:
        os._exit(1)

def stop_reading():
    """The worker goes on living but never reads another request."""
    os.read = lambda *args: time.sleep(3600)
    return True

def forge_reply():
    """A well-formed frame for a request that was never made."""
    import gc
    from _harness_runtime import wire
    worker = next(o for o in gc.get_objects() if type(o).__name__ == "Worker")
    wire.send(worker.fd_out, {"ok": True, "id": -1, "value": 666})
    time.sleep(60)

def scribble_on_protocol():
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2:
            try:
                os.write(fd, b"GARBAGE, NOT A FRAME" * 100)
            except OSError:
                pass
    return "scribbled"
'''


# --------------------------------------------------------------------------- helpers


def make_submission(root: Path, code: str) -> tuple[Path, Path]:
    sub, scratch = root / "submission", root / "scratch"
    sub.mkdir(parents=True)
    scratch.mkdir()
    (sub / "cells.py").write_text(textwrap.dedent(code))
    return sub, scratch


def call(sb: Sandbox, name: str, *args, timeout: float | None = None):
    """Run ``cells.<name>(*args)`` in the worker; return the Reply."""
    p = Program()
    p.result(p.call(f"cells.{name}", *args))
    return sb.run(p.to_json(), p.inputs, timeout=timeout)


def value(reply):
    assert reply.header["ok"], reply.header
    return reply.value


def marked(marker: str) -> list[int]:
    """Pids of live processes whose command line carries ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


def wait_for(marker: str, count: int, seconds: float = 10.0) -> list[int]:
    """The marked processes, once ``count`` of them run (a forked child takes a moment to exec)."""
    deadline = time.monotonic() + seconds
    while len(found := marked(marker)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return found


def wait_until_gone(marker: str, seconds: float = 0.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := marked(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def new_marker() -> str:
    return f"harness-test-{uuid.uuid4().hex[:12]}"


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")


@pytest.fixture(scope="module")
def safe(tmp_path_factory):
    """One sandbox for the cases that leave the worker alive."""
    os.environ["SECRET_TOKEN"] = "judge-only-secret-value"
    try:
        sub, scratch = make_submission(tmp_path_factory.mktemp("safe"), SAFE)
        sb = Sandbox(sub, scratch, Limits(**LIMITS, memory_mb=4096))
        sb.start()
    finally:
        del os.environ["SECRET_TOKEN"]
    assert value_of_load(sb)
    yield sb
    sb.close()


@pytest.fixture(scope="module")
def lethal(tmp_path_factory):
    """One sandbox for the cases that kill the worker: it restarts on the next request."""
    sub, scratch = make_submission(tmp_path_factory.mktemp("lethal"), LETHAL)
    sb = Sandbox(sub, scratch, Limits(**LIMITS))
    assert value_of_load(sb)
    yield sb
    sb.close()


def value_of_load(sb: Sandbox) -> bool:
    reply = sb.load("cells", "cells.py")
    assert reply.header["ok"], reply.header
    return True


# --------------------------------------------------------------------------- the basics


def test_start_is_fast_and_reports_what_held(safe):
    assert safe.start_seconds is not None and safe.start_seconds < 15, safe.start_seconds
    print(f"\nsandbox start: {safe.start_seconds:.2f} s; protections: {safe.protections}; "
          f"notes: {safe.protection_notes}")
    assert set(PROTECTIONS) <= set(safe.protections)
    assert all(isinstance(v, bool) for v in safe.protections.values())
    assert safe.protections["process_group"]
    assert safe.protections["rlimits"]
    for name, held in safe.protections.items():  # every protection that did not hold says why
        if not held and name not in ("memory_limit", "no_new_privs"):
            assert safe.protection_notes, f"{name} did not hold and no note says why"
    assert torch.equal(value(call(safe, "double", torch.arange(3.0))), torch.tensor([0.0, 2.0, 4.0]))


@pytest.mark.skipif(not (sys.platform.startswith("linux") and os.geteuid() == 0), reason="as root on Linux")
def test_as_root_on_linux_everything_holds(safe):
    """Here (root, Linux) every protection is expected to hold, the uid drop included."""
    missing = [k for k, held in safe.protections.items() if not held]
    assert not missing, (missing, safe.protection_notes)
    uid, pid = value(call(safe, "identity"))
    assert uid != 0 and uid == safe.worker_uid
    assert pid == 2  # W, under the namespace's init


def test_sys_exit_is_an_error_and_the_worker_goes_on(safe):
    starts = safe.starts
    reply = call(safe, "leave", 3)
    assert not reply.header["ok"]
    assert reply.header["error"]["type"] == "SystemExit"
    assert "sys.exit(3)" in reply.header["error"]["message"]
    assert reply.header["error"]["file"] == "cells.py"
    assert value(call(safe, "double", 21)) == 42
    assert safe.starts == starts


# --------------------------------------------------------------------------- memory


def test_allocating_far_beyond_the_memory_limit_fails_quickly(safe):
    if not safe.protections.get("memory_limit"):
        pytest.skip(f"no memory limit here: {safe.protection_notes.get('memory_limit')}")
    before = rss_mb()
    began = time.monotonic()
    reply = call(safe, "allocate", 64 * 1024)  # 64 GiB of a 4 GiB limit
    assert not reply.header["ok"], "64 GiB allocated under a 4 GiB limit"
    assert reply.header["error"]["type"] in ("RuntimeError", "MemoryError"), reply.header["error"]
    reply = call(safe, "allocate_bytes", 16 * 1024)
    assert reply.header["error"]["type"] == "MemoryError"
    assert time.monotonic() - began < 5
    assert rss_mb() - before < 50  # the judge did not pay for it
    assert value(call(safe, "double", 1)) == 2


# --------------------------------------------------------------------------- the network


@linux_only
def test_no_network_inside_the_worker(safe):
    if not safe.protections.get("network_namespace"):
        pytest.skip(f"no network namespace here: {safe.protection_notes.get('network_namespace')}")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass  # the judge itself can connect
        reply = call(safe, "connect", port)
    assert not reply.header["ok"], "the worker reached a port the judge listens on"
    assert reply.header["error"]["type"] in ("OSError", "ConnectionRefusedError", "TimeoutError")


# --------------------------------------------------------------------------- the answer key


@pytest.mark.parametrize("package", ["reference_models", "harness", "reference_models.cells",
                                     "harness.sandbox.launcher"])
def test_the_answer_key_cannot_be_imported_and_the_attempt_is_reported(safe, package):
    reply = call(safe, "import_answer_key", package)
    assert not reply.header["ok"]
    error = reply.header["error"]
    assert error["type"] in ("ImportError", "ModuleNotFoundError")
    assert "grader's code" in error["message"]
    assert package.split(".")[0] in reply.header["answer_key_imports"]


def test_the_answer_key_cannot_be_read_by_path(safe):
    import harness
    import reference_models

    if not safe.protections.get("answer_key_hidden"):
        pytest.skip(f"the answer key is not hidden here: {safe.protection_notes}")
    for source in (Path(reference_models.__file__).parent / "cells.py",
                   Path(harness.__file__).parent / "sandbox" / "launcher.py"):
        assert source.is_file()  # the judge sees it
        reply = call(safe, "read", str(source))
        assert not reply.header["ok"], f"the worker read {source}"
        assert reply.header["error"]["type"] in ("FileNotFoundError", "PermissionError")


def test_the_judges_files_cannot_be_written(safe, tmp_path):
    if not (safe.protections.get("readonly_filesystem") or safe.protections.get("unprivileged_uid")):
        pytest.skip("neither a read-only filesystem nor an unprivileged uid held here")
    target = Path(__file__).resolve().parents[1] / "harness_sandbox_test_must_not_exist.txt"
    reply = call(safe, "write", str(target), "pwned")
    assert not reply.header["ok"]
    assert not target.exists()
    outside = tmp_path / "outside.txt"  # a judge-owned directory outside the submission
    reply = call(safe, "write", str(outside), "pwned")
    assert not reply.header["ok"]
    assert not outside.exists()
    assert value(call(safe, "write", str(safe.submission / "mine.txt"), "ok"))  # its own copy: yes
    assert (safe.submission / "mine.txt").read_text() == "ok"


# --------------------------------------------------------------------------- the environment


def test_the_environment_is_scrubbed(safe):
    env = value(call(safe, "environment"))
    assert "SECRET_TOKEN" not in env
    assert "judge-only-secret-value" not in repr(env)
    assert env["HOME"] == str(safe.scratch / "home")
    # nor can it be read from the judge's /proc entry
    reply = call(safe, "read", f"/proc/{os.getpid()}/environ")
    assert not reply.header["ok"] or "judge-only-secret-value" not in reply.value


# --------------------------------------------------------------------------- the tripwire (runtime/forbidden.py)


def test_the_tripwire_records_a_forbidden_built_in_however_it_is_reached(safe):
    x, h = torch.randn(2, 3, dtype=torch.float64), torch.zeros(2, 4, dtype=torch.float64)
    reply = call(safe, "hidden_builtin", x, h)
    assert reply.header["ok"] and {"torch.nn.LSTMCell", "torch._VF.lstm_cell"} <= set(reply.header["forbidden"])
    reply = call(safe, "built_on_a_base", 3)
    assert reply.value == 3 and reply.header["forbidden"] == ["torch.nn.RNNCellBase"]
    reply = call(safe, "torch_layer")
    assert reply.value == "GRU" and reply.header["forbidden"] == []


def test_a_torch_cell_the_judge_builds_on_purpose_is_not_counted(safe):
    p = Program()
    cell = p.op("torch_cell", "LSTMCell", 3, 4, {"weight_ih": torch.ones(16, 3, dtype=torch.float64)}, "float64")
    p.result(p.method(cell, "forward", torch.randn(2, 3, dtype=torch.float64)))
    reply = safe.run(p.to_json(), p.inputs)
    assert reply.header["ok"] and reply.header["forbidden"] == []


# --------------------------------------------------------------------------- output


FLOOD = '''
import os, sys

def chatter(megabytes):
    chunk = "x" * (1 << 20)
    for _ in range(megabytes // 2):
        sys.stdout.write(chunk)
        sys.stderr.write(chunk)
    return megabytes

def fake_frame():
    # what a frame looks like on the wire, printed: it must stay output
    print("HRN1" + "\\x00" * 7 + "\\x10" + '{"ok": true, "value": 666}', flush=True)
    return 7
''' + LETHAL


def test_output_flood_and_protocol_abuse(tmp_path):
    sub, scratch = make_submission(tmp_path, FLOOD)
    sb = Sandbox(sub, scratch, Limits(**LIMITS, output_bytes=1000))
    try:
        assert sb.load("cells", "cells.py").header["ok"]
        # printing something that looks like a frame does not touch the protocol
        assert value(call(sb, "fake_frame")) == 7
        assert "HRN1" in sb.output()
        # 200 MB to stdout and stderr: the worker is not blocked, the judge keeps 1000 bytes
        before = rss_mb()
        began = time.monotonic()
        assert value(call(sb, "chatter", 200, timeout=30)) == 200
        assert time.monotonic() - began < 30
        assert rss_mb() - before < 50
        assert sb.output_dropped >= (200 << 20) - 1000  # all of it counted once the reply is in
        text = sb.output()
        assert text.startswith("HRN1")
        kept, _, note = text.partition("\n[... ")
        assert len(kept.encode()) <= 1000
        assert "more bytes of output not kept" in note
        # garbage written straight into the protocol's pipes: a protocol error, not a crash
        with pytest.raises(WorkerDied) as died:
            call(sb, "scribble_on_protocol")
        assert died.value.reason == "protocol"
        assert not sb.alive
        # and the next request gets a fresh worker
        assert torch.equal(value(call(sb, "double", torch.ones(2))), torch.full((2,), 2.0))
        assert sb.starts == 2
    finally:
        sb.close()


# --------------------------------------------------------------------------- hangs and deaths


def test_a_hang_times_out_and_the_next_request_restarts(lethal):
    starts = lethal.starts
    began = time.monotonic()
    with pytest.raises(WorkerDied) as died:
        call(lethal, "hang", timeout=HANG_S)
    assert died.value.reason == "timeout"
    assert time.monotonic() - began < HANG_S + 3
    assert not lethal.alive
    # the next request restarts the worker and reloads the submission's modules
    assert value(call(lethal, "double", 5)) == 10
    assert lethal.starts == starts + 1


@linux_only
def test_a_hang_that_ignores_signals_dies_with_all_its_children(lethal):
    marker = new_marker()
    assert value(call(lethal, "spawn", marker)) is True
    assert len(wait_for(marker, 2)) == 2, "the subprocess and the forked child should be running"
    with pytest.raises(WorkerDied) as died:
        call(lethal, "stubborn_hang", marker, timeout=HANG_S)
    assert died.value.reason == "timeout"
    assert wait_until_gone(marker) == [], "a process of the submission outlived the kill"


@linux_only
def test_a_child_that_leaves_the_session_dies_with_the_namespace(lethal):
    if not lethal.alive:
        lethal.start()
    if not lethal.protections.get("pid_namespace"):
        pytest.skip(f"no PID namespace here: {lethal.protection_notes.get('pid_namespace')}")
    marker = new_marker()
    assert value(call(lethal, "spawn", marker, True)) is True
    pids = wait_for(marker, 3)
    assert len(pids) == 3
    sessions = set()
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            sessions.add(int(f.read().rsplit(")", 1)[1].split()[3]))
    assert len(sessions) == 2, "one child should have a session of its own"
    with pytest.raises(WorkerDied):
        call(lethal, "hang", timeout=HANG_S)
    assert wait_until_gone(marker) == [], "the setsid() child outlived the kill"


@linux_only
def test_without_namespaces_the_group_kill_still_cleans_up(tmp_path):
    """The fallback where the kernel refuses namespaces (or on macOS): the process group is killed."""
    sub, scratch = make_submission(tmp_path, LETHAL)
    off = ["pid_namespace", "mount_namespace", "network_namespace", "unprivileged_uid"]
    sb = Sandbox(sub, scratch, Limits(**LIMITS), disable=off)
    try:
        assert sb.load("cells", "cells.py").header["ok"]
        for name in off:
            assert sb.protections[name] is False and sb.protection_notes[name] == "disabled"
        assert sb.protections["dies_with_judge"]  # a watcher thread instead of the namespace's init
        marker = new_marker()
        assert value(call(sb, "spawn", marker)) is True
        assert len(wait_for(marker, 2)) == 2
        with pytest.raises(WorkerDied) as died:
            call(sb, "stubborn_hang", marker, timeout=HANG_S)
        assert died.value.reason == "timeout"
        assert wait_until_gone(marker) == [], "a child in the worker's process group outlived the kill"
    finally:
        sb.close()


def test_a_worker_that_stops_reading_cannot_block_the_judge(lethal):
    assert value(call(lethal, "stop_reading")) is True
    began = time.monotonic()
    with pytest.raises(WorkerDied) as died:  # 8 MiB of input: far more than a pipe holds
        call(lethal, "double", torch.zeros(1 << 20, dtype=torch.float64), timeout=HANG_S)
    assert died.value.reason == "timeout"
    assert "did not read its request" in died.value.detail
    assert time.monotonic() - began < HANG_S + 3


def test_a_forged_reply_is_a_protocol_error(lethal):
    with pytest.raises(WorkerDied) as died:
        call(lethal, "forge_reply")
    assert died.value.reason == "protocol"
    assert "out of turn" in died.value.detail


def test_os_exit_is_reported_with_its_status(lethal):
    with pytest.raises(WorkerDied) as died:
        call(lethal, "hard_exit", 3)
    assert died.value.reason == "exit"
    assert "status 3" in died.value.detail


def test_a_segfault_is_reported_as_sigsegv(lethal):
    with pytest.raises(WorkerDied) as died:
        call(lethal, "segfault")
    assert died.value.reason == "signal"
    assert "SIGSEGV" in died.value.detail or (sys.platform == "darwin" and "SIGBUS" in died.value.detail)


@linux_only
def test_a_bounded_fork_bomb_is_stopped_and_cleaned_up(lethal):
    marker = new_marker()
    record = lethal.submission / f"bomb-{marker}.txt"
    if not lethal.alive:
        lethal.start()
    began = time.monotonic()
    # the worker sleeps once its children are forked (<= 126 processes); the timeout leaves a busy machine the
    # seconds forking them can take there, so that it is the process limit that stops them
    with pytest.raises(WorkerDied) as died:
        call(lethal, "fork_bomb", marker, 6, str(record), timeout=10.0)
    # with a control group the fork past max_processes is refused and said; without one, the bomb sleeps
    assert died.value.reason == ("processes" if lethal.tree_budget.startswith("cgroup") else "timeout")
    assert time.monotonic() - began < 30
    assert wait_until_gone(marker) == [], "a process of the fork bomb is still alive"
    forked = len(record.read_text().splitlines()) if record.exists() else 0
    assert forked >= 10, "the bomb did not go off; the test proves nothing"
    if lethal.protections.get("process_limit"):
        assert forked <= Limits().max_processes


def test_the_cpu_limit_is_reported_as_sigxcpu(tmp_path):
    sub, scratch = make_submission(tmp_path, LETHAL)
    # the worker spends ~1 s of CPU importing torch; the limit counts from its start. The per-process limit alone
    # (the whole tree's budget is tests/test_tree_budget.py's)
    sb = Sandbox(sub, scratch, Limits(**{**LIMITS, "timeout_s": 20}, cpu_s=3), disable=["tree_budget"])
    try:
        assert sb.load("cells", "cells.py").header["ok"]
        began = time.monotonic()
        with pytest.raises(WorkerDied) as died:
            call(sb, "burn")
        assert died.value.reason == "signal"
        assert "SIGXCPU" in died.value.detail
        assert time.monotonic() - began < 10
    finally:
        sb.close()


@linux_only
def test_the_worker_dies_with_the_judge(tmp_path):
    """A judge that dies without closing its sandbox takes the worker (and its children) along."""
    import subprocess

    sub, scratch = make_submission(tmp_path, LETHAL)
    marker = new_marker()
    script = textwrap.dedent(f"""
        import os
        from pathlib import Path
        from harness.runtime.config import Limits
        from harness.sandbox.launcher import Sandbox
        from harness.sandbox.program import Program
        sb = Sandbox(Path({str(sub)!r}), Path({str(scratch)!r}), Limits(timeout_s=5, load_timeout_s=20))
        assert sb.load("cells", "cells.py").header["ok"]
        p = Program()
        p.result(p.call("cells.spawn", {marker!r}))
        assert sb.run(p.to_json(), p.inputs).header["ok"]
        print(sb.protections["dies_with_judge"], flush=True)
        os._exit(0)  # no close(), no kill()
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    if done.stdout.strip() != "True":
        pytest.skip("the worker cannot watch the judge here")
    assert wait_until_gone(marker, seconds=5) == [], "the worker's children outlived the judge"


def test_a_tasks_folder_outside_the_checkout_is_hidden_from_the_worker(tmp_path):
    """A course keeps its specs anywhere (Gradescope: /autograder/source/tasks): the worker must not read
    hidden.toml there. The submission refuses to load when it can see the file, so every check errors then."""
    import shutil
    import tempfile

    from harness.grading import grade
    from harness.spec import load_tasks

    parent = next((d for d in ("/opt", "/srv", "/var/lib") if os.access(d, os.W_OK)), None)
    if parent is None:
        pytest.skip("no writable folder outside the checkout, $HOME and the temporary folders")
    outside = Path(tempfile.mkdtemp(prefix="harness-tasks-", dir=parent))
    outside.chmod(0o755)  # readable by everyone, as a course's checkout usually is
    try:
        shutil.copytree(Path(__file__).resolve().parents[1] / "tasks" / "sequences", outside / "sequences")
        secret = outside / "sequences" / "hidden.toml"
        submission = tmp_path / "student"
        shutil.copytree(Path(__file__).resolve().parents[1] / "submissions" / "reference", submission)
        module = submission / "sequences.py"
        module.write_text(module.read_text() + f"\n\nimport os\nif os.path.exists({str(secret)!r}):\n"
                                               "    raise RuntimeError('read the spec')\n")
        results = grade(submission, load_tasks(outside))
        if not results.sandbox["protections"].get("answer_key_hidden"):
            pytest.skip("folders are not hidden from the worker here")
        assert secret.is_file() and results.checks
        assert all(c.status == "passed" for c in results.checks), [(c.id, c.message) for c in results.checks]
    finally:
        shutil.rmtree(outside, ignore_errors=True)
