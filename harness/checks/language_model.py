"""The language-model family (next-word prediction): the model maps token ids (B, T) to next-token logits
(B, T, V); it is scored by corpus perplexity against unigram and Kneser-Ney trigram models, the reference
model and, when the data's grammar knows it, the optimal perplexity — and only if it is causal: a probe
changes the later tokens of a batch and looks at the earlier predictions."""
from __future__ import annotations

import torch

from .. import metrics
from ..data.text import detokenize
from ..data.vocab import BOS, EOS, PAD
from . import Context, Verdict, register, register_figure
from .compare import describe
from .trained import (GRADED, Family, baselines, bars_figure, family, figure_part, graded_figure, scorable,
                      student_figures, student_run)


@family
class LanguageModel(Family):
    name = "language_model"
    loss = "tokens"
    floors = {"perplexity": ("unigram (add-one)", False)}
    params = ("vocab_size",)
    output = "(B, T, vocab_size) next-token logits"

    def build_args(self, data) -> tuple:
        return (len(data.vocab),)

    def training_data(self, data) -> dict:
        return {"x": data.train.inputs, "y": data.train.targets}

    def probe_inputs(self, data, n: int = 4) -> list:
        return [data.train.inputs[:n]]

    def expected_shape(self, data, inputs: list) -> tuple:
        return *inputs[0].shape, len(data.vocab)

    def test_outputs(self, p, model, data) -> dict:
        return {"logits": p.op("predict", model, [data.test.inputs])}

    def extra_outputs(self, p, model, data, seed: int) -> dict:
        """The causality probe (the second half of 16 training rows replaced), for the causal check; and apart,
        so that their failure costs the figure only, samples at three temperatures and a beam search for the
        samples figure, fed the batches the contract promises: (B, T) ids, T the training rows' length."""
        ids = data.train.inputs[:16]
        width = ids.shape[1]
        cut = ids.shape[1] // 2
        altered = ids.clone()
        gen = torch.Generator().manual_seed(seed)
        altered[:, cut:] = torch.randint(4, len(data.vocab), (ids.shape[0], ids.shape[1] - cut), generator=gen)
        start = first_token(data)
        return {"causal": {"cut": cut, "a": p.op("predict", model, [ids]), "b": p.op("predict", model, [altered])},
                "samples": {f"{t:g}": p.op("apart", "sample_text", model, SAMPLES, start, EOS, width, t, seed)
                            for t in TEMPERATURES},
                "beam": p.op("apart", "beam_text", model, start, EOS, BEAM_WIDTH, width)}

    def evaluate(self, data, out: dict) -> dict:
        targets = data.test.targets
        logits = scorable(out["logits"], (*targets.shape, len(data.vocab)), "test logits")
        log_probs = torch.log_softmax(logits, dim=-1)  # the judge normalises: logits or log-probs both work
        figures = {"perplexity": metrics.corpus_perplexity(log_probs.numpy(), targets.numpy(), pad_id=PAD)}
        if "causal" in out:
            cut = out["causal"]["cut"]
            a, b = out["causal"]["a"], out["causal"]["b"]
            if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape:
                figures["causal_change"] = float((a[:, :cut] - b[:, :cut]).abs().max())
        return figures

    def classical_baselines(self, data) -> dict:
        from .. import baselines as b

        if data.layout == "windows":  # fitted on the running training text, scoring each window as the model sees it
            train, v = [data.vocab.encode(data.train.sentences[0])], len(data.vocab)
            models = {"unigram (add-one)": b.UnigramLM(v), "trigram (Kneser-Ney)": b.KneserNeyLM(v, n=3)}
            return {name: {"perplexity": lm.fit(train).window_perplexity(data.test.inputs, data.test.targets)}
                    for name, lm in models.items()}
        # the n-gram models take sentences without <bos>/<eos> and score <eos> themselves, as the judge does
        words = lambda t: [[int(i) for i in row if i not in (PAD, EOS)] for row in t]  # noqa: E731
        train, test, v = words(data.train.targets), words(data.test.targets), len(data.vocab)
        return {"unigram (add-one)": {"perplexity": b.UnigramLM(v).fit(train).perplexity(test)},
                "trigram (Kneser-Ney)": {"perplexity": b.KneserNeyLM(v, n=3).fit(train).perplexity(test)}}


def first_token(data) -> int:
    """What generation starts from: <bos> for sentences; for windows of running text (which hold no <bos>), the first
    token of the training text."""
    return int(data.train.inputs[0, 0]) if data.layout == "windows" else BOS


CAUSAL_ATOL = 1e-5
SAMPLES, TEMPERATURES, BEAM_WIDTH = 3, (0.5, 1.0, 1.5), 3


@register("language_model.causal", ["build_model"], "changing later tokens does not change earlier predictions",
          prepare=baselines, atol=CAUSAL_ATOL)
def check_causal(ctx: Context) -> Verdict:
    change = student_figures(ctx).get("causal_change")
    cut = student_run(ctx)["out"]["causal"]["cut"]
    if change is None:
        return Verdict(False, "the causality probe could not be evaluated (the outputs had different shapes)")
    if change > ctx.options["atol"]:
        return Verdict(False, f"changing the tokens from position {cut} on changed the predictions at earlier "
                       f"positions by up to {change:.3g}: the model looks at future tokens",
                       "a language model may only read tokens up to t when predicting t+1: no bidirectional layer, "
                       "no attention without a causal mask", {"max_change": change})
    return Verdict(True, f"predictions before position {cut} do not depend on later tokens (max change {change:.2g})",
                   numbers={"max_change": change})


@register("language_model.perplexity", ["build_model"], "test perplexity between the unigram model and the optimum",
          prepare=baselines, **GRADED)
def check_perplexity(ctx: Context) -> Verdict:
    verdict = graded_figure(ctx, "perplexity", "test perplexity", log_scale=True, fmt=".3f")
    change = student_figures(ctx).get("causal_change")
    if change is None or change > CAUSAL_ATOL:
        return Verdict(False, "no perplexity points: the model is not causal, so its perplexity is not a language "
                       "model's (it can read the word it predicts)", f"see {ctx.task.name}.causal",
                       verdict.numbers, fraction=0.0)
    return verdict


@register_figure("language_model.perplexity", ["build_model"], "Test perplexity next to the baselines and the optimum")
def perplexitybars_figure(ctx: Context) -> dict:
    return bars_figure(ctx, "perplexity", True, "test perplexity", log_y=True)


@register_figure("language_model.samples", ["build_model"], "Text generated by your model")
def samples(ctx: Context) -> dict:
    """Samples at each temperature and the beam search's best, each shown or, where the model failed on what the
    figure fed it, said why: computed apart from the graded outputs, so no check depends on them."""
    out, data = student_run(ctx)["out"], ctx.data
    start = [first_token(data)] if data.layout == "windows" else []
    text = lambda ids: detokenize(data.vocab.decode(start + [int(i) for i in ids]),  # noqa: E731
                                  data.preprocessing.get("tokenizer", "word"))
    rows, errors = [], {}
    drawn = out.get("samples") if isinstance(out.get("samples"), dict) else {}
    for t in TEMPERATURES:
        label = f"T = {t:g}"
        draws, why = figure_part(drawn.get(f"{t:g}"), f"sampling at {label}")
        if why:
            errors[label] = why
        elif isinstance(draws, torch.Tensor) and draws.dim() == 2:
            rows += [{"label": label, "text": text(seq)} for seq in draws]
        else:
            errors[label] = f"sampling at {label} returned {describe(draws)}"
    beam, why = figure_part(out.get("beam"), f"beam search (width {BEAM_WIDTH})")
    if why:
        errors["beam search"] = why
    elif isinstance(beam, list) and all(isinstance(b, tuple) and len(b) == 2 and isinstance(b[0], list)
                                         and isinstance(b[1], float) for b in beam):
        rows += [{"label": f"beam (width {BEAM_WIDTH}), log p = {score:.2f}", "text": text(tokens)}
                 for tokens, score in beam[:BEAM_WIDTH]]
    else:
        errors["beam search"] = f"beam search returned {describe(beam)}"
    figure = {"kind": "text", "rows": rows, "note": "Sampled with the harness's sampler from softmax(logits / T); "
              f"beam search keeps the {BEAM_WIDTH} best prefixes by summed log-probability. Your model is fed (B, T) "
              + ("ids as in training: the first token of the training text, the tokens so far, then 0."
                 if data.layout == "windows" else "ids as in training: <bos>, the words so far, then 0.")}
    if errors:
        figure["errors"] = errors
        figure["hint"] = ("No check's points depend on this figure. The contract promises forward any (B, T) batch "
                          "of ids, B from 1 up: try your model on the shape named above.")
    return figure
