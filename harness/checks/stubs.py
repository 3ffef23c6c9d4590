"""What earns no points, whatever the check: code that computes nothing.

One rule for every kind, declared or written: an output that is all zeros, the same whatever the input, or
not a number at all (every value NaN or infinite) shows nothing computed, and code that raises shows nothing
either. Checks that compare with the answer key get this for free (a stub differs from it); the checks that
judge the submission against itself — shapes, its own gradients against its own finite differences, the
implement-it-yourself rule, reproducibility — call the functions here, so that a stub cannot pass them.
"""
from __future__ import annotations

import torch

from .compare import close


def leaves(value) -> list:
    """The tensors and numbers of a nested value (tuples, lists, dicts), in order."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        return [leaf for v in value for leaf in leaves(v)]
    return [value]


def _floats(value) -> list[torch.Tensor]:
    found = []
    for leaf in leaves(value):
        if isinstance(leaf, torch.Tensor) and leaf.is_floating_point() and leaf.numel():
            found.append(leaf)
        elif isinstance(leaf, float):
            found.append(torch.tensor([leaf]))
    return found


def non_finite(value) -> bool:
    """True when any floating number of the value is NaN or infinite: no computation a check runs on ordinary
    inputs gives one, and a NaN compares as never over a tolerance."""
    return any(not bool(torch.isfinite(t).all()) for t in _floats(value))


def constant_output(first, second, given=None) -> str | None:
    """What is wrong when two different inputs gave ``first`` and ``second`` (None when nothing is): NaN or
    infinite values, all zeros, the state it was given, or just the same values."""
    if non_finite(first) or non_finite(second):
        return "NaN or infinite values"
    if not close(first, second, 0.0, 0.0):
        return None
    tensors = [t for t in leaves(first) if isinstance(t, torch.Tensor)]
    floats = [t for t in tensors if t.is_floating_point()] or tensors  # the values, beside any ints (lengths…)
    if floats and all(bool((t == 0).all()) for t in floats):
        return "all zeros whatever the input"
    if given is not None and close(first, given, 0.0, 0.0):
        return "the state it was given, unchanged, whatever the input"
    return "the same values whatever the input"
