"""The course's model trained with no end, as past_budget/ is, but saved only to a file (as a notebook saves its best
model with torch.save), never with budget.keep: when the budget stops fit, the grader has no model to score."""
import math

import torch
from torch import nn
from torch.nn import functional as F


class CharRNN(nn.Module):
    def __init__(self, vocab_size: int):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, 16)
        self.rnn = nn.GRU(16, 64, batch_first=True)
        self.out = nn.Linear(64, vocab_size)

    def forward(self, ids):
        return self.out(self.rnn(self.embed(ids))[0])


def validation_perplexity(model, valid) -> float:
    with torch.no_grad():
        nll = F.cross_entropy(model(valid["x"]).transpose(1, 2), valid["y"], ignore_index=0, reduction="sum")
    return math.exp(nll.item() / (valid["y"] != 0).sum().item())


def fit(train, valid, budget):
    model = CharRNN(train["vocab_size"])
    optimizer = torch.optim.RMSprop(model.parameters(), lr=0.01)
    x, y = train["x"], train["y"]
    best = math.inf
    while True:  # "it will stop when it is good enough": it never says when
        for i in range(0, len(x), 32):
            loss = F.cross_entropy(model(x[i:i + 32]).transpose(1, 2), y[i:i + 32], ignore_index=0)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        ppl = validation_perplexity(model, valid)
        if ppl < best:
            best = ppl
            torch.save(model.state_dict(), "best_model.pt")
