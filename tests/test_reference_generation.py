"""Temperature, sampling, greedy and beam search, corpus perplexity (with the METRICS.md figures)."""

import itertools
import math

import pytest
import torch
from scipy.stats import chisquare

from reference_models.generation import (
    beam_search,
    greedy_search,
    perplexity,
    sample_next,
    softmax_with_temperature,
)

BOS, EOS = 1, 2
LOGITS = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0], dtype=torch.float64)


def test_softmax_with_temperature():
    logits = torch.randn(3, 7, dtype=torch.float64)
    torch.testing.assert_close(softmax_with_temperature(logits, 1.0), torch.softmax(logits, -1))
    torch.testing.assert_close(softmax_with_temperature(logits, 0.5), torch.softmax(2 * logits, -1))
    cold, hot = softmax_with_temperature(LOGITS, 0.1), softmax_with_temperature(LOGITS, 10.0)
    assert cold[0] > 0.99 and hot.max() - hot.min() < 0.1


@pytest.mark.parametrize("temperature", [0.0, -1.0])
def test_temperature_must_be_positive(temperature):
    with pytest.raises(ValueError):
        softmax_with_temperature(LOGITS, temperature)


def test_sample_next_shape_determinism_and_own_generator():
    logits = torch.randn(4, 10)
    before = torch.random.get_rng_state()
    a = sample_next(logits, 0.8, torch.Generator().manual_seed(5))
    b = sample_next(logits, 0.8, torch.Generator().manual_seed(5))
    assert torch.equal(torch.random.get_rng_state(), before)  # the global generator is untouched
    assert a.shape == (4,) and a.dtype == torch.long
    assert torch.equal(a, b)


def test_sample_next_frequencies_follow_softmax_over_t():
    """The METRICS.md check: 20 000 draws, T = 0.7, chi-square goodness of fit at 1e-3."""
    n, temperature = 20_000, 0.7
    draws = sample_next(LOGITS.expand(n, -1), temperature, torch.Generator().manual_seed(0))
    observed = torch.bincount(draws, minlength=5).double()
    expected = n * torch.softmax(LOGITS / temperature, -1)
    assert chisquare(observed, expected).pvalue > 1e-3
    wrong = n * torch.softmax(LOGITS * temperature, -1)  # the classic mistake is far off
    assert chisquare(observed, wrong).pvalue < 1e-12


def tree_step(tree, vocab=8):
    """A language model given as {prefix after bos: {token: probability}}; unlisted prefixes emit eos."""

    def step(prefix):
        assert prefix[0] == BOS
        probs = torch.full((vocab,), 1e-6, dtype=torch.float64)
        for token, p in tree.get(tuple(prefix[1:]), {EOS: 1.0}).items():
            probs[token] = p
        return (probs / probs.sum()).log()

    return step


A, Bt, C, D_, E_ = 3, 4, 5, 6, 7
CLASSIC = {  # greedy takes A (0.5) and ends with 0.15; the beam finds B C (0.36)
    (): {A: 0.5, Bt: 0.4, EOS: 0.1},
    (A,): {C: 0.3, D_: 0.25, E_: 0.25, EOS: 0.2},
    (Bt,): {C: 0.9, EOS: 0.1},
}


def test_greedy_search_on_the_classic_tree():
    assert greedy_search(tree_step(CLASSIC), BOS, EOS, max_len=10) == [A, C, EOS]
    assert greedy_search(tree_step(CLASSIC), BOS, EOS, max_len=2) == [A, C]
    assert greedy_search(tree_step(CLASSIC), BOS, EOS, max_len=0) == []


def test_beam_search_finds_what_greedy_misses():
    found = beam_search(tree_step(CLASSIC), BOS, EOS, beam_width=2, max_len=10)
    assert [tokens for tokens, _ in found] == [[Bt, C, EOS], [A, C, EOS]]
    assert found[0][1] == pytest.approx(math.log(0.36), abs=1e-4)
    assert found[1][1] == pytest.approx(math.log(0.15), abs=1e-4)


def test_beam_shrinks_as_hypotheses_finish():
    """Width 3: [eos] finishes at step 1, the two others go on; three hypotheses in all."""
    found = beam_search(tree_step(CLASSIC), BOS, EOS, beam_width=3, max_len=10)
    assert [tokens for tokens, _ in found] == [[Bt, C, EOS], [A, C, EOS], [EOS]]
    assert [s for _, s in found] == pytest.approx([math.log(0.36), math.log(0.15), math.log(0.1)], abs=1e-4)


def test_beam_hypotheses_finish_at_max_len():
    found = beam_search(tree_step(CLASSIC), BOS, EOS, beam_width=2, max_len=2)
    assert [tokens for tokens, _ in found] == [[Bt, C], [A, C]]


def random_step(vocab, seed):
    """A deterministic random language model: log-probs depend on the prefix only."""

    def step(prefix):
        gen = torch.Generator().manual_seed(hash((seed, *prefix)) % 2**31)
        return torch.log_softmax(2 * torch.randn(vocab, generator=gen, dtype=torch.float64), -1)

    return step


@pytest.mark.parametrize("seed", range(10))
def test_beam_width_one_is_greedy(seed):
    step = random_step(6, seed)
    ((tokens, score),) = beam_search(step, BOS, EOS, beam_width=1, max_len=8)
    assert tokens == greedy_search(step, BOS, EOS, max_len=8)
    total = sum(float(step([BOS, *tokens[:k]])[t]) for k, t in enumerate(tokens))
    assert score == pytest.approx(total, abs=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_wide_beam_is_exhaustive_search(seed):
    """A beam wider than the tree keeps every prefix: it returns every finished sequence, ranked."""
    vocab, max_len = 4, 3
    step = random_step(vocab, seed)
    everything = []
    for length in range(1, max_len + 1):
        for tokens in itertools.product(range(vocab), repeat=length):
            if EOS in tokens[:-1] or (length < max_len and tokens[-1] != EOS):
                continue
            everything.append((list(tokens), sum(float(step([BOS, *tokens[:k]])[t]) for k, t in enumerate(tokens))))
    everything.sort(key=lambda c: c[1], reverse=True)
    found = beam_search(step, BOS, EOS, beam_width=vocab**max_len, max_len=max_len)
    assert [t for t, _ in found] == [t for t, _ in everything]
    assert [s for _, s in found] == pytest.approx([s for _, s in everything], abs=1e-9)
    narrow = beam_search(step, BOS, EOS, beam_width=3, max_len=max_len)
    assert len(narrow) == 3 and [s for _, s in narrow] == sorted((s for _, s in narrow), reverse=True)


def corpus(nll_per_row, lengths, T=None, vocab=5):
    """log_probs (N, T, V) and targets (N, T) where row n scores lengths[n] tokens of NLL nll_per_row[n]."""
    T = T or max(lengths)
    log_probs = torch.full((len(lengths), T, vocab), -50.0, dtype=torch.float64)
    targets = torch.zeros(len(lengths), T, dtype=torch.long)
    for n, (nll, length) in enumerate(zip(nll_per_row, lengths)):
        targets[n, :length] = 3
        log_probs[n, :, 3] = -nll
    return log_probs, targets


def test_perplexity_metrics_md_figures():
    """Batches (NLL sum, tokens) = (50, 20), (300, 100), (20, 5): corpus 19.30, not 28.96 or 23.73."""
    batches = [corpus([50 / 20], [20]), corpus([300 / 100], [100]), corpus([20 / 5], [5])]
    whole = corpus([2.5, 3.0, 4.0], [20, 100, 5])
    assert perplexity(*whole) == pytest.approx(19.30, abs=5e-3)
    per_batch = [perplexity(*batch) for batch in batches]
    assert sum(per_batch) / 3 == pytest.approx(28.96, abs=5e-3)  # the mean of batch perplexities
    mean_loss = sum(math.log(p) for p in per_batch) / 3
    assert math.exp(mean_loss) == pytest.approx(23.73, abs=5e-3)  # exp of the mean batch loss


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size():
    log_probs = torch.full((2, 4, 7), -math.log(7))
    targets = torch.randint(1, 7, (2, 4))
    assert perplexity(log_probs, targets) == pytest.approx(7.0, rel=1e-6)


def test_perplexity_leaves_out_padding_only():
    log_probs = torch.log_softmax(torch.randn(2, 3, 6, dtype=torch.float64), -1)
    targets = torch.tensor([[4, 2, 0], [3, 0, 0]])  # eos (2) is scored, pad (0) is not
    nll = -torch.stack([log_probs[0, 0, 4], log_probs[0, 1, 2], log_probs[1, 0, 3]])
    assert perplexity(log_probs, targets) == pytest.approx(math.exp(nll.mean()), rel=1e-12)
    assert perplexity(log_probs, targets.masked_fill(targets == 0, 5), pad_id=5) == pytest.approx(
        math.exp(nll.mean()), rel=1e-12
    )
    with pytest.raises(ValueError):
        perplexity(log_probs, torch.zeros(2, 3, dtype=torch.long))
