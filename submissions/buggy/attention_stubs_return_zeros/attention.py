"""Attention stubs that return zeros of the right shapes: nothing is computed yet.

Parameters exist with the contract's names and shapes, so weights load; every output is a tensor of zeros.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

Tensor = torch.Tensor


def dot_attention(query: Tensor, keys: Tensor, values: Tensor,
                  mask: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
    return values.new_zeros(query.shape[0], values.shape[-1]), keys.new_zeros(keys.shape[:2])


class AdditiveAttention(nn.Module):
    def __init__(self, query_size: int, key_size: int, hidden_size: int):
        super().__init__()
        self.W_q = nn.Parameter(torch.zeros(hidden_size, query_size))
        self.W_k = nn.Parameter(torch.zeros(hidden_size, key_size))
        self.v = nn.Parameter(torch.zeros(hidden_size))

    def forward(self, query: Tensor, keys: Tensor, values: Tensor,
                mask: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
        return values.new_zeros(query.shape[0], values.shape[-1]), keys.new_zeros(keys.shape[:2])


def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, mask: Optional[Tensor] = None,
                                 causal: bool = False) -> tuple[Tensor, Tensor]:
    return v.new_zeros(*q.shape[:-1], v.shape[-1]), q.new_zeros(*q.shape[:-1], k.shape[-2])


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        self.in_proj_weight = nn.Parameter(torch.zeros(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model))
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x: Tensor, mask: Optional[Tensor] = None, causal: bool = False) -> tuple[Tensor, Tensor]:
        return torch.zeros_like(x), x.new_zeros(x.shape[0], x.shape[1], x.shape[1])


def positional_encoding(max_len: int, d_model: int) -> Tensor:
    return torch.zeros(max_len, d_model)
