"""Greedy and beam search on tables: the shipped tables catch bookkeeping, every form the contract
allows passes, and tables written in a spec are read (or refused) with the key named.

In-process (without a worker): each form of beam search stands in for the answer key's.
"""
from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest
import torch

import reference_models.generation as ref
from harness.checks.decoding import BOS, EOS, parse_tables
from harness.spec import SpecError, default_tasks_dir, load_spec
from helpers import run_in_process, shipped_answers, shipped_definitions, shipped_options
from reference_models import variants

BEAM_TABLES = parse_tables(shipped_options()["generation.beam_search"]["tables"], beam=True)
DEEP = next(t for t in BEAM_TABLES if t.max_len == 5)


def step_of(table):
    return lambda prefix: table.log_probs([int(t) for t in prefix[1:]])


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
            elif len(tokens) == max_len:
                if rank < beam_width:
                    finished.append((tokens, score))
            else:
                beams.append((tokens, score))
            if len(beams) == beam_width:
                break
        if not beams or (len(finished) >= beam_width and min(s for _, s in finished) >= max(s for _, s in beams)):
            break
    return sorted(finished, key=lambda c: -c[1])[:beam_width]


ACCEPTED = {"answer key": ref.beam_search, "Hugging Face, early stop": hf_beam_search,
            **{v.name: v.impl for v in variants.CATALOGUE if v.kind == "accepted"}}


@pytest.mark.parametrize("table", BEAM_TABLES, ids=lambda t: t.about[:24])
def test_every_accepted_form_finds_the_same_best_on_every_written_table(table):
    for width in table.beam_widths:
        bests = {name: form(step_of(table), BOS, EOS, width, table.max_len)[0] for name, form in ACCEPTED.items()}
        scores = {name: round(score, 9) for name, (_, score) in bests.items()}
        assert len(set(scores.values())) == 1, (width, bests)


def test_the_deep_table_separates_greedy_beam_2_and_beam_3():
    step = step_of(DEEP)
    greedy = ref.greedy_search(step, BOS, EOS, DEEP.max_len)
    beam2 = ref.beam_search(step, BOS, EOS, 2, DEEP.max_len)[0][0]
    beam3 = ref.beam_search(step, BOS, EOS, 3, DEEP.max_len)[0][0]
    assert len({tuple(greedy), tuple(beam2), tuple(beam3)}) == 3
    assert beam3[-1] == EOS and len(beam3) < DEEP.max_len - 2  # the best finishes early
    assert len(greedy) == DEEP.max_len  # greedy is cut by max_len


def test_the_deep_table_gives_every_prefix_the_searches_visit_its_own_distribution():
    visited = []

    def step(prefix):
        visited.append(" ".join(map(str, prefix[1:])))
        return step_of(DEEP)(prefix)

    for width in (1, 2, 3):
        ref.beam_search(step, BOS, EOS, width, DEEP.max_len)
    depth = max(len(p.split()) for p in visited)
    assert depth == 4 and set(visited) <= set(DEEP.next), set(visited) - set(DEEP.next)


def test_two_beams_end_in_the_same_token_on_the_deep_table():
    def tracking(step, bos, eos, beam_width, max_len):
        live, finished = [([], 0.0)], []
        while live:
            lasts = [t[-1] for t, _ in live if t]
            shared.append(len(lasts) != len(set(lasts)))
            width = beam_width - len(finished)
            candidates = sorted([(t + [x], s + lp) for t, s in live for lp, x in ref._ranked(step([bos, *t]), width)],
                                key=lambda c: -c[1])
            live = []
            for t, s in candidates[:width]:
                (finished if t[-1] == eos or len(t) == max_len else live).append((t, s))
        return finished

    shared = []
    tracking(step_of(DEEP), BOS, EOS, 3, DEEP.max_len)
    assert any(shared)


@pytest.mark.parametrize("form", sorted(ACCEPTED), ids=str)
def test_the_beam_check_passes_every_accepted_form(form):
    verdict = run_in_process("generation.beam_search", beam_search=ACCEPTED[form])
    assert verdict.passed, verdict.message


@pytest.mark.parametrize("name,words", [
    ("beam_parent_by_token", "summed log-probability under the table"),
    ("beam_extends_finished", "goes on after eos"),
    ("beam_drops_finished", "got a list of 0"),
    ("beam_search_length_normalised", "divided by the number of tokens"),
    ("beam_is_greedy", "the best hypothesis"),
])
def test_each_bookkeeping_mistake_fails_the_beam_check_and_is_named(name, words):
    verdict = run_in_process("generation.beam_search", beam_search=getattr(variants, name))
    assert not verdict.passed and verdict.fraction < 0.8
    assert words in verdict.message and verdict.numbers["diagnosis"] == [name], (verdict.message, verdict.hint)


def test_without_the_deep_table_the_parent_by_token_mistake_passes_the_small_ones():
    """What the issue found: shallow tables cannot see a parent taken by its token."""
    small = [t for t in shipped_options()["generation.beam_search"]["tables"] if t["max_len"] < 5]
    verdict = run_in_process("generation.beam_search", {"tables": small, "random_tables": 0},
                             beam_search=variants.beam_parent_by_token)
    assert verdict.passed


def test_random_tables_catch_a_search_that_only_knows_the_written_tables():
    written = {t.max_len for t in BEAM_TABLES}

    def memorised(step, bos, eos, beam_width, max_len):
        if step([bos]).exp()[4] > 0.2 or max_len != 5:  # the written tables (A is likely first)
            return ref.beam_search(step, bos, eos, beam_width, max_len)
        return ref.beam_search(step, bos, eos, 1, max_len)

    assert written
    verdict = run_in_process("generation.beam_search", {"tables": []}, beam_search=memorised)
    assert not verdict.passed and "random table" in verdict.message


def test_greedy_is_compared_exactly_on_random_tables_and_names_the_first_difference():
    def wrong_after_two(step, bos, eos, max_len):
        tokens = ref.greedy_search(step, bos, eos, max_len)
        return tokens[:2] + [4] * (len(tokens) - 2) if len(tokens) > 3 else tokens

    verdict = run_in_process("generation.greedy_search", {"tables": []}, greedy_search=wrong_after_two)
    assert not verdict.passed and "position 2" in verdict.message and "random table" in verdict.message


def test_greedy_without_eos_fails_unless_the_spec_accepts_it():
    verdict = run_in_process("generation.greedy_search", greedy_search=variants.greedy_drops_eos)
    assert not verdict.passed and verdict.numbers["diagnosis"] == ["greedy_drops_eos"]
    assert run_in_process("generation.greedy_search", {"accept_missing_eos": True},
                          greedy_search=variants.greedy_drops_eos).passed


def test_beam_check_rejects_bos_and_disorder():
    def with_bos(step, bos, eos, beam_width, max_len):
        return [([bos] + t, s) for t, s in ref.beam_search(step, bos, eos, beam_width, max_len)]

    verdict = run_in_process("generation.beam_search", beam_search=with_bos)
    assert not verdict.passed and "starts with bos" in verdict.message

    def worst_first(step, bos, eos, beam_width, max_len):
        return ref.beam_search(step, bos, eos, beam_width, max_len)[::-1]

    verdict = run_in_process("generation.beam_search", beam_search=worst_first)
    assert not verdict.passed and "not sorted best first" in verdict.message


# --------------------------------------------------------------------------- tables written in a spec


TASK = """[task]
name = "decoding"
title = "Decoding"
module = "generation"
seed = 1

[checks."generation.beam_search"]
points = 1
random_tables = 0

[[checks."generation.beam_search".tables]]
about = "mine"
max_len = 3
beam_widths = [1, 2]
{extra}
"""


def spec_with(tmp_path, extra: str):
    """A generation task with one beam-search table: task.toml, and the generation task's checks.py beside it."""
    path = tmp_path / "task.toml"
    path.write_text(TASK.format(extra=extra))
    shutil.copy(default_tasks_dir() / "generation" / "checks.py", tmp_path / "checks.py")
    return load_spec(path)


def test_a_table_written_with_token_names_is_read_and_graded(tmp_path):
    spec = spec_with(tmp_path, 'next = { "" = { A = 0.6, B = 0.4 }, "A" = { eos = 1.0 }, "B" = { eos = 0.9, C = 0.1 } }')
    (check,) = spec.checks
    (table,) = parse_tables(check.options["tables"], beam=True)
    assert table.beam_widths == (1, 2) and set(table.next) == {"", "4", "5"}
    assert run_in_process("generation.beam_search", check.options).passed
    verdict = run_in_process("generation.beam_search", check.options, beam_search=variants.beam_is_greedy)
    assert verdict.passed  # greedy and beam agree on this table: nothing to catch


@pytest.mark.parametrize("extra,key,words", [
    ('next = { "" = { E = 1.0 } }', '.tables[0].next.""', "unknown token 'E'"),
    ('next = { "" = { A = 1.5 } }', '.tables[0].next."".A', "probability"),
    ('next = { "" = { A = 0.5 } }', '.tables[0].next.""', "sum to 0.5"),
    ('nxt = { "" = { A = 1.0 } }', ".tables[0].nxt", "unknown key"),
    ("", ".tables[0].next", "missing"),
])
def test_a_wrong_table_is_refused_with_its_key(tmp_path, extra, key, words):
    with pytest.raises(SpecError) as err:
        spec_with(tmp_path, extra)
    assert key in str(err.value) and words in str(err.value), str(err.value)


def test_the_option_defaults_are_random_tables_only():
    options = shipped_definitions()["generation.beam_search"].defaults()
    assert options["tables"] == [] and options["random_tables"] > 0


def test_the_readme_example_table_is_read_and_graded():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme[readme.index('[[checks."generation.beam_search".tables]]'):]
    tables = tomllib.loads(block[:block.index("```")])["checks"]["generation.beam_search"]["tables"]
    assert len(parse_tables(tables, beam=True)) == 1
    assert run_in_process("generation.beam_search", {"tables": tables, "random_tables": 0}).passed


DECLARED = '''
[task]
name = "decoding"
title = "Decoding, declared"
module = "generation"

[interface]
names = ["greedy_search", "beam_search"]

[checks."decoding.greedy"]
kind = "greedy"
target = "greedy_search"
points = 1

[checks."decoding.beam"]
kind = "beam"
target = "beam_search"
points = 1
random_tables = 8
'''


def test_greedy_and_beam_declared_in_toml_judge_their_target(tmp_path):
    """kind = "greedy" / "beam" in a task's TOML run the table checks on the target it names: the answer key's
    forms pass, a greedy that drops eos and a beam search that is greedy fail, named from the catalogue."""
    import types

    from harness.checks import Context
    from harness.sandbox import program as interpreter

    folder = tmp_path / "decoding"
    folder.mkdir()
    shutil.copy(default_tasks_dir() / "generation" / "answer_key.py", folder)
    (folder / "task.toml").write_text(DECLARED)
    spec = load_spec(folder / "task.toml")
    assert {c.id: c.definition for c in spec.checks} == {"decoding.greedy": "declared.greedy",
                                                        "decoding.beam": "declared.beam"}
    answers = shipped_answers()

    def verdict(check_id: str, **replacements):
        check = next(c for c in spec.checks if c.id == check_id)
        module = types.SimpleNamespace(**{**vars(answers.namespace["generation"]), **replacements})
        student = {**answers.namespace, "generation": module}
        runner = lambda program: types.SimpleNamespace(  # noqa: E731
            header={}, value=interpreter.run(program.to_json(), program.inputs, student))
        ctx = Context(check.id, check.options, spec.tolerances, spec.seed, runner, answers, task=spec)
        return spec.definitions[check.definition].func(ctx)

    assert verdict("decoding.greedy").passed and verdict("decoding.beam").passed
    assert verdict("decoding.beam", beam_search=variants.beam_search_full_beam).passed  # another accepted form
    dropped = verdict("decoding.greedy", greedy_search=variants.greedy_drops_eos)
    assert not dropped.passed and "greedy_search(step, bos=" in dropped.message
    greedy = verdict("decoding.beam", beam_search=variants.beam_is_greedy)
    assert not greedy.passed and "beam_search(step, bos=" in greedy.message
