"""The answer key of the next_word task: the model the harness trains as the reference (reference_models/models.py)."""
from reference_models.models import NextWordRNN as build_model  # noqa: F401
