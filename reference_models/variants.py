"""Known variants and common mistakes, each a drop-in replacement for one contract name.

The judge uses the catalogue to diagnose a wrong answer: when a student's output disagrees with the
reference, it runs the variants of that name on the same inputs (and weights) and reports the one
that matches, in the student-facing words of its `description`.

Every `impl` has the reference's constructor or signature and, for modules, its parameter names
and shapes, so the reference's weights load into it. Each is the reference with one change, marked
`# <-` where a whole method is restated. `kind` is "variant" for a form found in the literature or
course material (correct elsewhere, not what the contract asks), "accepted" for another form the contract
allows (the checks must pass it, and never name it), "mistake" otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from . import attention, cells, generation, sequences
from .attention import apply_masks, masked_softmax, pe_angles
from .cells import grads_of, hidden_of, l2_norm, merge_directions, unroll


@dataclass(frozen=True)
class Variant:
    name: str  # short stable id, e.g. "gru_z_swapped"
    module: str  # contract module: "cells" | "attention" | "sequences" | "generation"
    target: str  # contract name it stands in for, e.g. "GRUCell"
    kind: str  # "variant" (found in the literature/course material), "accepted" (allowed too) or "mistake"
    description: str  # one student-facing sentence naming what is different
    impl: object  # drop-in replacement for the reference's `target`


# ---------------------------------------------------------------------------------------- cells


class RNNSigmoid(cells.RNNCell):
    def forward(self, x, state=None):
        h = self.zeros(x) if state is None else state
        return torch.sigmoid(x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh)  # <-


class RNNNoBiasHH(cells.RNNCell):
    def forward(self, x, state=None):
        h = self.zeros(x) if state is None else state
        return torch.tanh(x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T)  # <- no b_hh


class LSTMGateOrderIFOG(cells.LSTMCell):
    def preactivations(self, x, h):
        a_i, a_f, a_o, a_g = super().preactivations(x, h)  # <- rows read as i, f, o, g
        return a_i, a_f, a_g, a_o


class LSTMSigmoidG(cells.LSTMCell):
    def forward(self, x, state=None):
        h, c = (self.zeros(x), self.zeros(x)) if state is None else state
        a_i, a_f, a_g, a_o = self.preactivations(x, h)
        i, f, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.sigmoid(a_o)
        g = torch.sigmoid(a_g)  # <- σ instead of tanh
        c = f * c + i * g
        return o * torch.tanh(c), c


class LSTMNoCellTanh(cells.LSTMCell):
    def forward(self, x, state=None):
        h, c = (self.zeros(x), self.zeros(x)) if state is None else state
        a_i, a_f, a_g, a_o = self.preactivations(x, h)
        i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
        c = f * c + i * g
        return o * c, c  # <- h = o∘c


class LSTMForgetNoBias(cells.LSTMCell):
    def preactivations(self, x, h):
        a_i, a_f, a_g, a_o = super().preactivations(x, h)
        b_f = (self.bias_ih + self.bias_hh).chunk(4)[1]
        return a_i, a_f - b_f, a_g, a_o  # <- the forget gate loses its biases


class LSTMNoInputGate(cells.LSTMCell):
    def forward(self, x, state=None):
        h, c = (self.zeros(x), self.zeros(x)) if state is None else state
        a_i, a_f, a_g, a_o = self.preactivations(x, h)
        f, g, o = torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
        c = f * c + g  # <- no i∘
        return o * torch.tanh(c), c


class GRUZSwapped(cells.GRUCell):
    def forward(self, x, state=None):
        h = self.zeros(x) if state is None else state
        (x_r, x_z, x_n), (h_r, h_z, h_n) = self.projections(x, h)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        return z * n + (1 - z) * h  # <- z and 1−z swapped


class GRUResetBeforeMatmul(cells.GRUCell):
    def forward(self, x, state=None):
        h = self.zeros(x) if state is None else state
        (x_r, x_z, x_n), (h_r, h_z, _) = self.projections(x, h)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        W_hn, b_hn = self.weight_hh.chunk(3)[2], self.bias_hh.chunk(3)[2]
        n = torch.tanh(x_n + (r * h) @ W_hn.T + b_hn)  # <- W_hn (r∘h) + b_hn
        return (1 - z) * n + z * h


class GRUBiasOutsideReset(cells.GRUCell):
    def forward(self, x, state=None):
        h = self.zeros(x) if state is None else state
        (x_r, x_z, x_n), (h_r, h_z, _) = self.projections(x, h)
        r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
        W_hn, b_hn = self.weight_hh.chunk(3)[2], self.bias_hh.chunk(3)[2]
        n = torch.tanh(x_n + r * (h @ W_hn.T) + b_hn)  # <- r∘(W_hn h) + b_hn
        return (1 - z) * n + z * h


class GRUGateOrderZRN(cells.GRUCell):
    def projections(self, x, h):
        (x_z, x_r, x_n), (h_z, h_r, h_n) = super().projections(x, h)  # <- rows read as z, r, n
        return (x_r, x_z, x_n), (h_r, h_z, h_n)


class PeepholeOutputPrevC(cells.PeepholeLSTMCell):
    def forward(self, x, state=None):
        h, c_prev = (self.zeros(x), self.zeros(x)) if state is None else state
        a_i, a_f, a_g, a_o = self.preactivations(x, h)
        i = torch.sigmoid(a_i + self.weight_ci * c_prev)
        f = torch.sigmoid(a_f + self.weight_cf * c_prev)
        c = f * c_prev + i * torch.tanh(a_g)
        o = torch.sigmoid(a_o + self.weight_co * c_prev)  # <- the previous c, not c'
        return o * torch.tanh(c), c


class PeepholeNoOutputPeephole(cells.PeepholeLSTMCell):
    def forward(self, x, state=None):
        h, c = (self.zeros(x), self.zeros(x)) if state is None else state
        a_i, a_f, a_g, a_o = self.preactivations(x, h)
        i = torch.sigmoid(a_i + self.weight_ci * c)
        f = torch.sigmoid(a_f + self.weight_cf * c)
        c = f * c + i * torch.tanh(a_g)
        o = torch.sigmoid(a_o)  # <- no w_co∘c'
        return o * torch.tanh(c), c


def _detach(state):
    if state is None:
        return None
    return tuple(s.detach() for s in state) if isinstance(state, (tuple, list)) else state.detach()


class RNNLayerDetached(cells.RNNLayer):
    def forward(self, x, state=None):
        outputs = []
        for t in range(x.size(1)):
            state = self.cell(x[:, t], state if t == 0 else _detach(state))  # <- cut between steps
            outputs.append(hidden_of(state))
        return torch.stack(outputs, dim=1), state


class BidirectionalNotRealigned(cells.Bidirectional):
    def forward(self, x, state=None):
        state_f, state_b = (None, None) if state is None else state
        out_f, final_f = unroll(self.forward_cell, x, state_f)
        out_b, final_b = unroll(self.backward_cell, x.flip(1), state_b)  # <- not flipped back
        return merge_directions(out_f, out_b, self.merge), (final_f, final_b)


class BidirectionalBackwardReadsForwards(cells.Bidirectional):
    def forward(self, x, state=None):
        state_f, state_b = (None, None) if state is None else state
        out_f, final_f = unroll(self.forward_cell, x, state_f)
        out_b, final_b = unroll(self.backward_cell, x, state_b)  # <- x, not x reversed
        return merge_directions(out_f, out_b, self.merge), (final_f, final_b)


class BidirectionalBackwardFirst(cells.Bidirectional):
    def forward(self, x, state=None):
        state_f, state_b = (None, None) if state is None else state
        out_f, final_f = unroll(self.forward_cell, x, state_f)
        out_b, final_b = unroll(self.backward_cell, x.flip(1), state_b)
        out_b = out_b.flip(1)
        return merge_directions(out_b, out_f, self.merge), (final_f, final_b)  # <- backward's features first


class StackedInputToEveryLayer(cells.StackedRNN):
    def forward(self, x, states=None):
        states = [None] * len(self.cells) if states is None else states
        finals = []
        for cell, state in zip(self.cells, states, strict=True):
            out, final = unroll(cell, x, state)  # <- every layer reads x
            finals.append(final)
        return out, finals


@torch.no_grad()
def clip_grad_norm_per_parameter(parameters, max_norm):
    grads = grads_of(parameters)
    total_norm = l2_norm(grads) if grads else torch.tensor(0.0)
    for g in grads:
        g.mul_(torch.clamp(max_norm / (torch.linalg.vector_norm(g) + 1e-6), max=1.0))  # <- each on its own
    return total_norm


@torch.no_grad()
def clip_grad_norm_max_norm(parameters, max_norm):
    grads = grads_of(parameters)
    if not grads:
        return torch.tensor(0.0)
    total_norm = torch.stack([g.abs().max() for g in grads]).max()  # <- max |g|, not the L2 norm
    scale = torch.clamp(max_norm / (total_norm + 1e-6), max=1.0)
    for g in grads:
        g.mul_(scale)
    return total_norm


@torch.no_grad()
def clip_value_one_sided(parameters, clip_value):
    for g in grads_of(parameters):
        g.clamp_(max=clip_value)  # <- no lower bound −clip_value


# ------------------------------------------------------------------------------------ attention


def dot_attention_wrong_axis(query, keys, values, mask=None):
    scores = torch.einsum("bh,bsh->bs", query, keys)
    weights = masked_softmax(scores.T, None if mask is None else mask.T).T  # <- over the batch
    return torch.einsum("bs,bsh->bh", weights, values), weights


def dot_attention_scaled(query, keys, values, mask=None):
    scores = torch.einsum("bh,bsh->bs", query, keys) / math.sqrt(query.size(-1))  # <- /√H
    weights = masked_softmax(scores, mask)
    return torch.einsum("bs,bsh->bh", weights, values), weights


def _inverted(mask):
    return None if mask is None else ~mask  # <- True read as "may not attend"


def _zeroed_after_softmax(weights, mask):
    return weights if mask is None else weights * mask  # <- hidden weights zeroed, the rest not renormalised


def dot_attention_mask_ignored(query, keys, values, mask=None):
    return attention.dot_attention(query, keys, values, None)  # <- mask dropped


def dot_attention_mask_inverted(query, keys, values, mask=None):
    return attention.dot_attention(query, keys, values, _inverted(mask))


def dot_attention_mask_after_softmax(query, keys, values, mask=None):
    _, weights = attention.dot_attention(query, keys, values, None)
    weights = _zeroed_after_softmax(weights, mask)
    return torch.einsum("bs,bsh->bh", weights, values), weights


class AdditiveNoTanh(attention.AdditiveAttention):
    def forward(self, query, keys, values, mask=None):
        scores = ((query @ self.W_q.T).unsqueeze(1) + keys @ self.W_k.T) @ self.v  # <- no tanh
        weights = masked_softmax(scores, mask)
        return torch.einsum("bs,bsh->bh", weights, values), weights


class AdditiveMaskIgnored(attention.AdditiveAttention):
    def forward(self, query, keys, values, mask=None):
        return super().forward(query, keys, values, None)  # <- mask dropped


class AdditiveMaskInverted(attention.AdditiveAttention):
    def forward(self, query, keys, values, mask=None):
        return super().forward(query, keys, values, _inverted(mask))


class AdditiveMaskAfterSoftmax(attention.AdditiveAttention):
    def forward(self, query, keys, values, mask=None):
        _, weights = super().forward(query, keys, values, None)
        weights = _zeroed_after_softmax(weights, mask)
        return torch.einsum("bs,bsh->bh", weights, values), weights


def _sdpa_scaled_by(scale, q, k, v, mask, causal):
    scores = q @ k.transpose(-2, -1) * scale
    weights = masked_softmax(*apply_masks(scores, mask, causal))
    return weights @ v, weights


def sdpa_no_scale(q, k, v, mask=None, causal=False):
    return _sdpa_scaled_by(1.0, q, k, v, mask, causal)  # <- no 1/√d


def sdpa_scaled_by_dv(q, k, v, mask=None, causal=False):
    return _sdpa_scaled_by(1 / math.sqrt(v.size(-1)), q, k, v, mask, causal)  # <- 1/√dv


def sdpa_softmax_over_queries(q, k, v, mask=None, causal=False):
    scores, mask = apply_masks(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), mask, causal)
    mask = None if mask is None else mask.expand(scores.shape).transpose(-2, -1)
    weights = masked_softmax(scores.transpose(-2, -1), mask).transpose(-2, -1)  # <- over t
    return weights @ v, weights


def sdpa_mask_after_softmax(q, k, v, mask=None, causal=False):
    scores, mask = apply_masks(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), mask, causal)
    weights = _zeroed_after_softmax(scores.softmax(dim=-1), mask)
    return weights @ v, weights


def sdpa_mask_inverted(q, k, v, mask=None, causal=False):
    if mask is not None and mask.dtype == torch.bool:
        mask = _inverted(mask)
    return attention.scaled_dot_product_attention(q, k, v, mask, causal)


def sdpa_mask_ignored(q, k, v, mask=None, causal=False):
    return attention.scaled_dot_product_attention(q, k, v, None, causal)  # <- mask dropped, causal kept


def sdpa_fill_minus_1e9(q, k, v, mask=None, causal=False):
    scores, mask = apply_masks(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), mask, causal)
    if mask is not None:
        scores = scores.masked_fill(~mask, -1e9)  # <- not −inf: a row hidden everywhere becomes uniform
    weights = scores.softmax(dim=-1)
    return weights @ v, weights


class MHSAScaledBySqrtE(attention.MultiHeadSelfAttention):
    def forward(self, x, mask=None, causal=False):
        B, T, E = x.shape
        q, k, v = self.qkv(x)
        scores = q @ k.transpose(-2, -1) / math.sqrt(E)  # <- √E, not √(E/h)
        weights = masked_softmax(*apply_masks(scores, self.head_mask(mask, B, T), causal))
        y = (weights @ v).transpose(1, 2).reshape(B, T, E)
        return self.out_proj(y), weights.mean(dim=1)


class MHSAWeightsSummed(attention.MultiHeadSelfAttention):
    def forward(self, x, mask=None, causal=False):
        B, T, E = x.shape
        q, k, v = self.qkv(x)
        y, weights = attention.scaled_dot_product_attention(q, k, v, self.head_mask(mask, B, T), causal)
        y = y.transpose(1, 2).reshape(B, T, E)
        return self.out_proj(y), weights.sum(dim=1)  # <- summed over heads


class MHSAMaskIgnored(attention.MultiHeadSelfAttention):
    def forward(self, x, mask=None, causal=False):
        return super().forward(x, None, causal)  # <- mask dropped, causal kept


class MHSAMaskInverted(attention.MultiHeadSelfAttention):
    def forward(self, x, mask=None, causal=False):
        return super().forward(x, _inverted(mask), causal)


class MHSAMaskAfterSoftmax(attention.MultiHeadSelfAttention):
    def forward(self, x, mask=None, causal=False):
        B, T, E = x.shape
        q, k, v = self.qkv(x)
        y, weights = sdpa_mask_after_softmax(q, k, v, self.head_mask(mask, B, T), causal)  # <-
        y = y.transpose(1, 2).reshape(B, T, E)
        return self.out_proj(y), weights.mean(dim=1)


def _interleave(even: Tensor, odd: Tensor, d_model: int) -> Tensor:
    pe = torch.zeros(even.size(0), d_model, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = even, odd[:, : d_model // 2]
    return pe.to(torch.get_default_dtype())


def positional_encoding_sin_cos_swapped(max_len, d_model):
    angle = pe_angles(max_len, d_model)
    return _interleave(torch.cos(angle), torch.sin(angle), d_model)  # <- cos on even columns


def positional_encoding_exponent_i_over_d(max_len, d_model):
    p = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)
    i = torch.arange((d_model + 1) // 2, dtype=torch.float64)
    angle = p / 10000 ** (i / d_model)  # <- i/d, not 2i/d
    return _interleave(torch.sin(angle), torch.cos(angle), d_model)


def positional_encoding_halves(max_len, d_model):
    angle = pe_angles(max_len, d_model)
    pe = torch.cat([torch.sin(angle), torch.cos(angle)[:, : d_model // 2]], dim=1)  # <- [sin | cos]
    return pe.to(torch.get_default_dtype())


# ----------------------------------------------------------------------------------- sequences


def _other_side(side):
    return {"pre": "post", "post": "pre"}.get(side, side)


def pad_post(seqs, maxlen=None, padding="pre", truncating="pre", value=0):
    return sequences.pad_sequences(seqs, maxlen, _other_side(padding), truncating, value)  # <-


def truncate_post(seqs, maxlen=None, padding="pre", truncating="pre", value=0):
    return sequences.pad_sequences(seqs, maxlen, padding, _other_side(truncating), value)  # <-


def make_windows_last_target(ids, window):
    inputs, _ = sequences.make_windows(ids, window)
    return inputs, inputs[:, -1].clone()  # <- the window's own last id


def make_windows_drops_last(ids, window):
    inputs, targets = sequences.make_windows(ids, window)
    return inputs[:-1], targets[:-1]  # <- N = len(ids) − window − 1


# ---------------------------------------------------------------------------------- generation


def temperature_multiplied(logits, temperature):
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, not {temperature}")
    return torch.softmax(logits * temperature, dim=-1)  # <- ×T, not /T


def greedy_search_ignores_eos(step, bos, eos, max_len):
    tokens = []
    while len(tokens) < max_len:  # <- no stop at eos
        tokens.append(int(torch.argmax(torch.as_tensor(step([bos, *tokens])))))
    return tokens


def greedy_drops_eos(step, bos, eos, max_len):
    tokens = generation.greedy_search(step, bos, eos, max_len)
    return tokens[:-1] if tokens and tokens[-1] == eos else tokens  # <- eos left out


def beam_is_greedy(step, bos, eos, beam_width, max_len):
    return generation.beam_search(step, bos, eos, 1, max_len)  # <- beam_width ignored


def _finished(tokens, eos, max_len):
    return bool(tokens) and (tokens[-1] == eos or len(tokens) == max_len)


def _extend(step, bos, live, width):
    """Every live hypothesis extended by its ``width`` best tokens, best first (stable)."""
    candidates = [(tokens + [token], score + log_p) for tokens, score in live
                  for log_p, token in generation._ranked(step([bos, *tokens]), width)]
    return sorted(candidates, key=lambda c: c[1], reverse=True)


def beam_search_full_beam(step, bos, eos, beam_width, max_len):
    live, finished = [([], 0.0)], []
    while live and len(finished) < beam_width:
        candidates = _extend(step, bos, live, 2 * beam_width)
        live = []
        for rank, (tokens, score) in enumerate(candidates):  # <- the beam is refilled with live prefixes
            if _finished(tokens, eos, max_len):
                if rank < beam_width:
                    finished.append((tokens, score))
            elif len(live) < beam_width:
                live.append((tokens, score))
    return sorted(finished, key=lambda c: c[1], reverse=True)


def beam_search_width_every_step(step, bos, eos, beam_width, max_len):
    live, finished = [([], 0.0)], []
    for _ in range(max_len):
        candidates = _extend(step, bos, live, beam_width)
        live = []
        for tokens, score in candidates[:beam_width]:  # <- beam_width every step: finished ones free their slot
            (finished if _finished(tokens, eos, max_len) else live).append((tokens, score))
        if not live:
            break
    return sorted(finished, key=lambda c: c[1], reverse=True)


def beam_search_finished_in_beam(step, bos, eos, beam_width, max_len):
    if max_len <= 0:
        return [([], 0.0)]
    beam = [([], 0.0)]
    while not all(_finished(tokens, eos, max_len) for tokens, _ in beam):
        kept = [(t, s) for t, s in beam if _finished(t, eos, max_len)]  # <- finished ones compete in the beam
        grown = _extend(step, bos, [(t, s) for t, s in beam if not _finished(t, eos, max_len)], beam_width)
        beam = sorted(kept + grown, key=lambda c: c[1], reverse=True)[:beam_width]
    return beam


def beam_parent_by_token(step, bos, eos, beam_width, max_len):
    if max_len <= 0:
        return [([], 0.0)]
    live, finished = [([], 0.0)], []
    while live:
        width = beam_width - len(finished)
        by_last = {(tokens[-1] if tokens else bos): tokens for tokens, _ in live}  # <- one prefix per last token
        candidates = [(score + log_p, tokens[-1] if tokens else bos, token) for tokens, score in live
                      for log_p, token in generation._ranked(step([bos, *tokens]), width)]
        candidates.sort(key=lambda c: c[0], reverse=True)
        live = []
        for score, last, token in candidates[:width]:
            tokens = by_last[last] + [token]  # <- the parent found by the value of its last token
            (finished if _finished(tokens, eos, max_len) else live).append((tokens, score))
    return sorted(finished, key=lambda c: c[1], reverse=True)


def beam_extends_finished(step, bos, eos, beam_width, max_len):
    beam, finished = [([], 0.0)], []
    for _ in range(max_len):
        beam = _extend(step, bos, beam, beam_width)[:beam_width]  # <- finished hypotheses are extended too
        finished += [(t, s) for t, s in beam if _finished(t, eos, max_len)]
    return sorted(finished, key=lambda c: c[1], reverse=True)[:beam_width]


def beam_drops_finished(step, bos, eos, beam_width, max_len):
    beam = [([], 0.0)]
    for _ in range(max_len):
        beam = [(t, s) for t, s in _extend(step, bos, beam, beam_width)[:beam_width] if t[-1] != eos]  # <- dropped
        if not beam:
            break
    return beam


def beam_search_length_normalised(step, bos, eos, beam_width, max_len):
    found = generation.beam_search(step, bos, eos, beam_width, max_len)
    scored = [(tokens, score / max(len(tokens), 1)) for tokens, score in found]  # <- per token
    return sorted(scored, key=lambda c: c[1], reverse=True)


def _scored(targets, pad_id):
    return torch.ones_like(targets, dtype=torch.bool) if pad_id is None else targets != pad_id


def perplexity_counts_pad(log_probs, targets, pad_id=0):
    return generation.perplexity(log_probs, targets, pad_id=None)  # <- padding scored


def perplexity_mean_of_sequences(log_probs, targets, pad_id=0):
    nll, scored = generation.token_nll(log_probs, targets), _scored(targets, pad_id)
    keep = scored.any(dim=1)
    per_seq = (nll * scored).sum(dim=1)[keep] / scored.sum(dim=1)[keep]
    return float(per_seq.exp().mean())  # <- mean of per-sequence perplexities


def perplexity_exp_mean_sequence_loss(log_probs, targets, pad_id=0):
    nll, scored = generation.token_nll(log_probs, targets), _scored(targets, pad_id)
    keep = scored.any(dim=1)
    per_seq = (nll * scored).sum(dim=1)[keep] / scored.sum(dim=1)[keep]
    return math.exp(float(per_seq.mean()))  # <- exp of the mean of per-sequence losses


PERPLEXITY_BATCH = 32  # rows per batch of the per-batch conventions: Keras' default batch size


def _batch_losses(log_probs, targets, pad_id):
    """(summed NLL, scored tokens) of each batch of PERPLEXITY_BATCH rows that scores a token."""
    nll, scored = generation.token_nll(log_probs, targets), _scored(targets, pad_id)
    out = []
    for i in range(0, targets.shape[0], PERPLEXITY_BATCH):
        n = int(scored[i:i + PERPLEXITY_BATCH].sum())
        if n:
            out.append((float((nll * scored)[i:i + PERPLEXITY_BATCH].sum()), n))
    return out


def perplexity_mean_of_batches(log_probs, targets, pad_id=0):
    batches = _batch_losses(log_probs, targets, pad_id)
    return sum(math.exp(total / n) for total, n in batches) / len(batches)  # <- mean of per-batch perplexities


def perplexity_exp_mean_batch_loss(log_probs, targets, pad_id=0):
    batches = _batch_losses(log_probs, targets, pad_id)
    return math.exp(sum(total / n for total, n in batches) / len(batches))  # <- exp of the mean batch loss


def perplexity_base2(log_probs, targets, pad_id=0):
    mean_nll = math.log(generation.perplexity(log_probs, targets, pad_id))  # nats
    return 2**mean_nll  # <- 2^(mean NLL in nats), not e^


# ------------------------------------------------------------------------------------ catalogue

V = Variant
CATALOGUE: tuple[Variant, ...] = (
    # cells
    V("rnn_sigmoid", "cells", "RNNCell", "variant",
      "the hidden state uses the logistic sigmoid (as in Elman 1990) instead of tanh", RNNSigmoid),
    V("rnn_no_bias_hh", "cells", "RNNCell", "variant",
      "the recurrent bias b_hh is left out (a single bias, as in Keras' SimpleRNN): h' = tanh(W_ih x + b_ih + W_hh h)",
      RNNNoBiasHH),
    V("lstm_gate_order_ifog", "cells", "LSTMCell", "variant",
      "the weight rows are read as gates i, f, o, g (the layout of CS231n and char-rnn) "
      "instead of PyTorch's i, f, g, o",
      LSTMGateOrderIFOG),
    V("lstm_g_sigmoid", "cells", "LSTMCell", "mistake",
      "the candidate g uses the sigmoid instead of tanh, so the cell can only grow: g = σ(·)", LSTMSigmoidG),
    V("lstm_no_cell_tanh", "cells", "LSTMCell", "variant",
      "the output has no tanh on the cell (the NOAF variant of Greff et al. 2017): h' = o∘c' instead of o∘tanh(c')",
      LSTMNoCellTanh),
    V("lstm_forget_no_bias", "cells", "LSTMCell", "mistake",
      "the forget gate leaves out its biases b_if and b_hf", LSTMForgetNoBias),
    V("lstm_no_input_gate", "cells", "LSTMCell", "variant",
      "the input gate is ignored (the NIG variant of Greff et al. 2017): c' = f∘c + g instead of f∘c + i∘g",
      LSTMNoInputGate),
    V("gru_z_swapped", "cells", "GRUCell", "variant",
      "the update gate is used the other way round (as in Chung et al. 2014): "
      "h' = z∘n + (1−z)∘h instead of (1−z)∘n + z∘h",
      GRUZSwapped),
    V("gru_reset_before_matmul", "cells", "GRUCell", "variant",
      "the reset gate is applied to h before the matrix product (Cho et al. 2014, Keras' reset_after=False): "
      "W_hn (r∘h) + b_hn instead of r∘(W_hn h + b_hn)", GRUResetBeforeMatmul),
    V("gru_bias_outside_reset", "cells", "GRUCell", "mistake",
      "the bias b_hn is added outside the reset gate: r∘(W_hn h) + b_hn instead of r∘(W_hn h + b_hn)",
      GRUBiasOutsideReset),
    V("gru_gate_order_zrn", "cells", "GRUCell", "variant",
      "the weight rows are read as gates z, r, n (Keras' layout) instead of PyTorch's r, z, n", GRUGateOrderZRN),
    V("peephole_output_prev_c", "cells", "PeepholeLSTMCell", "mistake",
      "the output gate peeks at the previous cell c instead of the new c'", PeepholeOutputPrevC),
    V("peephole_no_output_peephole", "cells", "PeepholeLSTMCell", "mistake",
      "the output gate has no peephole: o = σ(W_io x + W_ho h + b) without w_co∘c'", PeepholeNoOutputPeephole),
    V("rnnlayer_detached", "cells", "RNNLayer", "mistake",
      "the state is detached between time steps, so gradients do not flow back through time "
      "(the outputs are right, their gradients are not)",
      RNNLayerDetached),
    V("bidirectional_not_realigned", "cells", "Bidirectional", "mistake",
      "the backward direction's outputs are left in reading order (time T−1 first) instead of aligned back to time t",
      BidirectionalNotRealigned),
    V("bidirectional_backward_reads_forwards", "cells", "Bidirectional", "mistake",
      "the backward cell reads the sequence from t = 0 up instead of from t = T−1 down",
      BidirectionalBackwardReadsForwards),
    V("bidirectional_backward_first", "cells", "Bidirectional", "mistake",
      "merge=\"concat\" puts the backward direction's features first; the contract puts the forward direction's "
      "H features first, then the backward's (as torch.nn.RNN(bidirectional=True) does)", BidirectionalBackwardFirst),
    V("stacked_input_to_every_layer", "cells", "StackedRNN", "mistake",
      "every layer reads the input sequence instead of the outputs of the layer below", StackedInputToEveryLayer),
    V("clip_grad_norm_per_parameter", "cells", "clip_grad_norm", "mistake",
      "each parameter's gradient is clipped by its own norm instead of all gradients together by their total norm",
      clip_grad_norm_per_parameter),
    V("clip_grad_norm_max_norm", "cells", "clip_grad_norm", "mistake",
      "the norm used is the largest absolute gradient element (max-norm) instead of the L2 norm of all gradients",
      clip_grad_norm_max_norm),
    V("clip_value_one_sided", "cells", "clip_grad_value", "mistake",
      "gradients are only clamped from above: values below −clip_value are left as they are",
      clip_value_one_sided),
    # attention
    V("dot_attention_wrong_axis", "attention", "dot_attention", "mistake",
      "the softmax runs over the batch axis instead of over the source positions s", dot_attention_wrong_axis),
    V("dot_attention_scaled", "attention", "dot_attention", "variant",
      "the scores are divided by √H (the transformer's scaled dot product) "
      "instead of the plain Luong dot score q·k_s",
      dot_attention_scaled),
    V("dot_attention_mask_ignored", "attention", "dot_attention", "mistake",
      "the mask is ignored, so padded positions get attention weight", dot_attention_mask_ignored),
    V("dot_attention_mask_inverted", "attention", "dot_attention", "variant",
      "the mask is read as True = may not attend (torch.nn.MultiheadAttention's key_padding_mask convention) "
      "instead of True = may attend, so only the padded positions get weight", dot_attention_mask_inverted),
    V("dot_attention_mask_after_softmax", "attention", "dot_attention", "mistake",
      "the masked weights are zeroed after the softmax without renormalising, so the weights no longer sum to 1: "
      "fill the masked scores with −inf before the softmax instead", dot_attention_mask_after_softmax),
    V("additive_no_tanh", "attention", "AdditiveAttention", "mistake",
      "the tanh is left out of the score: v·(W_q q + W_k k_s) instead of v·tanh(W_q q + W_k k_s)", AdditiveNoTanh),
    V("additive_mask_ignored", "attention", "AdditiveAttention", "mistake",
      "the mask is ignored, so padded positions get attention weight", AdditiveMaskIgnored),
    V("additive_mask_inverted", "attention", "AdditiveAttention", "variant",
      "the mask is read as True = may not attend (torch.nn.MultiheadAttention's key_padding_mask convention) "
      "instead of True = may attend, so only the padded positions get weight", AdditiveMaskInverted),
    V("additive_mask_after_softmax", "attention", "AdditiveAttention", "mistake",
      "the masked weights are zeroed after the softmax without renormalising, so the weights no longer sum to 1: "
      "fill the masked scores with −inf before the softmax instead", AdditiveMaskAfterSoftmax),
    V("sdpa_no_scale", "attention", "scaled_dot_product_attention", "variant",
      "the scores are not divided by √d (plain dot-product attention)", sdpa_no_scale),
    V("sdpa_scaled_by_dv", "attention", "scaled_dot_product_attention", "mistake",
      "the scores are divided by √dv, the size of the values, instead of √d, the size of the queries and keys",
      sdpa_scaled_by_dv),
    V("sdpa_softmax_over_queries", "attention", "scaled_dot_product_attention", "mistake",
      "the softmax runs over the query axis t instead of over the key axis s", sdpa_softmax_over_queries),
    V("sdpa_mask_after_softmax", "attention", "scaled_dot_product_attention", "mistake",
      "masked weights are zeroed after the softmax without renormalising, so the rows no longer sum to 1: "
      "fill the masked scores with −inf before the softmax instead",
      sdpa_mask_after_softmax),
    V("sdpa_mask_inverted", "attention", "scaled_dot_product_attention", "variant",
      "the bool mask is read as True = may not attend (torch.nn.MultiheadAttention's convention) "
      "instead of True = may attend",
      sdpa_mask_inverted),
    V("sdpa_mask_ignored", "attention", "scaled_dot_product_attention", "mistake",
      "the bool mask is ignored (causal=True still hides the keys s > t), so masked positions get weight",
      sdpa_mask_ignored),
    V("sdpa_fill_minus_1e9", "attention", "scaled_dot_product_attention", "variant",
      "masked scores are filled with −1e9 (as in the Annotated Transformer) instead of −inf, so a query that may "
      "attend to no key gets uniform weights 1/S; the contract asks for all-zero weights and a zero output there",
      sdpa_fill_minus_1e9),
    V("mhsa_scaled_by_sqrt_E", "attention", "MultiHeadSelfAttention", "mistake",
      "the scores are divided by √E, the model size, instead of √(E/h), the size of one head", MHSAScaledBySqrtE),
    V("mhsa_weights_summed", "attention", "MultiHeadSelfAttention", "mistake",
      "the returned attention weights are summed over the heads instead of averaged", MHSAWeightsSummed),
    V("mhsa_mask_ignored", "attention", "MultiHeadSelfAttention", "mistake",
      "the (B, T) key padding mask is ignored, so padded keys get attention weight", MHSAMaskIgnored),
    V("mhsa_mask_inverted", "attention", "MultiHeadSelfAttention", "variant",
      "the (B, T) key padding mask is read as True = may not attend (torch.nn.MultiheadAttention's key_padding_mask "
      "convention) instead of True = may attend, so only the padded keys get weight", MHSAMaskInverted),
    V("mhsa_mask_after_softmax", "attention", "MultiHeadSelfAttention", "mistake",
      "the masked weights are zeroed after the softmax without renormalising, so the weights no longer sum to 1: "
      "fill the masked scores with −inf before the softmax instead", MHSAMaskAfterSoftmax),
    V("positional_encoding_sin_cos_swapped", "attention", "positional_encoding", "mistake",
      "cosines are on the even columns and sines on the odd ones instead of the other way round",
      positional_encoding_sin_cos_swapped),
    V("positional_encoding_exponent_i_over_d", "attention", "positional_encoding", "mistake",
      "the frequencies use 10000^(i/d) with i the column pair instead of 10000^(2i/d)",
      positional_encoding_exponent_i_over_d),
    V("positional_encoding_halves", "attention", "positional_encoding", "variant",
      "the sines fill the first half of the columns and the cosines the second (as in tensor2tensor and fairseq) "
      "instead of alternating", positional_encoding_halves),
    # sequences
    V("pad_post", "sequences", "pad_sequences", "mistake",
      "the padding goes at the end of the sequences when it should go at the front (padding='pre' is the default)",
      pad_post),
    V("truncate_post", "sequences", "pad_sequences", "mistake",
      "long sequences are cut at the end when they should lose their first ids (truncating='pre' is the default)",
      truncate_post),
    V("make_windows_last_target", "sequences", "make_windows", "mistake",
      "the target is the last id of the window instead of the id that follows it", make_windows_last_target),
    V("make_windows_drops_last", "sequences", "make_windows", "mistake",
      "the last window is missing: N = len(ids) − window − 1 instead of len(ids) − window",
      make_windows_drops_last),
    # generation
    V("temperature_multiplied", "generation", "softmax_with_temperature", "mistake",
      "the logits are multiplied by the temperature instead of divided by it", temperature_multiplied),
    V("greedy_search_ignores_eos", "generation", "greedy_search", "mistake",
      "the search does not stop when it emits eos and always produces max_len tokens", greedy_search_ignores_eos),
    V("greedy_drops_eos", "generation", "greedy_search", "mistake",
      "the eos token is left out of the result; it should end the list when it is emitted", greedy_drops_eos),
    V("beam_is_greedy", "generation", "beam_search", "mistake",
      "only the single best prefix is kept at each step whatever beam_width is, so the result is the greedy one",
      beam_is_greedy),
    V("beam_parent_by_token", "generation", "beam_search", "mistake",
      "each new hypothesis is attached to a parent found by the value of its last token, so when two beams end in "
      "the same token one beam's extensions get the other's prefix (keep the parent's index, not its token)",
      beam_parent_by_token),
    V("beam_extends_finished", "generation", "beam_search", "mistake",
      "hypotheses that emitted eos stay in the beam and are extended like the others; a finished hypothesis should "
      "leave the beam", beam_extends_finished),
    V("beam_drops_finished", "generation", "beam_search", "mistake",
      "hypotheses that emit eos are dropped from the beam without being kept, so only hypotheses cut by max_len are "
      "returned; a finished hypothesis should be kept and returned with the others", beam_drops_finished),
    V("beam_search_full_beam", "generation", "beam_search", "accepted",
      "the beam is kept full: finished hypotheses (among the beam_width best candidates) are set aside and "
      "beam_width live prefixes go on, until beam_width have finished (as fairseq and Hugging Face do)",
      beam_search_full_beam),
    V("beam_search_width_every_step", "generation", "beam_search", "accepted",
      "every step keeps the beam_width best extensions of the live prefixes; those that finish leave the beam "
      "and free their place for the next step", beam_search_width_every_step),
    V("beam_search_finished_in_beam", "generation", "beam_search", "accepted",
      "finished hypotheses stay in the beam, unextended, competing with the live prefixes, until every "
      "hypothesis in the beam is finished", beam_search_finished_in_beam),
    V("beam_search_length_normalised", "generation", "beam_search", "variant",
      "finished hypotheses are scored and ranked by log-probability per token (Hugging Face's length_penalty=1) "
      "instead of the summed log-probability", beam_search_length_normalised),
    V("perplexity_counts_pad", "generation", "perplexity", "mistake",
      "padding targets are scored as tokens instead of being left out", perplexity_counts_pad),
    V("perplexity_mean_of_sequences", "generation", "perplexity", "mistake",
      "it is the mean of per-sequence perplexities (as Hugging Face evaluate reports) instead of "
      "exp(total NLL / total tokens) over the whole set", perplexity_mean_of_sequences),
    V("perplexity_exp_mean_sequence_loss", "generation", "perplexity", "mistake",
      "it is exp of the mean of per-sequence mean losses instead of exp(total NLL / total tokens) over the whole set",
      perplexity_exp_mean_sequence_loss),
    V("perplexity_mean_of_batches", "generation", "perplexity", "mistake",
      f"it is the mean of per-batch perplexities (batches of {PERPLEXITY_BATCH} rows, as a validation loop over "
      "batches reports them) instead of exp(total NLL / total tokens) over the whole set: sum the NLL and count the "
      "tokens across batches, and exponentiate once", perplexity_mean_of_batches),
    V("perplexity_exp_mean_batch_loss", "generation", "perplexity", "mistake",
      f"it is exp of the mean of per-batch mean losses (batches of {PERPLEXITY_BATCH} rows) instead of exp(total "
      "NLL / total tokens) over the whole set: a batch with fewer scored tokens weighs as much as a full one; sum "
      "the NLL and count the tokens across batches", perplexity_exp_mean_batch_loss),
    V("perplexity_base2", "generation", "perplexity", "mistake",
      "the mean NLL, in nats, is exponentiated in base 2 (2^NLL instead of e^NLL): log and power must share a base",
      perplexity_base2),
)
del V


def variants_for(module: str, target: str) -> list[Variant]:
    """The catalogued variants of one contract name, in catalogue order."""
    return [v for v in CATALOGUE if v.module == module and v.target == target]
