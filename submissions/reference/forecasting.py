"""Forecasting: an LSTM reads the window, a linear layer maps its last state to the whole horizon."""
from torch import nn

HYPERPARAMETERS = {"lr": 0.005, "epochs": 300, "batch_size": 16}


class Forecaster(nn.Module):
    def __init__(self, window, horizon, hidden=32):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, batch_first=True)
        self.out = nn.Linear(hidden, horizon)

    def forward(self, x):                         # (B, window, 1) scaled values
        outputs, _ = self.lstm(x)
        return self.out(outputs[:, -1])           # (B, horizon)


def build_model(window, horizon):
    return Forecaster(window, horizon)
