"""The trusted helper ops a program may use: the plumbing between a check and the code it tests.

Leaf tensors, weight loading, unrolling, gradients, generators, and the ops of ``table_model.py`` (decoding
tables as ``step`` or as a model), of ``randomness.py`` (seeding the global generators), of ``training.py``
(the training recipe) and of ``keras_models.py`` (a Keras model as a module). A program names them
(``Program.op`` in the judge); the interpreter
(``interpreter.py``) calls them, in the worker against a submission and in the judge against the answer key.
They are the harness's own code, never the student's.
"""
from __future__ import annotations

import random

import torch

from . import fitting, keras_models, randomness, table_model, training
from .contract import ContractError
from .forbidden import PROBE_ATTR

DTYPES = {"float64": torch.float64, "float32": torch.float32, "int64": torch.int64}


def _leaf(x):
    """A fresh leaf tensor that records gradients."""
    return x.detach().clone().requires_grad_(True)


def _load_state(module, weights):
    """Copy ``weights`` into the module's parameters by name, checking names and shapes."""
    if not isinstance(module, torch.nn.Module):
        raise ContractError(f"expected an nn.Module, got {type(module).__name__}")
    own = dict(module.named_parameters())
    for name, value in weights.items():
        if name not in own:
            have = ", ".join(sorted(own)) or "none"
            raise ContractError(f"{type(module).__name__} has no parameter named {name!r} (its parameters: {have})")
        if tuple(own[name].shape) != tuple(value.shape):
            raise ContractError(
                f"{type(module).__name__}.{name} has shape {tuple(own[name].shape)}, the contract says {tuple(value.shape)}")
        with torch.no_grad():
            own[name].data = value.detach().clone().to(own[name].dtype)
    return module


def _to(module_or_tensor, dtype):
    return module_or_tensor.to(DTYPES[dtype] if isinstance(dtype, str) else dtype)


def _hidden(state):
    """The output h of a cell state: ``h`` itself or the first element of ``(h, c)``."""
    return state[0] if isinstance(state, (tuple, list)) else state


def _unroll(cell, x, state):
    """Feed ``x[:, t]`` to the cell step by step; return (per-step states, final state)."""
    states = []
    for t in range(x.shape[1]):
        state = cell(x[:, t], state)
        states.append(state)
    return states, state


def _stack_hidden(states):
    """Stack the outputs h of per-step states into (B, T, H)."""
    return torch.stack([_hidden(s) for s in states], dim=1)


def _flatten(value):
    """The tensors of a nested value, in order."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _flatten(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _flatten(v)]
    return []


def _numpy(value):
    """``value`` with each tensor in it a numpy array of the same dtype and shape, a copy (a declared case with
    ``array = true`` gives its drawn inputs so, to functions written for numpy)."""
    if isinstance(value, torch.Tensor):
        return value.detach().numpy().copy()
    if isinstance(value, (tuple, list)):
        return type(value)(_numpy(v) for v in value)
    if isinstance(value, dict):
        return {k: _numpy(v) for k, v in value.items()}
    return value


def _grad(outputs, cotangents, inputs):
    """Vector-Jacobian product: gradients of sum(<output, cotangent>) w.r.t. each input.

    Inputs that the outputs do not depend on get ``None`` (the judge reports "no gradient")."""
    outs, cots = _flatten(outputs), _flatten(cotangents)
    if len(outs) != len(cots):
        raise ContractError(f"returned {len(outs)} tensors where {len(cots)} were expected")
    for o, c in zip(outs, cots):
        if o.shape != c.shape:
            raise ContractError(f"returned a tensor of shape {tuple(o.shape)}, expected {tuple(c.shape)}")
    pairs = [(o, c) for o, c in zip(outs, cots) if o.requires_grad]
    flat_inputs = _flatten(inputs)
    if not pairs:
        return [None] * len(flat_inputs)
    # the scalar itself rather than grad_outputs: torch's vector-Jacobian path imports its symbolic-shapes module,
    # and sympy with it (a quarter of a second and some 30 MB), in each process that takes it. The gradients are
    # the same, bit for bit: the backward of the sum hands each product 1.0, and 1.0 * c is c
    loss = sum((o * c.to(o.dtype)).sum() for o, c in pairs)
    return list(torch.autograd.grad(loss, flat_inputs, allow_unused=True))


def _dot(outputs, cotangents):
    """sum(<output, cotangent>) as a Python float: the scalar loss of finite-difference checks."""
    outs, cots = _flatten(outputs), _flatten(cotangents)
    if len(outs) != len(cots):
        raise ContractError(f"returned {len(outs)} tensors where {len(cots)} were expected")
    return float(sum((o.detach().double() * c.double()).sum() for o, c in zip(outs, cots)))


def _torch_cell(kind, input_size, hidden_size, weights, dtype):
    """A torch.nn cell used as a known-good cell when testing a student's layer."""
    cls = {"RNNCell": torch.nn.RNNCell, "LSTMCell": torch.nn.LSTMCell, "GRUCell": torch.nn.GRUCell}[kind]
    cell = cls(input_size, hidden_size).to(DTYPES[dtype])
    setattr(cell, PROBE_ATTR, True)  # exempt from the worker's tripwire: the judge put it there
    return _load_state(cell, weights)


def _generator(seed):
    return torch.Generator().manual_seed(int(seed))


def _manual_seed(seed):
    """Seed torch's generators, and Python's, from which Keras draws the seeds of layers built without one."""
    random.seed(int(seed))
    torch.manual_seed(int(seed))


def _parameters_with_grads(values, grads):
    """Fresh parameters whose ``.grad`` is set, for testing gradient clipping."""
    params = []
    for v, g in zip(values, grads):
        p = torch.nn.Parameter(v.detach().clone())
        p.grad = g.detach().clone()
        params.append(p)
    return params


def _grads_of(params):
    return [p.grad for p in params]


def _index(value, i):
    return value[i]


def _select_time(x, t):
    return x[:, t]


def _parameter_shapes(module):
    if not isinstance(module, torch.nn.Module):
        raise ContractError(f"expected an nn.Module, got {type(module).__name__}")
    return {name: list(p.shape) for name, p in module.named_parameters()}


def _param_list(module, names):
    """The named parameters in the judge's order (so gradients line up with the answer key's)."""
    own = dict(module.named_parameters())
    missing = [n for n in names if n not in own]
    if missing:
        raise ContractError(f"has no parameter named {missing[0]!r} (its parameters: {', '.join(sorted(own)) or 'none'})")
    return [own[n] for n in names]


def _time_norms(grad):
    """Norm of a (B, T, D) gradient at each time step: how much of the signal reaches step t."""
    if grad is None:
        return None
    return grad.detach().double().pow(2).sum(dim=(0, 2)).sqrt()


OPS = {
    "leaf": _leaf,
    "load_state": _load_state,
    "to": _to,
    "hidden": _hidden,
    "unroll": _unroll,
    "stack_hidden": _stack_hidden,
    "grad": _grad,
    "dot": _dot,
    "torch_cell": _torch_cell,
    "generator": _generator,
    "manual_seed": _manual_seed,
    "parameters_with_grads": _parameters_with_grads,
    "grads_of": _grads_of,
    "index": _index,
    "select_time": _select_time,
    "parameter_shapes": _parameter_shapes,
    "param_list": _param_list,
    "time_norms": _time_norms,
    "numpy": _numpy,
    # floating-point ones: a Keras model also holds its dropout's seed state (integers) among its torch parameters
    "count_parameters": lambda module: sum(p.numel() for p in module.parameters() if p.is_floating_point()),
    **table_model.OPS,
    **training.OPS,
    **keras_models.OPS,
    **fitting.OPS,
    **randomness.OPS,
}
