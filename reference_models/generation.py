"""Decoding and perplexity: the reference for the contract's `generation.py`.

`step(prefix)` is a language model seen from outside: given the tokens so far (starting with
`bos`) it returns the log-probabilities (V,) of the next token.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

Step = Callable[[list[int]], Tensor]


def softmax_with_temperature(logits: Tensor, temperature: float) -> Tensor:
    """softmax(logits / T) over the last axis; T < 1 sharpens, T > 1 flattens. T must be > 0."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, not {temperature}")
    return torch.softmax(logits / temperature, dim=-1)


def sample_next(logits: Tensor, temperature: float, generator: torch.Generator) -> Tensor:
    """One draw per row of logits (B, V) from softmax(logits / T): LongTensor (B,).

    The only randomness is `generator`, so a seeded generator makes the draws reproducible.
    """
    probs = softmax_with_temperature(logits, temperature)  # (B, V)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)  # (B,)


def _ranked(log_probs: Tensor, k: int) -> list[tuple[float, int]]:
    """The k most likely next tokens as (log-prob, token), ties broken towards the lower id."""
    log_probs = torch.as_tensor(log_probs).flatten()
    order = torch.argsort(log_probs, descending=True, stable=True)[:k]
    return [(float(log_probs[t]), int(t)) for t in order]


def greedy_search(step: Step, bos: int, eos: int, max_len: int) -> list[int]:
    """The most likely next token, again and again: tokens after `bos`, `eos` included if emitted.

    Stops after `eos` or after `max_len` tokens, whichever comes first.
    """
    tokens: list[int] = []
    while len(tokens) < max_len:
        token = int(torch.argmax(torch.as_tensor(step([bos, *tokens]))))
        tokens.append(token)
        if token == eos:
            break
    return tokens


def beam_search(step: Step, bos: int, eos: int, beam_width: int, max_len: int) -> list[tuple[list[int], float]]:
    """Canonical beam search: [(tokens after bos, total log-probability)], best first.

    Hypotheses are ranked by summed log-probability (no length penalty, no early stop). At each
    step every live hypothesis is extended by its `width` best tokens and the `width` best
    extensions are kept, where width = beam_width − (hypotheses finished so far): a hypothesis that
    emits `eos` or reaches `max_len` tokens after `bos` leaves the beam, and the beam shrinks by
    one. The search ends when the beam is empty, i.e. once `beam_width` hypotheses have finished;
    all of them are returned. With beam_width 1 this is greedy search, ties included.
    """
    if beam_width < 1:
        raise ValueError(f"beam_width must be >= 1, not {beam_width}")
    if max_len <= 0:
        return [([], 0.0)]
    live: list[tuple[list[int], float]] = [([], 0.0)]
    finished: list[tuple[list[int], float]] = []
    while live:
        width = beam_width - len(finished)
        candidates = [
            (tokens + [token], score + log_p)
            for tokens, score in live
            for log_p, token in _ranked(step([bos, *tokens]), width)
        ]
        candidates.sort(key=lambda c: c[1], reverse=True)  # stable: ties keep the beam's order
        live = []
        for tokens, score in candidates[:width]:
            done = tokens[-1] == eos or len(tokens) == max_len
            (finished if done else live).append((tokens, score))
    return sorted(finished, key=lambda c: c[1], reverse=True)


def token_nll(log_probs: Tensor, targets: Tensor) -> Tensor:
    """−log p(target) at every position: log_probs (N, T, V), targets (N, T) -> (N, T), float64."""
    return -log_probs.gather(-1, targets.long().unsqueeze(-1)).squeeze(-1).double()


def perplexity(log_probs: Tensor, targets: Tensor, pad_id: int | None = 0) -> float:
    """Corpus perplexity: exp(Σ NLL over the non-pad targets / their number).

    One exponential for the whole set: not a mean of per-sentence or per-batch perplexities.
    pad_id=None scores every position.
    """
    nll = token_nll(log_probs, targets)  # (N, T)
    scored = torch.ones_like(targets, dtype=torch.bool) if pad_id is None else targets != pad_id  # (N, T)
    count = int(scored.sum())
    if count == 0:
        raise ValueError("no target token to score: every target is padding")
    return math.exp(float(nll[scored].sum()) / count)
