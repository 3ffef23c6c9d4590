"""Attention: Luong dot, Bahdanau additive, scaled dot-product and multi-head self-attention.

Masks are boolean with True = may attend. A query that may attend nowhere gets all-zero weights
(and a zero context), never NaN.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn

Tensor = torch.Tensor


def masked_softmax(scores: Tensor, mask: Optional[Tensor], dim: int = -1) -> Tensor:
    """softmax(scores) along dim with masked-out positions (mask False) given weight 0.

    Rows in which every position is masked get all-zero weights instead of NaN.
    """
    if mask is None:
        return torch.softmax(scores, dim=dim)
    scores, mask = torch.broadcast_tensors(scores, mask.to(torch.bool))
    scores = scores.masked_fill(~mask, float("-inf"))
    empty = ~mask.any(dim=dim, keepdim=True)  # rows that can attend nowhere
    scores = scores.masked_fill(empty, 0.0)  # keep softmax finite there; zeroed below
    weights = torch.softmax(scores, dim=dim)
    return weights.masked_fill(~mask, 0.0)


def dot_attention(query: Tensor, keys: Tensor, values: Tensor,
                  mask: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
    """Luong dot attention.

    query (B, H), keys (B, S, H), values (B, S, Hv), mask (B, S) bool or None
    -> (context (B, Hv), weights (B, S)).
    """
    scores = torch.bmm(keys, query.unsqueeze(-1)).squeeze(-1)  # (B, S): q . k_s
    weights = torch.softmax(scores, dim=-1)  # BUG: the mask is never applied
    context = torch.bmm(weights.unsqueeze(1), values).squeeze(1)  # (B, Hv)
    return context, weights


class AdditiveAttention(nn.Module):
    """Bahdanau attention: score_s = v . tanh(W_q q + W_k k_s)."""

    def __init__(self, query_size: int, key_size: int, hidden_size: int):
        super().__init__()
        self.query_size = query_size
        self.key_size = key_size
        self.hidden_size = hidden_size
        self.W_q = nn.Parameter(torch.empty(hidden_size, query_size))
        self.W_k = nn.Parameter(torch.empty(hidden_size, key_size))
        self.v = nn.Parameter(torch.empty(hidden_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Like nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
        with torch.no_grad():
            for p, fan_in in ((self.W_q, self.query_size), (self.W_k, self.key_size), (self.v, self.hidden_size)):
                bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                p.uniform_(-bound, bound)

    def forward(self, query: Tensor, keys: Tensor, values: Tensor,
                mask: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
        """query (B, Hq), keys (B, S, Hk), values (B, S, Hv), mask (B, S) bool or None
        -> (context (B, Hv), weights (B, S))."""
        q = query @ self.W_q.T  # (B, A)
        k = keys @ self.W_k.T  # (B, S, A)
        scores = torch.tanh(q.unsqueeze(1) + k) @ self.v  # (B, S)
        weights = masked_softmax(scores, mask, dim=-1)
        context = torch.bmm(weights.unsqueeze(1), values).squeeze(1)  # (B, Hv)
        return context, weights


def causal_mask(t: int, s: int, device=None) -> Tensor:
    """(T, S) bool: query i may attend key j iff j <= i."""
    return torch.ones(t, s, dtype=torch.bool, device=device).tril()


def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, mask: Optional[Tensor] = None,
                                 causal: bool = False) -> tuple[Tensor, Tensor]:
    """softmax(q k^T / sqrt(d)) v.

    q (B, ..., T, d), k (B, ..., S, d), v (B, ..., S, dv); mask bool broadcastable to
    (B, ..., T, S), True = may attend; causal: query i sees keys j <= i
    -> (out (B, ..., T, dv), weights (B, ..., T, S)).
    """
    d = q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)  # (B, ..., T, S)
    allowed = None
    if mask is not None:
        allowed = mask.to(torch.bool)
    if causal:
        tri = causal_mask(q.shape[-2], k.shape[-2], device=q.device)
        allowed = tri if allowed is None else allowed & tri
    weights = masked_softmax(scores, allowed, dim=-1)
    return weights @ v, weights


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention with the parameter layout of torch.nn.MultiheadAttention."""

    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
        self.d_model = d_model
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.in_proj_bias)
        nn.init.zeros_(self.out_proj.bias)

    def _expand_mask(self, mask: Tensor, B: int, T: int) -> Tensor:
        """(T, T) | (B, T) key padding | (B, T, T) -> broadcastable to (B, heads, T, T)."""
        mask = mask.to(torch.bool)
        if mask.dim() == 2:
            if mask.shape == (T, T):
                return mask  # the same (query, key) mask for every sequence
            if mask.shape == (B, T):
                return mask[:, None, None, :]  # which keys each sequence may attend
        elif mask.dim() == 3 and mask.shape == (B, T, T):
            return mask[:, None, :, :]
        raise ValueError(f"mask of shape {tuple(mask.shape)} is not (B,T), (T,T) or (B,T,T) for B={B}, T={T}")

    def forward(self, x: Tensor, mask: Optional[Tensor] = None,
                causal: bool = False) -> tuple[Tensor, Tensor]:
        """x (B, T, E), mask (B, T) | (T, T) | (B, T, T) bool or None
        -> (out (B, T, E), weights (B, T, T) averaged over heads)."""
        B, T, E = x.shape
        qkv = x @ self.in_proj_weight.T + self.in_proj_bias  # (B, T, 3E)
        q, k, v = qkv.chunk(3, dim=-1)  # each (B, T, E)
        q, k, v = (t.reshape(B, T, self.n_heads, self.head_dim).transpose(1, 2) for t in (q, k, v))  # (B, h, T, hd)
        m = None if mask is None else self._expand_mask(mask, B, T)
        out, weights = scaled_dot_product_attention(q, k, v, mask=m, causal=causal)  # (B, h, T, hd), (B, h, T, T)
        out = out.transpose(1, 2).reshape(B, T, E)
        return self.out_proj(out), weights.mean(dim=1)


def positional_encoding(max_len: int, d_model: int) -> Tensor:
    """Sinusoidal encoding (max_len, d_model): PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(...)."""
    pos = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)  # (max_len, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # (ceil(d/2),)
    angle = pos / torch.pow(10000.0, two_i / d_model)  # (max_len, ceil(d/2))
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return pe.to(torch.get_default_dtype())
