"""Workers forked from a fork server (harness/sandbox/zygote.py) are confined, limited and killed as cold ones are.

A forked worker's hello holds what a cold worker's holds; it sees none of the fork server's descriptors and an
environment of its own; its deaths are told apart (a segmentation fault, SIGKILL, an exit status) and cost the
fork server nothing; a dead fork server means a cold start, recorded in the results; a judge that exits takes
the fork server and its workers along; and the hostile examples keep their verdicts through ``harness grade``
with warm workers. tests/test_sandbox.py's cases run again here with forked workers; the verdicts are read from
EXPECTED.toml as tests/test_verdicts.py reads them.
"""
from __future__ import annotations

import functools
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
import tomllib
from pathlib import Path

import pytest

from harness import grading
from harness.batch import grade_class
from harness.results import Results
from harness.runtime.config import Limits
from harness.sandbox import cgroups, launcher, zygote
from harness.sandbox.launcher import Sandbox, WorkerDied, isolation_mode, worker_environment
from harness.sandbox.zygote import Zygote, ZygoteUnavailable

import test_sandbox
from test_tree_budget import BOMBS, MARGIN_MB, PeakMeter, needs_cgroups, run
from test_sandbox import LETHAL, LIMITS, call, make_submission, new_marker, value, wait_until_gone
from test_verdicts import FUNCTION_TASKS, SUBMISSIONS, assert_verdict, fast_specs, overlay

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not zygote.supported()[0] or isolation_mode()[0] == "basic",
                                reason=f"no fork server here: {zygote.supported()[1] or 'basic isolation'}")

PROBE = LETHAL + '''
def inside():
    """What the worker can see of where it came from."""
    fds = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            fds[name] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            pass  # the listing's own descriptor, closed by now
    try:
        raw = open("/proc/self/environ", "rb").read().decode("utf-8", "replace")
    except OSError as exc:
        raw = type(exc).__name__
    return {"fds": fds, "environ": dict(os.environ), "raw_environ": raw, "argv": list(sys.argv)}

def kill_self():
    os.kill(os.getpid(), signal.SIGKILL)
'''

POOL_HOSTILE = ["fork_bomb", "segfault", "exits_at_import"]  # every broken example runs forked in tests/test_verdicts.py
TREE_HOSTILE = ["fork_memory_bomb", "thread_fork_memory", "pool_memory"]  # need a control group (EXPECTED's needs)


@pytest.fixture(scope="module")
def server():
    """One fork server for the sandbox cases, as a pool process of ``harness grade`` keeps one."""
    z = Zygote().start()
    yield z
    z.close()


def forked(root: Path, server: Zygote, **limits) -> Sandbox:
    """A sandbox on the probe submission, its worker asked of ``server`` and the submission loaded."""
    sub, scratch = make_submission(root, PROBE)
    sb = Sandbox(sub, scratch, Limits(**{**LIMITS, **limits}), zygote=server)
    assert sb.load("cells", "cells.py").header["ok"]
    return sb


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def test_a_forked_worker_holds_every_protection_a_cold_one_holds(server, tmp_path):
    with forked(tmp_path / "warm", server) as warm:
        pass
    sub, scratch = make_submission(tmp_path / "cold", PROBE)
    with Sandbox(sub, scratch, Limits(**LIMITS)) as cold:
        cold.start()
    assert (warm.start_kind, cold.start_kind) == ("forked", "cold"), warm.start_note
    assert warm.protections == cold.protections
    assert warm.isolation.missing(warm.protections, (), group_made=warm.tree_budget.startswith("cgroup")) == []
    if os.geteuid() == 0:  # full mode as root: everything holds, the uid change included
        assert all(warm.protections.values()), warm.protection_notes
        assert warm.worker_uid is not None and warm.worker_uid != 0
    print(f"\nworker start: forked {warm.start_seconds:.3f} s (the first waits for the fork server to be warm), "
          f"cold {cold.start_seconds:.3f} s")


def test_the_fork_server_runs_one_thread_and_holds_nothing_of_the_judge(tmp_path, monkeypatch):
    """Started while the judge has a secret in its environment and an inheritable file open: the fork server
    and its worker see neither; the worker has only its own pipes and the environment a cold worker gets, with
    the one thing of the judge's it must agree with: the instruction set torch's kernels use."""
    monkeypatch.setenv("HARNESS_TEST_SECRET", "judge-only-secret-value")
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "default")
    canary = os.open(tmp_path / "canary", os.O_WRONLY | os.O_CREAT)
    os.set_inheritable(canary, True)
    z = Zygote().start()
    try:
        with forked(tmp_path / "sub", z) as sb:
            seen = value(call(sb, "inside"))
            assert sb.start_kind == "forked"
            server_fds = {os.readlink(f"/proc/{z.pid}/fd/{n}") for n in os.listdir(f"/proc/{z.pid}/fd")}
            server_environ = Path(f"/proc/{z.pid}/environ").read_bytes().decode()
            assert os.listdir(f"/proc/{z.pid}/task") == [str(z.pid)]
    finally:
        z.close()
        os.close(canary)
    assert str(tmp_path / "canary") not in server_fds
    # its own: stdin, its log, the socket to the judge, a pidfd per live worker
    assert all(fd in ("/dev/null", "anon_inode:[pidfd]") or fd.startswith(("socket:", str(z.folder)))
               for fd in server_fds), server_fds
    assert "judge-only-secret-value" not in server_environ and "HARNESS_TEST_SECRET" not in server_environ
    assert seen["environ"] == worker_environment(sb.scratch / "home")
    assert seen["environ"]["ATEN_CPU_CAPABILITY"] == "default"
    assert "judge-only-secret-value" not in seen["raw_environ"]
    assert seen["fds"]["0"] == "/dev/null" and seen["fds"]["1"] == seen["fds"]["2"]
    assert all(fd == "/dev/null" or fd.startswith("pipe:") for fd in seen["fds"].values()), seen["fds"]
    assert len(seen["fds"]) <= 5  # stdin, stdout = stderr, the request and reply pipes
    assert seen["argv"] == ["-c"]


def test_deaths_are_told_apart_and_the_fork_server_serves_the_next_worker(server, tmp_path):
    with forked(tmp_path / "sub", server, timeout_s=5) as sb:
        assert value(call(sb, "double", 21)) == 42
        with pytest.raises(WorkerDied) as died:
            call(sb, "segfault")
        assert died.value.reason == "signal" and "SIGSEGV (a segmentation fault)" in died.value.detail
        with pytest.raises(WorkerDied) as died:
            call(sb, "kill_self")
        assert died.value.reason == "signal" and "SIGKILL" in died.value.detail
        with pytest.raises(WorkerDied) as died:
            call(sb, "hard_exit", 3)
        assert died.value.reason == "exit" and "status 3" in died.value.detail
        marker = new_marker()
        with pytest.raises(WorkerDied) as died:
            call(sb, "stubborn_hang", marker, timeout=3)
        assert died.value.reason == "timeout"
        assert wait_until_gone(marker, seconds=5) == []
        assert value(call(sb, "double", 4)) == 8  # a fresh worker, forked again
        assert sb.start_kind == "forked" and sb.starts == 5
    assert server.alive and server.spawned >= 5


def test_a_dead_fork_server_means_a_cold_start_recorded_in_the_results(tmp_path, monkeypatch):
    dead = Zygote().start()
    dead.proc.kill()
    dead.proc.wait()
    monkeypatch.setattr(zygote, "_current", dead)
    results = grading.grade(SUBMISSIONS / "reference", fast_specs(["sequences"]))
    assert [c.id for c in results.checks if c.status != "passed"] == []
    assert results.sandbox["start"] == "cold"
    assert "the fork server has exited" in results.sandbox["start_note"]
    dead.close()


def killed_at_peak(sandbox: Sandbox, call: str, *args) -> tuple[WorkerDied, float]:
    """How the worker died running ``bombs.<call>(*args)``, and the most memory its tree held, seen from outside."""
    meter = PeakMeter(sandbox)
    meter.start()
    try:
        run(sandbox, call, *args)
    except WorkerDied as exc:
        return exc, meter.peak
    finally:
        meter.stop.set()
        meter.join()
    raise AssertionError(f"bombs.{call} ran to its end within the budget")


@needs_cgroups
def test_a_forked_tree_stays_within_the_memory_budget_with_what_it_shares_with_the_fork_server(server, tmp_path):
    """Torch and the runtime, loaded before the fork, are charged to the fork server's group, not the worker's: the
    worker's group gets the budget less that much, so the tree (shared pages included) holds no more than a cold
    one may — tests/test_tree_budget.py's bound, measured from outside the same way."""
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "bombs.py").write_text(BOMBS)
    (tmp_path / "scratch").mkdir()
    with Sandbox(folder, tmp_path / "scratch", Limits(memory_mb=1024, timeout_s=30), zygote=server) as sandbox:
        sandbox.start()
        assert sandbox.start_kind == "forked" and 0 < sandbox.shared_mb == server.shared_mb < 1024
        group = sandbox.budget.dirs.get("memory") or sandbox.budget.dirs["unified"]
        limit = (group / ("memory.limit_in_bytes" if sandbox.budget.version == 1 else "memory.max")).read_text()
        assert int(limit) == (1024 - sandbox.shared_mb) << 20
        died, peak = killed_at_peak(sandbox, "fork_fill", 4, 400, 5)
    assert died.reason == "memory"
    assert "more than 1024 MB (the task's limit, for all its processes together)" in died.detail
    assert peak <= 1024 + MARGIN_MB, f"the tree held {peak:.0f} MB at its peak"
    assert sandbox.tree_peak["peak_mb"] <= 1024 + MARGIN_MB


def test_a_request_the_fork_server_refuses_is_started_cold(server, tmp_path):
    """A request it cannot serve is refused, said, and costs the fork server nothing."""
    ends = [os.pipe() for _ in range(2)]
    with pytest.raises(ZygoteUnavailable, match="carries 4 descriptors, this one 2"):
        server.spawn([ends[0][0], ends[1][1]])
    for pair in ends:
        for fd in pair:
            os.close(fd)
    with forked(tmp_path / "sub", server) as sb:
        assert value(call(sb, "double", 1)) == 2 and sb.start_kind == "forked"


def test_the_judge_exiting_takes_the_fork_server_and_its_workers_along(tmp_path):
    sub, scratch = make_submission(tmp_path, PROBE)
    marker = new_marker()
    script = textwrap.dedent(f"""
        import os
        from pathlib import Path
        from harness.runtime.config import Limits
        from harness.sandbox.launcher import Sandbox
        from harness.sandbox.program import Program
        from harness.sandbox.zygote import Zygote
        z = Zygote().start()
        sb = Sandbox(Path({str(sub)!r}), Path({str(scratch)!r}), Limits(timeout_s=5, load_timeout_s=60), zygote=z)
        assert sb.load("cells", "cells.py").header["ok"]
        p = Program()
        p.result(p.call("cells.spawn", {marker!r}))
        assert sb.run(p.to_json(), p.inputs).header["ok"]
        print(sb.start_kind, z.pid, sb.proc.pid, z.folder, flush=True)
        os._exit(0)  # no close(), no kill(): the judge is simply gone
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    kind, server_pid, worker_pid, folder = done.stdout.split()
    assert kind == "forked"
    deadline = time.monotonic() + 10
    while (alive(int(server_pid)) or alive(int(worker_pid))) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(int(server_pid)), "the fork server outlived the judge"
    assert not alive(int(worker_pid)), "the worker outlived the judge"
    assert wait_until_gone(marker, seconds=5) == [], "the worker's children outlived the judge"
    assert not Path(folder).exists()


def fast_tasks(dest: Path) -> Path:
    """The function tasks, copied with shorter limits (a hang costs seconds, not a minute); longer than
    tests/test_verdicts.py's, as two submissions are graded at once here and memory_hog must reach its limit."""
    for name in FUNCTION_TASKS:
        shutil.copytree(ROOT / "tasks" / name, dest / name)
        toml = dest / name / "task.toml"
        text, n = re.subn(r"^\[limits\]\ntimeout_s = \d+\n", "[limits]\ntimeout_s = 30\nload_timeout_s = 20\n",
                          toml.read_text(), flags=re.M)
        assert n == 1, f"{toml}: no [limits] section starting with timeout_s"
        toml.write_text(text)
    return dest


def test_the_hostile_examples_keep_their_verdicts_through_harness_grade_with_warm_workers(tmp_path):
    """Through harness grade's pool processes, each with a fork server of its own. With the memory a forked tree
    shares with the fork server left out of its group's budget, the examples that spread memory over processes
    still go over it. (Every broken example keeps its verdict with forked workers in tests/test_verdicts.py, whose
    grades in the test process fork theirs from the suite's fork server.)"""
    hostile = POOL_HOSTILE + (TREE_HOSTILE if cgroups.placement().available else [])
    klass = tmp_path / "class"
    for name in hostile:
        overlay(SUBMISSIONS / "broken" / name, klass / name)
    run = grade_class(klass, tmp_path / "out", tasks=FUNCTION_TASKS, tasks_dir=fast_tasks(tmp_path / "tasks"),
                      workers=2, warm_workers=True)
    assert {o.name: o.status for o in run.outcomes} == {name: "graded" for name in hostile}
    for name in hostile:
        document = json.loads((tmp_path / "out" / "submissions" / name / "results.json").read_text())
        expected = tomllib.loads((SUBMISSIONS / "broken" / name / "EXPECTED.toml").read_text())
        assert_verdict(SUBMISSIONS / "broken" / name, Results.from_dict(document), expected)
        assert document["sandbox"]["start"] == "forked", document["sandbox"].get("start_note")


THREADED = """

_warm_alone = _warm


def _warm():
    _warm_alone()
    import threading
    import time

    threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
"""

BROKEN_WHEN_FORKED = """

_warm_intact = _warm


def _warm():
    _warm_intact()
    from . import confine

    def _prepare_filesystem(*args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory")

    confine._prepare_filesystem = _prepare_filesystem  # in this process only: a cold worker imports it intact
"""


@pytest.fixture
def altered_server(tmp_path, monkeypatch):
    """A fork server whose warm-up does more than it should (``alter(addition)`` appends it to its zygote.py): the
    judge's runtime is the same folder, so that only that addition differs."""
    started = []

    def alter(addition: str) -> Zygote:
        runtime = tmp_path / "runtime"
        shutil.copytree(launcher.RUNTIME_DIR, runtime, ignore=shutil.ignore_patterns("__pycache__"))
        (runtime / "zygote.py").write_text((runtime / "zygote.py").read_text() + addition)
        monkeypatch.setattr(zygote, "RUNTIME_DIR", runtime)
        monkeypatch.setattr(launcher, "RUNTIME_DIR", runtime)
        started.append(Zygote().start())
        return started[-1]

    yield alter
    for server in started:
        server.close()


def test_a_fork_server_that_runs_a_second_thread_refuses_to_fork_and_the_worker_starts_cold(altered_server, tmp_path):
    """Forking a process that runs other threads copies their locks mid-use: refused, and said."""
    threaded = altered_server(THREADED)
    with forked(tmp_path / "sub", threaded) as sb:
        assert value(call(sb, "double", 2)) == 4
        assert sb.start_kind == "cold"
        assert sb.start_note == "the fork server refused: the fork server runs 2 threads, and forks only while it runs one"
        assert sb.isolation.missing(sb.protections, (), group_made=sb.budget is not None) == []
    assert threaded.alive and threaded.spawned == 0


def test_a_forked_worker_without_a_promised_protection_is_killed_and_started_cold(altered_server, tmp_path):
    """Killed at its hello, before any of the submission's code, as a cold one would be; then a cold worker, checked
    the same way, serves (a cold one that lacked it too would be refused: tests/test_isolation.py)."""
    broken = altered_server(BROKEN_WHEN_FORKED)
    with forked(tmp_path / "sub", broken) as sb:
        assert value(call(sb, "double", 2)) == 4
        assert sb.start_kind == "cold" and sb.starts == 2 and broken.spawned == 1
        assert sb.start_note.startswith("a worker forked by the fork server lacked ")
        assert "answer_key_hidden" in sb.start_note and sb.start_note.endswith(": started cold")
        assert sb.isolation.missing(sb.protections, (), group_made=sb.budget is not None) == []
        assert sb.refused is None


def test_a_judge_process_starts_its_fork_server_again_when_it_died_a_few_times_at_most(monkeypatch):
    monkeypatch.setattr(zygote, "_current", None)
    monkeypatch.setattr(zygote, "_restarts", 0)
    first = zygote.start_for_process()
    assert zygote.start_for_process() is first and zygote.current() is first
    zygote.stop_for_process()  # stopped on purpose (a command that ends): the next command starts one afresh
    assert zygote.current() is None and zygote.start_for_process().alive and zygote._restarts == 0
    try:
        for _ in range(zygote.MAX_RESTARTS + 1):
            zygote.current().proc.kill()
            zygote.current().proc.wait()
            latest = zygote.start_for_process()
        assert zygote._restarts == zygote.MAX_RESTARTS
        assert latest is zygote.current() and not latest.alive  # given up: its workers start cold, and say why
        with pytest.raises(ZygoteUnavailable, match="the fork server has exited"):
            latest.warm(1)
    finally:
        zygote.stop_for_process()
    assert zygote.current() is None


# --------------------------------------------------------------------------- tests/test_sandbox.py, forked

SANDBOX_CASES = [
    "test_start_is_fast_and_reports_what_held", "test_as_root_on_linux_everything_holds",
    "test_sys_exit_is_an_error_and_the_worker_goes_on", "test_allocating_far_beyond_the_memory_limit_fails_quickly",
    "test_no_network_inside_the_worker", "test_the_answer_key_cannot_be_read_by_path",
    "test_the_judges_files_cannot_be_written", "test_the_environment_is_scrubbed",
    "test_the_tripwire_records_a_forbidden_built_in_however_it_is_reached",
    "test_a_torch_cell_the_judge_builds_on_purpose_is_not_counted", "test_output_flood_and_protocol_abuse",
    "test_a_hang_times_out_and_the_next_request_restarts", "test_a_hang_that_ignores_signals_dies_with_all_its_children",
    "test_a_child_that_leaves_the_session_dies_with_the_namespace", "test_without_namespaces_the_group_kill_still_cleans_up",
    "test_a_worker_that_stops_reading_cannot_block_the_judge", "test_a_forged_reply_is_a_protocol_error",
    "test_os_exit_is_reported_with_its_status", "test_a_segfault_is_reported_as_sigsegv",
    "test_a_bounded_fork_bomb_is_stopped_and_cleaned_up", "test_the_cpu_limit_is_reported_as_sigxcpu",
]


@pytest.fixture(scope="module")
def forking(server):
    """tests/test_sandbox.py's sandboxes with their workers forked from ``server``: the Sandbox its cases make."""
    original = test_sandbox.Sandbox
    test_sandbox.Sandbox = functools.partial(Sandbox, zygote=server)
    yield server
    test_sandbox.Sandbox = original


@pytest.fixture(scope="module")
def warm_safe(forking, tmp_path_factory):
    yield from test_sandbox.safe.__wrapped__(tmp_path_factory)


@pytest.fixture(scope="module")
def warm_lethal(forking, tmp_path_factory):
    yield from test_sandbox.lethal.__wrapped__(tmp_path_factory)


@pytest.mark.parametrize("name", SANDBOX_CASES)
def test_the_sandbox_cases_hold_with_forked_workers(name, request, tmp_path, forking):
    case = getattr(test_sandbox, name)
    for mark in getattr(case, "pytestmark", []):
        if mark.name == "skipif" and mark.args and mark.args[0]:
            pytest.skip(mark.kwargs.get("reason", ""))
    given = {"tmp_path": tmp_path, "safe": "warm_safe", "lethal": "warm_lethal"}
    args = {p: given[p] if p == "tmp_path" else request.getfixturevalue(given[p])
            for p in inspect.signature(case).parameters}
    before = forking.spawned
    case(**args)
    shared = [a for a in args.values() if isinstance(a, Sandbox)]  # started by a fixture, before the case
    assert forking.spawned > before or (shared and all(s.start_kind == "forked" for s in shared))
