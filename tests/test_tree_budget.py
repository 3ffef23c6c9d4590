"""One budget for the worker's whole process tree (harness/sandbox/cgroups.py): memory, processes and CPU time
are limited for all of a worker's processes together, measured here from outside, and nothing is left in the
kernel's hierarchy afterwards — also when the judge was killed.

The machines this runs on have cgroup v1 writable as root; elsewhere the tests that need a control group skip,
saying why (the fallback, per-process rlimits, is tested by the rest of the suite).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from harness.runtime.config import Limits
from harness.sandbox import cgroups
from harness.sandbox.launcher import Sandbox, WorkerDied, over_budget
from harness.sandbox.program import Program

ROOT = Path(__file__).resolve().parents[1]
WHERE = cgroups.placement()
needs_cgroups = pytest.mark.skipif(not WHERE.available, reason=f"no control groups here: {WHERE.reason}")
MARGIN_MB = 64  # the outside measurement (summed anonymous PSS, sampled every 10 ms) against the kernel's accounting

BOMBS = '''
import os
import time


def fork_fill(children, mb, hold):
    """Fork ``children`` processes; each of them and this one fill ``mb`` MB and hold it ``hold`` s."""
    pids = []
    for _ in range(children):
        pid = os.fork()
        if pid == 0:
            block = b"\\x01" * (mb << 20)
            time.sleep(hold)
            os._exit(0)
        pids.append(pid)
    block = b"\\x01" * (mb << 20)
    time.sleep(hold)
    for pid in pids:
        os.waitpid(pid, 0)
    return len(block)


def fork_many(n):
    pids = []
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            time.sleep(2)
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    return n


def spin_children(children, seconds):
    """Fork ``children`` processes that each burn ``seconds`` of CPU time."""
    pids = []
    for _ in range(children):
        pid = os.fork()
        if pid == 0:
            end = time.process_time() + seconds
            while time.process_time() < end:
                pass
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    return children
'''


def tree_of(root_pid: int) -> list[int]:
    """Every process descending from ``root_pid`` (itself included), read from /proc as any observer can."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    return sorted(tree)


def pss_mb(pids: list[int]) -> float:
    """The tree's own memory: proportional set sizes of its anonymous and shared-memory pages and its swap, summed (a
    page shared by forked processes counts once). Mapped files (torch's libraries) are left out: their share of
    each page depends on how many other processes on the machine map the same file, not on what the tree holds."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith(("Pss_Anon:", "Pss_Shmem:", "SwapPss:")):
                    total += int(line.split()[1])
        except (OSError, ValueError):
            pass
    return total / 1024


class PeakMeter(threading.Thread):
    """Samples the memory of the tree under the process the judge started, every 10 ms, from outside."""

    def __init__(self, sandbox: Sandbox):
        super().__init__(daemon=True)
        self.sandbox, self.peak, self.processes, self.stop = sandbox, 0.0, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            proc = self.sandbox.proc
            if proc is not None and proc.poll() is None:
                pids = tree_of(proc.pid)
                self.peak = max(self.peak, pss_mb(pids))
                self.processes = max(self.processes, len(pids))
            time.sleep(0.01)


@pytest.fixture
def bombs(tmp_path) -> Path:
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "bombs.py").write_text(BOMBS)
    return folder


def run(sandbox: Sandbox, call: str, *args):
    sandbox.load("bombs", "bombs.py")
    p = Program()
    return sandbox.run(p.result(p.call(f"bombs.{call}", *args)).to_json(), p.inputs)


def own_groups() -> list[Path]:
    return [g for parent in WHERE.parents.values() for g in parent.glob(f"{cgroups.judge_tag()}*")]


@needs_cgroups
def test_memory_spread_over_forked_children_stays_within_the_budget(bombs, tmp_path):
    """Five processes of 400 MB each under a 1024 MB budget: stopped at the budget, measured from outside, with a
    message that names the limit and the processes; and without the control group the same tree goes far past
    it, which is what this test would see if the budget did not hold."""
    limits = Limits(memory_mb=1024, timeout_s=30)
    with Sandbox(bombs, tmp_path / "scratch", limits) as sandbox:
        meter = PeakMeter(sandbox)
        meter.start()
        with pytest.raises(WorkerDied) as died:
            run(sandbox, "fork_fill", 4, 400, 5)
        meter.stop.set()
        meter.join()
        assert sandbox.protections.get("tree_budget") is True
        assert sandbox.tree_budget.startswith("cgroup v")
    assert died.value.reason == "memory"
    assert "more than 1024 MB (the task's limit, for all its processes together)" in died.value.detail
    assert "processes at the time" in died.value.detail
    assert meter.peak <= 1024 + MARGIN_MB, f"the tree held {meter.peak:.0f} MB at its peak"

    with Sandbox(bombs, tmp_path / "scratch2", limits, disable=["tree_budget"]) as unbounded:
        meter = PeakMeter(unbounded)
        meter.start()
        reply = run(unbounded, "fork_fill", 4, 400, 1)
        meter.stop.set()
        meter.join()
        assert reply.header["ok"] and unbounded.budget is None
        assert "disabled" in unbounded.tree_budget
    assert meter.peak > 1500, f"per-process limits only: the tree held {meter.peak:.0f} MB"
    assert not own_groups()


@needs_cgroups
def test_a_fork_past_the_process_budget_is_said_as_such(bombs, tmp_path):
    with Sandbox(bombs, tmp_path / "scratch", Limits(max_processes=24, timeout_s=30)) as sandbox:
        with pytest.raises(WorkerDied) as died:
            run(sandbox, "fork_many", 40)
    assert died.value.reason == "processes"
    assert "more than 24 processes and threads at once (the task's limit)" in died.value.detail


@needs_cgroups
def test_cpu_time_is_summed_over_the_tree(bombs, tmp_path):
    """Four children that burn 2 s of CPU each: each under the per-process 4 s, 8 s together (and the worker's
    own start, about 1.5 s)."""
    with Sandbox(bombs, tmp_path / "scratch", Limits(cpu_s=4, timeout_s=30)) as sandbox:
        sandbox.load("bombs", "bombs.py")
        start = time.monotonic()
        with pytest.raises(WorkerDied) as died:
            run(sandbox, "spin_children", 4, 2.0)
        assert time.monotonic() - start < 10
    assert died.value.reason == "cpu"
    assert "more than 4 s of CPU time (the task's limit, summed over its" in died.value.detail


@needs_cgroups
def test_a_worker_within_its_budget_is_untouched_and_its_group_removed(bombs, tmp_path):
    with Sandbox(bombs, tmp_path / "scratch", Limits(memory_mb=2048)) as sandbox:
        assert run(sandbox, "fork_fill", 2, 50, 0).value == 50 << 20
        groups = own_groups()
        assert groups and all(g.is_dir() for g in groups)
        assert sandbox.tree_peak["processes"] >= 3
    assert not own_groups()


@needs_cgroups
def test_the_groups_of_a_killed_judge_are_swept_by_the_next(bombs, tmp_path):
    """A judge killed with SIGKILL while its worker runs: its worker dies with it (the lifeline), its groups are
    left behind, and the next judge's first group removes them; nothing of either is left."""
    script = f'''
import sys, time
sys.path.insert(0, {str(ROOT)!r})
from harness.runtime.config import Limits
from harness.sandbox.launcher import Sandbox
from harness.sandbox.program import Program
sandbox = Sandbox(__import__("pathlib").Path({str(bombs)!r}), __import__("pathlib").Path({str(tmp_path / "s")!r}), Limits())
sandbox.load("bombs", "bombs.py")
print(sandbox.budget.dirs["pids"], flush=True)
p = Program()
sandbox.run(p.result(p.call("bombs.fork_fill", 2, 10, 60)).to_json(), p.inputs, timeout=60)
'''
    judge = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    group = Path(judge.stdout.readline().strip())
    assert group.is_dir()
    time.sleep(0.5)
    os.kill(judge.pid, signal.SIGKILL)
    judge.wait()
    assert group.exists()  # what a judge killed this way leaves
    resumed = subprocess.run([sys.executable, "-c", f'''
import sys
sys.path.insert(0, {str(ROOT)!r})
from harness.runtime.config import Limits
from harness.sandbox import cgroups
cgroups.placement().create(Limits()).remove()
'''], capture_output=True, text=True, timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    leftovers = [g for parent in WHERE.parents.values() for g in parent.glob(f"{cgroups.PREFIX}{judge.pid}-*")]
    assert not group.exists() and not leftovers


def test_where_groups_are_made_is_found_or_said(tmp_path):
    """The placement read from a machine's mount table and the judge's own groups: v1 with every controller,
    a delegated v2 subtree, and a v2 that delegates nothing (with the reason and the fix)."""
    proc = tmp_path / "proc"
    proc.mkdir()

    def machine(mountinfo: str, own: str, files: dict[str, str]):
        (proc / "mountinfo").write_text(mountinfo)
        (proc / "cgroup").write_text(own)
        for name, text in files.items():
            path = tmp_path / name.lstrip("/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return cgroups.Placement(root=tmp_path, proc_self=proc)

    v1 = "".join(f"3{i} 1 0:2{i} / /sys/fs/cgroup/{c} rw - cgroup cgroup rw,{c}\n"
                 for i, c in enumerate(cgroups.V1_CONTROLLERS))
    for c in cgroups.V1_CONTROLLERS:
        (tmp_path / "sys/fs/cgroup" / c / "job").mkdir(parents=True)
    found = machine(v1, "".join(f"{i}:{c}:/job\n" for i, c in enumerate(cgroups.V1_CONTROLLERS, 2)), {})
    assert found.version == 1 and found.parents["memory"] == tmp_path / "sys/fs/cgroup/memory/job"

    v2 = "40 1 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
    own = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/run-1.scope\n"
    app = "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice"
    found = machine(v2, own, {f"{app}/cgroup.subtree_control": "cpu memory pids\n"})
    assert found.version == 2 and found.parents["unified"] == tmp_path / app.lstrip("/")

    found = machine(v2, own, {f"{app}/cgroup.subtree_control": "cpu\n"})
    assert not found.available and "does not delegate memory and pids" in found.reason
    assert "Delegate=yes" in found.reason



def test_a_tree_at_its_memory_limit_when_the_clock_runs_out_is_over_its_memory(tmp_path):
    """At its memory limit, the kernel may reclaim the tree's file pages again and again instead of killing
    it; on a busy machine such a tree crawls until the time limit. The counters are read from v1 and v2 groups
    (fake folders here), and the diagnosis names the memory limit whichever came first, the kill or the clock;
    a tree that met the limit and went on within its time (the kernel reclaimed its page cache) is not
    over budget."""
    v1 = tmp_path / "v1"
    v1.mkdir()
    (v1 / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")
    (v1 / "memory.memsw.failcnt").write_text("1843\n")
    (v1 / "memory.max_usage_in_bytes").write_text(str(1024 * 2**20) + "\n")
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "memory.events").write_text("low 0\nhigh 0\nmax 77\noom 0\noom_kill 0\n")
    limits = Limits(memory_mb=1024)
    (v1 / "cgroup.procs").write_text("101\n102\n103\n104\n105\n")
    budgets = [cgroups.TreeBudget(1, {"memory": v1, "pids": v1, "cpuacct": v1}, limits),
               cgroups.TreeBudget(2, {"unified": v2}, limits)]
    assert [b.usage().memory_full for b in budgets] == [0, 0]  # read only when asked: the clock ran out
    read = [b.usage(memory_full=True) for b in budgets]
    assert [(u.memory_full, u.oom_kills, u.processes) for u in read] == [(1843, 0, 5), (77, 0, 0)]

    for use in read:
        reason, message = over_budget(use, limits, 5, "running a check", timed_out=True)
        assert reason == "memory"
        assert message.startswith("your code used more than 1024 MB (the task's limit, for all its processes")
        assert "5 processes at the time" in message
        assert over_budget(use, limits, 5, "running a check") is None
    assert over_budget(cgroups.Usage(peak_mb=10), limits, 1, "running a check", timed_out=True) is None
    killed = over_budget(cgroups.Usage(oom_kills=1), limits, 1, "running a check")
    assert killed[0] == "memory" and "1 process at the time" in killed[1]

SLEEPER = '''

import time as _time

_first = []


def make_windows(ids, window, _make_windows=make_windows):
    if not _first:  # the first call takes a while: the run is killed meanwhile
        _first.append(1)
        _time.sleep(20)
    return _make_windows(ids, window)
'''


def judge_of(group: str) -> int:
    return int(group[len(cgroups.PREFIX):].split("-")[0])


def parent_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
    except (OSError, ValueError):
        return None


@needs_cgroups
def test_harness_grade_killed_and_resumed_leaves_no_group(tmp_path):
    """`harness grade` stopped with SIGKILL while its pool grades: its pool processes stop their jobs (their
    workers' groups go with them) instead of grading on as orphans; the resumed run grades everyone, and no
    group of either run is left in the kernel's hierarchy."""
    klass = tmp_path / "class"
    for name in ("slow", "quick"):
        (klass / name).mkdir(parents=True)
        text = (ROOT / "submissions" / "reference" / "sequences.py").read_text()
        (klass / name / "sequences.py").write_text(text + (SLEEPER if name == "slow" else ""))
    command = [str(Path(sys.executable).with_name("harness")), "grade", str(klass), "--out", str(tmp_path / "out"),
               "--task", "sequences", "--workers", "2"]
    before = {g.name for parent in WHERE.parents.values() for g in parent.glob(f"{cgroups.PREFIX}*")}
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # a group of one of the run's pool processes (other judges may be at work)
        groups = {g.name for parent in WHERE.parents.values() for g in parent.glob(f"{cgroups.PREFIX}*")
                  if parent_of(judge_of(g.name)) == first.pid}
        if groups:
            break
        time.sleep(0.1)
    assert groups, "the run never started a worker"
    pool = {judge_of(name) for name in groups}
    first.kill()
    first.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in pool):
        time.sleep(0.1)
    assert not [pid for pid in pool if Path(f"/proc/{pid}").exists()], "a pool process outlived the killed run"
    (klass / "slow" / "sequences.py").write_text(text)  # the resumed run need not wait: graded afresh either way
    resumed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    grades = (tmp_path / "out" / "gradebook.csv").read_text()
    assert "slow,8" in grades and "quick,8" in grades, grades
    # what is left of the two runs: a group of a judge no longer running (other judges may be at work meanwhile,
    # such as the student-side pass of tests/test_verdicts.py, with groups of their own)
    left = {name for name in {g.name for parent in WHERE.parents.values() for g in parent.glob(f"{cgroups.PREFIX}*")}
            - before if cgroups.is_stale(name) or judge_of(name) in pool}
    assert not left, left
