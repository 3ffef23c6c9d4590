"""Attention and transformer parts: the reference for the contract's `attention.py`.

Masks are bool with True = may attend (the opposite of torch.nn.MultiheadAttention's masks).
A position that may not attend gets weight exactly 0, and a query that may attend nowhere gets
all-zero weights and a zero output rather than NaN.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

NEG_INF = float("-inf")


def masked_softmax(scores: Tensor, mask: Tensor | None = None) -> Tensor:
    """Softmax over the last axis, 0 where `mask` is False or the score is −inf; all-0 rows stay 0."""
    allowed = scores != NEG_INF
    if mask is not None:
        allowed = allowed & mask  # broadcast to the scores' shape
    anywhere = allowed.any(dim=-1, keepdim=True)
    scores = scores.masked_fill(~allowed, NEG_INF).masked_fill(~anywhere, 0.0)  # no all −inf row: no NaN
    return scores.softmax(dim=-1).masked_fill(~allowed, 0.0)


def dot_attention(query: Tensor, keys: Tensor, values: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Luong dot attention: score_s = q·k_s, weights = softmax over s, context = Σ_s w_s v_s."""
    scores = torch.einsum("bh,bsh->bs", query, keys)  # (B, S)
    weights = masked_softmax(scores, mask)  # (B, S)
    context = torch.einsum("bs,bsh->bh", weights, values)  # (B, Hv)
    return context, weights


class AdditiveAttention(nn.Module):
    """Bahdanau attention: score_s = v·tanh(W_q q + W_k k_s), softmax over s."""

    def __init__(self, query_size: int, key_size: int, hidden_size: int):
        super().__init__()
        A = hidden_size
        self.W_q = nn.Parameter(torch.empty(A, query_size))
        self.W_k = nn.Parameter(torch.empty(A, key_size))
        self.v = nn.Parameter(torch.empty(A))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform in ±1/√fan_in, like nn.Linear's weights."""
        for p in (self.W_q, self.W_k):
            nn.init.uniform_(p, -1 / math.sqrt(p.size(1)), 1 / math.sqrt(p.size(1)))
        nn.init.uniform_(self.v, -1 / math.sqrt(self.v.size(0)), 1 / math.sqrt(self.v.size(0)))

    def forward(self, query: Tensor, keys: Tensor, values: Tensor, mask: Tensor | None = None):
        q = query @ self.W_q.T  # (B, A)
        k = keys @ self.W_k.T  # (B, S, A)
        scores = torch.tanh(q.unsqueeze(1) + k) @ self.v  # (B, S)
        weights = masked_softmax(scores, mask)  # (B, S)
        context = torch.einsum("bs,bsh->bh", weights, values)  # (B, Hv)
        return context, weights


def causal_mask(T: int, S: int, device=None) -> Tensor:
    """(T, S) bool, True where key s ≤ query t (aligned at the top left, as torch's is_causal)."""
    return torch.ones(T, S, dtype=torch.bool, device=device).tril()


def apply_masks(scores: Tensor, mask: Tensor | None, causal: bool) -> tuple[Tensor, Tensor | None]:
    """(scores, bool mask): a float mask is added to the scores, `causal` joins the bool mask."""
    if mask is not None and mask.dtype != torch.bool:
        scores, mask = scores + mask, None
    if causal:
        tril = causal_mask(*scores.shape[-2:], device=scores.device)  # (T, S)
        mask = tril if mask is None else mask & tril
    return scores, mask


def scaled_dot_product_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None, causal: bool = False
) -> tuple[Tensor, Tensor]:
    """softmax(q kᵀ / √d) v over the last two axes.

    q (…, T, d), k (…, S, d), v (…, S, dv) -> (out (…, T, dv), weights (…, T, S)).

    `mask` is bool, True = may attend, broadcastable to (…, T, S); a float mask is added to the
    scores instead (PyTorch's convention, −inf = may not attend). `causal` also hides keys s > t.
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (…, T, S)
    weights = masked_softmax(*apply_masks(scores, mask, causal))  # (…, T, S)
    return weights @ v, weights  # (…, T, dv), (…, T, S)


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention with torch.nn.MultiheadAttention's parameter layout.

    forward(x (B,T,E), mask=None, causal=False) -> (out (B,T,E), weights (B,T,T) averaged over heads).
    `mask` is bool, True = may attend, of shape
      (B, T)     key padding: which keys of each sequence may be attended to (the usual case);
      (T, T)     one query-by-key mask for the whole batch;
      (B, T, T)  a query-by-key mask per sequence ((1, T, T) broadcasts).
    A 2-D mask whose first axis equals B is read as key padding, so when B == T a shared (T, T) mask
    must be given as (1, T, T).
    """

    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
        self.d_model, self.n_heads = d_model, n_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """As torch.nn.MultiheadAttention: Xavier-uniform in_proj_weight, zero biases."""
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.in_proj_bias)
        nn.init.zeros_(self.out_proj.bias)

    def head_mask(self, mask: Tensor | None, B: int, T: int) -> Tensor | None:
        """The mask as (B or 1, 1, T, T) or (B, 1, 1, T), to broadcast over heads and queries."""
        if mask is None:
            return None
        if mask.dim() == 2 and mask.size(0) == B and mask.size(1) == T:
            return mask[:, None, None, :]  # key padding (B, 1, 1, T)
        if mask.dim() == 2:
            return mask  # (T, T), broadcasts
        return mask[:, None]  # (B, 1, T, T)

    def qkv(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Queries, keys and values of x (B, T, E), split into heads: (B, nh, T, E/nh) each."""
        B, T, E = x.shape
        q, k, v = (x @ self.in_proj_weight.T + self.in_proj_bias).split(E, dim=-1)  # (B, T, E) each
        return tuple(t.view(B, T, self.n_heads, E // self.n_heads).transpose(1, 2) for t in (q, k, v))

    def forward(self, x: Tensor, mask: Tensor | None = None, causal: bool = False) -> tuple[Tensor, Tensor]:
        B, T, E = x.shape
        q, k, v = self.qkv(x)  # (B, nh, T, hs) each
        y, weights = scaled_dot_product_attention(q, k, v, self.head_mask(mask, B, T), causal)  # (B, nh, T, hs)
        y = y.transpose(1, 2).reshape(B, T, E)  # heads side by side (B, T, E)
        return self.out_proj(y), weights.mean(dim=1)  # (B, T, E), (B, T, T) averaged over heads


def pe_angles(max_len: int, d_model: int) -> Tensor:
    """p / 10000^(2i/d) for positions p < max_len and pair indices i < ⌈d/2⌉, float64 (L, ⌈d/2⌉)."""
    p = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)  # (L, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # (⌈d/2⌉,)
    return p / 10000 ** (two_i / d_model)  # (L, ⌈d/2⌉)


def positional_encoding(max_len: int, d_model: int) -> Tensor:
    """Sinusoidal encoding (max_len, d_model): PE[p,2i] = sin(p/10000^(2i/d)), PE[p,2i+1] = cos(…).

    With an odd d_model the last column is a sine (it has no cosine partner).
    """
    angle = pe_angles(max_len, d_model)  # (L, ⌈d/2⌉)
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return pe.to(torch.get_default_dtype())
