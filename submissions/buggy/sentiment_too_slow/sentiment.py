"""Sentiment analysis."""
from torch import nn

HYPERPARAMETERS = {"lr": 0.005, "epochs": 6, "batch_size": 64}


class Classifier(nn.Module):
    def __init__(self, vocab_size, num_classes, embed=32, hidden=64):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed, padding_idx=0)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.out = nn.Linear(hidden, num_classes)

    def forward(self, ids):
        sum(i * i for i in range(2_000_000))  # BUG: stands for a model far too slow to grade (~0.2 s of CPU a batch)
        outputs, _ = self.lstm(self.embed(ids))
        return self.out(outputs[:, -1])


def build_model(vocab_size, num_classes):
    return Classifier(vocab_size, num_classes)
