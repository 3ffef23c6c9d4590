"""Naming the mistake: which known variant of the answer key a wrong output matches.

When a submission's output differs from the answer key, the same program is evaluated on each
catalogue variant of the name under test (``ctx.variants``: the catalogue, live or released). A match turns "wrong
output" into "you swapped z and 1−z", which is what a student needs. When no catalogue entry matches, the mistakes
derived from the answer key's code (``ctx.mutants``: harness.checks.mutants) are tried, and one is named only when it
is the only one that matches, on an output that differs from the answer key's in enough tensor elements to tell
(EVIDENCE): two or none, or a few tokens or a number, leave the check's own hint.
"""
from __future__ import annotations

import torch

from ..answers import VariantFailed
from . import Context, Verdict
from .compare import close
from .mutants import site_of


def matching_variants(ctx: Context, program, actual, module: str, target: str, rtol: float, atol: float):
    """The catalogue variants of ``module.target`` whose value for ``program`` matches ``actual`` within the
    check's own tolerance — among those that differ from the answer key on this program (a variant that equals
    the answer key here says nothing about why the output is wrong)."""
    # another form the contract allows ("accepted") is not a mistake
    wrong = [v for v in ctx.variants(module, target) if v.kind != "accepted"]
    return [v for v, _ in _matching(ctx, program, wrong, actual, ctx.reference(program), rtol, atol)]


def _matching(ctx: Context, program, entries: list, actual, expected, rtol: float, atol: float):
    """(entry, value) for each of ``entries`` (catalogue variants or derived mistakes) whose value for ``program``
    differs from the answer key's and matches ``actual`` within the check's tolerance. One that cannot run this
    program simply does not match."""
    for entry in entries:
        try:
            value = ctx.variant(program, entry)
        except VariantFailed:
            continue
        if not close(value, expected, rtol, atol) and close(actual, value, rtol, atol):
            yield entry, value


#: The tensor elements a wrong output must differ in from the answer key's before a derived mistake is named: a few
#: tokens, a number or a short list are matched by many programs (a beam search's best hypothesis, a perplexity),
#: while many elements that all agree with one change of the code are not a coincidence.
EVIDENCE = 4


def evidence(actual, expected, rtol: float, atol: float) -> int:
    """How many tensor elements of ``actual`` differ from ``expected`` beyond the tolerance (same-shaped tensors in
    the same places of nested tuples, lists and dicts)."""
    if isinstance(actual, torch.Tensor) and isinstance(expected, torch.Tensor):
        if actual.shape != expected.shape or actual.is_complex() or expected.is_complex():
            return 0
        a, e = actual.detach().double(), expected.detach().double()
        return int((~torch.isclose(a, e, rtol=rtol, atol=atol, equal_nan=True)).sum())
    if isinstance(actual, (tuple, list)) and isinstance(expected, (tuple, list)) and len(actual) == len(expected):
        return sum(evidence(a, e, rtol, atol) for a, e in zip(actual, expected))
    if isinstance(actual, dict) and isinstance(expected, dict):
        return sum(evidence(actual[k], expected[k], rtol, atol) for k in actual.keys() & expected.keys())
    return 0


def matching_mutants(ctx: Context, program, actual, module: str, target: str, rtol: float, atol: float) -> list:
    """The derived mistakes of ``module.target`` that match ``actual`` (as :func:`matching_variants`), one for each
    place they change: mutants of one place that give the same values here say one mistake in two ways (dim 0 and
    dim −2 of a 2-D tensor), and the first is kept. None when the output differs from the answer key's in fewer than
    EVIDENCE tensor elements: too little to tell one change from another."""
    expected = ctx.reference(program)
    if evidence(actual, expected, rtol, atol) < EVIDENCE:
        return []
    found, values = [], {}
    for mutant, value in _matching(ctx, program, ctx.mutants(module, target), actual, expected, rtol, atol):
        site = site_of(mutant.name)
        if site in values and close(value, values[site], 0.0, 0.0):
            continue
        values.setdefault(site, value)
        found.append(mutant)
    return found


def wrong_output(ctx: Context, message: str, program, actual, module: str, target: str, rtol: float, atol: float,
                 fallback_hint: str = "", numbers: dict | None = None) -> Verdict:
    """A failed verdict whose hint names the matching known mistake, if there is one."""
    variants = matching_variants(ctx, program, actual, module, target, rtol, atol)
    numbers = dict(numbers or {})
    if variants:
        numbers["diagnosis"] = [v.name for v in variants]
        v = variants[0]
        lead = "This matches a known variant from the literature" if v.kind == "variant" else \
            "This matches a common mistake"
        hint = f"{lead}: {v.description}"
    elif len(mutants := matching_mutants(ctx, program, actual, module, target, rtol, atol)) == 1:
        numbers["diagnosis"] = [mutants[0].name]
        hint = f"This matches one small slip: {mutants[0].description}"
    else:
        hint = fallback_hint
    return Verdict(False, message, hint, numbers)
