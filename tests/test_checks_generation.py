"""The generation checks grade the example submissions as their verdicts say, and the sampling test
keeps the false-alarm rate it states.

Graded (with a worker): the reference, the starter and every buggy generation.py. In-process
(without a worker): the chi-square statistic on many seeds of a correct and a wrong sampler, and
perplexity. Greedy and beam search: tests/test_checks_decoding.py.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

import reference_models.generation as ref
from harness.checks.sampling import chi_square_gof, draws_fit, target_probs
from helpers import run_in_process, shipped_definitions, task_checks

SAMPLING_LOGITS = task_checks("generation").SAMPLING_LOGITS

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "submissions"
MODULE = "generation"


# --------------------------------------------------------------------------- the chi-square test itself


def sampling_family(draw, seed: int, alpha: float, temperatures=(0.5, 1.0, 2.0), n: int = 20000) -> list[float]:
    """p-values of the check's statistic at each temperature for draws of ``draw(probs_target, T, g)``."""
    logits = torch.tensor(SAMPLING_LOGITS, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    return [draws_fit(draw(logits, t, g, n), target_probs(logits, t))["p"] for t in temperatures]


def correct_sampler(logits, t, g, n):
    return torch.multinomial(torch.softmax(logits / t, -1), n, replacement=True, generator=g)


def multiplied_sampler(logits, t, g, n):
    return torch.multinomial(torch.softmax(logits * t, -1), n, replacement=True, generator=g)


def test_false_alarm_rate_of_a_correct_sampler_is_what_the_check_states():
    seeds = range(200)
    p = np.array([sampling_family(correct_sampler, seed, 1e-3) for seed in seeds])  # (seeds, temperatures)
    alpha = shipped_definitions()["generation.sample_next.distribution"].options["alpha"]
    family_rejections = int((p.min(axis=1) < alpha).sum())
    # Stated: at most 3 × 1e-3 per run (Bonferroni), i.e. ≤ 0.6 expected false alarms in 200 runs.
    assert family_rejections <= 4
    # The p-values are calibrated, not just small: at 5 % per test about 30 of 600 tests reject,
    # and the p-values look uniform.
    assert 15 <= int((p < 0.05).sum()) <= 47
    assert stats.kstest(p.flatten(), "uniform").pvalue > 1e-3


def test_a_temperature_multiplied_sampler_is_rejected_for_every_seed():
    alpha = shipped_definitions()["generation.sample_next.distribution"].options["alpha"]
    rejected = [min(sampling_family(multiplied_sampler, seed, alpha)) < alpha for seed in range(200)]
    assert all(rejected)


def test_tail_categories_are_merged_until_every_expected_count_is_five():
    probs = np.array([0.5, 0.3, 0.19, 0.0061, 0.0039])  # expected 500, 300, 190, 6.1, 3.9 of 1000
    fit = chi_square_gof([500, 300, 190, 6, 4], probs)
    assert fit["bins"] == 5 - 1 and fit["dof"] == 3  # 3.9 merged with 6.1 into one tail bin of 10
    assert fit["p"] == pytest.approx(stats.chi2.sf(fit["chi2"], fit["dof"]), rel=1e-12)  # the same p as scipy's
    fit = chi_square_gof([500, 300, 199, 1, 0], np.array([0.5, 0.3, 0.197, 0.002, 0.001]))
    assert fit["bins"] == 3  # the tail (3) is still < 5, so it joins the smallest kept bin
    assert chi_square_gof([5, 5, 1], [0.5, 0.5, 0.0])["p"] == 0.0  # a draw of probability 0
    # The example of METRICS.md: a correct sampler gives a small χ², multiplying by T about 10 000.
    logits = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0], dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    assert draws_fit(correct_sampler(logits, 0.7, g, 20000), target_probs(logits, 0.7))["chi2"] < 20
    assert draws_fit(multiplied_sampler(logits, 0.7, g, 20000), target_probs(logits, 0.7))["chi2"] > 5000


# --------------------------------------------------------------------------- in-process, no worker


def test_perplexity_with_a_hard_coded_pad_is_told_to_use_pad_id():
    def pad_zero(log_probs, targets, pad_id=0):
        return ref.perplexity(log_probs, targets, 0)

    verdict = run_in_process("generation.perplexity", perplexity=pad_zero)
    assert not verdict.passed and "pad_id=5" in verdict.message and "pad_id argument" in verdict.hint


def test_a_perplexity_pooled_per_batch_is_named_and_a_pooled_loop_over_batches_passes():
    """A validation loop's conventions: exp of the mean of per-batch mean losses is named by its catalogue entry on
    the check's 40 windows; a loop over batches that sums the NLL and counts the tokens, then exponentiates once, is
    the corpus figure and passes."""
    def exp_mean_batch_loss(log_probs, targets, pad_id=0):
        losses = []
        for start in range(0, len(targets), 32):  # batches of 32 rows, as a DataLoader would hand them
            y, lp = targets[start:start + 32], log_probs[start:start + 32].double()
            keep = y != pad_id
            if keep.any():
                losses.append(float(-lp.gather(-1, y.unsqueeze(-1)).squeeze(-1)[keep].mean()))
        return float(np.exp(np.mean(losses)))

    def pooled_over_batches(log_probs, targets, pad_id=0):
        total, count = 0.0, 0
        for start in range(0, len(targets), 7):
            y, lp = targets[start:start + 7], log_probs[start:start + 7].double()
            keep = y != pad_id
            total += float(-lp.gather(-1, y.unsqueeze(-1)).squeeze(-1)[keep].sum())
            count += int(keep.sum())
        return float(np.exp(total / count))

    verdict = run_in_process("generation.perplexity", perplexity=exp_mean_batch_loss)
    assert not verdict.passed and "40 windows of a running text" in verdict.message
    assert verdict.numbers["diagnosis"] == ["perplexity_exp_mean_batch_loss"]
    assert "exp of the mean of per-batch mean losses" in verdict.hint
    assert run_in_process("generation.perplexity", perplexity=pooled_over_batches).passed
