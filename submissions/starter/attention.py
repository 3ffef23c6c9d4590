"""Attention — starter code. Replace every NotImplementedError.

Masks are boolean with True = may attend; a query that may attend nowhere must get zeros, not NaN.
Do not call torch.nn.MultiheadAttention, torch.nn.Transformer* or
torch.nn.functional.scaled_dot_product_attention: implement the equations yourself.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

Tensor = torch.Tensor


def dot_attention(query: Tensor, keys: Tensor, values: Tensor,
                  mask: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
    """Luong dot attention. query (B, H), keys (B, S, H), values (B, S, H), mask (B, S) bool or None
    -> (context (B, H), weights (B, S))."""
    raise NotImplementedError("TODO: score_s = q . k_s; weights = softmax over s (masked); context = sum_s w_s v_s")


class AdditiveAttention(nn.Module):
    """Bahdanau attention. Parameters: W_q (A, Hq), W_k (A, Hk), v (A,)."""

    def __init__(self, query_size: int, key_size: int, hidden_size: int):
        super().__init__()
        self.query_size = query_size
        self.key_size = key_size
        self.hidden_size = hidden_size
        # TODO: create W_q (A, Hq), W_k (A, Hk), v (A,) as nn.Parameter.

    def forward(self, query: Tensor, keys: Tensor, values: Tensor,
                mask: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
        """query (B, Hq), keys (B, S, Hk), values (B, S, Hv), mask (B, S) bool or None
        -> (context (B, Hv), weights (B, S))."""
        raise NotImplementedError("TODO: score_s = v . tanh(W_q q + W_k k_s); weights = softmax over s; context")


def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, mask: Optional[Tensor] = None,
                                 causal: bool = False) -> tuple[Tensor, Tensor]:
    """q (B, ..., T, d), k (B, ..., S, d), v (B, ..., S, dv); mask bool broadcastable to (B, ..., T, S)
    -> (out (B, ..., T, dv), weights (B, ..., T, S))."""
    raise NotImplementedError(
        "TODO: weights = softmax(q k^T / sqrt(d)) with masked (and, if causal, future) keys at 0; out = weights v")


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention. Parameters: in_proj_weight (3E, E), in_proj_bias (3E,),
    out_proj = nn.Linear(E, E) — the layout of torch.nn.MultiheadAttention."""

    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        self.d_model = d_model
        self.n_heads = n_heads
        # TODO: create in_proj_weight (3E, E), in_proj_bias (3E,) and out_proj = nn.Linear(E, E).

    def forward(self, x: Tensor, mask: Optional[Tensor] = None,
                causal: bool = False) -> tuple[Tensor, Tensor]:
        """x (B, T, E), mask (B, T) | (T, T) | (B, T, T) bool or None
        -> (out (B, T, E), weights (B, T, T) averaged over heads)."""
        raise NotImplementedError(
            "TODO: [q; k; v] = x W_in^T + b_in, split into heads, scaled dot-product attention per head, "
            "concatenate the heads, out_proj")


def positional_encoding(max_len: int, d_model: int) -> Tensor:
    """Sinusoidal positional encoding -> (max_len, d_model)."""
    raise NotImplementedError("TODO: PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(p / 10000^(2i/d))")
