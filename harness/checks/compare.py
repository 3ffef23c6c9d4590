"""Comparing a submission's values with expected ones, and saying how they differ.

Pure functions over values decoded from the worker: tensors, tuples, lists, dicts, numbers. A
difference is described in words a student can act on: which part, which shape, where the largest
error is and how big it is.
"""
from __future__ import annotations

import math

import torch

from ..results import cut
from ..runtime.wire import Opaque

QUOTE_LIMIT = 200  # characters of a submission's value quoted in a message (a string it returned, say)


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + ")" if t.dim() else "a scalar"


def describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {str(value.dtype).removeprefix('torch.')} tensor of shape {_shape(value)}"
    if isinstance(value, tuple):
        return f"a tuple of {len(value)}"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, Opaque):
        return f"an object of type {value.type_name}"
    if value is None:
        return "None"
    return cut(f"{type(value).__name__} {value!r}", QUOTE_LIMIT)


def within(actual: float, expected: float, rtol: float, atol: float) -> bool:
    """Whether two numbers agree to ``atol + rtol * |expected|``: never when either is NaN (NaN is not close
    to anything, itself included), and infinities only when equal."""
    if math.isnan(actual) or math.isnan(expected):
        return False
    if math.isinf(actual) or math.isinf(expected):
        return actual == expected
    return abs(actual - expected) <= atol + rtol * abs(expected)


def as_float(value) -> float | None:
    """A number from a Python number or a one-element floating tensor; None for anything else."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.is_floating_point():
        return float(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def unravel(flat: int, shape) -> list[int]:
    """The index of element ``flat`` of a row-major tensor of ``shape`` ([] for a scalar). Plain arithmetic:
    torch.unravel_index imports torch's symbolic shapes and sympy, a second of a judge's start."""
    pos = []
    for size in reversed(tuple(shape)):
        flat, at = divmod(flat, size)
        pos.append(at)
    return pos[::-1]


def tensor_mismatch(actual, expected: torch.Tensor, rtol: float, atol: float, what: str,
                    check_dtype: bool = True, axes: tuple[str, ...] = ()) -> str | None:
    """None if ``actual`` is close to ``expected``, else a sentence saying how it differs. ``axes`` names the
    dimensions (e.g. batch, step, unit) for a tensor with that many: the place is said in those words, and with
    a ``step`` axis, the first step that differs too."""
    if not isinstance(actual, torch.Tensor):
        return f"{what}: expected a tensor of shape {_shape(expected)}, got {describe(actual)}"
    if tuple(actual.shape) != tuple(expected.shape):
        return f"{what}: expected shape {_shape(expected)}, got {_shape(actual)}"
    if check_dtype and expected.is_floating_point() and actual.dtype != expected.dtype:
        return (f"{what}: expected dtype {str(expected.dtype).removeprefix('torch.')}, got "
                f"{str(actual.dtype).removeprefix('torch.')} (create new tensors with the input's dtype, "
                "e.g. x.new_zeros(...))")
    if not expected.is_floating_point():
        if torch.equal(actual.to(expected.dtype), expected):
            return None
        idx = (actual.to(expected.dtype) != expected).nonzero()[0].tolist()
        return (f"{what}: differs at index {idx}: got {actual[tuple(idx)].item()}, "
                f"expected {expected[tuple(idx)].item()}")
    a, e = actual.double(), expected.double()
    if a.numel() == 0:
        return None
    bad_nan = torch.isnan(a) & ~torch.isnan(e)
    if bad_nan.any():
        idx = bad_nan.nonzero()[0].tolist()
        return f"{what}: NaN at index {idx} where {e[tuple(idx)].item():.6g} was expected"
    if torch.allclose(a, e, rtol=rtol, atol=atol, equal_nan=True):
        return None
    err = (a - e).abs().nan_to_num(nan=math.inf)
    excess = err - (atol + rtol * e.abs())
    idx = excess.flatten().argmax().item()
    pos = unravel(idx, a.shape)
    named = len(axes) == len(pos) > 0
    at = (" at " + ", ".join(f"{axis} {i}" for axis, i in zip(axes, pos))) if named else (
        f" at index {pos}" if pos else "")
    first = ""
    if named and "step" in axes:
        step = axes.index("step")
        bad = (excess > 0).movedim(step, 0).reshape(a.shape[step], -1).any(dim=1)
        first_step = int(bad.nonzero()[0])
        if first_step != pos[step]:
            first = f"; it first differs at step {first_step}"
    return (f"{what}: largest error {err.max().item():.3g}{at} (got {a.flatten()[idx].item():.6g}, "
            f"expected {e.flatten()[idx].item():.6g}; tolerance rtol={rtol:g}, atol={atol:g}){first}")


def mismatch(actual, expected, rtol: float, atol: float, what: str = "output",
             axes: tuple[str, ...] | dict[str, tuple[str, ...]] = ()) -> str | None:
    """Compare nested values (tensors, tuples, lists, dicts, numbers) and describe the first difference;
    ``axes`` names the dimensions of the tensors that have that many (see tensor_mismatch), or, as a dict, of
    each entry of a dict by its key (an attention's weights (B, S) and context (B, H) differ in their last axis)."""
    if isinstance(expected, torch.Tensor):
        return tensor_mismatch(actual, expected, rtol, atol, what, axes=axes if isinstance(axes, tuple) else ())
    if isinstance(expected, (tuple, list)):
        if not isinstance(actual, (tuple, list)):
            return f"{what}: expected {describe(expected)}, got {describe(actual)}"
        if len(actual) != len(expected):
            return f"{what}: expected {len(expected)} items, got {len(actual)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            found = mismatch(a, e, rtol, atol, f"{what}[{i}]", axes)
            if found:
                return found
        return None
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{what}: expected a mapping, got {describe(actual)}"
        for key, e in expected.items():
            if key not in actual:
                return f"{what}: missing {key!r}"
            found = mismatch(actual[key], e, rtol, atol, f"{what}[{key!r}]" if what else key,
                             axes.get(key, ()) if isinstance(axes, dict) else axes)
            if found:
                return found
        return None
    if isinstance(expected, float) or (isinstance(expected, int) and isinstance(actual, float)):
        if isinstance(actual, torch.Tensor) and actual.numel() == 1:
            actual = actual.item()
        if not isinstance(actual, (int, float)) or isinstance(actual, bool):
            return f"{what}: expected a number, got {describe(actual)}"
        if math.isclose(actual, expected, rel_tol=rtol, abs_tol=atol) or (math.isnan(actual) and math.isnan(expected)):
            return None
        return f"{what}: got {actual:.6g}, expected {expected:.6g}"
    if actual != expected:
        return f"{what}: got {cut(repr(actual), QUOTE_LIMIT)}, expected {cut(repr(expected), QUOTE_LIMIT)}"
    return None


def close(actual, expected, rtol: float, atol: float) -> bool:
    """True when nested values match (used to find which catalogue variant a wrong output matches)."""
    try:
        return mismatch(actual, expected, rtol, atol) is None
    except Exception:  # noqa: BLE001 - odd student values simply do not match
        return False
