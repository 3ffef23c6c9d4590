"""OS-level confinement of the worker process, applied between fork and exec.

What holds where (see docs/THREAT_MODEL.md):
- everywhere (Linux, macOS): own session and process group (killed as a group), CPU-time,
  address-space, file-size and core-dump limits, scrubbed environment, scratch working directory;
- Linux: a new network namespace (no network) and a mount namespace in which the judge's code,
  the answer key and the task data are hidden under empty tmpfs mounts, when the kernel lets this
  process create them (as root, or as a user where unprivileged user namespaces are enabled);
- Linux as root: the worker drops to an unprivileged uid, so the process-count limit applies.

Each protection is attempted independently; which ones held is reported back to the judge through
a small status file and recorded in the results.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import resource
import sys
from dataclasses import asdict, dataclass, field

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
NOBODY = 65534


@dataclass
class Limits:
    """Resource limits of one worker. Times in seconds, sizes in MiB."""

    timeout_s: float = 60.0         # wall clock for one request (a check's program)
    load_timeout_s: float = 60.0    # wall clock for importing a module
    cpu_s: int = 600                # CPU time of the whole worker
    memory_mb: int = 4096           # address space
    file_mb: int = 64               # largest file the worker may write
    max_processes: int = 64         # processes and threads of the worker's uid (when it has its own)
    output_bytes: int = 64 * 1024   # stdout/stderr kept for the report; the rest is counted, not kept


@dataclass
class Confinement:
    """What to do in the child, and (filled in there) what held."""

    limits: Limits
    hide_paths: list[str] = field(default_factory=list)
    writable_paths: list[str] = field(default_factory=list)
    status_path: str | None = None


def _libc():
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _set_limit(kind: int, value: int) -> bool:
    try:
        resource.setrlimit(kind, (value, value))
        return True
    except (ValueError, OSError):
        return False


def _unshare(libc, flags: int) -> bool:
    return libc.unshare(flags) == 0


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _enter_namespaces(libc, conf: Confinement, held: dict) -> None:
    is_root = os.geteuid() == 0
    uid, gid = os.geteuid(), os.getegid()
    flags = CLONE_NEWNET | CLONE_NEWNS
    if not is_root:
        flags |= CLONE_NEWUSER
    if not _unshare(libc, flags):
        # Try network alone (some kernels refuse mount namespaces to unprivileged users).
        held["network_namespace"] = _unshare(libc, CLONE_NEWNET | (0 if is_root else CLONE_NEWUSER))
        return
    held["network_namespace"] = True
    if not is_root:
        try:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1")
            _write("/proc/self/gid_map", f"{gid} {gid} 1")
        except OSError:
            pass
    if libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return
    hidden = 0
    for path in conf.hide_paths:
        if os.path.isdir(path) and libc.mount(b"tmpfs", path.encode(), b"tmpfs", 0, b"size=16k,mode=555") == 0:
            hidden += 1
    held["answer_key_hidden"] = hidden == len(conf.hide_paths)


def _world_reachable(path: str) -> bool:
    """Whether every directory above ``path`` can be traversed by any user."""
    path = os.path.realpath(path)
    while True:
        parent = os.path.dirname(path)
        if parent == path:
            return True
        try:
            if not os.stat(parent).st_mode & 0o001:
                return False
        except OSError:
            return False
        path = parent


def _drop_privileges(conf: Confinement, held: dict) -> None:
    """As root, become ``nobody`` — if the interpreter and its packages are reachable for it."""
    if os.geteuid() != 0:
        return
    import torch  # noqa: F401 - only its location matters; already imported by the judge

    needed = [sys.executable, os.path.dirname(sys.modules["torch"].__file__)]
    if not all(_world_reachable(p) for p in needed):
        held["unprivileged_uid"] = "skipped: the Python installation is not readable by other users"
        return
    try:
        for path in conf.writable_paths:
            for root, dirs, files in os.walk(path):
                os.chown(root, NOBODY, NOBODY)
                for name in files:
                    os.chown(os.path.join(root, name), NOBODY, NOBODY)
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        held["unprivileged_uid"] = True
    except OSError:
        held["unprivileged_uid"] = False


def confine(conf: Confinement) -> None:
    """Run in the child between fork and exec. Must not raise: a failure is recorded instead."""
    held = {"process_group": True, "network_namespace": False, "answer_key_hidden": False,
            "unprivileged_uid": False, "rlimits": False, "process_limit": False}
    lim = conf.limits
    try:
        if sys.platform.startswith("linux"):
            _enter_namespaces(_libc(), conf, held)
            _drop_privileges(conf, held)
        mb = 1 << 20
        held["rlimits"] = all([
            _set_limit(resource.RLIMIT_CPU, lim.cpu_s),
            _set_limit(resource.RLIMIT_AS, lim.memory_mb * mb) or sys.platform == "darwin",
            _set_limit(resource.RLIMIT_FSIZE, lim.file_mb * mb),
            _set_limit(resource.RLIMIT_CORE, 0),
        ])
        held["process_limit"] = _set_limit(resource.RLIMIT_NPROC, lim.max_processes) and os.geteuid() != 0
    except Exception as exc:  # noqa: BLE001 - never let confinement kill the child silently
        held["error"] = repr(exc)
    if conf.status_path:
        try:
            _write(conf.status_path, json.dumps(held))
        except OSError:
            pass


def describe(conf: Confinement) -> dict:
    return asdict(conf)
