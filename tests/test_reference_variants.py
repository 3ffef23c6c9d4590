"""Every catalogued variant is a drop-in for its reference and can be told apart from it."""

import inspect
import math

import pytest
import torch

from reference_models import attention, cells, generation, sequences
from reference_models.variants import CATALOGUE, Variant, variants_for

MODULES = {"cells": cells, "attention": attention, "sequences": sequences, "generation": generation}
REQUIRED = """
rnn_sigmoid rnn_no_bias_hh lstm_gate_order_ifog lstm_g_sigmoid lstm_no_cell_tanh lstm_forget_no_bias
lstm_no_input_gate gru_z_swapped gru_reset_before_matmul gru_bias_outside_reset gru_gate_order_zrn
peephole_output_prev_c peephole_no_output_peephole rnnlayer_detached bidirectional_not_realigned
bidirectional_backward_reads_forwards stacked_input_to_every_layer clip_grad_norm_per_parameter
clip_grad_norm_max_norm dot_attention_wrong_axis dot_attention_scaled dot_attention_mask_ignored
dot_attention_mask_inverted dot_attention_mask_after_softmax additive_mask_ignored additive_mask_inverted
additive_mask_after_softmax sdpa_no_scale sdpa_scaled_by_dv sdpa_softmax_over_queries sdpa_mask_after_softmax
sdpa_mask_inverted sdpa_mask_ignored sdpa_fill_minus_1e9 mhsa_scaled_by_sqrt_E mhsa_weights_summed
mhsa_mask_ignored mhsa_mask_inverted mhsa_mask_after_softmax positional_encoding_sin_cos_swapped
positional_encoding_exponent_i_over_d temperature_multiplied perplexity_counts_pad
perplexity_mean_of_sequences perplexity_mean_of_batches perplexity_exp_mean_batch_loss perplexity_base2
greedy_search_ignores_eos pad_post
truncate_post make_windows_last_target
""".split()
B, T, D, H = 3, 4, 5, 5  # D == H: stacked_input_to_every_layer needs layer 2 to accept the input


def reference(variant: Variant):
    return getattr(MODULES[variant.module], variant.target)


def test_catalogue_is_well_formed():
    names = [v.name for v in CATALOGUE]
    assert len(names) == len(set(names))
    assert set(REQUIRED) <= set(names)
    for v in CATALOGUE:
        assert v.kind in ("variant", "mistake", "accepted"), v.name
        assert v.module in MODULES and hasattr(MODULES[v.module], v.target), v.name
        assert v.description and "\n" not in v.description and not v.description.endswith("."), v.name


def test_variants_for_filters_in_catalogue_order():
    gru = variants_for("cells", "GRUCell")
    assert [v.name for v in gru] == [v.name for v in CATALOGUE if v.target == "GRUCell"]
    assert {"gru_z_swapped", "gru_reset_before_matmul"} <= {v.name for v in gru}
    assert variants_for("cells", "NoSuchThing") == []
    assert variants_for("attention", "GRUCell") == []


@pytest.mark.parametrize("variant", CATALOGUE, ids=lambda v: v.name)
def test_same_signature_as_the_reference(variant):
    ref = reference(variant)
    if inspect.isclass(ref):
        assert issubclass(variant.impl, ref)
    else:
        ours, theirs = inspect.signature(variant.impl), inspect.signature(ref)
        assert [(p.name, p.default) for p in ours.parameters.values()] == [
            (p.name, p.default) for p in theirs.parameters.values()
        ]


# Probes: run the reference and the variant on the same inputs (and weights); return what the judge
# would compare. Inputs are chosen so that every variant has something to get wrong: masks with
# hidden positions, padding, dv != d, several heads, sequences longer and shorter than maxlen.


def leaf(*shape):
    return torch.randn(*shape, dtype=torch.float64, requires_grad=True)


def outputs_and_input_grad(module, x, *args):
    """Forward outputs and d(Σ r∘y)/dx: a variant that is right forwards but wrong backwards shows."""
    out = module(x, *args)
    flat = [t for t in _flatten(out) if t is not None]
    r = torch.Generator().manual_seed(9)
    loss = sum((t * torch.randn(t.shape, generator=r, dtype=t.dtype)).sum() for t in flat)
    (grad,) = torch.autograd.grad(loss, x)
    return [t.detach() for t in flat] + [grad]


def _flatten(out):
    if isinstance(out, torch.Tensor):
        return [out]
    return [t for item in out for t in _flatten(item)] if isinstance(out, (tuple, list)) else [out]


def probe_cell(ref_cls, var_cls):
    ref = ref_cls(D, H).double()
    var = var_cls(D, H).double()
    var.load_state_dict(ref.state_dict())  # the reference's weights, names and shapes
    lstm = issubclass(ref_cls, cells.LSTMCell)
    xs = leaf(B, T, D)
    state = (torch.randn(B, H, dtype=torch.float64), torch.randn(B, H, dtype=torch.float64)) if lstm else None
    return outputs_and_input_grad(cells.RNNLayer(ref), xs, state), outputs_and_input_grad(
        cells.RNNLayer(var), xs, state
    )


def probe_layer(ref_cls, var_cls):
    x = leaf(B, T, D)
    if ref_cls is cells.RNNLayer:
        make = lambda cls: cls(cell)  # noqa: E731
        cell = cells.LSTMCell(D, H).double()
    elif ref_cls is cells.Bidirectional:
        make = lambda cls: cls(fwd, bwd, "concat")  # noqa: E731
        fwd, bwd = cells.GRUCell(D, H).double(), cells.GRUCell(D, H).double()
    else:
        make = lambda cls: cls(stack)  # noqa: E731
        stack = [cells.RNNCell(D, H).double(), cells.RNNCell(H, H).double()]
    return outputs_and_input_grad(make(ref_cls), x), outputs_and_input_grad(make(var_cls), x)


def probe_clip(ref_fn, var_fn):
    def run(fn):
        gen = torch.Generator().manual_seed(3)
        params = [torch.nn.Parameter(torch.zeros(s, dtype=torch.float64)) for s in [(4, 3), (6,), (2,)]]
        for p, scale in zip(params, [5.0, 0.1, 1.0]):
            p.grad = scale * torch.randn(p.shape, generator=gen, dtype=torch.float64)
        total = fn(params, 1.0)  # None for clip_grad_value
        return [total] + [p.grad for p in params]

    return run(ref_fn), run(var_fn)


def probe_clip_value(ref_fn, var_fn):
    (_, *ref_grads), (_, *var_grads) = probe_clip(ref_fn, var_fn)
    return ref_grads, var_grads


def probe_additive(ref_cls, var_cls):
    ref = ref_cls(4, H, 6).double()
    var = var_cls(4, H, 6).double()
    var.load_state_dict(ref.state_dict())
    q, k, v = torch.randn(B, 4, dtype=torch.float64), torch.randn(B, 6, H, dtype=torch.float64), torch.randn(
        B, 6, H, dtype=torch.float64
    )
    mask = torch.arange(6) < torch.tensor([6, 4, 2]).unsqueeze(1)
    return list(ref(q, k, v, mask)), list(var(q, k, v, mask))


def probe_dot_attention(ref_fn, var_fn):
    q, k, v = torch.randn(B, H, dtype=torch.float64), torch.randn(B, 6, H, dtype=torch.float64), torch.randn(
        B, 6, H, dtype=torch.float64
    )
    mask = torch.arange(6) < torch.tensor([6, 4, 2]).unsqueeze(1)
    return list(ref_fn(q, k, v, mask)), list(var_fn(q, k, v, mask))


def probe_sdpa(ref_fn, var_fn):
    q, k, v = (torch.randn(2, 2, n, d, dtype=torch.float64) for n, d in [(4, 8), (6, 8), (6, 3)])  # dv != d
    mask = torch.rand(2, 1, 4, 6, generator=torch.Generator().manual_seed(1)) < 0.6
    mask[0, 0, 1] = False  # a query that may attend to no key
    return list(ref_fn(q, k, v, mask)), list(var_fn(q, k, v, mask))


def probe_mhsa(ref_cls, var_cls):
    ref = ref_cls(8, 2).double()
    var = var_cls(8, 2).double()
    var.load_state_dict(ref.state_dict())
    x = torch.randn(B, T, 8, dtype=torch.float64)
    mask = torch.arange(T) < torch.tensor([T, 3, 2]).unsqueeze(1)
    return list(ref(x, mask)), list(var(x, mask))


def probe_call(*args):
    return lambda ref_fn, var_fn: (ref_fn(*args), var_fn(*args))


GREEDY_TREE = {(): 5, (5,): 2, (5, 2): 6}  # eos (2) comes second; after it, more tokens would follow


def tree_step(prefix, vocab=8):
    logits = torch.zeros(vocab, dtype=torch.float64)
    logits[GREEDY_TREE.get(tuple(prefix[1:]), 2)] = 3.0
    logits[4] = 1.0
    return torch.log_softmax(logits, -1)


def deep_table_step():
    """The shipped beam-search table where every prefix up to length 4 has its own distribution."""
    from harness.checks.decoding import parse_tables
    from harness.spec import load_tasks

    (spec,) = load_tasks(names=["generation"])
    tables = next(c.options["tables"] for c in spec.checks if c.id == "generation.beam_search")
    deep = next(t for t in parse_tables(tables, beam=True) if t.max_len == 5)
    return lambda prefix: deep.log_probs([int(t) for t in prefix[1:]])


def perplexity_probe_inputs():
    gen = torch.Generator().manual_seed(2)
    rows = 40  # more than a batch of 32: the per-batch conventions differ from the corpus figure
    log_probs = torch.log_softmax(3 * torch.randn(rows, 6, 7, generator=gen, dtype=torch.float64), -1)
    targets = torch.randint(1, 7, (rows, 6), generator=gen)
    targets[0, 4:] = 0  # padding
    targets[2, 2:] = 0
    targets[-1, 3:] = 0
    return log_probs, targets


PROBES = {
    "RNNCell": probe_cell,
    "LSTMCell": probe_cell,
    "GRUCell": probe_cell,
    "PeepholeLSTMCell": probe_cell,
    "RNNLayer": probe_layer,
    "Bidirectional": probe_layer,
    "StackedRNN": probe_layer,
    "clip_grad_norm": probe_clip,
    "clip_grad_value": probe_clip_value,
    "dot_attention": probe_dot_attention,
    "AdditiveAttention": probe_additive,
    "scaled_dot_product_attention": probe_sdpa,
    "MultiHeadSelfAttention": probe_mhsa,
    "positional_encoding": probe_call(10, 8),
    "pad_sequences": probe_call([[1, 2, 3, 4, 5], [6, 7], []], 3),
    "make_windows": probe_call(list(range(10, 20)), 3),
    "softmax_with_temperature": probe_call(torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0]), 0.5),
    "greedy_search": probe_call(tree_step, 1, 2, 5),
    "beam_search": probe_call(deep_table_step(), 1, 2, 3, 5),
    "perplexity": probe_call(*perplexity_probe_inputs()),
}


def as_numbers(out) -> torch.Tensor:
    """Any probe output as one flat float64 vector (shapes that differ make it differ too)."""
    if isinstance(out, torch.Tensor):
        return torch.cat([torch.tensor([float(out.dim()), *out.shape], dtype=torch.float64), out.double().flatten()])
    if isinstance(out, (tuple, list)):
        parts = [as_numbers(item) for item in out]
        return torch.cat([torch.tensor([float(len(parts))], dtype=torch.float64), *parts])
    return torch.tensor([float(out)], dtype=torch.float64)


def differ(a, b) -> bool:
    a, b = as_numbers(a), as_numbers(b)
    return a.shape != b.shape or not torch.allclose(a, b, rtol=1e-6, atol=1e-8)


def test_every_target_has_a_probe():
    assert {v.target for v in CATALOGUE} <= set(PROBES)


NAMED = [v for v in CATALOGUE if v.kind != "accepted"]  # the forms a diagnosis can name


@pytest.mark.parametrize("variant", NAMED, ids=lambda v: v.name)
def test_variant_differs_from_the_reference(variant):
    torch.manual_seed(0)
    ref_out, var_out = PROBES[variant.target](reference(variant), variant.impl)
    assert differ(ref_out, var_out), f"{variant.name} cannot be told apart from the reference"


@pytest.mark.parametrize("target", sorted({v.target for v in NAMED}))
def test_variants_of_a_target_differ_from_each_other(target):
    """Otherwise a wrong answer matching one would match the other, and the diagnosis is ambiguous."""
    found = [v for v in NAMED if v.target == target]
    outputs = []
    for v in found:
        torch.manual_seed(0)
        outputs.append(PROBES[target](reference(v), v.impl)[1])
    for i in range(len(found)):
        for j in range(i):
            assert differ(outputs[i], outputs[j]), (found[i].name, found[j].name)


def test_the_probe_is_fair_the_reference_matches_itself():
    torch.manual_seed(0)
    for target, probe in PROBES.items():
        module = next(m for m in MODULES.values() if hasattr(m, target))
        ref = getattr(module, target)
        a, b = probe(ref, ref)
        assert not differ(a, b), target


def test_perplexity_variants_reproduce_the_metrics_md_figures():
    """Rows of (NLL sum, tokens) = (50, 20), (300, 100), (20, 5): 19.30 vs 28.96 vs 23.73."""
    log_probs = torch.full((3, 100, 5), -50.0, dtype=torch.float64)
    targets = torch.zeros(3, 100, dtype=torch.long)
    for n, (nll, length) in enumerate([(2.5, 20), (3.0, 100), (4.0, 5)]):
        targets[n, :length] = 3
        log_probs[n, :, 3] = -nll
    figures = {v.name: v.impl(log_probs, targets) for v in variants_for("generation", "perplexity")}
    assert generation.perplexity(log_probs, targets) == pytest.approx(19.30, abs=5e-3)
    assert figures["perplexity_mean_of_sequences"] == pytest.approx(28.96, abs=5e-3)
    assert figures["perplexity_exp_mean_sequence_loss"] == pytest.approx(23.73, abs=5e-3)
    assert figures["perplexity_base2"] == pytest.approx(2 ** (370 / 125), rel=1e-9)
    assert figures["perplexity_counts_pad"] == pytest.approx(math.exp((370 + 50 * 175) / 300), rel=1e-9)


def test_per_batch_perplexity_variants_reproduce_the_metrics_md_figures():
    """The same figures as batches of 32 rows, each batch's tokens in its first row: METRICS.md's batches."""
    from reference_models.variants import PERPLEXITY_BATCH

    log_probs = torch.full((3 * PERPLEXITY_BATCH, 100, 5), -50.0, dtype=torch.float64)
    targets = torch.zeros(3 * PERPLEXITY_BATCH, 100, dtype=torch.long)
    for n, (nll, length) in enumerate([(2.5, 20), (3.0, 100), (4.0, 5)]):
        targets[n * PERPLEXITY_BATCH, :length] = 3
        log_probs[n * PERPLEXITY_BATCH, :, 3] = -nll
    figures = {v.name: v.impl(log_probs, targets) for v in variants_for("generation", "perplexity")}
    assert generation.perplexity(log_probs, targets) == pytest.approx(19.30, abs=5e-3)
    assert figures["perplexity_mean_of_batches"] == pytest.approx(28.96, abs=5e-3)
    assert figures["perplexity_exp_mean_batch_loss"] == pytest.approx(23.73, abs=5e-3)
    few = log_probs[:PERPLEXITY_BATCH], targets[:PERPLEXITY_BATCH]  # one batch: the corpus figure
    assert perplexity_of(few, "perplexity_mean_of_batches") == pytest.approx(generation.perplexity(*few))


def perplexity_of(args, name: str) -> float:
    (variant,) = [v for v in variants_for("generation", "perplexity") if v.name == name]
    return variant.impl(*args)
