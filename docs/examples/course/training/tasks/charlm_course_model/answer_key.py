"""The answer key of charlm_course_model: the course's model — a GRU over one-hot characters, trained with RMSprop —
and its training, stopped when the validation perplexity no longer improves by 3%. Its fit is the reference the
figures are compared with (run by the judge, never released)."""
import math

import torch
from torch import nn
from torch.nn import functional as F


class CharGRU(nn.Module):
    def __init__(self, vocab_size: int, hidden_size: int = 64):
        super().__init__()
        self.vocab_size = vocab_size
        self.rnn = nn.GRU(vocab_size, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, vocab_size)

    def forward(self, ids):                                    # ids (B, T)
        h, _ = self.rnn(F.one_hot(ids, self.vocab_size).float())  # (B, T, H)
        return self.fc(h)                                      # logits (B, T, V)


def perplexity(model, x, y) -> float:
    """exp of the mean NLL over every scored target (0 is padding), pooled over the split."""
    model.eval()
    with torch.no_grad():
        nll = F.cross_entropy(model(x).transpose(1, 2), y, ignore_index=0, reduction="sum")
    model.train()
    return math.exp(float(nll) / int((y != 0).sum()))


EPOCHS, BATCH_SIZE, MIN_GAIN = 20, 32, 0.03


def fit(train, valid, budget):
    model = CharGRU(train["vocab_size"])
    optimizer = torch.optim.RMSprop(model.parameters(), lr=0.01)
    x, y = train["x"], train["y"]
    best = math.inf
    for _ in range(EPOCHS):
        order = torch.randperm(len(x))
        for i in range(0, len(x), BATCH_SIZE):
            rows = order[i:i + BATCH_SIZE]
            loss = F.cross_entropy(model(x[rows]).transpose(1, 2), y[rows], ignore_index=0)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        score = perplexity(model, valid["x"], valid["y"])
        if score > best * (1 - MIN_GAIN):  # less than 3% better: stop, keeping the best epoch's model
            break
        best = score
        budget.keep(model)
    return budget.kept
