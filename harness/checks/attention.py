"""Checks of ``attention.py``: Luong and Bahdanau attention, scaled dot-product attention with its
masks, multi-head self-attention, the sinusoidal positional encoding, and the implement-it-yourself
rule.

Every function is run on a few cases (with and without masks, extra batch axes, odd sizes); the
first case that differs from the answer key is named with its shapes, and the catalogue of known
mistakes is asked which one the student's output matches. Modules are fed the answer key's weights
through ``load_state``, so their outputs can be compared exactly.
"""
from __future__ import annotations

import torch

from ..sandbox.program import Program
from . import Context, ContractBroken, Verdict, register
from .compare import mismatch, tensor_mismatch
from .cases import CREDIT, by_case
from .diagnose import wrong_output
from .implementation import rule_verdict, trial

FLOAT64, FLOAT32 = torch.float64, torch.float32
SIZES = dict(batch=3, source=6, hidden=4)
ATTENTION_NAMES = ("dot_attention", "AdditiveAttention", "scaled_dot_product_attention", "MultiHeadSelfAttention")


# --------------------------------------------------------------------------- helpers


def shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + ")"


def loaded_module(ctx: Context, label: str, program: Program, probe: Program):
    """Run a program that loads weights into a module. When the module does not have the contract's
    parameters, first see whether it is a stub (its forward raises NotImplementedError): that is
    "not implemented yet", not a broken contract."""
    try:
        return ctx.student(program, case=label)
    except ContractBroken:
        ctx.student(probe, case=label)
        raise


def padding_mask(lengths: list[int], size: int) -> torch.Tensor:
    """(B, size) bool, True for the first lengths[b] positions (True = may attend)."""
    return torch.arange(size) < torch.tensor(lengths).unsqueeze(1)


def random_mask(ctx: Context, *shape_, keep: float = 0.6) -> torch.Tensor:
    """A random bool mask in which every row (last axis) may attend somewhere."""
    mask = ctx.uniform(*shape_, low=0.0, high=1.0) < keep
    first = torch.zeros(shape_[-1], dtype=torch.bool)
    first[0] = True
    return mask | (~mask.any(dim=-1, keepdim=True) & first)


def axis_name(dim: int, ndim: int) -> str:
    if dim == 0:
        return "the batch axis B"
    if ndim >= 3 and dim == ndim - 2:
        return "the query axis t"
    return "an extra batch axis (heads, say)"


def sums_to_one_along(weights) -> str:
    """When weights are not normalised over the last axis, say over which axis they are."""
    if not isinstance(weights, torch.Tensor) or not weights.is_floating_point() or weights.dim() < 2:
        return ""
    w = weights.double()

    def normalised(sums):  # rows that may attend nowhere sum to 0
        return bool((((sums - 1).abs() < 1e-6) | (sums.abs() < 1e-12)).all())

    if normalised(w.sum(dim=-1)):
        return ""
    for dim in range(w.dim() - 1):
        if normalised(w.sum(dim=dim)):
            return (f"your weights sum to 1 over {axis_name(dim, w.dim())} (axis {dim}) instead of over the last "
                    "axis (the keys s): take the softmax with dim=-1")
    return "each row of weights should sum to 1 over the last axis (the keys s), where it may attend at all"


_ALL_MATCH = Verdict(True, "")


def compare_cases(ctx: Context, cases, target: str, dtype_of=None, hint_for=None) -> Verdict | None:
    """Run each (label, program) case on the submission and the answer key: None when all match, else a failed
    verdict naming the (first) failing case, diagnosed against the catalogue variants of ``target``, with
    credit per case as the check's ``credit`` option says (harness.checks.cases)."""
    def judge(case) -> Verdict | None:
        label, program, dtype = case
        got = ctx.student(program, case=label)
        want = ctx.reference(program)
        rtol, atol = ctx.tol(dtype)
        problem = mismatch(got, want, rtol, atol, "")
        if not problem:
            return None
        hint = hint_for(got, want) if hint_for else ""
        return wrong_output(ctx, f"{target} ({label}): {problem.lstrip(': ')}", program, got, "attention",
                            target, rtol, atol, hint, {"case": label})

    verdict = by_case(ctx, cases, judge, _ALL_MATCH)
    return None if verdict is _ALL_MATCH else verdict


# --------------------------------------------------------------------------- dot attention


def pair_program(p: Program, out) -> Program:
    return p.result({"context": p.op("index", out, 0), "weights": p.op("index", out, 1)})


@register("attention.dot_attention", ["dot_attention"], "Luong dot attention, with and without a mask", **SIZES,
          credit=CREDIT)
def check_dot_attention(ctx: Context) -> Verdict:
    s = ctx.options
    b, n, h = s["batch"], s["source"], s["hidden"]
    q, k, v = ctx.randn(b, h), ctx.randn(b, n, h), ctx.randn(b, n, h)
    lengths = [n, max(1, n // 2), 2][:b] + [n] * max(0, b - 3)
    cases = []
    for label, mask in ((f"no mask, query {shape(q)}, keys {shape(k)}", None),
                        (f"mask {(b, n)} with valid lengths {lengths}", padding_mask(lengths, n))):
        p = Program()
        cases.append((label, pair_program(p, p.call("attention.dot_attention", q, k, v, mask)), FLOAT64))

    def hint(got, want):
        axis = sums_to_one_along(got.get("weights") if isinstance(got, dict) else None)
        return axis or ("score_s = q·k_s for each source position s, weights = softmax over s of the scores "
                        "(masked positions get weight 0), context = Σ_s weights_s · values_s")

    failed = compare_cases(ctx, cases, "dot_attention", hint_for=hint)
    return failed or Verdict(True, "context (B, H) and weights (B, S) match, with and without a mask")


# --------------------------------------------------------------------------- additive attention


@register("attention.AdditiveAttention.forward", ["AdditiveAttention"],
          "Bahdanau attention with loaded W_q, W_k, v; with and without a mask",
          batch=3, source=5, query_size=4, key_size=6, attention_size=5, value_size=3, credit=CREDIT)
def check_additive(ctx: Context) -> Verdict:
    s = ctx.options
    b, n, hq, hk, a, hv = s["batch"], s["source"], s["query_size"], s["key_size"], s["attention_size"], s["value_size"]
    weights = {"W_q": ctx.uniform(a, hq), "W_k": ctx.uniform(a, hk), "v": ctx.uniform(a)}
    q, k, v = ctx.randn(b, hq), ctx.randn(b, n, hk), ctx.randn(b, n, hv)
    lengths = [n, 2, max(1, n - 1)][:b] + [n] * max(0, b - 3)
    rtol, atol = ctx.tol(FLOAT64)

    def judge(case) -> Verdict | None:
        label, mask = case
        p = Program()
        att = p.op("to", p.call("attention.AdditiveAttention", hq, hk, a), FLOAT64)
        p.op("load_state", att, weights)
        pair_program(p, p.method(att, "forward", q, k, v, mask))
        probe = Program()
        probe_att = probe.op("to", probe.call("attention.AdditiveAttention", hq, hk, a), FLOAT64)
        probe.result(probe.method(probe_att, "forward", q, k, v, mask))
        got = loaded_module(ctx, label, p, probe)
        want = ctx.reference(p)
        problem = mismatch(got, want, rtol, atol, "")
        if not problem:
            return None
        hint = sums_to_one_along(got.get("weights") if isinstance(got, dict) else None) or (
            "score_s = v · tanh(W_q q + W_k k_s) with W_q (A, Hq), W_k (A, Hk) applied as x @ W.T; "
            "weights = softmax over s; context = Σ_s weights_s · values_s")
        return wrong_output(ctx, f"AdditiveAttention ({label}): {problem.lstrip(': ')}", p, got, "attention",
                            "AdditiveAttention", rtol, atol, hint, {"case": label})

    cases = ((f"no mask, query {shape(q)}, keys {shape(k)}, values {shape(v)}", None),
             (f"mask {(b, n)} with valid lengths {lengths}", padding_mask(lengths, n)))
    return by_case(ctx, cases, judge, Verdict(
        True, "context and weights match with the answer key's W_q, W_k and v, with and without a mask"))


# --------------------------------------------------------------------------- scaled dot-product attention


def sdpa_program(q, k, v, mask=None, causal=None) -> Program:
    p = Program()
    kwargs = {} if causal is None else {"causal": causal}
    out = p.call("attention.scaled_dot_product_attention", q, k, v, mask, **kwargs)
    return p.result({"out": p.op("index", out, 0), "weights": p.op("index", out, 1)})


def sdpa_hint(got, want) -> str:
    weights = got.get("weights") if isinstance(got, dict) else None
    axis = sums_to_one_along(weights)
    return axis or ("weights = softmax(q kᵀ / √d) over the last axis, with d = q.shape[-1] (the size of queries "
                    "and keys, not of the values); out = weights @ v. Use the last two axes (k.transpose(-2, -1)) "
                    "so that any leading batch axes work")


@register("attention.scaled_dot_product_attention.forward", ["scaled_dot_product_attention"],
          "softmax(q kᵀ/√d) v: scale, softmax axis, extra batch axes, dv ≠ d", credit=CREDIT)
def check_sdpa_forward(ctx: Context) -> Verdict:
    cases = []
    q, k, v = ctx.randn(2, 4, 3), ctx.randn(2, 6, 3), ctx.randn(2, 6, 5)
    cases.append((f"q {shape(q)}, k {shape(k)}, v {shape(v)}: T ≠ S, dv ≠ d", sdpa_program(q, k, v), FLOAT64))
    q, k, v = ctx.randn(2, 3, 4, 8), ctx.randn(2, 3, 5, 8), ctx.randn(2, 3, 5, 2)
    cases.append((f"extra batch axes (B, h, T, d): q {shape(q)}, k {shape(k)}, v {shape(v)}",
                   sdpa_program(q, k, v), FLOAT64))
    q32, k32, v32 = (t.to(FLOAT32) for t in (q, k, v))
    cases.append((f"float32, q {shape(q)}", sdpa_program(q32, k32, v32), FLOAT32))
    failed = compare_cases(ctx, cases, "scaled_dot_product_attention", hint_for=sdpa_hint)
    return failed or Verdict(True, "out (…, T, dv) and weights (…, T, S) match for 3-D and 4-D inputs, d ≠ dv, "
                                   "float64 and float32")


def masked_rows_problem(got, rows: list[tuple[int, int]], n_keys: int) -> tuple[str, str] | None:
    """(message, hint) when a query that may attend nowhere does not get zero weights and output.

    ``rows`` are (batch, query) pairs; every head of such a row is looked at."""
    if not isinstance(got, dict):
        return None
    weights, out = got.get("weights"), got.get("out")
    if not isinstance(weights, torch.Tensor) or not isinstance(out, torch.Tensor) or weights.dim() < 3 \
            or out.dim() < 3:
        return None
    for b, t in rows:
        if b >= weights.shape[0] or t >= weights.shape[-2] or b >= out.shape[0] or t >= out.shape[-2]:
            return None
        w, o = weights[b][..., t, :].double(), out[b][..., t, :].double()
        where = f"query t={t} of batch {b}, which may attend to no key,"
        if torch.isnan(w).any() or torch.isnan(o).any():
            return (f"{where} gets NaN in its {'weights' if torch.isnan(w).any() else 'output'} instead of zeros",
                    "a row whose scores are all −inf gives softmax 0/0 = NaN: find the rows that may attend nowhere "
                    "(~mask.any(-1)), give them a finite score before the softmax and set their weights to 0 after "
                    "it (masked_fill), so that their output is 0 too")
        if w.shape[-1] == n_keys and torch.allclose(w, torch.full_like(w, 1.0 / n_keys), atol=1e-6):
            return (f"{where} gets the uniform weights 1/{n_keys} instead of zeros",
                    "filling masked scores with a large negative number (−1e9) instead of −inf makes a fully masked "
                    "row uniform; the contract asks for all-zero weights and a zero output there")
        if w.abs().max() > 1e-12 or o.abs().max() > 1e-12:
            return (f"{where} gets non-zero weights or output instead of zeros",
                    "rows that can attend nowhere give zeros, not NaN: zero their weights after the softmax")
    return None


@register("attention.scaled_dot_product_attention.mask", ["scaled_dot_product_attention"],
          "bool mask (True = may attend), causal=True, both; fully masked rows give zeros, not NaN", credit=CREDIT)
def check_sdpa_mask(ctx: Context) -> Verdict:
    b, h, t, d, dv = 2, 2, 5, 4, 3
    q, k, v = ctx.randn(b, h, t, d), ctx.randn(b, h, t, d), ctx.randn(b, h, t, dv)
    mask = random_mask(ctx, b, h, t, t)
    padding = padding_mask([t, 3], t)[:, None, None, :]  # (B, 1, 1, S): keys beyond each length hidden
    empty = random_mask(ctx, b, h, t, t)
    empty_rows = [(0, 1), (1, t - 1)]
    for bb, tt in empty_rows:
        empty[bb, :, tt] = False
    shapes = f"q, k {shape(q)}, v {shape(v)}"
    cases = [
        (f"bool mask {shape(mask)}, True = may attend; {shapes}", sdpa_program(q, k, v, mask), FLOAT64),
        (f"causal=True without a mask; {shapes}", sdpa_program(q, k, v, None, True), FLOAT64),
        (f"key padding mask {shape(padding)} with lengths [{t}, 3] and causal=True; {shapes}",
         sdpa_program(q, k, v, padding, True), FLOAT64),
        (f"bool mask {shape(empty)} in which some queries may attend to no key; {shapes}",
         sdpa_program(q, k, v, empty), FLOAT64),
    ]
    rtol, atol = ctx.tol(FLOAT64)

    def judge(case) -> Verdict | None:
        index, (label, program, _) = case
        got = ctx.student(program, case=label)
        want = ctx.reference(program)
        problem = mismatch(got, want, rtol, atol, "")
        if not problem:
            return None
        numbers = {"case": label}
        found = masked_rows_problem(got, empty_rows, t) if index == len(cases) - 1 else None
        if found:
            message, hint = found
            return wrong_output(ctx, f"scaled_dot_product_attention ({label}): {message}", program, got,
                                "attention", "scaled_dot_product_attention", rtol, atol, hint, numbers)
        hint = sdpa_hint(got, want)
        if index == 1 and not hint:
            hint = ("causal=True hides the keys s > t from query t (a lower-triangular (T, S) mask, "
                    "torch.ones(T, S).tril().bool())")
        if not hint:
            hint = ("mask is bool with True = may attend: masked scores get −inf before the softmax (their weight is "
                    "exactly 0 and the other weights still sum to 1); causal=True also hides keys s > t")
        return wrong_output(ctx, f"scaled_dot_product_attention ({label}): {problem.lstrip(': ')}", program, got,
                            "attention", "scaled_dot_product_attention", rtol, atol, hint, numbers)

    return by_case(ctx, enumerate(cases), judge, Verdict(
        True, "bool masks (True = may attend), causal=True and both together match; queries that may attend nowhere "
              "get zero weights and a zero output"))


# --------------------------------------------------------------------------- multi-head self-attention


def mhsa_weights(ctx: Context, e: int) -> dict:
    bound = (6 / (4 * e)) ** 0.5
    return {"in_proj_weight": ctx.uniform(3 * e, e, low=-bound, high=bound), "in_proj_bias": ctx.uniform(3 * e, low=-0.2, high=0.2),
            "out_proj.weight": ctx.uniform(e, e, low=-e ** -0.5, high=e ** -0.5),
            "out_proj.bias": ctx.uniform(e, low=-0.2, high=0.2)}


@register("attention.MultiHeadSelfAttention.forward", ["MultiHeadSelfAttention"],
          "equal to torch.nn.MultiheadAttention with the same weights: no mask, causal, key padding",
          batch=3, steps=5, d_model=8, n_heads=2, credit=CREDIT)
def check_mhsa(ctx: Context) -> Verdict:
    s = ctx.options
    b, t, e, nh = s["batch"], s["steps"], s["d_model"], s["n_heads"]
    weights = mhsa_weights(ctx, e)
    x = ctx.randn(b, t, e)
    lengths = [t, 2, max(1, t - 1)][:b] + [t] * max(0, b - 3)
    cases = [(f"x {shape(x)}, no mask", {}),
             (f"x {shape(x)}, causal=True", {"causal": True}),
             (f"x {shape(x)}, key padding mask {(b, t)} with lengths {lengths}", {"mask": padding_mask(lengths, t)})]
    rtol, atol = ctx.tol(FLOAT64)

    def judge(case) -> Verdict | None:
        label, kwargs = case
        p = Program()
        layer = p.op("to", p.call("attention.MultiHeadSelfAttention", e, nh), FLOAT64)
        p.op("load_state", layer, weights)
        out = p.method(layer, "forward", x, **kwargs)
        p.result({"out": p.op("index", out, 0), "weights": p.op("index", out, 1)})
        probe = Program()
        probe_layer = probe.op("to", probe.call("attention.MultiHeadSelfAttention", e, nh), FLOAT64)
        probe.result(probe.method(probe_layer, "forward", x, **kwargs))
        got = loaded_module(ctx, label, p, probe)
        want = ctx.reference(p)
        problem = mismatch(got, want, rtol, atol, "")
        if not problem:
            return None
        hint = ("the answer key equals torch.nn.MultiheadAttention(E, h, batch_first=True) with these weights: "
                "q, k, v are rows [0:E], [E:2E], [2E:3E] of in_proj_weight; head j uses columns "
                "[j·E/h:(j+1)·E/h]; scores are divided by √(E/h); the heads are concatenated before out_proj; "
                "weights are averaged over the heads; a (B, T) mask says which keys may be attended (True). "
                "If the scaled_dot_product_attention checks fail too, fix those first")
        return wrong_output(ctx, f"MultiHeadSelfAttention({e}, {nh}) ({label}): {problem.lstrip(': ')}", p, got,
                            "attention", "MultiHeadSelfAttention", rtol, atol, hint, {"case": label})

    return by_case(ctx, cases, judge, Verdict(
        True, f"out (B, T, E) and head-averaged weights (B, T, T) match torch.nn.MultiheadAttention's "
              f"(E={e}, {nh} heads) without a mask, causal and with key padding"))


# --------------------------------------------------------------------------- positional encoding


@register("attention.positional_encoding", ["positional_encoding"], "sinusoidal encoding, odd and even d_model",
          credit=CREDIT)
def check_positional_encoding(ctx: Context) -> Verdict:
    rtol, atol = ctx.tol(FLOAT32)

    def judge(case) -> Verdict | None:
        max_len, d = case
        label = f"max_len={max_len}, d_model={d}" + (" (odd)" if d % 2 else "")
        p = Program()
        p.result(p.call("attention.positional_encoding", max_len, d))
        got = ctx.student(p, case=label)
        want = ctx.reference(p)
        problem = tensor_mismatch(got, want, rtol, atol, "PE", check_dtype=False)
        if not problem:
            return None
        hint = "PE[p, 2i] = sin(p / 10000^(2i/d)) on the even columns, PE[p, 2i+1] = cos(p / 10000^(2i/d)) on the odd"
        if d % 2 and isinstance(got, torch.Tensor) and got.shape == want.shape and torch.allclose(
                got[:, :-1].double(), want[:, :-1].double(), rtol, atol):
            hint = "only the last column differs: with an odd d_model it is a sine (it has no cosine partner)"
        return wrong_output(ctx, f"positional_encoding({label}): {problem}", p, got, "attention",
                            "positional_encoding", rtol, atol, hint, {"case": label})

    return by_case(ctx, ((6, 8), (5, 7), (50, 16)), judge, Verdict(
        True, "matches PE[p,2i] = sin(p/10000^(2i/d)), PE[p,2i+1] = cos(…) for even and odd d_model"))


# --------------------------------------------------------------------------- implementation rule


def implementation_programs(ctx: Context) -> list[tuple[str, Program, Program]]:
    """A small call of each attention name on two different inputs, to catch forbidden built-ins as they are
    called and to see whether the name computes anything yet."""
    b, t, e = 2, 3, 4
    programs = []
    for _ in range(2):
        q, k, v, x = ctx.randn(b, e), ctx.randn(b, t, e), ctx.randn(b, t, e), ctx.randn(b, t, e)
        runs = []
        p = Program()
        runs.append(("dot_attention", p.result(p.call("attention.dot_attention", q, k, v))))
        p = Program()
        att = p.op("to", p.call("attention.AdditiveAttention", e, e, e), FLOAT64)
        runs.append(("AdditiveAttention", p.result(p.method(att, "forward", q, k, v))))
        runs.append(("scaled_dot_product_attention", sdpa_program(x, x, x, None, True)))
        p = Program()
        layer = p.op("to", p.call("attention.MultiHeadSelfAttention", e, 2), FLOAT64)
        runs.append(("MultiHeadSelfAttention", p.result(p.method(layer, "forward", x))))
        programs.append(runs)
    return [(name, first, second) for (name, first), (_, second) in zip(*programs)]


@register("attention.implementation", list(ATTENTION_NAMES),
          "no torch.nn.MultiheadAttention, F.scaled_dot_product_attention or Transformer modules")
def check_implementation(ctx: Context) -> Verdict:
    trials = [trial(ctx, name, first, second) for name, first, second in implementation_programs(ctx)]
    return rule_verdict("attention.py", trials, ctx.static_findings, ctx.forbidden, ctx.source.locate_line,
                        "torch attention or transformer built-ins",
                        "the assignment asks you to write attention yourself with tensor operations (matmul, softmax, "
                        "masked_fill); torch.nn.MultiheadAttention, F.scaled_dot_product_attention and the Transformer "
                        "modules are not allowed in attention.py")

