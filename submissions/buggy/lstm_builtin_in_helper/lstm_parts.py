"""The LSTM step of cells.py, kept in a module of its own: torch's LSTMCell with the student's weights."""
import torch


def step(cell, x, state):
    """One step of ``cell`` (which holds the contract's parameters) on x and state (h, c)."""
    fused = torch.nn.LSTMCell(cell.input_size, cell.hidden_size).to(x.dtype)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        setattr(fused, name, getattr(cell, name))  # the same Parameters: gradients reach the student's cell
    return fused(x, state)
