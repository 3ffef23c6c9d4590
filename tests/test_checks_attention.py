"""The attention checks grade the example submissions as their verdicts say.

The reference passes every check, the starter fails every one as "not implemented", and each buggy
attention.py (overlaid on the reference) fails exactly the checks its EXPECTED.toml lists, with the
named diagnosis. Some checks are also run in-process on hand-written variants, without a worker.
"""
from __future__ import annotations

from pathlib import Path

import torch


from helpers import run_in_process

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "submissions"
MODULE = "attention"


# --------------------------------------------------------------------------- in-process, no worker


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
