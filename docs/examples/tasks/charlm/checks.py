"""The charlm task's written checks: what its TOML cannot declare. Loaded by the judge and, from the
released bundle, on the student's machine; registered with the harness's own decorator."""
import torch

from harness.checks import Context, Verdict, register
from harness.sandbox.program import Program


@register("charlm.temperature_limits", ["softmax_t"],
          "a temperature near 0 gives the arg-max one-hot, a large one nearly uniform")
def temperature_limits(ctx: Context) -> Verdict:
    logits = ctx.randn(4, 6, scale=2.0)
    p = Program()
    cold = p.call("charlm.softmax_t", logits, 1e-3)
    hot = p.call("charlm.softmax_t", logits, 1e3)
    got = ctx.student(p.result({"cold": cold, "hot": hot}), case="softmax_t(logits (4, 6), 1e-3 and 1e3)")
    one_hot = torch.nn.functional.one_hot(logits.argmax(-1), 6).to(logits.dtype)
    if not torch.allclose(got["cold"].double(), one_hot, atol=1e-6):
        return Verdict(False, "softmax_t(logits, 1e-3) should put all the probability on the arg-max of each row",
                       "dividing by a small temperature makes the largest logit dominate")
    if not torch.allclose(got["hot"].double(), torch.full_like(one_hot, 1 / 6), atol=1e-2):
        return Verdict(False, "softmax_t(logits, 1e3) should be nearly uniform (1/6 each)",
                       "dividing by a large temperature flattens the logits")
    return Verdict(True, "near 0 the arg-max, at 1e3 nearly uniform")
