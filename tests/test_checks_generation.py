"""The generation checks grade the example submissions as their verdicts say, and the sampling test
keeps the false-alarm rate it states.

Graded (with a worker): the reference, the starter and every buggy generation.py. In-process
(without a worker): the chi-square statistic on many seeds of a correct and a wrong sampler, the
decoding tables, and beam-search variants the check must accept or reject.
"""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

import reference_models.generation as ref
from harness.checks.generation import (EOS, LECTURE, SAMPLING_LOGITS, SHORT, Tree, chi_square_gof, draws_fit,
                                       target_probs)

from harness.checks import REGISTRY
from helpers import run_in_process

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
    alpha = REGISTRY["generation.sample_next.distribution"].options["alpha"]
    family_rejections = int((p.min(axis=1) < alpha).sum())
    # Stated: at most 3 × 1e-3 per run (Bonferroni), i.e. ≤ 0.6 expected false alarms in 200 runs.
    assert family_rejections <= 4
    # The p-values are calibrated, not just small: at 5 % per test about 30 of 600 tests reject,
    # and the p-values look uniform.
    assert 15 <= int((p < 0.05).sum()) <= 47
    assert stats.kstest(p.flatten(), "uniform").pvalue > 1e-3


def test_a_temperature_multiplied_sampler_is_rejected_for_every_seed():
    alpha = REGISTRY["generation.sample_next.distribution"].options["alpha"]
    rejected = [min(sampling_family(multiplied_sampler, seed, alpha)) < alpha for seed in range(200)]
    assert all(rejected)


def test_tail_categories_are_merged_until_every_expected_count_is_five():
    probs = np.array([0.5, 0.3, 0.19, 0.0061, 0.0039])  # expected 500, 300, 190, 6.1, 3.9 of 1000
    fit = chi_square_gof([500, 300, 190, 6, 4], probs)
    assert fit["bins"] == 5 - 1 and fit["dof"] == 3  # 3.9 merged with 6.1 into one tail bin of 10
    fit = chi_square_gof([500, 300, 199, 1, 0], np.array([0.5, 0.3, 0.197, 0.002, 0.001]))
    assert fit["bins"] == 3  # the tail (3) is still < 5, so it joins the smallest kept bin
    assert chi_square_gof([5, 5, 1], [0.5, 0.5, 0.0])["p"] == 0.0  # a draw of probability 0
    # The example of METRICS.md: a correct sampler gives a small χ², multiplying by T about 10 000.
    logits = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0], dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    assert draws_fit(correct_sampler(logits, 0.7, g, 20000), target_probs(logits, 0.7))["chi2"] < 20
    assert draws_fit(multiplied_sampler(logits, 0.7, g, 20000), target_probs(logits, 0.7))["chi2"] > 5000


# --------------------------------------------------------------------------- the decoding tables


def all_sequences(tree: Tree, max_len: int, vocab: int = 8):
    """Every finished sequence up to max_len with its log-probability (brute force)."""
    for length in range(1, max_len + 1):
        for tokens in itertools.product(range(vocab), repeat=length):
            if EOS in tokens[:-1] or (tokens[-1] != EOS and length != max_len):
                continue
            yield list(tokens), tree.log_prob(list(tokens))


@pytest.mark.parametrize("tree,max_len", [(LECTURE, 4), (SHORT, 2)], ids=["lecture", "short"])
def test_tables_have_one_clear_best_sequence_that_greedy_misses(tree, max_len):
    ranked = sorted(all_sequences(tree, max_len), key=lambda s: -s[1])
    (best, best_lp), (_, second_lp) = ranked[0], ranked[1]
    assert best_lp - second_lp > 0.1  # no tie anywhere near the top
    step = lambda prefix: tree.table.get(" ".join(map(str, prefix[1:])), tree.default)  # noqa: E731
    assert ref.beam_search(step, 1, EOS, 2, max_len)[0][0] == best
    assert ref.greedy_search(step, 1, EOS, max_len) != best


# --------------------------------------------------------------------------- in-process, no worker


def hf_beam_search(step, bos, eos, beam_width, max_len):
    """Hugging Face's way: a beam kept full from 2k candidates, eos counted only within the top k,
    early stop once the finished ones cannot be beaten (length_penalty 0), the best k returned."""
    beams, finished = [([], 0.0)], []
    for _ in range(max_len):
        candidates = []
        for tokens, score in beams:
            lp = torch.as_tensor(step([bos, *tokens]))
            top = torch.topk(lp, 2 * beam_width)
            candidates += [(tokens + [int(t)], score + float(v)) for v, t in zip(top.values, top.indices)]
        candidates.sort(key=lambda c: -c[1])
        beams = []
        for rank, (tokens, score) in enumerate(candidates):
            if tokens[-1] == eos:
                if rank < beam_width:
                    finished.append((tokens, score))
            else:
                beams.append((tokens, score))
            if len(beams) == beam_width:
                break
        if len(finished) >= beam_width and min(s for _, s in finished) >= max(s for _, s in beams):
            beams = []
            break
    finished += beams
    return sorted(finished, key=lambda c: -c[1])[:beam_width]


def test_beam_check_accepts_a_full_beam_as_well_as_a_shrinking_one():
    assert run_in_process("generation.beam_search").passed  # the answer key: the beam shrinks
    assert run_in_process("generation.beam_search", beam_search=hf_beam_search).passed


def test_beam_check_rejects_length_normalised_scores_and_bos_and_disorder():
    def normalised(step, bos, eos, beam_width, max_len):
        return [(t, s / len(t)) for t, s in ref.beam_search(step, bos, eos, beam_width, max_len)]

    verdict = run_in_process("generation.beam_search", beam_search=normalised)
    assert not verdict.passed and "summed log-probability" in verdict.message

    def with_bos(step, bos, eos, beam_width, max_len):
        return [([bos] + t, s) for t, s in ref.beam_search(step, bos, eos, beam_width, max_len)]

    verdict = run_in_process("generation.beam_search", beam_search=with_bos)
    assert not verdict.passed and "starts with bos" in verdict.message

    def worst_first(step, bos, eos, beam_width, max_len):
        return ref.beam_search(step, bos, eos, beam_width, max_len)[::-1]

    verdict = run_in_process("generation.beam_search", beam_search=worst_first)
    assert not verdict.passed and "not sorted best first" in verdict.message


def test_greedy_without_eos_fails_unless_the_spec_accepts_it():
    from reference_models.variants import greedy_drops_eos

    verdict = run_in_process("generation.greedy_search", greedy_search=greedy_drops_eos)
    assert not verdict.passed and verdict.numbers["diagnosis"] == ["greedy_drops_eos"]
    assert run_in_process("generation.greedy_search", {"accept_missing_eos": True},
                          greedy_search=greedy_drops_eos).passed


def test_perplexity_with_a_hard_coded_pad_is_told_to_use_pad_id():
    def pad_zero(log_probs, targets, pad_id=0):
        return ref.perplexity(log_probs, targets, 0)

    verdict = run_in_process("generation.perplexity", perplexity=pad_zero)
    assert not verdict.passed and "pad_id=5" in verdict.message and "pad_id argument" in verdict.hint
