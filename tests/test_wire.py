"""The wire format: values survive the trip, and nothing the other side sends is ever executed."""
from __future__ import annotations

import io
import json
import math
import os
import pickle
import struct
import threading

import numpy as np
import pytest
import torch

from harness.runtime import wire
from harness.runtime.wire import MAGIC, Opaque, ProtocolError


def roundtrip(value, **receive_kwargs):
    """encode -> send -> receive -> decode over a real pipe (a thread writes big frames)."""
    tree, tensors = wire.encode(value)
    r, w = os.pipe()
    try:
        writer = threading.Thread(target=lambda: (wire.send(w, {"value": tree}, tensors), os.close(w)))
        writer.start()
        header, got = wire.receive(r, **receive_kwargs)
        writer.join()
    finally:
        os.close(r)
    return wire.decode(header["value"], got)


def frame(header: bytes, payload: bytes = b"", magic: bytes = MAGIC, header_len: int | None = None) -> bytes:
    n = len(header) if header_len is None else header_len
    return magic + struct.pack(">Q", n) + header + struct.pack(">Q", len(payload)) + payload


def receive_bytes(data: bytes, **kwargs):
    r, w = os.pipe()
    try:
        writer = threading.Thread(target=lambda: (os.write(w, data) if data else None, os.close(w)))
        writer.start()
        try:
            return wire.receive(r, **kwargs)
        finally:
            writer.join()
    finally:
        os.close(r)


def same(a, b) -> bool:
    """Equality that also checks types, dtypes and shapes, and treats nan as equal to nan."""
    if isinstance(a, torch.Tensor):
        return (isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape
                and torch.equal(torch.nan_to_num(a.float()) if a.is_floating_point() else a,
                                torch.nan_to_num(b.float()) if b.is_floating_point() else b))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("value", [
    None, True, False, 0, -7, 2 ** 62, 10 ** 30, 1.5, -0.0, 1e-300, "", "héllo ✓ \x00 \n",
    float("nan"), float("inf"), float("-inf"),
    [], (), {}, [1, [2, [3, (4, 5)]]], (None, (True,), {"a": [1.0, None]}),
    {"nested": {"deeper": ({"x": 1},)}, "$tensor": "not a reference", "$tuple": [1]},
])
def test_plain_values_round_trip(value):
    assert same(roundtrip(value), value)


@pytest.mark.parametrize("dtype", [torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64,
                                   torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_tensors_of_every_dtype_round_trip(dtype):
    base = torch.arange(-6, 6).reshape(3, 4)
    t = (base > 0) if dtype == torch.bool else base.abs().to(dtype) if dtype == torch.uint8 else base.to(dtype)
    got = roundtrip({"t": t, "empty": torch.empty(0, 3, dtype=dtype), "scalar": t[1, 2]})
    assert same(got["t"], t)
    assert same(got["empty"], torch.empty(0, 3, dtype=dtype))
    assert same(got["scalar"], t[1, 2]) and got["scalar"].dim() == 0


def test_special_floats_and_awkward_tensors_round_trip():
    x = torch.arange(24, dtype=torch.float64).reshape(2, 3, 4)
    awkward = {
        "transposed": x.transpose(0, 2),              # not contiguous
        "strided": x[:, ::2, 1::2],                   # not contiguous, offset storage
        "expanded": torch.ones(3, 1).expand(3, 5),    # zero stride
        "view_twice": (x[0], x[0]),                   # two views of one storage
        "special": torch.tensor([math.nan, math.inf, -math.inf, -0.0]),
        "grad": torch.ones(2, requires_grad=True) * 3,
        "param": torch.nn.Parameter(torch.ones(2)),
        "empty_nc": torch.empty(0, 4).t(),
        "negative_bit": torch._neg_view(torch.arange(3.0)),  # a lazy negation, resolved before its bytes are taken
    }
    got = roundtrip(awkward)
    for key, t in awkward.items():
        assert same(got[key], t), key
    assert got["special"][0].isnan() and torch.equal(got["special"][1:3], torch.tensor([math.inf, -math.inf]))
    assert math.copysign(1, got["special"][3].item()) == -1
    assert not got["grad"].requires_grad and type(got["param"]) is torch.Tensor
    assert got["strided"].is_contiguous()


def test_numpy_values_become_plain_values():
    got = roundtrip([np.float32(1.5), np.int64(3), np.arange(4.0).reshape(2, 2)])
    assert got[0] == 1.5 and got[1] == 3 and same(got[2], torch.arange(4.0, dtype=torch.float64).reshape(2, 2))


def test_unknown_objects_become_opaque():
    class Weird:
        pass

    got = roundtrip({"obj": Weird(), "fn": len, "intkeys": {1: 2}, "set": {1, 2},
                     "complex": torch.ones(2, dtype=torch.complex64), "sparse": torch.eye(2).to_sparse(),
                     "meta": torch.empty(2, device="meta")})
    assert got["obj"] == Opaque("Weird")
    assert got["fn"] == Opaque("builtin_function_or_method")
    assert got["intkeys"] == Opaque("dict") and got["set"] == Opaque("set")
    for key in ("complex", "sparse", "meta"):
        assert isinstance(got[key], Opaque) and got[key].type_name.startswith("tensor(")
    assert repr(got["obj"]) == "<Weird object>"


def test_a_big_payload_crosses_the_pipe():
    t = torch.randn(1 << 20, dtype=torch.float64)  # 8 MiB: far more than a pipe buffer
    assert torch.equal(roundtrip(t), t)


# --------------------------------------------------------------------------- bad frames


def test_bad_magic_is_a_protocol_error():
    with pytest.raises(ProtocolError, match="bad frame start"):
        receive_bytes(frame(b"{}", magic=b"XXXX"))


def test_an_oversized_header_is_refused_before_it_is_read():
    with pytest.raises(ProtocolError, match="over the limit"):
        receive_bytes(MAGIC + struct.pack(">Q", wire.MAX_HEADER + 1))  # nothing more is ever sent


def test_an_oversized_payload_is_refused_before_it_is_read():
    header = b'{"ok": true}'
    data = MAGIC + struct.pack(">Q", len(header)) + header + struct.pack(">Q", 10 << 20)
    with pytest.raises(ProtocolError, match="over the limit"):
        receive_bytes(data, max_payload=1 << 20)


@pytest.mark.parametrize("header", [b"not json", b"\xff\xfe", b"[1, 2]", b'"a string"', b"{" * 100000])
def test_a_header_that_is_not_a_json_object_is_a_protocol_error(header):
    with pytest.raises(ProtocolError):
        receive_bytes(frame(header))


def test_a_payload_that_is_not_safetensors_is_a_protocol_error():
    with pytest.raises(ProtocolError, match="safetensors"):
        receive_bytes(frame(b"{}", b"\x00" * 64))


def test_a_truncated_frame_is_the_end_of_the_pipe():
    with pytest.raises(EOFError):
        receive_bytes(frame(b'{"a": 1}')[:-4])
    with pytest.raises(EOFError):
        receive_bytes(b"")


class Exploit:
    """Unpickling this would run ``_pwned``."""

    def __reduce__(self):
        return (_pwned, ("pickle executed",))


PWNED: list = []


def _pwned(message):
    PWNED.append(message)
    return message


def test_the_wire_never_unpickles():
    evil = pickle.dumps(Exploit())
    assert pickle.loads(evil) and PWNED == ["pickle executed"]  # the payload is live
    PWNED.clear()
    buffer = io.BytesIO()
    torch.save({"x": Exploit()}, buffer)  # torch's own format: a zip with a pickle inside
    for payload in (evil, buffer.getvalue()):
        with pytest.raises(ProtocolError):
            receive_bytes(frame(b'{"value": {"$tensor": "t0"}}', payload))
    for header in (evil, json.dumps({"x": evil.decode("latin-1")}).encode()):
        try:
            h, _ = receive_bytes(frame(header))
        except ProtocolError:
            continue
        assert isinstance(h["x"], str)  # it stays a string
    assert PWNED == [], "something in the wire format unpickled a payload"


@pytest.mark.parametrize("tree", [
    {"$tensor": "missing"}, {"$tensor": ["unhashable"]}, {"$float": "1e5"}, {"$float": "__import__('os')"},
    {"$tuple": 3}, {"$dict": [1, 2]},
])
def test_a_malformed_value_tree_is_a_protocol_error(tree):
    with pytest.raises(ProtocolError):
        wire.decode(tree, {})


def test_a_deeply_nested_tree_is_a_protocol_error():
    tree = current = []
    for _ in range(100000):
        current.append([])
        current = current[0]
    with pytest.raises(ProtocolError):
        wire.decode(tree, {})


def test_values_json_cannot_hold_are_refused_when_sending():
    r, w = os.pipe()
    try:
        with pytest.raises(ValueError):
            wire.send(w, {"x": float("nan")})  # encode() turns nan into {"$float": "nan"}; raw nan is refused
    finally:
        os.close(r)
        os.close(w)


def test_send_gives_up_when_nobody_reads():
    r, w = os.pipe()
    os.set_blocking(w, False)
    try:
        with pytest.raises(TimeoutError):
            wire.send(w, {"big": "x" * (1 << 20)}, timeout=0.2)
    finally:
        os.close(r)
        os.close(w)
