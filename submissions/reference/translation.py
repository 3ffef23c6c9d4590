"""English → Spanish: a GRU encoder and a GRU decoder with Luong (dot) attention."""
import torch
from torch import nn

HYPERPARAMETERS = {"lr": 0.005, "epochs": 8, "batch_size": 64}


class Seq2Seq(nn.Module):
    def __init__(self, src_vocab_size, tgt_vocab_size, embed=64, hidden=128):
        super().__init__()
        self.src_embed = nn.Embedding(src_vocab_size, embed, padding_idx=0)
        self.tgt_embed = nn.Embedding(tgt_vocab_size, embed, padding_idx=0)
        self.encoder = nn.GRU(embed, hidden, batch_first=True)
        self.decoder = nn.GRU(embed, hidden, batch_first=True)
        self.combine = nn.Linear(2 * hidden, hidden)
        self.out = nn.Linear(hidden, tgt_vocab_size)
        self.attention = None

    def forward(self, src, tgt_in):
        keys, h = self.encoder(self.src_embed(src))          # (B, S, H), (1, B, H)
        queries, _ = self.decoder(self.tgt_embed(tgt_in), h)  # (B, T, H): teacher forcing
        scores = queries @ keys.transpose(1, 2)               # (B, T, S)
        scores = scores.masked_fill((src == 0)[:, None, :], float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        self.attention = weights.detach()
        context = weights @ keys                              # (B, T, H)
        return self.out(torch.tanh(self.combine(torch.cat([queries, context], dim=-1))))  # (B, T, V)


def build_model(src_vocab_size, tgt_vocab_size):
    return Seq2Seq(src_vocab_size, tgt_vocab_size)
