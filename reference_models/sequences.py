"""Preparing text for a model: the reference for the contract's `sequences.py`."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

SIDES = ("pre", "post")


def pad_sequences(
    seqs: Sequence[Sequence[int]],
    maxlen: int | None = None,
    padding: str = "pre",
    truncating: str = "pre",
    value: int = 0,
) -> Tensor:
    """Keras' pad_sequences: a LongTensor (N, maxlen), one row per sequence.

    A sequence longer than `maxlen` loses ids at the front (truncating="pre") or the back ("post");
    a shorter one is filled with `value` at the front (padding="pre") or the back ("post").
    maxlen=None means the length of the longest sequence; an empty sequence is a row of padding.
    """
    if padding not in SIDES:
        raise ValueError(f"padding must be 'pre' or 'post', not {padding!r}")
    if truncating not in SIDES:
        raise ValueError(f"truncating must be 'pre' or 'post', not {truncating!r}")
    seqs = [[int(t) for t in s] for s in seqs]
    if maxlen is None:
        maxlen = max((len(s) for s in seqs), default=0)
    if maxlen < 0:
        raise ValueError(f"maxlen must be >= 0, not {maxlen}")
    out = torch.full((len(seqs), maxlen), value, dtype=torch.long)
    for row, s in zip(out, seqs):
        kept = s[max(len(s) - maxlen, 0) :] if truncating == "pre" else s[:maxlen]
        if kept:
            kept = torch.tensor(kept, dtype=torch.long)
            if padding == "pre":
                row[maxlen - len(kept) :] = kept
            else:
                row[: len(kept)] = kept
    return out


def make_windows(ids: Sequence[int], window: int) -> tuple[Tensor, Tensor]:
    """Every run of `window` consecutive ids and the id that follows it, in order.

    Returns (inputs (N, window), targets (N,)) as LongTensors, N = len(ids) − window; both are
    empty (with those shapes, N = 0) when the sequence is not longer than the window.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, not {window}")
    ids = torch.tensor([int(t) for t in ids], dtype=torch.long)
    N = len(ids) - window
    if N <= 0:
        return torch.empty(0, window, dtype=torch.long), torch.empty(0, dtype=torch.long)
    inputs = ids.unfold(0, window, 1)[:N]  # (N, window): inputs[n] = ids[n : n + window]
    targets = ids[window:]  # (N,): targets[n] = ids[n + window]
    return inputs.clone(), targets.clone()
