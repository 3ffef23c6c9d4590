"""Interface maps, applied: a submission's own names and parameters standing in for the contract's.

The judge reads a course's ``[interface.map]`` (task.toml) and a student's ``[map.<module>]``
(harness.toml), checks them against the contract and sends the worker plain data, per contract name::

    {"name": "sdpa", "params": [["q", "query"], ["k", "k"], ...], "methods": {"forward": "step"},
     "module": "attention", "where": "harness.toml", "file": "attention.py"}

``params`` lists every parameter of the contract's callable (a class's constructor) in the contract's
order, each with the student's name for it; present only when the map renames parameters. Programs
keep calling contract names; :func:`apply` puts, in front of the student's module, a module whose
contract names reach the student's objects: a function that binds a contract call (positional in the
contract's order, or by contract keyword) and passes it on by the student's keywords; for a class, a
thin subclass of it (still the student's nn.Module, so weights load and parameters are found) whose
constructor does the same and whose contract methods call the student's. Runs in the worker, and in
the judge's tests: it imports the standard library and its siblings only.
"""
from __future__ import annotations

import inspect

from .ops import ContractError


class MappedModule:
    """A student's module seen through an interface map: a mapped contract name gives its adapter, a map
    that points to nothing raises ContractError with what is wrong; every other name is the module's own."""

    def __init__(self, module, adapters: dict, problems: dict):
        object.__setattr__(self, "_module", module)
        object.__setattr__(self, "_adapters", adapters)
        object.__setattr__(self, "_problems", problems)

    def __getattr__(self, name):
        if name in self._problems:
            raise ContractError(self._problems[name])
        if name in self._adapters:
            return self._adapters[name]
        return getattr(self._module, name)


def names_of(module) -> list[str]:
    """The names a module defines as the checks see them: its own and, through a map, the mapped contract
    names, without those whose map points to nothing."""
    if not isinstance(module, MappedModule):
        return sorted(vars(module))
    return sorted((set(vars(module._module)) | set(module._adapters)) - set(module._problems))


def problems_of(module) -> dict[str, str]:
    """Contract name -> what is wrong with its map, for the names of ``module`` whose map points to nothing."""
    return dict(module._problems) if isinstance(module, MappedModule) else {}


def apply(module, entries: dict) -> tuple[MappedModule, dict[str, str]]:
    """The module seen through ``entries`` (contract name -> plain data, see the module docstring), and for
    each contract name whose map points to nothing, the message that says so."""
    adapters, problems = {}, {}
    for contract, entry in entries.items():
        try:
            adapters[contract] = adapter(module, contract, entry)
        except ContractError as exc:
            problems[contract] = str(exc)
        except Exception as exc:  # noqa: BLE001 - the student's objects may raise anything when inspected
            problems[contract] = (f"{_maps(entry, contract)}, but reading it in {entry['file']} raised "
                                  f"{type(exc).__name__}")
    return MappedModule(module, adapters, problems), problems


def _maps(entry: dict, contract: str) -> str:
    return f"{entry['where']} maps {entry['module']}.{contract} to {entry['name']!r}"


def adapter(module, contract: str, entry: dict):
    """What the contract name ``contract`` stands for in ``module`` under ``entry``; ContractError when the
    student's name, one of their parameters or methods is not there."""
    name, file, where = entry["name"], entry["file"], entry["where"]
    qualified = f"{entry['module']}.{contract}"
    try:
        target = getattr(module, name)
    except AttributeError:
        target = _MISSING
    except Exception as exc:  # noqa: BLE001 - a module's own __getattr__ may raise anything
        raise ContractError(f"{_maps(entry, contract)}, but looking it up in {file} raised "
                            f"{type(exc).__name__}") from None
    if target is _MISSING:
        raise ContractError(f"{_maps(entry, contract)}, but {file} defines no {name!r}")
    params = [tuple(pair) for pair in entry.get("params") or []]
    methods = dict(entry.get("methods") or {})
    if not params and not methods:
        return target
    if not callable(target):
        raise ContractError(f"{_maps(entry, contract)}, but {name} in {file} is not a function or a class "
                            f"(its type: {type(target).__name__})")
    accepted, any_keyword = _accepted(target)
    for theirs, mine in params:
        if theirs != mine and not any_keyword and accepted is not None and mine not in accepted:
            raise ContractError(f"{where} maps the parameter {theirs} of {qualified} to {mine!r}, but "
                                f"{name} in {file} takes no parameter {mine!r} (it takes: "
                                f"{', '.join(accepted) or 'nothing'})")
    is_class = isinstance(target, type)
    if methods and not is_class:
        raise ContractError(f"{where} maps methods of {qualified}, but {name} in {file} is not a class")
    for theirs, mine in methods.items():
        if not callable(getattr(target, mine, None)):
            raise ContractError(f"{where} maps the method {qualified}.{theirs} to {mine!r}, but "
                                f"{name} in {file} has no method {mine!r}")
    bind = _binder(qualified, name, file, where, params, accepted, any_keyword) if params else None
    if is_class:
        return _subclass(target, bind, methods)
    return _function(target, bind)


_MISSING = object()


def _accepted(target) -> tuple[list[str] | None, bool]:
    """The keyword names ``target`` accepts (None when its signature cannot be read), and whether it takes
    ``**kwargs``."""
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return None, True
    names = [p.name for p in signature.parameters.values()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return names, any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())


def _binder(contract, name, file, where, params, accepted, any_keyword):
    """args, kwargs of a call in the contract's terms -> the student's keyword arguments."""
    order = [theirs for theirs, _ in params]
    rename = dict(params)

    def bind(args, kwargs) -> dict:
        if len(args) > len(order):
            raise ContractError(f"{contract} was called with {len(args)} positional arguments; the contract has "
                                f"{len(order)} parameters")
        given = dict(zip(order, args))
        for key, value in kwargs.items():
            if key in given:
                raise ContractError(f"{contract} got two values for its parameter {key}")
            given[key] = value
        out = {}
        for theirs, value in given.items():
            mine = rename.get(theirs, theirs)
            if not any_keyword and accepted is not None and mine not in accepted:
                raise ContractError(f"{name} in {file} takes no parameter {mine!r}, which stands for the "
                                    f"contract's {contract}({theirs}=…): rename it, or map it in {where} "
                                    f"under args, e.g. {theirs} = \"your_name\"")
            out[mine] = value
        return out

    return bind


def _function(target, bind):
    def mapped(*args, **kwargs):
        return target(**bind(args, kwargs))

    for attr in ("__name__", "__qualname__", "__module__", "__doc__"):
        value = getattr(target, attr, None)
        if isinstance(value, str):
            setattr(mapped, attr, value)
    return mapped


def _subclass(target: type, bind, methods: dict) -> type:
    """A thin subclass of the student's class: same name, module and parameters; the constructor takes the
    contract's arguments, and each contract method calls the student's."""
    body = {"__module__": target.__module__, "__qualname__": target.__qualname__, "__doc__": target.__doc__}
    if bind is not None:
        def __init__(self, *args, **kwargs):
            target.__init__(self, **bind(args, kwargs))

        body["__init__"] = __init__
    for theirs, mine in methods.items():
        if theirs != mine:
            body[theirs] = _forward_to(mine)
    return type(target.__name__, (target,), body)


def _forward_to(mine: str):
    def method(self, *args, **kwargs):
        return getattr(self, mine)(*args, **kwargs)

    method.__name__ = mine
    return method
