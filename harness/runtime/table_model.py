"""Table models: a next-token table dressed as the model a decoding function takes.

A decoding check knows its language model exactly, as a table: the next-token log-probabilities after
each context. The contract's own form is ``step(prefix) -> log-probs`` (:class:`TableStep`, the prefix
starting with bos). Courses decode with the model they trained instead, so the table can be handed to the
student's code (and to the answer key's) in that model's clothes:

- ``kind = "module"``: a ``torch.nn.Module`` called on a batch of ids, (B, T) (``input = "ids"``), (B, T, 1)
  (``"column"``) or one-hot (B, T, V) (``"onehot"``), returning logits, probabilities or log-probabilities
  (``returns``) for the last position, (B, V), or every position, (B, T, V) (``positions``). With
  ``state = true`` it is called ``model(x, state)`` and returns ``(output, state)``: the state carries what it
  has read, so the next call may give only the new tokens.
- ``kind = "predict"``: an object whose ``predict(x)`` returns numpy probabilities, as a Keras model's does.
- ``kind = "step"``: ``step(token, state) -> (log-probs, state)``, the state ``None`` at the start.

What a row means: leading pad ids (0) are dropped, what follows must start with the table's ``prompt`` (the
seed's ids, or [bos]), and the ids after the prompt name the table's row (``"4 7"``); a row the table does not
list, or that does not start with the prompt, gets the table's ``default``. Logits are the log-probabilities
plus an offset that depends on the context, so that only their softmax means anything, as with a trained
model. A state is a float tensor (S,) or (B, S): the count of ids read, then the ids; index and stack it
along its first axis. Built from plain data (:func:`build`), in the worker and in the judge alike.
"""
from __future__ import annotations

import numpy as np
import torch

from .contract import ContractError
from .tokens import PAD

def prefix_key(ids) -> str:
    """How a next-token table names a prefix (the ids after the prompt): "" or "4 7". The judge's tables use it too."""
    return " ".join(str(int(t)) for t in ids)


class TableStep:
    """A next-token distribution given by a table: ``step(prefix) -> log-probs (V,)``.

    ``table`` maps a prefix written as space-separated ids (after bos, e.g. "" or "4 7") to
    log-probabilities; prefixes not in the table get ``default``."""

    def __init__(self, table, default):
        self.table = {k: v.detach().clone() for k, v in table.items()}
        self.default = default.detach().clone()

    def __call__(self, prefix):
        ids = prefix.tolist() if isinstance(prefix, torch.Tensor) else list(prefix)
        return self.table.get(prefix_key(ids[1:]), self.default).clone()  # without bos


# --------------------------------------------------------------------------- the table as a course's model


KINDS = ("module", "predict", "step")
INPUTS = ("ids", "column", "onehot")
RETURNS = ("logits", "probs", "log_probs")
POSITIONS = ("last", "all")
DTYPES = {"float32": torch.float32, "float64": torch.float64}


class NextTokens:
    """The table itself: ``next`` maps the ids after ``prompt`` (joined by spaces) to log-probabilities (V,)."""

    def __init__(self, next: dict, default: torch.Tensor, prompt: list[int]):
        self.next = {str(k): v.detach().to(torch.float64).clone() for k, v in next.items()}
        self.default = default.detach().to(torch.float64).clone()
        self.prompt = [int(t) for t in prompt]
        self.vocab_size = int(self.default.shape[0])

    def after_prompt(self, ids: list[int]) -> list[int] | None:
        """The ids after the prompt in a row that may start with padding; None when the prompt is not there."""
        n = len(self.prompt)
        for k in range(len(ids) - n + 1):  # the fewest leading pads: a prompt may itself start with the pad id
            if ids[k:k + n] == self.prompt:
                return ids[k + n:]
            if ids[k] != PAD:
                return None
        return None

    def log_probs(self, ids: list[int]) -> torch.Tensor:
        rest = self.after_prompt(ids)
        return (self.default if rest is None else self.next.get(prefix_key(rest), self.default)).clone()

    def logits(self, ids: list[int]) -> torch.Tensor:
        """Log-probabilities shifted by an offset of the context: the same softmax, not the same numbers."""
        return self.log_probs(ids) + 0.25 * (1 + sum(ids) % 7)


def _as_tensor(x, what: str) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    elif isinstance(x, (list, tuple)):
        try:
            x = torch.tensor(x)
        except (TypeError, ValueError, RuntimeError):
            raise ContractError(f"{what}: expected a tensor or an array of token ids, got a list it cannot read") \
                from None
    if not isinstance(x, torch.Tensor):
        raise ContractError(f"{what}: expected a tensor or an array of token ids, got {type(x).__name__}")
    return x.detach().cpu()


def _rows(x, input: str, vocab_size: int, what: str) -> list[list[int]]:
    """The ids of each row of a batch in the declared input form."""
    x = _as_tensor(x, what)
    shapes = {"ids": "(B, T)", "column": "(B, T, 1)", "onehot": f"(B, T, {vocab_size})"}
    rank_ok = x.dim() == 2 if input == "ids" else x.dim() == 3 and x.shape[-1] == (1 if input == "column" else
                                                                                  vocab_size)
    if not rank_ok:
        raise ContractError(f"{what} takes a batch of shape {shapes[input]}, got shape {tuple(x.shape)}")
    if input == "onehot":
        ids = x.argmax(-1).masked_fill(x.abs().sum(-1) == 0, PAD)  # an all-zero row is padding
    else:
        ids = x.reshape(x.shape[0], x.shape[1])
        if ids.is_floating_point():
            if not torch.equal(ids, ids.round()):
                raise ContractError(f"{what} takes token ids, got fractional values")
        ids = ids.long()
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ContractError(f"{what}: token ids must lie in [0, {vocab_size}), got {int(ids.min())}..{int(ids.max())}")
    return ids.tolist()


class _Reader:
    """What the three forms share: the table and how they shape an answer."""

    def __init__(self, table: NextTokens, returns: str, positions: str, dtype: torch.dtype, capacity: int):
        self.table, self.returns, self.positions = table, returns, positions
        self.dtype, self.capacity = dtype, capacity

    def answer(self, ids: list[int]) -> torch.Tensor:
        if self.returns == "logits":
            return self.table.logits(ids)
        lp = self.table.log_probs(ids)
        return lp.exp() if self.returns == "probs" else lp

    def batch(self, rows: list[list[int]], lengths: list[int]) -> torch.Tensor:
        """(B, V) for each row's whole context, or (B, T, V) for each position of the last ``lengths`` ids."""
        if self.positions == "last":
            return torch.stack([self.answer(r) for r in rows]).to(self.dtype)
        out = [torch.stack([self.answer(r[:len(r) - n + t + 1]) for t in range(n)]) for r, n in zip(rows, lengths)]
        return torch.stack(out).to(self.dtype)

    def pack(self, histories: list[list[int]]) -> torch.Tensor:
        """The state after ``histories``: (B, 1 + capacity), the count then the ids."""
        state = torch.zeros(len(histories), 1 + self.capacity, dtype=torch.float64)
        for i, h in enumerate(histories):
            if len(h) > self.capacity:
                raise ContractError(f"the model has read {len(h)} tokens, more than the {self.capacity} a decoding "
                                    "of this check needs: feed it each token once")
            state[i, 0] = len(h)
            state[i, 1:1 + len(h)] = torch.tensor(h, dtype=torch.float64)
        return state

    def unpack(self, state, batch: int, what: str) -> list[list[int]]:
        if state is None:
            return [[] for _ in range(batch)]
        s = _as_tensor(state, what).to(torch.float64)
        if s.dim() == 1:
            s = s.unsqueeze(0)
        if s.dim() != 2 or s.shape != (batch, 1 + self.capacity):
            raise ContractError(f"{what}: expected the state the model returned, of shape ({batch}, "
                                f"{1 + self.capacity}), got shape {tuple(s.shape)}")
        out = []
        for row in s:
            n = int(row[0])
            if not 0 <= n <= self.capacity or not torch.equal(row, row.round()):
                raise ContractError(f"{what}: the state is not one the model returned (pass it back unchanged)")
            out.append([int(t) for t in row[1:1 + n]])
        return out


class TableModule(torch.nn.Module):
    """The table as a torch model: ``model(x)`` or, stateful, ``model(x, state) -> (output, state)``."""

    def __init__(self, reader: _Reader, input: str, stateful: bool):
        super().__init__()
        self.reader, self.input, self.stateful = reader, input, stateful
        # a course's code asks a model for its device (next(model.parameters()).device): one parameter answers
        self.anchor = torch.nn.Parameter(torch.zeros(1, dtype=reader.dtype), requires_grad=False)

    def forward(self, x, state=None):
        rows = _rows(x, self.input, self.reader.table.vocab_size, "the model")
        if not self.stateful:
            if state is not None:
                raise ContractError("the model takes one argument, the batch of ids")
            return self.reader.batch(rows, [len(r) for r in rows])
        histories = [h + r for h, r in zip(self.reader.unpack(state, len(rows), "the model's state"), rows)]
        return self.reader.batch(histories, [len(r) for r in rows]), self.reader.pack(histories).to(self.reader.dtype)


class TablePredictor:
    """The table as a Keras-like model: ``predict(x)`` returns numpy probabilities."""

    def __init__(self, reader: _Reader, input: str):
        self.reader, self.input = reader, input

    def predict(self, x, *args, **kwargs) -> np.ndarray:  # Keras's batch_size, verbose, ... change nothing here
        rows = _rows(x, self.input, self.reader.table.vocab_size, "model.predict")
        return self.reader.batch(rows, [len(r) for r in rows]).numpy()


class TableStateStep:
    """The table as a recurrent step: ``step(token, state) -> (log-probs, state)``; a token is an int or a
    0-d tensor (then (V,) and (S,)), or a (B,) tensor (then (B, V) and (B, S))."""

    def __init__(self, reader: _Reader):
        self.reader = reader

    def __call__(self, token, state=None):
        if isinstance(token, (int, np.integer)) and not isinstance(token, bool):
            t, single = torch.tensor([int(token)]), True
        else:
            t = _as_tensor(token, "step's token")
            single, t = t.dim() == 0, t.reshape(-1)
        if t.is_floating_point() or t.numel() == 0:
            raise ContractError(f"step's token: expected an integer token id or a (B,) tensor of them, got {tuple(t.shape)} "
                                f"{t.dtype}")
        vocab = self.reader.table.vocab_size
        if int(t.min()) < 0 or int(t.max()) >= vocab:
            raise ContractError(f"step's token: ids must lie in [0, {vocab}), got {t.tolist()}")
        histories = [h + [int(x)] for h, x in zip(self.reader.unpack(state, t.numel(), "step's state"), t)]
        out = torch.stack([self.reader.table.log_probs(h) for h in histories]).to(self.reader.dtype)
        packed = self.reader.pack(histories).to(self.reader.dtype)
        return (out[0], packed[0]) if single else (out, packed)


def build(model: dict, next: dict, default: torch.Tensor, prompt: list[int], capacity: int):
    """The table model ``model`` describes (plain data: ``kind``, ``input``, ``returns``, ``positions``, ``state``,
    ``dtype``) over the table ``next``/``default`` read after ``prompt``; a state holds up to ``capacity`` ids."""
    kind = model.get("kind", "module")
    if kind not in KINDS:
        raise ContractError(f"unknown table model kind {kind!r}")
    returns = model.get("returns", "log_probs" if kind == "step" else "probs" if kind == "predict" else "logits")
    reader = _Reader(NextTokens(next, default, prompt), returns, model.get("positions", "last"),
                     DTYPES[model.get("dtype", "float32")], int(capacity))
    if kind == "module":
        return TableModule(reader, model.get("input", "ids"), bool(model.get("state", False)))
    if kind == "predict":
        return TablePredictor(reader, model.get("input", "ids"))
    return TableStateStep(reader)


def vocab_map(vocab: str, which: str) -> dict:
    """A course's lookup tables for a vocabulary of characters: ``char2idx`` (character -> id) or ``idx2char``."""
    if which == "char2idx":
        return {c: i for i, c in enumerate(vocab)}
    if which == "idx2char":
        return dict(enumerate(vocab))
    raise ContractError(f"unknown vocabulary map {which!r}")


OPS = {"table_step": TableStep, "table_model": build, "vocab_map": vocab_map}
