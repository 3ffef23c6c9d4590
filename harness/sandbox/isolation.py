"""Which isolation a worker gets, and what each mode promises (judge side).

Three modes, from strongest to weakest:

- ``full``: Linux as root. Namespaces (PID, network, mount), the judge's files and the answer key hidden,
  a read-only filesystem, a uid of the worker's own, no capabilities, ``no_new_privs``, limits.
- ``userns``: Linux as an ordinary user, inside a user namespace: all of the above except the uid of its
  own (the worker keeps the invoking user's uid, mapped to itself) and the per-uid process limit.
- ``basic``: any OS. A separate process with a wall-clock timeout, a scrubbed environment, a scratch
  folder and pickle-free pipes; no operating-system protection is attempted, and none is promised.

The mode is resolved once, before anything runs (:func:`resolve`): asked for with ``--isolation`` or
``HARNESS_ISOLATION`` (``auto`` when neither says: the strongest this machine has). A mode stronger
than the machine can give is refused there (:class:`IsolationError`), never quietly weakened. Then
every worker start is checked against the mode's promises (:meth:`Isolation.missing`): the worker
reports what held in its hello, before any submission code is loaded, and a worker missing a promised
protection is killed and the submission is not graded (:class:`IsolationFailed`).
"""
from __future__ import annotations

import functools
import os
import subprocess
import sys
from dataclasses import dataclass

MODES = ("full", "userns", "basic")            # strongest first
ASKABLE = (*MODES, "auto")
OS_NAMES = {"win32": "Windows", "darwin": "macOS"}

_NAMESPACES = ("pid_namespace", "network_namespace", "mount_namespace", "answer_key_hidden", "judge_files_hidden",
               "private_tmp", "private_proc", "readonly_filesystem", "capabilities_dropped", "no_new_privs")
#: What each mode promises: a worker that comes up without one of these never runs the submission's code.
PROMISES: dict[str, tuple[str, ...]] = {
    "full": ("process_group", *_NAMESPACES, "unprivileged_uid", "rlimits", "memory_limit", "process_limit",
             "dies_with_judge"),
    "userns": ("process_group", *_NAMESPACES, "rlimits", "memory_limit", "dies_with_judge"),
    "basic": (),
}
#: A protection switched off on purpose (``Sandbox(disable=…)``, for tests of the fallbacks) takes these with it.
DEPENDS = {"mount_namespace": ("answer_key_hidden", "judge_files_hidden", "private_tmp", "readonly_filesystem"),
           "pid_namespace": ("private_proc",),
           "unprivileged_uid": ("process_limit",)}
SAYS = {
    "full": "full (Linux as root: namespaces, the judge's files hidden, a read-only filesystem, a uid of the "
            "worker's own, no capabilities, limits)",
    "userns": "userns (Linux as an ordinary user, in a user namespace: namespaces, the judge's files hidden, a "
              "read-only filesystem, no capabilities, limits; the worker keeps your uid)",
    "basic": "basic (a separate process with a time limit, a scrubbed environment and a scratch folder; no "
             "operating-system protection)",
}


class IsolationError(ValueError):
    """The isolation asked for is not a mode, or cannot be had on this machine: said before anything runs."""


class IsolationFailed(Exception):
    """A worker came up without a protection its mode promises: the submission's code was not run."""

    def __init__(self, isolation: Isolation, missing: list[str], notes: dict, held: dict | None = None):
        self.isolation, self.missing, self.notes = isolation, missing, dict(notes)
        self.held = dict(held or {})
        why = "; ".join(f"{name}: {notes.get(name) or 'did not hold'}" for name in missing)
        error = f"; the confinement stopped on {notes['error']}" if notes.get("error") else ""
        super().__init__(
            f"not graded: the worker's {isolation.mode} isolation could not be put in place on this machine, so the "
            f"submission's code was not run ({why}{error}). This is a problem of the grading machine, not of the "
            f"submission: fix it (docs/THREAT_MODEL.md says what each protection needs), or grade with a weaker "
            f"isolation on purpose ({', '.join('--isolation ' + m for m in MODES if _weaker(m, isolation.mode))})")


def _weaker(mode: str, than: str) -> bool:
    return MODES.index(mode) > MODES.index(than)


@dataclass(frozen=True)
class Isolation:
    """The mode a run uses and why."""

    mode: str
    why: str

    def promises(self, disabled=()) -> tuple[str, ...]:
        off = set(disabled)
        for name in list(off):
            off.update(DEPENDS.get(name, ()))
        return tuple(p for p in PROMISES[self.mode] if p not in off)

    def missing(self, held: dict, disabled=(), group_made: bool = False) -> list[str]:
        """The promised protections a worker's hello does not report as held (``tree_budget`` too when the
        judge made a control group for it)."""
        wanted = self.promises(disabled) + (("tree_budget",) if group_made and self.mode != "basic" else ())
        return [p for p in wanted if held.get(p) is not True]

    def describe(self) -> str:
        """One line for the terminal, said before grading starts."""
        said = SAYS[self.mode]
        return f"Isolation: {said}" + (f" — {self.why}" if self.why and self.why not in said else "")


def available() -> tuple[str, str]:
    """The strongest mode this machine gives this process, and why."""
    if not sys.platform.startswith("linux"):
        return "basic", f"not available on this OS ({OS_NAMES.get(sys.platform, sys.platform)})"
    if os.geteuid() == 0:
        return "full", "Linux as root"
    why = _user_namespaces_refused()
    if why:
        return "basic", f"Linux as an ordinary user without user namespaces ({why})"
    return "userns", "Linux as an ordinary user"


@functools.cache
def _user_namespaces_refused() -> str:
    """Why this user cannot make a user namespace with a mount namespace inside (empty when it can). Tried in a
    throwaway process: some distributions allow the namespace but not a mount in it (AppArmor)."""
    probe = ("import ctypes, os, sys\n"
             "libc = ctypes.CDLL(None, use_errno=True)\n"
             "uid, gid = os.geteuid(), os.getegid()\n"
             "if libc.unshare(0x10000000) != 0: sys.exit('unshare(CLONE_NEWUSER): ' + os.strerror(ctypes.get_errno()))\n"
             "open('/proc/self/setgroups', 'w').write('deny')\n"
             "open('/proc/self/uid_map', 'w').write(f'{uid} {uid} 1')\n"
             "open('/proc/self/gid_map', 'w').write(f'{gid} {gid} 1')\n"
             "if libc.unshare(0x00020000) != 0: sys.exit('unshare(CLONE_NEWNS): ' + os.strerror(ctypes.get_errno()))\n"
             "if libc.mount(b'none', b'/', None, 0x4000 | (1 << 18), None) != 0:\n"
             "    sys.exit('a mount in the namespace: ' + os.strerror(ctypes.get_errno()))\n")
    try:
        done = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"the probe could not run: {exc}"
    return "" if done.returncode == 0 else (done.stderr.strip().splitlines() or ["refused"])[-1][:200]


def resolve(asked: str | None = None) -> Isolation:
    """The mode to use: ``asked`` (``--isolation``), else ``HARNESS_ISOLATION``, else ``auto``. Raises
    :class:`IsolationError` when it names no mode, or one stronger than this machine gives."""
    source = "--isolation" if asked else "HARNESS_ISOLATION"
    raw = asked if asked else os.environ.get("HARNESS_ISOLATION", "")
    choice = raw.strip().lower() or "auto"
    if choice not in ASKABLE:
        raise IsolationError(f"{source}={raw!r} is not one of: {', '.join(ASKABLE)} (or unset)")
    if choice == "basic":
        return Isolation("basic", "--isolation basic" if asked else "HARNESS_ISOLATION=basic")
    best, why = available()
    if choice == "auto":
        return Isolation(best, why)
    if _weaker(best, choice):
        need = {"full": "it needs Linux and root (each worker gets a uid of its own)",
                "userns": "it needs Linux with user namespaces that allow mounts"}[choice]
        raise IsolationError(
            f"{source}={choice}: this machine cannot give that isolation — {need}; here the strongest is "
            f"{best} ({why}). Run where it holds, or choose a weaker isolation on purpose: "
            + ", ".join(f"--isolation {m}" for m in MODES if not _weaker(best, m) and m != choice))
    return Isolation(best, why)
