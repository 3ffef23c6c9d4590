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
    """A monthly series forecast as a careful practitioner does it, with recurrent models throughout.

    The model is given the window min-max scaled, x = (y − min) / (max − min), and not the minimum, so the log
    is taken with a learned shift: z = log(x + c), c > 0 (a Box-Cox-like transform that keeps the season
    multiplicative). The base is the last season repeated (seasonal naive in z); each member, an LSTM over the
    window with its level removed, writes the whole horizon's change from that base at once (direct multi-step,
    no prediction fed back). The members start from their own initial weights (an ensemble of seeds) and their
    changes are averaged; they train together on the mean's error.
    """

    def __init__(self, window: int, horizon: int, hidden: int = 16, members: int = 3, season: int = 12):
        super().__init__()
        if window < season:
            raise ValueError(f"the window ({window}) must hold a whole season ({season})")
        self.horizon, self.season = horizon, season
        self.shift = nn.Parameter(torch.tensor(0.3))  # c = softplus(shift) + 0.001
        self.members = nn.ModuleList(SeasonalChange(horizon, hidden, season) for _ in range(members))

    def forward(self, x: Tensor) -> Tensor:
        c = nn.functional.softplus(self.shift) + 1e-3
        z = torch.log(x.clamp_min(-c.detach() + 1e-3) + c)  # (B, window, 1); clamped: a value below the training minimum
        last = z[:, -self.season:, 0]  # (B, season)
        base = last.repeat(1, -(-self.horizon // self.season))[:, :self.horizon]  # (B, horizon)
        change = torch.stack([member(z) for member in self.members]).mean(0)  # (B, horizon)
        return torch.exp(base + change) - c


class SeasonalChange(nn.Module):
    """One member of the Forecaster: the window less its last season's mean, through an LSTM, to the horizon."""

    def __init__(self, horizon: int, hidden: int, season: int):
        super().__init__()
        self.season = season
        self.rnn = RNNLayer(LSTMCell(1, hidden))
        self.out = nn.Linear(hidden, horizon)

    def forward(self, z: Tensor) -> Tensor:
        level = z[:, -self.season:].mean(1, keepdim=True)  # (B, 1, 1)
        outputs, _ = self.rnn(z - level)  # (B, window, H)
        return self.out(outputs[:, -1])  # (B, horizon)
