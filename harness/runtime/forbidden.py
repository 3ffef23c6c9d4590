"""The torch built-ins the implement-it-yourself rule forbids, and where torch keeps them.

One list for both witnesses of the rule: the judge's static scan (``harness/checks/implementation.py``)
looks for these names in a submission's source; the worker's tripwire (``worker.py``) wraps them
where they live and records which ones a program reached. Standard library only.
"""
from __future__ import annotations

#: Classes of ``torch.nn``: the recurrent cells and layers (and the bases they are built on),
#: attention and the transformer blocks. The tripwire records a call of their ``forward`` and the
#: construction of a submission's own class built on one of them.
NN_CLASSES = ("RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU", "RNNBase", "RNNCellBase",
              "MultiheadAttention", "Transformer", "TransformerEncoder", "TransformerDecoder",
              "TransformerEncoderLayer", "TransformerDecoderLayer")
#: The fused recurrent kernels those classes call, in ``torch._VF`` and (the same ones) in ``torch``.
VF_FUNCTIONS = ("lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell", "lstm", "gru", "rnn_tanh", "rnn_relu")
#: Attention in ``torch.nn.functional``.
FUNCTIONAL = ("scaled_dot_product_attention", "multi_head_attention_forward")
#: Namespaces forbidden as such: reaching into ``torch._VF`` at all (in the worker, its kernels above
#: are wrapped one by one).
NAMESPACES = ("_VF",)
#: Every forbidden name: what the static scan looks for after a torch module path.
NAMES = frozenset(NN_CLASSES + VF_FUNCTIONS + FUNCTIONAL + NAMESPACES)

#: The attribute that marks a torch cell the judge's program built on purpose (a known-good cell to test
#: a student's layer with): the tripwire does not count what it calls.
PROBE_ATTR = "_harness_probe"

#: How the tripwire reports a guard found undone when a program ends (a wrapper replaced, the original put back,
#: the recording switched off): ``TAMPERED + "torch.nn.LSTMCell.forward"`` among the names it reports. The judge
#: treats it as a breach of the rule, whatever was called.
TAMPERED = "tripwire undone: "
