"""Checks of greedy and beam search, run on next-token tables.

A table is a language model seen from outside: the distribution of the next token after each prefix.
Two sources of tables:

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
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch

from ..answers import VariantFailed
from ..runtime.ops import prefix_key
from ..runtime.tokens import BOS, EOS
from ..sandbox.program import Program
from . import Context, OptionError, Structured, Verdict, register
from .cases import CREDIT, by_case
from .compare import as_float, describe
from .declared import validate_target
from .diagnose import wrong_output

FLOAT64 = torch.float64
VOCAB = 8
FLOOR = 1e-6  # the probability of a token a table does not list, before renormalising
TOKEN_IDS = {"eos": EOS, "A": 4, "B": 5, "C": 6, "D": 7}
NAMES = {i: name for name, i in TOKEN_IDS.items()}
RANDOM_TOKENS = (EOS, 4, 5, 6)  # a random table's next token is one of eos, A, B, C


def spell(tokens) -> str:
    return "[" + ", ".join(f"{t} ({NAMES[t]})" if t in NAMES else str(t) for t in tokens) + "]"


def log_dist(probs: dict) -> torch.Tensor:
    """Log-probabilities (VOCAB,) with the given probabilities, FLOOR on the other tokens, renormalised."""
    p = torch.full((VOCAB,), FLOOR, dtype=FLOAT64)
    for token, q in probs.items():
        p[token] = q
    return (p / p.sum()).log()


@dataclass(frozen=True)
class Table:
    """A next-token table: ``next`` maps a prefix after bos (ids joined by spaces, "" for none) to
    log-probabilities (VOCAB,); a prefix it does not list gets ``default``."""
    about: str
    next: dict
    default: torch.Tensor
    max_len: int
    beam_widths: tuple[int, ...] = ()

    def step(self, p: Program):
        return p.op("table_step", dict(self.next), self.default)

    def log_probs(self, prefix: list[int]) -> torch.Tensor:
        return self.next.get(prefix_key(prefix), self.default)

    def log_prob(self, tokens: list[int]) -> float:
        """The true summed log-probability of ``tokens`` (after bos) under the table."""
        total = 0.0
        for i, token in enumerate(tokens):
            if not 0 <= token < VOCAB:
                return -math.inf
            total += float(self.log_probs(tokens[:i])[token])
        return total

    def tokens(self) -> list[int]:
        """The tokens some prefix makes likely (more than the floor given to unlisted tokens)."""
        rows = [*self.next.values(), self.default]
        return sorted({t for row in rows for t in range(VOCAB) if float(row[t]) > math.log(10 * FLOOR)})

    def path(self, tokens: list[int]) -> str:
        """How ``tokens`` come about, step by step: "B 0.28, then A 0.52, then eos 0.53"."""
        steps = [f"{NAMES.get(t, t)} {math.exp(float(self.log_probs(tokens[:i])[t])):.2g}"
                 for i, t in enumerate(tokens) if 0 <= t < VOCAB]
        return ", then ".join(steps)


# --------------------------------------------------------------------------- tables written in task.toml


def token_id(word: str, where: str) -> int:
    if word in TOKEN_IDS:
        return TOKEN_IDS[word]
    if word.isdigit() and int(word) < VOCAB:
        return int(word)
    raise OptionError(where, f"unknown token {word!r}",
                      f"write a token as one of {', '.join(TOKEN_IDS)} or an id below {VOCAB}")


def distribution(raw, where: str) -> dict[int, float]:
    if not isinstance(raw, dict) or not raw:
        raise OptionError(where, f"must be a table of next-token probabilities, got {raw!r}",
                          "e.g. { eos = 0.3, A = 0.7 }")
    probs = {}
    for word, q in raw.items():
        token = token_id(str(word), where)
        if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 < q <= 1:
            raise OptionError(f"{where}.{word}", f"must be a probability in (0, 1], got {q!r}")
        probs[token] = float(q)
    if not 0.98 <= sum(probs.values()) <= 1.02:
        raise OptionError(where, f"the probabilities sum to {sum(probs.values()):.3g}",
                          "make them sum to 1 (they are renormalised, so rounding to two decimals is fine)")
    return probs


def written_prefix(raw: str, where: str) -> str:
    """A prefix as task.toml writes it ("A B", or ids) as the table names it."""
    return prefix_key(token_id(word, where) for word in raw.split())


TABLE_KEYS = {"about", "max_len", "beam_widths", "next", "default"}


def parse_table(raw, index: int, beam: bool) -> Table:
    where = f"[{index}]"
    if not isinstance(raw, dict):
        raise OptionError(where, "must be a table", 'e.g. about = "…", max_len = 4, next = { "" = { A = 1.0 } }')
    allowed = TABLE_KEYS if beam else TABLE_KEYS - {"beam_widths"}
    for key in raw:
        if key not in allowed:
            raise OptionError(f"{where}.{key}", "unknown key", "allowed: " + ", ".join(sorted(allowed)))
    max_len = raw.get("max_len")
    if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1:
        raise OptionError(f"{where}.max_len", f"must be an integer ≥ 1, got {max_len!r}")
    widths = raw.get("beam_widths", [1, 2] if beam else [])
    if not isinstance(widths, list) or not all(isinstance(w, int) and not isinstance(w, bool) and w >= 1
                                               for w in widths) or (beam and not widths):
        raise OptionError(f"{where}.beam_widths", f"must be a list of integers ≥ 1, got {widths!r}")
    if not isinstance(raw.get("next"), dict):
        raise OptionError(f"{where}.next", "missing: the next-token probabilities after each prefix",
                          'e.g. next = { "" = { A = 0.6, eos = 0.4 }, "A" = { eos = 1.0 } }')
    nexts = {written_prefix(str(prefix), f'{where}.next."{prefix}"'): log_dist(distribution(dist, f'{where}.next."{prefix}"'))
             for prefix, dist in raw["next"].items()}
    default = log_dist(distribution(raw.get("default", {"eos": 1.0}), f"{where}.default"))
    return Table(str(raw.get("about", f"table {index + 1}")), nexts, default, max_len, tuple(widths))


def parse_tables(raw, beam: bool) -> list[Table]:
    if not isinstance(raw, list):
        raise OptionError("", f"must be a list of tables, got {raw!r}", "write each as [[checks.\"…\".tables]]")
    return [parse_table(t, i, beam) for i, t in enumerate(raw)]


GREEDY_TABLES = Structured([], lambda raw: parse_tables(raw, beam=False))
BEAM_TABLES = Structured([], lambda raw: parse_tables(raw, beam=True))


# --------------------------------------------------------------------------- random tables


def random_tables(ctx: Context, count: int, max_len: int, beam: bool) -> list[Table]:
    """``count`` tables drawn from the check's seed: every prefix over A, B, C shorter than ``max_len`` has its
    own next-token distribution over eos, A, B, C (softmax of normal logits, scale 1.5). Beam widths 2, 3, 2, …"""
    words = RANDOM_TOKENS[1:]
    prefixes = [[]]
    for prefix in prefixes:
        if len(prefix) + 1 < max_len:
            prefixes.extend(prefix + [t] for t in words)
    tables = []
    for i in range(count):
        probs = torch.softmax(ctx.randn(len(prefixes), len(RANDOM_TOKENS), scale=1.5), dim=-1)
        nexts = {prefix_key(prefix): log_dist(dict(zip(RANDOM_TOKENS, row.tolist())))
                 for prefix, row in zip(prefixes, probs)}
        widths = (2 + i % 2,) if beam else ()
        tables.append(Table(f"random table {i + 1} of {count}", nexts, log_dist({EOS: 1.0}), max_len, widths))
    return tables


def tables_tested(hand: list[Table], randoms: list[Table], beam: bool = False) -> str:
    """What a search was tested on, in words that name only what there was: "2 written tables (beam widths
    1, 2) and 10 random tables (beam widths 2, 3)", "10 random tables (beam widths 2, 3)"."""
    parts = []
    for tables, kind in ((hand, "written"), (randoms, "random")):
        if not tables:
            continue
        widths = sorted({w for t in tables for w in t.beam_widths}) if beam else []
        said = f" (beam width{'s' if len(widths) > 1 else ''} {', '.join(map(str, widths))})" if widths else ""
        parts.append(f"{len(tables)} {kind} table{'s' if len(tables) != 1 else ''}{said}")
    return " and ".join(parts) or "no table"


# --------------------------------------------------------------------------- greedy search


def as_tokens(value) -> list[int] | None:
    """A token list from a list/tuple of ints or a 1-D integer tensor; None if it is neither."""
    if isinstance(value, torch.Tensor) and value.dim() == 1 and not value.is_floating_point():
        return [int(t) for t in value]
    if isinstance(value, (list, tuple)) and all(isinstance(t, int) and not isinstance(t, bool) for t in value):
        return list(value)
    if isinstance(value, (list, tuple)) and all(isinstance(t, torch.Tensor) and t.numel() == 1 for t in value):
        return [int(t) for t in value]
    return None


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


def greedy_options(target: str = "") -> dict:
    """The options of a greedy-search check (a task's own check of this kind passes its target's name)."""
    return dict(target=Structured(target, validate_target), accept_missing_eos=False, tables=GREEDY_TABLES,
                random_tables=6, random_max_len=5, credit=CREDIT)


@register("declared.greedy", ["{target}"], "a greedy search on next-token tables equals the answer key's",
          **greedy_options())
def check_greedy(ctx: Context) -> Verdict:
    hand = parse_tables(ctx.options["tables"], beam=False)
    randoms = random_tables(ctx, ctx.options["random_tables"], ctx.options["random_max_len"], beam=False)

    def judge(tables):
        for table in tables:
            verdict = judge_greedy(ctx, table)
            if verdict is not None:
                return verdict
        return None

    cases = [[t] for t in hand] + ([randoms] if randoms else [])
    return by_case(ctx, cases, judge, Verdict(
        True, f"greedy search matches on {tables_tested(hand, randoms)}; the result holds the tokens after bos, "
              "eos included"))


def judge_greedy(ctx: Context, table: Table) -> Verdict | None:
    module, name = searched(ctx)
    label = greedy_call(table, name)
    program = greedy_program(table, f"{module}.{name}")
    got = ctx.student(program, case=label)
    want = ctx.reference(program)
    tokens = as_tokens(got)
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
        tokens, score = as_tokens(item[0]), as_float(item[1])
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
                random_max_len=5, credit=CREDIT)


@register("declared.beam", ["{target}"], "a beam search on next-token tables finds the answer key's best hypothesis",
          **beam_options())
def check_beam(ctx: Context) -> Verdict:
    hand = parse_tables(ctx.options["tables"], beam=True)
    randoms = random_tables(ctx, ctx.options["random_tables"], ctx.options["random_max_len"], beam=True)

    def judge(case):
        if case == "random":
            return next((v for t in randoms if (v := judge_beam(ctx, t, t.beam_widths[0], True)) is not None), None)
        table, width = case
        return judge_beam(ctx, table, width, False)

    cases = [(t, w) for t in hand for w in t.beam_widths] + (["random"] if randoms else [])
    return by_case(ctx, cases, judge, Verdict(
        True, f"beam search finds the best hypothesis on {tables_tested(hand, randoms, beam=True)}; every returned "
              "score is the summed log-probability of its tokens, sorted best first, each ending at eos or max_len"))
