"""One budget for a worker's whole process tree: the kernel's control groups, from the judge's side.

The spec's ``[limits]`` are rlimits in the worker (``runtime/confine.py``), and an rlimit binds each process
on its own: four forked children may each use the memory limit. Where the judge can create a control group,
each worker gets one, holding every process it starts, with the task's budget for all of them together:

- memory (resident and swap) = ``memory_mb``: over it, the kernel's OOM killer acts inside the group only,
  and the judge kills the rest of the tree and says so;
- processes = ``max_processes``: a fork past it fails in the student's code (EAGAIN);
- CPU time = ``cpu_s``, summed over the tree: the judge reads the group's counter while it waits for a
  reply and stops the tree when it is spent.

Where: cgroup v1 (the ``memory``, ``pids`` and ``cpuacct`` hierarchies, under the judge's own group in
each, as root), or cgroup v2 (a delegated subtree: the parent of the judge's own group, when it grants
``memory`` and ``pids`` to its children and the judge may write there, as systemd gives a user). Elsewhere
(macOS, Windows, Linux without either) the per-process rlimits stay the only limits, and ``mechanism``
says so. Groups are named ``harness-<judge pid>-<judge start time>-<n>``; a judge removes its groups when
their worker ends, and the first group a judge creates sweeps away those of judges that are no longer
running (a run killed with SIGKILL), killing whatever was left in them.

The worker joins its group itself, first thing, before any submission code runs (``cgroup_procs`` of the
Confinement); a child it forks later is born inside. Its mount namespace covers ``/sys/fs/cgroup``.
"""
from __future__ import annotations

import itertools
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..runtime.config import Limits

PREFIX = "harness-"
V1_CONTROLLERS = ("memory", "pids", "cpuacct")
V2_CONTROLLERS = ("memory", "pids")
_counter = itertools.count(1)


@dataclass
class Usage:
    """What the tree used, read from its group: peak memory, processes now, CPU seconds, and whether the
    kernel refused memory (an OOM kill in the group; ``memory_full``: times a charge met the limit, which the
    kernel may answer by reclaiming file pages over and over instead of killing) or a process (a fork past
    the budget)."""

    peak_mb: float = 0.0
    processes: int = 0
    cpu_s: float = 0.0
    oom_kills: int = 0
    forks_refused: int = 0
    memory_full: int = 0


@dataclass
class TreeBudget:
    """The control group(s) of one worker. ``dirs``: one per hierarchy (v1) or one (v2)."""

    version: int
    dirs: dict[str, Path]             # controller ("memory", "pids", "cpuacct", or "unified") -> its group
    limits: Limits

    @property
    def mechanism(self) -> str:
        kinds = ", ".join(sorted(self.dirs)) if self.version == 1 else "memory, pids, cpu"
        return f"cgroup v{self.version} ({kinds}): one budget for the worker's whole process tree"

    @property
    def procs_files(self) -> list[str]:
        """Where the worker writes its pid to join (every hierarchy of v1; the one group of v2)."""
        return [str(d / "cgroup.procs") for d in dict.fromkeys(self.dirs.values())]

    def _read(self, controller: str, name: str) -> str:
        try:
            return (self.dirs[controller] / name).read_text()
        except (OSError, KeyError):
            return ""

    def _field(self, controller: str, name: str, key: str) -> int:
        for line in self._read(controller, name).splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == key and parts[1].isdigit():
                return int(parts[1])
        return 0

    def pids(self) -> list[int]:
        """Every process of the tree now."""
        found = set()
        for group in dict.fromkeys(self.dirs.values()):
            try:
                found |= {int(p) for p in (group / "cgroup.procs").read_text().split()}
            except OSError:
                pass
        return sorted(found)

    def usage(self, memory_full: bool = False) -> Usage:
        """The tree's usage now (read every 50 ms while the judge waits: a few small files). ``memory_full``: also
        read how often the group met its memory limit (otherwise 0)."""
        if self.version == 1:
            peak = _number(self._read("memory", "memory.memsw.max_usage_in_bytes")) or \
                _number(self._read("memory", "memory.max_usage_in_bytes"))
            cpu = _number(self._read("cpuacct", "cpuacct.usage")) / 1e9
            oom = self._field("memory", "memory.oom_control", "oom_kill")
            refused = self._field("pids", "pids.events", "max")
            processes = self._read("pids", "cgroup.procs")
            full = memory_full and (_number(self._read("memory", "memory.memsw.failcnt")) or
                                    _number(self._read("memory", "memory.failcnt")))
        else:
            peak = _number(self._read("unified", "memory.peak"))
            cpu = self._field("unified", "cpu.stat", "usage_usec") / 1e6
            oom = self._field("unified", "memory.events", "oom_kill")
            refused = self._field("unified", "pids.events", "max")
            processes = self._read("unified", "cgroup.procs")
            full = memory_full and self._field("unified", "memory.events", "max")
        return Usage(peak / 2**20, len(processes.split()), cpu, oom, refused, int(full))

    def kill(self, timeout: float = 5.0) -> bool:
        """SIGKILL every process of the tree until none is left (v2: cgroup.kill where the kernel has it).
        True when the group is empty."""
        deadline = time.monotonic() + timeout
        while True:
            pids = self.pids()
            if not pids:
                return True
            if self.version == 2 and (self.dirs["unified"] / "cgroup.kill").exists():
                _write(self.dirs["unified"] / "cgroup.kill", "1")
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)

    def remove(self) -> bool:
        """Kill what is left and remove the group(s); True when nothing of them remains."""
        self.kill()
        gone = True
        for group in dict.fromkeys(self.dirs.values()):
            for _ in range(100):  # a killed process leaves the group once reaped, a moment later
                try:
                    group.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)
            gone &= not group.exists()
        return gone


def _number(text: str) -> int:
    text = text.strip()
    return int(text) if text.isdigit() else 0


def _write(path: Path, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


# --------------------------------------------------------------------------- where groups can be made


def _mounts(mountinfo: str) -> dict[str, Path]:
    """cgroup mount points by controller ("unified" for v2), from /proc/self/mountinfo."""
    found: dict[str, Path] = {}
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fields, rest = left.split(), right.split()
        if len(fields) < 5 or len(rest) < 3:
            continue
        point, fstype, options = fields[4], rest[0], rest[2].split(",")
        if fstype == "cgroup2":
            found.setdefault("unified", Path(point))
        elif fstype == "cgroup":
            for option in options:
                if option in V1_CONTROLLERS:
                    found.setdefault(option, Path(point))
    return found


def _own_groups(proc_cgroup: str) -> dict[str, str]:
    """The judge's own group in each hierarchy, from /proc/self/cgroup ("unified" for v2)."""
    own: dict[str, str] = {}
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            own["unified"] = path
        for controller in controllers.split(","):
            if controller in V1_CONTROLLERS:
                own[controller] = path
    return own


def _start_time(pid: int) -> str | None:
    """A process's start time (clock ticks since boot): with its pid, a name no other process will have."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]


def judge_tag(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{PREFIX}{pid}-{_start_time(pid) or 0}-"


def is_stale(name: str) -> bool:
    """A group of a judge that is no longer running."""
    try:
        pid, start = name[len(PREFIX):].split("-")[:2]
        return _start_time(int(pid)) != start
    except ValueError:
        return False


class Placement:
    """Where this judge makes its workers' groups, or why it cannot (``reason``). Found once per judge."""

    def __init__(self, root: Path = Path("/"), proc_self: Path = Path("/proc/self")):
        self.version = 0
        self.parents: dict[str, Path] = {}
        self.reason = ""
        self._swept = False
        if not sys.platform.startswith("linux"):
            self.reason = f"no control groups on {sys.platform}"
            return
        try:
            mounts = _mounts((proc_self / "mountinfo").read_text())
            own = _own_groups((proc_self / "cgroup").read_text())
        except OSError as exc:
            self.reason = f"cannot read the judge's control groups ({exc})"
            return
        mounts = {k: root / str(v).lstrip("/") for k, v in mounts.items()}
        v1 = {c: mounts[c] / own[c].lstrip("/") for c in V1_CONTROLLERS if c in mounts and c in own}
        if all(c in v1 for c in V1_CONTROLLERS) and all(os.access(p, os.W_OK) for p in v1.values()):
            self.version, self.parents = 1, v1
            return
        if "unified" in mounts and "unified" in own:
            group = mounts["unified"] / own["unified"].lstrip("/")
            parent = group.parent if group != mounts["unified"] else group
            granted = _read(parent / "cgroup.subtree_control").split()
            if all(c in granted for c in V2_CONTROLLERS) and os.access(parent, os.W_OK):
                self.version, self.parents = 2, {"unified": parent}
                return
            self.reason = (f"cgroup v2 here, but {parent} does not delegate memory and pids to this user "
                           f"(subtree_control: {' '.join(granted) or 'empty'}); run under a delegated unit, e.g. "
                           "systemd-run --user --scope -p Delegate=yes harness grade …")
            return
        missing = [c for c in V1_CONTROLLERS if c not in v1]
        self.reason = (f"cgroup v1 without {', '.join(missing)}" if missing else
                       "the judge may not create control groups here (not root)")

    @property
    def available(self) -> bool:
        return self.version > 0

    def sweep(self) -> list[str]:
        """Remove the groups of judges that are no longer running, killing what was left in them."""
        removed = []
        for parent in dict.fromkeys(self.parents.values()):
            for group in sorted(parent.glob(f"{PREFIX}*")):
                if group.is_dir() and is_stale(group.name):
                    controller = next(k for k, v in self.parents.items() if v == parent)
                    TreeBudget(self.version, {controller: group}, Limits()).remove()
                    removed.append(str(group))
        return removed

    def create(self, limits: Limits) -> TreeBudget:
        """A new group for one worker, with the budget of ``limits`` (OSError when the kernel refuses)."""
        if not self._swept:
            self._swept = True
            self.sweep()
        name = f"{judge_tag()}{next(_counter)}"
        dirs = {c: parent / name for c, parent in self.parents.items()}
        budget = TreeBudget(self.version, dirs, limits)
        try:
            for group in dict.fromkeys(dirs.values()):
                group.mkdir()
            memory = limits.memory_mb << 20
            if self.version == 1:
                _write(dirs["memory"] / "memory.limit_in_bytes", str(memory))
                if (dirs["memory"] / "memory.memsw.limit_in_bytes").exists():  # resident and swap together
                    _write(dirs["memory"] / "memory.memsw.limit_in_bytes", str(memory))
                _write(dirs["pids"] / "pids.max", str(limits.max_processes))
            else:
                group = dirs["unified"]
                _write(group / "memory.max", str(memory))
                if (group / "memory.swap.max").exists():
                    _write(group / "memory.swap.max", "0")  # no swap: memory.max is the whole budget
                _write(group / "pids.max", str(limits.max_processes))
        except OSError:
            budget.remove()
            raise
        return budget


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


_PLACEMENT: Placement | None = None


def placement() -> Placement:
    """This judge's Placement, found on first use."""
    global _PLACEMENT
    if _PLACEMENT is None:
        _PLACEMENT = Placement()
    return _PLACEMENT
