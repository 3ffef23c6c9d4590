"""Starter files for an assignment, written from the task specs and the answer key.

``harness init DIR`` writes, for each task, ``<module>.py`` (or a notebook) defining every name of the
spec's ``[interface].names``: the answer key's signature, the spec's words for it (``[interface.conventions]``)
as its docstring, a body that raises ``NotImplementedError("TODO: ...")``. Classes are ``nn.Module``s that
store their arguments and create no parameters; a comment lists the parameters the contract wants (names and
shapes, read off an instance of the answer key). The task modules get ``build_model`` with the parameters the
harness calls it with, and ``HYPERPARAMETERS`` set to the spec's ``[training]`` recipe. Because all of it comes
from the specs and the code the judge uses, what students receive cannot drift from what is graded.

Runs on the instructor's side (it imports each task's answer key, harness.course). The starter is written from
the contract's words — names, signatures (with the type aliases they use), parameter shapes and the spec's
descriptions — never from the answer key's text: none of its docstrings, comments or code reaches students,
as ``answer_key.py`` is never released (tests/test_guide.py checks it).
"""
from __future__ import annotations

import builtins
import inspect
import json
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from . import course
from .recipe import STUDENT_SETTABLE, bound_text, current
from .spec import SHARED_CONVENTIONS, TaskSpec

TEMPLATES = Path(__file__).parent / "templates"
WORKFLOW_TEMPLATE = TEMPLATES / "assignment-workflow.yml"
WORKFLOW_PATH = Path(".github") / "workflows" / "harness.yml"
#: The workflow GitHub Classroom recognises (harness.classroom): its name, job and reporter are Classroom's.
CLASSROOM_TEMPLATE = TEMPLATES / "classroom-workflow.yml"
CLASSROOM_PATH = Path(".github") / "workflows" / "classroom.yml"
MAX_LINE = 110

#: Names an annotation may use and the import that provides them in the generated module.
KNOWN_IMPORTS = {"torch": "import torch", "nn": "from torch import nn", "Tensor": "from torch import Tensor"}
_FROM = re.compile(r"^from (\S+) import (\w+)$")


class StarterError(Exception):
    """The starter files cannot be written (they exist, or a spec names what the answer key lacks)."""


@dataclass
class Item:
    """One definition of a starter module: a markdown heading for notebooks, and its code."""

    name: str
    summary: str
    code: str


@dataclass
class StarterModule:
    spec: TaskSpec
    docstring: str
    imports: list[str]
    aliases: list[str]
    items: list[Item] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def filename(self) -> str:
        return f"{self.spec.module}.py"


# --------------------------------------------------------------------------- signatures


class _Text:
    """An annotation shown as written (the answer key uses ``from __future__ import annotations``)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _annotation_text(annotation) -> str | None:
    if annotation is inspect.Parameter.empty:
        return None
    if isinstance(annotation, str):
        return annotation
    return inspect.formatannotation(annotation)


def format_signature(sig: inspect.Signature, drop_self: bool = False) -> str:
    """``(x: Tensor, state: Tensor | None = None) -> Tensor`` with annotations as the answer key writes them."""
    params = list(sig.parameters.values())
    if drop_self and params and params[0].name == "self":
        params = params[1:]
    clean = []
    for p in params:
        text = _annotation_text(p.annotation)
        default = p.default
        if isinstance(default, str):
            default = _Text(json.dumps(default, ensure_ascii=False))
        clean.append(p.replace(annotation=_Text(text) if text else inspect.Parameter.empty, default=default))
    ret = _annotation_text(sig.return_annotation)
    out = inspect.Signature(clean, return_annotation=_Text(ret) if ret else inspect.Signature.empty)
    return str(out)


def _def_line(indent: str, name: str, params: str, ret: str) -> str:
    """``def name(params) -> ret:``, one parameter a line when it would be too long."""
    line = f"{indent}def {name}({params}){ret}:"
    if len(line) <= MAX_LINE:
        return line
    parts = _split_params(params)
    inner = indent + " " * 8
    return f"{indent}def {name}(\n" + "".join(f"{inner}{p},\n" for p in parts) + f"{indent}){ret}:"


def _split_params(params: str) -> list[str]:
    """Split a parameter list on the commas outside brackets."""
    parts, depth, current = [], 0, ""
    for ch in params:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current.strip())
    return parts


def _split_signature(text: str) -> tuple[str, str]:
    """``(a, b) -> R`` -> (``a, b``, `` -> R``)."""
    depth = 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0:
            return text[1:i], text[i + 1:]
    return text.strip("()"), ""


# --------------------------------------------------------------------------- docstrings


def _answer_key_code(obj) -> bool:
    """Whether ``obj`` was written in an answer key (not inherited from torch or Python)."""
    return (getattr(obj, "__module__", None) or "builtins").split(".")[0] not in ("torch", "builtins", "typing", "abc")


def _docstring(text: str, indent: str) -> str:
    """A docstring literal at ``indent``; backslashes and triple quotes made harmless."""
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').strip()
    if "\n" not in text and len(indent) + len(text) + 6 <= MAX_LINE:
        return f'{indent}"""{text}"""\n'
    body = textwrap.indent(text, indent)
    return f'{indent}"""{body[len(indent):]}\n{indent}"""\n'


def _fill(text: str, indent: int = 0) -> str:
    return textwrap.fill(text, width=MAX_LINE - indent, break_long_words=False, break_on_hyphens=False)


def first_paragraph(text: str) -> str:
    return text.strip().split("\n\n", 1)[0].strip() if text.strip() else ""


# --------------------------------------------------------------------------- parameters of a class


_TRIALS = (([7, 11, 13, 17, 19], [5, 23, 29, 31, 37]),   # distinct primes: every size tells its origin
           ([12, 4, 6, 8, 9], [20, 5, 10, 15, 25]))      # divisible: d_model by n_heads


def _size_expr(value: int, names: list[str], sizes: list[int]) -> str | None:
    for k in range(1, 9):
        for name, size in zip(names, sizes):
            if k * size == value:
                return name if k == 1 else f"{k} * {name}"
    return None


def _eval_expr(expr: str, env: dict[str, int]) -> int:
    k, _, name = expr.rpartition(" * ")
    return (int(k) if k else 1) * env[name]


def parameter_shapes(cls, init: inspect.Signature) -> list[tuple[str, str]] | None:
    """The contract's parameters of an nn.Module class, as (name, "(4 * hidden_size, input_size)").

    Read off two instances of the answer key built with different integer sizes, so that every shape is
    written in the constructor's own words and checked; None when that is not possible (a constructor
    that takes modules, or shapes that are not multiples of its arguments).
    """
    params = [p for p in init.parameters.values() if p.name != "self"]
    required = [p for p in params if p.default is inspect.Parameter.empty]
    if not required or any(_annotation_text(p.annotation) != "int" for p in required):
        return None
    names = [p.name for p in required]
    for first, second in _TRIALS:
        try:
            a = cls(*first[: len(names)])
            b = cls(*second[: len(names)])
        except Exception:  # noqa: BLE001, S112 - the answer key refuses these sizes; try the next ones
            continue
        shapes_a = {n: tuple(p.shape) for n, p in a.named_parameters()}
        shapes_b = {n: tuple(p.shape) for n, p in b.named_parameters()}
        out, env_b = [], dict(zip(names, second))
        for pname, shape in shapes_a.items():
            exprs = [_size_expr(d, names, first[: len(names)]) for d in shape]
            if any(e is None for e in exprs) or tuple(_eval_expr(e, env_b) for e in exprs) != shapes_b.get(pname):
                break
            out.append((pname, "(" + ", ".join(exprs) + ("," if len(exprs) == 1 else "") + ")"))
        else:
            return out
    return None


# --------------------------------------------------------------------------- definitions


def _identifiers(text: str) -> set[str]:
    return {m.split(".")[0] for m in re.findall(r"[A-Za-z_][A-Za-z_0-9.]*", text)}


class _Needs:
    """Imports and type aliases the generated annotations use, resolved in the answer key's module."""

    def __init__(self, ref_module, names=()):
        self.ref = ref_module
        self.imports: dict[str, str] = {}
        self.aliases: dict[str, str] = {}
        # the answer key's own source, and that of the modules its names come from (a task's answer_key.py may
        # take them from a library, as the default course's take them from reference_models)
        homes = [ref_module] + [inspect.getmodule(getattr(ref_module, n, None)) for n in names]
        self.source = "\n".join(_source(m) for m in dict.fromkeys(h for h in homes if h is not None))

    def add(self, text: str | None) -> None:
        for ident in _identifiers(text or ""):
            if ident in self.imports or ident in self.aliases or hasattr(builtins, ident) or ident == "None":
                continue
            if ident in KNOWN_IMPORTS:
                self.imports[ident] = KNOWN_IMPORTS[ident]
                continue
            obj = getattr(self.ref, ident, None)
            alias = re.search(rf"^{re.escape(ident)}\s*=\s*(.+)$", self.source, re.MULTILINE)
            if alias:
                self.aliases[ident] = f"{ident} = {alias.group(1).strip()}"
                self.add(alias.group(1))
            elif obj is not None and getattr(obj, "__module__", "") in ("typing", "collections.abc"):
                self.imports[ident] = f"from {obj.__module__} import {ident}"


def _source(module) -> str:
    try:
        return inspect.getsource(module)
    except (OSError, TypeError):
        return ""


def _stub_body(indent: str, qualname: str) -> str:
    return f'{indent}raise NotImplementedError("TODO: {qualname}")\n'


def function_item(name: str, func, needs: _Needs, doc: str = "") -> Item:
    """A function's stub: the answer key's signature, ``doc`` (the spec's words for it) and a body that raises."""
    sig = inspect.signature(func)
    params, ret = _split_signature(format_signature(sig))
    for p in sig.parameters.values():
        needs.add(_annotation_text(p.annotation))
    needs.add(_annotation_text(sig.return_annotation))
    code = _def_line("", name, params, ret) + "\n" + (_docstring(doc, "    ") if doc else "") + _stub_body("    ", name)
    return Item(name, first_paragraph(doc), code)


def _stores(param: inspect.Parameter) -> str:
    """How the stub's __init__ keeps an argument (lists of modules in an nn.ModuleList, to register them)."""
    ann = _annotation_text(param.annotation) or ""
    if "Module" in ann and re.search(r"Iterable|Sequence|list", ann):
        return f"nn.ModuleList({param.name})"
    return param.name


def class_item(name: str, cls, needs: _Needs, doc: str = "") -> Item:
    """A class's stub: an nn.Module with the answer key's signatures, ``doc`` (the spec's words for it), the
    contract's parameters in a comment, and a forward that raises."""
    needs.imports.setdefault("nn", KNOWN_IMPORTS["nn"])
    lines = [f"class {name}(nn.Module):\n", _docstring(doc, "    ") if doc else "", "\n"]
    init_sig = inspect.signature(cls.__init__)
    for p in init_sig.parameters.values():
        needs.add(_annotation_text(p.annotation))
    params, _ = _split_signature(format_signature(init_sig))
    lines.append(_def_line("    ", "__init__", params, "") + "\n")
    lines.append("        super().__init__()\n")
    args = [p for p in init_sig.parameters.values() if p.name != "self" and p.kind not in
            (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]
    lines += [f"        self.{p.name} = {_stores(p)}\n" for p in args]
    shapes = parameter_shapes(cls, init_sig)
    if shapes:
        lines.append("        # TODO: create the parameters the contract names, as nn.Parameter (or submodules):\n")
        lines += [f"        #   {pname} {shape}\n" for pname, shape in shapes]
    elif shapes is None and not any("Module" in (_annotation_text(p.annotation) or "") for p in args):
        lines.append("        # TODO: create the parameters (see the contract for their names and shapes)\n")
    forward = cls.__dict__.get("forward") or getattr(cls, "forward", None)
    if forward is not None and _answer_key_code(forward):
        fsig = inspect.signature(forward)
        for p in fsig.parameters.values():
            needs.add(_annotation_text(p.annotation))
        needs.add(_annotation_text(fsig.return_annotation))
        fparams, fret = _split_signature(format_signature(fsig))
        lines += ["\n", _def_line("    ", "forward", fparams, fret) + "\n", _stub_body("        ", f"{name}.forward")]
    return Item(name, first_paragraph(doc), "".join(lines))


def generic_item(name: str) -> Item:
    code = (f"def {name}(*args, **kwargs):\n"
            f'    """Not in the answer key: see the assignment for what {name} must do."""\n'
            + _stub_body("    ", name))
    return Item(name, "", code)


# --------------------------------------------------------------------------- task modules


def _family(spec: TaskSpec):
    """The family of a trained task (harness.checks.trained), or None for a task of functions and classes."""
    if spec.dataset is None:
        return None
    from .checks import load_builtin_checks
    from .checks.trained import family_of

    load_builtin_checks()
    return family_of(spec)


def build_model_item(spec: TaskSpec, needs: _Needs) -> Item:
    """``build_model`` with the parameters the harness calls it with (the checks' own table)."""
    family = _family(spec)
    if family is None:
        return generic_item("build_model")
    params = re.search(r"\((.*)\)", family.signature).group(1)
    names = [p.strip() for p in params.split(",") if p.strip()]
    needs.imports.setdefault("nn", KNOWN_IMPORTS["nn"])
    doc = _conventions_text(spec, "build_model") or f"Returns an nn.Module whose output is {family.output}."
    code = (_def_line("", "build_model", ", ".join(f"{n}: int" for n in names), " -> nn.Module") + "\n"
            + _docstring(doc, "    ") + _stub_body("    ", "build_model"))
    return Item("build_model", doc.split("\n\n")[0], code)


def hyperparameters_item(spec: TaskSpec) -> Item | None:
    """HYPERPARAMETERS = the spec's recipe for the keys a student may set, with their bounds in a comment."""
    training = spec.training or {}
    bounds = training.get("bounds", {})
    keys = [k for k in STUDENT_SETTABLE if k in bounds]
    if not keys:
        return None
    shown = {k: current(training, k) for k in keys}
    shown = {k: v for k, v in shown.items() if v is not None}  # patience of a task without early stopping: unset
    values = ", ".join(f'"{k}": "{v}"' if isinstance(v, str) else f'"{k}": {v!r}' for k, v in shown.items())
    ranges = ", ".join(bound_text(k, bounds[k]) for k in keys)
    budget = training.get("cpu_budget_s")
    comment = (f"Optional: how the harness trains your model. These are the task's own settings; each value "
               f"must lie in its bounds ({ranges}){f', and training may use {budget:g} s of CPU' if budget else ''}. "
               "Remove what you do not want to change.")
    code = textwrap.indent(_fill(comment, 2), "# ") + f"\nHYPERPARAMETERS = {{{values}}}\n"
    return Item("HYPERPARAMETERS", "How the harness trains your model (optional).", code)


# --------------------------------------------------------------------------- a module


def _origin(spec: TaskSpec) -> str:
    rel = f"tasks/{spec.path.parent.name}/{spec.path.name}" if spec.path else "its task spec"
    return f"written by `harness init` from {rel} (version {spec.version})"


def _conventions_text(spec: TaskSpec, name: str) -> str:
    """The spec's words for ``name`` (``[interface.conventions]``), each paragraph filled to the docstring's width."""
    return "\n\n".join(_fill(p, 4) for p in spec.conventions.get(name, "").split("\n\n") if p)


def _module_docstring(spec: TaskSpec, task_module: bool) -> str:
    parts = [f"{spec.title} — starter code for {spec.module}.py, {_origin(spec)}."]
    if spec.description:
        parts.append(" ".join(spec.description.split()))
    if spec.conventions.get(SHARED_CONVENTIONS):
        parts += spec.conventions[SHARED_CONVENTIONS].split("\n\n")
    parts.append(f"What each name takes and returns, and what the checks test: CONTRACT.md, section {spec.name}.")
    if task_module:
        family = _family(spec)
        call = family.signature if family else "build_model(...)"
        parts.append(f"The harness builds your model with {call}, trains it with its own recipe (see "
                     "HYPERPARAMETERS) and evaluates it on a split you do not see.")
    parts.append("Replace every NotImplementedError. The names and signatures are what the harness grades: "
                 "do not rename them.")
    return "\n\n".join(_fill(p, 4) for p in parts)


def starter_module(spec: TaskSpec) -> StarterModule:
    """What ``<module>.py`` of a task holds, built from its spec and the answer key."""
    task_module = spec.names == ["build_model"] and _family(spec) is not None
    ref = course.answer_key(spec) if not task_module else None
    needs = _Needs(ref, spec.names)
    items, warnings = [], []
    if task_module:
        hyper = hyperparameters_item(spec)
        items += [hyper] if hyper else []
        items.append(build_model_item(spec, needs))
    else:
        for name in spec.names:
            obj = getattr(ref, name, None) if ref is not None else None
            doc = _conventions_text(spec, name)
            if isinstance(obj, type):
                items.append(class_item(name, obj, needs, doc))
            elif callable(obj):
                items.append(function_item(name, obj, needs, doc))
            else:
                warnings.append(f"{spec.module}.{name} is not in the answer key ({spec.path.parent.name}/"
                                f"{course.ANSWER_KEY}); "
                                "its stub takes (*args, **kwargs)")
                items.append(generic_item(name))
    imports = sorted(set(needs.imports.values()))
    return StarterModule(spec, _module_docstring(spec, task_module), imports,
                         list(needs.aliases.values()), items, warnings)


def _import_lines(imports: list[str]) -> list[str]:
    """``import x`` lines first, then one ``from m import a, b`` per module, sorted."""
    plain = sorted(i for i in imports if not _FROM.match(i))
    grouped: dict[str, set[str]] = {}
    for line in imports:
        m = _FROM.match(line)
        if m:
            grouped.setdefault(m.group(1), set()).add(m.group(2))
    return plain + [f"from {m} import {', '.join(sorted(names))}" for m, names in sorted(grouped.items())]


def _preamble(mod: StarterModule) -> str:
    std = _import_lines([i for i in mod.imports if i.startswith(("from collections", "from typing"))])
    third = _import_lines([i for i in mod.imports if not i.startswith(("from collections", "from typing"))])
    blocks = ["from __future__ import annotations\n"]
    if std:
        blocks.append("\n".join(std) + "\n")
    if third:
        blocks.append("\n".join(third) + "\n")
    text = "\n".join(blocks)
    if mod.aliases:
        text += "\n" + "\n".join(mod.aliases) + "\n"
    return text


def render_python(mod: StarterModule) -> str:
    """The module as a ``.py`` file."""
    out = _docstring(mod.docstring, "") + _preamble(mod)
    for item in mod.items:
        gap = "\n" if item.name == "HYPERPARAMETERS" else "\n\n"
        out += gap + item.code
    return out


def render_notebook(mod: StarterModule):
    """The module as a notebook: the docstring and imports first, then per name a markdown cell
    (its name and what it is) and a code cell (its stub)."""
    import nbformat
    from nbformat import v4

    intro = f"# {mod.spec.title}\n\n*Starter notebook for `{mod.spec.module}`, {_origin(mod.spec)}.*\n\n"
    cells = [v4.new_markdown_cell(intro + mod.docstring.split("\n\n", 1)[-1]),
             v4.new_code_cell(_preamble(mod).rstrip("\n"))]
    for item in mod.items:
        heading = f"## `{item.name}`" + (f"\n\n{item.summary}" if item.summary else "")
        cells += [v4.new_markdown_cell(heading), v4.new_code_cell(item.code.rstrip("\n"))]
    nb = v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}})
    nbformat.validate(nb)
    return nb


# --------------------------------------------------------------------------- the folder


def workflow_text(specs: list[TaskSpec], classroom: bool = False) -> str:
    """The assignment repo's GitHub workflow (GitHub Classroom's with ``classroom``), HARNESS_TASKS set to these
    tasks."""
    from . import __version__

    template = CLASSROOM_TEMPLATE if classroom else WORKFLOW_TEMPLATE
    text = template.read_text(encoding="utf-8").replace("VERSION", __version__)
    names = " ".join(s.name for s in specs)
    return re.sub(r'^(\s*HARNESS_TASKS:\s*)"[^"\n]*"', lambda m: f'{m.group(1)}"{names}"', text, count=1, flags=re.MULTILINE)


def planned_files(directory: Path, specs: list[TaskSpec], notebook: bool = False,
                  workflow: bool = True, classroom: bool = False) -> dict[Path, object]:
    """Every file ``harness init`` writes, path -> content (text, or a notebook)."""
    directory = Path(directory)
    files: dict[Path, object] = {}
    for spec in specs:
        mod = starter_module(spec)
        if notebook:
            files[directory / f"{spec.module}.ipynb"] = render_notebook(mod)
        else:
            files[directory / mod.filename] = render_python(mod)
    if workflow:
        files[directory / (CLASSROOM_PATH if classroom else WORKFLOW_PATH)] = workflow_text(specs, classroom)
    return files


def write_starter(directory: Path, specs: list[TaskSpec], notebook: bool = False, force: bool = False,
                  workflow: bool = True, classroom: bool = False) -> tuple[list[Path], list[str]]:
    """Write the starter files into ``directory``; returns (paths written, warnings). ``classroom``: the workflow is
    GitHub Classroom's (.github/workflows/classroom.yml) instead of harness.yml.

    Nothing is written when any file exists already, unless ``force``.
    """
    import nbformat

    if not specs:
        raise StarterError("no task to write starter files for")
    modules = [s.module for s in specs]
    twice = sorted({m for m in modules if modules.count(m) > 1})
    if twice:
        raise StarterError(f"two tasks grade the same module ({', '.join(twice)}); pick one of them with --task")
    files = planned_files(directory, specs, notebook, workflow, classroom)
    existing = [p for p in files if p.exists()]
    if existing and not force:
        raise StarterError("these files exist already (pass --force to overwrite them): "
                           + ", ".join(str(p) for p in existing))
    warnings = [w for s in specs for w in starter_module(s).warnings]
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            nbformat.write(content, str(path))
    return list(files), warnings
