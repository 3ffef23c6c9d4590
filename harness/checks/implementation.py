"""The implement-it-yourself rule: a cell or attention function must not call torch's own.

Two witnesses, both judged here: a static reading of the source (its syntax tree, never executed)
that finds references to the forbidden built-ins and the top-level class or function they sit in,
and the worker's tripwire, which records the forbidden built-ins actually called while a program
ran (it catches ``getattr(torch.nn, "LSTM" + "Cell")`` and the like). Both read the one list of
``harness/runtime/forbidden.py``.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass

from ..runtime.forbidden import NAMES as FORBIDDEN

#: Module paths whose attributes of those names are torch's built-ins.
TORCH_OWNERS = {"torch", "torch.nn", "nn", "torch.nn.functional", "F", "functional", "torch._VF", "_VF",
                "torch.nn.modules", "torch.nn.modules.rnn", "torch.nn.modules.activation", "torch._C._VariableFunctions"}


@dataclass(frozen=True)
class Finding:
    name: str      # e.g. "torch.nn.LSTMCell"
    line: int
    scope: str     # the top-level class or function it is in, "" at module level


def _dotted(node) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def scan_source(source: str, names: list[str] | None = None) -> list[Finding]:
    """Every reference to a forbidden torch built-in in ``source``, with its line and scope. ``names`` (a
    task's own rule) replaces the default list: dotted names such as ``torch.nn.functional.softmax`` (found
    however the module is imported or aliased), and ``Tensor.softmax`` for that method on any object but self."""
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
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    aliases: dict[str, str] = {}   # local name -> the built-in it stands for
    module_aliases = {"torch": "torch"}
    for node in ast.walk(tree):
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
    scopes = []
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            scopes.append((node.lineno, node.end_lineno or node.lineno, node.name))

    def scope_of(line: int) -> str:
        return next((name for lo, hi, name in scopes if lo <= line <= hi), "")

    findings = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in attrs:
            owner = _dotted(node.value) or "(an expression)"
            head, _, rest = owner.partition(".")
            expanded = module_aliases.get(head, head) + (f".{rest}" if rest else "")
            name = named(owner, expanded, node.attr)
            if name is not None:
                findings.append(Finding(name, node.lineno, scope_of(node.lineno)))
        elif (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in aliases
              and (names is None or aliases[node.id] in names)):
            findings.append(Finding(aliases[node.id], node.lineno, scope_of(node.lineno)))
    return sorted(set(findings), key=lambda f: (f.line, f.name))


# --------------------------------------------------------------------------- the rule, judged the same way in every task


@dataclass(frozen=True)
class Trial:
    """How one name fared when the rule's check ran it: ``computes`` (its output depends on its input),
    ``constant`` (it does not: a stub), ``not implemented`` (NotImplementedError), ``contract`` (no weights
    can be loaded into it yet) or ``raised`` (any other error, a hang or a crash: its own checks report that)."""

    name: str
    outcome: str
    detail: str = ""


def trial(ctx, name: str, first, second) -> Trial:
    """Run ``name``'s two programs (different inputs) on the submission: does it compute, is it a stub, or does
    it raise?"""
    from ..sandbox.launcher import WorkerDied
    from . import ContractBroken, StudentError

    try:
        constant = constant_output(ctx.student(first), ctx.student(second))
    except StudentError as exc:
        return Trial(name, "not implemented" if exc.not_implemented else "raised",
                     "is not implemented yet" if exc.not_implemented else "raised")
    except ContractBroken as exc:  # no weights to load into: nothing that computes yet
        return Trial(name, "contract", f"does not follow the contract yet ({exc})")
    except WorkerDied:
        return Trial(name, "raised")
    return Trial(name, "constant", f"returns {constant}") if constant else Trial(name, "computes")


def rule_verdict(module_file: str, trials: list[Trial], static: list[Finding], forbidden: list[str],
                 locate, built_ins: str, hint: str):
    """The implement-it-yourself rule: a forbidden built-in in the source or called at run time costs the
    points; no forbidden built-in is worth them only for code that computes something — a name that raised is
    judged from its source alone, a stub (constant output, NotImplementedError) earns nothing."""
    from . import Verdict

    used = [f"{f.name} ({locate(f.line)}" + (f", in {f.scope}" if f.scope else "") + ")" for f in static]
    used += [f"{name} (called at run time)" for name in sorted(set(forbidden)) if not any(
        name.split(".")[-1] == f.name.split(".")[-1] for f in static)]
    if used:
        return Verdict(False, f"{module_file} uses {', '.join(used)}", hint)
    working = [t for t in trials if t.outcome in ("computes", "raised")]
    idle = [t for t in trials if t.outcome not in ("computes", "raised")]
    if not working:
        return Verdict(False, "nothing to judge yet: " + "; ".join(f"{t.name} {t.detail}" for t in idle),
                       "the rule is about how your code computes: it earns its points once the code computes "
                       "something (the checks of each name say what is missing)")
    names = ", ".join(t.name for t in working)
    message = f"{names}: implemented with tensor operations (no {built_ins})"
    raised = [t.name for t in working if t.outcome == "raised"]
    if raised:
        message += (f"; {', '.join(raised)} could not be run here (see {'its' if len(raised) == 1 else 'their'} own "
                    "checks), so only the source was read")
    if idle:
        message += "; not judged yet: " + "; ".join(f"{t.name} {t.detail}" for t in idle)
    return Verdict(True, message, numbers={"trials": {t.name: t.outcome for t in trials}})


def constant_output(first, second, given=None) -> str | None:
    """What is constant when two different inputs gave the same output (None when they did not): all zeros,
    the state it was given, or just the same values."""
    import torch

    from .compare import close

    if not close(first, second, 0.0, 0.0):
        return None
    def leaves(value):
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, (tuple, list)):
            return [leaf for v in value for leaf in leaves(v)]
        return [value]

    tensors = [t for t in leaves(first) if isinstance(t, torch.Tensor)]
    if tensors and all(not t.is_floating_point() or bool((t == 0).all()) for t in tensors):
        return "all zeros whatever the input"
    if given is not None and close(first, given, 0.0, 0.0):
        return "the state it was given, unchanged, whatever the input"
    return "the same values whatever the input"
