"""The worker's limits, by the name the judge's modules import them (``spec.py``, ``grading.py``).

Defined in the worker's runtime (``harness/runtime/config.py``), because the worker reads them too;
the confinement itself is ``harness/runtime/confine.py``.
"""
from __future__ import annotations

from ..runtime.config import Confinement, Limits

__all__ = ["Limits", "Confinement"]
