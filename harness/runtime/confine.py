"""OS-level confinement of the worker, applied by the worker itself before it imports anything heavy.

The launcher starts ``python -I`` in a new session with a scrubbed environment; the first thing the
worker does (``worker.main``), long before it touches the submission, is :func:`confine`. Doing it
after ``exec`` rather than in a ``preexec_fn`` keeps the judge's ``fork`` free of Python code (which is
unsafe in a judge that runs threads) and lets the worker fork into a new PID namespace.

Process layout on Linux when the kernel lets us create a PID namespace::

    judge ── B "nanny"  (outside the namespace; what Popen sees; mirrors W's exit status)
              └─ C "init"  (PID 1 of the new namespace; reaps orphans; exits when W does)
                   └─ W "worker"  (PID 2; imports torch and the submission, serves requests)

When C dies, the kernel kills every process of the namespace, including children that left the
process group with ``setsid()``. The launcher kills C through a pidfd and waits for the namespace
to empty; B reaps C and exits, then the launcher kills what may be left of the process group. W is
deliberately *not* PID 1: the kernel ignores signals such as SIGXCPU (the CPU-time limit) for a
namespace's init, and W must die of them normally. Without a PID namespace (macOS, or a kernel
that refuses one) B is the worker itself and the process group is what gets killed.

Filesystem (Linux, in a private mount namespace): "cover" directories (the judge's home, /tmp,
/var/tmp, /dev/shm, the package checkout, and — when dropping to an unprivileged uid — any
directory that uid could not traverse) get an empty tmpfs on top; the few paths the worker needs
(the Python installation, the runtime, the submission copy, its home) are bind-mounted back; the
answer key's directories get an empty tmpfs last, whatever was re-exposed; then the whole tree is
made read-only except the submission copy, the worker's home and the private temporary dirs.

Privileges: as root, the worker becomes a uid of its own (``UID_BASE + pid of B``), so the
process-count limit counts only its processes and it can touch nothing of anyone else; as an
ordinary user, inside a user namespace, it keeps its uid. Either way it ends with no capabilities
and ``no_new_privs`` (a setuid binary cannot give them back). Its ``oom_score_adj`` is raised
to 1000 so that, should memory run out, the kernel kills the worker's processes first.

Each protection is attempted independently and verified where it can be; what held is reported to
the judge in the worker's hello message (``Sandbox.protections``), with the reason for what did not
in ``Sandbox.protection_notes``. The hello comes before any submission code is loaded, and the judge
kills a worker that lacks a protection its isolation mode promises (fail closed: the submission is
not graded, and the reason says which protection failed). See docs/THREAT_MODEL.md.

Basic isolation (``Confinement.mode == "basic"``: any OS but Linux, or ``HARNESS_ISOLATION=basic``)
attempts none of this: :func:`basic` reports every protection off, with why. What still holds then
is the launcher's part: a separate process, a wall-clock timeout, a scrubbed environment, a scratch
working directory and pickle-free pipes.

Runs in the worker only (the data it reads, :class:`Confinement`, is in ``config.py``); standard library only.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import select
import signal
import struct
import sys
from dataclasses import dataclass

from .config import TMP_DIRS, Confinement

try:
    import resource
except ImportError:  # Windows: no rlimits (only the basic path runs there)
    resource = None

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
O_PATH = getattr(os, "O_PATH", 0o10000000)
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
SYS_MOUNT_SETATTR = {"x86_64": 442, "aarch64": 442}.get(platform.machine())
UID_BASE = 1_900_000_000   # far above any real account; unique per live worker (plus a pid)


PROTECTIONS = ("process_group", "pid_namespace", "network_namespace", "mount_namespace",
               "answer_key_hidden", "judge_files_hidden", "private_tmp", "private_proc", "readonly_filesystem",
               "unprivileged_uid", "capabilities_dropped", "no_new_privs", "rlimits", "memory_limit",
               "process_limit", "tree_budget", "dies_with_judge", "oom_victim_first")


@dataclass
class Boot:
    """What :func:`confine` returns in the process that goes on to be the worker."""

    held: dict
    notes: dict
    init_pid: int | None = None     # pid of the namespace's init (C), as the judge sees it
    uid: int | None = None


# --------------------------------------------------------------------------- small helpers


def _libc():
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _err(what: str) -> str:
    e = ctypes.get_errno()
    return f"{what}: {os.strerror(e)}" if e else what


def _set_limit(kind: int, soft: int, hard: int | None = None) -> bool:
    if resource is None:
        return False
    try:
        resource.setrlimit(kind, (soft, soft if hard is None else hard))
        return True
    except (ValueError, OSError):
        return False


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _mount(libc, source, target: str, fstype, flags: int, data) -> bool:
    enc = lambda s: s.encode() if isinstance(s, str) else s
    return libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)) == 0


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def _mount_setattr(libc, path: str, flags: int, attr_set: int = 0, attr_clr: int = 0) -> bool:
    if SYS_MOUNT_SETATTR is None:
        return False
    attr = _MountAttr(attr_set, attr_clr, 0, 0)
    return libc.syscall(ctypes.c_long(SYS_MOUNT_SETATTR), ctypes.c_int(AT_FDCWD), path.encode(),
                        ctypes.c_uint(flags), ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr))) == 0


def _prctl(libc, option: int, arg: int = 0) -> bool:
    return libc.prctl(option, ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0),
                      ctypes.c_ulong(0)) == 0


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _drop_bounding_set(libc) -> None:
    """Empty the bounding and ambient sets: nothing executed later can gain a capability."""
    for cap in range(64):
        if not _prctl(libc, PR_CAPBSET_DROP, cap) and ctypes.get_errno() == 22:  # EINVAL: past the last
            break
    _prctl(libc, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)


def _drop_capabilities(libc) -> bool:
    """Empty every capability set of this process; True if /proc confirms it."""
    _drop_bounding_set(libc)
    header, data = _CapHeader(0x20080522, 0), (_CapData * 2)()
    if libc.capset(ctypes.byref(header), data) != 0:
        return False
    try:
        with open("/proc/self/status") as f:
            caps = {k: v.strip() for k, v in (line.split(":", 1) for line in f if line.startswith("Cap"))}
        return all(int(caps.get(k, "1"), 16) == 0 for k in ("CapEff", "CapPrm", "CapBnd"))
    except (OSError, ValueError):
        return True


def _real(path: str) -> str:
    return os.path.realpath(path)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _traversable_by_others(path: str) -> bool:
    try:
        return bool(os.stat(path).st_mode & 0o001)
    except OSError:
        return False


def _blocking_ancestor(path: str) -> str | None:
    """The topmost directory above ``path`` that other users cannot traverse, if any."""
    parts = path.strip("/").split("/")[:-1]
    current = ""
    for part in parts:
        current += "/" + part
        if not _traversable_by_others(current):
            return current
    return None


def _visible(path: str) -> bool:
    """Whether anything of ``path`` can still be listed (a folder with entries)."""
    try:
        return bool(os.path.isdir(path) and os.listdir(path))
    except OSError:
        return False


def _only(paths, keep):
    return sorted({_real(p) for p in paths if p and keep(_real(p))})


# --------------------------------------------------------------------------- the filesystem


def _prepare_filesystem(libc, conf: Confinement, held: dict, notes: dict, drop_to: int | None) -> None:
    """In a fresh mount namespace: cover, re-expose, hide the answer key, make it read-only."""
    if not _mount(libc, None, "/", None, MS_REC | MS_PRIVATE, None):
        notes["mount_namespace"] = _err("could not make the mounts private")
        return
    held["mount_namespace"] = True
    writable = _only(conf.writable_paths, os.path.isdir)
    readable = _only(conf.readable_paths, os.path.isdir)
    readable = [r for r in readable if not any(_inside(r, o) and r != o for o in readable)]
    needed = sorted(set(writable) | set(readable), key=len)
    covers = set(_only(conf.cover_paths, lambda p: os.path.isdir(p) and p != "/"))
    if drop_to is not None:  # a directory the new uid cannot traverse hides what it needs: cover it
        covers |= {a for a in map(_blocking_ancestor, needed) if a}
    covers = sorted(c for c in covers if not any(_inside(c, o) and c != o for o in covers))
    fds = {p: os.open(p, O_PATH | os.O_DIRECTORY | os.O_CLOEXEC) for p in needed}
    try:
        mounted_covers = []
        for cover in covers:
            if any(_inside(cover, n) for n in needed):
                continue  # never cover what the worker needs (it would be re-exposed anyway)
            tmp = cover in TMP_DIRS
            opts = f"mode={'1777' if tmp else '755'},size={conf.limits.tmp_mb if tmp else 1}m"
            if _mount(libc, "tmpfs", cover, "tmpfs", MS_NOSUID | MS_NODEV, opts):
                mounted_covers.append(cover)
            else:
                notes.setdefault("covers", []).append(_err(f"could not cover {cover}"))
        for path in needed:
            under_cover = any(_inside(path, c) for c in mounted_covers)
            if not under_cover and path not in writable:
                continue
            if under_cover:
                os.makedirs(path, mode=0o755, exist_ok=True)
            if not _mount(libc, f"/proc/self/fd/{fds[path]}", path, None, MS_BIND | MS_REC, None):
                notes.setdefault("covers", []).append(_err(f"could not re-expose {path}"))
    finally:
        for fd in fds.values():
            os.close(fd)
    # The answer key last: whatever was re-exposed above, these end up empty. Outermost first; a folder inside
    # one already hidden is gone with it (a task folder inside an installed harness_tasks, say).
    hidden: list[str] = []
    for path in sorted(_only(conf.hide_paths, os.path.isdir), key=len):
        if any(_inside(path, h) for h in hidden) or not os.path.isdir(path):
            continue
        if os.listdir(path):
            if _mount(libc, "tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "mode=555,size=4k"):
                hidden.append(path)
            else:
                notes.setdefault("answer_key_hidden", _err(f"could not hide {path}"))
    leaked = [p for p in conf.hide_paths if _visible(p)]
    held["answer_key_hidden"] = not leaked
    if leaked:
        notes["answer_key_hidden"] = f"still visible: {', '.join(leaked)}"
    judge = [c for c in _only(conf.cover_paths, os.path.isdir) if c not in TMP_DIRS]
    held["judge_files_hidden"] = all(any(_inside(c, m) for m in mounted_covers) for c in judge)
    tmps = [t for t in TMP_DIRS if os.path.isdir(t)]
    held["private_tmp"] = all(t in mounted_covers for t in tmps)
    # Everything read-only and setuid-free, except where the worker may write.
    if _mount_setattr(libc, "/", AT_RECURSIVE, attr_set=MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID):
        ok = all(_mount_setattr(libc, p, 0, attr_clr=MOUNT_ATTR_RDONLY) for p in writable)
        ok &= all(_mount_setattr(libc, t, 0, attr_clr=MOUNT_ATTR_RDONLY) for t in tmps if t in mounted_covers)
        held["readonly_filesystem"] = True
        if not ok:
            notes["readonly_filesystem"] = _err("a writable path stayed read-only")
    else:
        notes["readonly_filesystem"] = _err("mount_setattr is not available")


# --------------------------------------------------------------------------- privileges


def _probe_uid(uid: int, conf: Confinement) -> str | None:
    """Fork a throwaway child that becomes ``uid`` and reads what the worker will need; why it cannot, or None."""
    needs = [(path, "read") for path in conf.probe_files] + [(path, "write in") for path in conf.writable_paths]
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            for i, (path, how) in enumerate(needs):
                code = 2 + min(i, 250)
                if how == "read":
                    os.close(os.open(path, os.O_RDONLY))
                elif not os.access(path, os.W_OK | os.X_OK):
                    raise PermissionError(path)
            code = 0
        except BaseException:  # noqa: BLE001
            pass
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code == 0:
        return None
    if 2 <= code < 2 + len(needs):
        path, how = needs[code - 2]
        return (f"an unprivileged uid cannot {how} {path} (a folder on the way, or the file itself, is not open to "
                "other users: make the Python installation readable by all, e.g. chmod 755 on its folder)")
    return "the Python installation or the submission is not readable by an unprivileged uid"


def _chown_tree(path: str, uid: int) -> None:
    for root, dirs, files in os.walk(path):
        os.lchown(root, uid, uid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, uid)


def _apply_rlimits(conf: Confinement, held: dict, notes: dict, private_nproc: bool) -> None:
    lim, mb = conf.limits, 1 << 20
    memory = _set_limit(resource.RLIMIT_AS, lim.memory_mb * mb) and sys.platform != "darwin"
    held["memory_limit"] = memory
    if not memory:
        notes["memory_limit"] = "RLIMIT_AS is not enforced here (macOS): memory is not limited"
    held["rlimits"] = all([
        _set_limit(resource.RLIMIT_CPU, lim.cpu_s, lim.cpu_s + 2),  # SIGXCPU, then SIGKILL
        _set_limit(resource.RLIMIT_FSIZE, lim.file_mb * mb),
        _set_limit(resource.RLIMIT_CORE, 0),
    ])
    if private_nproc:
        held["process_limit"] = _set_limit(resource.RLIMIT_NPROC, lim.max_processes)
    else:
        notes["process_limit"] = ("not set: the limit would count every process of the uid, not only the "
                                  "worker's (the PID namespace and group kill still clean up)")


def _kernel_at_least(major: int, minor: int) -> bool:
    try:
        parts = platform.release().split(".")
        return (int(parts[0]), int(parts[1])) >= (major, minor)
    except (ValueError, IndexError):
        return False


# --------------------------------------------------------------------------- processes


def _nanny(init_pid: int, status_r: int, lifeline: int) -> None:
    """B: wait for C, and end the way W ended (exit status or signal), so the judge can tell."""
    watch = [status_r] + ([lifeline] if lifeline >= 0 else [])
    status = None
    while status is None:
        try:
            ready, _, _ = select.select(watch, [], [])
        except InterruptedError:
            continue
        if status_r in ready:
            data = b""
            try:
                while len(data) < 4:
                    chunk = os.read(status_r, 4 - len(data))
                    if not chunk:
                        break
                    data += chunk
            except OSError:
                pass
            _, init_status = os.waitpid(init_pid, 0)
            status = struct.unpack("<i", data)[0] if len(data) == 4 else init_status
        elif lifeline in ready:  # the judge is gone: take everything down
            os.kill(init_pid, signal.SIGKILL)
            os.waitpid(init_pid, 0)
            status = signal.SIGKILL
    _exit_like(status)


def _exit_like(status: int) -> None:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            if sig != signal.SIGKILL:  # which has no handler to reset (trying raises)
                signal.signal(sig, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
            os.kill(os.getpid(), sig)
        except (OSError, ValueError):
            pass
        os._exit(128 + sig)
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def _init(worker_pid: int, status_w: int) -> None:
    """C, PID 1 of the namespace: reap orphans; when W ends, report how and take the rest down."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except InterruptedError:
            continue
        except ChildProcessError:
            os._exit(0)
        if pid == worker_pid:
            try:
                os.write(status_w, struct.pack("<i", status))
            except OSError:
                pass
            os._exit(0)  # the kernel now kills every other process of the namespace


# --------------------------------------------------------------------------- the entry point


BASIC_NOTE = ("basic isolation: a separate process in a session (or process group) of its own, with a "
              "wall-clock timeout, a scrubbed environment, a scratch working directory and pickle-free "
              "pipes; no operating-system protection was attempted")


def basic(reason: str) -> Boot:
    """The basic path: attempt nothing (no namespaces, mounts, rlimits, uid change or prctl) and report
    every protection off, each with ``reason`` ("not available on this OS (…)" or "HARNESS_ISOLATION=basic"), but
    the process group the launcher gave it (read here, not made). No other system call, so it runs on any OS."""
    held = {name: False for name in PROTECTIONS}
    notes = {name: reason for name in PROTECTIONS}
    notes["isolation"] = BASIC_NOTE
    if hasattr(os, "getpgid") and os.getpgid(0) == os.getpid():  # the launcher's session of its own (POSIX)
        held["process_group"] = True
        del notes["process_group"]
    return Boot(held, notes)


def confine(conf: Confinement, keep_fds=(), lifeline: int = -1) -> Boot:
    """Confine this process; on Linux it may fork (see the module docstring). Only the worker
    process returns. Never raises: what fails is recorded in ``notes`` (an unexpected error as
    ``notes["error"]``, with everything after it left not held), and the judge, reading ``held`` in the
    hello, refuses a worker that lacks a protection its mode promises (harness/sandbox/isolation.py)."""
    if resource is None or not hasattr(os, "getpgid"):  # not POSIX: nothing below exists here
        return basic(f"not available on this OS ({sys.platform})")
    held = {name: False for name in PROTECTIONS}
    held["process_group"] = os.getpgid(0) == os.getpid()
    notes: dict = {}
    boot = Boot(held, notes)
    _set_limit(resource.RLIMIT_CORE, 0)
    _join_tree_budget(conf, held, notes)  # before anything forks: every process after this is inside
    try:
        if sys.platform.startswith("linux"):
            _confine_linux(conf, boot, list(keep_fds), lifeline)
        else:
            notes["namespaces"] = f"{sys.platform} has no namespaces: no network, mount or PID isolation"
            held["no_new_privs"] = False
    except Exception as exc:  # noqa: BLE001 - reported; the judge refuses what its mode lacks
        notes["error"] = repr(exc)
    try:
        _apply_rlimits(conf, held, notes, private_nproc=boot.uid is not None or
                       (held.get("_userns", False) and _kernel_at_least(5, 14)))
    except Exception as exc:  # noqa: BLE001
        notes["rlimits"] = repr(exc)
    held.pop("_userns", None)
    return boot


def _join_tree_budget(conf: Confinement, held: dict, notes: dict) -> None:
    """Enter the control group(s) the judge made for this worker: one memory, process and CPU budget for the
    whole tree (harness/sandbox/cgroups.py). Without them, the rlimits bind each process on its own."""
    if not conf.cgroup_procs:
        notes["tree_budget"] = conf.tree_budget or "no control group: the limits bind each process on its own"
        return
    try:
        for path in conf.cgroup_procs:
            _write(path, str(os.getpid()))
        held["tree_budget"] = True
        notes["tree_budget"] = conf.tree_budget
    except OSError as exc:
        notes["tree_budget"] = f"could not join the control group ({exc}): the limits bind each process on its own"


def _confine_linux(conf: Confinement, boot: Boot, keep_fds: list, lifeline: int) -> None:
    held, notes = boot.held, boot.notes
    libc = _libc()
    is_root = os.geteuid() == 0
    uid, gid = os.geteuid(), os.getegid()
    if not is_root:
        if libc.unshare(CLONE_NEWUSER) == 0:
            try:
                _write("/proc/self/setgroups", "deny")
                _write("/proc/self/uid_map", f"{uid} {uid} 1")
                _write("/proc/self/gid_map", f"{gid} {gid} 1")
                held["_userns"] = True
            except OSError as exc:
                notes["user_namespace"] = f"could not map the uid: {exc}"
        else:
            notes["user_namespace"] = _err("unprivileged user namespaces are not available")
    off = set(conf.disable)
    try:  # if memory runs out, the kernel kills the worker's processes before anything else
        _write("/proc/self/oom_score_adj", "1000")
        held["oom_victim_first"] = True
    except OSError as exc:
        notes["oom_victim_first"] = f"could not raise oom_score_adj: {exc}"
    held["network_namespace"] = "network_namespace" not in off and libc.unshare(CLONE_NEWNET) == 0
    if not held["network_namespace"]:
        notes["network_namespace"] = "disabled" if "network_namespace" in off else _err("unshare(CLONE_NEWNET)")
    drop_to = UID_BASE + os.getpid() if is_root and "unprivileged_uid" not in off else None
    if "unprivileged_uid" in off:
        notes["unprivileged_uid"] = "disabled"
    if "mount_namespace" in off:
        notes["mount_namespace"] = "disabled"
    elif libc.unshare(CLONE_NEWNS) == 0:
        _prepare_filesystem(libc, conf, held, notes, drop_to)
    else:
        notes["mount_namespace"] = _err("unshare(CLONE_NEWNS)")
    if drop_to is not None:
        try:
            for path in conf.writable_paths:
                _chown_tree(path, drop_to)
            why = _probe_uid(drop_to, conf)
        except OSError as exc:
            why = f"could not hand the writable paths over: {exc}"
        if why:
            notes["unprivileged_uid"] = why
            drop_to = None
    pidns = "pid_namespace" not in off and libc.unshare(CLONE_NEWPID) == 0
    if not pidns:
        notes["pid_namespace"] = "disabled" if "pid_namespace" in off else _err("unshare(CLONE_NEWPID)")
    else:
        status_r, status_w = os.pipe()
        sync_r, sync_w = os.pipe()
        init_pid = os.fork()
        if init_pid:  # B
            try:
                os.close(status_w)
                os.close(sync_r)
                os.write(sync_w, struct.pack("<i", init_pid))
                os.close(sync_w)
                for fd in keep_fds:
                    os.close(fd)
                _nanny(init_pid, status_r, lifeline)  # never returns
            finally:
                os._exit(70)
        try:  # C: PID 1 of the new namespace; it must never return into the worker's code
            os.close(status_r)
            os.close(sync_w)
            _prctl(libc, PR_SET_PDEATHSIG, signal.SIGKILL)
            data = os.read(sync_r, 4)
            os.close(sync_r)
            if len(data) != 4:
                os._exit(70)
            boot.init_pid = struct.unpack("<i", data)[0]
            held["pid_namespace"] = True
            held["dies_with_judge"] = lifeline >= 0
            if _mount(libc, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, None):
                held["private_proc"] = True
            else:
                notes["private_proc"] = _err("could not mount a private /proc")
            worker_pid = os.fork()
        except BaseException:  # noqa: BLE001
            os._exit(70)
        if worker_pid:
            try:
                for fd in keep_fds + ([lifeline] if lifeline >= 0 else []):
                    os.close(fd)
                _drop_capabilities(libc)
                _init(worker_pid, status_w)  # never returns
            finally:
                os._exit(70)
        os.close(status_w)
        if lifeline >= 0:
            os.close(lifeline)
    # W (or B itself when there is no PID namespace)
    if not pidns and lifeline >= 0:
        _watch_lifeline(lifeline)
        held["dies_with_judge"] = True
    if drop_to is not None:
        try:
            _drop_bounding_set(libc)  # while still allowed to
            os.setgroups([])
            os.setresgid(drop_to, drop_to, drop_to)
            os.setresuid(drop_to, drop_to, drop_to)
            held["unprivileged_uid"] = True
            boot.uid = drop_to
        except OSError as exc:
            notes["unprivileged_uid"] = f"setuid failed: {exc}"
    elif is_root and "unprivileged_uid" not in notes:
        notes["unprivileged_uid"] = "not attempted"
    elif not is_root:
        notes["unprivileged_uid"] = "runs as the invoking user (inside a user namespace where available)"
    held["capabilities_dropped"] = _drop_capabilities(libc)
    held["no_new_privs"] = _prctl(libc, PR_SET_NO_NEW_PRIVS, 1)


def _watch_lifeline(fd: int) -> None:
    """Without a PID namespace: a thread that takes the process group down when the judge dies."""
    import threading

    def watch():
        try:
            while os.read(fd, 1):
                pass
        except OSError:
            pass
        try:
            os.killpg(0, signal.SIGKILL)
        finally:
            os._exit(137)

    threading.Thread(target=watch, daemon=True, name="harness-lifeline").start()
