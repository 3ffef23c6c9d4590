"""The framed, pickle-free protocol, by the name the judge's modules import it (``bundle.py``,
``checks/compare.py``, ``release/record.py``).

Defined in the worker's runtime (``harness/runtime/wire.py``), because the worker speaks it too.
"""
from __future__ import annotations

from ..runtime.wire import MAGIC, Opaque, ProtocolError, decode, encode, receive, send, wait_fd

__all__ = ["MAGIC", "Opaque", "ProtocolError", "decode", "encode", "receive", "send", "wait_fd"]
