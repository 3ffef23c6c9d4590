"""The implement-it-yourself rule: a cell or attention function must not call torch's own.

Two witnesses, both judged here: a static reading of the source (its syntax tree, never executed)
that finds references to the forbidden built-ins and the top-level class or function they sit in,
and the worker's tripwire, which records the forbidden built-ins actually called while a program
ran (it catches ``getattr(torch.nn, "LSTM" + "Cell")`` and the like).
"""
from __future__ import annotations

import ast
from dataclasses import dataclass

FORBIDDEN = {
    "RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU", "RNNBase", "RNNCellBase", "MultiheadAttention",
    "Transformer", "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer",
    "TransformerDecoderLayer", "scaled_dot_product_attention", "multi_head_attention_forward",
    "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell", "lstm", "gru", "rnn_tanh", "rnn_relu", "_VF",
}
#: Module paths whose attributes of those names are torch's built-ins.
TORCH_OWNERS = {"torch", "torch.nn", "nn", "torch.nn.functional", "F", "functional", "torch._VF", "_VF",
                "torch.nn.modules", "torch.nn.modules.rnn", "torch.nn.modules.activation", "torch._C._VariableFunctions"}


@dataclass(frozen=True)
class Finding:
    name: str      # e.g. "torch.nn.LSTMCell"
    line: int
    scope: str     # the top-level class or function it is in, "" at module level


def _dotted(node) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def scan_source(source: str) -> list[Finding]:
    """Every reference to a forbidden torch built-in in ``source``, with its line and scope."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    aliases: dict[str, str] = {}   # local name -> the built-in it stands for
    module_aliases = {"torch": "torch"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "torch":
            for a in node.names:
                full = f"{node.module}.{a.name}"
                if a.name in FORBIDDEN:
                    aliases[a.asname or a.name] = full
                else:
                    module_aliases[a.asname or a.name] = full
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "torch":
                    module_aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
    scopes = []
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            scopes.append((node.lineno, node.end_lineno or node.lineno, node.name))

    def scope_of(line: int) -> str:
        return next((name for lo, hi, name in scopes if lo <= line <= hi), "")

    findings = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN:
            owner = _dotted(node.value)
            if owner is None:
                continue
            head, _, rest = owner.partition(".")
            expanded = module_aliases.get(head, head) + (f".{rest}" if rest else "")
            if owner in TORCH_OWNERS or expanded in TORCH_OWNERS or expanded.startswith("torch"):
                findings.append(Finding(f"{expanded}.{node.attr}", node.lineno, scope_of(node.lineno)))
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in aliases:
            findings.append(Finding(aliases[node.id], node.lineno, scope_of(node.lineno)))
    return sorted(set(findings), key=lambda f: (f.line, f.name))
