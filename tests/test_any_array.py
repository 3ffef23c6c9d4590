"""Any array type is the same answer (issue 19, part 1): harness/checks/compare.py's as_array rule, the one reader of
returned tokens (harness/checks/tables.py's tokens_of and hypotheses_of), numpy answer keys
live and from a release, and declared cases that pass numpy inputs (harness/checks/declared.py's ``array``).

One assignment, written twice: once with numpy and once with torch, each graded against an answer key of the other
kind. Task ``npkey``'s answer key is numpy and its cases pass tensors; task ``torchkey``'s answer key is torch and its
cases pass numpy arrays (``array = true``), so that functions written for numpy receive numpy.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from harness import bundle
from harness.answers import BundleAnswers, detached
from harness.checks.compare import IN_WORDS, as_array, mismatch
from harness.checks.tables import Table, hypotheses_of, tokens_of
from harness.errors import SpecError
from harness.grading import grade
from harness.release import write_release
from harness.runtime import wire
from harness.spec import load_tasks

NAMES = ["log_softmax_t", "top_ids", "perplexity"]

NUMPY = '''import numpy as np


def log_softmax_t(scores, temperature=1.0):
    z = np.asarray(scores) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def top_ids(scores, k):
    return np.argsort(-np.asarray(scores), axis=-1, kind="stable")[..., :k]


def perplexity(log_probs):
    return float(np.exp(-np.mean(np.asarray(log_probs))))
'''

TORCH = '''import torch


def log_softmax_t(scores, temperature=1.0):
    z = torch.as_tensor(scores) / temperature
    return z - torch.logsumexp(z, dim=-1, keepdim=True)


def top_ids(scores, k):
    return torch.topk(torch.as_tensor(scores), k, dim=-1).indices


def perplexity(log_probs):
    return torch.as_tensor(log_probs).mean().neg().exp()
'''

#: Torch, returning Python lists and numbers: the same values again.
LISTS = TORCH.replace("    return z - torch.logsumexp(z, dim=-1, keepdim=True)",
                      "    return (z - torch.logsumexp(z, dim=-1, keepdim=True)).tolist()") \
             .replace("k, dim=-1).indices", "k, dim=-1).indices.tolist()") \
             .replace(".neg().exp()", ".neg().exp().item()")

CHECKS = '''
[checks."{task}.log_softmax_t"]
kind = "equals"
target = "log_softmax_t"
points = 2
{array}cases = [
  {{ args = [{{ randn = [3, 6], scale = 2.0 }}] }},
  {{ about = "a high temperature", args = [{{ randn = [5] }}], kwargs = {{ temperature = 3.0 }} }},
]

[checks."{task}.top_ids"]
kind = "equals"
target = "top_ids"
points = 1
dtypes = ["float64"]
{array}cases = [{{ args = [{{ randn = [4, 9] }}, 3] }}]

[checks."{task}.perplexity"]
kind = "equals"
target = "perplexity"
points = 1
dtypes = ["float64"]
{array}cases = [{{ args = [{{ uniform = [20], low = -4.0, high = -0.1 }}] }}]
'''


#: The numpy answer key's catalogue: one mistake, written with numpy too.
CATALOGUE = '''import numpy as np


def multiplied(scores, temperature=1.0):
    z = np.asarray(scores) * temperature
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


CATALOGUE = [{"name": "multiplied", "target": "log_softmax_t", "kind": "mistake", "impl": multiplied,
              "description": "the scores are multiplied by the temperature; divide them by it"}]
'''


def _task(folder, name: str, key: str, array: bool):
    (folder / name).mkdir(parents=True)
    (folder / name / "task.toml").write_text(
        f'[task]\nname = "{name}"\ntitle = "Scores"\nmodule = "{name}"\nseed = 5\n\n'
        f'[interface]\nnames = {NAMES!r}\n'.replace("'", '"')
        + CHECKS.format(task=name, array="array = true\n" if array else ""))
    (folder / name / "answer_key.py").write_text(key)


@pytest.fixture(scope="module")
def tasks(tmp_path_factory):
    """``npkey``: a numpy answer key, tensors passed; ``torchkey``: a torch answer key, numpy arrays passed."""
    folder = tmp_path_factory.mktemp("course") / "tasks"
    _task(folder, "npkey", NUMPY, array=False)
    (folder / "npkey" / "catalogue.py").write_text(CATALOGUE)
    _task(folder, "torchkey", TORCH, array=True)
    return folder


def _submission(tmp_path, code: str):
    folder = tmp_path / "sub"
    folder.mkdir(exist_ok=True)
    for task in ("npkey", "torchkey"):
        (folder / f"{task}.py").write_text(code)
    return folder


def failures(results) -> dict[str, str]:
    return {c.id: f"{c.message} {c.hint}" for c in results.checks if c.status != "passed"}


# --------------------------------------------------------------------------- graded live


@pytest.mark.parametrize("code", [NUMPY, TORCH, LISTS], ids=["numpy", "torch", "lists"])
def test_one_function_in_numpy_torch_or_lists_passes_against_a_key_of_either_kind(tasks, tmp_path, code):
    results = grade(_submission(tmp_path, code), load_tasks(tasks))
    assert len(results.checks) == 6
    assert failures(results) == {}


def test_a_wrong_value_fails_whatever_the_array_types(tasks, tmp_path):
    """The numpy version with the temperature multiplied, the ids in the wrong order and the mean not negated:
    each check of both tasks fails, saying where."""
    wrong = NUMPY.replace("np.asarray(scores) / temperature", "np.asarray(scores) * temperature") \
                 .replace('kind="stable")[..., :k]', 'kind="stable")[..., :k][..., ::-1]') \
                 .replace("np.exp(-np.mean", "np.exp(np.mean")
    failed = failures(grade(_submission(tmp_path, wrong), load_tasks(tasks)))
    assert set(failed) == {f"{t}.{n}" for t in ("npkey", "torchkey") for n in NAMES}, failed
    assert "(a high temperature): output: largest error" in failed["npkey.log_softmax_t"]
    assert "the scores are multiplied by the temperature" in failed["npkey.log_softmax_t"]  # a numpy variant matched
    torch_key = failed["torchkey.log_softmax_t"]  # that task has no catalogue: a mistake derived from its answer key
    assert "the scores are multiplied by the temperature" not in torch_key
    assert "multiplied by temperature instead of divided by it" in torch_key  # (harness.checks.mutants)
    assert "top_ids(a float64 numpy array (4, 9), 3): output: differs at index [0, 0]" in failed["torchkey.top_ids"]
    assert "perplexity(a float64 tensor (20)): output: got 0.16357, expected 6.11358" in failed["npkey.perplexity"]


def test_integers_for_floats_and_floats_for_integers_fail(tasks, tmp_path):
    """Same values, other kind: ids as floats, a perplexity rounded to an int."""
    kinds = NUMPY.replace('kind="stable")[..., :k]', 'kind="stable")[..., :k].astype(float)') \
                 .replace("return float(np.exp(", "return round(np.exp(")
    failed = failures(grade(_submission(tmp_path, kinds), load_tasks(tasks)))
    assert set(failed) == {f"{t}.{n}" for t in ("npkey", "torchkey") for n in ("top_ids", "perplexity")}, failed
    assert ("output: expected integers or booleans, got floating-point values (float64 where int64 was expected)"
            in failed["npkey.top_ids"])
    assert "output: expected floating-point values, got integers or booleans" in failed["torchkey.perplexity"]


def test_a_shape_or_precision_mismatch_still_fails(tasks, tmp_path):
    """Float32 cases answered in float64, and a perplexity of shape (1,) for a scalar."""
    shapes = NUMPY.replace("    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))",
                           "    return (z - np.log(np.exp(z).sum(axis=-1, keepdims=True))).astype(np.float64)") \
                   .replace("return float(np.exp(-np.mean(np.asarray(log_probs))))",
                            "return np.exp(-np.mean(np.asarray(log_probs), keepdims=True))")
    failed = failures(grade(_submission(tmp_path, shapes), load_tasks(tasks)))
    assert set(failed) == {f"{t}.{n}" for t in ("npkey", "torchkey") for n in ("log_softmax_t", "perplexity")}
    for task, kind in (("torchkey", "numpy array"), ("npkey", "tensor")):
        assert (f"log_softmax_t(a float32 {kind} (3, 6)): output: expected dtype float32, got float64"
                in failed[f"{task}.log_softmax_t"]), failed
    assert "output: expected shape a scalar, got (1)" in failed["npkey.perplexity"]


HOSTILE = {
    "strings": "np.array(['a', 'b', 'c'])",
    "objects": "np.array([1.0, 'x', None], dtype=object)",
    "ragged": "[[1, 2], [3]]",
    "nan": "np.full(np.asarray(scores).shape[:-1] + (k,), np.nan)",
    "huge": "list(range(1_000_000))",
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_odd_arrays_fail_with_words_never_an_error(tasks, tmp_path, kind):
    code = NUMPY.replace('    return np.argsort(-np.asarray(scores), axis=-1, kind="stable")[..., :k]',
                         f"    return {HOSTILE[kind]}")
    results = grade(_submission(tmp_path, code), load_tasks(tasks))
    failed = failures(results)
    assert set(failed) == {"npkey.top_ids", "torchkey.top_ids"}, failed
    assert all(c.status == "failed" for c in results.checks if c.id in failed)
    said = {
        "strings": "output: expected an array of shape (4, 3), got a list whose item 0 is str 'a', not a number",
        "objects": "output: expected an array of shape (4, 3), got a list whose item 1 is str 'x', not a number",
        "ragged": "output: expected an array of shape (4, 3), got a ragged list (item 0 has shape (2), item 1 (1))",
        "nan": "output: expected integers or booleans, got floating-point values",
        "huge": "output: expected shape (4, 3), got (1000000)",
    }[kind]
    assert said in failed["npkey.top_ids"], failed["npkey.top_ids"]


def test_an_implementation_check_runs_numpy_inputs(tmp_path):
    """``array = true`` on an implementation check: the numpy version computes something from numpy inputs and
    passes; the torch version uses the forbidden built-in and fails, named."""
    folder = tmp_path / "tasks"
    _task(folder, "torchkey", TORCH, array=True)
    spec = folder / "torchkey" / "task.toml"
    spec.write_text(spec.read_text() + '''
[checks."torchkey.log_softmax_t.implementation"]
kind = "implementation"
target = "log_softmax_t"
points = 1
array = true
forbidden = ["torch.logsumexp"]
cases = [{ args = [{ randn = [3, 4] }] }]
''')
    for code, failed in ((NUMPY, {}), (TORCH, {"torchkey.log_softmax_t.implementation"})):
        results = grade(_submission(tmp_path, code), load_tasks(folder))
        assert set(failures(results)) == set(failed), failures(results)
    assert "torch.logsumexp" in failures(results)["torchkey.log_softmax_t.implementation"]


# --------------------------------------------------------------------------- from a release


def test_a_numpy_answer_key_grades_the_same_from_a_release(tasks, tmp_path):
    """The bundle holds the numpy key's values as tensors, as the live judge now reads them: the student's side
    gives the live verdicts, passes and failures alike."""
    write_release(tmp_path / "released", load_tasks(tasks))
    released = bundle.load(tmp_path / "released" / bundle.FOLDER)
    contract = (tmp_path / "released" / "CONTRACT.md").read_text()
    assert contract.count(IN_WORDS) == 1
    numpy_row = ("| `torchkey.top_ids` | 1 | equals the answer key on the declared calls "
                 "(its drawn inputs are numpy arrays) |")
    assert numpy_row in contract
    assert "| `npkey.top_ids` | 1 | equals the answer key on the declared calls |" in contract
    wrong = NUMPY.replace("np.exp(-np.mean", "np.exp(np.mean").replace("/ temperature", "* temperature")
    both = {f"{t}.{n}" for t in ("npkey", "torchkey") for n in ("perplexity", "log_softmax_t")}
    for code, expected in ((TORCH, set()), (NUMPY, set()), (LISTS, set()), (wrong, both)):
        folder = tmp_path / str(len(code))
        folder.mkdir()
        for task in ("npkey", "torchkey"):
            (folder / f"{task}.py").write_text(code)
        results = grade(folder, released.specs(), visibility=("public",), answers=BundleAnswers(released))
        assert len(results.checks) == 6
        assert set(failures(results)) == expected, failures(results)
        if expected:  # the catalogue's variant, recorded from the numpy key, names the mistake here too
            assert "the scores are multiplied by the temperature" in failures(results)["npkey.log_softmax_t"]


# --------------------------------------------------------------------------- the spec


GRADIENTS = '''
[checks."torchkey.log_softmax_t.gradients"]
kind = "gradients"
target = "log_softmax_t"
points = 1
cases = [{ args = [{ randn = [2, 3] }], array = true }]
'''


@pytest.mark.parametrize("old, new, key, phrase", [
    ("array = true\ncases", 'array = "yes"\ncases', "log_softmax_t\"].array", "must be"),
    ("{ args = [{ randn = [4, 9] }, 3] }", "{ args = [{ randn = [4, 9] }, 3], array = 1 }", "cases[0].array",
     "must be a bool"),
    ("", GRADIENTS, "gradients\"].cases[0].array", "numpy inputs carry no gradients"),
])
def test_a_wrong_array_option_is_refused_naming_its_key(tmp_path, old, new, key, phrase):
    folder = tmp_path / "tasks"
    _task(folder, "torchkey", TORCH, array=True)
    spec = folder / "torchkey" / "task.toml"
    text = spec.read_text()
    spec.write_text(text.replace(old, new, 1) if old else text + new)
    with pytest.raises(SpecError) as refused:
        load_tasks(folder)
    said = str(refused.value)
    assert key in said and phrase in said, said


# --------------------------------------------------------------------------- the rule itself


def test_the_rule_reads_every_array_type_alike():
    t = torch.tensor([[0.5, -1.0], [2.0, 3.25]], dtype=torch.float64)
    rows = [np.array(r) for r in t.numpy()], [torch.tensor(r, dtype=torch.float64) for r in t.tolist()]
    for other in (t.numpy(), t.tolist(), *rows):
        assert mismatch(other, t, 1e-9, 0) is None and mismatch(t, other, 1e-9, 0) is None
    assert mismatch(2.5, torch.tensor(2.5), 0, 0) is None and mismatch(np.float32(2.5), 2.5, 0, 0) is None
    assert mismatch([1, 2], np.array([1, 2], dtype=np.int32), 0, 0) is None
    assert as_array([True, 2])[0].dtype == torch.int64 and as_array([1, 2.5])[0].dtype == torch.float64
    assert as_array([[1, 2], [3]]) is None and as_array(["a"]) is None and as_array(2 ** 70) is None
    nested = 0.0
    for _ in range(40):
        nested = [nested]
    assert as_array(nested) is None  # deeper than MAX_DIMS: not an array, and no RecursionError


def test_a_tuple_is_several_results_never_an_array():
    assert "got a tuple of 2" in mismatch((1.0, 2.0), torch.tensor([1.0, 2.0], dtype=torch.float64), 0, 0)


def test_nan_matches_only_nan():
    e = torch.tensor([math.nan, 1.0], dtype=torch.float64)
    assert mismatch([math.nan, 1.0], e, 1e-6, 0) is None
    assert "NaN at index [1] where 1 was expected" in mismatch(np.array([math.nan, math.nan]), e, 1e-6, 0)


def test_an_answer_keys_numpy_values_become_what_the_wire_sends():
    """Live (answers.detached) and released (the wire) alike: arrays of numbers are tensors of their dtype, scalars
    numbers, arrays of strings or objects lists."""
    value = {"a": np.arange(3, dtype=np.int32), "b": (np.float64(0.5), np.array(["x", "y"])),
             "c": [np.array([1, None], dtype=object)]}
    live = detached(value)
    tree, tensors = wire.encode(value)
    released = wire.decode(tree, tensors)
    for got in (live, released):
        assert got["a"].dtype == torch.int32 and got["a"].tolist() == [0, 1, 2]
        assert got["b"] == (0.5, ["x", "y"]) and got["c"] == [[1, None]]


# --------------------------------------------------------------------------- one reader of returned tokens

TEXT = Table("abc", {}, torch.zeros(3), max_len=2, vocab="abc")


@pytest.mark.parametrize("value, want", [
    ([4, 5, 0], [4, 5, 0]),
    ((4, 5), [4, 5]),
    ([], []),
    (np.array([4, 5], dtype=np.int64), [4, 5]),
    (np.array([4, 5], dtype=np.uint8), [4, 5]),
    ([np.int64(4), np.int32(5)], [4, 5]),
    ([torch.tensor(4), torch.tensor([5])], [4, 5]),
    ([4, torch.tensor(5), np.int64(6)], [4, 5, 6]),
    (torch.tensor([4, 5]), [4, 5]),
    (torch.tensor([], dtype=torch.long), []),
    (torch.tensor([4.0, 5.0]), None),
    (np.array([4.0, 5.0]), None),
    ([4.0, 5.0], None),
    ([True, False], None),
    (torch.tensor([True]), None),
    ([torch.tensor(4.0)], None),
    ([torch.tensor([4, 5])], None),
    (torch.tensor([[4, 5]]), None),
    ("ab", None),
    (None, None),
    (4, None),
])
def test_one_reader_takes_every_integer_array_type_and_refuses_floats_and_booleans(value, want):
    assert tokens_of(value) == want


def test_text_reads_through_the_vocab_only_when_there_is_one():
    assert tokens_of("cab", TEXT) == [2, 0, 1]
    assert tokens_of(["c", "a"], TEXT) == [2, 0]
    assert tokens_of("cax", TEXT) is None
    assert tokens_of(np.array([2, 0]), TEXT) == [2, 0]


def test_hypotheses_read_rows_pairs_and_texts_and_mark_a_row_that_does_not_read():
    assert hypotheses_of(np.array([[4, 5], [5, 4]])) == [[4, 5], [5, 4]]
    assert hypotheses_of([([4, 5], -0.1), (np.array([5]), np.float64(-0.7))]) == [[4, 5], [5]]
    assert hypotheses_of(["ab", "ba"], TEXT) == [[0, 1], [1, 0]]
    assert hypotheses_of([[4, 5], [0.5]]) == [[4, 5], None]
    assert hypotheses_of([]) is None
    assert hypotheses_of(torch.tensor([4, 5])) is None
    assert hypotheses_of("ab", TEXT) is None
