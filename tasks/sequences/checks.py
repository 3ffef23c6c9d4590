"""Checks of ``sequences.py``: Keras-style padding and truncation, and sliding windows.

Both functions are exact (integer tensors), so each check runs a table of small cases, each called
the way a student would call it (defaults left out where the case is about the defaults), and the
message names the first failing case with its input and the expected and returned rows.
"""
from __future__ import annotations

import torch

from harness.checks import Context, Verdict, register
from harness.checks.cases import CREDIT, by_case
from harness.checks.compare import describe
from harness.checks.diagnose import wrong_output
from harness.sandbox.program import Program

#: (label, seqs, maxlen, keyword arguments given explicitly)
PAD_CASES = [
    ("the defaults: padding and truncating at the front", [[1, 2, 3], [4, 5, 6, 7, 8, 9], [10]], 4, {}),
    ('padding="post"', [[1, 2, 3], [4, 5, 6, 7, 8, 9], [10]], 4, {"padding": "post"}),
    ('truncating="post"', [[1, 2, 3], [4, 5, 6, 7, 8, 9], [10]], 4, {"truncating": "post"}),
    ('padding="post", truncating="post"', [[4, 5, 6, 7, 8], [9, 10]], 3, {"padding": "post", "truncating": "post"}),
    ('padding="pre", truncating="pre" given explicitly', [[4, 5, 6, 7, 8], [9, 10]], 3,
     {"padding": "pre", "truncating": "pre"}),
    ("a custom value=-1", [[5, 6], [7, 8, 9, 10, 11], [12]], 4, {"value": -1}),
    ('a custom value=3 with padding="post"', [[5, 6], [7]], 3, {"padding": "post", "value": 3}),
    ("maxlen=None: the length of the longest sequence", [[5, 6, 7], [8], [9, 10, 11, 12, 13]], None, {}),
    ("empty sequences", [[], [5, 6], []], 3, {}),
    ("empty sequences with maxlen=None", [[7, 8], []], None, {"padding": "post"}),
    ("every sequence exactly maxlen long", [[4, 5], [6, 7]], 2, {}),
]


def call_text(seqs, maxlen, kwargs: dict) -> str:
    args = [repr(seqs), f"maxlen={maxlen!r}"] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"pad_sequences({', '.join(args)})"


def long_tensor_problem(got, want: torch.Tensor, what: str) -> str | None:
    """None when ``got`` is a LongTensor of ``want``'s shape, else what is wrong with it."""
    if not isinstance(got, torch.Tensor):
        return f"{what} should be a LongTensor of shape {tuple(want.shape)}, got {describe(got)}"
    if got.dtype != torch.long:
        return (f"{what} should be a LongTensor (int64; embeddings and losses need it), got dtype "
                f"{str(got.dtype).removeprefix('torch.')}")
    if tuple(got.shape) != tuple(want.shape):
        return f"{what} should have shape {tuple(want.shape)}, got {tuple(got.shape)}"
    return None


def first_row(got: torch.Tensor, want: torch.Tensor) -> int:
    return int((got != want).reshape(len(want), -1).any(dim=1).nonzero()[0])


def random_pad_cases(ctx: Context, n: int) -> list:
    """``n`` cases drawn from the check's seed: 1–5 sequences of 0–8 ids, maxlen None or 1–8, and padding,
    truncating and value each left to its default or given ("pre"/"post"; 0, -1 or 3)."""
    choices = {"padding": ("pre", "post"), "truncating": ("pre", "post"), "value": (0, -1, 3)}
    cases = []
    for k in range(n):
        count, maxlen, *picks = ctx.randint(0, 1000, 2 + len(choices)).tolist()
        seqs = [ctx.randint(1, 30, int(ctx.randint(0, 9, 1))).tolist() for _ in range(1 + count % 5)]
        kwargs = {key: options[pick % (len(options) + 1) - 1] for (key, options), pick in zip(choices.items(), picks)
                  if pick % (len(options) + 1)}  # 0: the default
        cases.append((f"random case {k + 1}", seqs, None if maxlen % 4 == 0 else 1 + maxlen % 8, kwargs))
    return cases


@register("sequences.pad_sequences", ["pad_sequences"],
          "Keras padding and truncation: pre/post, custom value, maxlen=None, empty sequences", random_cases=0,
          credit=CREDIT)
def check_pad_sequences(ctx: Context) -> Verdict:
    """The contract's edge cases; with ``random_cases`` = n, n cases drawn from the seed instead."""
    cases = random_pad_cases(ctx, ctx.options["random_cases"]) if ctx.options["random_cases"] else PAD_CASES

    def judge(case) -> Verdict | None:
        label, seqs, maxlen, kwargs = case
        p = Program()
        p.result(p.call("sequences.pad_sequences", seqs, maxlen, **kwargs))
        got = ctx.student(p, case=label)
        want = ctx.reference(p)
        call = call_text(seqs, maxlen, kwargs)
        problem = long_tensor_problem(got, want, call)
        if problem:
            return Verdict(False, f"case ({label}): {problem}",
                           "return torch.full((N, maxlen), value, dtype=torch.long) with each sequence copied in",
                           {"case": label})
        if torch.equal(got, want):
            return None
        row = first_row(got, want)
        message = (f"case ({label}): {call} row {row} (sequence {seqs[row]}): expected {want[row].tolist()}, "
                   f"got {got[row].tolist()}")
        hint = ("Keras semantics: a sequence longer than maxlen loses ids at the front (truncating='pre', the default) "
                "or the back ('post'); a shorter one is filled with value at the front (padding='pre', the default) "
                "or the back ('post'); maxlen=None is the longest sequence's length")
        return wrong_output(ctx, message, p, got, "sequences", "pad_sequences", 0.0, 0.0, hint,
                            {"case": label, "expected_row": want[row].tolist(), "got_row": got[row].tolist()})

    if ctx.options["random_cases"]:
        return by_case(ctx, cases, judge, Verdict(True, f"all {len(cases)} random cases match Keras' pad_sequences"))
    return by_case(ctx, cases, judge, Verdict(True, f"all {len(PAD_CASES)} cases match Keras' pad_sequences "
                                                    "(pre/post padding and truncation, custom value, maxlen=None, "
                                                    "empty sequences)"))


#: (label, ids, window)
WINDOW_CASES = [
    ("ten ids, window 3", list(range(4, 14)), 3),
    ("window 1", [5, 9, 4, 7, 6], 1),
    ("a list one id longer than the window: one window", [4, 5, 6, 7], 3),
    ("a list exactly as long as the window: no window", [4, 5, 6], 3),
    ("a list shorter than the window: no window", [4, 5], 3),
]


def random_window_cases(ctx: Context, n: int) -> list:
    """``n`` cases drawn from the check's seed: 0–15 ids, windows of 1–6."""
    return [(f"random case {k + 1}", ctx.randint(4, 60, int(ctx.randint(0, 16, 1))).tolist(),
             int(ctx.randint(1, 7, 1))) for k in range(n)]


@register("sequences.make_windows", ["make_windows"], "every window and the id that follows it, in order",
          random_cases=0, credit=CREDIT)
def check_make_windows(ctx: Context) -> Verdict:
    """The contract's edge cases; with ``random_cases`` = n, n cases drawn from the seed instead."""
    cases = random_window_cases(ctx, ctx.options["random_cases"]) if ctx.options["random_cases"] else WINDOW_CASES

    def judge(case) -> Verdict | None:
        label, ids, window = case
        p = Program()
        p.result(p.call("sequences.make_windows", ids, window))
        got = ctx.student(p, case=label)
        want = ctx.reference(p)
        call = f"make_windows({ids}, {window})"
        n = len(want[0])
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return Verdict(False, f"case ({label}): {call} should return (inputs, targets), got {describe(got)}",
                           "return two LongTensors: inputs (N, window) and targets (N,)", {"case": label})
        for part, g, w in (("inputs", got[0], want[0]), ("targets", got[1], want[1])):
            problem = long_tensor_problem(g, w, f"{part}")
            if problem:
                hint = "N = len(ids) − window windows"
                if n == 0:
                    hint = ("with no window at all, return torch.empty(0, window, dtype=torch.long) and "
                            "torch.empty(0, dtype=torch.long)")
                return wrong_output(ctx, f"case ({label}): {call}: {problem} (N = {n} windows)", p, got, "sequences",
                                    "make_windows", 0.0, 0.0, hint, {"case": label})
        if torch.equal(got[0], want[0]) and torch.equal(got[1], want[1]):
            return None
        row = first_row(torch.cat([got[0], got[1][:, None]], 1), torch.cat([want[0], want[1][:, None]], 1))
        message = (f"case ({label}): {call} window {row}: expected {want[0][row].tolist()} → {int(want[1][row])}, "
                   f"got {got[0][row].tolist()} → {int(got[1][row])}")
        hint = "window n is ids[n : n + window] and its target is the id right after it, ids[n + window]"
        return wrong_output(ctx, message, p, got, "sequences", "make_windows", 0.0, 0.0, hint, {"case": label})

    if ctx.options["random_cases"]:
        return by_case(ctx, cases, judge, Verdict(True, f"all {len(cases)} random cases match"))
    return by_case(ctx, cases, judge, Verdict(True, f"all {len(WINDOW_CASES)} cases match, including lists no longer "
                                                    "than the window (zero windows with shapes (0, window) and (0,))"))
