"""Comparing a submission's values with expected ones, and saying how they differ.

Pure functions over values decoded from the worker: tensors, tuples, lists, dicts, numbers. A
difference is described in words a student can act on: which part, which shape, where the largest
error is and how big it is.

Any array type is the same answer: where one side is a tensor (or a numpy array) and the other a tensor, a
numpy array, a Python number or a list of numbers, both are read as arrays by :func:`as_array` — the one rule —
and compared by value and shape. Their kinds must agree (booleans and integers on one side, floating values on
the other differ); their floating precisions must agree only when both sides state one (a tensor or a numpy
array does; a Python number or list does not). Two lists, or two tuples, are compared item by item; a tuple is
a function's several results and is never read as an array.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import torch

from ..results import cut
from ..runtime.wire import Opaque, from_numpy

QUOTE_LIMIT = 200  # characters of a submission's value quoted in a message (a string it returned, say)
#: The rule of :func:`as_array` in a student's words: CONTRACT.md says it once (harness.release.contract).
IN_WORDS = ("A value your code returns is compared by its values and its shape, whatever its array type: a torch "
            "tensor, a numpy array, a Python number and a list of numbers holding the same values are the same "
            "answer. Integers (or booleans) and floating-point numbers are not. Keep the precision of the floating "
            "inputs (float32 in, float32 out); a Python float is accepted whatever the precision. A tuple is several "
            "results, compared one by one.")


def _shape(t: torch.Tensor | tuple) -> str:
    shape = tuple(t.shape) if isinstance(t, torch.Tensor) else t
    return "(" + ", ".join(str(s) for s in shape) + ")" if shape else "a scalar"


def describe(value) -> str:
    value = from_numpy(value)
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
    """A number from a Python number, a numpy scalar or a one-element floating tensor or array; None for anything
    else."""
    value = from_numpy(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.is_floating_point():
        return float(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


NUMBERS = (bool, int, float)
MAX_DIMS = 32


def as_array(value, _dims: int = 0) -> tuple[torch.Tensor, bool] | None:
    """``value`` read as an array: (the tensor, whether the value states its precision), or None when it is not an
    array of numbers. The one rule by which values of different array types are compared:

    - a tensor is itself, and states its dtype; a numpy array of booleans, integers or floats is the tensor of the
      same dtype and shape, and states it too (the worker sends a submission's numpy arrays so: wire.from_numpy);
    - a Python or numpy number is a scalar: a bool is bool, an int int64, a float float64 — stating no precision;
    - a list is the array of its items stacked, each read by this rule, when they all have one shape (a ragged
      list, or one holding strings or None, is not an array); its kind is the widest of its items' (bool <
      integer < floating), as numpy's would be. A list of numbers (0-d tensors among them) or of lists states no
      precision (numpy reads nested lists); a list of tensors or arrays states theirs. An empty list is an array of
      shape (0,), of no kind that matters.
      Lists nested deeper than MAX_DIMS are not arrays (a tensor may have 64 dimensions at most).
    """
    value = from_numpy(value)
    if isinstance(value, torch.Tensor):
        return value, True
    if isinstance(value, NUMBERS):
        try:
            return torch.tensor(value, dtype=DEFAULT_DTYPES[type(value)]), False
        except (RuntimeError, OverflowError, ValueError):  # an integer beyond int64 is no tensor's value
            return None
    if not isinstance(value, list) or _dims >= MAX_DIMS:
        return None
    if not value:
        return torch.zeros(0, dtype=torch.float64), False
    value = [from_numpy(x) for x in value]
    if any(type(x) in NUMBERS for x in value):  # a list of scalars, or not an array: never one tensor per item
        if not all(type(x) in NUMBERS or (isinstance(x, torch.Tensor) and x.dim() == 0) for x in value):
            return None
        value = [x.item() if isinstance(x, torch.Tensor) else x for x in value]
        kinds = {type(x) for x in value}
        dtype = torch.float64 if float in kinds else torch.int64 if int in kinds else torch.bool
        try:
            return torch.tensor(value, dtype=dtype), False
        except (RuntimeError, OverflowError, ValueError):
            return None
    if not all(isinstance(x, (list, torch.Tensor)) for x in value):
        return None
    if all(isinstance(x, list) for x in value):  # nested lists: numpy reads them at once, or finds them ragged
        try:
            read = from_numpy(np.array(value))
        except (ValueError, OverflowError, TypeError, RecursionError):
            return None
        return (read, False) if isinstance(read, torch.Tensor) and read.dim() <= MAX_DIMS else None
    items = []
    for item in value:
        read = as_array(item, _dims + 1)
        if read is None or (items and tuple(read[0].shape) != tuple(items[0][0].shape)):
            return None
        items.append(read)
    dtype = functools.reduce(torch.promote_types, (t.dtype for t, _ in items))
    try:
        return torch.stack([t.to(dtype) for t, _ in items]), any(typed for _, typed in items)
    except RuntimeError:  # more dimensions than a tensor may have
        return None


DEFAULT_DTYPES = {bool: torch.bool, int: torch.int64, float: torch.float64}


def _kind(dtype: torch.dtype) -> str:
    return "floating" if dtype.is_floating_point else "complex" if dtype.is_complex else "integer"


def _kind_words(t: torch.Tensor) -> str:
    words = {"floating": "floating-point values", "integer": "integers or booleans"}
    return words.get(_kind(t.dtype), "complex values")


def _not_an_array(value) -> str:
    """Why a value that should have been an array is not, in a few words: the first item that is no number or
    array of numbers, or the first whose shape differs from item 0's."""
    value = from_numpy(value)
    if not isinstance(value, list) or not value:
        return describe(value) if value != [] else "an empty list"
    first = None
    for i, item in enumerate(value):
        if type(item) in NUMBERS:
            shape = ()
        elif isinstance(item, list) and all(type(x) in NUMBERS for x in item):
            shape = (len(item),)
        else:
            read = as_array(item)
            if read is None:
                return f"a list whose item {i} is {describe(item)}, not a number or an array of numbers"
            shape = tuple(read[0].shape)
        if first is None:
            first = shape
        elif shape != first:
            return f"a ragged list (item 0 has shape {_shape(first)}, item {i} {_shape(shape)}), not an array"
    return describe(value)


def unravel(flat: int, shape) -> list[int]:
    """The index of element ``flat`` of a row-major tensor of ``shape`` ([] for a scalar). Plain arithmetic:
    torch.unravel_index imports torch's symbolic shapes and sympy, a second of a judge's start."""
    pos = []
    for size in reversed(tuple(shape)):
        flat, at = divmod(flat, size)
        pos.append(at)
    return pos[::-1]


def tensor_mismatch(actual, expected, rtol: float, atol: float, what: str,
                    check_dtype: bool = True, axes: tuple[str, ...] = ()) -> str | None:
    """None if ``actual`` is close to ``expected``, else a sentence saying how it differs. Either may be any array
    type (see :func:`as_array`); ``check_dtype`` compares floating precisions where both state one. ``axes`` names
    the dimensions (e.g. batch, step, unit) for a tensor with that many: the place is said in those words, and with
    a ``step`` axis, the first step that differs too."""
    want = as_array(expected)
    if want is None:
        raise TypeError(f"{what}: the expected value is {_not_an_array(expected)}, not an array")
    return _array_mismatch(actual, want, rtol, atol, what, check_dtype, axes)


def _array_mismatch(actual, want: tuple[torch.Tensor, bool], rtol: float, atol: float, what: str,
                    check_dtype: bool = True, axes: tuple[str, ...] = ()) -> str | None:
    """tensor_mismatch with the expected value already read (``want``: as_array's pair)."""
    expected, expected_typed = want
    got = as_array(actual)
    if got is None:
        return f"{what}: expected an array of shape {_shape(expected)}, got {_not_an_array(actual)}"
    actual, actual_typed = got
    if tuple(actual.shape) != tuple(expected.shape):
        return f"{what}: expected shape {_shape(expected)}, got {_shape(actual)}"
    if _kind(actual.dtype) != _kind(expected.dtype) and actual.numel():  # an empty array holds no value of a kind
        return (f"{what}: expected {_kind_words(expected)}, got {_kind_words(actual)} "
                f"({str(actual.dtype).removeprefix('torch.')} where {str(expected.dtype).removeprefix('torch.')} "
                "was expected)")
    if (check_dtype and expected_typed and actual_typed and expected.is_floating_point()
            and actual.dtype != expected.dtype):
        return (f"{what}: expected dtype {str(expected.dtype).removeprefix('torch.')}, got "
                f"{str(actual.dtype).removeprefix('torch.')} (create new tensors and arrays with the input's dtype, "
                "e.g. x.new_zeros(...) or np.zeros(n, dtype=x.dtype))")
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
    actual, expected = from_numpy(actual), from_numpy(expected)
    want = as_array(expected) if _arrays(actual, expected) else None
    if want is not None:
        return _array_mismatch(actual, want, rtol, atol, what, axes=axes if isinstance(axes, tuple) else ())
    if isinstance(expected, torch.Tensor):
        return f"{what}: expected an array of shape {_shape(expected)}, got {_not_an_array(actual)}"
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
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        if not isinstance(actual, (int, float)) or isinstance(actual, bool):
            return f"{what}: expected a number, got {describe(actual)}"
        if isinstance(expected, float) != isinstance(actual, float):
            return (f"{what}: expected {'a floating-point number' if isinstance(expected, float) else 'an integer'}, "
                    f"got {actual!r}")
        if isinstance(expected, float) and (math.isclose(actual, expected, rel_tol=rtol, abs_tol=atol)
                                            or (math.isnan(actual) and math.isnan(expected))):
            return None
        if actual != expected:
            return f"{what}: got {actual:.6g}, expected {expected:.6g}"
        return None
    if actual != expected:
        return f"{what}: got {cut(repr(actual), QUOTE_LIMIT)}, expected {cut(repr(expected), QUOTE_LIMIT)}"
    return None


def _arrays(actual, expected) -> bool:
    """Whether two values are compared as arrays: one of them is a tensor, and the other one a tensor, a number or
    a list (two lists, two tuples and two numbers are compared as they are)."""
    return any(isinstance(x, torch.Tensor) and isinstance(y, (torch.Tensor, list, *NUMBERS))
               for x, y in ((actual, expected), (expected, actual)))


def close(actual, expected, rtol: float, atol: float) -> bool:
    """True when nested values match (used to find which catalogue variant a wrong output matches)."""
    try:
        return mismatch(actual, expected, rtol, atol) is None
    except Exception:  # noqa: BLE001 - odd student values simply do not match
        return False
