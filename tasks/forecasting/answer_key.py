"""The answer key of the forecasting task: the model the harness trains as the reference (reference_models/models.py)."""
from reference_models.models import Forecaster as build_model  # noqa: F401
