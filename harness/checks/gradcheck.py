"""Finite differences, judged here: the one comparison behind every gradient check of a submission against
itself (the declared ``gradcheck`` kind and a task's written ones).

For each tensor the outputs are differentiated by, a random direction v: the analytic g·v (from the gradients
the worker returns) against (L(θ+εv) − L(θ−εv)) / 2ε (from the losses it returns at the perturbed points).
Agreement is worth nothing when there is nothing to agree on (the stub rules of ``stubs.py``): a derivative or
loss that is not finite, or every derivative 0 (the output does not depend on anything it was given).
"""
from __future__ import annotations

from . import Verdict
from .compare import as_float
from .stubs import non_finite

IDLE_HINT = "compute the output from the inputs (and the parameters) with the contract's equations"


def directional(what: str, labels: list[str], grads: list, losses: list, directions: list, eps: float,
                rtol: float, atol: float, idle_hint: str = IDLE_HINT) -> tuple[Verdict | None, dict]:
    """(a failed verdict, or None when the gradients agree, and the numbers: label -> analytic and numeric).
    ``grads[k]`` is the gradient of the k-th labelled tensor (None: none reached it), ``losses[2k]`` and
    ``losses[2k+1]`` the loss at θ+εv and θ−εv along ``directions[k]``."""
    numbers, bad = {}, []
    for k, label in enumerate(labels):
        plus, minus = as_float(losses[2 * k]), as_float(losses[2 * k + 1])
        numeric = float("nan") if plus is None or minus is None else (plus - minus) / (2 * eps)
        g = grads[k]
        analytic = 0.0 if g is None else float((g.double() * directions[k]).sum())
        numbers[label] = {"analytic": analytic, "numeric": numeric}
        if non_finite([analytic, numeric]) or abs(analytic - numeric) > atol + rtol * abs(numeric):
            bad.append(label)
    if not labels:
        return Verdict(False, f"{what}: the calls give no floating tensor to differentiate by, so there is no "
                       "gradient to check", "the check needs a floating input or a parameter"), numbers
    broken = [label for label in labels if non_finite(list(numbers[label].values()))]
    if broken:
        return Verdict(False, f"{what}: the outputs or their gradients are not finite (NaN or infinity) for "
                       f"{', '.join(broken)}, so there is nothing to check", "look for a division by zero, the log "
                       "of 0, an overflow or a NaN put in on purpose in the forward pass",
                       {"directional": numbers}), numbers
    if all(n["analytic"] == 0.0 and n["numeric"] == 0.0 for n in numbers.values()):
        return Verdict(False, f"{what}: every directional derivative is 0 — the output does not depend on "
                       f"{', '.join(labels)}, so there is no gradient to check yet", idle_hint,
                       {"directional": numbers}), numbers
    if bad:
        shown = [f"{label} (analytic {numbers[label]['analytic']:.6g}, finite difference "
                 f"{numbers[label]['numeric']:.6g})" for label in bad]
        return Verdict(False, f"{what}: the backward pass disagrees with finite differences of the forward pass "
                       f"for {', '.join(shown)}", "autograd gets this right by itself: look for a custom "
                       "autograd.Function, .detach() or .data in the path to those tensors",
                       {"directional": numbers}), numbers
    return None, numbers
