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
