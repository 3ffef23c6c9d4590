"""charlm_course's written check: the perplexity, which takes a model and contexts no declared kind passes.
Loaded by the judge and, from the released bundle, on the student's machine."""
from harness.checks import Context, Verdict, register
from harness.checks.compare import mismatch
from harness.checks.diagnose import wrong_output
from harness.checks.tables import parse_table
from harness.sandbox.program import Program

VOCAB = "_abcde"
MODEL = {"kind": "module", "input": "column", "returns": "logits", "positions": "all"}
TABLE = parse_table({"about": "contexts after 'b'", "seed": "b", "max_len": 3,
                     "default": {"a": 0.4, "c": 0.3, "e": 0.3},
                     "next": {"": {"a": 0.5, "c": 0.3, "d": 0.2}, "a": {"b": 0.7, "e": 0.3},
                              "c": {"a": 0.25, "d": 0.75}, "ab": {"c": 0.9, "e": 0.1}}}, 0, False, VOCAB)
ROWS, WIDTH, BATCH = 12, 6, 5


@register("charlm_course.compute_perplexity", ["compute_perplexity"],
          "the perplexity of a model over left-padded contexts equals the answer key's")
def perplexity(ctx: Context) -> Verdict:
    lengths = ctx.randint(0, 3, ROWS)
    chars = ctx.randint(1, len(VOCAB), ROWS, 2)
    targets = ctx.randint(1, len(VOCAB), ROWS)
    inputs = ctx.randint(0, 1, ROWS, WIDTH)  # zeros: the padding, then the seed and what follows it
    for i, n in enumerate(lengths.tolist()):
        row = [*TABLE.seed, *chars[i, :n].tolist()]
        inputs[i, WIDTH - len(row):] = inputs.new_tensor(row)
    p = Program()
    p.assign("charlm_course.device", "cpu")
    value = p.call("charlm_course.compute_perplexity", TABLE.model(p, MODEL), inputs, targets, BATCH)
    program = p.result(value)
    case = f"compute_perplexity(model, val_inputs ({ROWS}, {WIDTH}), val_targets ({ROWS},), {BATCH})"
    got, want = ctx.student(program, case=case), ctx.reference(program)
    problem = mismatch(got, want, 1e-5, 1e-8, "perplexity")
    if problem is None:
        return Verdict(True, f"{case}: {float(want):.6g}, as expected")
    return wrong_output(ctx, f"{case}: {problem}", program, got, "charlm_course", "compute_perplexity", 1e-5, 1e-8,
                        "the perplexity is exp(−mean log p(target | context)), log p from the log-softmax of the "
                        "model's last position", {"expected": float(want)})
