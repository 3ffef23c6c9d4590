"""Diagnosis names only mistakes the code makes, and tolerances separate precision from mistakes.

Every catalogue variant stands in for its name in every check of that name (in process, with the answer
key around it): the check must fail it, and name it or nothing — never another mistake; a form the contract
also allows (kind "accepted") must pass. A correct
implementation that computes a constant in float32 passes the float64 checks; an error of 1e-5 relative fails.
"""
from __future__ import annotations

import math

import pytest
import torch

from helpers import run_in_process, shipped_answers, shipped_definitions
from reference_models.attention import scaled_dot_product_attention
from harness.spec import load_tasks

#: every task's catalogue (harness.course): the default course's, and any task folder's
CATALOGUE = [v for module in dict.fromkeys(s.module for s in load_tasks()) for v in shipped_answers().catalogue(module)]


def checks_of(variant) -> list[str]:
    """The checks that test the variant's name (not the implementation rule, which reads the source)."""
    return [c for c, d in shipped_definitions().items() if d.module == variant.module and variant.target in d.needs
            and not c.endswith(".implementation")]


CASES = [(v, c) for v in CATALOGUE for c in checks_of(v)]


def verdict_on(check_id: str, variant):
    """The check's verdict with the variant standing in; None when the variant raises (the worker would report
    that as the submission's error, which names no mistake)."""
    try:
        return run_in_process(check_id, **{variant.target: variant.impl})
    except Exception:  # noqa: BLE001
        return None


@pytest.mark.parametrize("variant,check_id", CASES, ids=[f"{v.name}-{c}" for v, c in CASES])
def test_a_variant_is_named_right_or_not_at_all(variant, check_id):
    verdict = verdict_on(check_id, variant)
    named = verdict.numbers.get("diagnosis", []) if verdict else []
    if named:
        assert variant.name in named, f"{check_id} took {variant.name} for {named}: {verdict.hint}"
        assert not verdict.passed


def test_every_variant_is_caught_by_a_check_of_its_name():
    missed = []
    for variant in CATALOGUE:
        if variant.kind == "accepted":
            continue
        verdicts = [verdict_on(c, variant) for c in checks_of(variant)]
        if verdicts and all(v is not None and v.passed for v in verdicts):
            missed.append(variant.name)
    assert missed == []


ACCEPTED = [(v, c) for v, c in CASES if v.kind == "accepted"]


@pytest.mark.parametrize("variant,check_id", ACCEPTED, ids=[f"{v.name}-{c}" for v, c in ACCEPTED])
def test_an_accepted_form_passes_every_check_of_its_name(variant, check_id):
    verdict = verdict_on(check_id, variant)
    assert verdict is not None and verdict.passed, verdict and verdict.message


def sdpa_float32_sqrt(q, k, v, mask=None, causal=False):
    """Correct, with √d computed in float32 (as float32 constants do in a float64 computation)."""
    d = q.shape[-1]
    rounded = float(torch.tensor(math.sqrt(d), dtype=torch.float32))
    return scaled_dot_product_attention(q * (math.sqrt(d) / rounded), k, v, mask, causal)


def sdpa_off_by_1e5(q, k, v, mask=None, causal=False):
    out, weights = scaled_dot_product_attention(q, k, v, mask, causal)
    return out * (1 + 1e-5), weights


@pytest.mark.parametrize("check_id", ["attention.scaled_dot_product_attention.forward",
                                      "attention.scaled_dot_product_attention.mask"])
def test_a_float32_constant_passes_and_an_error_of_1e5_relative_fails_without_a_false_diagnosis(check_id):
    assert run_in_process(check_id, scaled_dot_product_attention=sdpa_float32_sqrt).passed
    wrong = run_in_process(check_id, scaled_dot_product_attention=sdpa_off_by_1e5)
    assert not wrong.passed and "diagnosis" not in wrong.numbers, wrong.hint
