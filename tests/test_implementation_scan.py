"""The static half of the implement-it-yourself rule."""
from harness.checks.implementation import scan_source

SOURCE = '''
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn import LSTMCell as TorchLSTM
from torch import _VF


class LSTMCell(nn.Module):
    def forward(self, x, state):
        return TorchLSTM(3, 4)(x, state)


class GRUCell(nn.Module):
    def forward(self, x, h):
        return torch.gru_cell(x, h, self.w, self.u, self.b, self.c)


def attend(q, k, v):
    return F.scaled_dot_product_attention(q, k, v)


def uses_vf(x):
    return _VF.lstm_cell(x)


class RNNCell(nn.Module):
    def forward(self, x, h):
        return torch.tanh(x @ self.weight_ih.T + h @ self.weight_hh.T)
'''


def test_scan_finds_each_builtin_in_its_scope():
    found = {(f.scope, f.name) for f in scan_source(SOURCE)}
    assert ("LSTMCell", "torch.nn.LSTMCell") in found
    assert ("GRUCell", "torch.gru_cell") in found
    assert ("attend", "torch.nn.functional.scaled_dot_product_attention") in found
    assert any(scope == "uses_vf" and "_VF" in name for scope, name in found)
    assert not any(scope == "RNNCell" for scope, _ in found)


def test_own_class_named_like_a_builtin_is_not_a_finding():
    assert scan_source("import torch.nn as nn\nclass LSTMCell(nn.Module):\n    pass\nc = LSTMCell()\n") == []


def test_unparsable_source_yields_nothing():
    assert scan_source("def broken(:\n") == []


def test_every_forbidden_built_in_is_where_the_one_list_says_and_the_scan_finds_it():
    import torch
    import torch.nn.functional as F

    from harness.runtime import forbidden

    places = ([("torch.nn", torch.nn, n) for n in forbidden.NN_CLASSES]
              + [("torch._VF", torch._VF, n) for n in forbidden.VF_FUNCTIONS]
              + [("torch", torch, n) for n in forbidden.VF_FUNCTIONS]
              + [("torch.nn.functional", F, n) for n in forbidden.FUNCTIONAL])
    assert [f"{path}.{name}" for path, owner, name in places if not hasattr(owner, name)] == []
    for path, _, name in places:
        found = scan_source(f"import torch\nimport torch.nn.functional\nx = {path}.{name}\n")
        assert f"{path}.{name}" in [f.name for f in found]
    assert [f.name for f in scan_source("import torch\nx = torch._VF\n")] == ["torch._VF"]


# --------------------------------------------------------------------------- read as Python runs it, bounded

import os  # noqa: E402
import types  # noqa: E402
from importlib.machinery import EXTENSION_SUFFIXES  # noqa: E402

import pytest  # noqa: E402

from harness.checks.implementation import (EVERY_SCOPE, MAX_SOURCE_BYTES, UNREADABLE,  # noqa: E402
                                           helper_findings, rule_verdict)


def test_an_encoding_declaration_is_honoured_as_python_honours_it():
    """UTF-7's ``+AAo-`` is a line break: the line is a comment to a UTF-8 reader, code to Python."""
    source = "import torch\ndef f(x):\n    return x  # +AAo-    return torch.nn.LSTMCell(3, 4)\n"
    assert scan_source(source) == []
    assert [(f.name, f.line, f.scope) for f in scan_source("# coding: utf-7\n" + source)] == [
        ("torch.nn.LSTMCell", 5, "f")]


@pytest.mark.parametrize("source", ["x = " + "-" * 200_000 + "1\n", "x = " + "not " * 100_000 + "y\n"],
                         ids=["minus", "not"])
def test_a_tree_too_deep_for_the_parser_is_a_finding_not_a_crash(source):
    (found,) = scan_source(source)
    assert (found.name, found.scope) == (UNREADABLE, EVERY_SCOPE) and "nested too deeply" in found.why


def test_a_utf7_file_that_hides_a_deep_tree_from_a_utf8_reader_is_read_as_the_worker_reads_it():
    """To UTF-8 the second line is 200,000 nested minus signs (the parser gives up); to Python it is a comment."""
    assert scan_source("# coding: utf-7\n+ACM- " + "-" * 200_000 + "1\nx = 1\n") == []


def test_what_is_parsed_is_capped():
    (found,) = scan_source("x = 1\n" * (MAX_SOURCE_BYTES // 6 + 1))
    assert found.name == UNREADABLE and "over the 1 MB" in found.why


def test_source_that_reaches_into_the_tripwire_is_found_whatever_its_scope():
    found = scan_source("import torch\nf = torch.nn.LSTMCell.forward.__wrapped__\n"
                        "g = getattr(torch.lstm_cell, '__closure__')\nimport _harness_runtime.worker\n")
    assert {(f.name.split()[0], f.scope) for f in found} >= {("__wrapped__", EVERY_SCOPE), ("__closure__", EVERY_SCOPE),
                                                             ("_harness_runtime", EVERY_SCOPE)}


def source_of(folder, text: str, name: str = "cells.py"):
    (folder / name).write_text(text)
    return types.SimpleNamespace(python=text, path=folder / name)


def test_helpers_are_followed_through_packages_and_relative_imports_and_scoped_to_their_users(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("from .inner import step\n")
    (tmp_path / "pkg" / "inner.py").write_text("import torch\n\n\ndef step(x, h):\n    return torch.gru_cell(x, h)\n")
    (tmp_path / "plain.py").write_text("import torch\nLAYER = torch.nn.LSTM\n")
    source = source_of(tmp_path, "import pkg\nfrom plain import LAYER as L\nStack = L\n\n"
                                 "class GRUCell:\n    def forward(self, x, h):\n        return pkg.step(x, h)\n\n"
                                 "class RNNCell:\n    pass\n\nclass StackedRNN:\n    layer = Stack\n")
    found = {(f.name, f.file, f.line, f.scope) for f in helper_findings(source)}
    assert ("torch.gru_cell", "pkg/inner.py", 5, "GRUCell") in found
    assert ("torch.nn.LSTM", "plain.py", 2, "StackedRNN") in found
    assert not any(scope == "RNNCell" for *_, scope in found)


def test_a_compiled_helper_is_refused_and_a_link_or_fifo_is_never_read(tmp_path):
    (tmp_path / f"fast{EXTENSION_SUFFIXES[0]}").write_bytes(b"\x7fELF")
    (tmp_path / "fast.py").write_text("x = 1\n")  # Python would import the compiled one first
    (tmp_path / "outside.py").symlink_to("/etc/passwd")
    os.mkfifo(tmp_path / "pipe.py")
    source = source_of(tmp_path, "import fast, outside, pipe\n\ndef f():\n    return fast.x\n")
    found = helper_findings(source)
    assert [(f.name, f.file, f.scope) for f in found] == [(UNREADABLE, "fast", EVERY_SCOPE)]
    assert "compiled code" in found[0].why


def test_the_helpers_followed_are_bounded(tmp_path):
    for i in range(80):
        (tmp_path / f"m{i}.py").write_text(f"import m{i + 1}\n")
    found = helper_findings(source_of(tmp_path, "import m0\n"))
    assert [f.name for f in found] == [UNREADABLE] and "past the 64 files" in found[0].why


def test_the_rule_fails_closed_on_what_it_cannot_read_and_on_a_tripwire_undone():
    trial = [types.SimpleNamespace(name="LSTMCell", outcome="computes", detail="")]
    locate = "cells.py, line {}".format
    verdict = rule_verdict("cells.py", trial, scan_source("x = " + "-" * 200_000 + "1\n"), [], locate, "b", "h")
    assert not verdict.passed and "cannot be judged" in verdict.message
    verdict = rule_verdict("cells.py", trial, [], ["tripwire undone: torch._VF.lstm_cell"], locate, "b", "h")
    assert not verdict.passed and "torch._VF.lstm_cell (undone at run time)" in verdict.message
    assert rule_verdict("cells.py", trial, [], [], locate, "b", "h").passed


def test_a_built_in_looked_up_by_name_is_found_and_a_name_built_at_run_time_is_not_taken_on_trust():
    found = scan_source("import torch\nfrom torch import nn\n\ndef f(k):\n    a = getattr(nn, 'LSTMCell')\n"
                        "    return getattr(torch, 'lstm' + k)\n\ndef g(x):\n    return getattr(torch, 'float64')\n")
    assert [(f.name, f.line, f.scope) for f in found] == [
        ("torch.nn.LSTMCell", 5, "f"), ("torch.<a name built at run time> (write the attribute out)", 6, "f")]


def test_the_static_witness_holds_the_module_and_its_helpers_under_the_names_that_use_them(tmp_path):
    """What the judge computes once per check: a class imported from a helper is found under its own name, which
    an interface map then turns into the contract's (Runner.contract_scopes)."""
    from harness.checks.implementation import static_witness

    (tmp_path / "parts.py").write_text("import torch\n\n\nclass MyLSTM(torch.nn.LSTMCell):\n    pass\n")
    source = source_of(tmp_path, "import torch\nfrom parts import MyLSTM\n\n\ndef f(x):\n    return torch.lstm(x)\n")
    assert {(f.name, f.file, f.scope) for f in static_witness(source, tmp_path)} == {
        ("torch.lstm", "", "f"), ("torch.nn.LSTMCell", "parts.py", "MyLSTM")}
