"""The answer key of the translation task: the model the harness trains as the reference (reference_models/models.py)."""
from reference_models.models import Seq2SeqAttention as build_model  # noqa: F401
