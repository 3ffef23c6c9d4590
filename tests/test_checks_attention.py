"""The attention checks grade the example submissions as their verdicts say.

The reference passes every check, the starter fails every one as "not implemented", and each buggy
attention.py (overlaid on the reference) fails exactly the checks its EXPECTED.toml lists, with the
named diagnosis. Some checks are also run in-process on hand-written variants, without a worker.
"""
from __future__ import annotations

import shutil
import tomllib
import types
from pathlib import Path

import pytest
import torch

from harness.checks import REGISTRY, Context, load_builtin_checks
from harness.grading import grade, reference_namespace
from harness.sandbox import program as interpreter
from harness.spec import DEFAULT_TOLERANCES, load_tasks
from reference_models.variants import CATALOGUE

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "submissions"
MODULE = "attention"

#: check id, words the message must hold, words the hint must hold — for fixtures worth reading closely
READ_CLOSELY = {
    "sdpa_masked_rows_nan": ("attention.scaled_dot_product_attention.mask", ["NaN", "attend to no key"], ["−inf"]),
    "mhsa_uses_torch_sdpa": ("attention.implementation", ["scaled_dot_product_attention", "line"], ["yourself"]),
    "dot_attention_wrong_axis": ("attention.dot_attention", ["no mask", "(3, 6, 4)"], ["batch axis"]),
}


def examples(module: str) -> list[Path]:
    found = []
    for path in sorted((SUBMISSIONS / "buggy").glob("*/EXPECTED.toml")):
        if tomllib.loads(path.read_text())["module"] == module:
            found.append(path.parent)
    return found


def overlay(example: Path, dest: Path) -> Path:
    shutil.copytree(SUBMISSIONS / "reference", dest)
    for path in example.glob("*.py"):
        shutil.copy(path, dest / path.name)
    return dest


def specs():
    return load_tasks(names=[MODULE])


def test_reference_passes_every_check_with_full_points():
    results = grade(SUBMISSIONS / "reference", specs())
    assert [(c.id, c.message) for c in results.checks if c.status != "passed"] == []
    assert len(results.checks) == len(specs()[0].checks) >= 7
    assert results.tasks[0].score == results.tasks[0].max_score > 0


def test_starter_fails_every_check_as_not_implemented():
    results = grade(SUBMISSIONS / "starter", specs())
    assert [(c.id, c.status, c.message) for c in results.checks if c.status != "failed"] == []
    assert all("not implemented" in c.message for c in results.checks), [c.message for c in results.checks]
    assert results.tasks[0].score == 0


@pytest.mark.parametrize("example", examples(MODULE), ids=lambda p: p.name)
def test_buggy_submission_fails_exactly_its_checks(example: Path, tmp_path: Path):
    expected = tomllib.loads((example / "EXPECTED.toml").read_text())
    results = grade(overlay(example, tmp_path / example.name), specs())
    status = {c.id: c.status for c in results.checks}
    want = {check_id: ("failed" if check_id in expected["failed"] else "passed") for check_id in status}
    assert status == want, [(c.id, c.status, c.message, c.hint) for c in results.checks if c.status != want[c.id]]
    failing = [c for c in results.checks if c.status == "failed"]
    assert all(c.message and c.hint for c in failing)
    if "diagnosis" in expected:
        named = [c.id for c in failing if expected["diagnosis"] in c.numbers.get("diagnosis", [])]
        assert named, [(c.id, c.numbers.get("diagnosis")) for c in failing]
        target = next(v.target for v in CATALOGUE if v.name == expected["diagnosis"])
        assert all(c in named for c in expected["failed"] if c.startswith(f"{MODULE}.{target}.") or
                   c == f"{MODULE}.{target}")
    if example.name in READ_CLOSELY:
        check_id, in_message, in_hint = READ_CLOSELY[example.name]
        check = next(c for c in failing if c.id == check_id)
        assert all(word in check.message for word in in_message), check.message
        assert all(word in check.hint for word in in_hint), check.hint


# --------------------------------------------------------------------------- in-process, no worker


def run_in_process(check_id: str, **replacements):
    """Run one check with the answer key standing in for the submission, with some names replaced."""
    load_builtin_checks()
    definition = REGISTRY[check_id]
    namespace = reference_namespace()
    student = dict(namespace)
    module = types.SimpleNamespace(**vars(namespace[MODULE]))
    for name, value in replacements.items():
        setattr(module, name, value)
    student[MODULE] = module

    def runner(program):
        return types.SimpleNamespace(header={}, value=interpreter.run(program.to_json(), program.inputs, student))

    ctx = Context(check_id, dict(definition.options), DEFAULT_TOLERANCES, 2024, runner, namespace)
    ctx.static_findings, ctx.source = [], None
    return definition.func(ctx)


def test_a_large_negative_fill_is_told_apart_from_nan():
    import reference_models.attention as ref

    def sdpa_fill_minus_1e9(q, k, v, mask=None, causal=False):
        scores = q @ k.transpose(-2, -1) / q.size(-1) ** 0.5
        _, allowed = ref.apply_masks(scores, mask, causal)
        if allowed is not None:
            scores = scores.masked_fill(~allowed, -1e9)
        weights = scores.softmax(-1)
        return weights @ v, weights

    verdict = run_in_process("attention.scaled_dot_product_attention.mask",
                             scaled_dot_product_attention=sdpa_fill_minus_1e9)
    assert not verdict.passed
    assert "uniform weights 1/5" in verdict.message and "−1e9" in verdict.hint


def test_weights_normalised_over_the_wrong_axis_are_named_when_no_variant_matches():
    def softmax_over_heads(q, k, v, mask=None, causal=False):
        scores = q @ k.transpose(-2, -1) / q.size(-1) ** 0.5
        weights = scores.softmax(dim=0)
        return weights @ v, weights

    verdict = run_in_process("attention.scaled_dot_product_attention.forward",
                             scaled_dot_product_attention=softmax_over_heads)
    assert not verdict.passed and "diagnosis" not in verdict.numbers
    assert "batch axis B (axis 0)" in verdict.hint


def test_odd_d_model_last_column_gets_its_own_hint():
    import reference_models.attention as ref

    def pe_cos_last(max_len, d_model):
        pe = ref.positional_encoding(max_len, d_model)
        if d_model % 2:
            pe[:, -1] = torch.cos(ref.pe_angles(max_len, d_model)[:, -1]).float()
        return pe

    verdict = run_in_process("attention.positional_encoding", positional_encoding=pe_cos_last)
    assert not verdict.passed and "d_model=7" in verdict.message and "last column" in verdict.hint


def test_multi_head_attention_equals_torch_for_the_checked_cases():
    """The check compares with the answer key; the answer key must equal torch's own layer there."""
    from reference_models.attention import MultiHeadSelfAttention

    torch.manual_seed(0)
    ours, theirs = MultiHeadSelfAttention(8, 2).double(), torch.nn.MultiheadAttention(8, 2, batch_first=True).double()
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(3, 5, 8, dtype=torch.float64)
    padding = torch.arange(5) < torch.tensor([5, 2, 4]).unsqueeze(1)
    causal = torch.ones(5, 5).tril().bool()
    for kwargs, torch_kwargs in (({}, {}), ({"causal": True}, {"attn_mask": ~causal}),
                                 ({"mask": padding}, {"key_padding_mask": ~padding})):
        out, weights = ours(x, **kwargs)
        out_t, weights_t = theirs(x, x, x, **torch_kwargs)
        torch.testing.assert_close(out, out_t)
        torch.testing.assert_close(weights, weights_t)
