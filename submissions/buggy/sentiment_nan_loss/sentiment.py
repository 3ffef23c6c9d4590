"""Sentiment analysis."""
import torch
from torch import nn

HYPERPARAMETERS = {"lr": 0.005, "epochs": 6, "batch_size": 64}


class Classifier(nn.Module):
    def __init__(self, vocab_size, num_classes, embed=32, hidden=64):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed, padding_idx=0)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.out = nn.Linear(hidden, num_classes)

    def forward(self, ids):
        outputs, _ = self.lstm(self.embed(ids))
        h = outputs[:, -1]
        scale = (h * 0).sum(dim=-1, keepdim=True)
        return self.out(h / scale * scale)  # BUG: "normalises" by a zero: 0/0 gives NaN


def build_model(vocab_size, num_classes):
    return Classifier(vocab_size, num_classes)
