"""The reference attention agrees with PyTorch's and with the formulas, in float64."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from reference_models.attention import (
    AdditiveAttention,
    MultiHeadSelfAttention,
    dot_attention,
    positional_encoding,
    scaled_dot_product_attention,
)

B, T, S, E = 2, 5, 7, 8


@pytest.fixture(autouse=True)
def seed():
    torch.manual_seed(0)


def randn(*shape, grad=False):
    return torch.randn(*shape, dtype=torch.float64, requires_grad=grad)


def assert_close(a, b):
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def padding_mask(lengths, S):
    return torch.arange(S) < torch.tensor(lengths).unsqueeze(1)  # (B, S), True = may attend


def test_dot_attention_is_luong_dot_with_mask():
    q, k, v = randn(B, E), randn(B, S, E), randn(B, S, 3)
    mask = padding_mask([S, 3], S)
    context, weights = dot_attention(q, k, v, mask)
    assert context.shape == (B, 3) and weights.shape == (B, S)
    for b, n in enumerate([S, 3]):
        w = torch.softmax(k[b, :n] @ q[b], dim=0)
        assert_close(weights[b, :n], w)
        assert torch.all(weights[b, n:] == 0)
        assert_close(context[b], w @ v[b, :n])


def test_additive_attention_is_bahdanau():
    att = AdditiveAttention(4, E, 5).double()
    assert [(n, p.shape) for n, p in att.named_parameters()] == [
        ("W_q", (5, 4)),
        ("W_k", (5, E)),
        ("v", (5,)),
    ]
    q, k, v = randn(B, 4), randn(B, S, E), randn(B, S, E)
    mask = padding_mask([2, S], S)
    context, weights = att(q, k, v, mask)
    for b, n in enumerate([2, S]):
        scores = torch.stack([att.v @ torch.tanh(att.W_q @ q[b] + att.W_k @ k[b, s]) for s in range(n)])
        w = torch.softmax(scores, dim=0)
        assert_close(weights[b, :n], w)
        assert torch.all(weights[b, n:] == 0)
        assert_close(context[b], w @ v[b, :n])


@pytest.mark.parametrize("case", ["none", "bool", "float", "causal", "causal_square"])
def test_sdpa_matches_torch(case):
    q, k, v = randn(B, 3, T, E, grad=True), randn(B, 3, S, E, grad=True), randn(B, 3, S, 4, grad=True)
    mask, causal = None, False
    if case == "bool":
        mask = torch.rand(B, 1, T, S) < 0.7
        mask[..., 0] = True  # every query may attend somewhere: torch gives NaN otherwise
    if case == "float":
        mask = randn(B, 1, T, S)
    if case.startswith("causal"):
        causal = True
    if case == "causal_square":
        k, v = k[:, :, :T].detach().requires_grad_(), v[:, :, :T].detach().requires_grad_()
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask, causal=causal)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
    assert_close(out, expected)
    assert weights.shape == (B, 3, T, k.size(-2))
    assert_close(weights.sum(-1), torch.ones(B, 3, T, dtype=torch.float64))
    assert_close(out, weights @ v)
    grads = torch.autograd.grad(out.square().sum(), (q, k, v))
    expected_grads = torch.autograd.grad(expected.square().sum(), (q, k, v))
    for a, b in zip(grads, expected_grads):
        assert_close(a, b)


def test_sdpa_causal_hides_the_future():
    q, k, v = randn(1, T, E), randn(1, T, E), randn(1, T, E)
    _, weights = scaled_dot_product_attention(q, k, v, causal=True)
    below = torch.ones(T, T, dtype=torch.bool).tril()
    assert torch.all(weights[:, ~below] == 0)
    assert torch.all(weights[:, below] > 0)


def test_sdpa_rows_that_attend_nowhere_are_zero_not_nan():
    q, k, v = randn(B, T, E, grad=True), randn(B, S, E, grad=True), randn(B, S, 4, grad=True)
    mask = torch.ones(B, T, S, dtype=torch.bool)
    mask[0, 1] = False  # query 1 of sequence 0 may attend nowhere
    mask[1, :, 3] = False
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    assert torch.all(weights[0, 1] == 0) and torch.all(out[0, 1] == 0)
    assert torch.all(weights[1, :, 3] == 0)
    assert_close(weights[1].sum(-1), torch.ones(T, dtype=torch.float64))
    out.sum().backward()
    assert all(torch.isfinite(t.grad).all() for t in (q, k, v))
    float_mask = torch.zeros(B, T, S, dtype=torch.float64).masked_fill(~mask, -math.inf)
    out_f, weights_f = scaled_dot_product_attention(q, k, v, float_mask)
    assert_close(out_f, out)
    assert_close(weights_f, weights)


def copy_to_torch_mha(mine):
    theirs = nn.MultiheadAttention(mine.d_model, mine.n_heads, batch_first=True, dtype=torch.float64)
    theirs.load_state_dict(mine.state_dict())
    return theirs


def test_mhsa_parameters_are_torchs():
    mine = MultiHeadSelfAttention(E, 2)
    theirs = nn.MultiheadAttention(E, 2, batch_first=True)
    assert [(n, p.shape) for n, p in mine.named_parameters()] == [(n, p.shape) for n, p in theirs.named_parameters()]
    assert torch.all(mine.in_proj_bias == 0) and torch.all(mine.out_proj.bias == 0)


@pytest.mark.parametrize("heads", [1, 2, 4])
@pytest.mark.parametrize("case", ["none", "padding", "causal", "padding_causal", "square", "per_sequence"])
def test_mhsa_matches_torch(heads, case):
    mine = MultiHeadSelfAttention(E, heads).double()
    theirs = copy_to_torch_mha(mine)
    x = randn(B, T, E, grad=True)
    pad = padding_mask([T, 3], T)  # (B, T), True = real token
    allowed = torch.rand(T, T) < 0.6
    allowed.fill_diagonal_(True)
    mask, causal, their_kwargs = None, False, {}
    if case in ("padding", "padding_causal"):
        mask, their_kwargs["key_padding_mask"] = pad, ~pad
    if case in ("causal", "padding_causal"):
        causal = True
        their_kwargs["attn_mask"] = torch.ones(T, T, dtype=torch.bool).triu(1)
        their_kwargs["is_causal"] = True
    if case == "square":
        mask, their_kwargs["attn_mask"] = allowed, ~allowed
    if case == "per_sequence":
        per_seq = torch.stack([allowed, allowed.T])  # (B, T, T)
        mask = per_seq
        their_kwargs["attn_mask"] = (~per_seq).repeat_interleave(heads, dim=0)  # torch wants (B·h, T, T)
    out, weights = mine(x, mask=mask, causal=causal)
    expected, expected_weights = theirs(x, x, x, need_weights=True, average_attn_weights=True, **their_kwargs)
    assert out.shape == (B, T, E) and weights.shape == (B, T, T)
    assert_close(out, expected)
    assert_close(weights, expected_weights)
    (grad_x, *grads) = torch.autograd.grad(out.square().sum(), [x, *mine.parameters()])
    (expected_x, *expected_grads) = torch.autograd.grad(expected.square().sum(), [x, *theirs.parameters()])
    assert_close(grad_x, expected_x)
    for a, b in zip(grads, expected_grads, strict=True):
        assert_close(a, b)


def test_mhsa_square_mask_when_batch_equals_time():
    """With B == T a 2-D mask is key padding; a shared (T, T) mask goes in as (1, T, T)."""
    mine = MultiHeadSelfAttention(E, 2).double()
    x = randn(T, T, E)
    allowed = torch.rand(T, T) < 0.6
    allowed.fill_diagonal_(True)
    _, as_padding = mine(x, mask=allowed)
    _, as_square = mine(x, mask=allowed.unsqueeze(0))
    for b in range(T):
        assert torch.all(as_padding[b][:, ~allowed[b]] == 0)  # key padding: row b hides keys of sequence b
    assert torch.all(as_square[:, ~allowed] == 0)  # square: mask[t, s] hides key s from query t


@pytest.mark.parametrize("d_model", [6, 7, 1])
def test_positional_encoding_formula(d_model):
    L = 11
    pe = positional_encoding(L, d_model)
    assert pe.shape == (L, d_model) and pe.dtype == torch.get_default_dtype()
    for p in range(L):
        for j in range(d_model):
            two_i = j - j % 2
            angle = p / 10000 ** (two_i / d_model)
            expected = math.sin(angle) if j % 2 == 0 else math.cos(angle)
            assert abs(float(pe[p, j]) - expected) < 1e-6
