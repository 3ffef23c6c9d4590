"""Checks of ``generation.py``: temperature softmax, sampling, perplexity, greedy and beam search (the last two on
next-token tables, harness/checks/decoding.py; the statistics of sampling: harness/checks/sampling.py).

Sampling is tested statistically: many draws with a fixed generator, a chi-square goodness-of-fit
test against softmax(logits/T) at a small significance level per temperature (the family-wise false
alarm rate is bounded by Bonferroni and printed), and exactly: the same generator seed gives the same
draws whatever the global RNG does. Perplexity is compared with the answer key on
batches where counting padding, or averaging per-sequence perplexities, gives a different figure.
"""
from __future__ import annotations

import math

import torch

from harness.answers import VariantFailed
from harness.checks import Context, Verdict, register
from harness.checks.compare import as_float, describe, mismatch
from harness.checks.decoding import beam_options, check_beam, check_greedy, greedy_options
from harness.checks.diagnose import wrong_output
from harness.checks.sampling import draws_fit, target_probs
from harness.checks.stubs import constant_output
from harness.sandbox.program import Program

FLOAT64, FLOAT32 = torch.float64, torch.float32


# --------------------------------------------------------------------------- softmax with temperature


@register("generation.softmax_with_temperature", ["softmax_with_temperature"],
          "softmax(logits / T) over the last axis, several T, batch axes", temperatures=[1.0, 0.5, 2.0, 0.1])
def check_softmax_temperature(ctx: Context) -> Verdict:
    logits = ctx.randn(2, 3, 7, scale=2.0)
    cases = [(f"logits {tuple(logits.shape)}, T={t:g}", logits, float(t), FLOAT64) for t in ctx.options["temperatures"]]
    cases.append(("logits (7,) without batch axes, T=0.7", logits[0, 0], 0.7, FLOAT64))
    cases.append(("float32 logits (2, 3, 7), T=1.5", logits.to(FLOAT32), 1.5, FLOAT32))
    passed_at = []
    for label, x, t, dtype in cases:
        p = Program()
        p.result(p.call("generation.softmax_with_temperature", x, t))
        got = ctx.student(p, case=f"softmax_with_temperature({label})")
        want = ctx.reference(p)
        rtol, atol = ctx.tol(dtype)
        problem = mismatch(got, want, rtol, atol, "probabilities")
        if problem:
            hint = "probs = softmax(logits / T) over the last axis: T < 1 sharpens the distribution, T > 1 flattens it"
            if isinstance(got, torch.Tensor) and got.shape == want.shape and not torch.allclose(
                    got.double().sum(-1), torch.ones((), dtype=FLOAT64), atol=1e-6):
                hint = "each row of probabilities should sum to 1 over the last axis (the vocabulary)"
            elif passed_at == [1.0]:
                hint = "right at T=1 only: the temperature is used the wrong way; divide the logits by T"
            return wrong_output(ctx, f"softmax_with_temperature ({label}): {problem}", p, got, "generation",
                                "softmax_with_temperature", rtol, atol, hint, {"case": label})
        passed_at.append(t)
    temps = ", ".join(f"{t:g}" for t in ctx.options["temperatures"])
    return Verdict(True, f"softmax(logits / T) matches at T = {temps}, with and without batch axes, float64 and float32")


# --------------------------------------------------------------------------- sampling: distribution


SAMPLING_LOGITS = [2.0, 1.0, 0.5, 0.0, -1.0, 0.3, -2.0, -3.5]


def temperature_program(logits: torch.Tensor, temperature: float) -> Program:
    """softmax_with_temperature(logits, T): what a sampler's draws are compared with."""
    p = Program()
    return p.result(p.call("generation.softmax_with_temperature", logits, temperature))


def draws_problem(got, n: int, v: int, what: str) -> str | None:
    if not isinstance(got, torch.Tensor):
        return f"{what}: expected a LongTensor of shape ({n},), got {describe(got)}"
    if tuple(got.shape) != (n,):
        return f"{what}: expected one draw per row, shape ({n},), got shape {tuple(got.shape)}"
    if got.is_floating_point() or got.dtype == torch.bool:
        return f"{what}: expected integer token ids (a LongTensor), got dtype {str(got.dtype).removeprefix('torch.')}"
    if n and (got.min() < 0 or got.max() >= v):
        return f"{what}: token ids must lie in [0, {v}), got values from {int(got.min())} to {int(got.max())}"
    return None


@register("generation.sample_next.distribution", ["sample_next"],
          "chi-square goodness of fit of many draws against softmax(logits/T) at several temperatures",
          draws=20000, temperatures=[0.5, 1.0, 2.0], alpha=1e-3, min_expected=5.0)
def check_sampling_distribution(ctx: Context) -> Verdict:
    s = ctx.options
    n, temps, alpha = int(s["draws"]), [float(t) for t in s["temperatures"]], float(s["alpha"])
    logits = torch.tensor(SAMPLING_LOGITS, dtype=FLOAT64)
    v = logits.numel()
    p = Program()
    rows = p.op("to", logits.expand(n, v).contiguous(), "float64")
    seeds = [ctx.seed + k for k in range(len(temps))]
    p.result([p.call("generation.sample_next", rows, t, p.op("generator", seed)) for t, seed in zip(temps, seeds)])
    got = ctx.student(p, case=f"sample_next(logits ({n}, {v}) float64, T in {temps}, generator): {n} rows of the "
                              f"logits {SAMPLING_LOGITS}")
    if not isinstance(got, (list, tuple)) or len(got) != len(temps):
        return Verdict(False, f"sample_next returned {describe(got)}")
    for t, draws in zip(temps, got):
        problem = draws_problem(draws, n, v, f"sample_next(logits ({n}, {v}), T={t:g})")
        if problem:
            return Verdict(False, problem, "return torch.multinomial(probs, 1, generator=generator).squeeze(-1): "
                                           "one token id per row")
    # the answer key's softmax_with_temperature on the same programs diagnosis runs its variants on
    fits = {f"{t:g}": draws_fit(d, ctx.reference(temperature_program(logits, t)), s["min_expected"])
            for t, d in zip(temps, got)}
    bound = min(1.0, alpha * len(temps))
    numbers = {"per_temperature": fits, "draws": n, "logits": SAMPLING_LOGITS, "alpha_per_temperature": alpha,
               "family_wise_false_alarm_bound": bound, "generator_seeds": seeds}
    level = (f"each temperature tested at level {alpha:g}, so a correct sampler fails this check with probability "
             f"at most {bound:g} (Bonferroni)")
    rejected = [t for t in temps if fits[f"{t:g}"]["p"] < alpha]
    if not rejected:
        summary = ", ".join(f"T={k}: χ²={f['chi2']:.1f}, dof={f['dof']}, p={f['p']:.3g}" for k, f in fits.items())
        return Verdict(True, f"{n} draws at each temperature fit softmax(logits/T) ({summary}); {level}",
                       numbers=numbers)
    worst = ", ".join(f"T={t:g}: χ²={fits[f'{t:g}']['chi2']:.4g}, dof={fits[f'{t:g}']['dof']}, "
                      f"p={fits[f'{t:g}']['p']:.3g}" for t in rejected)
    message = (f"the draws do not follow softmax(logits/T) at {', '.join(f'T={t:g}' for t in rejected)} ({worst}); "
               f"{level}")
    alternatives = sampling_alternatives(ctx, logits, temps, got, rejected, alpha, s["min_expected"])
    numbers["alternatives"] = {name: fit for name, (fit, _) in alternatives.items()}
    matched = [name for name, (fit, _) in alternatives.items() if fit]
    hint = ("draw with torch.multinomial(softmax(logits / T), 1, generator=generator): the draws' frequencies "
            "should approach softmax(logits / T)")
    if matched:
        name = matched[0]
        hint = alternatives[name][1]
        if name != "ignores_temperature":
            numbers["diagnosis"] = [name]
    return Verdict(False, message, hint, numbers)


def sampling_alternatives(ctx: Context, logits, temps, draws, rejected, alpha, min_expected) -> dict:
    """For known wrong samplers, whether the draws fit them at every rejected temperature:
    {name: (fits, hint)} — the catalogue's variants of softmax_with_temperature, and ignoring T."""
    by_t = dict(zip(temps, draws))
    found = {}
    for variant in ctx.variants("generation", "softmax_with_temperature"):
        ok = True
        for t in rejected:
            try:
                probs = ctx.variant(temperature_program(logits, t), variant)
            except VariantFailed:  # a variant that cannot run does not match
                ok = False
                break
            ok = ok and draws_fit(by_t[t], probs, min_expected)["p"] >= alpha
        found[variant.name] = (ok, f"the draws' frequencies fit this instead: {variant.description} "
                                   "(check the probabilities you sample from, e.g. softmax(logits·T) vs "
                                   "softmax(logits/T))")
    ignores = all(draws_fit(by_t[t], target_probs(logits, 1.0), min_expected)["p"] >= alpha for t in rejected)
    found["ignores_temperature"] = (ignores, "the draws' frequencies fit softmax(logits) at every temperature: the "
                                             "temperature is ignored; sample from softmax(logits / T)")
    return found


# --------------------------------------------------------------------------- sampling: determinism


@register("generation.sample_next.determinism", ["sample_next"],
          "the same generator seed gives the same draws, whatever the global RNG does", rows=64, vocab=10)
def check_sampling_determinism(ctx: Context) -> Verdict:
    rows, v = ctx.options["rows"], ctx.options["vocab"]
    logits = ctx.randn(rows, v, scale=0.5)
    p = Program()
    x = p.op("to", logits, "float64")
    p.op("manual_seed", 11)
    first = p.call("generation.sample_next", x, 1.0, p.op("generator", ctx.seed))
    p.op("manual_seed", 12345)
    second = p.call("generation.sample_next", x, 1.0, p.op("generator", ctx.seed))
    other = p.call("generation.sample_next", p.op("to", ctx.randn(rows, v, scale=0.5), "float64"), 1.0,
                   p.op("generator", ctx.seed))
    p.result([first, second, other])
    got = ctx.student(p, case=f"sample_next(logits ({rows}, {v}) float64, T=1, generator) twice, with generators "
                              "seeded alike, then on other logits")
    for label, draws in zip(("first", "second", "third"), got):
        problem = draws_problem(draws, rows, v, f"sample_next (the {label} call)")
        if problem:
            return Verdict(False, problem, "return one token id per row, a LongTensor of shape (B,)")
    constant = constant_output(got[0], got[2])
    if constant:  # a sampler that ignores its logits is reproducible too, and worth nothing
        return Verdict(False, f"sample_next returns {constant} (the same {rows} draws for other logits): there is "
                       "nothing to reproduce yet", "draw each row's token from softmax(logits / T), e.g. "
                       "torch.multinomial(probs, 1, generator=generator)")
    if torch.equal(got[0], got[1]):
        return Verdict(True, f"two calls with generators seeded alike give the same {rows} draws, although torch's "
                             "global seed was changed in between")
    differ = int((got[0] != got[1]).sum())
    return Verdict(False, f"two calls with generators seeded alike ({ctx.seed}) gave different draws in {differ} of "
                          f"{rows} rows; torch's global seed was changed between the calls",
                   "the draws depend on torch's global random state: pass the generator to every random call, e.g. "
                   "torch.multinomial(probs, 1, generator=generator) (torch.distributions and torch.rand without "
                   "generator= use the global RNG)", {"rows_differing": differ})


# --------------------------------------------------------------------------- perplexity


def perplexity_cases(ctx: Context) -> list[tuple[str, torch.Tensor, torch.Tensor, int | None]]:
    n, t, v = 3, 6, 7
    log_probs = torch.log_softmax(ctx.randn(n, t, v, scale=1.5), dim=-1)
    real = (ctx.uniform(n, t, low=1, high=v).floor().long()).clamp(1, v - 1)  # no 0: nothing is padding
    post = real.clone()
    post[1, 3:] = 0
    post[2, 1:] = 0  # lengths 6, 3, 1
    pre = real.clone()
    pre[0, :4] = 0
    pre[1, :1] = 0  # lengths 2, 5, 6
    custom = (ctx.uniform(n, t, low=0, high=v).floor().long()).clamp(0, v - 1)
    custom[custom == 5] = 0
    custom[0, 4:] = 5
    custom[2, 2:] = 5
    custom[1, 0] = 0  # token 0 is an ordinary token here
    rows = 40  # windows of a running text, more rows than a batch of 32: pooled, not a mean over batches
    windows = torch.log_softmax(ctx.randn(rows, t, v, scale=1.5), dim=-1)
    running = (ctx.uniform(rows, t, low=1, high=v).floor().long()).clamp(1, v - 1)
    running[-1, 2:] = 0  # the text's last window is shorter
    return [
        ("no padding, equal lengths", log_probs, real, None),
        ("a batch padded at the end with pad_id 0, lengths 6, 3, 1", log_probs, post, None),
        ("a batch padded at the front with pad_id 0, lengths 2, 5, 6", log_probs, pre, None),
        ("pad_id=5: token 0 is an ordinary token here, lengths 4, 6, 2", log_probs, custom, 5),
        (f"{rows} windows of a running text, the last one 2 tokens long", windows, running, None),
    ]


@register("generation.perplexity", ["perplexity"],
          "corpus perplexity over non-pad targets: padding, different lengths, a custom pad_id, 40 windows", rtol=1e-6)
def check_perplexity(ctx: Context) -> Verdict:
    rtol = ctx.options["rtol"]
    figures = {}
    for label, log_probs, targets, pad_id in perplexity_cases(ctx):
        p = Program()
        args = (log_probs, targets) if pad_id is None else (log_probs, targets, pad_id)
        p.result(p.call("generation.perplexity", *args))
        shapes = f"log_probs {tuple(log_probs.shape)}, targets {tuple(targets.shape)}"
        call = f"perplexity({shapes}{'' if pad_id is None else f', pad_id={pad_id}'})"
        got = ctx.student(p, case=f"{call}: {label}")
        want = ctx.reference(p)
        value = as_float(got)
        if value is None:
            return Verdict(False, f"perplexity ({label}) should return a number, got {describe(got)}",
                           "return a Python float: math.exp(total NLL / number of scored tokens)", {"case": label})
        figures[label] = {"expected": want, "got": value}
        if math.isclose(value, want, rel_tol=rtol, abs_tol=0.0):
            continue
        hint = ("perplexity = exp(Σ NLL over the targets that are not pad_id / their number): one exponential for "
                "the whole set, not a mean of per-sequence or per-batch perplexities, and pad targets neither summed "
                "nor counted")
        if pad_id is not None:
            hint = "use the pad_id argument, not a hard-coded 0: with pad_id=5 the id 0 is an ordinary token"
        return wrong_output(ctx, f"perplexity ({label}; {shapes}): got {value:.6g}, expected {want:.6g}", p, got,
                            "generation", "perplexity", rtol, 0.0, hint, {"case": label, "figures": figures})
    return Verdict(True, "corpus perplexity matches: pad targets are left out (pad_id 0 at the end or the front, and "
                         "a custom pad_id), one exponential over the whole set (40 windows too)",
                   numbers={"figures": figures})


# --------------------------------------------------------------------------- decoding: the engine's checks on tables

register("generation.greedy_search", ["greedy_search"],
         "exact on small tables (eos early, stopped by max_len, eos first) and on random tables where every "
         "prefix has its own distribution", **greedy_options("greedy_search"))(check_greedy)
register("generation.beam_search", ["beam_search"],
         "on tables where greedy, beam 2 and beam 3 differ and every prefix has its own distribution, and on random "
         "tables: every score, order and ending checked, the best hypothesis compared; beam_width=1 equals greedy",
         **beam_options("beam_search"))(check_beam)
