"""Task models built from the reference cells: the baselines a student's trained model is compared with.

Each follows the contract's task interface (``build_model(...)`` and ``forward``), so the harness
trains and evaluates them with the very recipe it uses for a student's model.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .attention import dot_attention
from .cells import GRUCell, LSTMCell, RNNCell, RNNLayer

CELLS = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}


class SentimentRNN(nn.Module):
    """Many-to-one: embed the pre-padded ids, run a recurrent layer, classify the last state."""

    def __init__(self, vocab_size: int, num_classes: int, cell: str = "lstm", embed: int = 32, hidden: int = 64):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed, padding_idx=0)
        self.rnn = RNNLayer(CELLS[cell](embed, hidden))
        self.out = nn.Linear(hidden, num_classes)

    def forward(self, ids: Tensor) -> Tensor:
        outputs, _ = self.rnn(self.embed(ids))  # (B, T, H); pre-padding puts the last word at T-1
        return self.out(outputs[:, -1])  # (B, C)


class NextWordRNN(nn.Module):
    """Language model: next-token logits at every position, reading left to right only."""

    def __init__(self, vocab_size: int, cell: str = "lstm", embed: int = 32, hidden: int = 96):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed, padding_idx=0)
        self.rnn = RNNLayer(CELLS[cell](embed, hidden))
        self.out = nn.Linear(hidden, vocab_size)

    def forward(self, ids: Tensor) -> Tensor:
        outputs, _ = self.rnn(self.embed(ids))  # (B, T, H)
        return self.out(outputs)  # (B, T, V)


class Seq2SeqAttention(nn.Module):
    """GRU encoder, GRU decoder with Luong dot attention over the encoder's outputs.

    After a forward, ``self.attention`` holds the weights (B, T, S) for the report's heatmaps.
    With ``attend=False`` the decoder sees only the encoder's final state (the classic bottleneck)."""

    def __init__(self, src_vocab: int, tgt_vocab: int, embed: int = 32, hidden: int = 96, attend: bool = True):
        super().__init__()
        self.attend = attend
        self.src_embed = nn.Embedding(src_vocab, embed, padding_idx=0)
        self.tgt_embed = nn.Embedding(tgt_vocab, embed, padding_idx=0)
        self.encoder = RNNLayer(GRUCell(embed, hidden))
        self.decoder = GRUCell(embed, hidden)
        self.combine = nn.Linear(2 * hidden, hidden)
        self.out = nn.Linear(hidden, tgt_vocab)
        self.attention: Tensor | None = None

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        keys, h = self.encoder(self.src_embed(src))  # (B, S, H), (B, H)
        mask = src != 0  # (B, S) True = a real token
        logits, weights = [], []
        for y in self.tgt_embed(tgt_in).unbind(1):  # teacher forcing: (B, E) per step
            h = self.decoder(y, h)
            if self.attend:
                context, w = dot_attention(h, keys, keys, mask)  # (B, H), (B, S)
                weights.append(w)
            else:
                context = torch.zeros_like(h)
            logits.append(self.out(torch.tanh(self.combine(torch.cat([h, context], dim=-1)))))
        self.attention = torch.stack(weights, dim=1).detach() if weights else None  # (B, T, S)
        return torch.stack(logits, dim=1)  # (B, T, V)


class Forecaster(nn.Module):
    """Reads a window of scaled values with an LSTM, maps the last state to the whole horizon."""

    def __init__(self, window: int, horizon: int, hidden: int = 32):
        super().__init__()
        self.rnn = RNNLayer(LSTMCell(1, hidden))
        self.out = nn.Linear(hidden, horizon)

    def forward(self, x: Tensor) -> Tensor:
        outputs, _ = self.rnn(x)  # (B, window, H)
        return self.out(outputs[:, -1])  # (B, horizon)
