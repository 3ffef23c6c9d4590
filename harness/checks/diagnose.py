"""Naming the mistake: which known variant of the answer key a wrong output matches.

When a submission's output differs from the answer key, the same program is evaluated on each
catalogue variant of the name under test (``ctx.variants``: the catalogue, live or released). A match turns "wrong
output" into "you swapped z and 1−z", which is what a student needs.
"""
from __future__ import annotations

from ..answers import VariantFailed
from . import Context, Verdict
from .compare import close


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
    else:
        hint = fallback_hint
    return Verdict(False, message, hint, numbers)
