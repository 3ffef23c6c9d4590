"""Benchmark against the peers: one LSTM-cell notebook graded by otter-grader, nbgrader and the harness.

The assignment is built here: a student's notebook defines ``LSTMCell`` (the contract's cell), and each tool
checks the same three things in its own form — parameter and output shapes, the forward pass over a 5-step
unroll against a reference cell (``torch.nn.LSTMCell``) under fixed weights, and the gradients of every
parameter, the input and the initial state against the reference's. otter gets an exception-format test file
(``otter generate``, then ``otter run`` without a container), nbgrader a source notebook with a locked helper
cell and three autograder-test cells (``generate_assignment``, then ``autograde``), and the harness a tasks
folder whose ``cells`` task keeps only the three matching LSTMCell checks of tasks/cells (``harness check``, and
``harness grade`` of a class of one with one worker, the instructor's path that nbgrader's ``autograde`` matches).
The student's code cell is the same for all three; nbgrader needs it inside its released notebook (with its
test cells), the others read the plain notebook.

The peers are installed into a throwaway virtual environment of their own (or one given by --peers-venv), so
that nothing they pull in (jupyter, pandas, an older or newer library the harness also uses) can change the
harness's own environment or its figures. torch is pinned to 2.13.0, the harness's version.

Timing: whole processes, alternating (harness, otter, nbgrader, harness, …) after one untimed warm-up run of
each; before that, one untimed run of each on a wrong cell (input and forget gates swapped), which every tool must
fail on forward and gradients. Memory: while a run goes, every process of its tree is sampled from /proc: its own
peak RSS (VmHWM, exact per process), its file-backed and anonymous parts, and which copies of libtorch it maps;
the tree's peak is the largest sum of the processes' proportional set sizes (PSS: shared pages split between
the processes that map them, so torch's libraries are not counted twice), sampled every second. The largest
single process's peak (``ru_maxrss`` from wait4, what ``/usr/bin/time -v`` reports) is printed too. This
process makes itself a child subreaper, so a kernel orphaned by its parent is still measured (and reaped).

    python bench/bench_peers.py [--rounds 5] [--peers-venv PATH] [--only harness,harness-grade,otter,nbgrader]
                                [--keep DIR]

Findings (2 cores, shared; figures vary with the load printed beside them): see the paragraph this script
prints under "where the memory goes".
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ("harness", "harness-grade", "otter", "nbgrader")
PEER_PACKAGES = ["otter-grader", "nbgrader", "torch==2.13.0"]
POINTS = {"shapes": 1, "forward": 3, "gradients": 2}  # as tasks/cells/task.toml gives the LSTMCell checks
HARNESS_CHECKS = {kind: f"cells.LSTMCell.{kind}" for kind in POINTS}
MIB = 1024 * 1024

# --------------------------------------------------------------------------- the assignment

STUDENT_CELL = '''\
import torch
from torch import nn


class LSTMCell(nn.Module):
    """One LSTM step. The rows of both weight matrices hold the gates in the order i, f, g, o."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(4 * hidden_size))
        bound = hidden_size ** -0.5
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def forward(self, x, state=None):
        if state is None:
            empty = x.new_zeros(x.shape[0], self.hidden_size)
            state = (empty, empty)
        h, c = state
        pre = torch.addmm(self.bias_ih, x, self.weight_ih.t()) + torch.addmm(self.bias_hh, h, self.weight_hh.t())
        i, f, g, o = pre.split(self.hidden_size, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c
'''

#: The same cell with the input and forget gates swapped: every tool's tests must fail its forward and gradients.
WRONG_CELL = STUDENT_CELL.replace("torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)",
                                  "torch.sigmoid(i) * c + torch.sigmoid(f) * torch.tanh(g)")
assert WRONG_CELL != STUDENT_CELL

DEMO_CELL = '''\
demo = LSTMCell(3, 4)
h, c = demo(torch.randn(2, 3))
print("h", tuple(h.shape), "c", tuple(c.shape))
'''

#: The peers' checks: plain functions that raise AssertionError with a message, called by otter's test cases and
#: by nbgrader's test cells. The reference is torch's own LSTMCell (same parameter names, same gate order).
PEER_CHECKS = '''\
import torch

SIZES = dict(batch=3, steps=5, input_size=4, hidden_size=5)
TOLERANCE = {torch.float64: (1e-6, 1e-7), torch.float32: (1e-4, 1e-5)}  # (rtol, atol), as tasks/cells has them


def fixed_weights(seed=2024):
    gen = torch.Generator().manual_seed(seed)
    d, n = SIZES["input_size"], SIZES["hidden_size"]
    shapes = {"weight_ih": (4 * n, d), "weight_hh": (4 * n, n), "bias_ih": (4 * n,), "bias_hh": (4 * n,)}
    return {name: (torch.rand(shape, generator=gen, dtype=torch.float64) - 0.5) * 1.2 for name, shape in shapes.items()}


def fixed_inputs(seed=7):
    gen = torch.Generator().manual_seed(seed)
    b, t, d, n = SIZES["batch"], SIZES["steps"], SIZES["input_size"], SIZES["hidden_size"]
    draw = lambda *shape: torch.randn(*shape, generator=gen, dtype=torch.float64)
    return draw(b, t, d), draw(b, n) * 0.5, draw(b, n) * 0.5


def loaded(cls, weights, dtype):
    cell = cls(SIZES["input_size"], SIZES["hidden_size"]).to(dtype)
    with torch.no_grad():
        for name, value in weights.items():
            getattr(cell, name).copy_(value.to(dtype))
    return cell


def unroll(cell, x, state):
    outputs = []
    for t in range(x.shape[1]):
        state = cell(x[:, t], state)
        outputs.append(state[0])
    return torch.stack(outputs, 1), state[1]


def close(got, want, dtype, what):
    rtol, atol = TOLERANCE[dtype]
    assert isinstance(got, torch.Tensor), f"{what}: expected a tensor, got {type(got).__name__}"
    assert got.shape == want.shape, f"{what}: shape {tuple(got.shape)}, expected {tuple(want.shape)}"
    err = (got.double() - want.double()).abs() - (atol + rtol * want.double().abs())
    assert (err <= 0).all(), f"{what}: differs from the reference by up to {float(err.max()):.3g} over the tolerance"


def check_shapes(LSTMCell):
    d, n, b = SIZES["input_size"], SIZES["hidden_size"], SIZES["batch"]
    want = {"weight_ih": (4 * n, d), "weight_hh": (4 * n, n), "bias_ih": (4 * n,), "bias_hh": (4 * n,)}
    got = {name: tuple(p.shape) for name, p in LSTMCell(d, n).named_parameters()}
    assert got == want, f"parameters {got}, expected {want}"
    out = LSTMCell(d, n).double()(torch.randn(b, d, dtype=torch.float64), None)
    assert isinstance(out, tuple) and len(out) == 2, "the cell must return (h, c)"
    assert all(tuple(s.shape) == (b, n) for s in out), f"h and c must be ({b}, {n})"


def check_forward(LSTMCell):
    weights, (x, h0, c0) = fixed_weights(), fixed_inputs()
    for dtype, state in ((torch.float64, (h0, c0)), (torch.float32, None)):
        given = None if state is None else tuple(s.to(dtype) for s in state)
        got = unroll(loaded(LSTMCell, weights, dtype), x.to(dtype), given)
        want = unroll(loaded(torch.nn.LSTMCell, weights, dtype), x.to(dtype), given)
        close(got[0], want[0], dtype, f"h over {SIZES['steps']} steps ({dtype})")
        close(got[1], want[1], dtype, f"final c ({dtype})")


def gradients(cls, weights, x, h0, c0):
    cell = loaded(cls, weights, torch.float64)
    leaves = [x.clone().requires_grad_(), h0.clone().requires_grad_(), c0.clone().requires_grad_()]
    hs, c = unroll(cell, leaves[0], (leaves[1], leaves[2]))
    gen = torch.Generator().manual_seed(11)
    loss = (hs * torch.randn(hs.shape, generator=gen, dtype=torch.float64)).sum() + (c * c).sum()
    params = [getattr(cell, name) for name in weights]
    return dict(zip([*weights, "x", "h0", "c0"], torch.autograd.grad(loss, params + leaves, allow_unused=True)))


def check_gradients(LSTMCell):
    weights, (x, h0, c0) = fixed_weights(), fixed_inputs()
    got = gradients(LSTMCell, weights, x, h0, c0)
    want = gradients(torch.nn.LSTMCell, weights, x, h0, c0)
    for name, value in want.items():
        assert got[name] is not None, f"no gradient reaches {name}"
        close(got[name], value, torch.float64, f"gradient of {name}")
'''


def notebook(cells: list[tuple[str, str, dict | None]]) -> dict:
    """An nbformat-4 notebook of (kind, source, nbgrader metadata or None) cells."""
    out = []
    for i, (kind, source, meta) in enumerate(cells):
        cell = {"cell_type": kind, "id": f"cell-{i}", "metadata": {"nbgrader": meta} if meta else {},
                "source": source}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        out.append(cell)
    return {"cells": out, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                                      "name": "python3"},
                                       "language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}


INTRO = "# LSTM cell\nImplement `LSTMCell(input_size, hidden_size)`; `forward(x, state=None)` returns `(h, c)`."


def student_notebook() -> dict:
    """The student's notebook as the harness and otter read it: an introduction, the answer cell, a demo cell."""
    return notebook([("markdown", INTRO, None), ("code", STUDENT_CELL, None), ("code", DEMO_CELL, None)])


def write_json(path: Path, data) -> Path:
    """Write ``data`` as JSON at ``path``, making its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))
    return path


def build_harness(folder: Path) -> Path:
    """``folder``/tasks: a tasks folder whose ``cells`` task keeps the three LSTMCell checks of tasks/cells."""
    task = folder / "tasks" / "cells"
    task.mkdir(parents=True)
    for name in ("answer_key.py", "catalogue.py", "checks.py"):  # the course's own Python, unchanged
        shutil.copy(ROOT / "tasks" / "cells" / name, task / name)
    checks = "\n".join(f'[checks."{cid}"]\npoints = {POINTS[kind]}' for kind, cid in HARNESS_CHECKS.items())
    (task / "task.toml").write_text(textwrap.dedent(f'''\
        [task]
        name = "cells"
        title = "LSTM cell (bench: three checks)"
        module = "cells"
        seed = 2024

        [interface]
        names = ["LSTMCell"]

        [limits]
        timeout_s = 60
        memory_mb = 4096

        [tolerances]
        float64 = {{ rtol = 1e-6, atol = 1e-7 }}
        float32 = {{ rtol = 1e-4, atol = 1e-5 }}

        ''') + checks + "\n")
    return folder / "tasks"


def build_otter(work: Path) -> Path:
    """otter's folder: tests/lstm_cell.py (exception-based test file: three test cases) and the notebook."""
    folder = work / "otter"
    cases = "\n".join(f'@test_case(name="{kind}", points={pts})\n'
                      f'def test_{kind}(LSTMCell):\n    check_{kind}(LSTMCell)\n\n'
                      for kind, pts in POINTS.items())
    tests = folder / "tests"
    tests.mkdir(parents=True)
    (tests / "lstm_cell.py").write_text(
        f'from otter.test_files import test_case\n\nOK_FORMAT = False\nname = "lstm_cell"\n\n{PEER_CHECKS}\n\n{cases}')
    write_json(folder / "lstm.ipynb", student_notebook())
    return folder


def nbgrader_meta(grade_id: str, *, solution=False, grade=False, locked=False, points=None) -> dict:
    """A cell's nbgrader metadata (schema 3): an answer cell, a locked cell, or an autograder-test cell."""
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
            "task": False}
    if grade:
        meta["points"] = points
    return meta


def build_nbgrader(work: Path) -> Path:
    """nbgrader's course folder: nbgrader_config.py and source/lstm/lstm.ipynb (answer, helper and test cells)."""
    course = work / "nbgrader"
    solution = "### BEGIN SOLUTION\n" + STUDENT_CELL + "### END SOLUTION\n"
    cells = [("markdown", INTRO, None), ("code", solution, nbgrader_meta("lstm_cell", solution=True)),
             ("code", DEMO_CELL, None), ("code", PEER_CHECKS, nbgrader_meta("helpers", locked=True))]
    cells += [("code", f"check_{kind}(LSTMCell)", nbgrader_meta(f"test_{kind}", grade=True, locked=True, points=pts))
              for kind, pts in POINTS.items()]
    write_json(course / "source" / "lstm" / "lstm.ipynb", notebook(cells))
    (course / "nbgrader_config.py").write_text(
        f'c = get_config()\nc.CourseDirectory.root = {str(course)!r}\nc.CourseDirectory.course_id = "bench"\n')
    return course


# --------------------------------------------------------------------------- measuring a process tree


@dataclass
class Proc:
    """What the sampler saw of one process."""
    command: str
    hwm: int = 0            # VmHWM, bytes: the process's own peak RSS
    file_at_peak: int = 0   # RssFile + RssShmem when RSS was largest
    anon_at_peak: int = 0
    torch_libs: set = field(default_factory=set)  # distinct libtorch_cpu files mapped (a second one = a second copy)


@dataclass
class Run:
    tool: str
    seconds: float
    status: int
    cpu_seconds: float      # user + system CPU time of the whole tree (wait4: the root and every process reaped)
    largest_rss: int        # ru_maxrss of wait4 (the largest single process of the tree, reaped ones included)
    tree_pss_peak: int      # largest sum of PSS over the live tree, sampled
    procs: dict             # pid -> Proc
    root: int
    output: str = ""


def set_subreaper() -> None:
    """Orphans of a run (a kernel its parent left behind) come back to this process, so they stay measurable."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def status_fields(pid: int) -> dict:
    """Peak and current RSS and its parts (bytes) from /proc/PID/status; empty once the process is gone."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem"):
                out[key] = int(value.split()[0]) * 1024
    except (OSError, ValueError):
        pass
    return out


def descendants(root: int) -> list[int]:
    """Every live process under ``root``, found by parent links in /proc."""
    parents = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        children = [p for p, pp in parents.items() if pp == pid]
        found += children
        frontier += children
    return found


def pss(pid: int) -> int:
    """The process's proportional set size (bytes): its private pages plus its share of the pages it shares."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def command_of(pid: int) -> str:
    """The first words of the process's command line, for the memory table."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    words = [Path(a.decode(errors="replace")).name if i == 0 else a.decode(errors="replace") for i, a in
             enumerate(argv[:4]) if a]
    return " ".join(words)[:70]


def torch_maps(pid: int) -> set:
    """The libtorch_cpu.so files the process maps: one per copy of torch loaded."""
    try:
        lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
    except OSError:
        return set()
    return {line.split()[-1] for line in lines if line.endswith("libtorch_cpu.so")}


class Sampler(threading.Thread):
    """The processes under this one, sampled: their RSS and its parts every 0.2 s; the torch libraries they map and
    the tree's summed PSS every 1 s (reading smaps costs ~15 ms a torch process: more often would steal the cores
    the runs are timed on)."""

    TICK, SLOW_EVERY = 0.2, 5

    def __init__(self):
        super().__init__(daemon=True)
        self.procs: dict[int, Proc] = {}
        self.tree_pss_peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        me, tick = os.getpid(), 0
        while not self.stop.is_set():
            total, slow = 0, tick % self.SLOW_EVERY == 0
            for pid in descendants(me):
                st = status_fields(pid)
                if not st:
                    continue
                new = pid not in self.procs
                proc = self.procs.setdefault(pid, Proc(command_of(pid)))
                if st.get("VmRSS", 0) >= proc.file_at_peak + proc.anon_at_peak:
                    proc.file_at_peak = st.get("RssFile", 0) + st.get("RssShmem", 0)
                    proc.anon_at_peak = st.get("RssAnon", 0)
                proc.hwm = max(proc.hwm, st.get("VmHWM", 0))
                proc.command = command_of(pid) or proc.command  # after an exec, the new program's
                if slow or new:
                    proc.torch_libs |= torch_maps(pid)
                if slow:
                    total += pss(pid)
            if slow:
                self.tree_pss_peak = max(self.tree_pss_peak, total)
            tick += 1
            self.stop.wait(self.TICK)


def measure(tool: str, argv: list[str], cwd: Path, env: dict) -> Run:
    """Run one command to the end; its wall time, status, output and what its process tree used."""
    sampler = Sampler()
    sampler.start()
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    chunks = []
    reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read()), daemon=True)
    reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    largest, cpu = usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime
    deadline = time.monotonic() + 10  # orphans handed to this process: let them end, then end them
    while True:
        try:
            pid, _, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid:
            largest, cpu = max(largest, usage.ru_maxrss * 1024), cpu + usage.ru_utime + usage.ru_stime
            continue
        if time.monotonic() > deadline:
            for orphan in descendants(os.getpid()):
                os.kill(orphan, signal.SIGKILL)
        time.sleep(0.05)
    sampler.stop.set()
    sampler.join()
    reader.join(timeout=5)
    output = (chunks[0] if chunks else b"").decode(errors="replace")
    return Run(tool, seconds, proc.returncode, cpu, largest, sampler.tree_pss_peak, sampler.procs, proc.pid, output)


# --------------------------------------------------------------------------- the tools


def venv_env(bin_dir: Path) -> dict:
    """This process's environment for a command of the virtual environment ``bin_dir`` belongs to."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(bin_dir.parent)
    return env


def installed_versions(python: Path, names: list[str]) -> dict:
    """The versions of ``names`` installed for ``python`` (None for a missing one)."""
    code = ("import importlib.metadata as m, json, sys\n"
            "out = {}\n"
            "for n in sys.argv[1:]:\n"
            "    try: out[n] = m.version(n)\n"
            "    except m.PackageNotFoundError: out[n] = None\n"
            "print(json.dumps(out))")
    done = subprocess.run([str(python), "-c", code, *names], capture_output=True, text=True)
    return json.loads(done.stdout) if done.returncode == 0 else {n: None for n in names}


def prepare_peers_venv(path: Path | None, work: Path) -> tuple[Path | None, dict, str]:
    """The peers' own virtual environment: reused when it already has both peers, else made and filled."""
    venv = path or work / "peers-venv"
    python = venv / "bin" / "python"
    names = ["otter-grader", "nbgrader", "torch"]
    if python.exists():
        versions = installed_versions(python, names)
        if versions["otter-grader"] and versions["nbgrader"]:
            print(f"reusing the peers' environment {venv}: otter-grader {versions['otter-grader']}, "
                  f"nbgrader {versions['nbgrader']}, torch {versions['torch']}")
            return python, versions, ""
    else:
        made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True)
        if made.returncode != 0:
            return None, {}, f"could not make a virtual environment at {venv}: {made.stderr.strip()[-500:]}"
    report = work / "pip-report.json"
    dry = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--dry-run", "--report", str(report),
                          *PEER_PACKAGES], capture_output=True, text=True)
    planned = {}
    if dry.returncode == 0 and report.exists():
        planned = {item["metadata"]["name"].lower(): item["metadata"]["version"]
                   for item in json.loads(report.read_text())["install"]}
    cuda = sorted(n for n in planned if n.startswith("nvidia"))
    print(f"installing otter-grader {planned.get('otter-grader', '?')}, nbgrader {planned.get('nbgrader', '?')} "
          f"(torch {planned.get('torch', '?')}, {len(planned)} packages in all) into {venv} — a throwaway "
          "environment of their own, so that nothing they pull in touches the harness's"
          + (f"; WARNING: pip would also install {', '.join(cuda)}" if cuda else ""))
    start = time.perf_counter()
    done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PEER_PACKAGES], capture_output=True,
                          text=True)
    if done.returncode != 0:
        return None, {}, f"pip install {' '.join(PEER_PACKAGES)} failed: {(done.stderr or done.stdout).strip()[-800:]}"
    versions = installed_versions(python, names)
    print(f"  installed in {time.perf_counter() - start:.0f} s: otter-grader {versions['otter-grader']}, "
          f"nbgrader {versions['nbgrader']}, torch {versions['torch']}")
    return python, versions, ""


@dataclass
class Score:
    """What one tool's own results say of a run."""
    ran: int       # checks (test cases, test cells) run
    passed: int
    points: float
    max_points: float
    extra: dict = field(default_factory=dict)


@dataclass
class Tool:
    """How to run one tool on the assignment, hand it a student's code cell, and read its results."""
    name: str
    version: str
    argv: list[str]
    cwd: Path
    env: dict
    submit: Callable[[str], None]    # write the student's notebook with this code cell, clear old results
    score: Callable[[], Score]


def student_cell_of(notebook_data: dict, code: str) -> dict:
    """The notebook with its student answer cell (the one defining LSTMCell) replaced by ``code``."""
    for cell in notebook_data["cells"]:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        answer = "class LSTMCell" in source or cell["metadata"].get("nbgrader", {}).get("solution")
        if cell["cell_type"] == "code" and answer:
            cell["source"] = code
    return notebook_data


def peer_env(python: Path, folder: Path) -> dict:
    """The peers' environment variables: their venv first on PATH, Jupyter's files kept inside the bench folder."""
    return {**venv_env(python.parent), "JUPYTER_CONFIG_DIR": str(folder / ".jupyter"),
            "JUPYTER_DATA_DIR": str(folder / ".jupyter-data"), "JUPYTER_RUNTIME_DIR": str(folder / ".jupyter-run")}


def harness_tool(work: Path, command: str = "check") -> Tool:
    """The harness's ``check`` of one folder (the student's and CI's path), or its ``grade`` of a class of one
    student with one worker process (the instructor's path: hidden checks, reports, gradebook)."""
    name = "harness" if command == "check" else f"harness-{command}"
    folder, exe = work / name, Path(sys.executable).parent / "harness"
    tasks, out = build_harness(folder), folder / "out"
    if command == "check":
        student, results = folder / "student", out / "results.json"
        argv = [str(exe), "check", str(student), "--json", str(results), "--report", str(out / "report.html")]
    else:
        student, results = folder / "class" / "student1", out / "submissions" / "student1" / "results.json"
        argv = [str(exe), "grade", str(student.parent), "--out", str(out), "--workers", "1", "--regrade"]
    argv += ["--task", "cells", "--tasks-dir", str(tasks)]

    def submit(code: str) -> None:
        shutil.rmtree(out, ignore_errors=True)
        write_json(student / "cells.ipynb", student_cell_of(student_notebook(), code))

    def score() -> Score:
        data = json.loads(results.read_text())
        ran = [c for c in data["checks"] if c.get("status") != "skipped"]
        return Score(len(ran), sum(c["status"] == "passed" for c in ran), data["score"], data["max_score"],
                     {"sandbox": data.get("sandbox", {}), "seconds": data.get("seconds")})

    words = subprocess.run([str(exe), "--version"], capture_output=True, text=True).stdout.split()
    return Tool(name, words[-1] if words else "?", argv, folder, venv_env(exe.parent), submit, score)


def otter_tool(work: Path, python: Path, version: str) -> Tool:
    folder = build_otter(work)
    env = peer_env(python, folder)
    made = subprocess.run([str(python.parent / "otter"), "generate", "--no-config", "--no-requirements",
                           "--no-environment", "-t", "tests", "-o", "autograder.zip"], cwd=folder, env=env,
                          capture_output=True, text=True)
    if made.returncode != 0:
        raise RuntimeError(f"otter generate failed: {(made.stderr or made.stdout).strip()[-800:]}")
    out = folder / "out"
    argv = [str(python.parent / "otter"), "run", "-a", "autograder.zip", "-o", str(out), "--no-logo", "lstm.ipynb"]

    def submit(code: str) -> None:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        write_json(folder / "lstm.ipynb", student_cell_of(student_notebook(), code))

    def score() -> Score:
        data = json.loads((out / "results.json").read_text())  # Gradescope's form: one entry per test file
        entry = next(t for t in data["tests"] if t["name"] == "lstm_cell")
        failed = entry.get("output", "").count("❌")  # otter marks each failed test case so
        return Score(len(POINTS), len(POINTS) - failed, entry["score"], entry["max_score"])

    return Tool("otter", version, argv, folder, env, submit, score)


def nbgrader_tool(work: Path, python: Path, version: str) -> Tool:
    course = build_nbgrader(work)
    env = peer_env(python, course)
    exe = str(python.parent / "nbgrader")
    made = subprocess.run([exe, "generate_assignment", "lstm", "--force"], cwd=course, env=env, capture_output=True,
                          text=True)
    released = course / "release" / "lstm" / "lstm.ipynb"
    if made.returncode != 0 or not released.exists():
        raise RuntimeError(f"nbgrader generate_assignment failed: {(made.stderr or made.stdout).strip()[-800:]}")
    argv = [exe, "autograde", "lstm", "--force"]

    def submit(code: str) -> None:  # the student fills in the released notebook's answer cell
        shutil.rmtree(course / "autograded", ignore_errors=True)
        write_json(course / "submitted" / "student1" / "lstm" / "lstm.ipynb",
                   student_cell_of(json.loads(released.read_text()), code))

    def score() -> Score:
        db = sqlite3.connect(course / "gradebook.db")
        try:
            rows = db.execute("SELECT base_cell.name, grade.auto_score, grade_cells.max_score FROM grade "
                              "JOIN grade_cells ON grade.cell_id = grade_cells.id "
                              "JOIN base_cell ON base_cell.id = grade.cell_id").fetchall()
        finally:
            db.close()
        return Score(len(rows), sum(1 for _, got, top in rows if got is not None and got >= top),
                     sum(got or 0 for _, got, _ in rows), sum(top for _, _, top in rows))

    return Tool("nbgrader", version, argv, course, env, submit, score)


# --------------------------------------------------------------------------- report


def mib(n: float) -> str:
    """Bytes as whole MiB."""
    return f"{n / MIB:.0f}"


def machine_facts(label: str) -> str:
    """The load average now, for the reader to judge how busy the machine was."""
    one, five, fifteen = os.getloadavg()
    return f"load average {label}: {one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min)"


def print_memory(runs: dict[str, list[Run]], sandbox: dict, harness: Tool | None) -> None:
    """Memory by process for each tool, then the harness's judge and worker apart and where their memory goes."""
    print("\nmemory by process (the last timed run of each tool; peak = VmHWM, the process's own peak RSS; file = "
          "RssFile+RssShmem and anon = RssAnon at its largest sampled RSS; torch = libtorch_cpu.so files mapped):")
    for tool, tool_runs in runs.items():
        run = tool_runs[-1]
        print(f"  {tool}: tree peak {mib(run.tree_pss_peak)} MiB PSS (sampled), largest process "
              f"{mib(run.largest_rss)} MiB RSS (wait4)")
        for pid, p in sorted(run.procs.items()):
            role = "root" if pid == run.root else "child"
            print(f"    {role:5} {p.command[:56]:56} peak {mib(p.hwm):>4} MiB  file {mib(p.file_at_peak):>4}  "
                  f"anon {mib(p.anon_at_peak):>4}  torch {len(p.torch_libs)}")
        copies = max([len(p.torch_libs) for p in run.procs.values()] or [0])
        loaded = sum(1 for p in run.procs.values() if p.torch_libs)
        print(f"    torch: {loaded} process(es) of the tree load it, at most {copies} copy per process")
    if "harness" not in runs:
        return
    run = runs["harness"][-1]
    judge = run.procs.get(run.root)
    workers = [p for pid, p in run.procs.items() if pid != run.root and p.torch_libs]
    worker = max(workers, key=lambda p: p.hwm) if workers else None
    print(f"\n  harness judge: peak {mib(judge.hwm) if judge else '?'} MiB RSS; worker: peak "
          f"{mib(worker.hwm) if worker else '?'} MiB RSS; the worker's control group's peak (results JSON "
          f"sandbox.tree_peak): {sandbox.get('tree_peak') or 'not recorded'} ({sandbox.get('mode', '?')} isolation)")
    bare, with_torch, with_cli = (peak_after(code) for code in ("pass", "import torch", "import harness.cli, torch"))
    print(f"  for scale, the peak RSS of a fresh interpreter of the harness's environment: bare {mib(bare)} MiB, after "
          f"`import torch` {mib(with_torch)} MiB, after importing the judge's command-line module and torch "
          f"{mib(with_cli)} MiB")
    if harness is not None:
        peak, modules, heavy = judge_probe(harness)
        print(f"  the judge run once more in-process with a hook at exit: peak {mib(peak)} MiB, {modules} modules "
              f"loaded, among them {', '.join(heavy) or 'none of ' + ', '.join(HEAVY)}; a fresh interpreter that "
              f"imports just those peaks at {mib(peak_after('import ' + ', '.join(heavy))) if heavy else '-'} MiB")
    if judge and worker:
        print("\n  where the memory goes: " + textwrap.fill(
            f"the judge's {mib(judge.hwm)} MiB are {mib(judge.file_at_peak)} MiB of mapped files (torch's shared "
            f"libraries for the most part, pages the worker shares through the page cache) and "
            f"{mib(judge.anon_at_peak)} MiB of its own memory (the Python modules it imports, the answer key, torch's "
            f"heap); the worker's {mib(worker.hwm)} MiB split {mib(worker.file_at_peak)} MiB files, "
            f"{mib(worker.anon_at_peak)} MiB its own. The checks' tensors are tiny (a 3x5x4 unroll): of the judge's "
            f"peak, {mib(with_torch)} MiB is what any interpreter that imports torch holds, "
            f"{mib(max(with_cli - with_torch, 0))} MiB more the judge's own modules at start-up, and the remaining "
            f"{mib(max(judge.hwm - with_cli, 0))} MiB what grading adds (the task's answer key and checks, the "
            "programs and their tensors, the report); the worker is torch plus the student's notebook. Shared "
            "library pages are counted once in the PSS tree peak.",
            width=110, subsequent_indent="  "))


def peak_after(code: str) -> int:
    """The peak RSS (bytes) of a fresh interpreter of this environment that runs ``code``."""
    probe = code + "\nimport re\nprint(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    return int(done.stdout.split()[-1]) * 1024 if done.returncode == 0 and done.stdout.split() else 0


HEAVY = ("torch", "torch._inductor", "torch._dynamo", "numpy", "scipy", "scipy.stats", "sympy", "matplotlib", "PIL",
         "pandas", "sklearn", "jinja2", "nbformat", "jsonschema", "rich")  # packages a judge may not need to load

JUDGE_PROBE = """
import atexit, re, sys
heavy = set(sys.argv.pop(-1).split(','))
def report():
    status = open('/proc/self/status').read()
    loaded = sorted((set(sys.modules) | {m.split('.')[0] for m in sys.modules}) & heavy)
    print('JUDGE-PROBE', re.search(r'VmHWM:\\s+(\\d+)', status).group(1), len(sys.modules), ','.join(loaded),
          file=sys.__stderr__)
atexit.register(report)
sys.argv = ['harness'] + sys.argv[1:]
from harness.cli import main
main()
"""


def judge_probe(tool: Tool) -> tuple[int, int, list[str]]:
    """The harness's judge run once more in-process with a hook at exit: its peak RSS, how many modules it has
    loaded by then, and which of the heavy packages are among them."""
    done = subprocess.run([sys.executable, "-c", JUDGE_PROBE, *tool.argv[1:], ",".join(HEAVY)], cwd=tool.cwd,
                          env=tool.env, capture_output=True, text=True)
    line = next((l for l in done.stderr.splitlines() if l.startswith("JUDGE-PROBE")), "")
    parts = line.split() + [""] * 4
    peak, modules = (int(parts[1]) * 1024 if parts[1] else 0), (int(parts[2]) if parts[2] else 0)
    return peak, modules, [p for p in parts[3].split(",") if p]


def print_table(tools: list[Tool], timed: dict[str, list[Run]], scores: dict[str, Score]) -> None:
    """The final table: per tool, checks, points, wall and CPU medians with ratios to the harness, memory."""
    base = statistics.median(r.seconds for r in timed["harness"]) if "harness" in timed else None
    cpu_base = statistics.median(r.cpu_seconds for r in timed["harness"]) if "harness" in timed else None
    print(f"\n{'tool':13} {'version':8} {'checks':>6} {'points':>6} {'median s':>8} {'min–max s':>12} "
          f"{'harness/tool':>12} {'cpu s':>6} {'harness/tool':>12} {'tree MiB':>8} {'largest MiB':>11}")
    for tool in tools:
        if tool.name not in timed:
            continue
        secs = [r.seconds for r in timed[tool.name]]
        med, s = statistics.median(secs), scores[tool.name]
        cpu = statistics.median(r.cpu_seconds for r in timed[tool.name])
        ratio = f"{base / med:12.2f}" if base else f"{'-':>12}"
        cpu_ratio = f"{cpu_base / cpu:12.2f}" if cpu_base else f"{'-':>12}"
        print(f"{tool.name:13} {tool.version:8} {f'{s.passed}/{s.ran}':>6} {f'{s.points:g}/{s.max_points:g}':>6} "
              f"{med:8.2f} {f'{min(secs):.2f}–{max(secs):.2f}':>12} {ratio} {cpu:6.2f} {cpu_ratio} "
              f"{mib(max(r.tree_pss_peak for r in timed[tool.name])):>8} "
              f"{mib(max(r.largest_rss for r in timed[tool.name])):>11}")
    print("checks: passed/run as each tool counts them (the harness: cells.LSTMCell.shapes, .forward, .gradients of "
          "tasks/cells; otter: three test cases of one test file; nbgrader: three autograder-test cells); tree MiB: "
          "peak of the summed PSS of the process tree, sampled every 1 s; largest MiB: ru_maxrss of the largest "
          "single process (as /usr/bin/time -v reports it); harness/tool: the harness's median over the tool's, "
          "below 1 when the harness is faster; cpu s: median user+system CPU seconds of the whole process tree, less "
          "sensitive than wall time to what else the machine runs.")
    if "nbgrader" in timed:
        autograde = statistics.median(r.seconds for r in timed["nbgrader"])
        for name in ("harness", "harness-grade"):
            if name in timed:
                ratio = statistics.median(r.seconds for r in timed[name]) / autograde
                print(f"{name} / nbgrader autograde, median wall time: {ratio:.2f} (issue 18's target, at most "
                      f"0.50: {'met' if ratio <= 0.5 else 'NOT met'})")
    print("figures are noisy: 2 cores shared with other work; compare the load averages printed before and after.")


def graded(tool: Tool) -> tuple[Run, Score | None, str]:
    """One run of a tool on what it was last handed: the run, what its results say, and why they are missing."""
    run = measure(tool.name, tool.argv, tool.cwd, tool.env)
    try:
        return run, tool.score(), ""
    except Exception as exc:  # no results: the run's output says why
        return run, None, (f"exit status {run.status}, no results ({type(exc).__name__}: {exc}); its output ends:\n"
                           + textwrap.indent(run.output[-1500:], "    "))


def sanity(tools: list[Tool], problems: dict[str, str]) -> None:
    """Each tool's tests must fail a wrong cell: one untimed run of each on the cell with i and f swapped."""
    print("\nsanity (untimed): a cell with the input and forget gates swapped")
    for tool in tools:
        tool.submit(WRONG_CELL)
        run, score, why = graded(tool)
        if score is None:
            problems[tool.name] = why
            continue
        verdict = ("shapes pass; forward and gradients fail" if score.passed == 1 else
                   "NOT the expected verdict: only shapes should pass")
        print(f"  {tool.name:13} {score.passed}/{score.ran} checks passed, {score.points:g}/{score.max_points:g} "
              f"points ({verdict})")
        tool.submit(STUDENT_CELL)


def setup(only: list[str], work: Path, peers_venv: Path | None, problems: dict[str, str]) -> list[Tool]:
    """Build each chosen tool's form of the assignment (installing the peers first); a failure goes to ``problems``."""
    tools = []
    tools += [harness_tool(work, command) for command, name in (("check", "harness"), ("grade", "harness-grade"))
              if name in only]
    peers = [t for t in only if not t.startswith("harness")]
    if not peers:
        return tools
    python, versions, why = prepare_peers_venv(peers_venv, work)
    if python is None:
        problems.update({t: why for t in peers})
        return tools
    for name, make, package in (("otter", otter_tool, "otter-grader"), ("nbgrader", nbgrader_tool, "nbgrader")):
        if name in peers:
            try:
                tools.append(make(work, python, versions.get(package) or "?"))
            except Exception as exc:  # a peer that cannot be set up is reported; the others still run
                problems[name] = f"{type(exc).__name__}: {exc}"
    return tools


def main() -> None:
    """Parse the options, set up, check the tools fail a wrong cell, time the rounds, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5), after one warm-up run each")
    parser.add_argument("--peers-venv", type=Path, help="reuse (or make here) the peers' virtual environment")
    parser.add_argument("--only", default=",".join(TOOLS),
                        help=f"comma-separated subset of {','.join(TOOLS)} (default: all; harness = `harness check`, "
                             "harness-grade = `harness grade` of a class of one)")
    parser.add_argument("--keep", type=Path, help="build the assignments here and keep them")
    args = parser.parse_args()
    only = [t for t in args.only.split(",") if t]
    unknown = set(only) - set(TOOLS)
    if unknown:
        parser.error(f"--only: unknown tool(s) {', '.join(sorted(unknown))}; choose from {', '.join(TOOLS)}")

    work = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="harness-bench-peers-"))
    work.mkdir(parents=True, exist_ok=True)
    set_subreaper()
    import torch

    print(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, torch {torch.__version__} "
          f"(harness environment), {platform.platform()}")
    print(machine_facts("before"))
    problems: dict[str, str] = {}
    try:
        tools = setup(only, work, args.peers_venv, problems)
        sanity(tools, problems)
        tools = [t for t in tools if t.name not in problems]
        runs: dict[str, list[Run]] = {t.name: [] for t in tools}
        scores: dict[str, Score] = {}
        print(f"\none untimed warm-up run each, then {args.rounds} alternating rounds: {', '.join(runs)}")
        for round_no in range(args.rounds + 1):
            for tool in tools:
                if tool.name in problems:
                    continue
                tool.submit(STUDENT_CELL)
                run, score, why = graded(tool)
                if score is None:
                    problems[tool.name] = why
                    continue
                scores[tool.name] = score
                label = "warm-up" if round_no == 0 else f"round {round_no}"
                inside = f" (its grading: {score.extra['seconds']:.2f} s)" if score.extra.get("seconds") else ""
                print(f"  {label:8} {tool.name:13} {run.seconds:6.2f} s{inside}  cpu {run.cpu_seconds:5.2f} s  exit "
                      f"{run.status}  checks {score.passed}/{score.ran}  tree {mib(run.tree_pss_peak)} MiB PSS, "
                      f"largest process {mib(run.largest_rss)} MiB")
                if score.passed != score.ran or run.status != 0:
                    print(textwrap.indent(run.output[-1200:], "    "))
                if round_no:
                    runs[tool.name].append(run)
        print(machine_facts("after"))
        for name, why in problems.items():
            print(f"\n{name}: not measured — {why}")
        timed = {name: r for name, r in runs.items() if r and name not in problems}
        print_table(tools, timed, scores)
        print_memory(timed, scores["harness"].extra.get("sandbox", {}) if "harness" in scores else {},
                     next((t for t in tools if t.name == "harness"), None))
        print(f"\nassignment folders: {work}" + ("" if args.keep else " (removed; --keep DIR keeps them)"))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
