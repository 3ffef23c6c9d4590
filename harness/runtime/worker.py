"""The worker: the only process that ever runs a submission's code.

It imports the submission's modules, evaluates the judge's programs against them and sends back
raw values. It computes no verdict and holds no expected value. It is started by the launcher (cold:
``main``) or forked by the fork server (warm: ``zygote.py``), with the submission copied into a scratch
directory; either way :func:`run` confines it first (see ``confine.py``), and it talks to
the judge over two dedicated pipes so that whatever the submission prints cannot corrupt the
protocol. In basic isolation those pipes arrive as stdin and stdout (the only ones every OS hands a
child); the worker moves them aside first thing, so the submission's stdin is empty and its stdout
goes with stderr.

Runs outside the harness package (the runtime folder is copied as ``_harness_runtime``), so only
relative imports.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import os
import queue
import signal
import sys
import threading
import time
import weakref

from . import forbidden
from .failures import _safe_str, describe_exception

BLOCKED_PACKAGES = ("harness", "reference_models")


class AnswerKeyBlocker(importlib.abc.MetaPathFinder):
    """Refuses imports of the judge and the answer key, and remembers who tried."""

    def __init__(self):
        self.attempts: list[str] = []

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in BLOCKED_PACKAGES:
            self.attempts.append(fullname)
            raise ImportError(f"{fullname!r} is the grader's code; a submission may not import it")
        return None


class Tripwire:
    """Records uses of the torch built-ins that the contract says a student must not use
    (``forbidden.py``): a call of one, or the construction of a submission's class built on one.

    The submission runs in this process and could undo a guard; so the guards do not point back to what they
    replace (no ``__wrapped__``), and :meth:`take` reports, with the names used, every guard it finds undone —
    a wrapper replaced, an original put back, the recording switched off, torch's recurrent module given
    another ``_VF`` — as ``forbidden.TAMPERED + label``. The judge decides what that costs."""

    def __init__(self):
        self.used: set[str] = set()
        self.suspended = 0
        self._guards: list[tuple[object, str, object, str]] = []  # (owner, attribute, wrapper, label)
        self._links: list[tuple[object, str, object, str]] = []   # (module, global, the object it must be, label)
        self._probes = weakref.WeakSet()  # the torch cells the judge's programs made (ops "torch_cell"), by identity

    def _record(self, name):
        if not self.suspended:
            self.used.add(name)

    def _install(self, owner, attr, wrapper, original, label):
        for key in ("__module__", "__name__", "__qualname__", "__doc__"):  # not __wrapped__: no way back
            try:
                setattr(wrapper, key, getattr(original, key))
            except (AttributeError, TypeError):
                pass
        setattr(owner, attr, wrapper)
        self._guards.append((owner, attr, wrapper, label))

    def _wrap_function(self, owner, attr, label):
        original = getattr(owner, attr, None)
        if original is None:
            return
        record = self._record

        def wrapper(*args, **kwargs):
            record(label)
            return original(*args, **kwargs)

        self._install(owner, attr, wrapper, original, label)

    def _wrap_module_forward(self, cls, label):
        original, tripwire = cls.forward, self

        def forward(module, *args, **kwargs):
            if module in tripwire._probes:  # a cell the judge put there on purpose (not one merely marked so)
                tripwire.suspended += 1
                try:
                    return original(module, *args, **kwargs)
                finally:
                    tripwire.suspended -= 1
            tripwire._record(label)
            return original(module, *args, **kwargs)

        self._install(cls, "forward", forward, original, f"{label}.forward")

    def _wrap_subclass_init(self, cls, label):
        """Record the construction of a class of the submission's own built on ``cls`` (a base such as
        ``RNNCellBase`` has no ``forward`` to wrap; torch's own classes built on it do not count)."""
        original, record = cls.__init__, self._record

        def __init__(module, *args, **kwargs):
            if type(module).__module__.partition(".")[0] != "torch":
                record(label)
            original(module, *args, **kwargs)

        self._install(cls, "__init__", __init__, original, f"{label}.__init__")

    def _register_probes(self, ops):
        """The judge's own torch cells (a known-good cell to test a student's layer with) are exempt: known by
        identity as the op makes them, so that a submission cannot exempt its own by copying a marker."""
        make, probes = ops.OPS["torch_cell"], self._probes

        def torch_cell(*args, **kwargs):
            cell = make(*args, **kwargs)
            probes.add(cell)
            return cell

        ops.OPS["torch_cell"] = torch_cell

    def install(self):
        import torch
        import torch.nn.functional as F
        import torch.nn.modules.activation
        import torch.nn.modules.rnn

        for name in forbidden.NN_CLASSES:
            cls = getattr(torch.nn, name, None)
            if cls is not None:
                if "forward" in vars(cls):
                    self._wrap_module_forward(cls, f"torch.nn.{name}")
                self._wrap_subclass_init(cls, f"torch.nn.{name}")
        for name in forbidden.VF_FUNCTIONS:
            self._wrap_function(torch._VF, name, f"torch._VF.{name}")
            self._wrap_function(torch, name, f"torch.{name}")
        for name in forbidden.FUNCTIONAL:
            self._wrap_function(F, name, f"torch.nn.functional.{name}")
        from . import ops

        self._register_probes(ops)
        # where torch's own modules find the guarded kernels: swapped, they would reach the kernels unguarded
        self._links = [(torch.nn.modules.rnn, "_VF", torch._VF, "torch.nn.modules.rnn._VF"),
                       (torch.nn.modules.activation, "F", F, "torch.nn.modules.activation.F"),
                       (torch, "_VF", torch._VF, "torch._VF"), (torch.nn, "functional", F, "torch.nn.functional")]

    def breaches(self) -> list[str]:
        """The guards found undone: each one's label."""
        found = [label for owner, attr, wrapper, label in self._guards
                 if vars(owner).get(attr) is not wrapper]
        found += [label for module, name, target, label in self._links if vars(module).get(name) is not target]
        if self.suspended:
            found.append("the recording (switched off)")
        return found

    def take(self) -> list[str]:
        """The built-ins used since the last call, and every guard found undone (``forbidden.TAMPERED + label``)."""
        try:
            breaches = self.breaches()
        except BaseException:  # noqa: BLE001 - a guard's owner made unreadable is a guard undone
            breaches = ["the guards (unreadable)"]
        used, self.used = sorted(self.used) + [forbidden.TAMPERED + b for b in breaches], set()
        return used


def prepare_process() -> None:
    """What a worker sets once for its whole process, before any submission is loaded: torch imported, one
    thread, deterministic algorithms. A fork server (``zygote.py``) does it once for every worker it forks."""
    import torch

    torch.set_num_threads(1)
    # What torch.use_deterministic_algorithms(True, warn_only=True) does, without the import
    # of torch._inductor it makes just to set one flag (0.9 s, half the worker's start); the
    # launcher sets that flag for a later torch.compile through TORCHINDUCTOR_DETERMINISTIC=1.
    set_deterministic = getattr(torch._C, "_set_deterministic_algorithms", None)
    if set_deterministic is not None and "torch._inductor" not in sys.modules:
        set_deterministic(True, warn_only=True)
    else:  # pragma: no cover - another torch version
        torch.use_deterministic_algorithms(True, warn_only=True)


class Worker:
    def __init__(self, fd_in: int, fd_out: int, submission_dir: str):
        from . import interpreter, mapping, wire

        self.wire, self.interpreter, self.mapping = wire, interpreter, mapping
        self.fd_in, self.fd_out = fd_in, fd_out
        self.submission_dir = os.path.abspath(submission_dir)
        self.modules: dict[str, object] = {}
        self.blocker = AnswerKeyBlocker()
        self.tripwire = Tripwire()

    def setup(self):
        prepare_process()
        sys.meta_path.insert(0, self.blocker)
        self.tripwire.install()
        sys.path.insert(0, self.submission_dir)
        os.chdir(self.submission_dir)

    def load(self, module: str, filename: str, entries: dict | None = None) -> dict:
        """Import a module of the submission; with ``entries`` (an interface map, see ``mapping.py``) its
        contract names are the ones the map gives, and the reply says which of them point to nothing."""
        if module in self.modules:
            mod = self.modules[module]
            return {"ok": True, "names": self._public_names(mod), "map_problems": self.mapping.problems_of(mod)}
        path = os.path.join(self.submission_dir, filename)
        spec = importlib.util.spec_from_file_location(module, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[module] = mod
        try:
            spec.loader.exec_module(mod)
        except BaseException as exc:  # noqa: BLE001 - everything a submission can raise is reported
            sys.modules.pop(module, None)
            return {"ok": False, "error": describe_exception(exc, self.submission_dir)}
        problems = {}
        if entries:
            mod, problems = self.mapping.apply(mod, entries)
        self.modules[module] = mod
        return {"ok": True, "names": self._public_names(mod), "map_problems": problems}

    def _public_names(self, mod) -> list[str]:
        return [n for n in self.mapping.names_of(mod) if not n.startswith("_")]

    def run(self, prog: dict, inputs: dict) -> tuple[dict, dict]:
        self.tripwire.take()
        start = time.perf_counter()
        try:
            value = self.interpreter.run(prog, inputs, self.modules)
        except self.interpreter.ContractError as exc:
            return {"ok": False, "contract": _safe_str(exc), "forbidden": self.tripwire.take()}, {}
        except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt included
            return {"ok": False, "error": describe_exception(exc, self.submission_dir),
                    "forbidden": self.tripwire.take()}, {}
        seconds = time.perf_counter() - start
        try:
            tree, tensors = self.wire.encode(value)
        except BaseException as exc:  # noqa: BLE001 - e.g. a self-referential value
            return {"ok": False, "error": {"type": "EncodingError",
                                           "message": f"the value cannot be sent back: {_safe_str(exc)}"},
                    "forbidden": self.tripwire.take()}, {}
        return {"ok": True, "value": tree, "seconds": seconds, "forbidden": self.tripwire.take()}, tensors

    def handle(self, header: dict, tensors: dict) -> tuple[dict, dict]:
        cmd = header.get("cmd")
        if cmd == "load":
            return self.load(header["module"], header["file"], header.get("map")), {}
        if cmd == "run":
            return self.run(header["program"], tensors)
        return {"ok": False, "error": {"type": "ProtocolError", "message": f"unknown command {cmd!r}"}}, {}

    def serve(self, hello: dict | None = None, inbox: _Inbox | None = None):
        wire = self.wire
        wire.send(self.fd_out, {"hello": True, "pid": os.getpid(), **(hello or {})})
        while True:
            try:
                header, tensors = inbox.get() if inbox is not None else wire.receive(self.fd_in)
            except (EOFError, OSError):
                return
            if header.get("cmd") == "exit":
                return
            try:
                reply, out = self.handle(header, tensors)
            except BaseException as exc:  # noqa: BLE001 - the worker answers whatever happened
                reply, out = {"ok": False, "error": describe_exception(exc, self.submission_dir)}, {}
            reply["id"] = header.get("id")
            reply["answer_key_imports"] = list(self.blocker.attempts)
            try:
                wire.send(self.fd_out, reply, out)
            except OSError:
                return  # the judge is gone or the submission closed the channel
            except BaseException as exc:  # noqa: BLE001 - e.g. a value JSON or safetensors cannot hold
                wire.send(self.fd_out, {"ok": False, "id": header.get("id"),
                                        "answer_key_imports": list(self.blocker.attempts),
                                        "error": {"type": "EncodingError", "message": _safe_str(exc)}})


class _Inbox(threading.Thread):
    """Basic isolation: requests are read by a thread, so that the end of the judge's pipe (the judge
    died: nobody is left to kill this process) ends the worker even while the submission's code runs."""

    GRACE_S = 1.0  # an idle worker returns by itself on the end of the pipe; a busy one is ended

    def __init__(self, wire, fd: int):
        super().__init__(daemon=True, name="harness-inbox")
        self.wire, self.fd = wire, fd
        self.queue: queue.Queue = queue.Queue()

    def run(self):
        while True:
            try:
                item = self.wire.receive(self.fd)
            except BaseException:  # noqa: BLE001 - the end of the pipe, or a judge that is gone
                self.queue.put(None)
                time.sleep(self.GRACE_S)
                _end_process_group()
                return
            self.queue.put(item)

    def get(self):
        item = self.queue.get()
        if item is None:
            raise EOFError("the judge closed the request pipe")
        return item


def _end_process_group() -> None:
    """End the worker and, where the OS has process groups and the worker leads one, its children."""
    try:
        if hasattr(os, "killpg") and os.getpgid(0) == os.getpid():
            os.killpg(0, signal.SIGKILL)
    except OSError:
        pass
    os._exit(0)


def _take_stdio() -> tuple[int, int]:
    """Basic isolation: the requests come on stdin and the replies go on stdout. Keep them on private
    descriptors, then give the submission an empty stdin and send its stdout to stderr (the output the
    judge captures), so that nothing it reads or prints touches the protocol."""
    fd_in, fd_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    if sys.platform == "win32":  # frames are bytes: no newline translation
        import msvcrt

        for fd in (fd_in, fd_out):
            msvcrt.setmode(fd, os.O_BINARY)
    return fd_in, fd_out


def main(argv: list[str] | None = None) -> None:
    """``fd_in fd_out submission_dir [lifeline_fd confinement_json]``; ``- -`` for the two descriptors
    means stdin and stdout (basic isolation)."""
    argv = sys.argv[1:] if argv is None else argv
    stdio = argv[0] == "-"
    fd_in, fd_out = _take_stdio() if stdio else (int(argv[0]), int(argv[1]))
    run(fd_in, fd_out, argv[2], int(argv[3]) if len(argv) > 3 else -1, argv[4] if len(argv) > 4 else None, stdio)


def run(fd_in: int, fd_out: int, submission_dir: str, lifeline: int = -1, confinement: str | None = None,
        stdio: bool = False) -> None:
    """Confine this process as ``confinement`` (JSON) says, then serve the judge until it says exit; never returns.
    The one path of every worker, started cold (:func:`main`) or forked by the fork server (``zygote.py``)."""
    hello = {}
    basic = False
    if confinement is not None:
        from . import confine
        from .config import Confinement

        conf = Confinement.from_json(confinement)
        basic = conf.mode == "basic"
        if basic:  # no system call of confine's: works on any OS
            boot = confine.basic(conf.mode_reason)
        else:
            # Confine before any submission code runs (and, started cold, before torch is imported); on Linux this
            # forks, and only the worker returns.
            boot = confine.confine(conf, keep_fds=(fd_in, fd_out), lifeline=lifeline)
        hello = {"init_pid": boot.init_pid, "uid": boot.uid, "protections": boot.held, "notes": boot.notes,
                 "mode": "basic" if basic else "full"}
        for path in conf.python_paths:
            if path not in sys.path:
                sys.path.append(path)
    os.set_inheritable(fd_in, False)
    os.set_inheritable(fd_out, False)
    worker = Worker(fd_in, fd_out, submission_dir)
    inbox = None
    if basic or stdio:
        from . import wire

        inbox = _Inbox(wire, fd_in)
        inbox.start()
    worker.setup()
    worker.serve(hello, inbox)
    try:
        sys.stdout.flush()
    except BaseException:  # noqa: BLE001
        pass
    os._exit(0)  # skip interpreter teardown: atexit handlers and __del__ of submission objects
