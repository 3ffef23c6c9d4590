"""The harness's own training recipe and decoding loops, as program ops.

The student provides a model; the harness owns the loop: optimiser and schedule (recipe.py), loss (padding ignored),
gradient clipping, seed, early stopping, and the amount of work (epochs). Training is bounded by that work, never by
the wall clock, so that a busy machine trains exactly what an idle one does; a CPU-time budget is only the safety
net against a model too slow to grade, and a run it stops says how much of the work was done. The same code trains a
student's model in the worker and the reference models in the judge, so their figures compare. Everything returned
is raw (losses, logits, token ids); metrics and verdicts are computed by the judge.

Part of the worker's runtime (``ops.py`` offers these as program ops), so it imports nothing from the harness.
"""
from __future__ import annotations

import math
import os
import sys
import time

import torch
import torch.nn.functional as F

from .failures import describe_exception
from .recipe import COMPLETE, EarlyStopping, build_optimizer, build_schedule
from .tokens import PAD

LOSSES = ("classes", "tokens", "seq2seq", "regression")


def batch_loss(model, batch: dict, loss: str) -> torch.Tensor:
    """The training loss of one batch. ``batch`` holds ``x`` (and ``tgt_in`` for seq2seq) and ``y``."""
    if loss == "classes":
        return F.cross_entropy(model(batch["x"]), batch["y"])
    if loss == "tokens":
        logits = model(batch["x"])  # (B, T, V)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch["y"].reshape(-1), ignore_index=PAD)
    if loss == "seq2seq":
        logits = model(batch["x"], batch["tgt_in"])  # (B, T, V)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch["y"].reshape(-1), ignore_index=PAD)
    if loss == "regression":
        return F.mse_loss(model(batch["x"]), batch["y"])
    raise ValueError(f"unknown loss {loss!r}; one of {LOSSES}")


def train(model, data: dict, recipe: dict, valid: dict | None = None) -> dict:
    """The recipe's optimiser (and schedule, stepped once per epoch) on ``data`` (tensors with the same first
    dimension) for ``recipe['epochs']`` epochs. With ``valid`` (rows of the same form, held out of ``data``), the
    validation loss is measured after each epoch, for early stopping (which then puts the best epoch's weights
    back) and the plateau schedule. With ``recipe['cpu_budget_s']``, stops once this process has used that much
    CPU time (all its threads) since the start: the safety net, not a bound on the work. Returns the loss curves,
    the learning rate of each epoch, the work done, the epoch kept and why it stopped."""
    gen = torch.Generator().manual_seed(int(recipe["seed"]))
    optimiser = build_optimizer(model.parameters(), recipe)
    schedule = build_schedule(optimiser, recipe)
    stopping = recipe.get("early_stopping")
    stopper = EarlyStopping(stopping["patience"], stopping.get("min_delta", 0.0)) if stopping and valid else None
    n = next(iter(data.values())).shape[0]
    batch_size, epochs = int(recipe["batch_size"]), int(recipe["epochs"])
    budget = recipe.get("cpu_budget_s")
    start, cpu_start = time.perf_counter(), time.process_time()
    epoch_losses, batch_losses, valid_losses, lrs, epoch_ends = [], [], [], [], []
    stopped, kept = "completed", None

    def report() -> dict:
        return {"epoch_losses": epoch_losses, "batch_losses": batch_losses, "valid_losses": valid_losses,
                "lrs": lrs, "epoch_ends": epoch_ends, "stopped": stopped,
                "epoch_kept": kept if kept is not None else len(epoch_losses),
                "seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu_start,
                "epochs_done": len(epoch_losses), "batches_done": len(batch_losses),
                "batches_planned": epochs * math.ceil(n / batch_size)}

    model.train()
    for epoch in range(1, epochs + 1):
        total, count = 0.0, 0
        lrs.append(float(optimiser.param_groups[0]["lr"]))
        order = torch.randperm(n, generator=gen)
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            loss = batch_loss(model, {k: v[idx] for k, v in data.items()}, recipe["loss"])
            value = float(loss.detach())
            if not math.isfinite(value):
                stopped = "non-finite loss"
                return report()
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), float(recipe["clip"]))
            optimiser.step()
            batch_losses.append(value)
            total, count = total + value * len(idx), count + len(idx)
            if budget is not None and time.process_time() - cpu_start > float(budget):
                stopped = "cpu budget"
                break
        if stopped != "completed":
            break  # an epoch cut short is not an epoch done
        epoch_losses.append(total / max(count, 1))
        epoch_ends.append(len(batch_losses))
        valid_loss = validation_loss(model, valid, recipe["loss"], batch_size) if valid else None
        if valid_loss is not None:
            valid_losses.append(valid_loss)
        if isinstance(schedule, torch.optim.lr_scheduler.ReduceLROnPlateau):
            schedule.step(valid_loss)
        elif schedule is not None:
            schedule.step()
        if stopper is not None and stopper.update(epoch, valid_loss, model) and epoch < epochs:
            stopped = "early stopping"
            break
    if stopper is not None and stopped in COMPLETE:
        kept = stopper.restore(model)
    model.eval()
    return report()


@torch.no_grad()
def validation_loss(model, valid: dict, loss: str, batch_size: int) -> float:
    """The training loss over the validation rows, pooled (per token for the token losses, padding ignored), in
    eval mode; the model is put back in train mode."""
    model.eval()
    n = next(iter(valid.values())).shape[0]
    total, weight = 0.0, 0
    for i in range(0, n, batch_size):
        batch = {k: v[i:i + batch_size] for k, v in valid.items()}
        w = int((batch["y"] != PAD).sum()) if loss in ("tokens", "seq2seq") else batch["y"].numel()
        total, weight = total + float(batch_loss(model, batch, loss)) * w, weight + w
    model.train()
    value = total / max(weight, 1)
    return value if math.isfinite(value) else math.inf


@torch.no_grad()
def predict(model, inputs: list, batch_size: int = 256) -> torch.Tensor:
    """``model(*inputs)`` in batches, concatenated: logits or forecasts for a whole split."""
    model.eval()
    n = inputs[0].shape[0]
    outs = [model(*(t[i:i + batch_size] for t in inputs)) for i in range(0, n, batch_size)]
    return torch.cat([o.detach().float() for o in outs])


@torch.no_grad()
def greedy_decode(model, src: torch.Tensor, bos: int, eos: int, max_len: int, batch_size: int = 256) -> dict:
    """Greedy translation by re-running the teacher-forced forward on the growing prefix.

    Returns token ids (N, max_len) padded with PAD after eos. The model's ``attention`` is not read here: the
    attention figure reads it apart (``attention_maps``), so that it cannot cost the decodes that are graded."""
    model.eval()
    tokens = []
    for i in range(0, src.shape[0], batch_size):
        s = src[i:i + batch_size]
        prefix = torch.full((s.shape[0], 1), bos, dtype=torch.long)
        done = torch.zeros(s.shape[0], dtype=torch.bool)
        for _ in range(max_len):
            next_id = model(s, prefix)[:, -1].argmax(-1)  # (B,)
            next_id = torch.where(done, torch.full_like(next_id, PAD), next_id)
            prefix = torch.cat([prefix, next_id[:, None]], dim=1)
            done |= next_id == eos
            if done.all():
                break
        out = prefix[:, 1:]
        tokens.append(F.pad(out, (0, max_len - out.shape[1]), value=PAD))
    return {"tokens": torch.cat(tokens)}


#: what a figure's part catches: whatever the student's code raises, an exit included (as the worker reports it)
FAILURES = (Exception, SystemExit)


class Fed(Exception):
    """The model raised (``__cause__``), or returned what the contract does not promise, on what a figure ``fed``
    it (in words: "ids (3, 24)")."""

    def __init__(self, fed: str, returned: str = ""):
        super().__init__(returned or "the model raised")
        self.fed, self.returned = fed, returned


def _shape_of(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"


def _logits_at(model, seq: torch.Tensor, at: torch.Tensor) -> torch.Tensor:
    """The logits (B, V) a language model gives for the token after position ``at[b]`` of each row of ``seq``
    (B, T): fed the whole (B, T) batch, as the contract says, and read at each row's last token (it is causal)."""
    try:
        out = model(seq)
    except FAILURES as exc:
        raise Fed(f"ids {tuple(seq.shape)}") from exc
    if not isinstance(out, torch.Tensor) or out.dim() != 3 or tuple(out.shape[:2]) != tuple(seq.shape):
        raise Fed(f"ids {tuple(seq.shape)}", f"it returned {_shape_of(out)}, not next-token logits (B, T, vocab_size)")
    return out[torch.arange(seq.shape[0]), at].double()


def _rows(prefixes: list, width: int) -> torch.Tensor:
    """Token prefixes (each starting with bos) as the contract's (B, width) batch, padded with PAD at the end."""
    seq = torch.full((len(prefixes), width), PAD, dtype=torch.long)
    for row, tokens in enumerate(prefixes):
        seq[row, :len(tokens)] = torch.tensor(tokens, dtype=torch.long)
    return seq


@torch.no_grad()
def sample_text(model, n: int, bos: int, eos: int, width: int, temperature: float, seed: int) -> torch.Tensor:
    """``n`` sequences drawn token by token from softmax(logits / T) of a language model: at most ``width`` - 1
    tokens, PAD after eos. The model is fed what the contract promises and training feeds it, (n, width) rows of
    bos, the tokens drawn so far and PAD, never a batch narrower than the training data's."""
    model.eval()
    gen = torch.Generator().manual_seed(int(seed))
    seq = _rows([[bos]] * n, width)
    done = torch.zeros(n, dtype=torch.bool)
    for t in range(width - 1):
        probs = torch.softmax(_logits_at(model, seq, torch.full((n,), t)) / temperature, dim=-1)
        next_id = torch.multinomial(probs, 1, generator=gen)[:, 0]
        seq[:, t + 1] = torch.where(done, torch.full_like(next_id, PAD), next_id)
        done |= next_id == eos
        if done.all():
            break
    return seq[:, 1:]


@torch.no_grad()
def beam_text(model, bos: int, eos: int, beam_width: int, width: int) -> list:
    """The canonical beam search (summed log-probabilities, no length penalty) over a language model, up to
    ``width`` - 1 tokens; each step feeds the beams as (beams, width) rows padded with PAD, as ``sample_text``."""
    model.eval()
    beams, finished = [([bos], 0.0)], []
    while beams and len(finished) < beam_width:
        at = torch.tensor([len(tokens) - 1 for tokens, _ in beams])
        log_probs = torch.log_softmax(_logits_at(model, _rows([b[0] for b in beams], width), at), dim=-1)
        candidates = [(tokens + [v], score + float(log_probs[k, v]))
                      for k, (tokens, score) in enumerate(beams) for v in range(log_probs.shape[1])]
        candidates.sort(key=lambda c: -c[1])
        beams = []
        for tokens, score in candidates[:beam_width - len(finished)]:
            (finished if tokens[-1] == eos or len(tokens) >= width else beams).append((tokens, score))
    finished.sort(key=lambda c: -c[1])
    return [(tokens[1:], score) for tokens, score in finished]


@torch.no_grad()
def attention_maps(model, src: torch.Tensor, decoded: dict, bos: int, n: int):
    """The ``attention`` (n, T, S) a translation model sets in one teacher-forced forward over its own greedy decodes
    of the first ``n`` sources (``decoded``: what ``greedy_decode`` returned), or None when it sets none: what the
    attention figure shows, read apart from the decoding that is graded."""
    model.eval()
    tokens = decoded["tokens"][:n]
    tgt_in = torch.cat([torch.full((tokens.shape[0], 1), bos, dtype=torch.long), tokens[:, :-1]], dim=1)
    try:
        model(src[:n], tgt_in)
        att = getattr(model, "attention", None)
    except FAILURES as exc:
        raise Fed(f"src {tuple(src[:n].shape)} and tgt_in {tuple(tgt_in.shape)}") from exc
    return att.detach().float() if isinstance(att, torch.Tensor) else None


def apart(name: str, *args) -> dict:
    """The op ``name`` of this module on ``args``, as a part of a program that fails on its own: ``{"value": ...}``,
    or ``{"failed": ...}`` saying what was raised and where in the model's own files. For what a figure shows:
    its failure must not cost the graded outputs the same program computes."""
    op = OPS[name]  # an unknown op is the judge's own mistake: raised, not shown as the student's
    try:
        return {"value": op(*args)}
    except FAILURES as exc:  # whatever the model raises belongs to the figure alone
        return {"failed": failure(exc, args[0] if args else None)}


def failure(exc: BaseException, model) -> dict:
    """What ``exc`` was: the batch shape the model was fed, what it returned or raised, and the innermost line of
    the files beside the model's class that the error went through."""
    fed = exc if isinstance(exc, Fed) else None
    if fed is not None and not fed.returned and fed.__cause__ is not None:
        exc = fed.__cause__
    home = getattr(sys.modules.get(type(model).__module__), "__file__", None)
    info = describe_exception(exc, os.path.dirname(os.path.abspath(home)) if isinstance(home, str) else "/nowhere")
    info.pop("traceback", None)
    if fed is not None:
        info["fed"] = fed.fed
        if fed.returned:
            info["returned"], info["type"] = fed.returned, "output"
    return info


OPS = {
    "train": train,
    "predict": predict,
    "greedy_decode": greedy_decode,
    "sample_text": sample_text,
    "beam_text": beam_text,
    "attention_maps": attention_maps,
    "apart": apart,
}
