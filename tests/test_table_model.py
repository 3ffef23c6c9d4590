"""A model as argument: greedy and beam search called as a course calls them, on a table model built in the worker.

A task folder written here in the style of a character-level course (numpy beam search over a torch model
that takes (B, T, 1) ids left-padded with 0, ``char2idx``/``idx2char`` read as notebook globals, the seed text
returned); correct submissions written differently pass, wrong ones fail with the message that names what is
wrong. Graded through the worker (harness.grading.grade), as a class would be.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from harness.errors import SpecError
from harness.grading import grade
from harness.runtime.ops import ContractError
from harness.runtime.table_model import build
from harness.checks.tables import parse_tables
from harness.spec import load_tasks

ALL = ("public", "after_due_date", "hidden")

# beams "bd" and "cd" both end in d after two steps; what follows them differs at steps 3 and 4, so a beam
# search that finds a hypothesis's history (or state) by the token it ended with extends the wrong one
TASK = '''
[task]
name = "lm"
title = "Character generation"
module = "lm"
seed = 3

[interface]
names = ["generate_seq", "beam_search"]

[checks."lm.generate_seq"]
kind = "greedy"
target = "generate_seq"
points = 2
model = { kind = "module", input = "column", returns = "logits", positions = "all" }
vocab = "_abcd"
length = "exact"
returns_seed = true
args = ["$model", "$seed", 12, "$max_len"]
globals = { char2idx = "$char2idx", idx2char = "$idx2char" }
random_tables = 3

[[checks."lm.generate_seq".tables]]
about = "a short tree"
seed = "ab"
max_len = 3
next = { "" = { c = 0.6, d = 0.4 }, "c" = { a = 0.7, b = 0.3 }, "ca" = { d = 0.8, c = 0.2 } }

[checks."lm.beam_search"]
kind = "beam"
target = "beam_search"
points = 2
model = { kind = "module", input = "column", returns = "logits", positions = "all" }
vocab = "_abcd"
length = "exact"
returns_seed = true
hypotheses = "all"
args = ["$model", "$beam_width", "$max_len", "$seed", 12]
kwargs = { mode = "det" }
globals = { char2idx = "$char2idx", idx2char = "$idx2char" }
random_tables = 3

[[checks."lm.beam_search".tables]]
about = "two beams ending in d"
seed = "a"
max_len = 4
beam_widths = [2]
default = { a = 0.4, b = 0.35, c = 0.25 }
next = { "" = { b = 0.52, c = 0.48 }, "b" = { d = 0.6, a = 0.4 }, "c" = { d = 0.62, b = 0.38 }, "bd" = { a = 0.5, b = 0.3, c = 0.2 }, "cd" = { c = 0.9, a = 0.1 }, "bda" = { b = 0.99, c = 0.01 }, "cdc" = { a = 0.45, b = 0.55 }, "ba" = { a = 0.9, c = 0.1 }, "cb" = { c = 0.5, d = 0.5 } }
'''

KEY = '''
import numpy as np
import torch


def encode(text, max_length):
    ids = [char2idx.get(c, 0) for c in text][-max_length:]
    return torch.tensor([0] * (max_length - len(ids)) + ids).reshape(1, -1, 1)


def generate_seq(model, seed_text, max_length, n_words):
    out = seed_text
    for _ in range(n_words):
        with torch.no_grad():
            logits = model(encode(out, max_length))
        out += idx2char[int(torch.argmax(logits[0, -1]))]
    return out


def next_probs(model, ids, max_length):
    x = torch.tensor(list(ids[-max_length:])).reshape(1, -1, 1)
    with torch.no_grad():
        return torch.softmax(model(x)[0, -1], dim=-1).numpy()


def beam_search(model, num_beams, num_words, input_text, max_length, temp=1.0, mode="det"):
    start = np.array([char2idx[c] for c in input_text])
    histories, scores = [start], np.zeros(1)
    for _ in range(num_words):
        probs = np.stack([next_probs(model, h, max_length) for h in histories])
        total = (np.log(probs + 1e-10) + scores[:, None]).ravel()
        chosen = np.argsort(total)[::-1][:num_beams]
        vocab_size = probs.shape[1]
        histories = [np.append(histories[i // vocab_size], i % vocab_size) for i in chosen]
        scores = total[chosen]
    return np.stack(histories)
'''

TORCH_SOLUTION = '''
import torch


def generate_seq(model, seed_text, max_length, n_words):
    ids = [char2idx[c] for c in seed_text]
    for _ in range(n_words):
        x = torch.tensor(ids[-max_length:]).view(1, -1, 1)
        ids.append(model(x)[0, -1].argmax().item())
    return "".join(idx2char[i] for i in ids)


def beam_search(model, num_beams, num_words, input_text, max_length, temp=1.0, mode="det"):
    beams = [([char2idx[c] for c in input_text], 0.0)]
    for _ in range(num_words):
        candidates = []
        for ids, score in beams:
            logp = torch.log_softmax(model(torch.tensor(ids).view(1, -1, 1))[0, -1].double(), dim=-1)
            top = torch.topk(logp, num_beams)
            candidates += [(ids + [int(t)], score + float(v)) for v, t in zip(top.values, top.indices)]
        beams = sorted(candidates, key=lambda c: -c[1])[:num_beams]
    return [torch.tensor(ids) for ids, _ in beams]
'''

# the course's layout, in other words: candidates chosen over the flattened (beam, token) scores by a helper,
# histories kept as one 2-D array, every context padded on the left to the window, the trailing slice returned
SELECT_CANDIDATES = KEY.replace(KEY[KEY.index("def next_probs"):], '''def pick(probs, width, scores, histories):
    flat = (np.log(probs + 1e-10) + scores[:, None]).reshape(-1)
    best = np.argsort(flat)[::-1][:width]
    rows, tokens = best // probs.shape[1], best % probs.shape[1]
    return flat[best], np.concatenate([histories[rows], tokens[:, None]], axis=1)


def beam_search(model, num_beams, num_words, input_text, max_length, temp=1.0, mode="det"):
    histories = np.array([[char2idx[c] for c in input_text]])
    scores = np.zeros(1)
    for _ in range(num_words):
        probs = []
        for row in histories:
            window = list(row[-max_length:])
            x = torch.tensor([0] * (max_length - len(window)) + window).reshape(1, -1, 1)
            with torch.no_grad():
                probs.append(torch.softmax(model(x)[0, -1], dim=-1).numpy())
        scores, histories = pick(np.array(probs), num_beams, scores, histories)
    return histories[:, -(len(input_text) + num_words):]
''')

# a beam search that keeps one history per last token: two beams ending in d share the later one's
PARENT_BY_TOKEN = KEY.replace(
    "        histories = [np.append(histories[i // vocab_size], i % vocab_size) for i in chosen]",
    "        by_last = {int(h[-1]): h for h in histories}\n"
    "        parents = [histories[i // vocab_size] for i in chosen]\n"
    "        histories = [np.append(by_last[int(p[-1])], i % vocab_size) for p, i in zip(parents, chosen)]")
DROPS_SEED = KEY.replace("    return out\n", "    return out[len(seed_text):]\n")
ONE_SHORT = KEY.replace("    for _ in range(n_words):\n        with", "    for _ in range(n_words - 1):\n        with")


def task_folder(tasks: Path, name: str, spec: str, key: str) -> Path:
    """``tasks/<name>/`` with its task.toml and answer_key.py; returns ``tasks``."""
    (tasks / name).mkdir(parents=True)
    (tasks / name / "task.toml").write_text(spec)
    (tasks / name / "answer_key.py").write_text(key)
    return tasks


@pytest.fixture(scope="module")
def tasks(tmp_path_factory):
    return task_folder(tmp_path_factory.mktemp("course") / "tasks", "lm", TASK, KEY)


def failures(tasks, tmp_path, source: str) -> dict[str, str]:
    (tmp_path / "lm.py").write_text(source)
    results = grade(tmp_path, load_tasks(tasks), visibility=ALL)
    return {c.id: f"{c.message} || {c.hint}" for c in results.checks if c.status != "passed"}


def test_the_answer_key_and_solutions_written_differently_pass(tasks, tmp_path):
    for name, source in [("key", KEY), ("torch", TORCH_SOLUTION), ("course layout", SELECT_CANDIDATES)]:
        (tmp_path / name).mkdir()
        assert failures(tasks, tmp_path / name, source) == {}, name


def test_a_parent_found_by_its_last_token_fails_on_the_written_table(tasks, tmp_path):
    failed = failures(tasks, tmp_path, PARENT_BY_TOKEN)
    assert set(failed) == {"lm.beam_search"}, failed
    message = failed["lm.beam_search"]
    assert "beam_search(model, 2, 4, 'a', 12, mode='det') on two beams ending in d" in message
    assert "expected 'abdab'" in message and "got 'acdcb'" in message, message  # text, not ids


def test_the_seed_text_left_out_and_a_wrong_length_are_named(tasks, tmp_path):
    (tmp_path / "a").mkdir()
    failed = failures(tasks, tmp_path / "a", DROPS_SEED)
    assert set(failed) == {"lm.generate_seq"}, failed
    assert "the seed text 'ab' is missing at the start" in failed["lm.generate_seq"]
    assert "returns the seed text followed by what was generated" in failed["lm.generate_seq"]
    (tmp_path / "b").mkdir()
    failed = failures(tasks, tmp_path / "b", ONE_SHORT)
    assert "2 characters follow the seed, the contract asks for exactly 3" in failed["lm.generate_seq"], failed
    assert "this one stops early" in failed["lm.generate_seq"]


def test_globals_are_set_in_the_students_module_and_put_back(tasks, tmp_path):
    """char2idx comes from the spec; a module that defines its own is graded with the spec's and keeps its own."""
    source = KEY + "\nchar2idx = {'x': 0}\n\ndef probe():\n    return char2idx\n"
    assert failures(tasks, tmp_path, source) == {}


# --------------------------------------------------------------------------- a Keras-like model and a stateful step

PREDICT_TASK = TASK.replace('{ kind = "module", input = "column", returns = "logits", positions = "all" }',
                            '{ kind = "predict", input = "ids", positions = "last" }')
PREDICT_KEY = '''
import numpy as np


def generate_seq(model, seed_text, max_length, n_words):
    out = seed_text
    for _ in range(n_words):
        ids = [char2idx[c] for c in out][-max_length:]
        probs = model.predict(np.array([ids]), verbose=0)[0]
        out += idx2char[int(np.argmax(probs))]
    return out


def beam_search(model, num_beams, num_words, input_text, max_length, temp=1.0, mode="det"):
    beams = [([char2idx[c] for c in input_text], 0.0)]
    for _ in range(num_words):
        rows = model.predict(np.array([ids[-max_length:] for ids, _ in beams]))
        candidates = [(ids + [t], s + float(np.log(rows[b][t]))) for b, (ids, s) in enumerate(beams)
                      for t in range(rows.shape[1])]
        beams = sorted(candidates, key=lambda c: -c[1])[:num_beams]
    return np.array([ids for ids, _ in beams])
'''


def test_a_keras_like_model_with_predict(tmp_path):
    task_folder(tmp_path / "tasks", "lm", PREDICT_TASK, PREDICT_KEY)
    (tmp_path / "good").mkdir()
    assert failures(tmp_path / "tasks", tmp_path / "good", PREDICT_KEY) == {}
    (tmp_path / "torchy").mkdir()  # the module's code on a predict model: the contract's model has no forward
    failed = failures(tmp_path / "tasks", tmp_path / "torchy", TORCH_SOLUTION)
    assert set(failed) == {"lm.generate_seq", "lm.beam_search"}, failed
    assert "'TablePredictor' object is not callable" in failed["lm.generate_seq"], failed


STEP_TASK = '''
[task]
name = "ids"
title = "Decoding with a recurrent step"
module = "ids"
seed = 5

[interface]
names = ["greedy"]

[checks."ids.greedy"]
kind = "greedy"
target = "greedy"
points = 1
model = { kind = "step" }
length = "exact"
args = ["$model", "$bos", "$max_len"]
random_tables = 4
'''
STEP_KEY = '''
import torch


def greedy(step, bos, n):
    out, state, token = [], None, bos
    for _ in range(n):
        logp, state = step(token, state)
        token = int(torch.argmax(logp))
        out.append(token)
    return out
'''
# feeds the whole prefix again each step without the state: its history holds every token several times
STEP_WRONG = STEP_KEY.replace("        logp, state = step(token, state)",
                              "        logp, _ = step(token, state)")


def test_a_stateful_step_is_passed_back_its_state(tmp_path):
    task_folder(tmp_path / "tasks", "ids", STEP_TASK, STEP_KEY)
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "ids.py").write_text(STEP_KEY)
    results = grade(tmp_path / "good", load_tasks(tmp_path / "tasks"), visibility=ALL)
    assert [c.status for c in results.checks] == ["passed"], [c.message for c in results.checks]
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "ids.py").write_text(STEP_WRONG)
    results = grade(tmp_path / "bad", load_tasks(tmp_path / "tasks"), visibility=ALL)
    assert results.checks[0].status != "passed" and "greedy(model, 1, " in results.checks[0].message


# --------------------------------------------------------------------------- the table model itself


TABLE = parse_tables([{"seed": "ab", "max_len": 3, "next": {"": {"c": 0.6, "d": 0.4}, "c": {"a": 0.7, "b": 0.3}}}],
                     False, "_abcd")[0]


def model(**spec):
    return build(spec, TABLE.next, TABLE.default, TABLE.prompt, 16)


def test_each_input_form_reads_the_same_context_after_left_padding():
    ids = torch.tensor([[0, 0, 1, 2, 3]])  # pad, pad, then the seed "ab" and "c"
    want = torch.tensor([1e-6, 0.7, 0.3, 1e-6, 1e-6], dtype=torch.float64)
    for spec, x in [({"input": "ids"}, ids), ({"input": "column"}, ids.unsqueeze(-1)),
                    ({"input": "onehot"}, torch.nn.functional.one_hot(ids, 5).float().masked_fill(
                        (ids == 0).unsqueeze(-1), 0.0))]:
        probs = model(returns="probs", **spec)(x)
        assert probs.shape == (1, 5) and torch.allclose(probs[0].double(), want / want.sum(), atol=1e-6)
    every = model(returns="log_probs", positions="all")(ids)
    assert every.shape == (1, 5, 5) and int(every[0, 3].argmax()) == 3  # after "ab": c
    logits = model(returns="logits")(ids)
    assert torch.allclose(logits.softmax(-1), model(returns="probs")(ids), atol=1e-6)
    assert not torch.allclose(logits, model(returns="log_probs")(ids))  # logits are not log-probabilities
    assert isinstance(build({"kind": "predict"}, TABLE.next, TABLE.default, TABLE.prompt, 16).predict(
        np.array([[1, 2]])), np.ndarray)


def test_a_module_refuses_the_wrong_shape_and_bad_ids_saying_what_it_takes():
    with pytest.raises(ContractError, match=r"takes a batch of shape \(B, T, 1\), got shape \(1, 3\)"):
        model(input="column")(torch.tensor([[1, 2, 3]]))
    with pytest.raises(ContractError, match=r"token ids must lie in \[0, 5\)"):
        model()(torch.tensor([[1, 9]]))
    with pytest.raises(ContractError, match="fractional"):
        model()(torch.tensor([[1.5, 2.0]]))


def test_a_stateful_module_and_step_carry_what_they_read():
    m = model(state=True, returns="probs")
    first, state = m(torch.tensor([[1, 2]]))
    after, state = m(torch.tensor([[3]]), state)
    assert int(first.argmax()) == 3 and int(after.argmax()) == 1  # "" -> c, then "c" -> a
    with pytest.raises(ContractError, match="not one the model returned"):
        m(torch.tensor([[3]]), state + 0.5)
    step = build({"kind": "step"}, TABLE.next, TABLE.default, TABLE.prompt, 16)
    _, s = step(1)
    logp, s = step(torch.tensor(2), s)
    assert int(logp.argmax()) == 3
    batched, _ = step(torch.tensor([3, 4]), torch.stack([s, s]))
    assert batched.shape == (2, 5) and int(batched[0].argmax()) == 1


# --------------------------------------------------------------------------- the spec's options, checked at load


@pytest.mark.parametrize("change, phrase", [
    (('kind = "module", input = "column"', 'kind = "modul", input = "column"'), "model.kind: must be one of"),
    (('vocab = "_abcd"', 'vocab = "_abca"'), "must be a text of 4 to 256 distinct characters"),
    (('"$seed", 12, "$max_len"', '"$sede", 12, "$max_len"'), "unknown value '$sede'"),
    (('"$seed", 12, "$max_len"', '"$seed", 1000000000, "$max_len"'), "is over the 100000 a call may take"),
    (('"$seed", 12, "$max_len"', '"$seed", nan, "$max_len"'), "must be a finite number"),
    (('idx2char = "$idx2char" }\nrandom_tables = 3\n\n[[checks."lm.generate_seq"',
      'idx2char = "$model" }\nrandom_tables = 3\n\n[[checks."lm.generate_seq"'), "a global cannot hold the model"),
    (('length = "exact"\nreturns_seed = true\nargs = ["$model", "$seed", 12',
      'returns_seed = true\nargs = ["$model", "$seed", 12'), "a vocab has no eos"),
    (('seed = "ab"', 'seed = "az"'), "'z' is not a character of the vocab"),
    (('args = ["$model", "$seed", 12, "$max_len"]', 'args = ["$seed", 12, "$max_len"]'), "never passes the model"),
    (('max_len = 3', 'max_len = 100000'), "must be an integer from 1 to 64"),
    (('positions = "all" }\nvocab = "_abcd"\nlength = "exact"\nreturns_seed = true\nargs = ["$model", "$seed"',
      'positions = "all", hidden = 3 }\nvocab = "_abcd"\nlength = "exact"\nreturns_seed = true\nargs = ["$model", '
      '"$seed"'), "model.hidden: unknown key"),
    (('kind = "module", input = "column", returns = "logits", positions = "all" }\nvocab = "_abcd"\nlength = '
      '"exact"\nreturns_seed = true\nargs = ["$model", "$seed"',
      'kind = "predict", returns = "logits" }\nvocab = "_abcd"\nlength = "exact"\nreturns_seed = true\nargs = '
      '["$model", "$seed"'), "predict returns probabilities"),
    (('kind = "module", input = "column", returns = "logits", positions = "all" }\nvocab = "_abcd"\nlength = '
      '"exact"\nreturns_seed = true\nargs = ["$model", "$seed"',
      'kind = "step", state = true }\nvocab = "_abcd"\nlength = "exact"\nreturns_seed = true\nargs = '
      '["$model", "$seed"'), "only a module takes its state as an argument"),
    (('globals = { char2idx = "$char2idx", idx2char = "$idx2char" }\nrandom_tables = 3\n\n[[checks."lm.generate_seq"',
      'globals = { __name__ = "x" }\nrandom_tables = 3\n\n[[checks."lm.generate_seq"'), "not a name a module global"),
    (('args = ["$model", "$seed", 12, "$max_len"]', 'args = "$model"'), "must be a list of the call's arguments"),
    (('returns_seed = true\nargs = ["$model", "$seed", 12', 'accept_missing_eos = true\nreturns_seed = true\n'
      'args = ["$model", "$seed", 12'), "compared with the answer key's exactly"),
])
def test_a_wrong_option_is_refused_at_load_naming_the_key(tmp_path, change, phrase):
    assert change[0] in TASK, change[0]
    task_folder(tmp_path, "lm", TASK.replace(change[0], change[1], 1), KEY)
    with pytest.raises(SpecError, match="lm.generate_seq") as error:
        load_tasks(tmp_path)
    assert phrase in str(error.value), str(error.value)


def test_a_program_sets_a_global_for_its_call_and_puts_the_module_back():
    import types

    from harness.sandbox.program import Program, run

    student = types.ModuleType("lm")
    exec("char2idx = {'x': 0}\ndef probe():\n    return dict(char2idx), max_context_size\n", vars(student))
    p = Program()
    p.assign("lm.char2idx", p.op("vocab_map", "_ab", "char2idx"))
    p.assign("lm.max_context_size", 7)
    assert run(p.result(p.call("lm.probe")).to_json(), p.inputs, {"lm": student}) == ({"_": 0, "a": 1, "b": 2}, 7)
    assert student.char2idx == {"x": 0} and not hasattr(student, "max_context_size")


# --------------------------------------------------------------------------- the guide's example, and beams of states

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "WRITING_TASKS.md"


def guide_block(start: str) -> str:
    text = GUIDE.read_text()
    block = text[text.index(start):]
    return block[:block.index("```")]


def test_the_guides_beam_check_grades_as_it_says(tmp_path):
    head = TASK[:TASK.index('[checks."lm.generate_seq"]')].replace('"generate_seq", ', "")
    task_folder(tmp_path / "tasks", "lm", head + guide_block('[checks."lm.beam_search"]'), KEY)
    for name, source, fails in [("key", KEY, False), ("torch", TORCH_SOLUTION, False),
                                ("parent", PARENT_BY_TOKEN, True)]:
        (tmp_path / name).mkdir()
        assert ("lm.beam_search" in failures(tmp_path / "tasks", tmp_path / name, source)) == fails, name


def test_the_guides_written_check_helpers_build_a_program():
    import types

    from harness.checks.tables import TOKEN_IDS, Table, log_dist
    from harness.runtime.tokens import BOS, EOS
    from harness.sandbox.program import Program, run

    table = Table("a two-step tree", {"": log_dist({TOKEN_IDS["A"]: 0.7, EOS: 0.3}),
                                      "4": log_dist({EOS: 0.9, TOKEN_IDS["B"]: 0.1})}, log_dist({EOS: 1.0}), max_len=3)
    student = types.ModuleType("lm")
    exec("import torch\ndef greedy(model, n):\n    ids = [1]\n    for _ in range(n):\n"
         "        ids.append(int(model(torch.tensor([ids]))[0, -1].argmax()))\n        if ids[-1] == 2:\n"
         "            break\n    return ids[1:]\n", vars(student))
    p = Program()
    model = table.model(p, {"kind": "module", "input": "ids", "positions": "all"})
    assert run(p.result(p.call("lm.greedy", model, 3)).to_json(), p.inputs, {"lm": student}) == [4, EOS]
    assert table.prompt == [BOS] and table.text([4, EOS]) == "[4 (A), 2 (eos)]"


STEP_BEAM_TASK = STEP_TASK.replace('names = ["greedy"]', 'names = ["greedy", "beam"]') + '''
[checks."ids.beam"]
kind = "beam"
target = "beam"
points = 1
model = { kind = "step" }
length = "exact"
args = ["$model", "$bos", "$beam_width", "$max_len"]
random_tables = 6

[[checks."ids.beam".tables]]
about = "two beams ending in C"
max_len = 4
beam_widths = [2]
default = { A = 0.4, B = 0.35, C = 0.25 }
next = { "" = { A = 0.52, B = 0.48 }, "A" = { C = 0.6, B = 0.4 }, "B" = { C = 0.62, A = 0.38 }, "A C" = { B = 0.5, A = 0.3, D = 0.2 }, "B C" = { D = 0.9, B = 0.1 }, "A C B" = { A = 0.99, D = 0.01 }, "B C D" = { B = 0.45, A = 0.55 } }
'''
STEP_BEAM_KEY = STEP_KEY + '''

def beam(step, bos, width, n):
    beams = [([], 0.0, None, bos)]  # tokens, score, state, last token
    for _ in range(n):
        candidates = []
        for tokens, score, state, last in beams:
            logp, after = step(last, state)
            top = torch.topk(logp, width)
            candidates += [(tokens + [int(t)], score + float(v), after, int(t)) for v, t in zip(top.values, top.indices)]
        beams = sorted(candidates, key=lambda c: -c[1])[:width]
    return [(tokens, score) for tokens, score, _, _ in beams]
'''
# a state kept per last token: two beams ending in C share the state of the later one
STATE_BY_TOKEN = STEP_BEAM_KEY.replace('''        beams = sorted(candidates, key=lambda c: -c[1])[:width]''', '''        beams = sorted(candidates, key=lambda c: -c[1])[:width]
        by_last = {last: state for _, _, state, last in beams}
        beams = [(tokens, score, by_last[last], last) for tokens, score, _, last in beams]''')


def test_a_beam_search_that_keeps_one_state_per_last_token_fails(tmp_path):
    task_folder(tmp_path / "tasks", "ids", STEP_BEAM_TASK, STEP_BEAM_KEY)
    for name, source in [("good", STEP_BEAM_KEY), ("bad", STATE_BY_TOKEN)]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "ids.py").write_text(source)
    good = grade(tmp_path / "good", load_tasks(tmp_path / "tasks"), visibility=ALL)
    assert all(c.status == "passed" for c in good.checks), [c.message for c in good.checks]
    bad = {c.id: c for c in grade(tmp_path / "bad", load_tasks(tmp_path / "tasks"), visibility=ALL).checks}
    assert bad["ids.greedy"].status == "passed" and bad["ids.beam"].status == "failed"
    message = bad["ids.beam"].message
    assert message.startswith("beam(model, 1, 2, 4) on two beams ending in C: the best hypothesis: expected "
                              "[4 (A), 6 (C), 5 (B), 4 (A)]"), message
    assert bad["ids.beam"].points == 0  # the random tables catch it too


@pytest.mark.parametrize("returned, phrase", [
    ("3.5", "should return text, got"),
    ("'ab' + chr(955)", "should return text, got"),
    ("float('nan')", "should return text, got"),
])
def test_a_result_of_another_kind_is_refused_saying_what_is_expected(tasks, tmp_path, returned, phrase):
    source = KEY.replace("    return out\n", f"    return {returned}\n")
    failed = failures(tasks, tmp_path, source)
    assert phrase in failed["lm.generate_seq"], failed


def test_hypotheses_of_another_kind_are_refused(tasks, tmp_path):
    source = KEY.replace("    return np.stack(histories)", "    return np.stack(histories).astype(float)")
    failed = failures(tasks, tmp_path, source)
    assert "should return the hypotheses, best first (a 2-D array of ids, or a list of texts)" in \
        failed["lm.beam_search"], failed


def test_a_release_grades_the_table_model_checks_from_its_bundle(tasks, tmp_path):
    """The answer key's results on the table models are recorded in the bundle; a student's side, without the
    answer key, gives the live verdicts (the seed text left out is still named)."""
    from harness import bundle
    from harness.answers import BundleAnswers
    from harness.release import write_release

    write_release(tmp_path / "released", load_tasks(tasks))
    released = bundle.load(tmp_path / "released" / bundle.FOLDER)
    for name, source, failing in [("good", TORCH_SOLUTION, set()), ("seedless", DROPS_SEED, {"lm.generate_seq"})]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "lm.py").write_text(source)
        results = grade(tmp_path / name, released.specs(), visibility=("public",), answers=BundleAnswers(released))
        failed = {c.id: c.message for c in results.checks if c.status != "passed"}
        assert set(failed) == failing, failed
    assert "the seed text 'ab' is missing at the start" in failed["lm.generate_seq"]


def test_comparing_every_hypothesis_needs_a_model(tmp_path):
    without_model = STEP_BEAM_TASK.replace('model = { kind = "step" }\nlength = "exact"\n'
                                           'args = ["$model", "$bos", "$beam_width", "$max_len"]\n', 'hypotheses = "all"\n')
    task_folder(tmp_path, "ids", without_model, STEP_BEAM_KEY)
    with pytest.raises(SpecError, match=r'\[checks."ids.beam"\].hypotheses: only a check with a model'):
        load_tasks(tmp_path)


MODULE_TASK = '''
[task]
name = "ids"
title = "Decoding token ids with a model"
module = "ids"
seed = 7

[interface]
names = ["greedy", "generate"]

[checks."ids.greedy"]
kind = "greedy"
target = "greedy"
points = 1
model = { kind = "module", returns = "probs" }
random_tables = 4

[[checks."ids.greedy".tables]]
about = "a tree where eos comes early"
max_len = 4
default = { eos = 0.6, C = 0.4 }
next = { "" = { A = 0.5, B = 0.4, eos = 0.1 }, "A" = { eos = 0.3, C = 0.28, D = 0.22, A = 0.2 } }

[checks."ids.generate"]
kind = "greedy"
target = "generate"
points = 1
model = { kind = "module", state = true, returns = "log_probs" }
length = "exact"
args = ["$model", "$bos", "$max_len"]
random_tables = 4
'''
MODULE_KEY = '''
import torch


def greedy(model, bos, eos, max_len):
    ids = [bos]
    while len(ids) <= max_len and ids[-1] != eos:
        ids.append(int(model(torch.tensor([ids]))[0].argmax()))
    return ids[1:]


def generate(model, bos, n):
    out, state, x = [], None, torch.tensor([[bos]])
    for _ in range(n):
        logp, state = model(x, state)
        out.append(int(logp[0].argmax()))
        x = torch.tensor([[out[-1]]])
    return out
'''
WITH_BOS = MODULE_KEY.replace("    return ids[1:]", "    return ids")
# feeds everything again with the state it got: the model reads the prefix twice
FED_TWICE = MODULE_KEY.replace("        x = torch.tensor([[out[-1]]])", "        x = torch.tensor([[bos] + out])")


def test_token_ids_with_a_module_and_a_stateful_module(tmp_path):
    task_folder(tmp_path / "tasks", "ids", MODULE_TASK, MODULE_KEY)
    for name, source, failing, phrase in [
            ("key", MODULE_KEY, {}, ""),
            ("bos", WITH_BOS, {"ids.greedy"}, "it starts with bos (1)"),
            ("twice", FED_TWICE, {"ids.generate"}, "generate(model, 1, ")]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "ids.py").write_text(source)
        results = grade(tmp_path / name, load_tasks(tmp_path / "tasks"), visibility=ALL)
        failed = {c.id: f"{c.message} || {c.hint}" for c in results.checks if c.status != "passed"}
        assert set(failed) == set(failing), (name, failed)
        assert all(phrase in message for message in failed.values()), failed


def test_a_global_reaches_the_students_module_behind_an_interface_map():
    import types

    from harness.runtime.mapping import MappedModule
    from harness.sandbox.program import Program, run

    student = types.ModuleType("lm")
    exec("def probe():\n    return max_context_size\n", vars(student))
    p = Program()
    p.assign("lm.max_context_size", 9)
    assert run(p.result(p.call("lm.probe")).to_json(), p.inputs, {"lm": MappedModule(student, {}, {})}) == 9
    assert not hasattr(student, "max_context_size")


def test_an_answer_key_whose_result_cannot_be_read_is_the_tasks_error(tmp_path):
    task_folder(tmp_path / "tasks", "lm", TASK, KEY.replace("    return out\n", "    return 3.5\n"))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "lm.py").write_text(KEY)
    results = grade(tmp_path / "sub", load_tasks(tmp_path / "tasks"), visibility=ALL)
    check = next(c for c in results.checks if c.id == "lm.generate_seq")
    assert check.status == "error" and "the answer key returned float 3.5, which reads as neither text nor token ids" \
        in check.message, check.message
