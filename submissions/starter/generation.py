"""Decoding and perplexity — starter code. Replace every NotImplementedError.

Token ids: 0 = <pad>, 1 = <bos>, 2 = <eos>, 3 = <unk>.
"""
from __future__ import annotations

from typing import Callable

import torch

Tensor = torch.Tensor
StepFn = Callable[[list[int]], Tensor]  # step(prefix) -> log-probabilities (V,) of the next token


def softmax_with_temperature(logits: Tensor, temperature: float) -> Tensor:
    """logits (..., V), temperature > 0 -> probabilities (..., V)."""
    raise NotImplementedError("TODO: probs = softmax(logits / T) over the last axis")


def sample_next(logits: Tensor, temperature: float, generator: torch.Generator) -> Tensor:
    """logits (B, V) -> LongTensor (B,): one draw per row, using only `generator` for randomness."""
    raise NotImplementedError("TODO: draw one token per row from softmax(logits / T) with generator=generator")


def greedy_search(step: StepFn, bos: int, eos: int, max_len: int) -> list[int]:
    """-> the tokens after bos (eos included when emitted), at most max_len of them."""
    raise NotImplementedError("TODO: y_t = argmax_v step([bos, y_1, ..., y_{t-1}])[v] until eos or max_len")


def beam_search(step: StepFn, bos: int, eos: int, beam_width: int,
                max_len: int) -> list[tuple[list[int], float]]:
    """-> finished hypotheses, best first, as (tokens without bos, summed log-probability)."""
    raise NotImplementedError(
        "TODO: keep the beam_width best prefixes by score(y) = sum_t log p(y_t | y_<t); finish at eos or max_len")


def perplexity(log_probs: Tensor, targets: Tensor, pad_id: int = 0) -> float:
    """log_probs (N, T, V), targets (N, T) -> corpus perplexity (float)."""
    raise NotImplementedError("TODO: exp(sum of -log p(target) over non-pad targets / number of non-pad targets)")
