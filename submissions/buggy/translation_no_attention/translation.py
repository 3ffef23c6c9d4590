"""English → Spanish: a GRU encoder-decoder."""
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
        self.out = nn.Linear(hidden, tgt_vocab_size)

    def forward(self, src, tgt_in):
        # BUG (by design): no attention; the decoder sees the source only through the encoder's final state,
        # which counts the padding too, since the source is post-padded.
        _, h = self.encoder(self.src_embed(src))
        queries, _ = self.decoder(self.tgt_embed(tgt_in), h)
        return self.out(queries)


def build_model(src_vocab_size, tgt_vocab_size):
    return Seq2Seq(src_vocab_size, tgt_vocab_size)
