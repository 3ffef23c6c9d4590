"""Mistakes nobody catalogued: one-change mutants of the answer key, named when exactly one matches.

An instructor's catalogue (harness.course) lists the mistakes they foresaw. The slips they did not foresee
are often systematic — one nonlinearity for another, a term left out of a sum, two blocks of a ``chunk`` read
in each other's place, a softmax over the wrong axis, an index or a range off by one, a comparison or a mask
the other way round (:func:`changes` lists them all). :func:`mutants_of` derives them from the answer key's
code, on the judge's side: it parses the source of a contract name (a function, or a class's methods) and of
the module-level helpers it calls, applies one operator at one place, and compiles the result beside the
answer key, in a copy of its module's globals. A mutant is a catalogue entry (harness.course.Entry) of kind
"mutant", run exactly like one (harness.answers), and harness.checks.diagnose names it only when it is the
*only* mutant whose output matches the student's.

Its description is generated from the operator and the contract's own words — the name under test and the
identifiers of its conventions and signatures — never from a line of the answer key: "LSTMCell: f uses tanh
instead of sigmoid". An identifier the contract does not use is not shown.

Bounded by work, not by the clock (a grade must not depend on the machine's load): at most
:data:`MAX_PER_TARGET` mutants per contract name, in a fixed order, and a mutated function that executes more
than :data:`LINE_BUDGET` lines of its own in one call stops (a flipped loop condition cannot spin forever).
"""
from __future__ import annotations

import ast
import copy
import functools
import inspect
import re
import sys
import textwrap
import threading
import types
from dataclasses import dataclass
from typing import Callable

from ..parsing import parse
from ..course import Entry

#: The most mutants derived for one contract name (in the order of :func:`mutants_of`).
MAX_PER_TARGET = 80
#: The lines a mutated function may execute in one call (its own code and the functions nested in it).
LINE_BUDGET = 200_000
#: How deep the module-level helpers a contract name calls are followed (1: the helpers it calls itself).
HELPER_DEPTH = 2
#: The kind a mutant reports (harness.answers.VariantInfo.kind).
KIND = "mutant"

NONLINEARITIES = ("sigmoid", "tanh", "relu")
REORDERINGS = ("flip",)
REDUCTIONS = ("softmax", "log_softmax", "sum", "mean", "max", "min", "amax", "amin", "argmax", "argmin",
              "logsumexp", "prod", "cumsum", "norm", "std", "var", "any", "all")
FLIPPED = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq}
SYMBOLS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
AXES = (0, 1, -1, -2)  # in this order: of two that give the same values, the first is named


class OutOfWork(Exception):
    """A mutant executed more lines than :data:`LINE_BUDGET` in one call."""


def site_of(name: str) -> str:
    """The place a mutant changes: its name (``mutant.<module>.<target>.<place>.<n>``: two
    modules may have a name in common, build_model say) without the last part. Two mutants of one
    place that give the same values are one mistake said in two ways (dim 0 and dim −2 of a 2-D tensor)."""
    return name.rsplit(".", 1)[0]


# --------------------------------------------------------------------------- words of the contract


def contract_words(target: str, conventions: dict | None, obj=None) -> frozenset[str]:
    """The identifiers a student reads in the task's contract: those of its conventions (every name's, and the
    shared ones: CONTRACT.md shows them all), the name itself and its parameters (a class's ``__init__`` and
    ``forward``)."""
    text = " ".join(str(v) for v in (conventions or {}).values())
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_']*", text)) | {target}
    for func in ((getattr(obj, "__init__", None), getattr(obj, "forward", None)) if inspect.isclass(obj) else (obj,)):
        try:
            words |= set(inspect.signature(func).parameters) - {"self"}
        except (TypeError, ValueError):
            pass
    return frozenset(words)


class Words:
    """Names an expression in the contract's words, or not at all."""

    def __init__(self, words: frozenset[str]):
        self.words = words

    def symbol(self, name: str | None) -> str | None:
        """``name`` if the contract uses it; for a one-letter prefix and a symbol (``a_f``, ``x_r``: the block of
        gate f, of gate r), the symbol if the contract uses it; else None (``out_b`` is not the contract's b)."""
        if not name:
            return None
        if name in self.words:
            return name
        prefix, _, tail = name.partition("_")
        return tail if len(prefix) == 1 and tail in self.words else None

    def expression(self, node: ast.AST, limit: int = 48) -> str | None:
        """The expression as the contract would write it (``self.`` dropped), when every identifier in it is
        the contract's and it is short; else None."""
        node = _Unself().visit(copy.deepcopy(node))
        text = ast.unparse(node)
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | \
                {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute) and n.attr != "T"}
        if len(text) > limit or not names or not names <= self.words:
            return None
        return text


class _Unself(ast.NodeTransformer):
    def visit_Attribute(self, node):
        self.generic_visit(node)
        if isinstance(node.value, ast.Name) and node.value.id == "self":
            return ast.copy_location(ast.Name(node.attr, ast.Load()), node)
        return node


# --------------------------------------------------------------------------- where a change is made


@dataclass
class Change:
    """One operator at one place: ``apply`` edits a copy of the function's tree, found by ``index`` in
    :func:`ast.walk` order; ``description`` is what the student reads."""

    operator: str
    index: int
    apply: Callable[[ast.AST], ast.AST | None]  # the node -> its replacement (None: edited in place)
    description: str


def _statement_names(tree: ast.AST) -> dict[int, str | None]:
    """For each node's id, the name the statement holding it assigns (``f = ...`` -> ``f``), ``return`` for a
    return statement, or None."""
    owner: dict[int, str | None] = {}
    for stmt in ast.walk(tree):
        if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return)):
            if isinstance(stmt, ast.Return):
                name = "return"
            else:
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                name = targets[0].id if len(targets) == 1 and isinstance(targets[0], ast.Name) else None
            for node in ast.walk(stmt):
                owner.setdefault(id(node), name)
    return owner


def _called(node: ast.Call) -> str | None:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


def _int_constant(node) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and type(node.operand.value) is int:
        return -node.operand.value
    return None


def _axis_words(dim: int) -> str:
    return {-1: "the last axis", -2: "the second-to-last axis"}.get(dim, f"dim {dim}")


def _sum_terms(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _sum_terms(node.left) + _sum_terms(node.right)
    return [node]


def _rebuilt_sum(terms: list[ast.AST]) -> ast.AST:
    out = terms[0]
    for term in terms[1:]:
        out = ast.BinOp(out, ast.Add(), term)
    return out


def changes(tree: ast.AST, where: str, words: Words, helper: bool = False) -> list[Change]:
    """Every change the operators make to one function's tree, in a fixed order (walk order, then operator).
    In a ``helper`` the contract name calls, what the helper returns is not what the name returns."""
    found: list[Change] = []
    names = _statement_names(tree)
    parents = {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}

    def what(node) -> str:
        name = names.get(id(node))
        if name == "return":
            return "one of its values" if helper else "the value returned"
        symbol = words.symbol(name)
        return symbol if symbol else "one of its values"

    for index, node in enumerate(ast.walk(tree)):
        if isinstance(node, ast.Call):
            called = _called(node)
            # nonlinearities: one for another, or left out
            if called in NONLINEARITIES:
                for other in NONLINEARITIES[:2]:
                    if other != called:
                        found.append(Change("nonlinearity", index, functools.partial(_renamed_call, name=other),
                                            f"{where}: {what(node)} uses {other} instead of {called}"))
                if _argument(node) is not None:
                    found.append(Change("nonlinearity", index, _argument,
                                        f"{where}: the {called} is left out of {what(node)}"))
            # a reordering left out
            if called in REORDERINGS and _argument(node, method_only=True) is not None:
                found.append(Change("order", index, functools.partial(_argument, method_only=True),
                                    f"{where}: the {called} of {what(node)} is left out (its order is not reversed)"))
            # the axis of a reduction or softmax
            if called in REDUCTIONS:
                place = _axis_place(node)
                if place is not None:
                    dim = _int_constant(place[1])
                    if dim is not None:
                        for other in AXES:
                            if other != dim:
                                found.append(Change("axis", index, functools.partial(_with_axis, dim=other),
                                                    f"{where}: the {called}(…) in {what(node)} is taken over "
                                                    f"{_axis_words(other)} instead of {_axis_words(dim)}"))
            # the parts a cat or stack joins, in another order
            if called in ("cat", "stack", "concatenate") and node.args \
                    and isinstance(node.args[0], (ast.List, ast.Tuple)):
                parts = node.args[0].elts
                for i in range(len(parts)):
                    for j in range(i + 1, len(parts)):
                        a, b = words.expression(parts[i]), words.expression(parts[j])
                        said = f"{a} and {b}" if a and b else f"parts {i + 1} and {j + 1}"
                        found.append(Change("blocks", index, functools.partial(_swapped_parts, i=i, j=j),
                                            f"{where}: the {called} of {what(node)} joins {said} in each other's "
                                            "place"))
            # a range one step longer or shorter
            if called == "range" and node.args and not node.keywords:
                for k in range(len(node.args)):
                    if len(node.args) == 3 and k == 2:
                        break
                    bound = "start" if len(node.args) > 1 and k == 0 else "end"
                    for shift in (1, -1):
                        found.append(Change("index", index, functools.partial(_shifted_argument, k=k, shift=shift),
                                            f"{where}: a loop's range {'starts' if bound == 'start' else 'ends'} one "
                                            f"step {'late' if shift > 0 else 'early'}"))
            # a mask the other way round
            if called == "masked_fill" and node.args and not isinstance(node.args[0], ast.UnaryOp):
                found.append(Change("mask", index, functools.partial(_inverted_argument, k=0),
                                    f"{where}: a mask of {what(node)} is used the other way round (True and False "
                                    "swapped)"))
            if called == "where" and len(node.args) == 3:
                found.append(Change("mask", index, _swapped_where,
                                    f"{where}: the condition of a where in {what(node)} is used the other way round"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
            label = words.expression(node.operand)
            found.append(Change("mask", index, lambda n: n.operand,
                                f"{where}: {_the_mask(label)} is used the other way round "
                                "(True and False swapped)"))
        elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in FLIPPED:
            old = type(node.ops[0])
            new = FLIPPED[old]
            label = words.expression(node)
            if label:
                flipped = copy.deepcopy(node)
                _flipped(flipped, new)
                said = f"the test {label} is taken the other way round ({words.expression(flipped)})"
            else:
                said = f"a {SYMBOLS[old]} comparison is made {SYMBOLS[new]} in {what(node)}"
            found.append(Change("comparison", index, functools.partial(_flipped, op=new), f"{where}: {said}"))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and not (
                isinstance(parents.get(id(node)), ast.BinOp) and isinstance(parents[id(node)].op, ast.Add)
                and parents[id(node)].left is node):
            terms = _sum_terms(node)
            for k, term in enumerate(terms):
                label = words.expression(term)
                found.append(Change("term", index, functools.partial(_dropped_term, k=k),
                                    f"{where}: the term {label + ' ' if label else ''}is left out of the sum that "
                                    f"gives {what(node)}"))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub):
            label = words.expression(node.right)
            found.append(Change("term", index, lambda n: n.left,
                                f"{where}: {label if label else 'a term'} is not subtracted in {what(node)}"))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            for side in ("left", "right"):
                label = words.expression(getattr(node, side))
                kept = "right" if side == "left" else "left"
                found.append(Change("factor", index, functools.partial(_side, side=kept),
                                    f"{where}: the factor {label + ' ' if label else ''}is left out of {what(node)}"))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            label = words.expression(node.right)
            found.append(Change("factor", index, functools.partial(_side, side="left"),
                                f"{where}: {what(node)} is not divided by {label if label else 'what it should be'}"))
            found.append(Change("factor", index, _multiplied,
                                f"{where}: {what(node)} is multiplied by {label if label else 'a value'} instead of "
                                "divided by it"))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr)):
            for side in ("left", "right"):
                operand = getattr(node, side)
                label = words.expression(operand)
                named = f"{_the_mask(label)} " if label else "one of the masks joined "
                kept = "right" if side == "left" else "left"
                found.append(Change("mask", index, functools.partial(_side, side=kept),
                                    f"{where}: {named}is ignored in {what(node)}"))
                if not (isinstance(operand, ast.UnaryOp) and isinstance(operand.op, ast.Invert)):
                    found.append(Change("mask", index, functools.partial(_inverted_side, side=side),
                                        f"{where}: {named}is used the other way round (True and False swapped) in "
                                        f"{what(node)}"))
        elif isinstance(node, ast.Subscript):
            found += _index_changes(node, index, where, words)
        elif isinstance(node, (ast.Assign, ast.Return)):
            found += _block_changes(node, index, where, words)
    return found


def _the_mask(label: str | None) -> str:
    """"the mask", "the mask valid" (never "the mask mask")."""
    return "the mask" if not label or label == "mask" else f"the mask {label}"


def _index_changes(node: ast.Subscript, index: int, where: str, words: Words) -> list[Change]:
    """An index or a slice bound shifted by one: ``x[t]`` read as ``x[t + 1]``, ``x[:n]`` as ``x[:n - 1]``."""
    out = []
    elements = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    subject = words.expression(node.value) or "a value"
    for e, element in enumerate(elements):
        bounds = [("lower", element.lower), ("upper", element.upper)] if isinstance(element, ast.Slice) else \
            [(None, element)] if isinstance(element, (ast.Name, ast.Constant)) or _int_constant(element) is not None \
            else []
        for part, bound in bounds:
            if bound is None or (isinstance(bound, ast.Constant) and type(bound.value) is not int):
                continue
            for shift in (1, -1):
                said = words.expression(bound)
                at = f"{said} {'+' if shift > 0 else '-'} 1 instead of {said}" if said else \
                    f"one position {'after' if shift > 0 else 'before'} the right one"
                kind = {"lower": "a slice of it starts at", "upper": "a slice of it ends at",
                        None: "it is read at"}[part]
                out.append(Change("index", index, functools.partial(_shifted_index, e=e, part=part, shift=shift),
                                  f"{where}: {subject} is off by one: {kind} {at}"))
    return out


def _block_changes(node, index: int, where: str, words: Words) -> list[Change]:
    """Two blocks read in each other's place: the names a tuple assignment binds from a call (a ``chunk``,
    ``split`` or a helper's blocks) — in every parallel tuple alike — or the parts of a returned tuple."""
    out = []
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Tuple) \
            and isinstance(node.value, ast.Call):
        target = node.targets[0]
        if all(isinstance(e, ast.Name) for e in target.elts):
            groups = [target.elts]
        elif all(isinstance(e, ast.Tuple) and all(isinstance(n, ast.Name) for n in e.elts) for e in target.elts) \
                and len({len(e.elts) for e in target.elts}) == 1:
            groups = [e.elts for e in target.elts]
        else:
            return out
        size = len(groups[0])
        labels = [words.symbol(n.id) for n in groups[0]]
        for i in range(size):
            for j in range(i + 1, size):
                order = [labels[k] for k in range(size)]
                if all(order):
                    swapped = list(order)
                    swapped[i], swapped[j] = swapped[j], swapped[i]
                    said = f"the blocks are read in the order {', '.join(swapped)} instead of {', '.join(order)}"
                else:
                    said = f"blocks {i + 1} and {j + 1} of {size} are read in each other's place"
                out.append(Change("blocks", index, functools.partial(_swapped_targets, i=i, j=j), f"{where}: {said}"))
    elif isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple) and len(node.value.elts) >= 2:
        parts = node.value.elts
        for i in range(len(parts)):
            for j in range(i + 1, len(parts)):
                a, b = words.expression(parts[i]), words.expression(parts[j])
                said = f"{b} and {a} instead of ({', '.join(words.expression(p) or '…' for p in parts)})" \
                    if a and b else f"parts {i + 1} and {j + 1} in each other's place"
                out.append(Change("blocks", index, functools.partial(_swapped_returned, i=i, j=j),
                                  f"{where}: it returns {said}"))
    return out


# --------------------------------------------------------------------------- the edits themselves


def _renamed_call(node: ast.Call, name: str):
    if isinstance(node.func, ast.Attribute):
        node.func.attr = name
    else:
        node.func.id = name


def _argument(node: ast.Call, method_only: bool = False):
    """What a one-argument call like ``torch.tanh(a)`` or ``a.tanh()`` is applied to (with ``method_only``, what
    a method like ``a.flip(1)`` is called on, whatever its arguments)."""
    method = isinstance(node.func, ast.Attribute) and \
        not (isinstance(node.func.value, ast.Name) and node.func.value.id in ("torch", "F", "np", "math"))
    if method and (method_only or (not node.args and not node.keywords)):
        return node.func.value
    if method_only:
        return None
    if len(node.args) == 1 and not node.keywords:
        return node.args[0]
    return None


def _axis_place(node: ast.Call):
    """Where a reduction's axis is: ("keyword", keyword) or ("arg", index) with its value node, or None."""
    for kw in node.keywords:
        if kw.arg in ("dim", "axis"):
            return ("keyword", kw.value, kw)
    functional = isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) \
        and node.func.value.id in ("torch", "F", "np")
    k = 1 if functional else 0
    if len(node.args) > k:
        return ("arg", node.args[k], k)
    return None


def _with_axis(node: ast.Call, dim: int):
    kind, _, where = _axis_place(node)
    value = ast.Constant(dim) if dim >= 0 else ast.UnaryOp(ast.USub(), ast.Constant(-dim))
    if kind == "keyword":
        where.value = value
    else:
        node.args[where] = value


def _swapped_parts(node: ast.Call, i: int, j: int):
    elts = node.args[0].elts
    elts[i], elts[j] = elts[j], elts[i]


def _shifted_argument(node: ast.Call, k: int, shift: int):
    node.args[k] = ast.BinOp(node.args[k], ast.Add() if shift > 0 else ast.Sub(), ast.Constant(1))


def _inverted_argument(node: ast.Call, k: int):
    node.args[k] = ast.UnaryOp(ast.Invert(), node.args[k])


def _side(node: ast.BinOp, side: str):
    return getattr(node, side)


def _multiplied(node: ast.BinOp):
    node.op = ast.Mult()


def _inverted_side(node: ast.BinOp, side: str):
    setattr(node, side, ast.UnaryOp(ast.Invert(), getattr(node, side)))


def _swapped_where(node: ast.Call):
    node.args[1], node.args[2] = node.args[2], node.args[1]


def _flipped(node: ast.Compare, op):
    node.ops = [op()]


def _dropped_term(node: ast.BinOp, k: int):
    terms = _sum_terms(node)
    return _rebuilt_sum(terms[:k] + terms[k + 1:])


def _shifted_index(node: ast.Subscript, e: int, part, shift: int):
    def moved(bound):
        return ast.BinOp(bound, ast.Add() if shift > 0 else ast.Sub(), ast.Constant(1))

    elements = node.slice.elts if isinstance(node.slice, ast.Tuple) else None
    element = elements[e] if elements is not None else node.slice
    if part == "lower":
        element.lower = moved(element.lower)
    elif part == "upper":
        element.upper = moved(element.upper)
    elif elements is not None:
        elements[e] = moved(element)
    else:
        node.slice = moved(element)


def _swapped_targets(node: ast.Assign, i: int, j: int):
    target = node.targets[0]
    groups = [target.elts] if all(isinstance(e, ast.Name) for e in target.elts) else [e.elts for e in target.elts]
    for elts in groups:
        elts[i], elts[j] = elts[j], elts[i]


def _swapped_returned(node: ast.Return, i: int, j: int):
    elts = node.value.elts
    elts[i], elts[j] = elts[j], elts[i]


# --------------------------------------------------------------------------- compiling a mutant


class _ExplicitSuper(ast.NodeTransformer):
    """``super()`` -> ``super(__mutant_owner__, <first parameter>)``: a method compiled outside its class body has
    no ``__class__`` cell."""

    def __init__(self, first: str):
        self.first = first

    def visit_Call(self, node):
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "super" and not node.args:
            node.args = [ast.Name("__mutant_owner__", ast.Load()), ast.Name(self.first, ast.Load())]
        return node


def _function_tree(func) -> ast.FunctionDef | None:
    """The parsed source of a plain function or method, or None when it has none to read."""
    try:
        source = textwrap.dedent(inspect.getsource(func))
        tree = parse(source)
    except (OSError, TypeError, SyntaxError, IndentationError):
        return None
    node = tree.body[0] if tree.body else None
    return node if isinstance(node, ast.FunctionDef) and node.name == func.__name__ else None


def _code_objects(code: types.CodeType) -> set:
    found = {code}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found |= _code_objects(const)
    return found


_ACTIVE = threading.local()  # .on: a budgeted call is running in this thread


def _budgeted(func, codes: set):
    """``func``, stopped with OutOfWork after LINE_BUDGET lines of ``codes`` in one call (counted, not timed)."""

    @functools.wraps(func)
    def run(*args, **kwargs):
        if getattr(_ACTIVE, "on", False):  # a mutant calling itself shares the budget of the outer call
            return func(*args, **kwargs)
        left = [LINE_BUDGET]

        def local(frame, event, arg):
            if event == "line":
                left[0] -= 1
                if left[0] < 0:
                    raise OutOfWork(f"{func.__qualname__}: more than {LINE_BUDGET} lines in one call")
            return local

        def called(frame, event, arg):
            return local if frame.f_code in codes else None

        previous = sys.gettrace()
        _ACTIVE.on = True
        sys.settrace(called)
        try:
            return func(*args, **kwargs)
        finally:
            sys.settrace(previous)
            _ACTIVE.on = False

    return run


def _compiled(tree: ast.FunctionDef, func, namespace: dict, owner: type | None, label: str):
    """The mutated function, compiled in ``namespace`` (a copy of its module's globals), with its defaults."""
    if owner is not None and tree.args.args:
        tree = _ExplicitSuper(tree.args.args[0].arg).visit(tree)
        namespace["__mutant_owner__"] = owner
    module = ast.fix_missing_locations(ast.Module([tree], type_ignores=[]))
    code = compile(module, f"<mutant {label}>", "exec")
    exec(code, namespace)  # noqa: S102 - the answer key's own code, changed by the judge, run on the judge's side
    made = namespace.pop(tree.name) if owner is not None else namespace[tree.name]
    codes = set()
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            codes |= _code_objects(const)
    wrapped = _budgeted(made, codes)
    wrapped.__defaults__ = getattr(func, "__defaults__", None)
    return wrapped


def _rebound(func, namespace: dict):
    """``func`` with ``namespace`` as its globals (it then calls the mutated helper)."""
    made = types.FunctionType(func.__code__, namespace, func.__name__, func.__defaults__, func.__closure__)
    made.__kwdefaults__ = func.__kwdefaults__
    made.__qualname__ = func.__qualname__
    made.__dict__.update(func.__dict__)
    return made


def _plain_function(value) -> bool:
    return isinstance(value, types.FunctionType) and value.__closure__ is None


def _methods(cls: type) -> list[tuple[type, str, types.FunctionType]]:
    """The methods ``cls`` uses that are written in its own module: (the class defining it, name, function), the
    first definition of each name along the MRO; dunder methods other than __call__ are left alone."""
    seen, out = set(), []
    for owner in cls.__mro__:
        if owner.__module__ != cls.__module__:
            continue
        for name, value in vars(owner).items():
            if name in seen or (name.startswith("__") and name != "__call__") \
                    or not isinstance(value, types.FunctionType):
                continue
            seen.add(name)
            if name != "reset_parameters":
                out.append((owner, name, value))
    # names defined by a class of another module first in the MRO are not the module's: drop them
    return [(o, n, f) for o, n, f in out if getattr(cls, n, None) is f]


def _helpers(functions: list, globals_: dict, module_name: str) -> list[tuple[str, types.FunctionType]]:
    """The module-level functions of the same module that ``functions`` call by name, then those they call (up to
    HELPER_DEPTH), in the order first met."""
    found: dict[str, types.FunctionType] = {}
    frontier = list(functions)
    for _ in range(HELPER_DEPTH):
        following = []
        for func in frontier:
            tree = _function_tree(func)
            if tree is None:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in found:
                    value = globals_.get(node.id)
                    if _plain_function(value) and value.__module__ == module_name and value not in functions:
                        found[node.id] = value
                        following.append(value)
        frontier = following
    return list(found.items())


_MADE: dict[tuple, list] = {}


def derived(module: str, target: str, obj, conventions: dict | None = None) -> list[Entry]:
    """:func:`mutants_of`, made once a process for each answer key's object (answer keys are imported once)."""
    key = (module, target, id(obj), tuple(sorted((conventions or {}).items())))
    if key not in _MADE:
        _MADE[key] = mutants_of(module, target, obj, conventions)
    return _MADE[key]


def mutants_of(module: str, target: str, obj, conventions: dict | None = None,
               limit: int = MAX_PER_TARGET) -> list[Entry]:
    """The one-change mutants of the contract name ``module.target`` (the answer key's ``obj``), at most ``limit``,
    in a fixed order: the name's own code first (a class's methods in MRO order), then its module's helpers it
    calls; in each function, places in the order of :func:`ast.walk`."""
    words = Words(contract_words(target, conventions, obj))
    if inspect.isclass(obj):
        globals_ = vars(sys.modules[obj.__module__])
        units = [(owner, name, func) for owner, name, func in _methods(obj)]
        module_name = obj.__module__
    elif _plain_function(inspect.unwrap(obj)) if callable(obj) else False:
        base = inspect.unwrap(obj)  # a decorated function (@torch.no_grad()): its source re-applies the decorator
        globals_ = base.__globals__
        units = [(None, obj.__name__, base)]
        module_name = base.__module__
    else:
        return []
    # a decorated function calls its own helpers, out of reach of a copied namespace: only its body is changed
    helpers = _helpers([f for _, _, f in units], globals_, module_name) if units[0][2] is obj or units[0][0] else []
    everything = [(owner, name, func, False) for owner, name, func in units] + \
                 [(None, name, func, True) for name, func in helpers]
    out: list[Entry] = []
    for u, (owner, name, func, is_helper) in enumerate(everything):
        tree = _function_tree(func)
        if tree is None:
            continue
        for c, change in enumerate(_all_changes(tree, target, words, is_helper)):
            if len(out) >= limit:
                return out
            label = f"mutant.{module}.{target}.{u}-{change.index}-{change.operator}.{c}"
            try:
                impl = _build(obj, owner, name, func, is_helper, tree, change, globals_, everything, label)
            except Exception:  # noqa: BLE001 - a change that does not compile is not a mistake anyone makes
                continue
            out.append(Entry(label, module, target, KIND, change.description, impl))
    return out


def _all_changes(tree, target: str, words: Words, helper: bool) -> list[Change]:
    """The changes of a function's body (its signature and defaults are the contract's: never changed)."""
    return changes(ast.Module(tree.body, type_ignores=[]), target, words, helper)


def _mutated_tree(tree: ast.FunctionDef, change: Change) -> ast.FunctionDef:
    copied = copy.deepcopy(tree)
    body = ast.Module(copied.body, type_ignores=[])
    for i, node in enumerate(ast.walk(body)):
        if i == change.index:
            replacement = change.apply(node)
            if replacement is not None:
                _replace(body, node, replacement)
            break
    copied.body = body.body
    return copied


def _replace(root: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for parent in ast.walk(root):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
                return
            if isinstance(value, list):
                for k, item in enumerate(value):
                    if item is old:
                        value[k] = new
                        return


def _build(obj, owner, name, func, is_helper, tree, change, globals_, everything, label):
    namespace = dict(globals_)
    mutated = _compiled(_mutated_tree(tree, change), func, namespace, None if is_helper else owner, label)
    if is_helper:
        namespace[name] = mutated
        for _, other, helper, helper_too in everything:
            if helper_too and other != name:
                namespace[other] = _rebound(helper, namespace)
        if inspect.isclass(obj):
            methods = {n: _rebound(f, namespace) for _, n, f, h in everything if not h}
            return type(obj.__name__, (obj,), {**methods, "__module__": obj.__module__,
                                               "__qualname__": obj.__qualname__})
        return _rebound(obj, namespace)
    if inspect.isclass(obj):
        return type(obj.__name__, (obj,), {name: mutated, "__module__": obj.__module__,
                                           "__qualname__": obj.__qualname__})
    return mutated
