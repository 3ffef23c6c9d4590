"""Preparing token-id sequences — starter code. Replace every NotImplementedError."""
from __future__ import annotations

from typing import Optional, Sequence

import torch

Tensor = torch.Tensor


def pad_sequences(seqs: Sequence[Sequence[int]], maxlen: Optional[int] = None, padding: str = "pre",
                  truncating: str = "pre", value: int = 0) -> Tensor:
    """Keras-style padding -> LongTensor (N, maxlen); maxlen=None means the longest sequence."""
    raise NotImplementedError(
        "TODO: cut each sequence to maxlen (at the front if truncating='pre'), then fill with value "
        "(in front if padding='pre')")


def make_windows(ids: Sequence[int], window: int) -> tuple[Tensor, Tensor]:
    """-> (inputs LongTensor (N, window), targets LongTensor (N,)), N = len(ids) - window."""
    raise NotImplementedError("TODO: inputs[i] = ids[i : i + window], targets[i] = ids[i + window]")
