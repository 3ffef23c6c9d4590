"""Interface maps: a course's ``[interface.map]`` (task.toml) and a student's ``[map.<module>]`` (harness.toml) let
a submission written against its own names and parameter names be graded by the contract's programs.

The submission here is submissions/reference/attention.py with three names renamed: ``dot_attention`` is
``luong``; ``scaled_dot_product_attention`` is ``sdpa(keys, query, v, attn_mask=None, causal=False)`` (renamed and
re-ordered parameters); ``AdditiveAttention`` is ``Bahdanau(q_dim, k_dim, hidden_size)`` whose ``forward`` is
``attend``. Grading runs spawn a worker each, so there are few of them and each grades only the checks it needs.
"""
from __future__ import annotations

import shutil
import types
from pathlib import Path

import pytest
import torch

from harness.errors import SpecError
from harness.grading import grade
from harness.runtime import mapping
from harness.runtime.ops import ContractError
from harness.spec import load_spec, load_tasks
from harness.submission import SubmissionError, locate

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "submissions" / "reference"

COURSE_MAP = '''
[interface.map]
dot_attention = "luong"
[interface.map.scaled_dot_product_attention]
name = "sdpa"
args = { q = "query", k = "keys", mask = "attn_mask" }
[interface.map.AdditiveAttention]
name = "Bahdanau"
args = { query_size = "q_dim", key_size = "k_dim" }
methods = { forward = "attend" }
'''
MAPPED = ("attention.dot_attention", "attention.scaled_dot_product_attention.forward",
          "attention.scaled_dot_product_attention.mask", "attention.AdditiveAttention.forward")


def renamed_attention() -> str:
    source = (REFERENCE / "attention.py").read_text()
    edits = [
        ("def dot_attention(", "def luong("),
        ("def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, mask: Optional[Tensor] = None,",
         "def sdpa(keys: Tensor, query: Tensor, v: Tensor, attn_mask: Optional[Tensor] = None,"),
        ("    d = q.shape[-1]\n", "    q, k, mask = query, keys, attn_mask\n    d = q.shape[-1]\n"),
        ("scaled_dot_product_attention(q, k, v, mask=m, causal=causal)", "sdpa(k, q, v, attn_mask=m, causal=causal)"),
        ("class AdditiveAttention(nn.Module):", "class Bahdanau(nn.Module):"),
        ("    def __init__(self, query_size: int, key_size: int, hidden_size: int):\n        super().__init__()\n"
         "        self.query_size = query_size\n        self.key_size = key_size\n",
         "    def __init__(self, q_dim: int, k_dim: int, hidden_size: int):\n        super().__init__()\n"
         "        self.query_size = query_size = q_dim\n        self.key_size = key_size = k_dim\n"),
        ("    def forward(self, query: Tensor, keys: Tensor, values: Tensor,\n                mask",
         "    def attend(self, query: Tensor, keys: Tensor, values: Tensor,\n                mask"),
    ]
    for old, new in edits:
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    return source


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> types.SimpleNamespace:
    """The renamed submission; the attention task as shipped; the same task with COURSE_MAP."""
    root = tmp_path_factory.mktemp("interface_map")
    (root / "sub").mkdir()
    (root / "sub" / "attention.py").write_text(renamed_attention())
    shutil.copytree(ROOT / "tasks" / "attention", root / "mapped" / "attention",
                    ignore=shutil.ignore_patterns("__pycache__"))
    spec = root / "mapped" / "attention" / "task.toml"
    spec.write_text(spec.read_text().replace("\n[limits]", COURSE_MAP + "\n[limits]", 1))
    return types.SimpleNamespace(root=root, sub=root / "sub", spec=spec)


def attention_spec(path: Path | None = None, checks=MAPPED):
    spec = load_spec(path) if path else load_tasks(names=["attention"])[0]
    spec.checks = [c for c in spec.checks if c.id in checks]
    return spec


def statuses(results) -> dict[str, str]:
    return {c.id: c.status for c in results.checks}


def messages(results) -> dict[str, str]:
    return {c.id: c.message for c in results.checks}


# --------------------------------------------------------------------------- graded in a worker

def test_a_renamed_and_reordered_submission_passes_with_the_course_map_and_fails_without(folders):
    checks = (*MAPPED, "attention.MultiHeadSelfAttention.forward", "attention.implementation")
    mapped = grade(folders.sub, [attention_spec(folders.spec, checks)], visibility=("public",))
    assert statuses(mapped) == dict.fromkeys(checks, "passed"), messages(mapped)
    plain = grade(folders.sub, [attention_spec(checks=MAPPED)], visibility=("public",))
    assert statuses(plain) == dict.fromkeys(MAPPED, "failed")
    assert messages(plain)["attention.dot_attention"] == "attention.py does not define dot_attention"


def test_a_submissions_harness_toml_overrides_the_course_and_says_what_it_maps_to_nothing(folders, tmp_path):
    """harness.toml's entries replace the course's, name by name: here wrongly, and the checks say so naming the
    file, the contract name and the student's name; the course's other entries still hold."""
    sub = tmp_path / "sub"
    shutil.copytree(folders.sub, sub)
    (sub / "harness.toml").write_text('[map.attention]\ndot_attention = "luong_v2"\n'
                                      '[map.attention.scaled_dot_product_attention]\n'
                                      'name = "sdpa"\nargs = { q = "query", k = "keys", mask = "the_mask" }\n')
    results = grade(sub, [attention_spec(folders.spec)], visibility=("public",))
    assert statuses(results) == {**dict.fromkeys(MAPPED, "failed"), "attention.AdditiveAttention.forward": "passed"}
    found = messages(results)
    assert found["attention.dot_attention"] == ("harness.toml maps attention.dot_attention to 'luong_v2', but "
                                                "attention.py defines no 'luong_v2'")
    assert found["attention.scaled_dot_product_attention.forward"] == (
        "harness.toml maps the parameter mask of attention.scaled_dot_product_attention to 'the_mask', but sdpa in "
        "attention.py takes no parameter 'the_mask' (it takes: keys, query, v, attn_mask, causal)")


def test_the_student_side_check_from_a_release_applies_both_maps(tmp_path):
    """A released task.toml keeps its [interface.map]; the bundle holds the contract's signatures, so a
    student's machine binds ``args`` without the answer key; the student's harness.toml overrides the course's."""
    from harness.checking import run
    from harness.release import write_release

    task = tmp_path / "tasks" / "sequences"
    shutil.copytree(ROOT / "tasks" / "sequences", task, ignore=shutil.ignore_patterns("__pycache__"))
    (task / "task.toml").write_text((task / "task.toml").read_text().replace("\n[limits]", '''
[interface.map]
make_windows = "windows"
[interface.map.pad_sequences]
name = "pad"
args = { seqs = "sequences", maxlen = "max_len" }
''' + "\n[limits]", 1))
    released = tmp_path / "assignment"
    write_release(released, load_tasks(tmp_path / "tasks"))
    assert "[interface.map.pad_sequences]" in (released / ".harness" / "tasks" / "sequences" / "task.toml").read_text()
    sub = tmp_path / "sub"
    sub.mkdir()
    source = (REFERENCE / "sequences.py").read_text().replace("def pad_sequences(", "def _pad(")
    source = source.replace("def make_windows(", "def sliding_windows(")
    source += ("\n\ndef pad(max_len=None, sequences=(), padding=\"pre\", truncating=\"pre\", value=0):\n"
               "    return _pad(sequences, max_len, padding, truncating, value)\n")
    (sub / "sequences.py").write_text(source)
    (sub / "harness.toml").write_text('[map.sequences]\nmake_windows = "sliding_windows"\n')
    results = run(sub, ["sequences"], bundle=released / ".harness")
    assert statuses(results) == {"sequences.pad_sequences": "passed", "sequences.make_windows": "passed"}, \
        messages(results)


# --------------------------------------------------------------------------- errors before any worker starts

def with_map(folders, tmp_path, text: str) -> Path:
    folder = tmp_path / "attention"
    shutil.copytree(folders.spec.parent, folder)
    spec = folder / "task.toml"
    spec.write_text(spec.read_text().replace(COURSE_MAP, text))
    return spec


@pytest.mark.parametrize("text, key, problem", [
    ('[interface.map]\ndot_atention = "luong"\n', "[interface.map].dot_atention",
     "'dot_atention' is not a name of the contract — did you mean 'dot_attention'?"),
    ("[interface.map]\ndot_attention = 3\n", "[interface.map].dot_attention",
     "must be a name or a table, got 3"),
    ('[interface.map]\ndot_attention = "my attention"\n', "[interface.map].dot_attention",
     "must be your name for it: a Python name in quotes, got 'my attention'"),
    ('[interface.map.dot_attention]\nname = "luong"\narguments = { q = "query" }\n',
     "[interface.map].dot_attention.arguments", "unknown key — did you mean 'args'?"),
    ('[interface.map.dot_attention]\nname = "luong"\nargs = ["query"]\n', "[interface.map].dot_attention.args",
     "must be a table of contract parameter = \"yours\", got ['query']"),
])
def test_a_malformed_or_unknown_name_in_task_toml_is_a_spec_error_at_load(folders, tmp_path, text, key, problem):
    with pytest.raises(SpecError) as raised:
        load_spec(with_map(folders, tmp_path, text))
    assert raised.value.key == key
    assert f"{raised.value.problem} — {raised.value.fix}".startswith(problem)


def test_a_contract_parameter_or_method_that_does_not_exist_is_a_spec_error_at_load(folders, tmp_path):
    """Checked against the answer key beside task.toml, so ``harness grade`` and ``harness release`` stop at once."""
    spec = with_map(folders, tmp_path, '[interface.map.dot_attention]\nname = "luong"\nargs = { queries = "query" }\n')
    with pytest.raises(SpecError) as raised:
        load_spec(spec)
    assert raised.value.path == str(spec)
    assert raised.value.key == "[interface.map].dot_attention.args.queries"
    assert raised.value.problem == ("the contract's attention.dot_attention has no parameter 'queries' (its "
                                    "parameters: query, keys, values, mask)")
    assert raised.value.fix == "did you mean 'query'?"
    spec = with_map(folders, tmp_path / "2", '[interface.map.AdditiveAttention]\nname = "Bahdanau"\n'
                                             'methods = { froward = "attend" }\n')
    with pytest.raises(SpecError, match=r"\.methods\.froward: the contract's attention.AdditiveAttention has no "
                                        "method 'froward' — did you mean 'forward'\\?"):
        load_spec(spec)


@pytest.mark.parametrize("text, message", [
    ('[map.attention]\ndot_atention = "luong"\n',
     "[map.attention].dot_atention: 'dot_atention' is not a name of the attention contract — did you mean "
     "'dot_attention'?"),
    ('[map.attention.dot_attention]\nname = "luong"\nargs = { query = "q", queries = "q2" }\n',
     "[map.attention].dot_attention.args.queries: the contract's attention.dot_attention has no parameter "
     "'queries' (its parameters: query, keys, values, mask) — did you mean 'query'?"),
    ('[map.attention.dot_attention]\nname = "luong"\nargs = { keys = "query" }\n',
     "[map.attention].dot_attention.args: two parameters of attention.dot_attention, query and keys, would both "
     "be passed as 'query' — map keys to a name of its own"),
    ('[map.atention]\ndot_attention = "luong"\n',
     "[map.atention]: there is no module 'atention' — did you mean [map.attention]?"),
])
def test_an_unknown_name_or_parameter_in_harness_toml_is_a_submission_error(folders, tmp_path, text, message):
    sub = tmp_path / "sub"
    shutil.copytree(folders.sub, sub)
    (sub / "harness.toml").write_text(text)
    with pytest.raises(SubmissionError) as raised:
        grade(sub, [attention_spec()])
    assert str(raised.value) == f"{sub / 'harness.toml'}: {message}"


@pytest.mark.parametrize("text, message", [
    ('[map.attention]\ndot_attention = ["luong"]\n', "[map.attention].dot_attention: must be a name or a table"),
    ('[map.attention.dot_attention]\nname = "luong"\nmethod = { forward = "f" }\n',
     "[map.attention].dot_attention.method: unknown key — did you mean 'methods'?"),
    ('[map]\nattention = "luong"\n', "[map] must hold one table per module"),
])
def test_a_malformed_harness_toml_map_is_a_submission_error_when_the_folder_is_read(tmp_path, text, message):
    (tmp_path / "harness.toml").write_text(text)
    with pytest.raises(SubmissionError) as raised:
        locate(tmp_path, ["attention"])
    assert str(raised.value).startswith(f"{tmp_path / 'harness.toml'}: {message}")


# --------------------------------------------------------------------------- the worker's adapters, in process

def entry(name, params=None, methods=None):
    return {"name": name, "module": "m", "where": "task.toml", "file": "m.py", "params": params,
            "methods": methods or {}}


def test_a_function_is_called_in_the_contracts_terms_and_receives_the_students_keywords():
    def attend(keys, query, scale=1.0):
        return query, keys, scale

    module = types.SimpleNamespace(attend=attend, helper=1)
    params = [["q", "query"], ["k", "keys"], ["scale", "scale"]]
    mapped, problems = mapping.apply(module, {"f": entry("attend", params)})
    assert problems == {}
    assert mapped.f(1, 2) == (1, 2, 1.0)
    assert mapped.f(1, k=2, scale=3) == (1, 2, 3)
    assert mapped.helper == 1 and mapping.names_of(mapped) == ["attend", "f", "helper"]
    with pytest.raises(ContractError, match="attend in m.py takes no parameter 'causal', which stands for the "
                                            r"contract's m.f\(causal=…\): rename it, or map it in task.toml"):
        mapped.f(1, 2, causal=True)


def test_a_class_keeps_its_name_and_parameters_and_its_contract_method_reaches_the_students():
    class Cell(torch.nn.Module):
        def __init__(self, n_in, n_hidden):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(n_hidden, n_in))

        def step(self, x):
            return x @ self.weight.T

    module = types.SimpleNamespace(Cell=Cell)
    mapped, _ = mapping.apply(module, {"LSTMCell": entry("Cell", [["input_size", "n_in"], ["hidden_size", "n_hidden"]],
                                                         {"forward": "step"})})
    cell = mapped.LSTMCell(3, hidden_size=2)
    assert isinstance(cell, Cell) and type(cell).__name__ == "Cell"
    assert [n for n, _ in cell.named_parameters()] == ["weight"] and cell.weight.shape == (2, 3)
    assert cell(torch.ones(1, 3)).shape == (1, 2) and cell.forward(torch.ones(1, 3)).shape == (1, 2)


def test_a_map_that_points_to_nothing_is_a_problem_of_that_name_only():
    module = types.SimpleNamespace(f=lambda a: a, K=type("K", (), {}), value=3)
    mapped, problems = mapping.apply(module, {
        "missing": entry("nope"), "param": entry("f", [["x", "y"]]), "method": entry("K", None, {"forward": "go"}),
        "value": entry("value", [["x", "x"]])})
    assert problems == {
        "missing": "task.toml maps m.missing to 'nope', but m.py defines no 'nope'",
        "param": "task.toml maps the parameter x of m.param to 'y', but f in m.py takes no parameter 'y' (it takes: a)",
        "method": "task.toml maps the method m.method.forward to 'go', but K in m.py has no method 'go'",
        "value": "task.toml maps m.value to 'value', but value in m.py is not a function or a class (its type: int)"}
    with pytest.raises(ContractError, match="defines no 'nope'"):
        mapped.missing
    assert "missing" not in mapping.names_of(mapped)


def test_the_static_scan_finds_a_mapped_class_under_its_contract_name():
    """The implement-it-yourself rule reads the source by scope: a forbidden built-in in ``MyLSTM`` counts
    against ``LSTMCell`` when the map says that is what MyLSTM is."""
    from harness.checks.implementation import scan_source
    from harness.grading import Runner

    source = ("import torch\n\nclass MyLSTM(torch.nn.Module):\n"
              "    def step(self, x):\n        return torch.nn.LSTMCell(2, 2)(x)\n")
    runner = Runner(None, None, {"cells": {"LSTMCell": entry("MyLSTM")}})
    assert [(f.name, f.scope) for f in runner.contract_scopes("cells", scan_source(source))] == [
        ("torch.nn.LSTMCell", "LSTMCell")]
