"""Sentiment analysis, trained by you.

The harness calls fit(train, valid, budget) with the training and validation splits (dicts of torch tensors: x
int64 (N, T) token ids pre-padded with 0, y int64 (N,) classes; train also holds vocab_size and num_classes) and
scores the predictor fit returns on a test split it never saw.
"""


def fit(train: dict, valid: dict, budget):
    """Train a classifier and return a predictor mapping ids (B, T) to logits (B, num_classes); budget.keep(model)
    keeps the best one so far, which is graded if the CPU budget runs out."""
    raise NotImplementedError("TODO: build a model, train it on train (watching valid), and return it")
