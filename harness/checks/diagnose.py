"""Naming the mistake: which known variant of the answer key a wrong output matches.

When a submission's output differs from the answer key, the same program is evaluated on each
catalogue variant of the name under test (``ctx.variants``: the catalogue, live or released). A match turns "wrong
output" into "you swapped z and 1−z", which is what a student needs. When no catalogue entry matches, the mistakes
derived from the answer key's code (``ctx.mutants``: harness.checks.mutants) are tried, and one is named only when it
is the only one that matches: two or none leave the check's own hint.
"""
from __future__ import annotations

from ..answers import VariantFailed
from . import Context, Verdict
from .compare import close
from .mutants import site_of


def matching_variants(ctx: Context, program, actual, module: str, target: str, rtol: float, atol: float):
    """The catalogue variants of ``module.target`` whose value for ``program`` matches ``actual`` within the
    check's own tolerance — among those that differ from the answer key on this program (a variant that equals
    the answer key here says nothing about why the output is wrong)."""
    expected = ctx.reference(program)
    found = []
    for variant in ctx.variants(module, target):
        if variant.kind == "accepted":  # another form the contract allows is not a mistake
            continue
        try:
            value = ctx.variant(program, variant)
        except VariantFailed:  # a variant that cannot run this program simply does not match
            continue
        if not close(value, expected, rtol, atol) and close(actual, value, rtol, atol):
            found.append(variant)
    return found


def matching_mutants(ctx: Context, program, actual, module: str, target: str, rtol: float, atol: float) -> list:
    """The derived mistakes of ``module.target`` that match ``actual`` (as :func:`matching_variants`), one for each
    place they change: mutants of one place that give the same values here say one mistake in two ways (dim 0 and
    dim −2 of a 2-D tensor), and the first is kept."""
    expected = ctx.reference(program)
    found, values = [], {}
    for mutant in ctx.mutants(module, target):
        try:
            value = ctx.variant(program, mutant)
        except VariantFailed:
            continue
        if close(value, expected, rtol, atol) or not close(actual, value, rtol, atol):
            continue
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
