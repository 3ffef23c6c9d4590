"""Next-word prediction: an LSTM language model, reading left to right only."""
from torch import nn

HYPERPARAMETERS = {"lr": 0.005, "epochs": 6, "batch_size": 64}


class WordLSTM(nn.Module):
    def __init__(self, vocab_size, embed=32, hidden=128):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed, padding_idx=0)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab_size)

    def forward(self, ids):
        outputs, _ = self.lstm(self.embed(ids))   # (B, T, H)
        return self.out(outputs)                  # (B, T, V): logits for the token after each position


def build_model(vocab_size):
    return WordLSTM(vocab_size)
