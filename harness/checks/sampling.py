"""Statistical tests of sampling: does a sampler draw from the distribution it should?

Pure functions over counts the judge has already received; nothing a submission returns is trusted beyond
its draws. Used by the sampling checks of a task (the default course's ``generation.sample_next``).
"""
from __future__ import annotations

import math

import numpy as np
import torch


def chi_square_gof(counts, probs, min_expected: float = 5.0) -> dict:
    """Pearson's chi-square goodness of fit of observed ``counts`` to category ``probs``.

    Categories whose expected count is below ``min_expected`` are merged into one tail bin (merged in
    turn into the smallest kept bin if still too small), so that every bin's expected count is at
    least ``min_expected``. Draws of a category of probability 0 make the fit impossible (p = 0).
    Returns chi2, dof, p and the number of bins. A pure function: no submission value is trusted."""
    counts = np.asarray(counts, dtype=np.float64)
    probs = np.asarray(probs, dtype=np.float64)
    n = counts.sum()
    probs = probs / probs.sum()
    if n == 0:
        return {"chi2": 0.0, "dof": 0, "p": 1.0, "bins": 0}
    if counts[probs == 0].sum() > 0:
        return {"chi2": math.inf, "dof": int((probs > 0).sum()) - 1, "p": 0.0, "bins": int((probs > 0).sum())}
    expected = probs * n
    order = np.argsort(-expected, kind="stable")
    observed_bins, expected_bins = [], []
    tail_o = tail_e = 0.0
    for i in order:
        if expected[i] >= min_expected:
            observed_bins.append(counts[i])
            expected_bins.append(expected[i])
        else:
            tail_o += counts[i]
            tail_e += expected[i]
    if tail_e > 0:
        if tail_e >= min_expected or not expected_bins:
            observed_bins.append(tail_o)
            expected_bins.append(tail_e)
        else:
            observed_bins[-1] += tail_o
            expected_bins[-1] += tail_e
    o, e = np.array(observed_bins), np.array(expected_bins)
    chi2 = float(((o - e) ** 2 / e).sum())
    dof = len(o) - 1
    # the chi-square survival function, as the regularised upper incomplete gamma Q(dof/2, chi2/2): the same
    # value as scipy.stats.chi2.sf, without a second of importing scipy.stats in every judge
    p = float(torch.special.gammaincc(torch.tensor(dof / 2, dtype=torch.float64),
                                      torch.tensor(chi2 / 2, dtype=torch.float64))) if dof > 0 else 1.0
    return {"chi2": chi2, "dof": dof, "p": p, "bins": len(o)}


def draws_fit(draws: torch.Tensor, probs: torch.Tensor, min_expected: float = 5.0) -> dict:
    """chi_square_gof of integer draws (N,) against probabilities (V,)."""
    counts = torch.bincount(draws.long().flatten(), minlength=probs.numel()).double()
    return chi_square_gof(counts.numpy(), probs.double().numpy(), min_expected)


def target_probs(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """softmax(logits / T), the distribution a sampler must draw from (computed here, trusted)."""
    return torch.softmax(logits.double() / temperature, dim=-1)
