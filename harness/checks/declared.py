"""Checks declared in a task's TOML: the common kinds, which need no Python.

A task names the kind, the contract name it tests and the calls to make::

    [checks."charlm.softmax.forward"]
    kind = "equals"                 # equals | gradients | gradcheck | implementation
    target = "softmax"              # a function, or a class when the cases give ``init``
    points = 2
    cases = [
      { args = [{ randn = [4, 7] }], kwargs = { dim = -1 } },
      { about = "one row", args = [{ randn = [1, 3], scale = 10.0 }] },
    ]

A case calls ``target(*args, **kwargs)``; with ``init`` (the constructor's arguments, ``[]`` for none) it
constructs ``target(*init, **init_kwargs)``, loads the same random weights into it as into the answer key's
(by parameter name and shape, ``weights = false`` to keep its own) and calls ``method`` ("forward"). An
argument is a number, a string, a boolean, a list, or a drawn tensor (see INPUTS): floating ones are cast to
each of the check's ``dtypes``; with ``array = true`` (on an ``equals`` or ``implementation`` check, or on one
case) every drawn tensor is passed as a numpy array of the same dtype and shape instead, for functions written
for numpy. The answer key runs the very same calls, with the very same inputs; a wrong value is named against the
task's catalogue like any written check's. The kinds:

- ``equals``: the outputs equal the answer key's, in every case and dtype (tolerances from [tolerances]);
- ``gradients``: the gradients of a random projection of the outputs, with respect to every floating input
  and every parameter, equal the answer key's (float64);
- ``gradcheck``: the submission's own analytic gradients agree with central finite differences of its own
  outputs, computed by the judge (float64);
- ``implementation``: the source does not use the built-ins listed in ``forbidden`` (dotted names such as
  ``torch.softmax``; ``Tensor.softmax`` for the method on any object), and the target computes something.
"""
from __future__ import annotations

import torch

from ..runtime.ops import DTYPES, _flatten
from ..sandbox.program import Program
from . import Context, OptionError, Structured, Verdict, register
from .cases import CREDIT, by_case
from .compare import mismatch, tensor_mismatch
from .diagnose import wrong_output
from .gradcheck import directional
from .implementation import findings_for, rule_verdict, tampered, trial

TARGET = "{target}"  # in ``needs``: the contract name the check's ``target`` option names
INPUTS = {  # a drawn tensor: its key holds the shape; the other keys, with their defaults
    "randn": {"scale": 1.0},
    "uniform": {"low": -1.0, "high": 1.0},
    "randint": {"low": 0, "high": 10},
    "bools": {"p": 0.5},
    "tensor": {"dtype": "float64"},  # a literal tensor: its key holds the values
}
CASE_KEYS = {"about", "args", "kwargs", "init", "init_kwargs", "method", "weights", "weight_scale", "array"}
FLOAT_DTYPES = ("float64", "float32")


# --------------------------------------------------------------------------- the cases, validated at spec load


def _validate_value(value, where: str) -> None:
    if isinstance(value, bool) or isinstance(value, (int, float, str)):
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _validate_value(item, f"{where}[{i}]")
        return
    if not isinstance(value, dict):
        raise OptionError(where, f"cannot be {value!r}", "give a number, a string, a list or a table like "
                          "{ randn = [3, 4] }")
    kinds = [k for k in value if k in INPUTS]
    if len(kinds) != 1:
        raise OptionError(where, f"a drawn tensor names one of {', '.join(INPUTS)}, got keys {sorted(value)}",
                          "e.g. { randn = [3, 4] } or { randint = [5], low = 1, high = 6 }")
    kind = kinds[0]
    unknown = set(value) - {kind} - set(INPUTS[kind])
    if unknown:
        raise OptionError(f"{where}.{sorted(unknown)[0]}", "unknown key",
                          f"{kind} takes {', '.join(INPUTS[kind]) or 'nothing else'}")
    if kind == "tensor":
        if value.get("dtype", "float64") not in DTYPES:
            raise OptionError(f"{where}.dtype", f"unknown dtype {value['dtype']!r}", f"one of {', '.join(DTYPES)}")
        try:
            torch.tensor(value["tensor"])
        except (TypeError, ValueError) as exc:
            raise OptionError(f"{where}.tensor", f"not a rectangular list of numbers ({exc})") from None
        return
    shape = value[kind]
    if not isinstance(shape, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
        raise OptionError(f"{where}.{kind}", f"must be a shape, a list of sizes ≥ 0, got {shape!r}", "e.g. [3, 4]")
    for key, default in INPUTS[kind].items():
        if key in value and (isinstance(value[key], bool) or not isinstance(value[key], (int, float))):
            raise OptionError(f"{where}.{key}", f"must be a number like {default!r}, got {value[key]!r}")
    if kind == "randint" and value.get("low", 0) >= value.get("high", 10):
        raise OptionError(where, "low must be below high (integers are drawn from [low, high))")


def validate_cases(cases, arrays: bool = True) -> None:
    """Refuses a malformed case list; ``arrays``: whether a case may pass numpy inputs (not where gradients are
    taken: a numpy array records none)."""
    if not isinstance(cases, list) or not cases:
        raise OptionError("", "must be a non-empty list of cases", "e.g. cases = [{ args = [{ randn = [3, 4] }] }]")
    for i, case in enumerate(cases):
        where = f"[{i}]"
        if not isinstance(case, dict):
            raise OptionError(where, "must be a table", "e.g. { args = [{ randn = [3, 4] }] }")
        unknown = set(case) - CASE_KEYS
        if unknown:
            raise OptionError(f"{where}.{sorted(unknown)[0]}", "unknown key", f"a case has {', '.join(sorted(CASE_KEYS))}")
        for key, kind in (("args", list), ("init", list), ("kwargs", dict), ("init_kwargs", dict), ("about", str),
                          ("method", str), ("weights", bool), ("array", bool)):
            if key in case and not isinstance(case[key], kind):
                raise OptionError(f"{where}.{key}", f"must be a {kind.__name__}, got {case[key]!r}")
        if case.get("array") and not arrays:
            raise OptionError(f"{where}.array", "numpy inputs carry no gradients, so a gradient check cannot pass them",
                              "test the numpy function with an equals check; keep this check's inputs tensors")
        for key in ("args", "init"):
            _validate_value(case.get(key, []), f"{where}.{key}")
        for key in ("kwargs", "init_kwargs"):
            for name, value in case.get(key, {}).items():
                _validate_value(value, f"{where}.{key}.{name}")
        if "init" not in case and ({"init_kwargs", "method", "weights", "weight_scale"} & set(case)):
            raise OptionError(where, "init_kwargs, method and weights are for a class",
                              "give init (the constructor's arguments, [] for none) to test a class")


def validate_target(target) -> None:
    if not isinstance(target, str) or not target.isidentifier():
        raise OptionError("", f"must name a function or class of the task's module, got {target!r}",
                          'e.g. target = "softmax"')


def validate_dtypes(dtypes) -> None:
    if not isinstance(dtypes, list) or not dtypes or any(d not in FLOAT_DTYPES for d in dtypes):
        raise OptionError("", f"must be a non-empty list of {', '.join(FLOAT_DTYPES)}, got {dtypes!r}")


def validate_names(names) -> None:
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and "." in n for n in names):
        raise OptionError("", f"must be a non-empty list of dotted names, got {names!r}",
                          'e.g. forbidden = ["torch.softmax", "torch.nn.functional.softmax", "Tensor.softmax"]')


COMMON = dict(target=Structured("", validate_target), credit=CREDIT)
WITH_ARRAYS = dict(COMMON, cases=Structured([], validate_cases), array=False)
TENSORS_ONLY = dict(COMMON, cases=Structured([], lambda cases: validate_cases(cases, arrays=False)))


# --------------------------------------------------------------------------- one case as a program


class Call:
    """One case of a declared check, its tensors drawn: builds the program and says the call in words."""

    def __init__(self, ctx: Context, case: dict, index: int):
        self.module, self.target = ctx.task.module, ctx.options["target"]
        self.case, self.index = case, index
        self.array = case.get("array", ctx.options.get("array", False))  # drawn inputs passed as numpy arrays
        self.is_class = "init" in case
        draw = lambda v: _draw(ctx, v)  # noqa: E731
        self.init = [draw(v) for v in case.get("init", [])]
        self.init_kwargs = {k: draw(v) for k, v in case.get("init_kwargs", {}).items()}
        self.args = [draw(v) for v in case.get("args", [])]
        self.kwargs = {k: draw(v) for k, v in case.get("kwargs", {}).items()}
        self.method = case.get("method", "forward")
        self.weights = {}
        if self.is_class and case.get("weights", True):
            shapes = ctx.reference(self._shapes_program())
            self.weights = {name: ctx.randn(*shape, scale=case.get("weight_scale", 0.5)) for name, shape in shapes.items()}

    @property
    def name(self) -> str:
        return f"{self.module}.{self.target}"

    def _shapes_program(self) -> Program:
        p = Program()
        return p.result(p.op("parameter_shapes", p.call(self.name, *self.init, **self.init_kwargs)))

    def differentiated(self, dtype) -> tuple[list[torch.Tensor], list[str]]:
        """The tensors the call is differentiated by, in ``dtype``, and their labels: the floating arguments,
        then the floating keyword arguments, then the weights (a class's parameters)."""
        args, kwargs = _cast(self.args, dtype), _cast(self.kwargs, dtype)
        floats = [(f"args[{i}]", a) for i, a in enumerate(args) if _is_float(a)] + \
                 [(k, a) for k, a in kwargs.items() if _is_float(a)] + \
                 [(f"{self.target}.{k}", w.to(dtype)) for k, w in self.weights.items()]
        return [t for _, t in floats], [label for label, _ in floats]

    def add(self, p: Program, dtype, leaves: bool = False, values: list | None = None):
        """Add the call to ``p``: returns (output, the tensors it differentiates by, their labels), in the order
        of :meth:`differentiated`. ``values`` replaces those tensors (finite differences); ``leaves`` makes the
        floating arguments record gradients (a class's parameters do in any case)."""
        tensors, labels = self.differentiated(dtype)
        values = tensors if values is None else values
        inputs = len(values) - len(self.weights)
        given, weights = values[:inputs], dict(zip(self.weights, values[inputs:]))
        refs = [p.op("leaf", t) if leaves else t for t in given]
        it = iter(refs)  # the floating arguments in their places; the others (lists of tensors too) cast as they are
        args = [next(it) if _is_float(a) else a for a in _cast(self.args, dtype)]
        kwargs = {k: next(it) if _is_float(a) else a for k, a in _cast(self.kwargs, dtype).items()}
        init, init_kwargs = self.init, self.init_kwargs
        if self.array:
            args, kwargs, init, init_kwargs = (self._numpy(p, v) for v in (args, kwargs, init, init_kwargs))
        if not self.is_class:
            return p.call(self.name, *args, **kwargs), refs, labels
        obj = p.call(self.name, *init, **init_kwargs)
        if weights:
            p.op("load_state", obj, weights)
        p.op("to", obj, dtype)
        params = p.op("param_list", obj, list(weights)) if weights else None
        out = p.method(obj, self.method, *args, **kwargs)
        return out, (refs + [params] if params is not None else refs), labels

    @staticmethod
    def _numpy(p: Program, values):
        """``values`` (a list or dict of arguments) with each one that holds a tensor turned into numpy in the
        worker; numbers and strings stay as they are."""
        items = values.items() if isinstance(values, dict) else enumerate(values)
        done = {k: p.op("numpy", v) if _flatten(v) else v for k, v in items}
        return done if isinstance(values, dict) else list(done.values())

    def program(self, dtype) -> Program:
        p = Program()
        return p.result(self.add(p, dtype)[0])

    def describe(self, dtype) -> str:
        """The call in the contract's words: ``softmax(x (4, 7) float64, dim=-1)``."""
        def show(v):
            if isinstance(v, torch.Tensor):
                v = v.to(dtype) if v.is_floating_point() else v
                kind = "numpy array" if self.array else "tensor"
                return f"a {str(v.dtype).removeprefix('torch.')} {kind} ({', '.join(map(str, v.shape))})"
            if isinstance(v, list):
                return "[" + ", ".join(show(x) for x in v) + "]"
            return repr(v)

        def call(name, args, kwargs):
            return f"{name}(" + ", ".join([show(a) for a in args] + [f"{k}={show(v)}" for k, v in kwargs.items()]) + ")"

        about = f" ({self.case['about']})" if "about" in self.case else ""
        if not self.is_class:
            return call(self.target, self.args, self.kwargs) + about
        weights = " with the answer key's weights" if self.weights else ""
        return (f"{call(self.target, self.init, self.init_kwargs)}{weights}, then "
                f"{call('.' + self.method, self.args, self.kwargs)}{about}")


def _draw(ctx: Context, value):
    if isinstance(value, list):
        return [_draw(ctx, v) for v in value]
    if not isinstance(value, dict):
        return value
    if "tensor" in value:
        return torch.tensor(value["tensor"], dtype=DTYPES[value.get("dtype", "float64")])
    if "randn" in value:
        return ctx.randn(*value["randn"], scale=float(value.get("scale", 1.0)))
    if "uniform" in value:
        return ctx.uniform(*value["uniform"], low=float(value.get("low", -1.0)), high=float(value.get("high", 1.0)))
    if "randint" in value:
        return ctx.randint(int(value.get("low", 0)), int(value.get("high", 10)), *value["randint"])
    return ctx.uniform(*value["bools"], low=0.0, high=1.0) < float(value.get("p", 0.5))


def _is_float(value) -> bool:
    return isinstance(value, torch.Tensor) and value.is_floating_point()


def _cast(value, dtype):
    if _is_float(value):
        return value.to(dtype)
    if isinstance(value, list):
        return [_cast(v, dtype) for v in value]
    if isinstance(value, dict):
        return {k: _cast(v, dtype) for k, v in value.items()}
    return value


def array_words(options: dict) -> str:
    """How a declared check passes its inputs, in a student's words: "" for tensors; else which calls get numpy."""
    cases = [case for case in options.get("cases") or [] if isinstance(case, dict)]
    numpy = sum(bool(case.get("array", options.get("array", False))) for case in cases)
    if not numpy:
        return ""
    if numpy == len(cases):
        return "its drawn inputs are numpy arrays"
    return f"in {numpy} of its {len(cases)} calls the drawn inputs are numpy arrays"


def calls(ctx: Context) -> list[Call]:
    return [Call(ctx, case, i) for i, case in enumerate(ctx.options["cases"])]


# --------------------------------------------------------------------------- the kinds


@register("declared.equals", [TARGET], "equals the answer key on the declared calls",
          dtypes=Structured(list(FLOAT_DTYPES), validate_dtypes), **WITH_ARRAYS)
def check_equals(ctx: Context) -> Verdict:
    target = ctx.options["target"]
    cases = [(call, DTYPES[d]) for call in calls(ctx) for d in ctx.options["dtypes"]]

    def judge(case) -> Verdict | None:
        call, dtype = case
        program = call.program(dtype)
        got = ctx.student(program, case=call.describe(dtype))
        want = ctx.reference(program)
        rtol, atol = ctx.tol(dtype)
        problem = mismatch(got, want, rtol, atol, "output")
        if problem is None:
            return None
        return wrong_output(ctx, f"{call.describe(dtype)}: {problem}", program, got, ctx.task.module, target, rtol, atol)

    return by_case(ctx, cases, judge, Verdict(True, f"{target} equals the answer key in {len(cases)} calls "
                                                    f"({', '.join(ctx.options['dtypes'])})"))


def _cotangents(ctx: Context, call: Call):
    """A random direction for each tensor the answer key returns: the gradients are of <output, direction>."""
    return [ctx.randn(*t.shape) for t in _flatten(ctx.reference(call.program(torch.float64)))]


@register("declared.gradients", [TARGET], "gradients with respect to every input and parameter equal the answer key's",
          **TENSORS_ONLY)
def check_gradients(ctx: Context) -> Verdict:
    target, dtype = ctx.options["target"], torch.float64
    rtol, atol = ctx.tol(dtype)

    def judge(call: Call) -> Verdict | None:
        p = Program()
        out, refs, labels = call.add(p, dtype, leaves=True)
        program = p.result({"out": out, "grads": p.op("grad", out, _cotangents(ctx, call), refs)})
        got = ctx.student(program, case=call.describe(dtype))
        want = ctx.reference(program)
        if mismatch(got.get("out") if isinstance(got, dict) else got, want["out"], rtol, atol) is not None:
            return Verdict(False, f"{call.describe(dtype)}: the gradients differ because the outputs already differ "
                           "(see the check of its outputs)", "fix the outputs first; the gradients are then checked again")
        missing, wrong = [], []
        for label, g, w in zip(labels, got["grads"], want["grads"]):
            if g is None and w is not None:
                missing.append(label)
            elif w is not None and tensor_mismatch(g, w, rtol, atol, label) is not None:
                wrong.append(label)
        if not missing and not wrong:
            return None
        parts = ([f"no gradient reaches {', '.join(missing)}"] if missing else []) + \
                ([f"wrong gradient of {', '.join(wrong)}"] if wrong else [])
        return Verdict(False, f"{call.describe(dtype)}: " + "; ".join(parts),
                       "the outputs are right but the gradients are not: look for .detach(), .data, in-place operations "
                       "or a hand-written backward in the path to " + ", ".join(missing + wrong))

    return by_case(ctx, calls(ctx), judge, Verdict(True, f"gradients of {target} equal the answer key's"))


@register("declared.gradcheck", [TARGET], "own analytic gradients agree with finite differences", eps=1e-6,
          rtol=1e-4, atol=1e-6, **TENSORS_ONLY)
def check_gradcheck(ctx: Context) -> Verdict:
    """For each floating input and parameter, a random direction v: the analytic g·v against
    (L(θ+εv) − L(θ−εv)) / 2ε, where L = <output, a random direction>; all of it on the submission's code."""
    target, eps, dtype = ctx.options["target"], ctx.options["eps"], torch.float64

    def judge(call: Call) -> Verdict | None:
        p = Program()
        out, refs, labels = call.add(p, dtype, leaves=True)
        cots = _cotangents(ctx, call)
        base = call.differentiated(dtype)[0]
        directions = [ctx.randn(*t.shape) for t in base]
        losses = []
        for k in range(len(base)):
            for sign in (1, -1):
                values = [t + sign * eps * v if i == k else t for i, (t, v) in enumerate(zip(base, directions))]
                losses.append(p.op("dot", call.add(p, dtype, values=values)[0], cots))
        got = ctx.student(p.result({"grads": p.op("grad", out, cots, refs), "losses": losses}),
                          case=call.describe(dtype))
        # one gradient per label: the grad op flattens a class's parameter list
        failed, _ = directional(call.describe(dtype), labels, got["grads"], got["losses"], directions, eps,
                                ctx.options["rtol"], ctx.options["atol"])
        return failed

    return by_case(ctx, calls(ctx), judge, Verdict(
        True, f"analytic gradients of {target} agree with central finite differences (ε={eps:g})"))


@register("declared.implementation", [TARGET], "implemented without the built-ins the task forbids",
          forbidden=Structured([], validate_names), **WITH_ARRAYS)
def check_implementation(ctx: Context) -> Verdict:
    target, forbidden = ctx.options["target"], ctx.options["forbidden"]
    found = findings_for(ctx, names=forbidden)
    first = Call(ctx, ctx.options["cases"][0], 0)
    second = Call(ctx, ctx.options["cases"][0], 0)  # the same call on new random inputs
    run = trial(ctx, target, first.program(torch.float64), second.program(torch.float64))
    return rule_verdict(f"{ctx.task.module}.py", [run], found, tampered(ctx.forbidden), ctx.source.locate_line,
                        ", ".join(forbidden),
                        f"the assignment asks you to write {target} yourself; {', '.join(forbidden)} "
                        "{} not allowed".format("is" if len(forbidden) == 1 else "are"))
