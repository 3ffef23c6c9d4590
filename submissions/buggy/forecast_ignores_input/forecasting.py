"""Forecasting the airline passengers."""
import torch
from torch import nn

HYPERPARAMETERS = {"lr": 0.005, "epochs": 300, "batch_size": 16}


class Forecaster(nn.Module):
    def __init__(self, window, horizon, hidden=32):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, batch_first=True)
        self.out = nn.Linear(hidden, horizon)

    def forward(self, x):
        outputs, _ = self.lstm(torch.zeros_like(x))  # BUG: reads zeros instead of the window
        return self.out(outputs[:, -1])


def build_model(window, horizon):
    return Forecaster(window, horizon)
