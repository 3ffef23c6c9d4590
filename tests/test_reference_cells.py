"""The reference cells and layers agree with PyTorch's, in float64, forwards and backwards."""

import math

import pytest
import torch
from torch import nn

from reference_models.cells import (
    Bidirectional,
    GRUCell,
    LSTMCell,
    PeepholeLSTMCell,
    RNNCell,
    RNNLayer,
    StackedRNN,
    clip_grad_norm,
    clip_grad_value,
)

B, T, D, H = 3, 5, 4, 6
PARAMS = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
KINDS = {  # reference cell, torch cell, torch layer, gates
    "rnn": (RNNCell, nn.RNNCell, nn.RNN, 1),
    "lstm": (LSTMCell, nn.LSTMCell, nn.LSTM, 4),
    "gru": (GRUCell, nn.GRUCell, nn.GRU, 3),
}


@pytest.fixture(autouse=True)
def seed():
    torch.manual_seed(0)


def leaf(*shape):
    return torch.randn(*shape, dtype=torch.float64, requires_grad=True)


def random_state(kind):
    return (leaf(B, H), leaf(B, H)) if kind == "lstm" else leaf(B, H)


def as_tuple(state):
    return tuple(state) if isinstance(state, (tuple, list)) else (state,)


def backward_with_random_weights(*outputs):
    """Backpropagate Σ r∘y for fixed random r, so every output element matters."""
    gen = torch.Generator().manual_seed(1)
    loss = sum((y * torch.randn(y.shape, generator=gen, dtype=y.dtype)).sum() for y in outputs)
    loss.backward()


def assert_close(a, b):
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_parameters_are_pytorchs(kind):
    ref_cls, torch_cls, _, gates = KINDS[kind]
    ref, theirs = ref_cls(D, H), torch_cls(D, H)
    assert [(n, p.shape) for n, p in ref.named_parameters()] == [(n, p.shape) for n, p in theirs.named_parameters()]
    assert ref.weight_ih.shape == (gates * H, D)
    bound = 1 / math.sqrt(H)
    assert all(p.abs().max() <= bound for p in ref.parameters())
    assert all(p.std() > bound / 3 for p in ref.parameters())  # spread out, not constant


@pytest.mark.parametrize("kind", KINDS)
def test_cell_matches_torch_over_steps(kind):
    ref_cls, torch_cls, _, _ = KINDS[kind]
    theirs = torch_cls(D, H).double()
    ref = ref_cls(D, H).double()
    ref.load_state_dict(theirs.state_dict())
    xs, state0 = leaf(T, B, D), random_state(kind)

    def run(cell):
        state, outs = state0, []
        for x in xs:
            state = cell(x, state)
            outs.extend(as_tuple(state))
        return outs

    ours, expected = run(ref), run(theirs)
    for a, b in zip(ours, expected, strict=True):
        assert_close(a, b)
    inputs = [xs, *as_tuple(state0)]
    ours_grads = torch.autograd.grad(sum(o.sum() * (i + 1) for i, o in enumerate(ours)), [*inputs, *ref.parameters()])
    theirs_grads = torch.autograd.grad(
        sum(o.sum() * (i + 1) for i, o in enumerate(expected)), [*inputs, *theirs.parameters()]
    )
    for a, b in zip(ours_grads, theirs_grads, strict=True):
        assert_close(a, b)


@pytest.mark.parametrize("kind", KINDS)
def test_state_none_is_zero_state(kind):
    ref_cls = KINDS[kind][0]
    cell = ref_cls(D, H).double()
    x = torch.randn(B, D, dtype=torch.float64)
    zero = (torch.zeros(B, H, dtype=torch.float64),) * (2 if kind == "lstm" else 1)
    for a, b in zip(as_tuple(cell(x)), as_tuple(cell(x, zero if kind == "lstm" else zero[0])), strict=True):
        assert_close(a, b)


def test_peephole_lstm_matches_unrolled_formula():
    cell = PeepholeLSTMCell(D, H).double()
    assert [n for n, _ in cell.named_parameters()] == PARAMS + ["weight_ci", "weight_cf", "weight_co"]
    assert cell.weight_co.shape == (H,)
    W_i, W_f, W_g, W_o = cell.weight_ih.detach().split(H)
    U_i, U_f, U_g, U_o = cell.weight_hh.detach().split(H)
    b = (cell.bias_ih + cell.bias_hh).detach()
    b_i, b_f, b_g, b_o = b.split(H)
    w_ci, w_cf, w_co = cell.weight_ci.detach(), cell.weight_cf.detach(), cell.weight_co.detach()
    xs = torch.randn(3, B, D, dtype=torch.float64)
    h = torch.randn(B, H, dtype=torch.float64)
    c = torch.randn(B, H, dtype=torch.float64)
    state = (h, c)
    for x in xs:
        state = cell(x, state)
        i = torch.sigmoid(x @ W_i.T + h @ U_i.T + b_i + w_ci * c)
        f = torch.sigmoid(x @ W_f.T + h @ U_f.T + b_f + w_cf * c)
        c = f * c + i * torch.tanh(x @ W_g.T + h @ U_g.T + b_g)
        o = torch.sigmoid(x @ W_o.T + h @ U_o.T + b_o + w_co * c)
        h = o * torch.tanh(c)
        assert_close(state[0], h)
        assert_close(state[1], c)


def cell_like(kind, rnn, layer, suffix=""):
    """A reference cell holding the weights of one layer and direction of a torch.nn.RNN/LSTM/GRU."""
    weight_ih = getattr(rnn, f"weight_ih_l{layer}{suffix}")
    cell = KINDS[kind][0](weight_ih.size(1), H).double()
    with torch.no_grad():
        for name in PARAMS:
            getattr(cell, name).copy_(getattr(rnn, f"{name}_l{layer}{suffix}"))
    return cell


def torch_initial_state(kind, state_list):
    """[state of each layer/direction] -> torch's h0 or (h0, c0), stacked on axis 0."""
    if kind == "lstm":
        return torch.stack([s[0] for s in state_list]), torch.stack([s[1] for s in state_list])
    return torch.stack(state_list)


def check_grads(ours, theirs, inputs, our_params, their_params):
    backward_with_random_weights(*ours)
    ours_grads = [t.grad.clone() for t in inputs] + [p.grad for p in our_params]
    for t in inputs:
        t.grad = None
    backward_with_random_weights(*theirs)
    theirs_grads = [t.grad for t in inputs] + [p.grad for p in their_params]
    for a, b in zip(ours_grads, theirs_grads, strict=True):
        assert_close(a, b)


@pytest.mark.parametrize("kind", KINDS)
def test_rnnlayer_matches_torch_layer(kind):
    rnn = KINDS[kind][2](D, H, batch_first=True).double()
    layer = RNNLayer(cell_like(kind, rnn, 0))
    x, state0 = leaf(B, T, D), random_state(kind)
    out, final = layer(x, state0)
    expected, expected_final = rnn(x, torch_initial_state(kind, [state0]))
    assert out.shape == (B, T, H)
    assert_close(out, expected)
    for a, b in zip(as_tuple(final), as_tuple(expected_final), strict=True):
        assert_close(a, b[0])
    check_grads([out], [expected], [x, *as_tuple(state0)], layer.parameters(), rnn.parameters())


@pytest.mark.parametrize("kind", KINDS)
def test_rnnlayer_runs_torch_cells_from_none(kind):
    """RNNLayer only relies on the call convention: torch's own cells work, with state=None."""
    theirs = KINDS[kind][1](D, H).double()
    ours = KINDS[kind][0](D, H).double()
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(B, T, D, dtype=torch.float64)
    out_a, final_a = RNNLayer(theirs)(x)
    out_b, final_b = RNNLayer(ours)(x)
    assert_close(out_a, out_b)
    for a, b in zip(as_tuple(final_a), as_tuple(final_b), strict=True):
        assert_close(a, b)


@pytest.mark.parametrize("kind", KINDS)
def test_stacked_matches_two_layer_torch(kind):
    rnn = KINDS[kind][2](D, H, num_layers=2, batch_first=True).double()
    stack = StackedRNN([cell_like(kind, rnn, 0), cell_like(kind, rnn, 1)])
    assert isinstance(stack.cells, nn.ModuleList)
    x, states0 = leaf(B, T, D), [random_state(kind), random_state(kind)]
    out, finals = stack(x, states0)
    expected, expected_final = rnn(x, torch_initial_state(kind, states0))
    assert_close(out, expected)
    assert len(finals) == 2
    for layer in range(2):
        for a, b in zip(as_tuple(finals[layer]), as_tuple(expected_final), strict=True):
            assert_close(a, b[layer])
    inputs = [x] + [t for s in states0 for t in as_tuple(s)]
    check_grads([out], [expected], inputs, stack.parameters(), rnn.parameters())


def test_stacked_states_none_is_zero():
    stack = StackedRNN([GRUCell(D, H), GRUCell(H, H)]).double()
    x = torch.randn(B, T, D, dtype=torch.float64)
    zeros = [torch.zeros(B, H, dtype=torch.float64)] * 2
    assert_close(stack(x)[0], stack(x, zeros)[0])
    assert_close(stack(x)[0], stack(x, [None, None])[0])


@pytest.mark.parametrize("kind", KINDS)
def test_bidirectional_concat_matches_two_layer_bidirectional_torch(kind):
    rnn = KINDS[kind][2](D, H, num_layers=2, bidirectional=True, batch_first=True).double()
    layers = [
        Bidirectional(cell_like(kind, rnn, k), cell_like(kind, rnn, k, "_reverse"), "concat") for k in range(2)
    ]
    x = leaf(B, T, D)
    states0 = [random_state(kind) for _ in range(4)]  # l0 forward, l0 backward, l1 forward, l1 backward
    hidden, (f0, b0) = layers[0](x, (states0[0], states0[1]))
    out, (f1, b1) = layers[1](hidden, (states0[2], states0[3]))
    expected, expected_final = rnn(x, torch_initial_state(kind, states0))
    assert out.shape == (B, T, 2 * H)
    assert_close(out, expected)
    for k, final in enumerate([f0, b0, f1, b1]):
        for a, b in zip(as_tuple(final), as_tuple(expected_final), strict=True):
            assert_close(a, b[k])
    params = [p for layer in layers for p in layer.parameters()]
    inputs = [x] + [t for s in states0 for t in as_tuple(s)]
    check_grads([out], [expected], inputs, params, rnn.parameters())


def test_bidirectional_backward_is_aligned_to_time_t():
    """The backward output at t has read x[t:], so it does not change when x[:t] does."""
    bi = Bidirectional(RNNCell(D, H), RNNCell(D, H), "concat").double()
    x = torch.randn(B, T, D, dtype=torch.float64)
    y = x.clone()
    y[:, :2] += 1.0
    assert_close(bi(x)[0][:, 2:, H:], bi(y)[0][:, 2:, H:])
    assert not torch.allclose(bi(x)[0][:, 2:, :H], bi(y)[0][:, 2:, :H])


@pytest.mark.parametrize("merge", ["sum", "mean"])
def test_bidirectional_merges(merge):
    fwd, bwd = LSTMCell(D, H).double(), LSTMCell(D, H).double()
    x = torch.randn(B, T, D, dtype=torch.float64)
    concat, finals = Bidirectional(fwd, bwd, "concat")(x)
    merged, finals_m = Bidirectional(fwd, bwd, merge)(x)
    total = concat[..., :H] + concat[..., H:]
    assert_close(merged, total if merge == "sum" else total / 2)
    assert_close(finals_m[1][1], finals[1][1])
    with pytest.raises(ValueError):
        Bidirectional(fwd, bwd, "max")


def params_with_grads(seed_):
    gen = torch.Generator().manual_seed(seed_)
    params = [nn.Parameter(torch.randn(s, generator=gen, dtype=torch.float64)) for s in [(3, 4), (5,), (2, 2)]]
    for p in params[:2]:
        p.grad = torch.randn(p.shape, generator=gen, dtype=torch.float64) * 3
    return params  # the last one has no grad, as a frozen parameter would


@pytest.mark.parametrize("max_norm", [0.5, 2.0, 1e3])
def test_clip_grad_norm_like_torch(max_norm):
    ours, theirs = params_with_grads(1), params_with_grads(1)
    total = clip_grad_norm(iter(ours), max_norm)  # any iterable, a generator included
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm)
    assert_close(total, expected)
    for a, b in zip(ours[:2], theirs[:2]):
        assert_close(a.grad, b.grad)
    assert ours[2].grad is None


def test_clip_grad_norm_of_a_single_tensor_and_of_nothing():
    p, q = params_with_grads(2)[0], params_with_grads(2)[0]
    assert_close(clip_grad_norm(p, 1.0), torch.nn.utils.clip_grad_norm_(q, 1.0))
    assert_close(p.grad, q.grad)
    assert float(clip_grad_norm([], 1.0)) == 0.0


def test_clip_grad_value_like_torch():
    ours, theirs = params_with_grads(3), params_with_grads(3)
    assert clip_grad_value(ours, 0.7) is None
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for a, b in zip(ours[:2], theirs[:2]):
        assert torch.equal(a.grad, b.grad)
    assert ours[0].grad.abs().max() == 0.7
