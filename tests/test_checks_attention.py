"""The attention checks grade the example submissions as their verdicts say.

The reference passes every check, the starter fails every one as "not implemented", and each buggy
attention.py (overlaid on the reference) fails exactly the checks its EXPECTED.toml lists, with the
named diagnosis. Some checks are also run in-process on hand-written variants, without a worker.
"""
from __future__ import annotations

from pathlib import Path

import pytest
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
    # no catalogue entry matches: the mistake derived from the answer key's softmax axis does (harness.checks.mutants)
    assert not verdict.passed and verdict.numbers["diagnosis"][0].startswith("mutant.attention.scaled_dot_product_")
    assert "softmax(…) in one of its values is taken over dim 0 instead of the last axis" in verdict.hint


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



# --------------------------------------------------------------------------- masks, written as students write them

FILLS = ["-inf then nan_to_num", "torch.where", "-1e9", "-inf"]  # ways of hiding keys before the softmax


def masked_softmax(fill: str):
    """A student's softmax over the last axis that hides the keys where ``allowed`` is False, in one of the FILLS,
    or "after the softmax" (weights zeroed, not renormalised)."""
    def softmax(scores, allowed):
        if allowed is None:
            return scores.softmax(-1)
        if fill == "-inf then nan_to_num":  # a row hidden everywhere is NaN, then 0
            return scores.masked_fill(~allowed, float("-inf")).softmax(-1).nan_to_num(0.0)
        if fill == "torch.where":
            weights = torch.where(allowed, scores, float("-inf")).softmax(-1)
            return torch.where(allowed.any(-1, keepdim=True), weights, 0.0)
        if fill == "-1e9":  # a row hidden everywhere is uniform
            return scores.masked_fill(~allowed, -1e9).softmax(-1)
        if fill == "-inf":  # a row hidden everywhere is NaN
            return scores.masked_fill(~allowed, float("-inf")).softmax(-1)
        assert fill == "after the softmax"
        return scores.softmax(-1).masked_fill(~allowed, 0.0)

    return softmax


def written_with(fill: str, reading: str = "as given") -> dict:
    """The four attention names of a submission that masks as ``fill`` says and reads a given mask "as given"
    (True = may attend), "inverted" (True = may not attend) or not at all ("ignored"); right otherwise."""
    import reference_models.attention as ref

    softmax = masked_softmax(fill)

    def read(mask):
        return None if mask is None or reading == "ignored" else ~mask if reading == "inverted" else mask

    def attend(q, k, v, allowed, causal):
        scores = q @ k.transpose(-2, -1) / q.size(-1) ** 0.5
        if causal:
            tril = torch.ones(scores.shape[-2:], dtype=torch.bool).tril()
            allowed = tril if allowed is None else allowed & tril
        weights = softmax(scores, allowed)
        return weights @ v, weights

    def dot_attention(query, keys, values, mask=None):
        weights = softmax(torch.einsum("bh,bsh->bs", query, keys), read(mask))
        return torch.einsum("bs,bsh->bh", weights, values), weights

    class AdditiveAttention(ref.AdditiveAttention):
        def forward(self, query, keys, values, mask=None):
            scores = torch.tanh((query @ self.W_q.T).unsqueeze(1) + keys @ self.W_k.T) @ self.v
            weights = softmax(scores, read(mask))
            return torch.einsum("bs,bsh->bh", weights, values), weights

    def scaled_dot_product_attention(q, k, v, mask=None, causal=False):
        return attend(q, k, v, read(mask), causal)

    class MultiHeadSelfAttention(ref.MultiHeadSelfAttention):
        def forward(self, x, mask=None, causal=False):
            B, T, E = x.shape
            q, k, v = self.qkv(x)
            y, weights = attend(q, k, v, self.head_mask(read(mask), B, T), causal)
            return self.out_proj(y.transpose(1, 2).reshape(B, T, E)), weights.mean(dim=1)

    return {"dot_attention": dot_attention, "AdditiveAttention": AdditiveAttention,
            "scaled_dot_product_attention": scaled_dot_product_attention,
            "MultiHeadSelfAttention": MultiHeadSelfAttention}


MASK_CHECKS = {"dot_attention": "attention.dot_attention", "AdditiveAttention": "attention.AdditiveAttention.forward",
               "scaled_dot_product_attention": "attention.scaled_dot_product_attention.mask",
               "MultiHeadSelfAttention": "attention.MultiHeadSelfAttention.forward"}
PREFIX = {"dot_attention": "dot_attention", "AdditiveAttention": "additive", "scaled_dot_product_attention": "sdpa",
          "MultiHeadSelfAttention": "mhsa"}


def verdict_of(name: str, fill: str, reading: str = "as given"):
    return run_in_process(MASK_CHECKS[name], **{name: written_with(fill, reading)[name]})


@pytest.mark.parametrize("name", MASK_CHECKS)
@pytest.mark.parametrize("fill", ["-inf then nan_to_num", "torch.where"])
def test_a_mask_handled_right_passes(fill, name):
    verdict = verdict_of(name, fill)
    assert verdict.passed, f"{verdict.message} | {verdict.hint}"


@pytest.mark.parametrize("name", ["dot_attention", "AdditiveAttention", "MultiHeadSelfAttention"])
@pytest.mark.parametrize("fill", ["-1e9", "-inf"])
def test_rows_with_nothing_to_attend_are_not_tested_where_the_contract_says_nothing_of_them(fill, name):
    assert verdict_of(name, fill).passed


@pytest.mark.parametrize("fill", ["-1e9", "-inf"])
def test_scaled_dot_product_attention_must_give_zeros_where_a_query_may_attend_nowhere(fill):
    verdict = verdict_of("scaled_dot_product_attention", fill)
    assert not verdict.passed and "attend to no key" in verdict.message
    assert verdict.numbers.get("diagnosis", []) == (["sdpa_fill_minus_1e9"] if fill == "-1e9" else [])


@pytest.mark.parametrize("name", MASK_CHECKS)
@pytest.mark.parametrize("fill", FILLS)
def test_a_mask_read_the_wrong_way_round_is_named_however_hidden_keys_are_filled(fill, name):
    verdict = verdict_of(name, fill, "inverted")
    assert not verdict.passed
    assert verdict.numbers.get("diagnosis") == [f"{PREFIX[name]}_mask_inverted"], verdict.hint
    assert "may not attend" in verdict.hint


@pytest.mark.parametrize("name", MASK_CHECKS)
@pytest.mark.parametrize("fill,reading,mistake", [("-inf then nan_to_num", "ignored", "mask_ignored"),
                                                  ("after the softmax", "as given", "mask_after_softmax")])
def test_a_mask_ignored_or_applied_after_the_softmax_is_named(fill, reading, mistake, name):
    verdict = verdict_of(name, fill, reading)
    assert not verdict.passed
    assert verdict.numbers.get("diagnosis") == [f"{PREFIX[name]}_{mistake}"], verdict.hint


@pytest.mark.parametrize("name", ["dot_attention", "AdditiveAttention", "MultiHeadSelfAttention"])
def test_a_masked_case_says_where_it_differs(name):
    verdict = verdict_of(name, "-inf then nan_to_num", "ignored")
    assert "lengths [" in verdict.message and "batch " in verdict.message and "key " in verdict.message


def test_without_a_matching_mistake_the_hint_says_what_the_weights_do_with_hidden_keys():
    """A mask ignored and the scores not scaled: no single mistake of the catalogue, but the hint says why."""
    def sdpa_unscaled_mask_ignored(q, k, v, mask=None, causal=False):
        sdpa = written_with("-inf then nan_to_num", "ignored")["scaled_dot_product_attention"]
        return sdpa(q * q.size(-1) ** 0.5, k, v, mask, causal)

    verdict = run_in_process("attention.scaled_dot_product_attention.mask",
                             scaled_dot_product_attention=sdpa_unscaled_mask_ignored)
    assert not verdict.passed and "diagnosis" not in verdict.numbers
    assert verdict.hint.startswith("keys a query may not attend get non-zero weight")


def test_a_case_that_fails_only_with_a_mask_gets_a_mask_hint_not_the_formula():
    """Read inverted and zeroed after the softmax: two mask mistakes at once, which no variant matches."""
    verdict = verdict_of("AdditiveAttention", "after the softmax", "inverted")
    assert not verdict.passed and "diagnosis" not in verdict.numbers
    assert "mask (3, 5) with valid lengths" in verdict.message
    assert verdict.hint.startswith("your weights are 0 on the keys a query may attend and non-zero on the others")
    assert "tanh" not in verdict.hint
