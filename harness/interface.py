"""Interface maps: a course's or a student's own names for the contract's (the judge's side).

A course whose students write against their own names says so in ``task.toml``, one student in the
``harness.toml`` of their submission, which overrides the course's name by name::

    [interface.map]                              # task.toml
    dot_attention = "attend"                     # another name, the same signature
    [interface.map.scaled_dot_product_attention]
    name = "sdpa"
    args = { q = "query", mask = "attn_mask" }   # contract parameter -> the student's; others keep theirs
    [interface.map.LSTMCell]
    name = "MyLSTM"
    args = { input_size = "n_in" }               # a class: its constructor's parameters
    methods = { forward = "step" }               # contract method -> the student's

    [map.attention]                              # harness.toml
    dot_attention = "luong"

Here maps are read and checked, with errors that name the file and the key, and resolved with the
contract's signatures — the answer key's, or on a student's machine the released bundle's — into the
plain data the worker applies (``harness/runtime/mapping.py``). Programs keep the contract's names, so
the answer key and the bundle's values never depend on a map.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field

from .errors import suggest

ENTRY_KEYS = ("name", "args", "methods")
SIGNATURES = "interface"  # the name of the contract's signatures among a task's computed values (a bundle's)


@dataclass(frozen=True)
class MapEntry:
    """One contract name's map: the student's ``name`` for it, their names for its parameters (``args``) and,
    for a class, for its methods; ``source`` is the file it comes from, ``key`` where it is in that file."""

    name: str
    args: dict = field(default_factory=dict)
    methods: dict = field(default_factory=dict)
    source: str = "task.toml"
    key: str = ""


class MapError(ValueError):
    """A map is wrong: ``key`` says where in its file, ``problem`` what, ``fix`` what to write instead."""

    def __init__(self, key: str, problem: str, fix: str = ""):
        super().__init__(f"{key}: {problem}" + (f" — {fix}" if fix else ""))
        self.key, self.problem, self.fix = key, problem, fix


def _name(value, key: str, what: str) -> str:
    if not isinstance(value, str) or not value.isidentifier():
        raise MapError(key, f"must be {what}: a Python name in quotes, got {value!r}", 'e.g. "my_name"')
    return value


def _renames(value, key: str, what: str, example: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise MapError(key, f"must be a table of {what}, got {value!r}", f"e.g. {{ {example} }}")
    return {_name(k, f"{key}.{k}", "a name"): _name(v, f"{key}.{k}", "a name") for k, v in value.items()}


def parse(table, prefix: str, source: str, names: list[str] | None = None) -> dict[str, MapEntry]:
    """A map's table (``[interface.map]`` of task.toml, ``[map.<module>]`` of harness.toml): contract name ->
    MapEntry. ``prefix`` names the table in errors; ``names``: the contract names it may map (None: not
    checked here)."""
    if not isinstance(table, dict):
        raise MapError(prefix, "must be a table of contract name = \"your name\"", 'e.g. dot_attention = "attend"')
    entries = {}
    for contract, value in table.items():
        key = f"{prefix}.{contract}"
        if names is not None and contract not in names:
            raise MapError(key, f"{contract!r} is not a name of the contract", suggest(contract, names))
        if isinstance(value, str):
            entries[contract] = MapEntry(_name(value, key, "your name for it"), source=source, key=key)
            continue
        if not isinstance(value, dict):
            raise MapError(key, f"must be a name or a table, got {value!r}",
                           f'e.g. {contract} = "my_name", or a table with {", ".join(ENTRY_KEYS)}')
        for inner in value:
            if inner not in ENTRY_KEYS:
                raise MapError(f"{key}.{inner}", "unknown key", suggest(inner, ENTRY_KEYS))
        entries[contract] = MapEntry(
            _name(value.get("name", contract), f"{key}.name", "your name for it"),
            _renames(value.get("args", {}), f"{key}.args", "contract parameter = \"yours\"", 'query = "q"'),
            _renames(value.get("methods", {}), f"{key}.methods", "contract method = \"yours\"", 'forward = "step"'),
            source, key)
    return entries


def contract_names(names: list[str], trained: bool) -> list[str]:
    """The names a map may rename: the spec's ``[interface].names``, and a trained task's HYPERPARAMETERS."""
    return list(names) + (["HYPERPARAMETERS"] if trained and "HYPERPARAMETERS" not in names else [])


# --------------------------------------------------------------------------- the contract's signatures

def _parameters(obj) -> list[str] | None:
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    return [p.name for p in signature.parameters.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _methods(cls: type) -> list[str]:
    """The public methods a contract class defines (and ``forward``), not those every nn.Module has."""
    own = {name for klass in cls.__mro__ if klass.__module__.split(".")[0] not in ("torch", "builtins")
           for name, value in vars(klass).items() if not name.startswith("_") and callable(value)}
    return sorted(own | ({"forward"} if callable(getattr(cls, "forward", None)) else set()))


def signatures(module, names: list[str]) -> dict[str, dict]:
    """Of each contract name ``module`` (an answer key) defines: its parameters (a class's constructor's;
    None for a value) and, for a class, its methods — plain data, so that a bundle can hold it."""
    found = {}
    for name in names:
        obj = getattr(module, name, None)
        if obj is None:
            continue
        is_class = isinstance(obj, type)
        found[name] = {"params": _parameters(obj) if callable(obj) else None,
                       "methods": _methods(obj) if is_class else None}
    return found


def signatures_key(spec) -> str:
    """Where a task's contract signatures are among the answer key's computed values (and in a bundle)."""
    return f"{spec.name}:public:{SIGNATURES}"


# --------------------------------------------------------------------------- resolved for the worker

def resolve(module: str, entries: dict[str, MapEntry], found: dict[str, dict] | None, file: str) -> dict:
    """The worker's plain data for one module (see ``runtime/mapping.py``): each entry checked against the
    contract's signature ``found[contract]`` (MapError when a parameter or method is not the contract's).
    ``file``: the student's file, as the messages name it. Entries that change nothing are left out."""
    data = {}
    for contract, entry in entries.items():
        if entry.name == contract and not entry.args and not entry.methods:
            continue
        signature = (found or {}).get(contract)
        params = None
        if entry.args:
            params = _check_args(module, contract, entry, signature, found is None)
        if entry.methods:
            _check_methods(module, contract, entry, signature, found is None)
        data[contract] = {"name": entry.name, "module": module, "where": entry.source, "file": file,
                          "params": params, "methods": dict(entry.methods)}
    return data


def _unknown_signature(entry: MapEntry, what: str) -> MapError:
    return MapError(f"{entry.key}.{what}", "cannot be checked: this machine has no signature of the contract "
                    "(the assignment's bundle holds none)", "take the assignment's .harness/ again from the release")


def _check_args(module: str, contract: str, entry: MapEntry, signature: dict | None, unknown: bool) -> list:
    if unknown:
        raise _unknown_signature(entry, "args")
    params = (signature or {}).get("params")
    if params is None:
        raise MapError(f"{entry.key}.args", f"{module}.{contract} is not a function or a class of the contract: "
                       "it has no parameters to map", "leave out args")
    for theirs in entry.args:
        if theirs not in params:
            raise MapError(f"{entry.key}.args.{theirs}", f"the contract's {module}.{contract} has no parameter "
                           f"{theirs!r} (its parameters: {', '.join(params) or 'none'})", suggest(theirs, params))
    pairs = [[p, entry.args.get(p, p)] for p in params]
    seen: dict[str, str] = {}
    for theirs, mine in pairs:
        if mine in seen:
            raise MapError(f"{entry.key}.args", f"two parameters of {module}.{contract}, {seen[mine]} and {theirs}, "
                           f"would both be passed as {mine!r}", f"map {theirs if theirs in entry.args else seen[mine]}"
                           " to a name of its own")
        seen[mine] = theirs
    return pairs


def _check_methods(module: str, contract: str, entry: MapEntry, signature: dict | None, unknown: bool) -> None:
    if unknown:
        raise _unknown_signature(entry, "methods")
    methods = (signature or {}).get("methods")
    if methods is None:
        raise MapError(f"{entry.key}.methods", f"{module}.{contract} is not a class of the contract: it has no "
                       "methods to map", "leave out methods")
    for theirs in entry.methods:
        if theirs not in methods:
            raise MapError(f"{entry.key}.methods.{theirs}", f"the contract's {module}.{contract} has no method "
                           f"{theirs!r}", suggest(theirs, methods))


def for_submission(specs: list, submission, answers) -> dict[str, dict]:
    """Per module of ``submission``, the map the worker applies: the task's ``[interface.map]`` with the
    submission's ``[map.<module>]`` over it, name by name, checked against the contract's signatures
    (``answers.signatures``). A wrong entry is a SpecError naming task.toml, or a SubmissionError naming
    the submission's harness.toml."""
    import difflib

    from .errors import SpecError, SubmissionError

    toml = submission.root / "harness.toml"
    graded = sorted({spec.module for spec in specs})
    for module in submission.maps:
        close = difflib.get_close_matches(module, graded, n=1, cutoff=0.8)
        if module not in graded and close:
            raise SubmissionError(f"{toml}: [map.{module}]: there is no module {module!r} — did you mean "
                                  f"[map.{close[0]}]?")
    maps: dict[str, dict] = {}
    for spec in specs:
        own = submission.maps.get(spec.module, {})
        if not spec.interface_map and not own:
            continue
        names = contract_names(spec.names, spec.training is not None)
        for contract, entry in own.items():
            if contract not in names:
                raise SubmissionError(f"{toml}: {entry.key}: {contract!r} is not a name of the {spec.module} "
                                      f"contract — {suggest(contract, names)}")
        entries = {**spec.interface_map, **own}
        found = answers.signatures(spec) if any(e.args or e.methods for e in entries.values()) else {}
        file = submission.modules[spec.module].display_name
        for contract, entry in entries.items():
            try:
                maps.setdefault(spec.module, {}).update(resolve(spec.module, {contract: entry}, found, file))
            except MapError as exc:
                if entry.source == "harness.toml":
                    raise SubmissionError(f"{toml}: {exc}") from None
                raise SpecError(spec.path, exc.key, exc.problem, exc.fix) from None
    return maps
