"""The stochastic beam kind (harness/checks/stochastic.py): exact distributions of both conventions on small
tables, and searches written several ways judged against them, in process (the worker's own path is the last
test)."""
from __future__ import annotations

import types

import numpy as np
import pytest
import torch

from harness.checks import REGISTRY, Context, load_builtin_checks
from harness.checks.decoding import parse_tables
from harness.checks.stochastic import CONVENTIONS, DEFAULT_TABLES, outcome_distribution
from harness.sandbox import program as interpreter
from harness.spec import DEFAULT_TOLERANCES

load_builtin_checks()
CHECK = "declared.stochastic_beam"


# --------------------------------------------------------------------------- searches, written several ways


def textbook_search(step, bos, beam_width, max_len, temperature, generator):
    """Without replacement, each candidate weighed by exp(step log-probability / T); torch, the generator."""
    beams = [([bos], 0.0)]
    for _ in range(max_len):
        rows = torch.stack([step(tokens) for tokens, _ in beams])
        flat = rows.flatten()
        picks = torch.multinomial(torch.softmax(flat / temperature, 0), beam_width, replacement=False,
                                  generator=generator)
        v = rows.shape[1]
        beams = [(beams[i // v][0] + [i % v], beams[i // v][1] + float(flat[i])) for i in picks.tolist()]
    return sorted(((tokens[1:], score) for tokens, score in beams), key=lambda b: -b[1])


def textbook_by_keys(step, bos, beam_width, max_len, temperature, generator):
    """The same convention by exponential races (the k smallest of E_i / w_i): another way to draw without
    replacement; returns rows of ids, no scores."""
    beams = [[bos]]
    for _ in range(max_len):
        rows = torch.stack([step(b) for b in beams]).double()
        w = torch.softmax(rows.flatten() / temperature, 0)
        race = torch.empty_like(w).exponential_(generator=generator) / w
        v = rows.shape[1]
        beams = [beams[i // v] + [i % v] for i in race.argsort()[:beam_width].tolist()]
    return [b[1:] for b in beams]


def template_search(step, bos, beam_width, max_len, temperature):
    """With replacement from softmax(cumulative log-probability / T); numpy's global generator, rows of ids."""
    history, scores = np.array([[bos]]), np.zeros(1)
    for _ in range(max_len):
        logp = np.stack([step(list(h)).numpy() for h in history])
        cumulative = (scores[:, None] + logp).ravel()
        z = cumulative / temperature
        p = np.exp(z - z.max())
        pick = np.random.choice(cumulative.size, beam_width, p=p / p.sum())
        history = np.concatenate([history[pick // logp.shape[1]], (pick % logp.shape[1])[:, None]], axis=1)
        scores = cumulative[pick]
    return history[:, 1:]


def deterministic_search(step, bos, beam_width, max_len, temperature, generator):
    """Ordinary beam search: the best beam_width candidates by summed log-probability, nothing drawn."""
    beams = [([bos], 0.0)]
    for _ in range(max_len):
        candidates = [(tokens + [v], score + float(lp)) for tokens, score in beams for v, lp in enumerate(step(tokens))]
        beams = sorted(candidates, key=lambda b: -b[1])[:beam_width]
    return [(tokens[1:], score) for tokens, score in beams]


def ignores_temperature(step, bos, beam_width, max_len, temperature, generator):
    return textbook_search(step, bos, beam_width, max_len, 1.0, generator)


def unseeded_template(step, bos, beam_width, max_len, temperature):
    """The template's draws from a generator of its own, which the caller cannot seed."""
    rng = np.random.default_rng()
    np.random.seed(int(rng.integers(2**31)))
    return template_search(step, bos, beam_width, max_len, temperature)


# --------------------------------------------------------------------------- running the check in process


def verdict(search, seed: int = 2024, **options):
    """The check's verdict on ``search`` standing for generation.search, with no worker."""
    definition = REGISTRY[CHECK]
    student = {"generation": types.SimpleNamespace(search=search)}

    def runner(program):
        return types.SimpleNamespace(header={}, value=interpreter.run(program.to_json(), program.inputs, student))

    given = {**definition.defaults(), "target": "search", **options}
    return definition.func(Context("generation.search.stochastic", given, DEFAULT_TOLERANCES, seed, runner, None))


TEXTBOOK = {"convention": "textbook", "randomness": "generator"}
TEMPLATE = {"convention": "template", "randomness": "global"}


def template_with_generator(step, bos, beam_width, max_len, temperature, generator):
    np.random.seed(int(torch.randint(2**31, (), generator=generator)))
    return template_search(step, bos, beam_width, max_len, temperature)


def textbook_from_globals(step, bos, beam_width, max_len, temperature):
    return textbook_search(step, bos, beam_width, max_len, temperature, None)


@pytest.mark.parametrize("search", [textbook_search, textbook_by_keys])
def test_a_textbook_search_passes_the_textbook_convention(search):
    result = verdict(search, **TEXTBOOK)
    assert result.passed, result.message
    assert "textbook convention (candidates drawn without replacement" in result.message
    assert "fails this check with probability at most" in result.message


def test_the_template_search_passes_the_template_convention():
    result = verdict(template_search, **TEMPLATE)
    assert result.passed, result.message
    assert "global generators" in result.message


def test_the_template_search_fails_the_textbook_convention_and_is_named():
    result = verdict(template_with_generator, **TEXTBOOK)
    assert not result.passed
    assert "do not follow the textbook convention" in result.message or "deterministic" in result.message
    assert "with replacement" in result.hint and "template convention" in result.hint, result.hint
    assert result.numbers["diagnosis"] == ["stochastic_beam.template"]


def test_a_textbook_search_fails_the_template_convention_and_is_named():
    result = verdict(textbook_from_globals, **TEMPLATE)
    assert not result.passed
    assert "without replacement" in result.hint and "textbook convention" in result.hint, result.hint
    assert result.numbers["diagnosis"] == ["stochastic_beam.textbook"]
