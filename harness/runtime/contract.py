"""The error a program raises when a submission does not have the contract's shape; both sides read it.

Its own module so that every op module (``ops.py``, ``table_model.py``, ``training.py``) can raise it
without importing the others.
"""
from __future__ import annotations


class ContractError(Exception):
    """The submission does not have the shape the contract requires (a missing parameter, a wrong
    shape, a missing name). Reported to the student as such, not as a crash of their code."""
