"""Stochastic decoding called as a course calls it: a beam search over a model, text in and text out.

A course's stochastic beam search takes the trained model, the beam width, the number of characters to draw,
the seed text, a window length and a temperature, reads ``char2idx``/``idx2char`` as notebook globals and
draws with numpy's global generator. Given ``model``, ``vocab``, ``args``/``kwargs`` and ``globals``, the
``stochastic_beam`` and ``sample_sequence`` kinds hand such a function a table model (built once per program,
every run a call on it) and test its draws against the exact distribution of the convention named. The
searches below are written here, in numpy, in the course's style.
"""
from __future__ import annotations

import types
from pathlib import Path

import pytest

from harness.checks import REGISTRY, Context, OptionError, load_builtin_checks
from harness.sandbox import program as interpreter
from harness.spec import DEFAULT_TOLERANCES

load_builtin_checks()

# the window holds the seed and every character drawn; id 0 ("_") pads on the left, as the course pads
SEARCHES = '''
import numpy as np
import torch


def encode(text, max_length):
    ids = [char2idx[c] for c in text][-max_length:]
    return [0] * (max_length - len(ids)) + ids


def next_probs(model, rows):
    x = torch.tensor(rows, dtype=torch.long).unsqueeze(-1)          # (B, T, 1)
    with torch.no_grad():
        logits = model(x)[:, -1, :]
    return torch.softmax(logits.double(), dim=-1).numpy()


def beam_search(model, num_beams, num_words, input_text, max_length, temp=1.0, mode="det"):
    """Cumulative log-probabilities; 'sto' draws with replacement from their softmax at temp."""
    beams, scores = [encode(input_text, max_length)], np.zeros(1)
    for _ in range(num_words):
        probs = next_probs(model, [b[-max_length:] for b in beams])
        total = (scores[:, None] + np.log(probs + 1e-12)).ravel()
        if mode == "det":
            chosen = np.argsort(total)[::-1][:num_beams]
        elif mode == "sto":
            w = np.exp((total - total.max()) / temp)
            chosen = np.random.choice(total.size, num_beams, p=w / w.sum())
        else:
            raise ValueError(mode)
        size = probs.shape[1]
        beams = [beams[i // size] + [int(i % size)] for i in chosen]
        scores = total[chosen]
    return np.array([b[-(len(input_text) + num_words):] for b in beams])


def textbook_beam(model, num_beams, num_words, input_text, max_length, temp=1.0):
    """Step log-probabilities; candidates drawn without replacement; the drawn text after the seed."""
    beams = [""]
    for _ in range(num_words):
        logp = np.log(next_probs(model, [encode(input_text + b, max_length) for b in beams]) + 1e-12)
        w = np.exp((logp - logp.max()) / temp).ravel()
        chosen = np.random.choice(w.size, num_beams, replace=False, p=w / w.sum())
        beams = [beams[i // logp.shape[1]] + idx2char[int(i % logp.shape[1])] for i in chosen]
    return beams


def generate_sto(model, input_text, max_length, n_chars, temp=1.0):
    """One text drawn character by character, the seed first."""
    text = input_text
    for _ in range(n_chars):
        p = next_probs(model, [encode(text, max_length)])[0] ** (1 / temp)
        text += idx2char[int(np.random.choice(p.size, p=p / p.sum()))]
    return text
'''

MODEL = {"kind": "module", "input": "column", "returns": "logits", "positions": "all"}
VOCAB = "_abcd"
TABLES = [
    {"about": "the first character alone", "seed": "a", "max_len": 1, "beam_widths": [2],
     "next": {"": {"a": 0.5, "b": 0.3, "c": 0.15, "d": 0.05}}},
    {"about": "two characters, where step and cumulative scores part", "seed": "a", "max_len": 2,
     "beam_widths": [2], "next": {"": {"b": 0.6, "c": 0.4}, "b": {"c": 0.9, "d": 0.1}, "c": {"c": 0.5, "d": 0.5}}},
]
GLOBALS = {"char2idx": "$char2idx", "idx2char": "$idx2char"}
COURSE = dict(model=MODEL, vocab=VOCAB, tables=TABLES, globals=GLOBALS, randomness="global", returns_seed=True,
              args=["$model", "$beam_width", "$max_len", "$seed", 8], kwargs={"temp": "$temperature", "mode": "sto"},
              temperatures=[1.0], runs=300)

TEXTBOOK = {**COURSE, "returns_seed": False, "kwargs": {"temp": "$temperature"}}


def module(source: str) -> types.ModuleType:
    lm = types.ModuleType("lm")
    exec(compile(source, "lm.py", "exec"), lm.__dict__)
    return lm


def verdict(name: str, source: str = SEARCHES, check: str = "declared.stochastic_beam", **options):
    """The check's verdict on ``source``'s ``name``, in this process (no worker), its options checked as at load."""
    definition = REGISTRY[check]
    given = {**definition.defaults(), "target": name, **options}
    definition.consistent(given)
    student = {"lm": module(source)}

    def runner(program):
        return types.SimpleNamespace(header={}, value=interpreter.run(program.to_json(), program.inputs, student))

    return definition.func(Context(f"lm.{name}.stochastic", given, DEFAULT_TOLERANCES, 2024, runner, None))


def test_the_course_search_passes_the_template_convention_and_fails_the_textbook_one_named():
    good = verdict("beam_search", convention="template", **COURSE)
    assert good.passed, good.message
    assert "beam_search's hypotheses follow the template convention" in good.message, good.message
    bad = verdict("beam_search", convention="textbook", **COURSE)
    assert not bad.passed
    assert "do not follow the textbook convention" in bad.message, bad.message
    assert "template convention" in bad.hint and "with replacement" in bad.hint, bad.hint
    assert "beam_search(model, 2, 1, 'a', 8, temp=1, mode='sto')" in bad.message, bad.message


def test_a_textbook_search_passes_the_textbook_convention_and_fails_the_template_one_named():
    good = verdict("textbook_beam", convention="textbook", **TEXTBOOK)
    assert good.passed, good.message
    bad = verdict("textbook_beam", convention="template", **TEXTBOOK)
    assert not bad.passed and "do not follow the template convention" in bad.message, bad.message
    assert "textbook convention" in bad.hint and "without replacement" in bad.hint, bad.hint


def test_a_deterministic_search_fails_saying_it_does_not_draw():
    result = verdict("beam_search", convention="template", **{**COURSE, "kwargs": {"temp": "$temperature",
                                                                                     "mode": "det"}})
    assert not result.passed and result.fraction == 0.0
    assert "the search does not draw at random" in result.message, result.message
    assert "returned {'a', 'b'} in all 300 runs" in result.message, result.message  # the drawn text, after the seed


def test_a_global_holds_the_cases_values_set_once_for_every_run():
    """Globals are set once per program, before the runs, with the case's values ($beam_width included)."""
    source = SEARCHES + '''

def from_globals(model, num_words, input_text, temp=1.0):
    return beam_search(model, num_beams, num_words, input_text, window, temp, "sto")
'''
    options = {**COURSE, "args": ["$model", "$max_len", "$seed"], "kwargs": {"temp": "$temperature"},
               "globals": {**GLOBALS, "num_beams": "$beam_width", "window": 8}}
    assert verdict("from_globals", source, convention="template", **options).passed


def test_the_results_are_read_as_text_and_their_seed_and_length_judged():
    seedless = verdict("textbook_beam", convention="textbook", **{**TEXTBOOK, "returns_seed": True})
    assert not seedless.passed
    assert "does not start with the seed text 'a'" in seedless.message, seedless.message
    with_seed = verdict("beam_search", convention="template", **{**COURSE, "returns_seed": False})
    assert not with_seed.passed and "starts with the seed text 'a'" in with_seed.message, with_seed.message
    short = SEARCHES + '''

def one_short(model, num_beams, num_words, input_text, max_length, temp=1.0):
    return [b[:-1] for b in textbook_beam(model, num_beams, num_words, input_text, max_length, temp)]
'''
    cut = verdict("one_short", short, convention="textbook", **TEXTBOOK)
    assert not cut.passed and "has 0 characters after the seed text: every one has exactly max_len=1" in cut.message, \
        cut.message


def test_a_sequence_drawn_from_the_model_passes_and_a_greedy_one_fails():
    table = {k: v for k, v in TABLES[1].items() if k != "beam_widths"}
    options = dict(model=MODEL, vocab=VOCAB, tables=[table], globals=GLOBALS, randomness="global", returns_seed=True,
                   args=["$model", "$seed", 8, "$max_len"], kwargs={"temp": "$temperature"}, temperatures=[1.0, 0.5],
                   runs=300)
    good = verdict("generate_sto", check="declared.sample_sequence", **options)
    assert good.passed, good.message
    greedy = SEARCHES + '''

def generate_greedy(model, input_text, max_length, n_chars, temp=1.0):
    text = input_text
    for _ in range(n_chars):
        text += idx2char[int(np.argmax(next_probs(model, [encode(text, max_length)])[0]))]
    return text
'''
    bad = verdict("generate_greedy", greedy, check="declared.sample_sequence", **options)
    assert not bad.passed and "does not draw at random" in bad.message, bad.message


def test_without_args_the_model_takes_steps_place_and_a_generator_is_passed():
    """No vocab, no args: target(model, bos, beam_width, max_len, temperature, generator) on the built-in tables."""
    source = '''
import torch


def torch_beam(model, bos, beam_width, max_len, temperature, generator):
    beams = [[bos]]
    for _ in range(max_len):
        logp = torch.log_softmax(model(torch.tensor(beams)).double(), dim=-1)   # (B, V)
        size = logp.shape[1]
        picks = torch.multinomial(torch.softmax(logp.flatten() / temperature, 0), beam_width, generator=generator)
        beams = [beams[i // size] + [i % size] for i in picks.tolist()]
    return [b[1:] for b in beams]


def torch_beam_unseeded(model, bos, beam_width, max_len, temperature, generator):
    return torch_beam(model, bos, beam_width, max_len, temperature, None)
'''
    options = dict(model={"kind": "module"}, convention="textbook", randomness="generator", temperatures=[1.0],
                   runs=300)
    good = verdict("torch_beam", source, **options)
    assert good.passed, good.message
    bad = verdict("torch_beam_unseeded", source, **options)
    assert not bad.passed and "torch_beam_unseeded(model, 1, 2, 1, 1, generator)" in bad.message, bad.message
    assert "the randomness should come from a torch.Generator passed" in bad.message, bad.message


@pytest.mark.parametrize("value,words", [
    ("None", "expected 2 hypotheses (a 2-D array of ids, a list of texts"),
    ('"ab"', "expected 2 hypotheses"),
    ('["ab", "ab", "ab"]', "expected 2 hypotheses"),
    # a hypothesis that does not read is named, as the step interface names it
    ('["a\u00e9", "ab"]', "hypothesis 0 should be a list of token ids or a text of the vocab's characters, got str"),
    ("np.array([[1.5, 2.0], [1.0, 2.0]])", "hypothesis 0 should be a list of token ids or a text of the vocab's"),
    ('np.array([[1, float("nan")], [1, 2]])', "hypothesis 0 should be a list of token ids or a text of the vocab's"),
    ('["ab", "a\u00e9"]', "hypothesis 1 should be a list of token ids"),
    ("np.array([[1, 99], [1, 2]])", "hypothesis 0 holds ids outside the vocabulary [0, 5)"),
    ("[[1] * 10**5, [1, 2]]", "hypothesis 0 has 99999 characters after the seed text"),
    ('["ab", "bb"]', "hypothesis 1 'bb' does not start with the seed text 'a'"),
])
def test_a_reply_that_is_not_the_hypotheses_fails_naming_what_is_wrong(value, words):
    source = SEARCHES + f"""

def replying(model, num_beams, num_words, input_text, max_length, temp=1.0, mode="sto"):
    return {value}
"""
    result = verdict("replying", source, convention="template", **{**COURSE, "runs": 100})
    assert not result.passed and words in result.message, result.message
    assert "run 0 (seed" in result.message


@pytest.mark.parametrize("change,where,words", [
    ({"vocab": "", "returns_seed": False, "args": [], "kwargs": {}, "globals": {}, "tables": None}, "vocab",
     None),  # the step interface's own defaults: accepted
    ({"model": {}}, "vocab", "a vocab needs a model"),
    ({"vocab": ""}, "tables[0].seed", "a seed text needs the check's vocab"),
    ({"tables": None}, "tables", "with a vocab, the check needs written tables"),
    ({"kwargs": {"mode": "sto"}}, "args", "never passes the temperature"),
    ({"args": ["$seed", 8]}, "args", "never passes the model"),
    ({"randomness": "generator"}, "args", '"$generator" is missing'),
    ({"kwargs": {"temp": "$temperature", "rng": "$generator"}}, "args", '"$generator" is not allowed'),
    ({"tables": [{**TABLES[1], "max_len": 4}]}, "tables[0].max_len", "at most 3"),
    ({"tables": [{**TABLES[1], "beam_widths": [4]}]}, "tables[0].beam_widths", "at most 3"),
    ({"tables": [{**TABLES[1], "next": {"": {"e": 1.0}}}]}, 'tables[0].next.""', "not a character of the vocab"),
    ({"tables": [{**TABLES[1], "globals": {"n": "$temp"}}]}, "tables[0].globals.n", "unknown value '$temp'"),
    ({"kwargs": {"temp": "$temperature", "top": float("nan")}}, None, "must be a finite number"),
    ({"args": ["$model", "$beam_width", "$max_len", "$seed", 10**9]}, None, "over the 100000 a call may take"),
    ({"vocab": "", "returns_seed": True, "args": [], "kwargs": {}, "globals": {}, "tables": None}, "returns_seed",
     "a seed text needs a vocab"),
    ({"vocab": "", "returns_seed": False, "args": [], "kwargs": {}, "tables": None, "model": {}}, "model",
     "args, kwargs and globals call the target with a model"),
])
def test_option_combinations_are_checked_at_load(change, where, words):
    definition = REGISTRY["declared.stochastic_beam"]
    if where is None:  # a value refused by the option's own validator
        name, raw = next(iter(change.items()))
        with pytest.raises(OptionError) as err:
            definition.options[name].validate(raw)
        assert words in err.value.what, err.value.what
        return
    given = {**definition.defaults(), "target": "beam_search", **COURSE, **change}
    if given["tables"] is None:
        given["tables"] = definition.defaults()["tables"]
    if words is None:
        given["model"] = {}
        definition.consistent(given)
        return
    with pytest.raises(OptionError) as err:
        definition.consistent(given)
    assert err.value.where == where and words in err.value.what + err.value.fix, (err.value.where, err.value.what)


# --------------------------------------------------------------------------- a task folder, live and released


GUIDE = Path(__file__).resolve().parents[1] / "docs" / "WRITING_TASKS.md"
HEAD = '''
[task]
name = "lm"
title = "Character generation"
module = "lm"

[interface]
names = ["beam_search"]

'''


def guide_check(convention: str) -> str:
    """The guide's example of a stochastic check on a model, under ``convention``, with fewer runs and cases."""
    text = GUIDE.read_text()
    block = text[text.index('[checks."lm.beam_search_sto"]'):]
    block = block[:block.index("```")]
    assert 'convention = "template"' in block
    return block.replace('convention = "template"', f'convention = "{convention}"\nruns = 200\ntemperatures = [1.0]')


def test_the_guides_example_grades_the_course_search_live_and_from_a_release(tmp_path):
    """The guide's example, through the worker, live and from a released bundle (the distributions are the
    judge's: no answer key's value is needed): the course's search passes it, and fails it under the textbook
    convention with the hint naming the template's."""
    from harness import bundle
    from harness.answers import BundleAnswers
    from harness.grading import grade
    from harness.release import write_release
    from harness.spec import load_tasks

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "lm.py").write_text(SEARCHES)
    for convention, status in (("template", "passed"), ("textbook", "failed")):
        tasks = tmp_path / convention / "tasks"
        (tasks / "lm").mkdir(parents=True)
        (tasks / "lm" / "task.toml").write_text(HEAD + guide_check(convention))
        (tasks / "lm" / "answer_key.py").write_text(SEARCHES)
        live = grade(mine, load_tasks(tasks)).checks
        write_release(tmp_path / convention / "released", load_tasks(tasks))
        released = bundle.load(tmp_path / convention / "released" / bundle.FOLDER)
        offline = grade(mine, released.specs(), answers=BundleAnswers(released)).checks
        for checks in (live, offline):
            assert [(c.id, c.status) for c in checks] == [("lm.beam_search_sto", status)], \
                [(c.id, c.message) for c in checks]
        assert [(c.message, c.hint) for c in live] == [(c.message, c.hint) for c in offline]
        if status == "failed":
            assert "template convention" in live[0].hint, live[0].hint
