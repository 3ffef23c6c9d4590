"""Recurrent cells and layers — starter code. Replace every NotImplementedError.

Conventions: tensors are batch-first, a linear map is ``x @ W.T + b`` with ``W`` of shape
(out, in), and ``state=None`` means a zero initial state. Do not call torch.nn.RNN*/LSTM*/GRU*
(or torch's fused cell kernels): implement the equations yourself.
"""
from __future__ import annotations

from typing import Iterable, Optional, Union

import torch
from torch import nn

Tensor = torch.Tensor
State = Union[Tensor, tuple[Tensor, Tensor]]


class RNNCell(nn.Module):
    """Elman cell. Parameters: weight_ih (H, D), weight_hh (H, H), bias_ih (H,), bias_hh (H,)."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        # TODO: create weight_ih, weight_hh, bias_ih, bias_hh as nn.Parameter, U(-1/sqrt(H), 1/sqrt(H)).

    def forward(self, x: Tensor, state: Optional[Tensor] = None) -> Tensor:
        """x (B, D), state h (B, H) or None (zeros) -> h' (B, H)."""
        raise NotImplementedError("TODO: h' = tanh(W_ih x + b_ih + W_hh h + b_hh)")


class LSTMCell(nn.Module):
    """LSTM cell. Parameters: weight_ih (4H, D), weight_hh (4H, H), bias_ih (4H,), bias_hh (4H,);
    the gate rows are in the order i, f, g, o."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        # TODO: create weight_ih, weight_hh, bias_ih, bias_hh as nn.Parameter, U(-1/sqrt(H), 1/sqrt(H)).

    def forward(self, x: Tensor, state: Optional[tuple[Tensor, Tensor]] = None) -> tuple[Tensor, Tensor]:
        """x (B, D), state (h, c) each (B, H) or None (zeros) -> (h', c') each (B, H)."""
        raise NotImplementedError("TODO: i,f,o = sigmoid(.), g = tanh(.); c' = f*c + i*g; h' = o*tanh(c')")


class GRUCell(nn.Module):
    """GRU cell. Parameters: weight_ih (3H, D), weight_hh (3H, H), bias_ih (3H,), bias_hh (3H,);
    the rows are r, z, n."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        # TODO: create weight_ih, weight_hh, bias_ih, bias_hh as nn.Parameter, U(-1/sqrt(H), 1/sqrt(H)).

    def forward(self, x: Tensor, state: Optional[Tensor] = None) -> Tensor:
        """x (B, D), state h (B, H) or None (zeros) -> h' (B, H)."""
        raise NotImplementedError(
            "TODO: r,z = sigmoid(W_i x + b_i + W_h h + b_h); n = tanh(W_in x + b_in + r*(W_hn h + b_hn)); "
            "h' = (1-z)*n + z*h")


class PeepholeLSTMCell(nn.Module):
    """LSTM with peepholes (Gers & Schmidhuber 2000). Parameters: the LSTMCell's four plus
    weight_ci, weight_cf, weight_co, each (H,)."""

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        # TODO: create the LSTMCell's four parameters plus weight_ci, weight_cf, weight_co (each (H,)).

    def forward(self, x: Tensor, state: Optional[tuple[Tensor, Tensor]] = None) -> tuple[Tensor, Tensor]:
        """x (B, D), state (h, c) each (B, H) or None (zeros) -> (h', c') each (B, H)."""
        raise NotImplementedError(
            "TODO: i = sigmoid(. + w_ci*c), f = sigmoid(. + w_cf*c) with the previous c; c' = f*c + i*g; "
            "o = sigmoid(. + w_co*c') with the new c'; h' = o*tanh(c')")


class RNNLayer(nn.Module):
    """Unrolls any cell ``cell(x_t, state) -> new_state`` (state is h or (h, c)) over a sequence."""

    def __init__(self, cell: nn.Module):
        super().__init__()
        self.cell = cell

    def forward(self, x: Tensor, state: Optional[State] = None) -> tuple[Tensor, State]:
        """x (B, T, D), state or None -> (outputs (B, T, H), final state)."""
        raise NotImplementedError("TODO: for t in 0..T-1: state = cell(x[:, t], state); output_t = h of state")


class Bidirectional(nn.Module):
    """A forward and a backward RNN over the same sequence; merge is "concat", "sum" or "mean"."""

    def __init__(self, forward_cell: nn.Module, backward_cell: nn.Module, merge: str = "concat"):
        super().__init__()
        self.forward_cell = forward_cell
        self.backward_cell = backward_cell
        self.merge = merge

    def forward(self, x: Tensor, state: Optional[tuple[State, State]] = None) -> tuple[Tensor, tuple[State, State]]:
        """x (B, T, D), state (forward_state, backward_state) or None ->
        (outputs (B, T, 2H) for "concat", the forward direction's H features first, else (B, T, H),
        (final_forward_state, final_backward_state))."""
        raise NotImplementedError(
            "TODO: run forward_cell over t = 0..T-1 and backward_cell over t = T-1..0, align the backward "
            "outputs back to time t, then merge")


class StackedRNN(nn.Module):
    """Layers of RNNs built from a list of cells."""

    def __init__(self, cells: Iterable[nn.Module]):
        super().__init__()
        self.cells = nn.ModuleList(cells)

    def forward(self, x: Tensor, states: Optional[list[State]] = None) -> tuple[Tensor, list[State]]:
        """x (B, T, D), states (one per layer) or None ->
        (outputs of the last layer (B, T, H), [final state of each layer])."""
        raise NotImplementedError("TODO: the outputs (B, T, H_k) of layer k are the inputs of layer k+1")


def clip_grad_norm(parameters: Union[Tensor, Iterable[Tensor]], max_norm: float) -> Tensor:
    """Like torch.nn.utils.clip_grad_norm_: scale all gradients in place, return the total norm (scalar)."""
    raise NotImplementedError(
        "TODO: total = sqrt(sum of ||g||^2 over all grads); g *= min(1, max_norm / (total + 1e-6)); return total")


def clip_grad_value(parameters: Union[Tensor, Iterable[Tensor]], clip_value: float) -> None:
    """Like torch.nn.utils.clip_grad_value_: clamp every gradient in place, return None."""
    raise NotImplementedError("TODO: g = clamp(g, -clip_value, clip_value) for every gradient g")
