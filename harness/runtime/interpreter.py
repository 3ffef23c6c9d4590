"""The program interpreter: evaluates what the judge asks for, as data, against a namespace of modules.

A program (built by ``harness.sandbox.program.Program`` in the judge) is a list of ``(variable,
expression)`` steps and a result; an expression calls a name of the namespace (``cells.LSTMCell``),
a method, or one of the trusted helper ops of ``ops.py``. The worker evaluates it against the
student's modules; the judge evaluates the very same program against the answer key.
"""
from __future__ import annotations

from .mapping import MappedModule
from .ops import DTYPES, OPS, ContractError


def resolve(namespace: dict, dotted: str):
    """Find ``module.attr`` in a namespace of modules; a missing name is a ContractError."""
    module_name, _, attr = dotted.partition(".")
    if module_name not in namespace:
        raise ContractError(f"module {module_name!r} is not available")
    module = namespace[module_name]
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ContractError(f"{module_name}.py does not define {attr!r}") from None


_UNSET = object()  # a global the module did not have before a program set it


def _own_module(namespace: dict, dotted: str):
    """The module object that holds ``module.attr``'s globals (the student's own, behind an interface map)."""
    module_name, _, attr = dotted.partition(".")
    if module_name not in namespace or not attr.isidentifier():
        raise ContractError(f"cannot set {dotted!r}: module {module_name!r} is not available")
    module = namespace[module_name]
    return (module._module if isinstance(module, MappedModule) else module), attr


def run(program: dict, inputs: dict, namespace: dict):
    """Evaluate a program (as produced by :meth:`Program.to_json`) and return its result value. A module global
    the program sets (a notebook's ``char2idx``) is put back as it was when the program ends."""
    env, saved = {}, []

    def ev(e):
        if isinstance(e, list):
            return [ev(x) for x in e]
        if not isinstance(e, dict):
            return e
        if "var" in e:
            return env[e["var"]]
        if "$tensor" in e:
            return inputs[e["$tensor"]].clone()
        if "$tuple" in e:
            return tuple(ev(x) for x in e["$tuple"])
        if "$dict" in e:
            return {k: ev(v) for k, v in e["$dict"].items()}
        if "$dtype" in e:
            return DTYPES[e["$dtype"]]
        if "call" in e:
            return resolve(namespace, e["call"])(*ev(e["args"]), **ev(e["kwargs"]))
        if "method" in e:
            obj, name = e["method"]
            return getattr(ev(obj), name)(*ev(e["args"]), **ev(e["kwargs"]))
        if "op" in e:
            return OPS[e["op"]](*ev(e["args"]))
        if "assign" in e:
            module, attr = _own_module(namespace, e["assign"])
            saved.append((module, attr, vars(module).get(attr, _UNSET)))
            setattr(module, attr, ev(e["value"]))
            return None
        if "lookup" in e:
            module_name, _, attr = e["lookup"].partition(".")
            return getattr(namespace.get(module_name), attr, None)
        raise ValueError(f"unknown program expression {sorted(e)}")

    try:
        for name, expr in program["steps"]:
            env[name] = ev(expr)
        return ev(program["result"])
    finally:
        for module, attr, old in reversed(saved):
            if old is _UNSET:
                vars(module).pop(attr, None)
            else:
                setattr(module, attr, old)
