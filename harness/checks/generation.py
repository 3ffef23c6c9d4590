"""Checks of generation.py."""
