"""The translation family (sequence to sequence with teacher forcing): the model maps (src (B, S), tgt_in (B, T))
to logits (B, T, V); the harness decodes greedily and scores corpus BLEU (sacrebleu) against a word-by-word
dictionary, the reference model and BLEU 100; a model that sets ``model.attention`` gets heatmaps."""
from __future__ import annotations

import numpy as np
import torch

from .. import metrics
from ..data.vocab import BOS, EOS
from .compare import describe
from . import Context, Verdict, register, register_figure
from .trained import (GRADED, BadOutput, Family, baselines, bars_figure, family, figure_part, graded_figure,
                      student_figures, student_run)

ATTENTION_MAPS = 3  # test sentences whose attention the figure shows


@family
class Translation(Family):
    name = "translation"
    loss = "seq2seq"
    floors = {"bleu": ("word-by-word dictionary", True)}
    params = ("src_vocab_size", "tgt_vocab_size")
    output = "(B, T, tgt_vocab_size) logits"

    def build_args(self, data) -> tuple:
        return len(data.src_vocab), len(data.tgt_vocab)

    def training_data(self, data) -> dict:
        return {"x": data.train.src, "tgt_in": data.train.tgt_in, "y": data.train.tgt_out}

    def probe_inputs(self, data, n: int = 4) -> list:
        return [data.train.src[:n], data.train.tgt_in[:n]]

    def expected_shape(self, data, inputs: list) -> tuple:
        return *inputs[1].shape, len(data.tgt_vocab)

    def test_outputs(self, p, model, data) -> dict:
        """Greedy decodes of the test sources, graded; and apart, so that their failure costs the figure only, the
        attention the model sets on the first few of them, for the attention figure."""
        decoded = p.op("greedy_decode", model, data.test.src, BOS, EOS, data.test.tgt_out.shape[1] + 5)
        return {"decoded": decoded, "attention": p.op("apart", "attention_maps", model, data.test.src, decoded, BOS,
                                                      ATTENTION_MAPS)}

    def evaluate(self, data, out: dict) -> dict:
        tokens = out["decoded"]["tokens"] if isinstance(out.get("decoded"), dict) else None
        if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2 or tokens.shape[0] != len(data.test.pairs):
            raise BadOutput(f"greedy decoding returned {describe(tokens)}")
        from ..data.text import detokenize

        tokenizer = data.preprocessing.get("tokenizer", "word")
        hyps = [detokenize(data.tgt_vocab.decode(row.tolist()), tokenizer) for row in tokens]
        refs = [target for _, target in data.test.pairs]
        bleu, chrf = metrics.corpus_bleu(hyps, refs), metrics.corpus_chrf(hyps, refs)
        return {"bleu": bleu.score, "bleu_signature": bleu.signature, "chrf": chrf.score,
                "exact_match": float(np.mean([h == r for h, r in zip(hyps, refs)])), "hypotheses": hyps[:8]}

    def reference_extras(self, out: dict) -> dict:
        attention, _ = figure_part(out.get("attention"), "")
        return {"has_attention": True} if isinstance(attention, torch.Tensor) else {}

    def classical_baselines(self, data) -> dict:
        from .. import baselines as b

        src = [s for s, _ in data.train.pairs]
        tgt = [t for _, t in data.train.pairs]
        hyps = b.WordByWordDictionary().fit(src, tgt).predict([s for s, _ in data.test.pairs])
        refs = [t for _, t in data.test.pairs]
        return {"word-by-word dictionary": {"bleu": metrics.corpus_bleu(hyps, refs).score}}


@register("translation.bleu", ["build_model"], "corpus BLEU of greedy decodes between a dictionary and the target",
          prepare=baselines, **GRADED)
def check_bleu(ctx: Context) -> Verdict:
    verdict = graded_figure(ctx, "bleu", "corpus BLEU", fmt=".1f")
    verdict.numbers["signature"] = student_figures(ctx)["bleu_signature"]
    verdict.numbers["examples"] = student_figures(ctx)["hypotheses"]
    return verdict


@register_figure("translation.bleu", ["build_model"], "Corpus BLEU next to the baselines")
def bleubars_figure(ctx: Context) -> dict:
    return bars_figure(ctx, "bleu", False, f"corpus BLEU ({student_figures(ctx)['bleu_signature']})")


@register_figure("translation.attention", ["build_model"], "Attention weights of your model on test sentences")
def attention_maps(ctx: Context) -> dict:
    """The attention the model sets in a teacher-forced forward over its own decodes of a few test sentences,
    computed apart from the graded decodes: when that forward fails, the figure says why and no check changes."""
    out, data = student_run(ctx)["out"], ctx.data
    att, why = figure_part(out.get("attention"), "the attention figure (one teacher-forced forward over your "
                           "model's own greedy decodes)")
    if why:
        return {"error": why + ". No check's points depend on this figure; the contract promises forward any batch "
                "(src (B, S), tgt_in (B, T)): try your model on the shapes named."}
    if not isinstance(att, torch.Tensor) or att.dim() != 3:
        return {"kind": "text", "rows": [], "note": "Your model does not set model.attention (B, T, S), so there is "
                "no heatmap. The contract allows it: set self.attention to the weights after a forward."}
    items = []
    tokens = out["decoded"]["tokens"]
    for k in range(min(ATTENTION_MAPS, att.shape[0])):
        src = data.src_vocab.decode(data.test.src[k].tolist(), keep_special=False)
        tgt = data.tgt_vocab.decode(tokens[k].tolist(), keep_special=False)
        values = att[k, :len(tgt) + 1, :len(src) + 1].tolist()
        items.append({"title": data.test.pairs[k][0], "rows": tgt + ["<eos>"], "cols": src + ["<eos>"], "values": values})
    return {"kind": "heatmaps", "items": items}
