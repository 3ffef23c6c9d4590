"""Forecasting the monthly airline passengers series.

The harness builds your model with build_model(window, horizon), trains it on windows of scaled training
values and forecasts the held-out months in one go from the last training window.
"""
from torch import nn

HYPERPARAMETERS = {"lr": 0.005, "epochs": 150, "batch_size": 16}


def build_model(window: int, horizon: int) -> nn.Module:
    """An nn.Module whose forward maps x (B, window, 1) of scaled values to forecasts (B, horizon)."""
    raise NotImplementedError("TODO: read the window with an LSTM, map its last state to the horizon")
