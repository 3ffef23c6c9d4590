"""Running text as courses window it: the tokens of a whole file cut into blocks by position, and each block into
fixed-length windows (trusted side).

The tokens of the file, in order, are three contiguous blocks with a gap of one window between two of them::

    | train | gap | valid | gap | test |
    '------ public text ------'

``test`` is the last ``test_fraction`` of the tokens: what the hidden checks score. Everything before it and its gap
is the *public text*; its last ``valid_fraction`` (a share of the public text) is ``valid``, and what precedes that
block's gap is ``train``. Windows are cut inside a block, never across two, so no window holds a token of another
split. The gaps add a margin: the text just before the hidden block is in no split and not in the public text, so
the public text ends more than one window (a model's whole context) before the hidden text begins.

A window of length W starting at token s reads tokens s … s+W−1 and predicts s+1 … s+W: position t of the window
is predicted from the t + 1 tokens of the window before it, never from an earlier window (a model's state starts
afresh). Training windows start every ``stride`` tokens; valid and test windows every ``window`` tokens, so each
token of those blocks but the first is a target exactly once. A block's last window may be shorter: its inputs and
targets are padded with 0 at the end, and padding is never scored.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .text import WORD
from .vocab import PAD


@dataclass(frozen=True)
class Tokens:
    """The tokens of a text and where each starts in it (a character offset), so that a prefix of the tokens can
    be written back as a prefix of the text."""

    tokens: list[str]
    starts: list[int]


def token_spans(text: str, tokenizer: str, lowercase: bool) -> Tokens:
    """The tokens of ``text`` as the word or character tokeniser makes them (each lowercased when asked), with the
    offset where each starts."""
    tokens, starts = [], []
    if tokenizer == "char":
        for i, ch in enumerate(text):
            for piece in (ch.lower() if lowercase else ch):
                tokens.append(piece)
                starts.append(i)
    else:
        for m in WORD.finditer(text):
            tokens.append(m.group().lower() if lowercase else m.group())
            starts.append(m.start())
    return Tokens(tokens, starts)


@dataclass(frozen=True)
class Blocks:
    """Token ranges [start, end) of each split, and ``public_end``: where the public text ends (exclusive)."""

    train: tuple[int, int]
    valid: tuple[int, int]
    test: tuple[int, int] | None  # None when the text is the public text alone
    public_end: int


class BlocksError(ValueError):
    """The text is too short for its blocks; the message says which block and by how much."""


def blocks(n_tokens: int, valid_fraction: float, test_fraction: float, window: int, public_only: bool) -> Blocks:
    """The blocks of a text of ``n_tokens`` tokens (module docstring); ``public_only``: the text is already the public
    text (a released public file), so it holds no hidden block and no gap before one."""
    gap = window
    if public_only:
        public, test = n_tokens, None
    else:
        n_test = round(test_fraction * n_tokens)
        if n_test < 2:
            raise BlocksError(f"the hidden block is {n_test} token(s) of {n_tokens}: it needs 2 or more "
                              "(one input and its target)")
        public = n_tokens - n_test - gap
        test = (n_tokens - n_test, n_tokens)
    n_valid = round(valid_fraction * public)
    valid = (public - n_valid, public)
    train_end = public - n_valid - (gap if n_valid else 0)
    if train_end < window + 1:
        raise BlocksError(f"the training block is {max(train_end, 0)} token(s): a window of {window} needs "
                          f"{window + 1} or more (the text has {n_tokens} tokens)")
    return Blocks((0, train_end), valid, test, public)


def windows(ids: list[int], window: int, stride: int) -> tuple[Tensor, Tensor]:
    """Inputs and targets (N, window) of the windows of one block, starting every ``stride`` tokens: full windows,
    then, if the block's last token is not yet a target, one more from the next start, padded with 0 at the end."""
    starts = list(range(0, max(len(ids) - window, 0), stride))
    if not starts or starts[-1] + window < len(ids) - 1:  # the last token is not a target yet
        nxt = starts[-1] + stride if starts else 0
        if nxt < len(ids) - 1:
            starts.append(nxt)
    inputs = torch.full((len(starts), window), PAD, dtype=torch.long)
    targets = torch.full((len(starts), window), PAD, dtype=torch.long)
    for row, s in enumerate(starts):
        x, y = ids[s:s + window], ids[s + 1:s + window + 1]
        inputs[row, :len(x)] = torch.tensor(x, dtype=torch.long)
        targets[row, :len(y)] = torch.tensor(y, dtype=torch.long)
    return inputs, targets

