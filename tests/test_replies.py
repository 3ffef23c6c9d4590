"""Replies from the worker are checked on the judge's side before anything reads them
(harness/sandbox/replies.py): an honest reply passes with its texts cut, a forged one is a protocol error that
names the field and what was expected, and neither raises past the submission's boundary — shown on hand-made
forgeries, on generated ones (Hypothesis), and on a submission that forges its worker's replies for real."""
from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.checks import ContractBroken, StudentError
from harness.checks.compare import describe, mismatch
from harness.grading import ModuleBroken, Runner, grade
from harness.results import NAME_LIMIT, TEXT_LIMIT, CheckResult, Results
from harness.runtime import wire
from harness.sandbox.launcher import Reply, WorkerDied
from harness.sandbox.program import Program
from harness.sandbox.replies import SCHEMAS, ReplyError, check_reply
from harness.spec import load_tasks
from harness.submission import locate

HONEST = {
    "hello": {"hello": True, "pid": 12, "init_pid": 11, "uid": 65534, "mode": "full",
              "protections": {"pid_namespace": True, "no_new_privs": True}, "notes": {"rlimits": "set"}},
    "load": {"id": 1, "ok": True, "names": ["LSTMCell", "GRUCell"], "map_problems": {}, "answer_key_imports": []},
    "run": {"id": 2, "ok": True, "value": {"$tensor": "t0"}, "seconds": 0.01, "forbidden": [],
            "answer_key_imports": []},
}
ERROR = {"type": "ValueError", "message": "bad", "file": "cells.py", "line": 3, "code": "x = 1", "traceback": "..."}


@pytest.mark.parametrize("kind", sorted(HONEST))
def test_an_honest_reply_passes_unchanged(kind):
    assert check_reply(kind, HONEST[kind]) == HONEST[kind]


def test_an_error_or_a_broken_contract_passes():
    assert check_reply("load", {"id": 1, "ok": False, "error": ERROR, "answer_key_imports": ["harness"]})["error"] == ERROR
    assert check_reply("run", {"id": 1, "ok": False, "contract": "no parameter named weight_ih", "forbidden": []})


def test_long_texts_from_the_submission_are_cut_not_refused():
    """An exception message or a source line as long as the submission likes is the submission's right; it is cut."""
    reply = check_reply("run", {"id": 1, "ok": False, "error": {**ERROR, "message": "m" * 10**6, "code": "-" * 200_000}})
    assert len(reply["error"]["message"]) <= TEXT_LIMIT and len(reply["error"]["code"]) <= TEXT_LIMIT
    names = check_reply("load", {**HONEST["load"], "names": ["LSTMCell", "x" * 10**5]})["names"]
    assert names[0] == "LSTMCell" and len(names[1]) <= NAME_LIMIT


FORGED = [
    ("load", {"names": 3}, "names = 3", "a list"),
    ("load", {"answer_key_imports": [["harness"]]}, "answer_key_imports[0]", "a string"),
    ("load", {"map_problems": ["LSTMCell"]}, "map_problems", "an object"),
    ("load", {"ok": "yes"}, "ok = 'yes'", "true or false"),
    ("load", {"id": "1"}, "id = '1'", "an integer"),
    ("load", {"id": True}, "id = True", "an integer"),
    ("run", {"seconds": math.nan}, "seconds = nan", "a finite number"),
    ("run", {"seconds": -1}, "seconds = -1", "a finite number"),
    ("run", {"forbidden": "torch.nn.LSTM"}, "forbidden", "a list"),
    ("run", {"ok": False, "error": ["ValueError"]}, "error", "an object"),
    ("run", {"ok": False, "error": {"type": "E", "line": True}}, "error.line", "an integer"),
    ("run", {"ok": False, "error": {"message": "no type"}}, "error.type", "required"),
    ("run", {"ok": False, "error": {"type": "E", "extra": 1}}, "unknown field 'error.extra'", "only"),
    ("run", {"ok": False}, "error = None", "an error or a broken contract, as ok is false"),
    ("run", {"names": ["LSTMCell"]}, "unknown field 'names'", "only id, ok"),
    ("hello", {"protections": {"pid_namespace": 1}}, "protections['pid_namespace']", "true or false"),
    ("hello", {"notes": "none"}, "notes", "an object"),
    ("hello", {"pid": 1.5}, "pid", "an integer"),
]


@pytest.mark.parametrize("kind, change, field, expected", FORGED, ids=[f[2] for f in FORGED])
def test_a_forged_field_is_refused_with_the_field_and_what_was_expected(kind, change, field, expected):
    with pytest.raises(ReplyError) as caught:
        check_reply(kind, {**HONEST[kind], **change})
    message = str(caught.value)
    assert field in message and expected in message and f"its {kind} reply" in message
    assert len(message) < 600


@pytest.mark.parametrize("kind", ["load", "run"])
def test_a_reply_without_id_or_ok_is_refused(kind):
    for key in ("id", "ok"):
        with pytest.raises(ReplyError, match=f"{key} = None"):
            check_reply(kind, {k: v for k, v in HONEST[kind].items() if k != key})


def test_a_header_that_is_not_an_object_is_refused():
    with pytest.raises(ReplyError, match="an object"):
        check_reply("run", [1, 2])


# --------------------------------------------------------------------------- generated hostile replies


FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([math.nan, math.inf, -math.inf]))
TEXTS = st.one_of(st.text(max_size=20), st.integers(0, 50_000).map(lambda n: "z" * n))
LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), FLOATS, TEXTS)
TREES = st.recursive(LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                     max_leaves=20)
FIELDS = sorted({name for fields, _ in SCHEMAS.values() for name in fields} | {"error", "value", "junk", "$tensor"})
DEEP = st.integers(1, 3000).map(lambda n: _nest(n))


def _nest(levels: int):
    tree: object = 0
    for _ in range(levels):
        tree = [tree]
    return tree


HEADERS = st.tuples(st.sampled_from(sorted(HONEST)),
                    st.dictionaries(st.sampled_from(FIELDS), st.one_of(TREES, DEEP,
                                                                       st.fixed_dictionaries({"type": TEXTS},
                                                                                             optional={"line": TREES,
                                                                                                       "message": TREES})),
                                    max_size=4),
                    st.booleans())


class ReplayingSandbox:
    """A sandbox whose worker answers every request with one given header, checked as the launcher checks it."""

    starts, alive = 1, True

    def __init__(self, header):
        self.header = header

    def _reply(self, kind: str) -> Reply:
        try:
            return Reply(check_reply(kind, self.header), None)
        except ReplyError as exc:
            raise WorkerDied("protocol", f"the worker broke the protocol: {exc}") from None

    def load(self, module, filename, mapping=None) -> Reply:
        return self._reply("load")

    def run(self, program, inputs, timeout=None) -> Reply:
        return self._reply("run")


@pytest.fixture(scope="module")
def submission(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sub")
    (folder / "cells.py").write_text("x = 1\n")
    return locate(folder, ["cells"])


@settings(max_examples=150, deadline=None, derandomize=True)
@given(generated=HEADERS)
def test_generated_hostile_replies_never_raise_past_the_submission(submission, generated):
    """Whatever the worker sends, the judge's side either accepts it (texts cut, types right) or calls it a protocol
    error; a check built on it becomes a result that can be written — never an exception of the judge."""
    kind, fields, keep_honest = generated
    header = {**HONEST[kind], **fields} if keep_honest else fields
    try:
        checked = check_reply(kind, header)
    except ReplyError as exc:
        assert len(str(exc)) < 1000
    else:
        assert _texts_within(checked)
    runner = Runner(ReplayingSandbox(header), submission)
    outcome = "passed"
    try:
        runner.run("cells", Program().result(1))
    except (WorkerDied, ModuleBroken, StudentError, ContractBroken) as exc:
        outcome = str(exc) or type(exc).__name__
        if isinstance(exc, StudentError):
            outcome = exc.describe()
    result = CheckResult("cells.x", "cells", "error", 0.0, 1.0, outcome,
                         numbers={"names": runner.names.get("cells", []), "imports": sorted(runner._seen_imports)})
    Results("s", "0", "now", [], [result]).to_json()


MARKERS = st.sampled_from(["$tensor", "$tuple", "$dict", "$float", "$opaque"])
VALUES = st.recursive(LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.one_of(MARKERS, st.text(max_size=5)), inner,
                                                                       max_size=2)), max_leaves=20)
EXPECTED = st.sampled_from([torch.zeros(2, 3, dtype=torch.float64), (torch.ones(2), torch.zeros(1)), 1.5, 3,
                            {"h": torch.zeros(2), "c": [0.5, 1.0]}, [torch.zeros(1)], "text"])


@settings(max_examples=150, deadline=None, derandomize=True)
@given(tree=st.one_of(VALUES, DEEP), expected=EXPECTED)
def test_generated_values_decode_or_are_refused_and_compare_in_bounded_words(tree, expected):
    """A run reply's value: decoded (the reader thread does this) or a protocol error; compared with what a check
    expects, the difference is said in a bounded sentence, never raised."""
    try:
        value = wire.decode(tree, {"t0": torch.full((2, 3), math.nan, dtype=torch.float64)})
    except wire.ProtocolError:
        return
    said = mismatch(value, expected, 1e-6, 1e-8)
    assert said is None or len(said) < 2000
    assert len(describe(value)) <= 200


def _texts_within(tree, depth: int = 0) -> bool:
    if isinstance(tree, str):
        return len(tree) <= TEXT_LIMIT
    if isinstance(tree, dict):
        return all(_texts_within(v, depth + 1) for k, v in tree.items() if k != "value")
    if isinstance(tree, list):
        return all(_texts_within(v, depth + 1) for v in tree)
    return True


# --------------------------------------------------------------------------- a submission that forges, for real


FORGERS = {
    "names_is_an_int": """
        import gc
        worker = next(o for o in gc.get_objects() if type(o).__name__ == "Worker")
        worker._public_names = lambda module: 3
        """,
    "unhashable_import": """
        import gc
        worker = next(o for o in gc.get_objects() if type(o).__name__ == "Worker")
        worker.blocker.attempts.append(["harness"])
        """,
}


@pytest.mark.parametrize("forger", sorted(FORGERS))
def test_a_submission_that_forges_its_replies_loses_its_module_and_nothing_else(forger, tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "cells.py").write_text(textwrap.dedent(FORGERS[forger]))
    specs = load_tasks(names=["cells"])
    for spec in specs:
        spec.limits.timeout_s, spec.limits.load_timeout_s = 8, 15
    results = grade(folder, specs)
    assert results.checks and all(c.status == "error" for c in results.checks), [
        (c.id, c.status, c.message) for c in results.checks if c.status != "error"]
    field = "names = 3" if forger == "names_is_an_int" else "answer_key_imports[0]"
    assert all("broke the protocol" in c.message and field in c.message for c in results.checks), \
        results.checks[0].message
    path = tmp_path / "results.json"
    results.write(path)
    assert Results.read(path).score == 0


FORGER = """
import gc
import json
import os
import struct
import sys
import time


def forge(text):
    \"\"\"Write the frame ``text`` (NaN and Infinity tokens included) on the worker's reply pipe as the answer to
    the request being run, then hang.\"\"\"
    worker = next(o for o in gc.get_objects() if type(o).__name__ == "Worker")
    frame = sys._getframe()
    while frame is not None and frame.f_code.co_name != "serve":
        frame = frame.f_back
    header = json.loads(text)
    if header.get("id") == "same":
        header["id"] = frame.f_locals["header"]["id"]
    head = json.dumps(header).encode()
    data = memoryview(b"HRN1" + struct.pack(">Q", len(head)) + head + struct.pack(">Q", 0))
    while data:
        data = data[os.write(worker.fd_out, data):]
    time.sleep(60)
"""


@pytest.fixture(scope="module")
def forging_sandbox(tmp_path_factory):
    """A real worker whose submission forges the reply to any request it runs (see FORGER)."""
    from harness.runtime.config import Limits
    from harness.sandbox.launcher import Sandbox

    root = tmp_path_factory.mktemp("forger")
    (root / "submission").mkdir()
    (root / "scratch").mkdir()
    (root / "submission" / "cells.py").write_text(FORGER)
    sandbox = Sandbox(root / "submission", root / "scratch", Limits(timeout_s=10, load_timeout_s=20))
    yield sandbox, locate(root / "submission", ["cells"])
    sandbox.close()


RUN_FIELDS = st.dictionaries(st.sampled_from(sorted(SCHEMAS["run"][0]) + ["junk", "names"]),
                             st.one_of(TREES, DEEP), max_size=3)


@settings(max_examples=12, deadline=None, derandomize=True)
@given(fields=RUN_FIELDS, same_id=st.booleans(), ok=st.booleans())
def test_generated_frames_forged_from_inside_a_real_worker_cost_only_its_request(forging_sandbox, fields, same_id,
                                                                                  ok):
    """The submission writes a generated frame on the reply pipe itself, with the id of the request or another,
    NaN and infinities as bare JSON tokens:
    through the real launcher the judge takes it as a reply that fits, a protocol error, a frame that is not one,
    or a reply out of turn, and the check's result can always be written."""
    import json

    sandbox, submission = forging_sandbox
    header = {"ok": ok, **fields, "id": "same" if same_id else fields.get("id", 0)}
    try:
        text = json.dumps(header)  # NaN and Infinity as JSON tokens: Python's json reads them, so may the judge's
    except RecursionError:
        text = json.dumps({"ok": ok, "id": "same"})
    runner = Runner(sandbox, submission)
    program = Program()
    program.result(program.call("cells.forge", text))
    try:
        runner.run("cells", program, timeout=10)
        message = "accepted"
    except (WorkerDied, ModuleBroken, StudentError, ContractBroken) as exc:
        message = exc.describe() if isinstance(exc, StudentError) else str(exc)
    finally:
        sandbox.kill()  # the forger hangs after its frame: the next example starts a fresh worker
    Results("s", "0", "now", [], [CheckResult("cells.forge", "cells", "error", 0.0, 1.0, message)]).to_json()


# --------------------------------------------------------------------------- control characters


ESCAPES = "\x1b]0;owned\x07\x1b[2J\rfake: all passed\x9b"


def test_control_characters_a_submission_sends_reach_no_terminal_report_or_gradebook(tmp_path):
    """Escape sequences in an exception's text and in printed names are shown as escapes (\\x1b) wherever the
    harness writes them: the results document, the terminal, the report."""
    import json

    from click.testing import CliRunner

    from harness.cli import main

    example = Path(__file__).resolve().parents[1] / "docs" / "examples"
    source = (example / "submissions" / "good" / "charlm.py").read_text()
    source = source.replace("def softmax_t(", f"def softmax_t(*a, **k):\n    raise ValueError({ESCAPES!r})\n\n\n"
                                              "def _unused(", 1)
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "charlm.py").write_text(source, encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["check", str(sub), "--tasks-dir", str(example / "tasks"), "--json",
                                       str(out / "r.json"), "--report", str(out / "r.html")])
    strings = list(_strings(json.loads((out / "r.json").read_text(encoding="utf-8"))))
    report = (out / "r.html").read_text(encoding="utf-8")
    assert any("\\x1b]0;owned\\x07\\x1b[2J\\x0dfake" in t for t in strings), "the exception's text is shown"
    assert "\\x1b]0;owned" in result.output and "\\x1b]0;owned" in report
    for where, texts in {"terminal": [result.output], "results": strings, "report": [report]}.items():
        for control in ("\x1b", "\x07", "\r", "\x9b"):
            assert not any(control in t for t in texts), (where, repr(control))


def _strings(tree):
    if isinstance(tree, str):
        yield tree
    elif isinstance(tree, dict):
        for k, v in tree.items():
            yield k
            yield from _strings(v)
    elif isinstance(tree, list):
        for v in tree:
            yield from _strings(v)
