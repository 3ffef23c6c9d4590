"""Finding a submission's modules and preparing the scratch copy the worker runs on.

Trusted side: this reads files (JSON notebooks, TOML) but never executes a submission's code. Notebooks
become plain Python in the scratch copy: code cells in order, IPython magics and shell lines skipped (and
reported), stored outputs ignored; under ``[notebook] run = "definitions"`` (the default; task.toml, or the
submission's harness.toml) only their definitions are kept (harness.definitions), each statement left out reported.

Which file is graded for a contract module ``<stem>``, in this order:

1. the file the student asked for (``harness.check("x.ipynb")``, ``harness check x.ipynb``);
2. the file the submission's ``harness.toml`` maps the stem to (``[modules] generation = "my_lm.ipynb"``);
3. ``<stem>.py`` or ``<stem>.ipynb``, whichever exists; when both do, the one the student wrote code in
   rather than an unchanged starter. A file is an unchanged starter when it defines at least one name of the
   task's contract and every one it defines is a stub: a function whose body (its docstring aside) only
   raises or passes, a class whose methods other than ``__init__`` all do. This is read from the source
   with ``ast``, never run, and does not depend on how the starter was made. When both files hold code of
   their own (or both are starters), ``<stem>.py`` is graded as it always was. A file the reader refuses (a
   link, a file over the size cap, a notebook that is not JSON) is never preferred to one it can read.

Every other candidate that exists is recorded as ignored, with why, and the terminal, the report and the
inline notebook report say so.
"""
from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .definitions import DEFAULT_RUN, RUN_KEY, SKIP_MARKED, Selector, Skipped, cell_marker, importable, \
    missing_module, not_installed, read_run
from .errors import SpecError, SubmissionError  # noqa: F401 - SubmissionError: raised here, imported from here
from .files import MIB, FileRefused, TooManyEntries, read_regular, walk
from .parsing import parse
from .runtime.config import Limits

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: Cell magics whose body is still Python: the magic line is dropped, the code kept.
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug"}
COPY_SIZE_LIMIT = 20 * MIB    # larger files (data, checkpoints) are left out of the worker's copy
COPY_TOTAL_LIMIT = 256 * MIB  # the copy as a whole: past it the submission is not graded
MAX_ENTRIES = 20_000          # files and folders walked in a submission (copy, content hash, search)
HARNESS_TOML_BYTES = 64 * 1024
SOURCE_KEY = "[limits] source_mb in the task's task.toml"
SKIP_DIRS = {".git", "__pycache__", ".ipynb_checkpoints", ".venv", "venv", "node_modules"}


@dataclass
class ModuleSource:
    """Where a contract module of a submission comes from, or why it cannot be used."""

    stem: str
    path: Path | None = None
    kind: str | None = None              # "py" | "ipynb"
    problem: str | None = None           # set when the module cannot be graded
    python: str | None = None            # the source the worker will import
    skipped: list[Skipped] = field(default_factory=list)
    line_map: list[tuple[int, int]] = field(default_factory=list)  # notebook: line -> (cell, line)
    ignored: list[str] = field(default_factory=list)  # other files for this module, not graded: "name (why)"
    run: str | None = None               # notebook: "definitions" or "all" (harness.definitions), and who said so
    run_from: str = ""
    lost: dict[str, Skipped] = field(default_factory=dict)  # notebook: a name only a skipped statement defines

    @property
    def display_name(self) -> str:
        return self.path.name if self.path else f"{self.stem}.py"

    def locate_line(self, line: int) -> str:
        """A place a student can find: ``cells.py, line 12`` or ``cells.ipynb, cell 3, line 4``."""
        if self.kind == "ipynb" and 0 < line <= len(self.line_map):
            cell, cell_line = self.line_map[line - 1]
            return f"{self.display_name}, cell {cell}, line {cell_line}"
        return f"{self.display_name}, line {line}"

    def explain(self, info: dict) -> str:
        """What to add to an error the worker reported from this module: for a NameError of a name that only a
        statement the grader skipped defines, that statement; for a missing module, what the grader runs."""
        message, kind = str(info.get("message", "")), info.get("type")
        if kind == "NameError":
            name = re.match(r"name '(\w+)' is not defined", message)
            lost = self.lost.get(name.group(1)) if name else None
            if lost:
                return (f"; {name.group(1)} is defined only by {lost.text} ({self.display_name}, cell {lost.cell}, "
                        f"line {lost.line}), which the grader skipped: {lost.why}. Define it in a cell of definitions "
                        "(a constant, not computed from data), or mark that cell '# harness: keep'")
        module = missing_module(message) if kind == "ModuleNotFoundError" else None
        if module:
            return f"; {not_installed(module)}"
        return ""

    def run_note(self) -> str | None:
        """The report's line on how a notebook was graded."""
        if self.kind != "ipynb" or self.python is None or self.run is None:
            return None
        if self.run == "all":
            return f"{self.display_name}: every cell was run ({RUN_KEY} = \"all\", from {self.run_from})"
        return (f"{self.display_name}: definitions only were run — imports, def and class statements, and "
                f"assignments of constants ({RUN_KEY} = \"definitions\", from {self.run_from}); each statement left "
                "out is listed with why, and a cell marked '# harness: keep' runs whole")


@dataclass
class Submission:
    root: Path
    modules: dict[str, ModuleSource]
    maps: dict[str, dict] = field(default_factory=dict)  # harness.toml [map.<module>]: contract name -> MapEntry


def is_self_check_cell(text: str) -> bool:
    """A cell that only imports the harness and calls it (``harness.check("desafio.ipynb")``): how a student
    checks a notebook from inside it. Graded, such a cell would be an import of the grader's code."""
    try:
        body = parse(text).body
    except (SyntaxError, ValueError, MemoryError, RecursionError):  # not Python, or too deep for the parser
        return False
    names = {"harness"}

    def from_harness(node) -> bool:
        if isinstance(node, ast.Import):
            return all(a.name == "harness" or a.name.startswith("harness.") for a in node.names)
        if isinstance(node, ast.ImportFrom):
            if node.module == "harness" or (node.module or "").startswith("harness."):
                names.update(a.asname or a.name for a in node.names)
                return True
        return False

    def calls_harness(node) -> bool:
        """``harness.check(…)``, ``r = check(…)``, ``r``, ``display(r)``: a call of the harness or its result."""
        value = getattr(node, "value", None)
        while isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in ("display", "print"):
            value = value.args[0] if value.args else None
        if isinstance(value, ast.Name):
            return value.id in names
        if not isinstance(value, ast.Call):
            return False
        func = value.func
        while isinstance(func, ast.Attribute):
            func = func.value
        if not (isinstance(func, ast.Name) and func.id in names):
            return False
        if isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        return True

    return bool(body) and all(from_harness(n) or (isinstance(n, (ast.Expr, ast.Assign)) and calls_harness(n))
                              for n in body)


def notebook_to_python(path: Path, text: str | None = None, run: str = DEFAULT_RUN,
                       run_from: str = "the default") -> ModuleSource:
    """Validate a notebook with nbformat and turn its code cells into one Python file. ``text``: the
    notebook as read (by ``locate``, with its checks); without it the file at ``path`` is read the same way.
    ``run``: "definitions" keeps only the statements harness.definitions calls definitions, "all" every
    statement; in both, a cell marked ``# harness: skip`` is left out and magics and shell lines are skipped."""
    import nbformat

    source = ModuleSource(stem=path.stem, path=path, kind="ipynb", run=run, run_from=run_from)
    try:
        if text is None:
            text = read_regular(path.parent, path.name, Limits().source_mb * MIB).decode("utf-8")
        nb = nbformat.reads(text, as_version=4)
    except FileRefused as exc:
        source.problem = str(exc)
        return source
    except Exception as exc:  # nbformat raises NotJSONError, ValidationError, UnicodeDecodeError...
        source.problem = (f"{path.name} is not a readable notebook ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0][:200] if str(exc) else 'no detail'}); "
                          "save it again from Jupyter, or submit a .py file")
        return source
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        source.problem = (f"{path.name} is not a valid notebook: {exc.message[:200]}; "
                          "save it again from Jupyter, or submit a .py file")
        return source
    lines: list[str] = []
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    selector = Selector(installed=importable(path.parent))
    for number, cell in enumerate(code_cells, start=1):
        cell_lines = cell.source.splitlines()
        first = cell_lines[0].strip() if cell_lines else ""
        if first.startswith("%%"):
            magic = first[2:].split()[0] if len(first) > 2 else ""
            if magic not in PYTHON_CELL_MAGICS:
                source.skipped.append(Skipped(number, 1, first, f"cell magic %%{magic}: the whole cell is skipped"))
                continue
        if is_self_check_cell(cell.source):
            source.skipped.append(Skipped(number, 1, first, "a harness self-check cell: the whole cell is skipped"))
            continue
        marker = cell_marker(cell.source, cell.get("metadata", {}).get("tags"))
        if marker == "skip" and run == "all":
            source.skipped.append(Skipped(number, 1, first, SKIP_MARKED))
            continue
        lines.append(f"# --- notebook code cell {number}")
        source.line_map.append((number, 0))
        cell_python = []
        for i, text in enumerate(cell_lines, start=1):
            stripped = text.lstrip()
            indent = text[: len(text) - len(stripped)]
            why = None
            if i == 1 and stripped.startswith("%%"):
                why = "cell magic line"
            elif stripped.startswith("%"):
                why = "line magic"
            elif stripped.startswith("!"):
                why = "shell command"
            elif re.match(r"^[A-Za-z_]\w*\s*=\s*[!%]", stripped):
                why = "shell or magic assignment"
            if why:
                source.skipped.append(Skipped(number, i, stripped, why))
                cell_python.append(f"{indent}pass  # skipped by the grader ({why}): {stripped[:80]}")
            else:
                cell_python.append(text)
            source.line_map.append((number, i))
        if run == "definitions":
            cell_python, skipped = selector.cell(number, cell_python, marker)
            source.skipped.extend(skipped)
        lines.extend(cell_python)
    source.lost = selector.lost
    source.python = "\n".join(lines) + "\n"
    try:
        source.python.encode("utf-8")
    except UnicodeEncodeError as exc:  # JSON may escape a lone surrogate ("\\udce9"); no Python file can hold one
        line = source.python.count("\n", 0, exc.start) + 1
        source.problem = (f"{source.locate_line(line)} holds {exc.object[exc.start]!r}, half of a character that "
                          "is not valid Unicode; retype that text, or mark the cell '# harness: skip'")
        source.python = None
    return source


def _harness_toml(root: Path) -> tuple[Path, dict]:
    """The submission's harness.toml, read (empty when there is none): a regular file of at most
    HARNESS_TOML_BYTES, never through a link."""
    path = root / "harness.toml"
    try:
        data = read_regular(root, "harness.toml", HARNESS_TOML_BYTES)
    except FileNotFoundError:
        return path, {}
    except FileRefused as exc:
        raise SubmissionError(str(exc)) from None
    except OSError as exc:
        raise SubmissionError(f"harness.toml cannot be read ({exc.strerror or exc}); fix the file or remove it") from None
    try:
        return path, tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise SubmissionError(f"{path}: not valid TOML ({str(exc)[:300]}); fix the file or remove it") from None


def _read_mapping(root: Path, data: tuple[Path, dict] | None = None) -> dict[str, str]:
    path, data = data or _harness_toml(root)
    table = data.get("modules", {k: v for k, v in data.items() if isinstance(v, str)})
    if not isinstance(table, dict):
        raise SubmissionError(f'{path}: [modules] must be a table, e.g. [modules] then cells = "cells.ipynb"')
    mapping = {}
    for stem, target in table.items():
        if not isinstance(target, str):
            raise SubmissionError(f"{path}: [modules] {stem} must be a file name like \"{stem}.ipynb\"")
        lexical = os.path.normpath(target)  # links are not resolved here: the reader refuses every one of them
        if os.path.isabs(lexical) or lexical == ".." or lexical.startswith(f"..{os.sep}") or "\0" in target:
            raise SubmissionError(f"{path}: {stem} = {target!r} points outside the submission folder")
        mapping[stem] = target
    return mapping


def _read_maps(root: Path, data: tuple[Path, dict] | None = None) -> dict[str, dict]:
    """harness.toml's ``[map.<module>]`` tables: the student's names for the contract's (harness.interface),
    checked for their form here and against the contract when a task is graded."""
    from .interface import MapError, parse

    path, data = data or _harness_toml(root)
    table = data.get("map", {})
    if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
        raise SubmissionError(f"{path}: [map] must hold one table per module, e.g. [map.attention] then "
                              'dot_attention = "my_attention"')
    try:
        return {module: parse(entries, f"[map.{module}]", "harness.toml") for module, entries in table.items()}
    except MapError as exc:
        raise SubmissionError(f"{path}: {exc}") from None


def source_cap(specs) -> int:
    """The most a module file or notebook may weigh for these specs, in bytes ([limits] source_mb)."""
    return max((s.limits.source_mb for s in specs), default=Limits().source_mb) * MIB


def _read_run(root: Path, data: tuple[Path, dict] | None = None) -> str | None:
    """harness.toml's ``[notebook] run``: how the submission asks its notebooks to be graded, or None."""
    path, data = data or _harness_toml(root)
    try:
        return read_run(path, data.get("notebook", {}))
    except SpecError as exc:
        raise SubmissionError(str(exc)) from None


def notebook_runs(specs) -> dict[str, tuple[str, str]]:
    """Per module, how its notebook is graded and who said so: the task's ``[notebook] run``; when tasks that grade
    the same module disagree, the default (harness.definitions.DEFAULT_RUN)."""
    said: dict[str, set[str]] = {}
    for spec in specs:
        said.setdefault(spec.module, set()).add(spec.notebook_run)
    return {module: (runs.pop(), "task.toml") if len(runs) == 1
            else (DEFAULT_RUN, f"the default: the tasks that grade {module} disagree") for module, runs in said.items()}


def locate(root: Path, stems: list[str], max_bytes: int | None = None, chosen: dict[str, str] | None = None,
           contract: dict[str, set[str]] | None = None, runs: dict[str, tuple[str, str]] | None = None) -> Submission:
    """Find each contract module of a submission; a missing or unreadable one is recorded, not an error.

    ``chosen``: the file the student asked for, per module stem (a name in the folder); it wins over the rest.
    ``contract``: per stem, the names a task's contract lists, to tell an unchanged starter from written code
    when both ``<stem>.py`` and ``<stem>.ipynb`` exist (the module docstring gives the whole rule).

    A module file, like harness.toml, must be a regular file reached without a link: a symbolic link (even
    one that points inside the folder), a FIFO, a device, a socket or a folder is refused, never followed
    or opened in a way that blocks; a file over ``max_bytes`` (default: [limits] source_mb) is refused too.

    ``runs``: per stem, how a notebook is graded and who said so (``notebook_runs``); the submission's harness.toml
    ``[notebook] run`` overrides it."""
    root = Path(root)
    max_bytes = max_bytes or Limits().source_mb * MIB
    chosen, contract = chosen or {}, contract or {}
    if not root.exists():
        raise SubmissionError(f"{root}: no such folder")
    if root.is_file():
        hint = " (unpack the archive first)" if root.suffix in {".zip", ".gz", ".tgz", ".tar"} else ""
        raise SubmissionError(f"{root} is a file, not a submission folder{hint}")
    toml = _harness_toml(root)
    mapping = _read_mapping(root, toml)
    maps = _read_maps(root, toml)
    asked_run = _read_run(root, toml)
    modules = {}
    for stem in stems:
        names = set(contract.get(stem, ())) | {e.name for e in maps.get(stem, {}).values()}
        run = (asked_run, "harness.toml") if asked_run else (runs or {}).get(stem, (DEFAULT_RUN, "the default"))
        modules[stem] = _choose(root, stem, chosen.get(stem), mapping.get(stem), names, max_bytes, run)
    return Submission(root, modules, maps)


def _choose(root: Path, stem: str, asked: str | None, mapped: str | None, names: set[str],
            max_bytes: int, run: tuple[str, str] = (DEFAULT_RUN, "the default")) -> ModuleSource:
    """The module ``stem`` of the submission: the file asked for, else the mapped one, else the written one of
    ``<stem>.py`` and ``<stem>.ipynb``; the others that exist are listed in ``ignored`` with why."""
    plain = [f"{stem}.py", f"{stem}.ipynb"]
    exists = [c for c in dict.fromkeys([asked, mapped, *plain]) if c and os.path.lexists(root / c)]
    if asked or mapped:
        name = asked or mapped
        if name not in exists:
            where = "asked for" if asked else "named in harness.toml"
            return ModuleSource(stem, problem=f"{stem}.py not submitted ({name} {where} does not exist)")
        source = _read_module(root, stem, name, max_bytes, run)
        why = f"you asked for {name}" if asked else f'harness.toml [modules] names {name}'
        if asked and mapped and mapped != asked:
            why += f" (harness.toml [modules] names {mapped})"
        source.ignored = [f"{other} ({why})" for other in exists if other != name]
        return source
    if not exists:
        return ModuleSource(stem, problem=f"{stem}.py not submitted")
    read = {c: _read_module(root, stem, c, max_bytes, run) for c in exists}
    if len(read) == 1:
        return read[exists[0]]
    py, nb = read[plain[0]], read[plain[1]]
    starter = {c: s.problem is None and is_unchanged_starter(s.python or "", names) for c, s in read.items()}
    how = (f'to grade {plain[1]}, name it in harness.toml ([modules] {stem} = "{plain[1]}") or check that file: '
           f'harness check {plain[1]}, or harness.check("{plain[1]}") in the notebook')
    if not nb.problem and (py.problem or (starter[plain[0]] and not starter[plain[1]])):
        why = f"cannot be used: {py.problem}" if py.problem else "an unchanged starter: its contract names only raise"
        nb.ignored = [f"{plain[0]} ({why})"]
        return nb
    if nb.problem:
        why = f"cannot be used: {nb.problem}"
    elif starter[plain[1]] and not starter[plain[0]]:
        why = "an unchanged starter: its contract names only raise"
    else:
        state = "are both unchanged starters" if starter[plain[0]] else "both hold code of their own"
        why = f"{plain[0]} and {plain[1]} {state}, and {plain[0]} is graded first; {how}"
    py.ignored = [f"{plain[1]} ({why})"]
    return py


def _stub_function(node) -> bool:
    """A function whose body, its docstring aside, only raises, passes or is ``...``."""
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    return all(isinstance(n, (ast.Raise, ast.Pass)) or (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
                                                        and n.value.value is Ellipsis) for n in body)


def _stub_definition(node) -> bool:
    """A stub: such a function, or a class with methods besides ``__init__`` that all are (``__init__`` stores
    arguments and declares parameters; what a class computes is in its other methods)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return _stub_function(node)
    if isinstance(node, ast.ClassDef):
        methods = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                   and n.name != "__init__"]
        return bool(methods) and all(_stub_function(m) for m in methods)
    return False  # an assignment (``perplexity = my_perplexity``): code of the student's own


def is_unchanged_starter(source: str, names: set[str]) -> bool:
    """Whether a module's source defines at least one of the contract's ``names`` and only stubs for them (read
    with ``ast``, never run). Source that does not parse counts as written: a student is at work in it."""
    try:
        tree = parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    last: dict[str, ast.AST] = {}  # a name defined twice (a notebook cell run again): the last definition counts
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            last[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Name):
                        last[leaf.id] = node
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                last[(alias.asname or alias.name).split(".")[0]] = node
    defined = [last[n] for n in names if n in last]
    return bool(defined) and all(_stub_definition(d) for d in defined)


def _read_module(root: Path, stem: str, name: str, max_bytes: int,
                 run: tuple[str, str] = (DEFAULT_RUN, "the default")) -> ModuleSource:
    path = root / name
    kind = "ipynb" if path.suffix == ".ipynb" else "py"
    try:
        data = read_regular(root, name, max_bytes, SOURCE_KEY)
    except FileRefused as exc:
        return ModuleSource(stem, path, kind, problem=str(exc))
    except OSError as exc:
        return ModuleSource(stem, path, kind, problem=f"{path.name} cannot be read ({exc.strerror or exc})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return ModuleSource(stem, path, kind, problem=f"{path.name} is not UTF-8 text")
    if kind == "py":
        return ModuleSource(stem, path, "py", python=text)
    source = notebook_to_python(path, text, *run)
    source.stem = stem
    return source


def make_scratch_copy(sub: Submission, dest: Path) -> Path:
    """Copy the submission's small regular files to ``dest`` and write each usable module as ``<stem>.py``.

    Links, FIFOs and devices are left out (never followed or opened); files over COPY_SIZE_LIMIT too. A
    folder of more than MAX_ENTRIES entries or COPY_TOTAL_LIMIT bytes is not graded (SubmissionError)."""
    dest.mkdir(parents=True, exist_ok=True)
    total = 0
    try:
        for entry in walk(sub.root, SKIP_DIRS, MAX_ENTRIES):
            target = dest / entry.relative
            if entry.is_folder:
                target.mkdir(parents=True, exist_ok=True)
            elif entry.is_regular and entry.info.st_size <= COPY_SIZE_LIMIT:
                total += entry.info.st_size
                if total > COPY_TOTAL_LIMIT:
                    raise SubmissionError(f"the submission folder holds more than {COPY_TOTAL_LIMIT // MIB} MB of "
                                          "files: remove data, checkpoints and environments from it")
                try:
                    data = read_regular(sub.root, entry.relative, COPY_SIZE_LIMIT)
                except OSError:
                    continue  # changed since listed: left out like any file that is not a regular one
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
    except TooManyEntries as exc:
        raise SubmissionError(f"the submission folder holds {exc}: remove data, checkpoints and environments "
                              "from it") from None
    except OSError as exc:
        raise SubmissionError(f"the submission folder cannot be copied ({exc}); fix its permissions") from None
    for stem, source in sub.modules.items():
        if source.python is not None:
            (dest / f"{stem}.py").write_text(source.python, encoding="utf-8")
    return dest
