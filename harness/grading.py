"""Grading one submission: specs in, one Results document out.

The flow of DESIGN.md: locate the submission's modules, copy them to a scratch folder, start one
sandboxed worker, run each spec's checks (each check's programs run in the worker; verdicts are
computed here), collect figures, and record everything in a Results document. A module that
cannot be imported costs its own checks; a check that crashes, hangs or exits costs itself.
"""
from __future__ import annotations

import math
import os
import platform
import sys
import tempfile
import time
import traceback
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import torch

from . import __version__, interface
from .answers import LiveAnswers, NotInBundle
from .checks import Context, ContractBroken, StudentError, load_builtin_checks
from .checks.implementation import static_witness
from .results import NOT_READ, NOT_SUBMITTED, CheckResult, Results, TaskResult
from .runtime.config import Limits
from .sandbox.launcher import Sandbox, WorkerDied
from .sandbox import zygote
from .spec import VISIBILITIES, SpecError, TaskSpec, not_run_counts
from .submission import ModuleSource, Submission, locate, make_scratch_copy, notebook_runs, source_cap


class ModuleBroken(Exception):
    """A module of the submission could not be imported; its checks cannot run."""


class Runner:
    """Runs programs on a submission's modules in one sandbox, (re)loading modules as needed."""

    def __init__(self, sandbox: Sandbox, submission: Submission, maps: dict | None = None):
        self.sandbox = sandbox
        self.submission = submission
        self.maps = maps or {}                # module -> its interface map, as the worker applies it
        self.map_problems: dict[str, dict[str, str]] = {}  # module -> contract name -> why its map points to nothing
        self.loaded: dict[str, int] = {}      # module -> sandbox start in which it was loaded
        self.names: dict[str, list[str]] = {}
        self.broken: dict[str, str] = {}
        self.answer_key_imports: dict[str, set[str]] = {}  # module -> grader modules it tried to import
        self._seen_imports: set[str] = set()
        self.hung: dict[str, str] = {}  # contract name -> the check in which it timed out

    def source(self, stem: str) -> ModuleSource:
        return self.submission.modules[stem]

    def where(self, stem: str, info: dict) -> str:
        if "line" not in info:
            return ""
        file = info.get("file", "")
        owner = next((m for m in self.submission.modules.values() if f"{m.stem}.py" == file), None)
        return owner.locate_line(info["line"]) if owner else f"{file}, line {info['line']}"

    def ensure(self, stem: str) -> None:
        if stem in self.broken:
            raise ModuleBroken(self.broken[stem])
        if self.loaded.get(stem) == self.sandbox.starts and self.sandbox.alive:
            return
        source = self.source(stem)
        try:
            reply = self.sandbox.load(stem, f"{stem}.py", self.maps.get(stem))
        except WorkerDied as died:
            self.broken[stem] = f"importing {source.display_name} failed: {died.detail}"
            raise ModuleBroken(self.broken[stem]) from None
        self._note_imports(stem, reply.header)
        if not reply.header.get("ok"):
            info = reply.header.get("error", {})
            where = self.where(stem, info)
            self.broken[stem] = (f"importing {source.display_name} raised {info.get('type', 'an error')}: "
                                 f"{info.get('message', '')}" + (f" ({where})" if where else "")
                                 + source.explain(info))
            raise ModuleBroken(self.broken[stem])
        self.loaded[stem] = self.sandbox.starts
        self.names[stem] = reply.header.get("names", [])
        self.map_problems[stem] = reply.header.get("map_problems", {})

    def contract_scopes(self, stem: str, findings: list) -> list:
        """Static findings with the scope of a mapped name given as the contract's (``MyLSTM`` -> ``LSTMCell``)."""
        contract_of = {entry["name"]: contract for contract, entry in self.maps.get(stem, {}).items()}
        return [replace(f, scope=contract_of.get(f.scope, f.scope)) for f in findings]

    def _note_imports(self, stem: str, header: dict) -> None:
        new = set(header.get("answer_key_imports", [])) - self._seen_imports
        if new:
            self._seen_imports |= new
            self.answer_key_imports.setdefault(stem, set()).update(new)

    def run(self, stem: str, program, timeout: float | None = None):
        self.ensure(stem)
        reply = self.sandbox.run(program.to_json(), program.inputs, timeout=timeout)
        self._note_imports(stem, reply.header)
        if reply.header.get("ok"):
            return reply
        if "contract" in reply.header:
            raise ContractBroken(reply.header["contract"])
        info = reply.header.get("error", {})
        where = self.where(stem, info)
        said = self.source(stem).explain(info)
        raise StudentError({**info, "message": f"{info.get('message', '')}{said}"} if said else info, where)


def _result(spec: TaskSpec, check, status: str, message: str, hint: str = "", numbers=None,
            seconds: float = 0.0, fraction: float | None = None) -> CheckResult:
    if fraction is None:
        fraction = 1.0 if status == "passed" else 0.0
    if not isinstance(fraction, (int, float)) or not math.isfinite(fraction):  # NaN is no share of the points
        fraction = 0.0
    return CheckResult(id=check.id, task=spec.name, status=status,
                       points=round(check.points * min(max(fraction, 0.0), 1.0), 4), max_points=check.points,
                       message=message, hint=hint, numbers=numbers or {}, visibility=check.visibility,
                       seconds=round(seconds, 4))


def run_check(spec: TaskSpec, check, runner: Runner, answers, state: dict) -> CheckResult:
    """One check of one spec, with every way a submission can fail turned into a result."""
    definition = spec.definitions[check.definition]
    stem = spec.module
    source = runner.source(stem)
    if source.problem:
        status = "failed" if source.path is None else "error"
        return _result(spec, check, status, source.problem)
    try:
        runner.ensure(stem)
    except ModuleBroken as exc:
        return _result(spec, check, "error", str(exc), "fix the import error first: every check of this module needs it")
    needs = definition.needs_for(check.options)
    hung = [n for n in needs if n in runner.hung]
    if hung:
        return _result(spec, check, "error", f"not run: {hung[0]} timed out earlier, in {runner.hung[hung[0]]}",
                       "make it finish: look for a loop that never ends, or input() / sleep calls")
    missing = [n for n in needs if n not in runner.names.get(stem, [])]
    unmapped = [runner.map_problems.get(stem, {})[n] for n in missing if n in runner.map_problems.get(stem, {})]
    if unmapped:
        return _result(spec, check, "failed", unmapped[0], "make the map and your file agree: names and parameters "
                       "as your file spells them (they are case-sensitive)")
    if missing:
        return _result(spec, check, "failed", f"{source.display_name} does not define {', '.join(missing)}",
                       f"names are case-sensitive: see CONTRACT.md, section {spec.name}, or the starter files")
    ctx = Context(check.id, check.options, spec.tolerances, spec.seed_for(check),
                  lambda program, timeout=None: runner.run(stem, program, timeout), answers, spec, state,
                  view=view_of(check), source=source,
                  static_findings=runner.contract_scopes(stem, static_witness(source, runner.submission.root)),
                  hung=runner.hung)
    start = time.perf_counter()
    try:
        verdict = definition.func(ctx)
    except StudentError as exc:
        elapsed = time.perf_counter() - start
        if exc.not_implemented:
            return _result(spec, check, "failed", f"not implemented yet ({exc.describe()})", seconds=elapsed)
        return _result(spec, check, "error", f"your code raised {exc.describe()}",
                       numbers={"traceback": exc.info.get("traceback", "")[-3000:]}, seconds=elapsed)
    except ContractBroken as exc:
        return _result(spec, check, "failed", f"{exc.lead}: {exc}", exc.hint, seconds=time.perf_counter() - start)
    except WorkerDied as died:
        if died.reason == "timeout":
            for name in needs:
                runner.hung.setdefault(name, check.id)
        return _result(spec, check, "error", died.detail,
                       numbers={"output": died.output[-3000:]}, seconds=time.perf_counter() - start)
    except ModuleBroken as exc:
        return _result(spec, check, "error", str(exc), seconds=time.perf_counter() - start)
    except NotInBundle as exc:
        return _result(spec, check, "error", f"the assignment's bundle holds no expected value for this check ({exc}): "
                       "the release does not match these task settings; please tell the course staff",
                       seconds=time.perf_counter() - start)
    except SpecError:
        raise  # the task cannot be graded as it stands (a reference that cannot anchor points): stop, saying why
    except Exception as exc:  # noqa: BLE001 - a bug of the harness must not cost other checks
        return _result(spec, check, "error", f"internal error of the grader ({type(exc).__name__}: {exc}); "
                       "please report it to the course staff",
                       numbers={"traceback": traceback.format_exc()[-3000:]}, seconds=time.perf_counter() - start)
    elapsed = time.perf_counter() - start
    try:
        return _result(spec, check, "passed" if verdict.passed else "failed", verdict.message, verdict.hint,
                       verdict.numbers, elapsed, verdict.fraction)
    except (AttributeError, TypeError, ValueError) as exc:  # a verdict of the wrong shape: a bug of the check
        return _result(spec, check, "error", f"internal error of the grader (the check's verdict cannot be recorded: "
                       f"{exc}); please report it to the course staff", seconds=elapsed)


def source_label(source: ModuleSource) -> str:
    """A task's ``source`` in the results: the file graded, the file that could not be read, or none."""
    if source.path is None:
        return NOT_SUBMITTED
    return source.display_name + (NOT_READ if source.problem else "")


def view_of(check) -> str:
    """The dataset view a check scores: checks graded after submission score the hidden one."""
    return "hidden" if check.graded_later else "public"


def run_figure(spec: TaskSpec, figure_id: str, runner: Runner, answers, state: dict) -> dict | None:
    definition = spec.figure_definitions[figure_id]
    stem = spec.module
    ctx = Context(figure_id, {}, spec.tolerances, spec.seed,
                  lambda program, timeout=None: runner.run(stem, program, timeout), answers, spec, state,
                  hung=runner.hung)
    try:
        if runner.source(stem).problem:
            data = None
        else:
            runner.ensure(stem)
            data = definition.func(ctx)
    except (StudentError, ContractBroken, WorkerDied, ModuleBroken) as exc:
        data = {"error": str(exc)}
    except SpecError:
        raise
    except Exception as exc:  # noqa: BLE001
        data = {"error": f"internal error of the grader: {exc}"}
    if data is None:
        return None
    return {"id": figure_id, "title": definition.title, "task": spec.name, "data": data}


def merged_limits(specs: list[TaskSpec]) -> Limits:
    """One worker serves all tasks: take the most generous of each limit."""
    limits = Limits()
    for field_name in vars(limits):
        setattr(limits, field_name, max(getattr(s.limits, field_name) for s in specs))
    return limits


def settle_torch() -> None:
    """The judge's own torch work (the answer key, the reference models' training) on one thread with deterministic
    algorithms, as in the worker: the same figures on any machine, and no pool of threads fighting other jobs for
    the cores (on a busy machine that made the reference's training fifteen times slower, not twice)."""
    torch.set_num_threads(1)
    # The flag torch.use_deterministic_algorithms(True, warn_only=True) sets, without the import of torch._inductor,
    # torch._dynamo and sympy that call makes to set a second flag for torch.compile (over 70 MB and a second here);
    # the worker does the same (runtime/worker.py)
    set_deterministic = getattr(torch._C, "_set_deterministic_algorithms", None)
    if set_deterministic is not None and "torch._inductor" not in sys.modules:
        set_deterministic(True, warn_only=True)
    else:  # pragma: no cover - another torch version, or torch.compile already loaded
        torch.use_deterministic_algorithms(True, warn_only=True)


def environment() -> dict:
    """What the figures depend on besides the spec, recorded in the results (set by :func:`settle_torch`)."""
    return {"python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform(),
            "threads": torch.get_num_threads(), "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability()}


def task_folders(specs: list[TaskSpec], scratch: str) -> list[str]:
    """The folders of the specs graded, which the worker must not see wherever they are (a ``--tasks-dir``
    outside the checkout holds hidden.toml); none that holds the scratch folder, which the worker works in."""
    folders = {s.path.parent.resolve() for s in specs}
    inside = Path(scratch).resolve()
    return sorted(str(f) for f in folders if f != inside and f not in inside.parents)


def neighbours(path: Path, specs: list[TaskSpec], scratch: str) -> list[str]:
    """Folders beside what is graded, covered in the worker: the submission's own folder's parent (other students'
    folders, when an instructor checks one of a class) and each folder of task folders (the tasks not graded now,
    their hidden.toml). Never one that holds the scratch folder, nor the root."""
    inside = Path(scratch).resolve()
    folders = {Path(path).resolve().parent, *(s.path.parent.parent.resolve() for s in specs)}
    return sorted(str(f) for f in folders if f != Path(f.anchor) and f != inside and f not in inside.parents)


def start_record(sandbox: Sandbox) -> dict:
    """How the worker was started, for the results: forked by the fork server or cold (and why cold), in how long."""
    if not sandbox.start_kind:
        return {}
    record = {"start": sandbox.start_kind, "start_seconds": round(sandbox.start_seconds or 0.0, 3)}
    if sandbox.start_note:
        record["start_note"] = sandbox.start_note
    return record


def grade(path: Path, specs: list[TaskSpec], visibility: tuple[str, ...] = VISIBILITIES,
          progress: Callable[[str], None] | None = None, hide: list[str] | tuple = (), answers=None,
          isolation=None, chosen: dict[str, str] | None = None) -> Results:
    """Grade the submission at ``path`` against ``specs``, running the checks of the given visibilities.
    ``chosen``: the file the student asked for, per module (harness.submission.locate says which file is graded).
    ``hide``: more folders the worker must not see (a batch run hides the class's other submissions and
    the output folder). ``answers``: where expected values come from (harness.answers; default: the
    answer key, live). ``isolation``: the worker's mode (harness/sandbox/isolation.py; default: ``HARNESS_ISOLATION``,
    else the strongest here); raises IsolationFailed, grading nothing, when a worker lacks what it promises."""
    load_builtin_checks()
    settle_torch()
    started = time.perf_counter()
    contract: dict[str, set[str]] = {}
    for s in specs:  # the names each module's tasks list, and the course's names for them
        contract.setdefault(s.module, set()).update(s.names, (e.name for e in s.interface_map.values()))
    sub = locate(Path(path), sorted(contract), source_cap(specs), chosen, contract, notebook_runs(specs))
    answers = answers or LiveAnswers(specs)
    if isinstance(answers, LiveAnswers):
        answers.load()  # a task without its answer key is the spec's error, said before any worker starts
    maps = interface.for_submission(specs, sub, answers)  # a wrong map too
    checks: list[CheckResult] = []
    figures: list[dict] = []
    tasks: list[TaskResult] = []
    notes = [note for m in sub.modules.values()
             for note in [m.run_note(), *(s.describe(m.display_name) for s in m.skipped)] if note]
    with tempfile.TemporaryDirectory(prefix="harness-") as scratch:
        os.chmod(scratch, 0o711)
        copy = make_scratch_copy(sub, Path(scratch) / "submission")
        sandbox = Sandbox(copy, Path(scratch), merged_limits(specs), hide=[*hide, *task_folders(specs, scratch)],
                          isolation=isolation, cover=neighbours(Path(path), specs, scratch), zygote=zygote.current())
        runner = Runner(sandbox, sub, maps)
        try:
            if any(m.python is not None for m in sub.modules.values()):
                try:  # fail closed: IsolationFailed here, before any of the submission's code runs
                    sandbox.start()
                except WorkerDied:
                    pass  # a worker that did not come up: the checks that need it say why
            for spec in specs:
                to_run = [c for c in spec.checks if c.visibility in visibility]
                # what the checks and figures of this task share: a trained model's outputs, the views scored
                state: dict = {"views": tuple(dict.fromkeys(view_of(c) for c in to_run))}
                task_checks = []
                for check in to_run:
                    if progress:
                        progress(check.id)
                    task_checks.append(run_check(spec, check, runner, answers, state))
                for figure_id in spec.figures:
                    fig = run_figure(spec, figure_id, runner, answers, state)
                    if fig:
                        figures.append(fig)
                if runner.answer_key_imports.get(spec.module):
                    attempted = ", ".join(sorted(runner.answer_key_imports[spec.module]))
                    task_checks = [replace(c, status="failed" if c.status == "passed" else c.status, points=0.0,
                                           message=f"the submission tried to import the grader's code ({attempted}); "
                                                   "it scores nothing for this") for c in task_checks]
                checks.extend(task_checks)
                source = sub.modules[spec.module]
                not_run = [c for c in spec.checks if c.visibility not in visibility]
                tasks.append(TaskResult(spec.name, spec.title, spec.module,
                                        source_label(source),
                                        round(sum(c.points for c in task_checks), 6),
                                        round(sum(c.max_points for c in task_checks), 6), spec.version, spec.public_digest,
                                        **not_run_counts(not_run, spec.withheld), ignored=list(source.ignored)))
            if sandbox.refused:  # a restart that came up without a promised protection: nothing of it counts
                raise sandbox.refused
        finally:
            sandbox.close()
    return Results(submission=str(Path(path)), harness_version=__version__,
                   created=datetime.now(timezone.utc).isoformat(timespec="seconds"), tasks=tasks, checks=checks,
                   figures=figures, notes=notes, environment={**environment(), "seeds": {s.name: s.seed for s in specs}},
                   sandbox={"mode": sandbox.mode, "protections": sandbox.protections,
                            "notes": getattr(sandbox, "protection_notes", {}), "worker_starts": sandbox.starts,
                            "limits": sandbox.tree_budget, "tree_peak": sandbox.tree_peak, **start_record(sandbox)},
                   seconds=round(time.perf_counter() - started, 3))
