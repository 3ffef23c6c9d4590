"""Recurrent cells and layers over a sequence: the reference for the contract's `cells.py`.

Parameter names, shapes, gate row orders and initialisation are PyTorch's, so weights copy both
ways between these modules and `torch.nn.RNNCell` / `LSTMCell` / `GRUCell`. Every linear map is
`x @ W.T + b`; `state=None` means a zero state; tensors are batch first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor, nn

State = Tensor | tuple[Tensor, Tensor]


class _Cell(nn.Module):
    """Shared by the cells: PyTorch's parameters for `n_gates` stacked gates, and their init."""

    n_gates = 1

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        G, H, D = self.n_gates, hidden_size, input_size
        self.weight_ih = nn.Parameter(torch.empty(G * H, D))
        self.weight_hh = nn.Parameter(torch.empty(G * H, H))
        self.bias_ih = nn.Parameter(torch.empty(G * H))
        self.bias_hh = nn.Parameter(torch.empty(G * H))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform in ±1/√H, as PyTorch initialises its recurrent cells."""
        bound = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def zeros(self, x: Tensor) -> Tensor:
        return x.new_zeros(x.size(0), self.hidden_size)  # (B, H)

    def preactivations(self, x: Tensor, h: Tensor) -> tuple[Tensor, ...]:
        """Pre-activations W_ih x + b_ih + W_hh h + b_hh, split into the gates' row blocks."""
        a = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh  # (B, G*H)
        return a.chunk(self.n_gates, dim=-1)  # n_gates × (B, H)


class RNNCell(_Cell):
    """Elman cell: h' = tanh(W_ih x + b_ih + W_hh h + b_hh)."""

    def forward(self, x: Tensor, state: Tensor | None = None) -> Tensor:
        """One step: x (B, D) and h (B, H), or None for zeros → the new h (B, H)."""
        h = self.zeros(x) if state is None else state  # (B, H)
        return torch.tanh(x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh)  # (B, H)


class LSTMCell(_Cell):
    """LSTM cell; the rows of the weights are the gates i, f, g, o (PyTorch's order)."""

    n_gates = 4

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """One step: x (B, D) and (h, c), each (B, H), or None for zeros → the new (h, c)."""
        h, c = (self.zeros(x), self.zeros(x)) if state is None else state  # (B, H) each
        a_i, a_f, a_g, a_o = self.preactivations(x, h)  # (B, H) each
        i = torch.sigmoid(a_i)  # input gate
        f = torch.sigmoid(a_f)  # forget gate
        g = torch.tanh(a_g)  # candidate cell
        o = torch.sigmoid(a_o)  # output gate
        c = f * c + i * g  # (B, H)
        h = o * torch.tanh(c)  # (B, H)
        return h, c


class GRUCell(_Cell):
    """GRU cell as in PyTorch (rows r, z, n; the reset gate multiplies W_hn h + b_hn)."""

    n_gates = 3

    def projections(self, x: Tensor, h: Tensor) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
        """(W_ir x + b_ir, W_iz x + b_iz, W_in x + b_in) and the same three for h."""
        gx = (x @ self.weight_ih.T + self.bias_ih).chunk(3, dim=-1)  # 3 × (B, H)
        gh = (h @ self.weight_hh.T + self.bias_hh).chunk(3, dim=-1)  # 3 × (B, H)
        return gx, gh

    def forward(self, x: Tensor, state: Tensor | None = None) -> Tensor:
        """One step: x (B, D) and h (B, H), or None for zeros → the new h (B, H)."""
        h = self.zeros(x) if state is None else state  # (B, H)
        (x_r, x_z, x_n), (h_r, h_z, h_n) = self.projections(x, h)  # (B, H) each
        r = torch.sigmoid(x_r + h_r)  # reset gate
        z = torch.sigmoid(x_z + h_z)  # update gate
        n = torch.tanh(x_n + r * h_n)  # candidate
        return (1 - z) * n + z * h  # (B, H)


class PeepholeLSTMCell(LSTMCell):
    """LSTM with peepholes (Gers & Schmidhuber 2000): i and f see the previous c, o sees the new c'."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__(input_size, hidden_size)
        H = hidden_size
        self.weight_ci = nn.Parameter(torch.empty(H))
        self.weight_cf = nn.Parameter(torch.empty(H))
        self.weight_co = nn.Parameter(torch.empty(H))
        self.reset_parameters()

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """One step: x (B, D) and (h, c), each (B, H), or None for zeros → the new (h, c)."""
        h, c = (self.zeros(x), self.zeros(x)) if state is None else state  # (B, H) each
        a_i, a_f, a_g, a_o = self.preactivations(x, h)  # (B, H) each
        i = torch.sigmoid(a_i + self.weight_ci * c)  # peeks at the previous c
        f = torch.sigmoid(a_f + self.weight_cf * c)  # peeks at the previous c
        g = torch.tanh(a_g)
        c = f * c + i * g  # (B, H)
        o = torch.sigmoid(a_o + self.weight_co * c)  # peeks at the new c'
        h = o * torch.tanh(c)  # (B, H)
        return h, c


def hidden_of(state: State) -> Tensor:
    """The output h of a cell's state: h itself, or the h of an LSTM's (h, c)."""
    return state[0] if isinstance(state, (tuple, list)) else state


def unroll(cell: nn.Module, x: Tensor, state: State | None = None) -> tuple[Tensor, State | None]:
    """Run `cell` over x (B, T, D) from t = 0 to T−1: (outputs (B, T, H), final state).

    The state is passed positionally and `None` reaches the cell on the first step, so any cell
    following the contract works, torch.nn.RNNCell / LSTMCell / GRUCell included.
    """
    outputs = []
    for t in range(x.size(1)):
        state = cell(x[:, t], state)
        outputs.append(hidden_of(state))  # (B, H)
    if not outputs:
        return x.new_zeros(x.size(0), 0, cell.hidden_size), state
    return torch.stack(outputs, dim=1), state  # (B, T, H)


class RNNLayer(nn.Module):
    """A cell applied along the time axis: forward(x (B,T,D), state) -> (outputs (B,T,H), final state)."""

    def __init__(self, cell: nn.Module):
        super().__init__()
        self.cell = cell

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State | None]:
        """x (B, T, D) → (outputs (B, T, H), final state); state=None starts from zeros."""
        return unroll(self.cell, x, state)


MERGES = ("concat", "sum", "mean")


def merge_directions(out_f: Tensor, out_b: Tensor, merge: str) -> Tensor:
    if merge == "concat":
        return torch.cat([out_f, out_b], dim=-1)  # (B, T, 2H)
    if merge == "sum":
        return out_f + out_b  # (B, T, H)
    return (out_f + out_b) / 2  # (B, T, H)


class Bidirectional(nn.Module):
    """Two cells over the sequence, one from t = 0 up, one from t = T−1 down; outputs merged per t.

    forward(x, state=None) with state, if given, a pair (forward_state, backward_state); returns
    (outputs, (final_forward_state, final_backward_state)). The backward direction's outputs are
    re-aligned so that outputs[:, t] holds both directions' views of time t.
    """

    def __init__(self, forward_cell: nn.Module, backward_cell: nn.Module, merge: str = "concat"):
        super().__init__()
        if merge not in MERGES:
            raise ValueError(f"merge must be one of {MERGES}, not {merge!r}")
        self.forward_cell, self.backward_cell, self.merge = forward_cell, backward_cell, merge

    def forward(self, x: Tensor, state=None):
        """x (B, T, D) → (merged outputs, (final forward state, final backward state)); state is a pair or None."""
        state_f, state_b = (None, None) if state is None else state
        out_f, final_f = unroll(self.forward_cell, x, state_f)  # (B, T, H)
        out_b, final_b = unroll(self.backward_cell, x.flip(1), state_b)  # (B, T, H), time reversed
        out_b = out_b.flip(1)  # aligned back to time t
        return merge_directions(out_f, out_b, self.merge), (final_f, final_b)


class StackedRNN(nn.Module):
    """Cells stacked in depth: the outputs of layer k are the inputs of layer k+1.

    forward(x, states=None), states a list with one state (or None) per layer; returns
    (outputs of the last layer, [final state of each layer]).
    """

    def __init__(self, cells: Iterable[nn.Module]):
        super().__init__()
        self.cells = nn.ModuleList(cells)

    def forward(self, x: Tensor, states: list | None = None):
        """x (B, T, D) → (outputs of the last layer (B, T, H), [final state of each layer]); states a list or None."""
        states = [None] * len(self.cells) if states is None else states
        finals = []
        for cell, state in zip(self.cells, states, strict=True):
            x, final = unroll(cell, x, state)  # (B, T, H)
            finals.append(final)
        return x, finals


def grads_of(parameters) -> list[Tensor]:
    """The existing .grad of a tensor or of an iterable of tensors."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def l2_norm(tensors: list[Tensor]) -> Tensor:
    """The L2 norm of all the elements of `tensors` together."""
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(t) for t in tensors]))


@torch.no_grad()
def clip_grad_norm(parameters, max_norm: float) -> Tensor:
    """Scale all gradients together so that their total L2 norm is at most `max_norm`.

    Returns the total norm before clipping, as torch.nn.utils.clip_grad_norm_ does (same factor,
    max_norm / (total_norm + 1e-6), applied only when it is below 1).
    """
    grads = grads_of(parameters)
    if not grads:
        return torch.tensor(0.0)
    total_norm = l2_norm(grads)
    scale = torch.clamp(max_norm / (total_norm + 1e-6), max=1.0)
    for g in grads:
        g.mul_(scale.to(g.dtype))
    return total_norm


@torch.no_grad()
def clip_grad_value(parameters, clip_value: float) -> None:
    """Clamp every gradient element into [−clip_value, clip_value], in place."""
    for g in grads_of(parameters):
        g.clamp_(-clip_value, clip_value)
