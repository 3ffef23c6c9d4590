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
from harness.runtime.tokens import BOS
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
    """With replacement from softmax(cumulative log-probability / T); numpy's global generator, rows of ids; the
    log of probabilities plus 1e-10, as a notebook that softmaxes its model's logits writes it."""
    history, scores = np.array([[bos]]), np.zeros(1)
    for _ in range(max_len):
        logp = np.log(np.stack([np.exp(step(list(h)).numpy()) for h in history]) + 1e-10)
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


def in_process(check: str, name: str, function, seed: int = 2024, **options):
    """The verdict of the registered ``check`` on ``function`` standing for generation.<name>, with no worker."""
    definition = REGISTRY[check]
    student = {"generation": types.SimpleNamespace(**{name: function})}

    def runner(program):
        return types.SimpleNamespace(header={}, value=interpreter.run(program.to_json(), program.inputs, student))

    given = {**definition.defaults(), "target": name, **options}
    return definition.func(Context(f"generation.{name}.stochastic", given, DEFAULT_TOLERANCES, seed, runner, None))


def verdict(search, seed: int = 2024, **options):
    return in_process(CHECK, "search", search, seed, **options)


TEXTBOOK = {"convention": "textbook", "randomness": "generator"}
TEMPLATE = {"convention": "template", "randomness": "global"}


def template_with_generator(step, bos, beam_width, max_len, temperature, generator):
    np.random.seed(int(torch.randint(2**31, (), generator=generator)))
    return template_search(step, bos, beam_width, max_len, temperature)


def textbook_from_globals(step, bos, beam_width, max_len, temperature):
    return textbook_search(step, bos, beam_width, max_len, temperature, None)


@pytest.mark.parametrize("search", [textbook_search, textbook_by_keys])
def test_a_textbook_search_passes_the_textbook_convention(search):
    result = verdict(search, **TEXTBOOK)  # the default number of runs, 2000 a case
    assert result.passed, result.message
    assert "textbook convention (candidates drawn without replacement" in result.message
    assert "fails this check with probability at most" in result.message


def test_the_template_search_passes_the_template_convention():
    result = verdict(template_search, runs=800, **TEMPLATE)
    assert result.passed, result.message
    assert "global generators" in result.message


def test_the_template_search_fails_the_textbook_convention_and_is_named():
    result = verdict(template_with_generator, runs=800, **TEXTBOOK)
    assert not result.passed
    assert "do not follow the textbook convention" in result.message or "deterministic" in result.message
    assert "with replacement" in result.hint and "template convention" in result.hint, result.hint
    assert result.numbers["diagnosis"] == ["stochastic_beam.template"]


def test_a_textbook_search_fails_the_template_convention_and_is_named():
    result = verdict(textbook_from_globals, runs=800, **TEMPLATE)
    assert not result.passed
    assert "without replacement" in result.hint and "textbook convention" in result.hint, result.hint
    assert result.numbers["diagnosis"] == ["stochastic_beam.textbook"]


def test_a_deterministic_search_fails_saying_it_does_not_draw():
    result = verdict(deterministic_search, runs=500, **TEXTBOOK)
    assert not result.passed
    assert "in all 500 runs" in result.message and "the search does not draw at random" in result.message
    assert "a torch.Generator passed as the last argument" in result.hint


def test_a_search_ignoring_the_temperature_fails_at_the_other_temperatures_and_is_named():
    result = verdict(ignores_temperature, runs=1000, **TEXTBOOK)
    assert not result.passed
    assert "temperature=0.5" in result.message and "temperature is ignored" in result.hint, result.hint
    assert result.numbers["diagnosis"] == ["stochastic_beam.ignores_temperature"]
    assert 0 < result.fraction < 1  # the cases at T = 1 pass; those at T = 0.5 and near 0 fail


def test_the_same_seeds_give_the_same_verdict_and_other_seeds_other_draws():
    first, again = verdict(template_search, runs=300, **TEMPLATE), verdict(template_search, runs=300, **TEMPLATE)
    assert first.passed and (first.message, first.numbers) == (again.message, again.numbers)
    failed, failed_again = (verdict(textbook_from_globals, runs=300, **TEMPLATE) for _ in range(2))
    assert not failed.passed and (failed.message, failed.hint) == (failed_again.message, failed_again.hint)
    other = verdict(textbook_from_globals, seed=7, runs=300, **TEMPLATE)
    assert other.message != failed.message  # the draws come from the seeds


def test_a_search_that_seeds_its_own_generator_fails_reproducibility():
    result = verdict(unseeded_template, runs=300, **TEMPLATE)
    assert not result.passed and "the same seed gave different hypotheses" in result.message
    assert "a source the caller does not seed" in result.hint


def test_a_search_reading_the_global_generator_instead_of_its_argument_fails_reproducibility():
    def global_textbook(step, bos, beam_width, max_len, temperature, generator):
        return textbook_search(step, bos, beam_width, max_len, temperature, None)

    result = verdict(global_textbook, runs=300, **TEXTBOOK)
    assert not result.passed and "the same seed gave different hypotheses" in result.message
    assert "the draws changed when only the global random state did" in result.hint


# --------------------------------------------------------------------------- the exact distributions


def first_step_table():
    return parse_tables(DEFAULT_TABLES, beam=True)[0]


def test_the_first_step_distributions_are_the_closed_forms():
    table = first_step_table()
    p = table.log_probs([]).exp()
    a, b = 4, 5  # A, B
    textbook = outcome_distribution(table, 2, 1.0, CONVENTIONS["textbook"])
    template = outcome_distribution(table, 2, 1.0, CONVENTIONS["template"])
    both = float(p[a] * p[b] / (1 - p[a]) + p[b] * p[a] / (1 - p[b]))  # A then B, or B then A, no replacement
    assert textbook[((a,), (b,))] == pytest.approx(both, rel=1e-12)
    assert ((a,), (a,)) not in textbook
    assert template[((a,), (a,))] == pytest.approx(float(p[a] ** 2), rel=1e-12)
    assert template[((a,), (b,))] == pytest.approx(float(2 * p[a] * p[b]), rel=1e-12)
    for dist in (textbook, template):
        assert 1 - 1e-9 < sum(dist.values()) <= 1 + 1e-12
    cooled = outcome_distribution(table, 2, 0.5, CONVENTIONS["template"])
    q = p ** 2 / (p ** 2).sum()  # softmax(log p / 0.5)
    assert cooled[((a,), (a,))] == pytest.approx(float(q[a] ** 2), rel=1e-9)


def test_as_the_temperature_falls_each_convention_becomes_its_deterministic_search():
    first, two = parse_tables(DEFAULT_TABLES, beam=True)
    assert outcome_distribution(first, 3, 0.02, CONVENTIONS["textbook"])[((4,), (5,), (6,))] > 1 - 1e-9
    assert outcome_distribution(first, 2, 0.02, CONVENTIONS["template"])[((4,), (4,))] > 1 - 1e-9
    assert outcome_distribution(two, 2, 0.02, CONVENTIONS["template"])[((4, 6), (4, 6))] > 1 - 1e-9


def test_a_two_step_search_is_drawn_from_the_monte_carlo_frequencies_the_enumeration_gives():
    """The enumeration against 5 000 runs of the template search: every frequent outcome within 5 sigma."""
    _, two = parse_tables(DEFAULT_TABLES, beam=True)
    dist = outcome_distribution(two, 2, 1.0, CONVENTIONS["template"])
    np.random.seed(0)
    step = lambda prefix: two.log_probs([int(t) for t in prefix[1:]])  # noqa: E731
    n = 5000
    seen = {}
    for _ in range(n):
        rows = template_search(step, 1, 2, 2, 1.0)
        key = tuple(sorted(tuple(int(t) for t in r) for r in rows))
        seen[key] = seen.get(key, 0) + 1
    for outcome, q in dist.items():
        if q > 0.01:
            assert abs(seen.get(outcome, 0) - n * q) < 5 * (n * q * (1 - q)) ** 0.5, (outcome, seen.get(outcome), n * q)


# --------------------------------------------------------------------------- what a reply may be


def returning(value):
    def search(step, bos, beam_width, max_len, temperature, generator):
        return value
    return search


@pytest.mark.parametrize("value,words", [
    ("AB", "expected 2 hypotheses"),
    (None, "expected 2 hypotheses"),
    ([[4]] * 10**5, "expected 2 hypotheses"),
    ([[4], [5], [6]], "expected 2 hypotheses"),
    ([[4.0], [5.0]], "hypothesis 0 should be a list of token ids"),
    (torch.tensor([[float("nan")], [1.0]]), "hypothesis 0 should be a list of token ids"),
    (torch.tensor([[True], [False]]), "hypothesis 0 should be a list of token ids"),
    ([[1, 4], [1, 5]], "hypothesis 0 starts with bos"),
    ([[4, 4, 4], [5]], "hypothesis 0 has 3 tokens"),
    ([[4], [10**12]], "hypothesis 1 holds ids outside the vocabulary"),
    ([[4], [-1]], "hypothesis 1 holds ids outside the vocabulary"),
    ([([4], float("nan")), ([9], 0.0)], "hypothesis 1 holds ids outside the vocabulary"),
])
def test_a_reply_that_is_not_the_hypotheses_fails_naming_what_is_wrong(value, words):
    result = verdict(returning(value), runs=100, credit="all-or-nothing", **TEXTBOOK)
    assert not result.passed and words in result.message, result.message
    assert "run 0 (seed" in result.message and "the tokens after bos" in result.hint


def test_pairs_rows_and_arrays_are_all_read_as_the_same_hypotheses():
    from harness.checks.stochastic import INTERFACES

    table = first_step_table()
    same = [[([5], -1.2), ([4], -0.7)], [[4], [5]], torch.tensor([[5], [4]]), np.array([[4], [5]]),
            [(torch.tensor([4]), torch.tensor(-0.7)), (np.array([5]), -1.2)], [(4,), (5,)]]
    assert {INTERFACES["step"].outcome(v, table, 2) for v in same} == {(((4,), (5,)), "")}


# --------------------------------------------------------------------------- sampling a sequence


def sample_torch(step, bos, max_len, temperature, generator):
    tokens = [bos]
    for _ in range(max_len):
        probs = torch.softmax(step(tokens) / temperature, -1)
        tokens.append(int(torch.multinomial(probs, 1, generator=generator)))
    return tokens[1:]


def sample_numpy(step, bos, max_len, temperature):
    """Written as a notebook would: numpy's global generator, probabilities from exp, an array back."""
    out = np.array([bos])
    for _ in range(max_len):
        p = np.exp(step(list(out)).numpy() / temperature)
        out = np.append(out, np.random.choice(len(p), p=p / p.sum()))
    return out[1:]


def sample_greedily(step, bos, max_len, temperature, generator):
    tokens = [bos]
    for _ in range(max_len):
        tokens.append(int(step(tokens).argmax()))
    return tokens[1:]


def sample_at_t1(step, bos, max_len, temperature, generator):
    return sample_torch(step, bos, max_len, 1.0, generator)


def sequence_verdict(sampler, seed: int = 2024, **options):
    return in_process("declared.sample_sequence", "sample", sampler, seed, **{"runs": 800, **options})


def test_sequences_sampled_with_a_generator_or_numpy_pass():
    assert sequence_verdict(sample_torch).passed
    result = sequence_verdict(sample_numpy, randomness="global")
    assert result.passed, result.message
    assert "each token drawn from softmax(log-probability of the next token / T)" in result.message


def test_greedy_and_temperature_blind_samplers_fail_with_their_reasons():
    greedy = sequence_verdict(sample_greedily)
    assert not greedy.passed and "does not draw at random" in greedy.message
    assert "draw at random (each token drawn from softmax" in greedy.hint
    blind = sequence_verdict(sample_at_t1)
    assert not blind.passed and "temperature is ignored" in blind.hint
    assert blind.numbers["diagnosis"] == ["sample_sequence.ignores_temperature"]


@pytest.mark.parametrize("value,words", [
    ("AB", "expected the sampled tokens as a list of token ids, got str 'AB'"),
    ([[4, 5]], "expected the sampled tokens as a list of token ids"),
    ([1, 4, 5], "the sequence starts with bos: return the 2 tokens after bos"),
    ([4, 5, 6], "the sequence has 3 tokens after bos"),
    ([4, 99], "the sequence holds ids outside the vocabulary"),
])
def test_a_reply_that_is_not_a_sequence_fails_naming_what_is_wrong(value, words):
    """One sampled sequence is read as a beam of width 1, its problems said of "the sequence"."""
    def sample(step, bos, max_len, temperature, generator):
        return value
    result = sequence_verdict(sample, runs=100, credit="all-or-nothing")
    assert not result.passed and words in result.message, result.message
    assert result.message.startswith(f"sample(step, bos={BOS}, max_len=2, temperature=1, generator) on "), result.message


# --------------------------------------------------------------------------- declared in a task folder


TASK = '''
[task]
name = "sampling"
title = "Stochastic decoding"
module = "sampling"

[interface]
names = ["beam_sample", "notebook_beam", "sample"]

[checks."sampling.beam_sample"]
kind = "stochastic_beam"
target = "beam_sample"
points = 2
{extra}

[checks."sampling.notebook_beam"]
kind = "stochastic_beam"
target = "notebook_beam"
points = 2
convention = "template"
randomness = "global"
runs = 300

[checks."sampling.sample"]
kind = "sample_sequence"
target = "sample"
points = 1
randomness = "global"
runs = 300
'''

ANSWER_KEY = '''
import numpy as np
import torch


def beam_sample(step, bos, beam_width, max_len, temperature, generator):
    beams = [[bos]]
    for _ in range(max_len):
        rows = torch.stack([step(b) for b in beams])
        picks = torch.multinomial(torch.softmax(rows.flatten() / temperature, 0), beam_width, generator=generator)
        beams = [beams[i // rows.shape[1]] + [i % rows.shape[1]] for i in picks.tolist()]
    return [b[1:] for b in beams]


def notebook_beam(step, bos, beam_width, max_len, temperature):
    history, scores = [[bos]], [0.0]
    for _ in range(max_len):
        cumulative = np.concatenate([s + step(h).numpy() for h, s in zip(history, scores)])
        z = np.exp((cumulative - cumulative.max()) / temperature)
        picks = np.random.choice(len(cumulative), beam_width, p=z / z.sum())
        width = len(cumulative) // len(history)
        history = [history[i // width] + [int(i % width)] for i in picks]
        scores = [cumulative[i] for i in picks]
    return np.array(history)[:, 1:]


def sample(step, bos, max_len, temperature):
    tokens = [bos]
    for _ in range(max_len):
        p = torch.softmax(step(tokens) / temperature, -1)
        tokens.append(int(torch.multinomial(p, 1)))
    return tokens[1:]
'''


def task_folder(tmp_path, extra: str = ""):
    folder = tmp_path / "tasks" / "sampling"
    folder.mkdir(parents=True)
    (folder / "task.toml").write_text(TASK.format(extra=extra if "runs" in extra else extra + "\nruns = 300"))
    (folder / "answer_key.py").write_text(ANSWER_KEY)
    return folder.parent


@pytest.mark.parametrize("extra,key,words", [
    ('convention = "textbok"', ".convention", "must be one of 'textbook', 'template'"),
    ('randomness = "numpy"', ".randomness", "must be one of 'generator', 'global'"),
    ("runs = 5", ".runs", "from 100 to 20000"),
    ("alpha = 0.5", ".alpha", "a level from 1e-9 to 0.05"),
    ("alpha = nan", ".alpha", "a level from 1e-9 to 0.05"),
    ("temperatures = [inf]", ".temperatures[0]", "from 0.05 to 20"),
    ("cold_temperature = nan", ".cold_temperature", "0 (no such case)"),
    ("runs = 1e9", ".runs", "an integer from 100 to 20000"),
    ('interface = "model"', ".interface", "must be one of 'step'"),
    ("temperatures = [1.0, 0.0]", ".temperatures[1]", "from 0.05 to 20"),
    ('temperatures = [1.0, "hot"]', ".temperatures[1]", "from 0.05 to 20"),
    ("temperatures = []", ".temperatures", "1 to 6 temperatures"),
    ("cold_temperature = 1.0", ".cold_temperature", "0 (no such case) or a number from 0.005 to 0.1"),
    ('tables = [{ max_len = 4, next = { "" = { A = 1.0 } } }]', ".tables[0].max_len", "at most 3"),
    ('tables = [{ max_len = 2, beam_widths = [4], next = { "" = { A = 1.0 } } }]', ".tables[0].beam_widths",
     "at most 3"),
    ('tables = [{ max_len = 2, next = { "" = { E = 1.0 } } }]', '.tables[0].next.""', "unknown token 'E'"),
    ("tables = []", ".tables", "needs at least one table"),
])
def test_a_wrong_option_is_refused_at_spec_load_naming_its_key(tmp_path, extra, key, words):
    from harness.errors import SpecError
    from harness.spec import load_tasks

    with pytest.raises(SpecError) as err:
        load_tasks(task_folder(tmp_path, extra))
    said = str(err.value)
    assert f'[checks."sampling.beam_sample"]{key}' in said and words in said, said


def test_the_declared_kinds_grade_a_submission_in_the_worker(tmp_path):
    """Through the sandboxed worker: a generator and numpy's seeded global state both reproduce their runs; the
    answer key passes, and a notebook's search graded under the textbook convention fails, named."""
    from harness.grading import grade
    from harness.spec import load_tasks

    specs = load_tasks(task_folder(tmp_path))
    good = tmp_path / "good"
    good.mkdir()
    (good / "sampling.py").write_text(ANSWER_KEY)
    results = grade(good, specs)
    assert {c.id: c.status for c in results.checks} == {
        "sampling.beam_sample": "passed", "sampling.notebook_beam": "passed", "sampling.sample": "passed"}, \
        [(c.id, c.message) for c in results.checks]
    swapped = tmp_path / "swapped"
    swapped.mkdir()
    (swapped / "sampling.py").write_text(ANSWER_KEY + '''

def beam_sample(step, bos, beam_width, max_len, temperature, generator):
    np.random.seed(int(torch.randint(2**31, (), generator=generator)))
    return notebook_beam(step, bos, beam_width, max_len, temperature)
''')
    failed = {c.id: c for c in grade(swapped, specs).checks if c.status != "passed"}
    assert set(failed) == {"sampling.beam_sample"}
    assert "template convention" in failed["sampling.beam_sample"].hint


@pytest.mark.parametrize("table,options,words", [
    ({"about": "wide", "max_len": 3, "beam_widths": [3], "next": {"": {"A": 0.3, "B": 0.3, "C": 0.2, "D": 0.2}},
      "default": {"A": 0.3, "B": 0.3, "C": 0.2, "D": 0.2}}, {}, "too many to list"),
    ({"about": "sure", "max_len": 1, "beam_widths": [3], "next": {"": {"A": 1.0}}}, {"cold_temperature": 0.005},
     "fewer candidates than the beam width keep a probability"),
])
def test_a_case_the_judge_cannot_enumerate_stops_grading_naming_the_table(table, options, words):
    from harness.errors import SpecError

    with pytest.raises(SpecError) as err:
        verdict(textbook_search, tables=[table], **options, **TEXTBOOK)
    assert ".tables[0]" in str(err.value) and words in str(err.value) and table["about"] in str(err.value)


def test_a_release_grades_the_declared_kinds_from_its_bundle(tmp_path):
    """The kinds compute their distributions on the judge's side and need no answer key's value: a student's
    machine grades them from the released bundle alone, with the live verdicts."""
    from harness import bundle
    from harness.answers import BundleAnswers
    from harness.grading import grade
    from harness.release import write_release
    from harness.spec import load_tasks

    write_release(tmp_path / "released", load_tasks(task_folder(tmp_path)))
    released = bundle.load(tmp_path / "released" / bundle.FOLDER)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "sampling.py").write_text(ANSWER_KEY.replace("def notebook_beam", "def unused_beam") + '''

def notebook_beam(step, bos, beam_width, max_len, temperature):
    return beam_sample(step, bos, beam_width, max_len, temperature, None)  # without replacement: not the template's
''')
    results = grade(mine, released.specs(), answers=BundleAnswers(released))
    status = {c.id: c.status for c in results.checks}
    assert status == {"sampling.beam_sample": "passed", "sampling.notebook_beam": "failed",
                      "sampling.sample": "passed"}, [(c.id, c.message) for c in results.checks]
    failed = next(c for c in results.checks if c.id == "sampling.notebook_beam")
    assert "textbook convention" in failed.hint


def test_near_zero_a_deterministic_case_is_judged_by_equality():
    result = verdict(ignores_temperature, temperatures=[1.0], runs=300, **TEXTBOOK)
    assert not result.passed
    assert "temperature=0.02" in result.message and "as T → 0 the textbook convention" in result.message
    assert "is deterministic: expected {A, B} in every run" in result.message, result.message
    assert "the beam_width candidates of highest step log-probability" in result.hint
    assert verdict(textbook_search, temperatures=[1.0], runs=300, **TEXTBOOK).passed


@pytest.mark.parametrize("search,words", [
    (returning([[4], [5]]), "it returns the same hypotheses in every run"),  # {A, B}: the first table's near-0 case
    (lambda step, bos, beam_width, max_len, temperature, generator: [
        [int(t) for t in torch.randint(4, 8, (max_len,), generator=generator)] for _ in range(beam_width)],
     "no case of a distribution passes"),  # random ids, reproducible from the generator
])
def test_a_stub_earns_nothing_for_being_reproducible_or_right_near_zero(search, words):
    result = verdict(search, runs=200, **TEXTBOOK)
    assert not result.passed and result.fraction == 0.0 and words in result.message, result.message
