"""Checks of sequences.py."""
