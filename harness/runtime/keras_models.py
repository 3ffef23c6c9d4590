"""Keras 3 models as the torch modules the harness's loops train and run.

On its torch backend (which the worker sets: ``KERAS_BACKEND=torch``, harness/sandbox/bootstrap.py) a Keras 3
model is a ``torch.nn.Module``, with two differences from one written in torch that the harness's loops would
otherwise get wrong: a layer's weights exist only once it has been called, so a fresh ``Sequential`` may have no
parameters for the optimiser to hold; and dropout, noise and batch normalisation read Keras's ``training``
argument, never torch's ``model.train()``. :func:`as_module` turns whatever ``build_model`` (or a student's own
training) returned into a module: a Keras model is built on a probe batch and wrapped in :class:`KerasModule`,
which passes ``training=self.training``; anything else is returned as it is.

Never imports keras: a model can be a Keras one only once the student's code imported keras, so a submission that
does not use Keras never pays its import. Part of the worker's runtime: it imports nothing from the harness.
"""
from __future__ import annotations

import sys

import torch

from .contract import ContractError


def keras_model(value):
    """``value`` when it is a Keras model (keras imported and ``value`` a ``keras.Model``), else None."""
    keras = sys.modules.get("keras")
    model_class = getattr(keras, "Model", None)
    if isinstance(model_class, type) and isinstance(value, model_class):
        return value
    return None


class KerasModule(torch.nn.Module):
    """A built Keras model (torch backend) as a plain module: ``forward`` calls it with ``training=self.training``,
    so that ``model.train()`` and ``model.eval()`` switch its dropout as they switch a torch model's. Attributes
    it does not have (a translation model's ``attention``) are the Keras model's."""

    def __init__(self, model):
        super().__init__()
        self.keras_model = model

    def forward(self, *inputs):
        model = self.keras_model
        functional = isinstance(getattr(model, "inputs", None), list) and len(model.inputs) == len(inputs) > 1
        if functional:  # a functional model of several inputs takes them as one list
            return model(list(inputs), training=self.training)
        return model(*inputs, training=self.training)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "keras_model":
                raise
            return getattr(self._modules["keras_model"], name)


def as_module(value, *probe):
    """What the harness trains and runs for ``value``: a Keras model built on the ``probe`` inputs (a batch of the
    training data) and wrapped in :class:`KerasModule`; anything else unchanged."""
    model = keras_model(value)
    if model is None:
        return value
    backend = sys.modules["keras"].backend.backend()  # imported by the student's code, never here
    if backend != "torch" or not isinstance(model, torch.nn.Module):
        raise ContractError(
            f"build_model returned a Keras model of the {backend} backend; the harness trains Keras models on the "
            "torch backend, which the grader sets (KERAS_BACKEND=torch): do not set KERAS_BACKEND in your code")
    wrapped = KerasModule(model)
    if probe:
        with torch.no_grad():
            wrapped.eval()(*probe)  # creates the weights of the layers a Keras model builds on their first call
    return wrapped


def source_module(model) -> str:
    """The name of the module that defines ``model``'s class, for locating an error in the student's files: a Keras
    model's own class, or "" when that class is Keras's (a ``Sequential`` or functional model)."""
    inner = model._modules.get("keras_model") if isinstance(model, KerasModule) else model
    name = type(inner).__module__
    return "" if name == "keras" or name.startswith("keras.") else name


OPS = {"as_module": as_module}
