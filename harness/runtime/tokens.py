"""The contract's special token ids (CONTRACT.md): 0 ``<pad>``, 1 ``<bos>``, 2 ``<eos>``, 3 ``<unk>``.

Said once for both sides: the judge's vocabulary and checks read them, and so does the training
recipe in the worker. (The answer key, ``reference_models``, may not import the harness: it writes
the literals, with a pointer to CONTRACT.md.)
"""
from __future__ import annotations

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")  # their tokens, in id order: a vocabulary's first four
