"""Next-word generation: a language model.

The harness builds your model with build_model(vocab_size), trains it to predict each next token and measures
perplexity on a hidden split. Inputs are token ids (B, T): <bos> w1 … wn, post-padded with 0.
"""
from torch import nn

HYPERPARAMETERS = {"lr": 0.005, "epochs": 6, "batch_size": 64}


def build_model(vocab_size: int) -> nn.Module:
    """An nn.Module whose forward maps ids (B, T) to next-token logits (B, T, vocab_size).

    It must be causal: the logits at position t may depend on ids[:, :t+1] only."""
    raise NotImplementedError("TODO: embedding → recurrent layer (left to right) → linear layer to vocab_size")
