"""Checks of attention.py."""
