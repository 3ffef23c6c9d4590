"""Definitions only: which top-level statements of a notebook the grader runs, read from the source alone.

Students leave notebooks as they worked in them: a corpus downloaded, a model trained, curves plotted,
packages installed, all at top level. Graded, such a notebook is imported by the worker, and each of those
statements would run there (without network, within the task's time). Under ``[notebook] run =
"definitions"`` (task.toml, or the submission's harness.toml) the grader keeps, cell by cell and statement by
statement, only what defines:

- ``import`` and ``from … import`` of a module installed where this is graded (or a file of the submission);
- ``def`` and ``class`` statements, with their decorators, defaults, annotations and class bodies;
- assignments (``=``, ``+=``, annotated) whose value is a literal or is built from names already defined with
  operators, indexing, comprehensions and calls of :data:`PURE_CALLS` only;
- ``if`` and ``try`` statements made only of the above (a ``try`` may import a module that is missing: its
  ``except`` decides), and docstrings, ``pass`` and ``global``.

Everything else is skipped and listed, with why: calls (``model.fit(…)``, ``plt.plot(…)``), loops, ``with``
blocks, expressions shown as output, ``if __name__ == "__main__":``, an assignment that calls anything else or
reads a name no kept statement defined (``vocab = sorted(set(text))`` where ``text`` came from a download).
A cell marked ``# harness: keep`` (a comment line of its own, or the cell tag ``harness:keep``) runs whole; one
marked ``# harness: skip`` (or tagged ``harness:skip``) is skipped whole, whatever the mode; when a cell holds
both, it is skipped. A cell that does not parse is skipped whole, unless it is marked keep.

The rule is decided on the source with ``ast`` and never runs anything; it is deterministic: the same notebook
and the same installed packages give the same statements. Each line of a skipped statement becomes a comment,
so a kept line keeps its number (cell 3, line 4). A name that a skipped statement would have defined is
remembered, so that a ``NameError`` in a graded function points at that statement.
"""
from __future__ import annotations

import ast
import builtins
import importlib.util
import re
from collections.abc import Container
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from .errors import SpecError, suggest
from .parsing import parse

RUN_MODES = ("definitions", "all")
DEFAULT_RUN = "definitions"
RUN_KEY = "[notebook] run"
MARKERS = ("keep", "skip")
MARKER = re.compile(r"^\s*#\s*harness\s*:\s*(keep|skip)\s*$", re.IGNORECASE)
TAG = "harness:{}"                # the cell tags harness:keep and harness:skip
SHOWN = 80                        # characters of a skipped statement shown in the report
SKIP_MARKED = "marked '# harness: skip': the whole cell is skipped"  # why such a cell never runs, in any mode
TRY_STAR = (ast.TryStar,) if hasattr(ast, "TryStar") else ()  # try/except* (Python 3.11)

#: Calls an assignment's value may make and stay a definition: builtins that build or measure values, and the
#: constructors of constants and devices that notebooks keep at top level. Anything else is skipped.
PURE_BUILTINS = frozenset({
    "abs", "all", "any", "bool", "bytes", "chr", "complex", "dict", "divmod", "enumerate", "filter", "float",
    "format", "frozenset", "int", "isinstance", "len", "list", "map", "max", "min", "ord", "pow", "range", "repr",
    "reversed", "round", "set", "slice", "sorted", "str", "sum", "tuple", "zip"})
PURE_CALLS = frozenset({
    "collections.Counter", "collections.OrderedDict", "collections.defaultdict", "collections.namedtuple",
    "re.compile",
    "torch.device", "torch.cuda.is_available", "torch.backends.mps.is_available", "torch.tensor",
    "torch.as_tensor", "torch.zeros", "torch.ones", "torch.full", "torch.arange", "torch.linspace", "torch.eye",
    "numpy.array", "numpy.asarray", "numpy.zeros", "numpy.ones", "numpy.full", "numpy.arange", "numpy.linspace",
    "numpy.eye", "numpy.float32", "numpy.float64", "numpy.int64"})
PURE_MODULES = ("math",)  # every function of these modules
#: Names a module has before its first line runs.
MODULE_NAMES = frozenset({"__name__", "__file__", "__doc__", "__builtins__", "__spec__", "__loader__",
                          "__package__"})
#: What grades notebooks here, named when one imports a framework that is not installed.
FRAMEWORKS = (("torch", "PyTorch"), ("numpy", "numpy"), ("keras", "Keras"), ("jax", "JAX"),
              ("tensorflow", "TensorFlow"))


@dataclass
class Skipped:
    """A line, statement or cell of a notebook that the grader did not run, with why."""

    cell: int
    line: int
    text: str
    why: str
    names: tuple[str, ...] = ()   # what it would have defined

    def describe(self, notebook: str) -> str:
        """The results' note for it, which the report lists apart (``skipped_note``)."""
        return f"{notebook}, cell {self.cell}, line {self.line}: skipped {self.text} ({self.why})"


def read_run(path: Path | str, table) -> str | None:
    """The ``run`` of a ``[notebook]`` table, task.toml's or a submission's harness.toml's (``path``): one of
    RUN_MODES, or None when the table names none. A SpecError names what is wrong with it."""
    if not isinstance(table, dict):
        raise SpecError(path, "[notebook]", "must be a table", 'e.g. [notebook] then run = "definitions"')
    for key in table:
        if key != "run":
            raise SpecError(path, f"[notebook].{key}", "unknown key: [notebook] holds one key, run",
                            suggest(key, ["run"]))
    run = table.get("run")
    if run is not None and run not in RUN_MODES:
        shown = repr(run) if len(repr(run)) <= 60 else repr(run)[:57] + "..."
        raise SpecError(path, "[notebook].run", f"must be one of {', '.join(map(repr, RUN_MODES))}, got {shown}",
                        '"definitions" runs a notebook\'s imports, def, class and constants only; "all" runs every cell')
    return run


SKIPPED_NOTE = re.compile(r"(?P<place>[^\n]+?, cell \d+, line \d+): skipped (?P<what>.*)", re.DOTALL)


def skipped_note(note: str) -> dict | None:
    """A note ``Skipped.describe`` wrote, as its place and what was skipped with why; None for any other note."""
    found = SKIPPED_NOTE.fullmatch(note)
    return {"place": found["place"], "what": found["what"]} if found else None


def frameworks_here() -> str:
    """The array frameworks installed where this runs, with versions: ``PyTorch 2.13.0 and numpy 2.1.3``."""
    found = []
    for package, name in FRAMEWORKS:
        try:
            found.append(f"{name} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return " and ".join([", ".join(found[:-1]), found[-1]] if len(found) > 1 else found) or "Python"


#: Frameworks the harness installs as an extra of its own (pyproject.toml): top-level module -> the extra's name.
EXTRAS = {"keras": "keras"}


def not_installed(module: str) -> str:
    """Why an import of ``module`` cannot work here, in the words of the report; for a framework the harness offers
    as an extra, how the instructor installs it."""
    top = module.split(".")[0]
    extra = EXTRAS.get(top)
    how = f", who can add it to the grader with pip install 'harness[{extra}]'" if extra else ""
    return (f"{top} is not installed where this is graded; the grader runs {frameworks_here()} code — ask your "
            f"instructor{how}")


def missing_module(message: str) -> str | None:
    """The module of a ``ModuleNotFoundError``'s message (``No module named 'tensorflow'``), else None."""
    found = re.match(r"No module named '([\w.]+)'", message or "")
    return found.group(1) if found else None


def cell_marker(source: str, tags) -> str | None:
    """"keep", "skip" or None: the cell's ``# harness: …`` comment lines and ``harness:…`` tags; skip wins."""
    said = {m.group(1).lower() for m in map(MARKER.match, source.splitlines()) if m}
    if isinstance(tags, (list, tuple)):
        said |= {marker for marker in MARKERS if TAG.format(marker) in tags}
    return "skip" if "skip" in said else ("keep" if said else None)


def _shown(lines: list[str], first: int, last: int) -> str:
    text = lines[first - 1].strip() if 0 < first <= len(lines) else ""
    if len(text) > SHOWN or last > first:
        text = text[:SHOWN].rstrip() + "…"
    return text


def _first_line(node: ast.stmt) -> int:
    return min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])


def _stored(node: ast.AST) -> set[str]:
    """Names a statement binds at top level (not inside the functions or classes it defines)."""
    names: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(current.name)
            continue  # their bodies bind names of their own scope
        if isinstance(current, (ast.Import, ast.ImportFrom)):
            for alias in current.names:
                if alias.name != "*":
                    names.add(alias.asname or (alias.name.split(".")[0] if isinstance(current, ast.Import)
                                               else alias.name))
            continue
        if isinstance(current, ast.Name) and isinstance(current.ctx, (ast.Store, ast.Del)):
            names.add(current.id)
        elif isinstance(current, ast.ExceptHandler) and current.name:
            names.add(current.name)
        if isinstance(current, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue  # names of their own scope
        stack.extend(ast.iter_child_nodes(current))
    return names


def _evaluated_now(node: ast.AST) -> list[ast.AST]:
    """The expressions a ``def`` or ``class`` statement evaluates when it runs: decorators, defaults,
    annotations, bases, and a class body's own statements (its methods' bodies run only when called)."""
    out: list[ast.AST] = []
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        args = node.args
        out += [*node.decorator_list, *args.defaults, *(d for d in args.kw_defaults if d is not None)]
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs, *(a for a in (args.vararg, args.kwarg) if a)]
        out += [a.annotation for a in every if a.annotation is not None]
        if node.returns is not None:
            out.append(node.returns)
    elif isinstance(node, ast.ClassDef):
        out += [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]
        for statement in node.body:
            out += (_evaluated_now(statement)
                    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else [statement])
    return out


def _reads(nodes: list[ast.AST], local: set[str] = frozenset()) -> list[str]:
    """Names the expressions read when evaluated now, in order: not those of lambdas' bodies, nor the variables
    of comprehensions, nor ``local`` (a class body's own names)."""
    read, bound = [], set(local)
    stack = list(reversed(nodes))
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Lambda):
            stack.extend(reversed([*current.args.defaults, *(d for d in current.args.kw_defaults if d)]))
            continue
        if isinstance(current, ast.comprehension):
            bound |= {n.id for n in ast.walk(current.target) if isinstance(n, ast.Name)}
        if isinstance(current, ast.Name) and isinstance(current.ctx, ast.Load) and current.id not in bound:
            read.append(current.id)
        children = list(ast.iter_child_nodes(current))
        if isinstance(current, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            children = [*current.generators, *children[:-len(current.generators)]]  # targets bound first
        stack.extend(reversed(children))
    return read


def _dotted(node: ast.AST) -> list[str] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


class _Names:
    """The names defined before a statement: the ones kept so far, and those of the statements before it in its
    block or on its line (a layer on top, so that a cell of many statements is read in linear time)."""

    def __init__(self, outer):
        self.outer, self.inner = outer, set()

    def __contains__(self, name: str) -> bool:
        return name in self.inner or name in self.outer

    def __ior__(self, names: set[str]) -> "_Names":
        self.inner |= names
        return self


@dataclass
class Selector:
    """Decides, cell after cell, which statements of a notebook run under definitions only."""

    installed: object = None                 # a module's top-level name -> whether it can be imported
    defined: set[str] = field(default_factory=lambda: set(dir(builtins)) | MODULE_NAMES)
    aliases: dict[str, str] = field(default_factory=dict)   # a name bound by an import -> the module path
    lost: dict[str, Skipped] = field(default_factory=dict)  # a name only a skipped statement defines -> it

    def cell(self, number: int, lines: list[str], marker: str | None) -> tuple[list[str], list[Skipped]]:
        """The cell's lines as the grader runs them, as many (skipped ones commented out), and what was skipped."""
        if not lines:
            return lines, []
        try:
            tree = parse("\n".join(lines))
        except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
            if marker == "keep":
                return lines, []  # it runs, and fails, where the student asked for it
            problem = f"{type(exc).__name__}: {getattr(exc, 'msg', None) or exc}"
            where = f", line {exc.lineno}" if getattr(exc, "lineno", None) else ""
            why = (SKIP_MARKED if marker == "skip"
                   else f"the cell does not parse ({problem[:120]}{where}): the whole cell is skipped")
            names = tuple(m.group(2) for m in map(re.compile(r"^(async\s+def|def|class)\s+(\w+)").match, lines) if m)
            return self._skip_all(number, lines, why, names)
        if marker == "keep":
            self._keep(tree.body)
            return lines, []
        if marker == "skip":
            return self._skip_all(number, lines, SKIP_MARKED, tuple(sorted(_stored(tree))))
        skipped, out = [], list(lines)
        for group in self._groups(tree.body):
            why, seen = None, _Names(self.defined)
            for statement in group:  # statements that share a line: each sees the names of those before it
                why = self.why_skip(statement, seen)
                if why:
                    break
                seen |= _stored(statement)
            if why is None:
                self._keep(group)
                continue
            first, last = _first_line(group[0]), max(s.end_lineno or s.lineno for s in group)
            names = tuple(sorted(set().union(*(_stored(s) for s in group)) - self.defined))
            entry = Skipped(number, first, _shown(lines, first, last), why, names)
            skipped.append(entry)
            for name in names:
                self.lost.setdefault(name, entry)
            for i in range(first, last + 1):
                out[i - 1] = f"# skipped by the grader: {lines[i - 1][:SHOWN]}" if i == first else "#"
        return out, skipped

    def _skip_all(self, number, lines, why, names) -> tuple[list[str], list[Skipped]]:
        first = next((i for i, line in enumerate(lines, start=1) if line.strip()), 1)
        entry = Skipped(number, first, _shown(lines, first, len(lines)), why,
                        tuple(n for n in names if n not in self.defined))
        for name in entry.names:
            self.lost.setdefault(name, entry)
        return ["#" for _ in lines], [entry]

    @staticmethod
    def _groups(body: list[ast.stmt]) -> list[list[ast.stmt]]:
        """Top-level statements, those that share a line (``a = 1; fit()``) together: kept or skipped as one."""
        groups: list[list[ast.stmt]] = []
        for statement in body:
            if groups and _first_line(statement) <= (groups[-1][-1].end_lineno or groups[-1][-1].lineno):
                groups[-1].append(statement)
            else:
                groups.append([statement])
        return groups

    def _keep(self, statements: list[ast.stmt]) -> None:
        for statement in statements:
            # imports bind the aliases pure calls are known by (np.array): at top level, or in an if or a try
            blocks = isinstance(statement, (ast.Import, ast.ImportFrom, ast.If, ast.Try, *TRY_STAR))
            for leaf in ast.walk(statement) if blocks else ():
                if isinstance(leaf, ast.Import):
                    self.aliases.update({a.asname or a.name.split(".")[0]: a.name if a.asname else a.name.split(".")[0]
                                         for a in leaf.names})
                elif isinstance(leaf, ast.ImportFrom) and leaf.module and not leaf.level:
                    self.aliases.update({a.asname or a.name: f"{leaf.module}.{a.name}" for a in leaf.names})
            for name in _stored(statement):
                self.defined.add(name)
                self.lost.pop(name, None)

    # ------------------------------------------------------------------ the rule, one statement at a time

    def why_skip(self, node: ast.stmt, defined: Container[str] | None = None, in_try: bool = False) -> str | None:
        """None when ``node`` is a definition the grader runs, else why it is skipped."""
        defined = self.defined if defined is None else defined
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if in_try or (isinstance(node, ast.ImportFrom) and (node.level or node.module == "__future__")):
                return None
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            missing = [m for m in modules if not self._installed(m)]
            return f"{missing[0].split('.')[0]} is not installed where this is graded" if missing else None
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            local = set()
            if isinstance(node, ast.ClassDef):
                local = set().union(*(_stored(s) for s in node.body)) if node.body else set()
            return self._undefined(_reads(_evaluated_now(node), local), defined, "its definition")
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            value = node.value
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            reads_first = [t.value for t in targets if isinstance(t, (ast.Attribute, ast.Subscript))]
            reads_first += [t.slice for t in targets if isinstance(t, ast.Subscript)]
            if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                reads_first.append(ast.Name(node.target.id, ast.Load()))
            if isinstance(node, ast.AnnAssign):
                reads_first.append(node.annotation)
            exprs = [*reads_first, *([value] if value is not None else [])]
            return self._calls(exprs) or self._undefined(_reads(exprs), defined, "it")
        if isinstance(node, ast.Expr):
            if isinstance(node.value, ast.Constant):
                return None  # a docstring or a note: nothing runs
            if isinstance(node.value, (ast.Call, ast.Await)):
                return "a call, not a definition"
            return "an expression shown as output, not a definition"
        if isinstance(node, (ast.Pass, ast.Global, ast.Nonlocal)):
            return None
        if isinstance(node, ast.If):
            if _is_main_guard(node.test):
                return 'if __name__ == "__main__": runs only when the notebook runs as a script'
            return (self._calls([node.test]) or self._undefined(_reads([node.test]), defined, "its condition")
                    or self._block(node.body, defined, in_try) or self._block(node.orelse, defined, in_try))
        if isinstance(node, (ast.Try, *TRY_STAR)):
            handlers = [h.type for h in node.handlers if h.type is not None]
            return (self._block(node.body, defined, in_try=bool(node.handlers))
                    or self._undefined(_reads(handlers), defined, "its except clause")
                    or next((w for h in node.handlers if (w := self._block(h.body, defined, in_try))), None)
                    or self._block(node.orelse, defined, in_try) or self._block(node.finalbody, defined, in_try))
        kinds = {ast.For: "a for loop", ast.AsyncFor: "a for loop", ast.While: "a while loop",
                 ast.With: "a with block", ast.AsyncWith: "a with block", ast.Delete: "a del statement",
                 ast.Assert: "an assert", ast.Raise: "a raise statement"}
        return f"{kinds.get(type(node), 'a ' + type(node).__name__.lower() + ' statement')}, not a definition"

    def _block(self, body: list[ast.stmt], defined: Container[str], in_try: bool) -> str | None:
        """A block of an ``if`` or ``try``: every statement a definition, read in order."""
        seen = _Names(defined)
        for statement in body:
            why = self.why_skip(statement, seen, in_try)
            if why:
                return f"line {statement.lineno} inside: {why}"
            seen |= _stored(statement)
        return None

    def _undefined(self, names: list[str], defined: Container[str], what: str) -> str | None:
        for name in names:
            if name in defined:
                continue
            if name in self.lost:
                lost = self.lost[name]
                return f"{what} reads {name}, which skipped cell {lost.cell}, line {lost.line} defines"
            return f"{what} reads {name}, which no earlier kept statement defines"
        return None

    def _calls(self, exprs: list[ast.AST]) -> str | None:
        """Why evaluating ``exprs`` is not a definition: the first call that is not pure (lambdas' bodies aside)."""
        stack, impure = list(reversed(exprs)), []
        while stack:
            current = stack.pop()
            if isinstance(current, ast.Lambda):
                continue
            if isinstance(current, (ast.Await, ast.Yield, ast.YieldFrom)):
                return "it waits on or yields a value, not a definition"
            if isinstance(current, ast.Call) and not self._pure(current.func):
                impure.append(current.func)
            stack.extend(reversed(list(ast.iter_child_nodes(current))))
        if not impure:
            return None
        named = [_dotted(f) for f in impure if _dotted(f)]  # urlopen(…) of urlopen(…).read(), rather than ….read
        name = ".".join(named[0]) if named else f"….{getattr(impure[0], 'attr', 'a function')}"
        return f"it calls {name}(…), not a definition"

    def _pure(self, func: ast.AST) -> bool:
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Constant) \
                and isinstance(func.value.value, str):
            return True  # "".join(…), " ".split(…): str methods compute
        dotted = _dotted(func)
        if not dotted:
            return False
        head, rest = dotted[0], dotted[1:]
        if head in self.aliases:
            qualified = ".".join([self.aliases[head], *rest])
            return qualified in PURE_CALLS or qualified.rsplit(".", 1)[0] in PURE_MODULES
        return not rest and head in PURE_BUILTINS

    def _installed(self, module: str) -> bool:
        top = module.split(".")[0]
        return bool(top) and (self.installed(top) if callable(self.installed) else True)


def _is_main_guard(test: ast.AST) -> bool:
    return (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)
            and {type(test.left), type(test.comparators[0])} == {ast.Name, ast.Constant}
            and "__name__" in (getattr(test.left, "id", None), getattr(test.comparators[0], "id", None)))


def importable(folder: Path):
    """A test of whether a top-level module can be imported where this is graded: installed here (found without
    being imported), or a module or package of the submission's own ``folder``."""
    def check(top: str) -> bool:
        if (folder / f"{top}.py").is_file() or (folder / top / "__init__.py").is_file():
            return True
        try:
            return importlib.util.find_spec(top) is not None
        except (ImportError, ValueError):
            return False
    return check
