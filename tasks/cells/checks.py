"""Checks of ``cells.py``: the four recurrent cells, the layers built from a cell, gradient clipping.

Cells are fed the answer key's weights and compared over a multi-step unroll (float64 tight,
float32 loose), then their gradients are compared with the answer key's, and their own analytic
gradients are checked against finite differences computed here from values the worker returns.
Layers are tested with ``torch.nn`` cells inside, so that a wrong cell does not fail them twice.
"""
from __future__ import annotations

import math

import torch

from harness.checks import Context, Verdict, register, register_figure
from harness.checks.cases import CREDIT, by_case
from harness.checks.compare import describe, mismatch, tensor_mismatch, within
from harness.checks.diagnose import wrong_output
from harness.checks.gradcheck import directional
from harness.checks.implementation import findings_for, rule_verdict, trial
from harness.checks.stubs import constant_output
from harness.sandbox.program import Program

CELLS = ("RNNCell", "LSTMCell", "GRUCell", "PeepholeLSTMCell")
TUPLE_STATE = {"LSTMCell", "PeepholeLSTMCell"}
GATES = {"LSTMCell": "ifgo", "PeepholeLSTMCell": "ifgo", "GRUCell": "rzn"}
GATE_NAMES = {"i": "input gate i", "f": "forget gate f", "g": "candidate g", "o": "output gate o",
              "r": "reset gate r", "z": "update gate z", "n": "candidate n"}
SIZES = dict(batch=3, steps=5, input_size=4, hidden_size=5)
STEP_AXES = ("batch", "step", "unit")  # the axes of a layer's outputs (B, T, H), named in messages
FLOAT64, FLOAT32 = torch.float64, torch.float32


# --------------------------------------------------------------------------- inputs and programs


def cell_weights(ctx: Context, cls: str, input_size: int, hidden_size: int, scale: float = 0.6) -> dict:
    """Random weights, named and shaped as the answer key's cell has them."""
    p = Program()
    p.result(p.op("parameter_shapes", p.call(f"cells.{cls}", input_size, hidden_size)))
    shapes = ctx.reference(p)
    return {n: ctx.uniform(*shape, low=-scale, high=scale) for n, shape in shapes.items()}


def initial_state(ctx: Context, cls: str, batch: int, hidden: int, dtype=FLOAT64):
    h = ctx.randn(batch, hidden, dtype=dtype, scale=0.5)
    return (h, ctx.randn(batch, hidden, dtype=dtype, scale=0.5)) if cls in TUPLE_STATE else h


def state_labels(cls: str) -> list[str]:
    return ["h0", "c0"] if cls in TUPLE_STATE else ["h0"]


def new_cell(p: Program, cls: str, input_size: int, hidden_size: int, weights: dict, dtype):
    cell = p.call(f"cells.{cls}", input_size, hidden_size)
    cell = p.op("to", cell, dtype)
    p.op("load_state", cell, {k: v.to(dtype) for k, v in weights.items()})
    return cell


def as_leaves(p: Program, state):
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(p.op("leaf", s) for s in state)
    return p.op("leaf", state)


def add_unroll(p: Program, cls, sizes, weights, x, state, dtype, cotangents=None) -> dict:
    """Steps that unroll the cell over x; with cotangents, also the gradients of every parameter,
    x and the state. Returns the result's parts as program variables."""
    cell = new_cell(p, cls, sizes["input_size"], sizes["hidden_size"], weights, dtype)
    xs = p.op("leaf", x.to(dtype))
    st = as_leaves(p, state)
    run = p.op("unroll", cell, xs, st)
    parts = {"h": p.op("stack_hidden", p.op("index", run, 0)), "final": p.op("index", run, 1)}
    if cotangents is not None:
        params = p.op("param_list", cell, list(weights))
        inputs = [params, xs] + ([st] if st is not None else [])
        parts["grads"] = p.op("grad", [parts["h"], parts["final"]], list(cotangents), inputs)
    return parts


def unroll_program(cls, sizes, weights, x, state, dtype, cotangents=None) -> Program:
    p = Program()
    return p.result(add_unroll(p, cls, sizes, weights, x, state, dtype, cotangents))


def cotangents_for(ctx: Context, cls: str, sizes: dict):
    b, t, h = sizes["batch"], sizes["steps"], sizes["hidden_size"]
    final = initial_state(ctx, cls, b, h)
    return ctx.randn(b, t, h), final


def gradient_labels(cls: str, weights: dict, with_state: bool = True) -> list[str]:
    return list(weights) + ["x"] + (state_labels(cls) if with_state else [])


def gate_rows(cls: str, wrong: torch.Tensor, hidden: int) -> str:
    """For a gate-stacked parameter, which gates' rows hold the wrong entries (``wrong`` is a mask)."""
    gates = GATES.get(cls)
    if not gates or wrong.dim() == 0 or wrong.shape[0] != len(gates) * hidden:
        return ""
    bad = [GATE_NAMES[g] for k, g in enumerate(gates) if wrong[k * hidden:(k + 1) * hidden].any()]
    return f" (rows of the {', '.join(bad)})" if bad else ""


# --------------------------------------------------------------------------- cell checks


def check_shapes(ctx: Context, cls: str) -> Verdict:
    s = ctx.options
    d, h, b = s["input_size"], s["hidden_size"], s["batch"]
    weights = cell_weights(ctx, cls, d, h)
    x = ctx.randn(b, d)
    zero = (torch.zeros(b, h, dtype=FLOAT64),) * 2 if cls in TUPLE_STATE else torch.zeros(b, h, dtype=FLOAT64)
    p = Program()
    bare = p.call(f"cells.{cls}", d, h)
    shapes = p.op("parameter_shapes", bare)
    cell = new_cell(p, cls, d, h, weights, FLOAT64)
    other = ctx.randn(b, d)
    p.result({"parameters": shapes, "none": p.method(cell, "__call__", x, None),
              "zero": p.method(cell, "__call__", x, zero), "other": p.method(cell, "__call__", other, None)})
    got = ctx.student(p, case=f"{cls}({d}, {h}) called as cell(x, None), cell(x, zero state) on x ({b}, {d}) — "
                              "the contract: state=None means a zero initial state")
    want = ctx.reference(p)
    for name, shape in want["parameters"].items():
        if name not in got["parameters"]:
            return Verdict(False, f"{cls} has no parameter {name!r}",
                           f"the contract's parameters are {', '.join(want['parameters'])} (PyTorch's names)")
        if got["parameters"][name] != shape:
            return Verdict(False, f"{cls}.{name} has shape {tuple(got['parameters'][name])}, the contract says "
                           f"{tuple(shape)}", "weights are (out, in) as in PyTorch: x @ W.T + b")
    extra = sorted(set(got["parameters"]) - set(want["parameters"]))
    if extra:
        return Verdict(False, f"{cls} has parameters the contract does not name: {', '.join(extra)}",
                       "a cell has exactly PyTorch's parameters, so that any weights can be loaded into it")
    kind = "a tuple (h, c) of two (B, H) tensors" if cls in TUPLE_STATE else "a (B, H) tensor"
    problem = mismatch(got["none"], want["none"], 1e-300, 1e300, "the output for state=None")
    if problem:
        return Verdict(False, f"{cls}(x, None) should return {kind}; {problem}")
    problem = mismatch(got["none"], got["zero"], *ctx.tol(FLOAT64), "state=None compared with a zero state")
    if problem:
        return Verdict(False, f"state=None does not behave like a zero state: {problem}",
                       "state=None means a zero initial state of shape (B, H)")
    constant = constant_output(got["none"], got["other"])
    if constant:  # the right shape is not worth points for a stub
        return Verdict(False, f"{cls}(x, None) has the right shape but returns {constant}: there is nothing to "
                       "check the shapes of yet", "compute the new state from x and the state with the contract's "
                       "equations")
    return Verdict(True, f"parameters, output {kind} and state=None as the contract says")


def unroll_call(cls: str, s: dict, dtype, state_given: bool) -> str:
    """What the harness asks of the cell, in the contract's terms (for messages)."""
    state = ("the initial state given" if state_given else
             "state=None (the contract: None means a zero initial state)")
    return (f"{cls}({s['input_size']}, {s['hidden_size']}) in {str(dtype).removeprefix('torch.')}, called as "
            f"cell(x_t, state) at each of {s['steps']} steps on x ({s['batch']}, {s['steps']}, {s['input_size']}), "
            f"with {state}")


def check_forward(ctx: Context, cls: str) -> Verdict:
    s = ctx.options
    weights = cell_weights(ctx, cls, s["input_size"], s["hidden_size"])
    x = ctx.randn(s["batch"], s["steps"], s["input_size"])
    state = initial_state(ctx, cls, s["batch"], s["hidden_size"])
    cases = [("float64, given initial state", FLOAT64, unroll_program(cls, s, weights, x, state, FLOAT64), True),
             ("float32, state=None", FLOAT32, unroll_program(cls, s, weights, x, None, FLOAT32), False)]
    worst = {}

    def judge(case) -> Verdict | None:
        label, dtype, program, state_given = case
        got = ctx.student(program, case=unroll_call(cls, s, dtype, state_given))
        want = ctx.reference(program)
        rtol, atol = ctx.tol(dtype)
        problem = mismatch(got, want, rtol, atol, "", axes=STEP_AXES)
        if problem:
            hint = ""
            if isinstance(got.get("h"), torch.Tensor) and got["h"].shape == want["h"].shape:
                step_ok = [torch.allclose(got["h"][:, t].double(), want["h"][:, t].double(), rtol, atol)
                           for t in range(want["h"].shape[1])]
                if step_ok[0] and not all(step_ok):
                    hint = (f"the first step is right but step {step_ok.index(False)} is not: check how the new "
                            "state is returned and fed back" + (" — (h, c) in that order" if cls in TUPLE_STATE else ""))
                elif not step_ok[0]:
                    hint = "already the first step differs: compare your equations with the contract's, one gate at a time"
            return wrong_output(ctx, f"{cls} over {s['steps']} steps ({label}): {problem.lstrip(': ')}",
                                program, got, "cells", cls, rtol, atol, hint)
        worst[label] = float((got["h"].double() - want["h"].double()).abs().max())
        return None

    return by_case(ctx, cases, judge, lambda: Verdict(
        True, f"{cls} matches the answer key over {s['steps']} steps in float64 and float32",
        numbers={"max_abs_error": worst}))


def check_gradients(ctx: Context, cls: str) -> Verdict:
    s = ctx.options
    weights = cell_weights(ctx, cls, s["input_size"], s["hidden_size"])
    x = ctx.randn(s["batch"], s["steps"], s["input_size"])
    state = initial_state(ctx, cls, s["batch"], s["hidden_size"])
    program = unroll_program(cls, s, weights, x, state, FLOAT64, cotangents_for(ctx, cls, s))
    got, want = ctx.student(program), ctx.reference(program)
    rtol, atol = ctx.tol(FLOAT64)
    labels = gradient_labels(cls, weights)
    wrong, missing = [], []
    for label, g, w in zip(labels, got["grads"], want["grads"]):
        if g is None:
            missing.append(label)
        elif tensor_mismatch(g, w, rtol, atol, label) is not None:
            detail = gate_rows(cls, (g.double() - w.double()).abs() > atol + rtol * w.double().abs(),
                               s["hidden_size"]) if isinstance(g, torch.Tensor) and g.shape == w.shape else ""
            wrong.append(label + detail)
    if not missing and not wrong:
        return Verdict(True, f"gradients of {', '.join(labels)} match the answer key")
    forward_ok = mismatch({"h": got["h"], "final": got["final"]}, {"h": want["h"], "final": want["final"]},
                          rtol, atol) is None
    parts = []
    if missing:
        parts.append(f"no gradient reaches {', '.join(missing)}")
    if wrong:
        parts.append(f"wrong gradient of {', '.join(wrong)}")
    if not forward_ok:  # the gradients follow from the outputs: one line, not every gate block
        return Verdict(False, f"{cls}: the gradients differ because the outputs already differ (see {cls}.forward)",
                       "fix the forward pass first; its gradients are then checked again")
    hint = ("the outputs are right but the gradients are not: look for .detach(), .data, in-place "
            "operations or a hand-written backward in the path to " + ", ".join(missing + wrong))
    return Verdict(False, f"{cls}: " + "; ".join(parts), hint)


def check_gradcheck(ctx: Context, cls: str) -> Verdict:
    """Finite differences, computed here: for each parameter, x and the state, a random direction v;
    compare the analytic directional derivative g·v with (L(θ+εv) − L(θ−εv)) / 2ε."""
    s, eps = ctx.options, ctx.options["eps"]
    d, h = s["input_size"], s["hidden_size"]
    weights = cell_weights(ctx, cls, d, h)
    x = ctx.randn(s["batch"], s["steps"], d)
    state = initial_state(ctx, cls, s["batch"], h)
    cots = cotangents_for(ctx, cls, s)
    labels = gradient_labels(cls, weights)
    base = list(weights.values()) + [x] + (list(state) if isinstance(state, tuple) else [state])
    directions = [ctx.randn(*t.shape) for t in base]

    def split(values):
        w = dict(zip(weights, values[:len(weights)]))
        xv = values[len(weights)]
        rest = values[len(weights) + 1:]
        return w, xv, (tuple(rest) if cls in TUPLE_STATE else rest[0])

    p = Program()
    grads = add_unroll(p, cls, s, weights, x, state, FLOAT64, cots)["grads"]
    losses = []
    for k in range(len(base)):
        for sign in (+1, -1):
            values = [t + sign * eps * v if i == k else t for i, (t, v) in enumerate(zip(base, directions))]
            w, xv, st = split(values)
            parts = add_unroll(p, cls, s, w, xv, st, FLOAT64)
            losses.append(p.op("dot", [parts["h"], parts["final"]], list(cots)))
    p.result({"grads": grads, "losses": losses})
    got = ctx.student(p)
    failed, numbers = directional(cls, labels, got["grads"], got["losses"], directions, eps, ctx.options["rtol"],
                                  ctx.options["atol"], "compute the new state from x and the state with the "
                                  "contract's equations")
    return failed or Verdict(True, f"analytic gradients agree with central finite differences (ε={eps:g}) for "
                             f"{', '.join(labels)}", numbers={"directional": numbers})


def check_implementation(ctx: Context, cls: str) -> Verdict:
    s = ctx.options
    weights = cell_weights(ctx, cls, s["input_size"], s["hidden_size"])
    xs = [ctx.randn(s["batch"], 2, s["input_size"]), ctx.randn(s["batch"], 2, s["input_size"])]
    run = trial(ctx, cls, *(unroll_program(cls, s, weights, x, None, FLOAT64) for x in xs))
    static = findings_for(ctx, scope=cls)
    return rule_verdict(cls, [run], static, ctx.forbidden, ctx.source.locate_line, "torch recurrent built-ins",
                        "the assignment asks you to write the cell's equations yourself with tensor operations "
                        "(matmul, sigmoid, tanh); torch's recurrent modules and kernels are not allowed in cells.py")


CHECK_KINDS = {
    "shapes": (check_shapes, "parameter names and shapes, output structure, state=None"),
    "forward": (check_forward, "outputs over a multi-step unroll equal the answer key's"),
    "gradients": (check_gradients, "gradients of every parameter, the input and the state equal the answer key's"),
    "gradcheck": (check_gradcheck, "own analytic gradients agree with finite differences"),
    "implementation": (check_implementation, "no torch recurrent built-ins"),
}


def _register_cell_checks():
    for cls in CELLS:
        for kind, (func, description) in CHECK_KINDS.items():
            options = dict(SIZES)
            if kind == "forward":  # two cases: a given initial state (float64), state=None (float32)
                options.update(credit=CREDIT)
            if kind == "gradcheck":
                options.update(eps=1e-6, rtol=1e-3, atol=1e-5)
            register(f"cells.{cls}.{kind}", [cls], f"{cls}: {description}", **options)(
                lambda ctx, f=func, c=cls: f(ctx, c))


_register_cell_checks()


# --------------------------------------------------------------------------- layers


def probe_cell(p: Program, ctx: Context, kind: str, input_size: int, hidden_size: int):
    weights = cell_weights(ctx, kind, input_size, hidden_size)
    return p.op("torch_cell", kind, input_size, hidden_size, weights, "float64")


def probe_state(ctx: Context, kind: str, batch: int, hidden: int):
    return initial_state(ctx, "LSTMCell" if kind == "LSTMCell" else "RNNCell", batch, hidden)


LAYER_HINT = ("layers are tested with torch.nn.RNNCell / LSTMCell / GRUCell inside, so that your cells do not "
              "count twice: call the cell as cell(x_t, state), and take h as state[0] when the state is a tuple")


def _compare_cases(ctx: Context, cases, target: str, fallback_hint: str = LAYER_HINT) -> Verdict | None:
    for label, program in cases:
        got, want = ctx.student(program), ctx.reference(program)
        rtol, atol = ctx.tol(FLOAT64)
        problem = mismatch(got, want, rtol, atol, "")
        if problem:
            return wrong_output(ctx, f"{target} ({label}): {problem.lstrip(': ')}", program, got, "cells", target,
                                rtol, atol, fallback_hint)
    return None


@register("cells.RNNLayer.forward", ["RNNLayer"], "outputs and final state of a layer over a sequence", **SIZES)
def check_layer_forward(ctx: Context) -> Verdict:
    s = ctx.options
    b, t, d, h = s["batch"], s["steps"], s["input_size"], s["hidden_size"]
    cases = []
    for kind in ("RNNCell", "LSTMCell", "GRUCell"):
        for given in (False, True):
            p = Program()
            layer = p.call("cells.RNNLayer", probe_cell(p, ctx, kind, d, h))
            state = probe_state(ctx, kind, b, h) if given else None
            p.result(p.method(layer, "forward", ctx.randn(b, t, d), state))
            cases.append((f"with a {kind}, {'given state' if given else 'state=None'}", p))
    failed = _compare_cases(ctx, cases, "RNNLayer")
    return failed or Verdict(True, "outputs (B, T, H) and final state match for RNN, LSTM and GRU cells")


@register("cells.RNNLayer.bptt", ["RNNLayer"], "the loss at the last step reaches the first input", **SIZES)
def check_layer_bptt(ctx: Context) -> Verdict:
    s = ctx.options
    b, t, d, h = s["batch"], s["steps"], s["input_size"], s["hidden_size"]
    p = Program()
    layer = p.call("cells.RNNLayer", probe_cell(p, ctx, "LSTMCell", d, h))
    x = p.op("leaf", ctx.randn(b, t, d))
    state = as_leaves(p, probe_state(ctx, "LSTMCell", b, h))
    outputs = p.op("index", p.method(layer, "forward", x, state), 0)
    last = p.op("select_time", outputs, -1)
    grads = p.op("grad", [last], [ctx.randn(b, h)], [x, state])
    p.result({"grads": grads, "reach": p.op("time_norms", p.op("index", grads, 0))})
    got, want = ctx.student(p), ctx.reference(p)
    reach = got["reach"]
    if reach is None:
        return Verdict(False, "the loss at the last step has no gradient with respect to the inputs at all",
                       "the outputs must stay connected to the input in the autograd graph")
    rtol, atol = ctx.tol(FLOAT64)
    steps_reached = int((reach > 1e-12).sum())
    if steps_reached < t:
        return wrong_output(
            ctx, f"the gradient of the loss at the last step reaches only the last {steps_reached} of {t} inputs "
            f"(‖∂L/∂x_0‖ = {float(reach[0]):.3g}, the answer key's is {float(want['reach'][0]):.3g})",
            p, got, "cells", "RNNLayer", rtol, atol,
            "the state is cut from the graph between steps (.detach(), .data, or a state re-created with "
            "torch.tensor(...)): backpropagation through time needs the state to stay connected",
            {"gradient_norm_per_step": reach.tolist()})
    labels = ["x", "h0", "c0"]
    problem = mismatch(got["grads"], want["grads"], rtol, atol, "")
    if problem:
        return Verdict(False, f"gradients through time differ from the answer key's: {problem.lstrip(': ')}",
                       LAYER_HINT, {"gradient_norm_per_step": reach.tolist(), "compared": labels})
    return Verdict(True, f"the loss at step {t - 1} reaches x_0 and the initial state, with the answer key's gradients",
                   numbers={"gradient_norm_per_step": reach.tolist()})


@register("cells.Bidirectional.forward", ["Bidirectional"], "both directions, aligned, merged", **SIZES)
def check_bidirectional(ctx: Context) -> Verdict:
    s = ctx.options
    b, t, d, h = s["batch"], s["steps"], s["input_size"], s["hidden_size"]
    cases = []
    for merge in ("concat", "sum", "mean"):
        p = Program()
        layer = p.call("cells.Bidirectional", probe_cell(p, ctx, "LSTMCell", d, h),
                       probe_cell(p, ctx, "LSTMCell", d, h), merge)
        p.result(p.method(layer, "forward", ctx.randn(b, t, d)))
        cases.append((f'merge="{merge}"', p))
    failed = _compare_cases(ctx, cases, "Bidirectional")
    return failed or Verdict(True, "concat, sum and mean merges match, backward outputs aligned to time t")


@register("cells.StackedRNN.forward", ["StackedRNN"], "layer k's outputs feed layer k+1", **SIZES)
def check_stacked(ctx: Context) -> Verdict:
    s = ctx.options
    b, t, d, h = s["batch"], s["steps"], s["input_size"], s["hidden_size"]
    p = Program()
    cells = [probe_cell(p, ctx, "LSTMCell", d, h), probe_cell(p, ctx, "GRUCell", h, h),
             probe_cell(p, ctx, "RNNCell", h, h)]
    stack = p.call("cells.StackedRNN", cells)
    p.result(p.method(stack, "forward", ctx.randn(b, t, d)))
    failed = _compare_cases(ctx, [("LSTM → GRU → RNN cells", p)], "StackedRNN")
    return failed or Verdict(True, "three stacked layers match, with the final state of each layer")


# --------------------------------------------------------------------------- clipping


def _clip_program(ctx: Context, fn: str, limit: float, shapes) -> Program:
    p = Program()
    values = [ctx.randn(*shape) for shape in shapes]
    grads = [ctx.randn(*shape) for shape in shapes]
    params = p.op("parameters_with_grads", values, grads)
    returned = p.call(f"cells.{fn}", params, limit)
    return p.result({"returned": returned, "grads": p.op("grads_of", params)})


PARAM_SHAPES = [(5, 4), (5,), (3, 5, 2)]


@register("cells.clip_grad_norm", ["clip_grad_norm"], "same effect and return value as clip_grad_norm_")
def check_clip_norm(ctx: Context) -> Verdict:
    rtol, atol = ctx.tol(FLOAT64)
    for limit, label in ((1.0, "total norm above max_norm"), (1e3, "total norm below max_norm")):
        p = _clip_program(ctx, "clip_grad_norm", limit, PARAM_SHAPES)
        got, want = ctx.student(p), ctx.reference(p)
        total = got["returned"]
        if isinstance(total, torch.Tensor) and total.numel() == 1:
            total = float(total)
        if not isinstance(total, (int, float)):
            return Verdict(False, f"clip_grad_norm should return the total norm (a number), got {describe(total)}")
        if not within(float(total), float(want["returned"]), rtol, atol):
            return Verdict(False, f"{label}: returned total norm {total:.6g}, expected {float(want['returned']):.6g}",
                           "the total norm is the L2 norm of all gradients together, as if concatenated into one vector")
        problem = mismatch(got["grads"], want["grads"], rtol, atol, "gradient")
        if problem:
            return wrong_output(ctx, f"{label}: {problem}", p, got, "cells", "clip_grad_norm", rtol, atol,
                                "scale every gradient by max_norm / (total_norm + 1e-6) when that is below 1")
    return Verdict(True, "clips by the total L2 norm and returns it, and leaves small gradients alone")


@register("cells.clip_grad_value", ["clip_grad_value"], "same effect as clip_grad_value_")
def check_clip_value(ctx: Context) -> Verdict:
    rtol, atol = ctx.tol(FLOAT64)
    p = _clip_program(ctx, "clip_grad_value", 0.5, PARAM_SHAPES)
    got, want = ctx.student(p), ctx.reference(p)
    problem = mismatch(got["grads"], want["grads"], rtol, atol, "gradient")
    if problem:
        return Verdict(False, f"clip_value=0.5: {problem}", "clamp every gradient element to [-clip_value, clip_value], in place")
    return Verdict(True, "clamps every gradient element to [-clip_value, clip_value] in place")


# --------------------------------------------------------------------------- figure


REMEMBER_BIAS = 2.0


def remembering_weights(ctx: Context, cls: str, d: int, h: int) -> dict:
    """PyTorch's default initialisation, with the gate that keeps the old state (LSTM forget gate f,
    GRU update gate z) biased towards remembering, as is common practice."""
    weights = cell_weights(ctx, cls, d, h, scale=h ** -0.5)
    keep = {"LSTMCell": 1, "GRUCell": 1}.get(cls)  # row block of f in (i, f, g, o) and of z in (r, z, n)
    if keep is not None:
        weights["bias_ih"][keep * h:(keep + 1) * h] += REMEMBER_BIAS
    return weights


@register_figure("cells.gradient_flow", ["RNNCell", "LSTMCell", "GRUCell"],
                 "Gradient norm through time: how much of the loss at the last step reaches each input")
def gradient_flow(ctx: Context) -> dict:
    """‖∂L/∂x_t‖ for L at the last step of a 40-step unroll, the student's cells and the answer key's."""
    steps, d, h, b = 40, 8, 16, 4
    series, errors = [], {}
    for cls in ("RNNCell", "LSTMCell", "GRUCell"):
        weights = remembering_weights(ctx, cls, d, h)
        p = Program()
        cell = new_cell(p, cls, d, h, weights, FLOAT64)
        x = p.op("leaf", ctx.randn(b, steps, d))
        run = p.op("unroll", cell, x, None)
        last = p.op("hidden", p.op("index", run, 1))
        grad = p.op("index", p.op("grad", [last], [ctx.randn(b, h)], [x]), 0)
        p.result(p.op("time_norms", grad))
        want = ctx.reference(p)
        series.append({"label": f"{cls} (answer key)", "cell": cls, "who": "reference", "values": want.tolist()})
        if cls in ctx.hung:
            errors[cls] = f"your {cls} timed out earlier, in {ctx.hung[cls]}"
            continue
        try:
            got = ctx.student(p)
            if isinstance(got, torch.Tensor) and got.shape == want.shape and torch.isfinite(got).all():
                series.append({"label": f"{cls} (yours)", "cell": cls, "who": "student", "values": got.tolist()})
            else:
                errors[cls] = f"your {cls} gave no usable gradient ({describe(got)})"
        except Exception as exc:  # noqa: BLE001 - a broken cell leaves its line out, with the reason
            errors[cls] = f"your {cls} could not be run: {exc}"
    return {"kind": "lines", "x_label": "input step t (the loss is at the last step)",
            "caption": (f"Same weights for yours and the answer key's: PyTorch's default initialisation, with the "
                        f"LSTM's forget gate and the GRU's update gate biased by +{REMEMBER_BIAS:g} towards keeping "
                        "the old state. The Elman cell's gradient vanishes geometrically; the gated cells carry it "
                        "back much further."),
            "y_label": "‖∂L/∂x_t‖ (log scale)", "log_y": True, "series": series, "errors": errors}
