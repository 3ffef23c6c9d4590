"""Text preprocessing on the trusted side: tokenisers, encoding, padding, LM sequences, windows.

Padding follows the Keras semantics the contract describes to students (the tests hold it to the
answer key's ``pad_sequences``); it is the harness's own code, because the data pipeline also runs
on students' machines, where the answer key is not.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from .vocab import BOS, EOS, PAD

TOKENIZERS = ("word", "char")
# A word is a run of letters/digits, optionally with inner apostrophes ("don't", "l'eau");
# every other non-space character is a token of its own ("good." -> "good", ".").
WORD = re.compile(r"\w+(?:['’]\w+)*|[^\w\s]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_NO_SPACE_BEFORE = set(".,;:!?%)]}»")
_NO_SPACE_AFTER = set("([{¿¡«")


def tokenize_words(text: str, lowercase: bool = True) -> list[str]:
    """Words and punctuation marks, in order: ``"Not good!"`` -> ``["not", "good", "!"]``."""
    return WORD.findall(text.lower() if lowercase else text)


def tokenize_chars(text: str, lowercase: bool = False) -> list[str]:
    """Every character, spaces included."""
    return list(text.lower() if lowercase else text)


def get_tokenizer(name: str = "word", lowercase: bool = True) -> Callable[[str], list[str]]:
    if name == "word":
        return lambda text: tokenize_words(text, lowercase)
    if name == "char":
        return lambda text: tokenize_chars(text, lowercase)
    raise ValueError(f"tokenizer must be one of {TOKENIZERS}, not {name!r}")


def detokenize(tokens: Sequence[str], tokenizer: str = "word") -> str:
    """Inverse of the word tokeniser for display and BLEU: no space before ``.`` ``,`` etc."""
    if tokenizer == "char":
        return "".join(tokens)
    out = ""
    for tok in tokens:
        if out and tok not in _NO_SPACE_BEFORE and out[-1] not in _NO_SPACE_AFTER:
            out += " "
        out += tok
    return out


def split_sentences(text: str) -> list[str]:
    """Running text cut after ``.``, ``!`` or ``?`` followed by white space; blank pieces dropped."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def pad(seqs: Sequence[Sequence[int]], maxlen: int | None = None, padding: str = "pre",
        truncating: str = "pre") -> Tensor:
    """LongTensor (N, maxlen) padded with ``<pad>`` = 0 (Keras semantics, pre by default): a row
    keeps the last ``maxlen`` ids (``truncating="pre"``) or the first, and is filled at the front
    (``padding="pre"``) or the back; ``maxlen=None`` is the longest row's length."""
    rows = [[int(t) for t in s] for s in seqs]
    width = max(map(len, rows), default=0) if maxlen is None else maxlen
    out = torch.full((len(rows), width), PAD, dtype=torch.long)
    for i, row in enumerate(rows):
        kept = (row[-width:] if truncating == "pre" else row[:width]) if width else []
        if kept:
            start = width - len(kept) if padding == "pre" else 0
            out[i, start:start + len(kept)] = torch.tensor(kept, dtype=torch.long)
    return out


def lm_sequences(seqs: Sequence[Sequence[int]], maxlen: int | None = None) -> tuple[Tensor, Tensor]:
    """Language-model rows: inputs ``<bos> w1 … wn`` and targets ``w1 … wn <eos>``, post-padded.

    Both (N, T) with T = ``maxlen`` or the longest sentence + 1. A sentence longer than ``maxlen``
    keeps its first ``maxlen`` targets (it then has no ``<eos>``). Padding (0) is never a target
    that counts: a scored token is every target that is not 0.
    """
    full = [[BOS] + [int(t) for t in s] + [EOS] for s in seqs]
    if maxlen is None:
        maxlen = max((len(s) - 1 for s in full), default=0)
    inputs = pad([s[:-1] for s in full], maxlen, padding="post", truncating="post")
    targets = pad([s[1:] for s in full], maxlen, padding="post", truncating="post")
    return inputs, targets
