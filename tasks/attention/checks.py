"""Checks of ``attention.py``: Luong and Bahdanau attention, scaled dot-product attention with its
masks, multi-head self-attention, the sinusoidal positional encoding, and the implement-it-yourself
rule.

Every function is run on a few cases (with and without masks, extra batch axes, odd sizes); the
first case that differs from the answer key is named with its shapes and the place where it differs,
and the catalogue of known mistakes is asked which one the student's output matches. Modules are fed
the answer key's weights through ``load_state``, so their outputs can be compared exactly.

Masks are drawn so that every row has keys to attend and keys hidden from it: read the wrong way
round, a mask then still hides no row entirely, and each mask mistake (ignored, inverted, applied
after the softmax) gives the same output however the code treats a row with nothing to attend —
which the contract defines for scaled_dot_product_attention only, and which only its mask check tests.
When no known mistake matches, the hint says what the weights do with the hidden keys.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import torch

from harness.checks import Context, ContractBroken, Verdict, register
from harness.checks.cases import CREDIT, by_case
from harness.checks.compare import mismatch, tensor_mismatch
from harness.checks.diagnose import wrong_output
from harness.checks.implementation import findings_for, rule_verdict, trial
from harness.sandbox.program import Program

FLOAT64, FLOAT32 = torch.float64, torch.float32
SIZES = dict(batch=3, source=6, hidden=4)
ATTENTION_NAMES = ("dot_attention", "AdditiveAttention", "scaled_dot_product_attention", "MultiHeadSelfAttention")

# The axes of each output, to say where a mismatch is. Weights come first in every result: where they differ
# says which key of which query is wrong.
PAIR_AXES = {"weights": ("batch", "key"), "context": ("batch", "unit")}
SDPA_AXES = {"weights": ("batch", "head", "query", "key"), "out": ("batch", "head", "query", "unit")}
MHSA_AXES = {"weights": ("batch", "query", "key"), "out": ("batch", "position", "unit")}

MASK_RULE = ("the mask is bool with True = may attend: give the scores of the other keys −inf before the softmax "
             "(scores.masked_fill(~mask, float('-inf'))), so that their weight is exactly 0 and the others still "
             "sum to 1")
CAUSAL_RULE = ("causal=True hides the keys s > t from query t: a lower-triangular (T, S) mask, "
               "torch.ones(T, S).tril().bool(), applied like the bool mask (True = may attend)")


# --------------------------------------------------------------------------- helpers


def shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + ")"


class Case(NamedTuple):
    """One call compared with the answer key. ``allowed`` is the trusted pattern of the keys each query may attend
    (True = may attend, broadcastable to the weights; None without a mask), ``rule`` what the contract says of it;
    a module loaded with weights has a ``probe``, the same call without them (see loaded_module)."""
    label: str
    program: Program
    allowed: torch.Tensor | None = None
    rule: str = ""
    dtype: torch.dtype = FLOAT64
    probe: Program | None = None


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


def partial_lengths(batch: int, size: int) -> list[int]:
    """Valid lengths of a (batch, size) padding mask, each from 1 to size − 1: every row has keys to attend and
    padding, so that a mask read the wrong way round leaves no row with nothing to attend."""
    return [max(1, min(n, size - 1)) for n in (size - 1, 1, size // 2, 2) * batch][:batch]


def random_mask(ctx: Context, *shape_, keep: float = 0.6) -> torch.Tensor:
    """A random bool mask in which every row (last axis) may attend somewhere and is hidden from somewhere, so
    that read the wrong way round it still hides no row entirely."""
    mask = ctx.uniform(*shape_, low=0.0, high=1.0) < keep
    first, last = (torch.arange(shape_[-1]) == i for i in (0, shape_[-1] - 1))
    mask = mask | (~mask.any(dim=-1, keepdim=True) & first)
    return mask & ~(mask.all(dim=-1, keepdim=True) & last)


def axis_name(dim: int, ndim: int) -> str:
    if dim == 0:
        return "the batch axis B"
    if ndim >= 3 and dim == ndim - 2:
        return "the query axis t"
    return "an extra batch axis (heads, say)"


def sums_to_one_along(weights, otherwise: str = "each row of weights should sum to 1 over the last axis (the keys "
                                                 "s), where it may attend at all") -> str:
    """When weights are not normalised over the last axis, say over which axis they are (``otherwise`` when over
    none)."""
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
    return otherwise


def mask_hint(weights, allowed: torch.Tensor, rule: str) -> str:
    """What the weights do wrong with the keys a query may not attend, seen in the rows that have keys of both
    kinds (``allowed``: True = may attend), followed by ``rule``; "" when they do nothing wrong there."""
    if not isinstance(weights, torch.Tensor) or not weights.is_floating_point():
        return ""
    try:
        allowed = allowed.expand(weights.shape)
    except RuntimeError:
        return ""
    mixed = allowed.any(dim=-1) & ~allowed.all(dim=-1)
    w, may = weights.double()[mixed], allowed[mixed]  # (rows, S)
    weighted = w.abs() > 1e-9
    if (weighted & ~may).any() and not (weighted & may).any():
        seen = ("your weights are 0 on the keys a query may attend and non-zero on the others: the mask is read the "
                "wrong way round (torch.nn.MultiheadAttention's masks say True = may not attend)")
    elif (weighted & ~may).any():
        seen = "keys a query may not attend get non-zero weight"
    elif ((w.sum(dim=-1) - 1).abs() > 1e-6).any():
        seen = ("the keys a query may not attend get weight 0, but the other weights of its row no longer sum to 1: "
                "zeroing weights after the softmax does not renormalise them")
    else:
        return ""
    return f"{seen}; {rule}"


def weights_hint(got, case: Case, formula: str) -> str:
    """Why a case fails, read from the student's weights: normalised over another axis than the keys', or (with a
    mask) wrong on the keys a query may not attend; else ``formula``, the function's equations."""
    weights = got.get("weights") if isinstance(got, dict) else None
    if case.allowed is None:
        return sums_to_one_along(weights) or formula
    return sums_to_one_along(weights, otherwise="") or mask_hint(weights, case.allowed, case.rule) or formula


def compare_cases(ctx: Context, cases: list[Case], target: str, formula: str, axes: dict, passed: Verdict,
                  explain: Callable[[object, Case], tuple[str, str] | None] | None = None) -> Verdict:
    """Run each case on the submission and the answer key: ``passed`` when all match, else a failed verdict
    naming the (first) failing case and where it differs, diagnosed against the catalogue variants of ``target``,
    with credit per case as the check's ``credit`` option says (harness.checks.cases). ``explain`` may give a
    message and hint that say more than the mismatch. A case's label is the call, in the contract's terms, and what
    the case is about: it leads the message, and names the case when the student's code raises."""
    def judge(case: Case) -> Verdict | None:
        got = loaded_module(ctx, case.label, case.program, case.probe) if case.probe else \
            ctx.student(case.program, case=case.label)
        rtol, atol = ctx.tol(case.dtype)
        problem = mismatch(got, ctx.reference(case.program), rtol, atol, "", axes)
        if not problem:
            return None
        message, hint = (explain and explain(got, case)) or (problem.lstrip(": "), weights_hint(got, case, formula))
        return wrong_output(ctx, f"{case.label}: {message}", case.program, got, "attention", target, rtol, atol, hint,
                            {"case": case.label})

    return by_case(ctx, cases, judge, passed)


def named_pair(p: Program, out, first: str) -> Program:
    """The program's result: the (first, weights) pair a function returns, as {"weights", first}."""
    return p.result({"weights": p.op("index", out, 1), first: p.op("index", out, 0)})


def module_case(label: str, name: str, args: tuple, weights: dict, first: str, *inputs, allowed=None, rule="",
                **kwargs) -> Case:
    """A case that makes attention.<name>(*args) in float64, loads the answer key's ``weights`` and calls forward."""
    def program(load: bool) -> Program:
        p = Program()
        module = p.op("to", p.call(f"attention.{name}", *args), FLOAT64)
        if not load:
            return p.result(p.method(module, "forward", *inputs, **kwargs))
        p.op("load_state", module, weights)
        return named_pair(p, p.method(module, "forward", *inputs, **kwargs), first)

    return Case(label, program(True), allowed, rule, probe=program(False))


# --------------------------------------------------------------------------- dot attention


DOT_FORMULA = ("score_s = q·k_s for each source position s, weights = softmax over s of the scores "
               "(masked positions get weight 0), context = Σ_s weights_s · values_s")


@register("attention.dot_attention", ["dot_attention"], "Luong dot attention, with and without a mask", **SIZES,
          credit=CREDIT)
def check_dot_attention(ctx: Context) -> Verdict:
    s = ctx.options
    b, n, h = s["batch"], s["source"], s["hidden"]
    q, k, v = ctx.randn(b, h), ctx.randn(b, n, h), ctx.randn(b, n, h)
    lengths = partial_lengths(b, n)
    cases = []
    args = f"query {shape(q)}, keys {shape(k)}, values {shape(v)}"
    for label, mask in ((f"dot_attention({args}, mask=None): no mask, every key may be attended", None),
                        (f"dot_attention({args}, mask): mask {(b, n)} with valid lengths {lengths}, True = may attend",
                         padding_mask(lengths, n))):
        p = Program()
        cases.append(Case(label, named_pair(p, p.call("attention.dot_attention", q, k, v, mask), "context"),
                          mask, MASK_RULE))
    return compare_cases(ctx, cases, "dot_attention", DOT_FORMULA, PAIR_AXES, Verdict(
        True, "context (B, H) and weights (B, S) match, with and without a mask"))


# --------------------------------------------------------------------------- additive attention


ADDITIVE_FORMULA = ("score_s = v · tanh(W_q q + W_k k_s) with W_q (A, Hq), W_k (A, Hk) applied as x @ W.T; "
                    "weights = softmax over s; context = Σ_s weights_s · values_s")


@register("attention.AdditiveAttention.forward", ["AdditiveAttention"],
          "Bahdanau attention with loaded W_q, W_k, v; with and without a mask",
          batch=3, source=5, query_size=4, key_size=6, attention_size=5, value_size=3, credit=CREDIT)
def check_additive(ctx: Context) -> Verdict:
    s = ctx.options
    b, n, hq, hk, a, hv = s["batch"], s["source"], s["query_size"], s["key_size"], s["attention_size"], s["value_size"]
    weights = {"W_q": ctx.uniform(a, hq), "W_k": ctx.uniform(a, hk), "v": ctx.uniform(a)}
    q, k, v = ctx.randn(b, hq), ctx.randn(b, n, hk), ctx.randn(b, n, hv)
    lengths = partial_lengths(b, n)
    mask = padding_mask(lengths, n)
    call = f"AdditiveAttention({hq}, {hk}, {a}) with the answer key's W_q, W_k, v: forward(query {shape(q)}, keys " \
           f"{shape(k)}, values {shape(v)}"
    cases = [module_case(f"{call}, mask=None): no mask, every key may be attended", "AdditiveAttention",
                         (hq, hk, a), weights, "context", q, k, v, None),
             module_case(f"{call}, mask): mask {(b, n)} with valid lengths {lengths}, True = may attend",
                         "AdditiveAttention", (hq, hk, a), weights, "context", q, k, v, mask, allowed=mask,
                         rule=MASK_RULE)]
    return compare_cases(ctx, cases, "AdditiveAttention", ADDITIVE_FORMULA, PAIR_AXES, Verdict(
        True, "context and weights match with the answer key's W_q, W_k and v, with and without a mask"))


# --------------------------------------------------------------------------- scaled dot-product attention


SDPA_FORMULA = ("weights = softmax(q kᵀ / √d) over the last axis, with d = q.shape[-1] (the size of queries and "
                "keys, not of the values); out = weights @ v. Use the last two axes (k.transpose(-2, -1)) so that "
                "any leading batch axes work")


def sdpa_call(q, k, v, *more: str) -> str:
    """The call in the contract's terms: scaled_dot_product_attention(q (2, 4, 3), k (2, 6, 3), v (2, 6, 5), …)."""
    dtype = "" if q.dtype == FLOAT64 else f" {str(q.dtype).removeprefix('torch.')}"
    return f"scaled_dot_product_attention({', '.join([f'q {shape(q)}{dtype}', f'k {shape(k)}', f'v {shape(v)}', *more])})"


def sdpa_program(q, k, v, mask=None, causal=None) -> Program:
    p = Program()
    kwargs = {} if causal is None else {"causal": causal}
    return named_pair(p, p.call("attention.scaled_dot_product_attention", q, k, v, mask, **kwargs), "out")


@register("attention.scaled_dot_product_attention.forward", ["scaled_dot_product_attention"],
          "softmax(q kᵀ/√d) v: scale, softmax axis, extra batch axes, dv ≠ d", credit=CREDIT)
def check_sdpa_forward(ctx: Context) -> Verdict:
    cases = []
    q, k, v = ctx.randn(2, 4, 3), ctx.randn(2, 6, 3), ctx.randn(2, 6, 5)
    cases.append(Case(f"{sdpa_call(q, k, v)}: T ≠ S, dv ≠ d", sdpa_program(q, k, v)))
    q, k, v = ctx.randn(2, 3, 4, 8), ctx.randn(2, 3, 5, 8), ctx.randn(2, 3, 5, 2)
    cases.append(Case(f"{sdpa_call(q, k, v)}: extra batch axes (B, h, T, d)", sdpa_program(q, k, v)))
    q32, k32, v32 = (t.to(FLOAT32) for t in (q, k, v))
    cases.append(Case(f"{sdpa_call(q32, k32, v32)}: float32", sdpa_program(q32, k32, v32), dtype=FLOAT32))
    return compare_cases(ctx, cases, "scaled_dot_product_attention", SDPA_FORMULA, SDPA_AXES, Verdict(
        True, "out (…, T, dv) and weights (…, T, S) match for 3-D and 4-D inputs, d ≠ dv, float64 and float32"))


def masked_rows_problem(got, case: Case) -> tuple[str, str] | None:
    """(message, hint) when a query that may attend to no key (a row of ``case.allowed`` without True) does not get
    zero weights and a zero output, in any head."""
    weights, out = (got.get("weights"), got.get("out")) if isinstance(got, dict) else (None, None)
    if case.allowed is None or not isinstance(weights, torch.Tensor) or not isinstance(out, torch.Tensor) \
            or weights.dim() != 4 or out.shape[:-1] != weights.shape[:-1]:
        return None
    try:
        nowhere = ~case.allowed.expand(weights.shape).any(dim=-1)  # (B, h, T)
    except RuntimeError:
        return None
    n_keys = weights.shape[-1]
    for b, h, t in nowhere.nonzero().tolist():
        w, o = weights[b, h, t].double(), out[b, h, t].double()
        where = f"query t={t} of batch {b} (head {h}), which may attend to no key,"
        if torch.isnan(w).any() or torch.isnan(o).any():
            return (f"{where} gets NaN in its {'weights' if torch.isnan(w).any() else 'output'} instead of zeros",
                    "a row whose scores are all −inf gives softmax 0/0 = NaN: find the rows that may attend nowhere "
                    "(~mask.any(-1)), give them a finite score before the softmax and set their weights to 0 after "
                    "it (masked_fill), so that their output is 0 too")
        if torch.allclose(w, torch.full_like(w, 1.0 / n_keys), atol=1e-6):
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
    for bb, tt in ((0, 1), (1, t - 1)):
        empty[bb, :, tt] = False
    causal = torch.ones(t, t, dtype=torch.bool).tril()
    cases = [
        Case(f"{sdpa_call(q, k, v, 'mask')}: bool mask {shape(mask)}, True = may attend", sdpa_program(q, k, v, mask),
             mask, MASK_RULE),
        Case(f"{sdpa_call(q, k, v, 'causal=True')}: causal=True without a mask", sdpa_program(q, k, v, None, True),
             causal, CAUSAL_RULE),
        Case(f"{sdpa_call(q, k, v, 'mask', 'causal=True')}: key padding mask {shape(padding)} with lengths [{t}, 3] "
             "and causal=True", sdpa_program(q, k, v, padding, True), padding & causal,
             MASK_RULE + "; with causal=True as well, a key must be allowed by both (mask & causal)"),
        Case(f"{sdpa_call(q, k, v, 'mask')}: bool mask {shape(empty)} in which some queries may attend to no key",
             sdpa_program(q, k, v, empty), empty, MASK_RULE),
    ]
    return compare_cases(ctx, cases, "scaled_dot_product_attention", SDPA_FORMULA, SDPA_AXES, Verdict(
        True, "bool masks (True = may attend), causal=True and both together match; queries that may attend nowhere "
              "get zero weights and a zero output"), explain=masked_rows_problem)


# --------------------------------------------------------------------------- multi-head self-attention


MHSA_FORMULA = ("the answer key equals torch.nn.MultiheadAttention(E, h, batch_first=True) with these weights: "
                "q, k, v are rows [0:E], [E:2E], [2E:3E] of in_proj_weight; head j uses columns "
                "[j·E/h:(j+1)·E/h]; scores are divided by √(E/h); the heads are concatenated before out_proj; "
                "weights are averaged over the heads; a (B, T) mask says which keys may be attended (True). "
                "If the scaled_dot_product_attention checks fail too, fix those first")
PADDING_RULE = ("a (B, T) mask says which keys of each sequence may be attended (True): every query of every head "
                "of that sequence gives the other keys −inf before the softmax (mask[:, None, None, :] broadcasts "
                "over the (B, h, T, T) scores)")


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
    lengths = partial_lengths(b, t)
    padding = padding_mask(lengths, t)
    layer = ("MultiHeadSelfAttention", (e, nh), weights, "out", x)
    call = f"MultiHeadSelfAttention({e}, {nh}) with the answer key's weights: forward(x {shape(x)}"
    cases = [module_case(f"{call}): no mask, not causal", *layer),
             module_case(f"{call}, causal=True): causal=True", *layer, causal=True,
                         allowed=torch.ones(t, t, dtype=torch.bool).tril(), rule=CAUSAL_RULE),
             module_case(f"{call}, mask): key padding mask {(b, t)} with lengths {lengths}, True = may attend", *layer,
                         mask=padding, allowed=padding[:, None, :], rule=PADDING_RULE)]
    passed = Verdict(True, f"out (B, T, E) and head-averaged weights (B, T, T) match torch.nn.MultiheadAttention's "
                           f"(E={e}, {nh} heads) without a mask, causal and with key padding")
    return compare_cases(ctx, cases, "MultiHeadSelfAttention", MHSA_FORMULA, MHSA_AXES, passed)


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
    return rule_verdict("attention.py", trials, findings_for(ctx), ctx.forbidden, ctx.source.locate_line,
                        "torch attention or transformer built-ins",
                        "the assignment asks you to write attention yourself with tensor operations (matmul, softmax, "
                        "masked_fill); torch.nn.MultiheadAttention, F.scaled_dot_product_attention and the Transformer "
                        "modules are not allowed in attention.py")

