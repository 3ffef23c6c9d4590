"""The implement-it-yourself rule: a cell or attention function must not call torch's own.

Two witnesses, both judged here: a static reading of the source (its syntax tree, never executed)
that finds references to the forbidden built-ins and the top-level class or function they sit in,
and the worker's tripwire, which records the forbidden built-ins actually called while a program
ran (it catches ``getattr(torch.nn, "LSTM" + "Cell")`` and the like). Both read the one list of
``harness/runtime/forbidden.py``.

The static reading follows the modules a submission imports from its own folder (helpers, packages,
transitively, up to a bound) and reads each one as Python will run it: its encoding declaration honoured,
at most MAX_SOURCE_BYTES of it. What it cannot read — a compiled module, a file too large, a tree too deep
for the parser — is not taken on trust: it costs the rule, with a message saying why. Code that reads or
undoes the tripwire (``__wrapped__``, the worker's runtime, the probe marker) is found the same way, and the
tripwire's own report of a guard undone at run time comes back as ``forbidden.TAMPERED``.
"""
from __future__ import annotations

import ast
import os
import stat
from dataclasses import dataclass
from functools import lru_cache
from importlib.machinery import BYTECODE_SUFFIXES, EXTENSION_SUFFIXES
from pathlib import Path

from ..parsing import parse
from ..runtime.forbidden import NAMES as FORBIDDEN
from ..runtime.forbidden import PROBE_ATTR, TAMPERED
from ..sandbox.launcher import RUNTIME_PACKAGE

#: Module paths whose attributes of those names are torch's built-ins.
TORCH_OWNERS = {"torch", "torch.nn", "nn", "torch.nn.functional", "F", "functional", "torch._VF", "_VF",
                "torch.nn.modules", "torch.nn.modules.rnn", "torch.nn.modules.activation", "torch._C._VariableFunctions"}
#: Names whose use reads or undoes the worker's tripwire: a submission has no business with them.
TAMPER_NAMES = {"__wrapped__": "__wrapped__ (reaches past the grader's tripwire)",
                "__closure__": "__closure__ (reaches past the grader's tripwire)",
                "cell_contents": "cell_contents (reaches past the grader's tripwire)",
                RUNTIME_PACKAGE: f"{RUNTIME_PACKAGE} (the grader's worker code)",
                PROBE_ATTR: f"{PROBE_ATTR} (the grader's marker for its own cells)"}
#: What the scan parses of one file, how many files of a submission it follows, and their total size.
MAX_SOURCE_BYTES = 1024 * 1024
MAX_MODULES = 64
MAX_TOTAL_BYTES = 8 * 1024 * 1024
#: A finding's scope that holds for every name of the module: its source could not be read.
EVERY_SCOPE = "*"
UNREADABLE = "(source the grader could not read)"


@dataclass(frozen=True)
class Finding:
    name: str       # e.g. "torch.nn.LSTMCell"
    line: int
    scope: str      # the top-level class or function it is in, "" at module level, EVERY_SCOPE for all names
    file: str = ""  # a helper module it is in (relative to the submission), "" for the module itself
    why: str = ""   # for an UNREADABLE finding: what kept the grader from reading it

def _dotted(node) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _tamper_name(node) -> str | None:
    if isinstance(node, ast.Attribute) and node.attr in TAMPER_NAMES:
        return node.attr
    if isinstance(node, ast.Name) and node.id in TAMPER_NAMES:
        return node.id
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in TAMPER_NAMES:
        return node.value  # getattr(f, "__wrapped__"), import_module("_harness_runtime")
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        modules = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
        return next((m.split(".")[0] for m in modules if m.split(".")[0] in TAMPER_NAMES), None)
    return None


@dataclass(frozen=True)
class _Import:
    bound: str | None   # the local name it binds (None: ``from m import *``)
    module: str         # the dotted module, relative to ``level`` packages up
    level: int
    attr: str | None    # ``from module import attr``: attr may be a submodule


@dataclass(frozen=True)
class _Read:
    findings: tuple[Finding, ...]
    imports: tuple[_Import, ...]
    uses: tuple[tuple[str, frozenset], ...]  # top-level scope -> the names it reads
    aliases: tuple[tuple[str, frozenset], ...]  # module-level name -> the names its value reads


def _unreadable(file: str, why: str) -> Finding:
    return Finding(UNREADABLE, 0, EVERY_SCOPE, file, why)


def scan_source(source: str, names: list[str] | None = None) -> list[Finding]:
    """Every reference to a forbidden torch built-in in ``source``, with its line and scope. ``names`` (a
    task's own rule) replaces the default list: dotted names such as ``torch.nn.functional.softmax`` (found
    however the module is imported or aliased), and ``Tensor.softmax`` for that method on any object but self.
    The text is read as the worker runs it: the UTF-8 bytes it is given, with their encoding declaration."""
    try:
        data = source.encode("utf-8")
    except UnicodeError:
        return [_unreadable("", "holds characters that are not valid Unicode text")]
    return list(_read(data, tuple(sorted(names)) if names is not None else None, "").findings)


def _too_large(file: str, size: int) -> _Read:
    return _Read((_unreadable(file, f"is {size / 1e6:.1f} MB, over the {MAX_SOURCE_BYTES // 2**20} MB the grader "
                                    "reads of a Python file"),), (), (), ())


@lru_cache(maxsize=32)
def _read(data: bytes, names: tuple[str, ...] | None, file: str) -> _Read:
    """One file's findings and imports: parsed at most once per text (a check asks for it again and again)."""
    nothing = _Read((), (), (), ())
    if len(data) > MAX_SOURCE_BYTES:
        return _too_large(file, len(data))
    try:
        from importlib.util import decode_source

        text = decode_source(data)  # what the import system runs: a coding line or a BOM honoured
        tree = parse(text)
    except (SyntaxError, ValueError, LookupError, UnicodeError):
        return nothing  # Python cannot run it either: importing it fails, and its checks say so
    except (MemoryError, RecursionError):
        return _Read((_unreadable(file, "is nested too deeply for the grader to read (the parser gave up)"),),
                     (), (), ())
    nodes = list(ast.walk(tree))  # walked once: a file near the cap has a million nodes
    return _Read(tuple(_findings(tree, nodes, names, file)), tuple(_imports(nodes)), *_uses(tree))


def _findings(tree, nodes: list, names, file: str) -> list[Finding]:
    if names is None:
        attrs = FORBIDDEN
        def named(owner: str, expanded: str, attr: str) -> str | None:
            torch_owned = owner in TORCH_OWNERS or expanded in TORCH_OWNERS or expanded.startswith("torch")
            return f"{expanded}.{attr}" if torch_owned else None
    else:
        attrs = {n.rpartition(".")[2] for n in names}
        def named(owner: str, expanded: str, attr: str) -> str | None:
            if f"{expanded}.{attr}" in names:
                return f"{expanded}.{attr}"
            return f"Tensor.{attr}" if f"Tensor.{attr}" in names and owner != "self" else None
    aliases: dict[str, str] = {}   # local name -> the built-in it stands for
    module_aliases = {"torch": "torch"}
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "torch":
            for a in node.names:
                full = f"{node.module}.{a.name}"
                if a.name in attrs:
                    aliases[a.asname or a.name] = full
                else:
                    module_aliases[a.asname or a.name] = full
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "torch":
                    module_aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
    scopes = [(node.lineno, node.end_lineno or node.lineno, node.name) for node in tree.body
              if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]

    def scope_of(line: int) -> str:
        return next((name for lo, hi, name in scopes if lo <= line <= hi), "")

    findings = []
    for node in nodes:
        tamper = _tamper_name(node) if names is None else None
        if tamper is not None:
            findings.append(Finding(TAMPER_NAMES[tamper], node.lineno, EVERY_SCOPE, file))
        if isinstance(node, ast.Attribute) and node.attr in attrs:
            owner = _dotted(node.value) or "(an expression)"
            head, _, rest = owner.partition(".")
            expanded = module_aliases.get(head, head) + (f".{rest}" if rest else "")
            name = named(owner, expanded, node.attr)
            if name is not None:
                findings.append(Finding(name, node.lineno, scope_of(node.lineno), file))
        elif (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in aliases
              and (names is None or aliases[node.id] in names)):
            findings.append(Finding(aliases[node.id], node.lineno, scope_of(node.lineno), file))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
              and len(node.args) >= 2):  # getattr(torch.nn, "LSTMCell"), getattr(torch, "lstm" + "_cell")
            owner = _dotted(node.args[0]) or "(an expression)"
            head, _, rest = owner.partition(".")
            expanded = module_aliases.get(head, head) + (f".{rest}" if rest else "")
            attr = node.args[1].value if isinstance(node.args[1], ast.Constant) else None
            if isinstance(attr, str):
                name = named(owner, expanded, attr) if attr in attrs else None
            elif expanded.split(".")[0] == "torch" and head in module_aliases:
                name = f"{expanded}.<a name built at run time> (write the attribute out)"
            else:
                name = None
            if name is not None:
                findings.append(Finding(name, node.lineno, scope_of(node.lineno), file))
    return sorted(set(findings), key=lambda f: (f.line, f.name, f.scope))


def _imports(nodes: list) -> list[_Import]:
    """The imports anywhere in the file, and ``import_module("name")`` / ``__import__("name")`` of a literal."""
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [_Import(a.asname or a.name.split(".")[0], a.name, 0, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            found += [_Import(None if a.name == "*" else a.asname or a.name, node.module or "", node.level,
                              None if a.name == "*" else a.name) for a in node.names]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and (_dotted(node.func) or "").rpartition(".")[2] in ("import_module", "__import__")):
            found.append(_Import(None, node.args[0].value.lstrip("."), 0, None))
    return found


def _uses(tree) -> tuple[tuple, tuple]:
    """(top-level scope -> the names read in it, module-level assigned name -> the names its value reads)."""
    def read(node) -> frozenset:
        return frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name))

    uses = tuple((node.name, read(node)) for node in tree.body
                 if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)))
    aliases = tuple((target.id, read(node.value)) for node in tree.body if isinstance(node, ast.Assign)
                    for target in node.targets if isinstance(target, ast.Name))
    return uses, aliases


# --------------------------------------------------------------------------- the modules it imports from its folder


def _helper_bytes(root: Path, rel: str) -> bytes | int | None:
    """A helper module's bytes, read as the judge reads any file of a submission (harness.files: never through a
    link, never blocking on a FIFO); its size when it is over the cap; None for what the worker's copy leaves
    out too (links, FIFOs…)."""
    from ..files import FileRefused, read_regular

    try:
        return read_regular(root, rel, MAX_SOURCE_BYTES)
    except FileRefused:
        try:
            info = os.lstat(root / rel)
        except OSError:
            return None
        return info.st_size if stat.S_ISREG(info.st_mode) and info.st_size > MAX_SOURCE_BYTES else None
    except OSError:
        return None


def _locate(root: Path, parts: list[str]) -> tuple[list[Path], str | None]:
    """The files of the submission that importing ``parts`` runs (packages' __init__ and the module), the way
    Python's path finder looks in a folder; and why one cannot be read (a compiled module) or None."""
    folder, files = root, []
    for i, part in enumerate(parts):
        here = folder / part
        if here.is_dir() and not here.is_symlink():
            compiled = [p for p in here.glob("__init__.*") if p.name[len("__init__"):] in EXTENSION_SUFFIXES
                        + BYTECODE_SUFFIXES]
            if compiled:
                return files, f"is compiled code ({compiled[0].relative_to(root).as_posix()}) the grader cannot read"
            if (here / "__init__.py").is_file():
                files.append(here / "__init__.py")
            folder = here
            continue
        compiled = [folder / (part + s) for s in EXTENSION_SUFFIXES if (folder / (part + s)).exists()]
        source = folder / (part + ".py")
        if not compiled and not source.exists():
            compiled = [folder / (part + s) for s in BYTECODE_SUFFIXES if (folder / (part + s)).exists()]
        if compiled:
            return files, f"is compiled code ({compiled[0].relative_to(root).as_posix()}) the grader cannot read"
        if source.is_file() and not source.is_symlink():
            files.append(source)
        break  # not of the submission (torch, the standard library…), or found: nothing deeper to look for
    return files, None


def _targets(root: Path, base: list[str], imp: _Import) -> list[list[str]]:
    """The dotted paths (as parts) an import may run, relative to the submission's folder."""
    if imp.level:
        keep = len(base) - (imp.level - 1)
        if keep < 0 or imp.level > len(base) + 1:
            return []
        prefix = base[:keep]
    else:
        prefix = []
    module = prefix + [p for p in imp.module.split(".") if p]
    paths = [module] if module else []
    if imp.attr is not None:
        paths.append(module + [imp.attr])  # ``from pkg import sub``: sub may be a module
    return paths


def helper_findings(source, root: Path | None = None, names: list[str] | None = None) -> list[Finding]:
    """Findings in the modules that ``source`` (a ModuleSource) imports from the submission's folder ``root`` (its
    file's folder by default), followed transitively up to MAX_MODULES files, each given the scope of the
    module's top-level names that use what it imports from them (EVERY_SCOPE when that cannot be told)."""
    if source is None or source.python is None or (root is None and source.path is None):
        return []
    root = Path(root if root is not None else source.path.parent)
    key = tuple(sorted(names)) if names is not None else None
    try:
        main = _read(source.python.encode("utf-8"), key, "")
    except UnicodeError:
        return []  # scan_source has said so already
    bound: dict[str | None, list[list[str]]] = {}
    for imp in main.imports:
        bound.setdefault(imp.bound, []).extend(_targets(root, [], imp))
    found: list[Finding] = []
    seen: dict[str, tuple[Finding, ...]] = {}
    budget = {"modules": MAX_MODULES, "bytes": MAX_TOTAL_BYTES}
    for name, paths in bound.items():
        closure = _closure(root, paths, key, seen, budget)
        if not closure:
            continue
        scopes = _users(main, name)
        for finding in closure:
            for scope in ([EVERY_SCOPE] if finding.scope == EVERY_SCOPE or name is None else scopes):
                found.append(Finding(finding.name, finding.line, scope, finding.file, finding.why))
    return sorted(set(found), key=lambda f: (f.file, f.line, f.name, f.scope))


def _users(main: _Read, name: str) -> list[str]:
    """The module's top-level names that use ``name`` (itself included), through module-level aliases too;
    "" (module level) when none does."""
    names = {name}
    for target, reads in main.aliases:
        if reads & names:
            names.add(target)
    scopes = sorted({scope for scope, reads in main.uses if reads & names} | names)
    return scopes or [""]


def _closure(root: Path, paths: list[list[str]], key, seen: dict, budget: dict) -> list[Finding]:
    """The findings of the files those imports run and of every file of the submission they import in turn."""
    found: list[Finding] = []
    queue = list(paths)
    visited: set[str] = set()
    while queue:
        parts = queue.pop(0)
        files, why = _locate(root, parts)
        if why is not None:
            found.append(_unreadable(".".join(parts), why))
        for path in files:
            rel = path.relative_to(root).as_posix()
            if rel in visited:
                continue
            visited.add(rel)
            if rel not in seen:
                if budget["modules"] <= 0 or budget["bytes"] <= 0:
                    found.append(_unreadable(rel, f"is past the {MAX_MODULES} files or {MAX_TOTAL_BYTES // 2**20} MB "
                                                  "of its own modules the grader follows"))
                    return found
                data = _helper_bytes(root, rel)
                budget["modules"] -= 1
                budget["bytes"] -= len(data) if isinstance(data, bytes) else 0
                read = _read(data, key, rel) if isinstance(data, bytes) else \
                    _too_large(rel, data) if data is not None else _Read((), (), (), ())
                package = list(Path(rel).parent.parts) if path.name == "__init__.py" else list(Path(rel).parts[:-1])
                seen[rel] = (read.findings, [t for imp in read.imports for t in _targets(root, package, imp)])
            findings, targets = seen[rel]
            found += findings
            queue += targets
    return found


# --------------------------------------------------------------------------- the rule, judged the same way in every task


def static_witness(source, root: Path | None = None, names: list[str] | None = None) -> list[Finding]:
    """The static witness of the rule for a module (a ModuleSource): its own findings and those of the modules it
    imports from the submission's folder ``root``. The judge computes it once per check (harness.grading), and
    gives the scopes their contract names."""
    return scan_source(source.python or "", names) + helper_findings(source, root, names)


def findings_for(ctx, scope: str | None = None, names: list[str] | None = None) -> list[Finding]:
    """The static witness a check judges: the one the judge computed (a task's own ``names``: computed here), only
    that of ``scope`` (a contract name) and of every scope when one is given."""
    found = ctx.static_findings if names is None else static_witness(ctx.source, names=names)
    return [f for f in found if scope is None or f.scope in (scope, EVERY_SCOPE)]


@dataclass(frozen=True)
class Trial:
    """How one name fared when the rule's check ran it: ``computes`` (its output depends on its input), ``constant``
    (it does not, or it is no number at all: a stub), ``not implemented`` (NotImplementedError), ``raised`` (any
    other error, a crash or a hang), ``contract`` (no weights can be loaded into it yet). Only ``computes`` is
    judged: the rule is worth nothing for code that has not run."""

    name: str
    outcome: str
    detail: str = ""


def trial(ctx, name: str, first, second) -> Trial:
    """Run ``name``'s two programs (different inputs) on the submission: does it compute, is it a stub, or does
    it raise?"""
    from ..sandbox.launcher import WorkerDied
    from . import ContractBroken, StudentError
    from .stubs import constant_output

    try:
        constant = constant_output(ctx.student(first), ctx.student(second))
    except StudentError as exc:
        if exc.not_implemented:
            return Trial(name, "not implemented", "is not implemented yet")
        source = getattr(ctx, "source", None)
        if source is not None and raised_while_computing(source.python, f"{source.stem}.py", exc.info):
            return Trial(name, "computes", f"raised {exc.describe()} on the rule's input; judged from its source")
        return Trial(name, "raised", f"raised {exc.describe()} (see its own checks)")
    except ContractBroken as exc:  # no weights to load into: nothing that computes yet
        return Trial(name, "contract", f"does not follow the contract yet ({exc})")
    except WorkerDied as died:
        return Trial(name, "raised", f"could not be run ({died.detail})")
    return Trial(name, "constant", f"returns {constant}") if constant else Trial(name, "computes")


def raised_while_computing(source: str | None, module_file: str, info: dict) -> bool:
    """Whether code stopped while computing — at a line of ``module_file`` that is not a ``raise`` of its own, in a
    function that returns something computed — rather than by raising on purpose. The first is an implementation
    with a bug on some input (its own checks say which), judged from its source; a body that only raises, whatever
    the exception, is a stub and earns nothing."""
    line = info.get("line")
    if not source or info.get("file") != module_file or not isinstance(line, int):
        return False
    try:
        tree = parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    def around(kinds):
        found = [n for n in ast.walk(tree) if isinstance(n, kinds) and n.lineno <= line <= (n.end_lineno or n.lineno)]
        return max(found, key=lambda n: n.lineno) if found else None  # the innermost

    function = around((ast.FunctionDef, ast.AsyncFunctionDef))
    if function is None:
        return False
    at_line = [n for n in ast.walk(function) if isinstance(n, ast.stmt) and n.lineno <= line <= (n.end_lineno or n.lineno)
               and not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.If, ast.For, ast.While, ast.With,
                                      ast.Try))]
    if any(isinstance(n, (ast.Raise, ast.Assert)) for n in at_line):
        return False
    owner = around(ast.ClassDef) or function  # a method (its __init__, say): the class's code computes or not
    return any(isinstance(n, ast.Return) and n.value is not None and not isinstance(n.value, ast.Constant)
               for n in ast.walk(owner))


def tampered(reported: list[str]) -> list[str]:
    """Of the names the tripwire reported, the guards it found undone (a task's own rule forbids other built-ins
    than the tripwire's, but an undone tripwire is a breach of any rule)."""
    return [n for n in reported if n.startswith(TAMPERED)]


def _place(f: Finding, locate) -> str:
    where = f"{f.file}, line {f.line}" if f.file else locate(f.line)
    return where + (f", in {f.scope}" if f.scope and f.scope != EVERY_SCOPE else "")


def rule_verdict(module_file: str, trials: list[Trial], static: list[Finding], forbidden: list[str],
                 locate, built_ins: str, hint: str):
    """The implement-it-yourself rule: a forbidden built-in in the source (or a module it imports from its folder)
    or called at run time costs the points, and so does reaching into the grader's tripwire or a source the
    grader cannot read; no forbidden built-in is worth them only for code that computes something — a stub
    (constant, zero or NaN output) or code that raises earns nothing, and several names earn in proportion."""
    from . import Verdict

    unreadable = [f for f in static if f.name == UNREADABLE]
    if unreadable:
        return Verdict(False, "the rule cannot be judged: " + "; ".join(
            f"{f.file or module_file} {f.why}" for f in unreadable),
            "submit plain Python source saved as UTF-8, of a usual size, and nothing compiled: the grader reads the "
            "code it runs")
    tampered = [f"{f.name} ({_place(f, locate)})" for f in static if f.name in TAMPER_NAMES.values()]
    tampered += sorted({n.removeprefix(TAMPERED) + " (undone at run time)" for n in forbidden if n.startswith(TAMPERED)})
    if tampered:
        return Verdict(False, f"{module_file} reaches into the grader's tripwire: {', '.join(tampered)}; the rule "
                       "scores nothing for it", "write the code with tensor operations and leave the grader's "
                       "guards alone")
    calls = [n for n in forbidden if not n.startswith(TAMPERED)]
    used = [f"{f.name} ({_place(f, locate)})" for f in static]
    used += [f"{name} (called at run time)" for name in sorted(set(calls)) if not any(
        name.split(".")[-1] == f.name.split(".")[-1] for f in static)]
    if used:
        return Verdict(False, f"{module_file} uses {', '.join(used)}", hint)
    working = [t for t in trials if t.outcome == "computes"]
    idle = [t for t in trials if t.outcome != "computes"]
    if not working:
        return Verdict(False, "nothing to judge yet: " + "; ".join(f"{t.name} {t.detail}" for t in idle),
                       "the rule is about how your code computes: it earns its points once the code runs and computes "
                       "something (the checks of each name say what is missing)")
    names = ", ".join(t.name for t in working)
    message = f"{names}: implemented with tensor operations (no {built_ins})"
    message += "".join(f"; {t.name} {t.detail}" for t in working if t.detail)  # raised while computing: its source
    if idle:
        message += (f"; {len(working)} of {len(trials)} names earn the rule's points; not judged yet: "
                    + "; ".join(f"{t.name} {t.detail}" for t in idle))
    return Verdict(True, message, numbers={"trials": {t.name: t.outcome for t in trials}},
                   fraction=len(working) / len(trials) if idle else None)
