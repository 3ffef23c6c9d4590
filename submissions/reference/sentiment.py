"""Sentiment analysis: embed, read with an LSTM, classify from the last time step."""
import torch
from torch import nn

HYPERPARAMETERS = {"lr": 0.005, "epochs": 6, "batch_size": 64}


class SentimentLSTM(nn.Module):
    def __init__(self, vocab_size, num_classes, embed=32, hidden=64):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed, padding_idx=0)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.out = nn.Linear(hidden, num_classes)

    def forward(self, ids):
        outputs, _ = self.lstm(self.embed(ids))   # (B, T, H); inputs are pre-padded, so T-1 is the last word
        return self.out(outputs[:, -1])           # (B, C)


def build_model(vocab_size, num_classes):
    return SentimentLSTM(vocab_size, num_classes)
