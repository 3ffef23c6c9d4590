"""The answer key of the sentiment task: the model the harness trains as the reference (reference_models/models.py)."""
from reference_models.models import SentimentRNN as build_model  # noqa: F401
