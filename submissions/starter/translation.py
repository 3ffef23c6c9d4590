"""Sequence-to-sequence translation with attention (English → Spanish).

The harness builds your model with build_model(src_vocab_size, tgt_vocab_size), trains it with teacher forcing
and scores greedy translations of a hidden split with corpus BLEU.
"""
from torch import nn

HYPERPARAMETERS = {"lr": 0.005, "epochs": 8, "batch_size": 64}


def build_model(src_vocab_size: int, tgt_vocab_size: int) -> nn.Module:
    """An nn.Module whose forward(src (B, S), tgt_in (B, T)) returns logits (B, T, tgt_vocab_size).

    src is post-padded with 0; tgt_in starts with <bos> (1). After a forward you may set
    self.attention to the weights (B, T, S): the report then draws them."""
    raise NotImplementedError("TODO: encoder over src, decoder over tgt_in attending to the encoder's outputs")
