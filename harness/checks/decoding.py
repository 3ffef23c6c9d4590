"""Checks of greedy and beam search, run on next-token tables.

A table is a language model seen from outside: the distribution of the next token after each prefix.
Two sources of tables (harness/checks/tables.py):

- ``tables``, written in the task's ``task.toml``: each prefix (after bos) with its next-token
  probabilities, written with token names (``eos``, ``A``..``D``) or ids, and the ``max_len`` (and, for
  beam search, the ``beam_widths``) to decode with. Deep tables, where every prefix up to length 4 has
  its own distribution and two beams end in the same token, are what catch bookkeeping mistakes:
  a hypothesis's parent taken from its last token's value, finished hypotheses extended or dropped.
- ``random_tables``: tables drawn from the check's seed, every prefix shorter than ``random_max_len``
  over eos, A, B, C with its own distribution, compared with the answer key.

Beam search is judged on what every form the contract allows shares: each returned hypothesis is
finished (it ends at eos or has max_len tokens), its score is its summed log-probability under the
table (recomputed here), the list is sorted best first, and the best hypothesis is the one the
answer key finds, or one of the catalogue's accepted forms of beam search finds (a beam kept full,
finished hypotheses kept in the beam). Random tables on which those forms disagree are left out.

With a ``model`` option the search is called as a course calls it — on a table model, with text and notebook
globals — and its result is compared with the answer key's exactly (harness/checks/model_decoding.py).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

from ..answers import VariantFailed
from ..runtime.tokens import BOS, EOS
from ..sandbox.program import Program
from . import Context, Structured, Verdict, register
from .cases import CREDIT, by_case
from .compare import as_float, describe
from .declared import validate_target
from .diagnose import wrong_output
from . import model_decoding
from .tables import BEAM_TABLES, GREEDY_TABLES, NAMES, Table, parse_tables, random_tables, spell, tables_tested, tokens_of

# --------------------------------------------------------------------------- greedy search


def searched(ctx: Context) -> tuple[str, str]:
    """The module and name of the search under test: the task's module, the check's ``target``."""
    module = ctx.task.module if ctx.task is not None else ctx.check_id.partition(".")[0]
    return module, ctx.options["target"]


def greedy_call(table: Table, name: str = "greedy_search") -> str:
    return f"{name}(step, bos={BOS}, eos={EOS}, max_len={table.max_len}) on {table.about}"


def greedy_program(table: Table, dotted: str = "generation.greedy_search") -> Program:
    p = Program()
    return p.result(p.call(dotted, table.step(p), BOS, EOS, table.max_len))


def first_difference(got: list[int], want: list[int]) -> str:
    at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    return f"they part at position {at} (0 = the first token after bos)"


def model_options() -> dict:
    """The model options (model_decoding.model_options) and how a result's length is read."""
    return dict(model_decoding.model_options(), length=("eos", "exact"))


def greedy_options(target: str = "") -> dict:
    """The options of a greedy-search check (a task's own check of this kind passes its target's name)."""
    return dict(target=Structured(target, validate_target), accept_missing_eos=False, tables=GREEDY_TABLES,
                random_tables=6, random_max_len=5, credit=CREDIT, **model_options())


def tables_of(ctx: Context, beam: bool) -> tuple[list[Table], list[Table]]:
    """The check's written tables and its random ones (with a vocab, read after the first written table's seed)."""
    vocab = ctx.options.get("vocab", "")
    hand = parse_tables(ctx.options["tables"], beam, vocab)
    seed = hand[0].seed if vocab and hand else ()
    randoms = random_tables(ctx, ctx.options["random_tables"], ctx.options["random_max_len"], beam, vocab, seed)
    return hand, randoms


@register("declared.greedy", ["{target}"], "a greedy search on next-token tables equals the answer key's",
          consistent=lambda options: model_decoding.consistent(options, beam=False), **greedy_options())
def check_greedy(ctx: Context) -> Verdict:
    hand, randoms = tables_of(ctx, beam=False)

    def judge(tables):
        for table in tables:
            verdict = (model_decoding.judge_greedy(ctx, table, *searched(ctx)) if ctx.options.get("model")
                       else judge_greedy(ctx, table))
            if verdict is not None:
                return verdict
        return None

    cases = [[t] for t in hand] + ([randoms] if randoms else [])
    if ctx.options.get("model"):
        return by_case(ctx, cases, judge, model_decoding.passed(ctx, hand, randoms, beam=False))
    return by_case(ctx, cases, judge, Verdict(
        True, f"greedy search matches on {tables_tested(hand, randoms)}; the result holds the tokens after bos, "
              "eos included"))


def judge_greedy(ctx: Context, table: Table) -> Verdict | None:
    module, name = searched(ctx)
    label = greedy_call(table, name)
    program = greedy_program(table, f"{module}.{name}")
    got = ctx.student(program, case=label)
    want = ctx.reference(program)
    tokens = tokens_of(got)
    if tokens is None:
        return Verdict(False, f"{label}: should return a list of token ids, got {describe(got)}",
                       "return the tokens after bos as a list of ints", {"case": table.about})
    if tokens == want:
        return None
    numbers = {"case": table.about, "expected": want, "got": tokens}
    expected = f"expected {spell(want)} ({table.path(want)}), got {spell(tokens)}"
    if tokens == want[:-1] and want[-1] == EOS:
        if ctx.options["accept_missing_eos"]:
            return None
        return wrong_output(ctx, f"{label}: {expected}: the same tokens without the final eos, which the contract's "
                                 "result includes", program, got, module, name, 0.0, 0.0,
                            "the contract's convention: the result holds the tokens after bos, eos included when it "
                            "is emitted (as in beam search's hypotheses)", numbers)
    hint = ("at each step take the arg-max of step([bos, *tokens so far]); stop after appending eos or once "
            "max_len tokens follow bos; return the tokens without bos")
    if tokens[:1] == [BOS]:
        hint = "the result holds the tokens after bos, without bos itself"
    return wrong_output(ctx, f"{label}: {expected}: {first_difference(tokens, want)}", program, got, module, name,
                        0.0, 0.0, hint, numbers)


# --------------------------------------------------------------------------- beam search


def beam_call(table: Table, width: int, name: str = "beam_search") -> str:
    return (f"{name}(step, bos={BOS}, eos={EOS}, beam_width={width}, max_len={table.max_len}) on "
            f"{table.about}")


def beam_program(table: Table, width: int, best_only: bool = False, dotted: str = "generation.beam_search") -> Program:
    p = Program()
    found = p.call(dotted, table.step(p), BOS, EOS, width, table.max_len)
    return p.result(p.op("index", found, 0) if best_only else found)


def parse_hypotheses(got) -> tuple[list | None, str]:
    """[(tokens, score)] from the submission's value, or None and what is wrong with it."""
    if not isinstance(got, (list, tuple)) or not got:
        return None, f"expected a non-empty list of (tokens, score) pairs, got {describe(got)}"
    out = []
    for i, item in enumerate(got):
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            return None, f"hypothesis {i} should be a pair (tokens, score), got {describe(item)}"
        tokens, score = tokens_of(item[0]), as_float(item[1])
        if tokens is None:
            return None, f"hypothesis {i}: tokens should be a list of ints, got {describe(item[0])}"
        if score is None:
            return None, f"hypothesis {i}: the score should be a number, got {describe(item[1])}"
        out.append((tokens, score))
    return out, ""


def near(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * (1 + abs(b))


@dataclass(frozen=True)
class Problem:
    """What is wrong with one returned hypothesis, the hint, and the catalogue name of the mistake when the
    judge can trace it from the table alone."""
    what: str
    hint: str
    traced: str | None = None


def hypothesis_problem(table: Table, tokens: list[int], score: float, tol: float) -> Problem | None:
    """What is wrong with one returned hypothesis, judged against the table alone."""
    max_len = table.max_len
    if tokens[:1] == [BOS]:
        return Problem(f"{spell(tokens)} starts with bos", "hypotheses hold the tokens after bos, without bos itself")
    if len(tokens) > max_len:
        return Problem(f"{spell(tokens)} has {len(tokens)} tokens, more than max_len={max_len}",
                       "a hypothesis is finished once it has max_len tokens after bos")
    if EOS in tokens[:-1]:
        return Problem(f"{spell(tokens)} goes on after eos", "a hypothesis that emits eos is finished: do not extend it")
    if not tokens or (tokens[-1] != EOS and len(tokens) != max_len):
        return Problem(f"{spell(tokens)} neither ends with eos nor has max_len={max_len} tokens",
                       "return only finished hypotheses: those that emitted eos or reached max_len tokens")
    true = table.log_prob(tokens)
    if near(score, true, tol):
        return None
    what = f"{spell(tokens)} has score {score:.6g}, but its summed log-probability under the table is {true:.6g}"
    if near(score, true / len(tokens), tol):
        return Problem(what + " — the score is divided by the number of tokens",
                       "the score of a hypothesis is the sum of log p(token | prefix) over its tokens (eos included), "
                       "without length normalisation")
    traced = misattached(table, tokens, score, tol)
    if traced is not None:
        j, parent = traced
        return Problem(what + f": it is the score of another beam, {spell(parent)}, extended by "
                              f"{spell(tokens[j:])} — both beams end in {NAMES.get(parent[-1], parent[-1])}",
                       "a new token was attached to the wrong beam: two beams ended in the same token, and the parent "
                       "was found by that token's value; keep each candidate's parent by its index in the beam (or "
                       "carry the prefix itself)", traced="beam_parent_by_token")
    return Problem(what, "the score of a hypothesis is the sum of log p(token | prefix) over its own tokens (eos "
                         "included): check that each hypothesis keeps the tokens and the score of the same prefix")


def misattached(table: Table, tokens: list[int], score: float, tol: float) -> tuple[int, list[int]] | None:
    """(j, parent) when ``score`` is what a parent lookup by token value gives: token j was appended to a beam
    ending in the same token as ``parent`` (the beam it came from), so the score is ``parent`` + token j's, then
    the student's own tokens after it. None when no such beam explains the score."""
    words = [t for t in table.tokens() if t != EOS]
    for j in range(1, len(tokens)):
        after = table.log_prob(tokens) - table.log_prob(tokens[:j + 1])
        for head in itertools.product(words, repeat=j - 1):
            parent = [*head, tokens[j - 1]]
            if parent != tokens[:j] and near(score, table.log_prob(parent + [tokens[j]]) + after, tol):
                return j, parent
    return None


def accepted_bests(ctx: Context, program: Program, want) -> list[tuple[list[int], float]]:
    """The best hypothesis (tokens, score) of the answer key, then of each accepted form of beam search in the
    catalogue (one that cannot run this program is left out)."""
    bests = [(list(want[0][0]), float(want[0][1]))]
    for variant in ctx.variants(*searched(ctx)):
        if variant.kind != "accepted":
            continue
        try:
            best = ctx.variant(program, variant)[0]
        except (VariantFailed, IndexError, TypeError):
            continue
        bests.append((list(best[0]), float(best[1])))
    return bests


def judge_beam(ctx: Context, table: Table, width: int, drawn: bool) -> Verdict | None:
    tol = ctx.options["score_tol"]
    module, name = searched(ctx)
    label = beam_call(table, width, name)
    program = beam_program(table, width, dotted=f"{module}.{name}")
    got = ctx.student(program, case=label)
    want = ctx.reference(program)
    numbers = {"case": table.about, "beam_width": width}
    found, problem = parse_hypotheses(got)
    if found is None:
        return wrong_output(ctx, f"{label}: {problem}", program, got, module, name, tol, tol,
                            "return [(tokens without bos, summed log-probability), ...], best first", numbers)
    for tokens, score in found:
        bad = hypothesis_problem(table, tokens, score, tol)
        if bad:
            verdict = wrong_output(ctx, f"{label}: {bad.what}", program, found, module, name, tol, tol,
                                   bad.hint, numbers)
            if bad.traced and "diagnosis" not in verdict.numbers:  # traced from the table, not matched to a variant
                verdict.numbers["diagnosis"] = [bad.traced]
            return verdict
    scores = [score for _, score in found]
    for i in range(len(scores) - 1):
        if scores[i + 1] > scores[i] + tol * (1 + abs(scores[i])):
            return Verdict(False, f"{label}: not sorted best first: hypothesis {i + 1} {spell(found[i + 1][0])} "
                                  f"scores {scores[i + 1]:.6g} > hypothesis {i}'s {scores[i]:.6g}",
                           "sort the finished hypotheses by score, best first", numbers)
    tokens, score = found[0]
    true = table.log_prob(tokens)
    best_tokens, best_score = want[0]
    if tokens == list(best_tokens) or near(true, best_score, tol):
        return None  # the answer key's best: the other accepted forms need not be asked
    bests = accepted_bests(ctx, program, want)
    if drawn and any(not near(s, best_score, tol) for _, s in bests):
        return None  # the forms the contract allows disagree on this table: it says nothing
    if any(tokens == b or near(true, s, tol) for b, s in bests):
        return None
    what = "with beam_width=1 beam search should equal greedy search" if width == 1 else "the best hypothesis"
    message = (f"{label}: {what}: expected {spell(best_tokens)} with log-probability {best_score:.6g} "
               f"({table.path(best_tokens)}), got {spell(tokens)} with {score:.6g}; "
               f"{first_difference(tokens, best_tokens)}")
    hint = ("keep the beam_width best prefixes by summed log-probability at every step (not only the best one), "
            "extending each by its best tokens; a hypothesis finishes at eos or at max_len tokens and is returned "
            "with the others")
    numbers.update(expected_best=[best_tokens, best_score], got_best=[tokens, score])
    diagnosed = wrong_output(ctx, message, program, found, module, name, tol, tol, "", numbers)
    if diagnosed.hint:
        return diagnosed
    return wrong_output(ctx, message, beam_program(table, width, best_only=True, dotted=f"{module}.{name}"),
                        found[0], module, name, tol, tol, hint, numbers)


def beam_options(target: str = "") -> dict:
    """The options of a beam-search check (a task's own check of this kind passes its target's name)."""
    return dict(target=Structured(target, validate_target), score_tol=1e-6, tables=BEAM_TABLES, random_tables=6,
                random_max_len=5, credit=CREDIT, hypotheses=("best", "all"), **model_options())


@register("declared.beam", ["{target}"], "a beam search on next-token tables returns the answer key's best hypothesis "
          "(and every other one, in order, where the contract asks for all of them)",
          consistent=lambda options: model_decoding.consistent(options, beam=True), **beam_options())
def check_beam(ctx: Context) -> Verdict:
    hand, randoms = tables_of(ctx, beam=True)

    def one(table, width, drawn):
        if ctx.options.get("model"):
            return model_decoding.judge_beam(ctx, table, width, *searched(ctx))
        return judge_beam(ctx, table, width, drawn)

    def judge(case):
        if case == "random":
            return next((v for t in randoms if (v := one(t, t.beam_widths[0], True)) is not None), None)
        table, width = case
        return one(table, width, False)

    cases = [(t, w) for t in hand for w in t.beam_widths] + (["random"] if randoms else [])
    if ctx.options.get("model"):
        return by_case(ctx, cases, judge, model_decoding.passed(ctx, hand, randoms, beam=True))
    return by_case(ctx, cases, judge, Verdict(
        True, f"beam search finds the best hypothesis on {tables_tested(hand, randoms, beam=True)}; every returned "
              "score is the summed log-probability of its tokens, sorted best first, each ending at eos or max_len"))
