"""Stochastic beam search, tested statistically on small next-token tables (``kind = "stochastic_beam"``).

A stochastic beam search keeps ``beam_width`` hypotheses, every one of exactly ``max_len`` tokens after bos (no
token ends a hypothesis: the course template generates a fixed number of characters). At each step the
candidates are every hypothesis extended by every token, and ``beam_width`` of them are drawn at random. Two
conventions are in use, and a spec names the one it grades:

- ``textbook``: drawn *without replacement*, candidate (h, v) with probability proportional to
  exp(log p(v | h) / T), the step's log-probability (at T = 1: a hypothesis at random, then its next token);
- ``template``: drawn *with replacement* (a hypothesis may be drawn twice) from softmax(cumulative
  log-probability / T), the cumulative being the hypothesis's summed log-probability plus log p(v | h); the
  first step draws from the first distribution alone.

On a small table the judge enumerates every way the draws can go and so knows the exact probability of each
outcome (the multiset of returned hypotheses); the submission's search runs ``runs`` times in the worker with
seeds the judge picks, and Pearson's chi-square test (sampling.chi_square_gof) compares the counts with those
probabilities at level ``alpha`` per case. A case where one outcome has probability at least 1 - 1e-6 (a
temperature close to 0, ``cold_temperature``) is judged by equality. The bound on the chance that a correct
search fails the check (Bonferroni over the cases) is computed and stated in every verdict.

Randomness comes from a ``torch.Generator`` passed as the last argument (``randomness = "generator"``) or from
Python's, numpy's and torch's global generators, seeded in the worker before each call (``"global"``, for
signatures without a generator, as the template's ``np.random.choice``). Each run's seed follows from the check's
seed, the case and the run's index, so a verdict is reproducible; a first case reruns some seeds after disturbing the other
generators and asks for the same outcomes.

The search is reached through an *interface* (``INTERFACES``): ``step``, the ``step(prefix)`` function the
deterministic decoding checks pass, or, when the spec gives a ``model``, the course's own call on a table model
(harness/checks/model_decoding.py: ``vocab``, ``args``/``kwargs`` with ``$temperature`` and ``$generator``
besides the greedy and beam kinds' values, ``globals``, ``returns_seed``). The model and the globals are made
once per program, and every run is one more call on them.
"""
from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from dataclasses import dataclass

import torch

from ..errors import SpecError
from ..runtime.tokens import BOS
from ..sandbox.program import Program
from . import Context, OptionError, Structured, Verdict, model_decoding, register
from .cases import CREDIT, by_case
from .compare import describe
from .declared import validate_target
from .decoding import searched
from .sampling import chi_square_gof
from .tables import NAMES, Table, hypotheses_of, parse_tables, tokens_of

MAX_STEPS = 3        # max_len of a table this kind enumerates exactly
MAX_WIDTH = 3        # beam width likewise
PRUNE = 1e-12        # a partial outcome less likely than this is left out; its mass is one bin of its own
CERTAIN = 1 - 1e-6   # an outcome this likely makes the case deterministic: judged by equality
REPEATS = 20         # seeds rerun by the reproducibility case
BUDGET = 60_000      # ways of drawing enumerated for one case (a second or two), beyond which it is refused
LOST = 1e-6          # probability the enumeration may leave out (below PRUNE each) before a case is refused

Outcome = tuple  # the returned hypotheses as a sorted tuple of token tuples (a multiset)


# --------------------------------------------------------------------------- the conventions


@dataclass(frozen=True)
class Convention:
    """How the candidates are drawn: with or without replacement, from the step's or the cumulative score."""
    name: str
    replace: bool
    cumulative: bool
    said: str = ""  # its words, when not those of the draws of a beam

    @property
    def words(self) -> str:
        if self.said:
            return self.said
        how = "with replacement" if self.replace else "without replacement"
        score = "cumulative log-probability" if self.cumulative else "step log-probability"
        return f"candidates drawn {how} from softmax({score} / T)"


CONVENTIONS = {
    "textbook": Convention("textbook", replace=False, cumulative=False),
    "template": Convention("template", replace=True, cumulative=True),
}
# the other two mixtures: named only when a submission's draws fit one of them
SAMPLING = Convention("sampling", replace=False, cumulative=False,
                      said="each token drawn from softmax(log-probability of the next token / T)")
MIXTURES = [Convention("with replacement, step scores", replace=True, cumulative=False),
            Convention("without replacement, cumulative scores", replace=False, cumulative=True)]


class TooLarge(ValueError):
    """A case with more ways for the draws to go than the judge enumerates (BUDGET)."""


def draws(weights: list[float], k: int, replace: bool, budget: list[int], scale: float = 1.0):
    """Every multiset of ``k`` candidate indices with its probability, for k draws from ``weights`` (summing to 1)
    with or without replacement (successive draws, renormalised after each, as torch.multinomial does). Ways whose
    probability times ``scale`` (the probability of getting here) is below PRUNE are left out; each way counted
    goes off ``budget`` (one int in a list), and TooLarge is raised when it runs out."""
    def spend(n: int) -> None:
        budget[0] -= n
        if budget[0] < 0:
            raise TooLarge
    if replace:  # independent draws: an outcome is no likelier than any of its candidates
        live = [i for i, w in enumerate(weights) if scale * w > PRUNE]
        spend(math.comb(len(live) + k - 1, k))
        for combo in itertools.combinations_with_replacement(live, k):
            ways = math.factorial(k) / math.prod(math.factorial(c) for c in Counter(combo).values())
            yield combo, ways * math.prod(weights[i] for i in combo)
        return
    found: dict = defaultdict(float)

    def extend(order: tuple, q: float) -> None:
        spend(1)
        if len(order) == k:
            found[tuple(sorted(order))] += q
            return
        left = [i for i in range(len(weights)) if i not in order and weights[i] > 0]
        total = sum(weights[i] for i in left)  # summed, not 1 - the drawn: exact when the drawn take nearly all
        for i in left:
            if scale * q * weights[i] / total > PRUNE:
                extend(order + (i,), q * weights[i] / total)

    extend((), 1.0)
    yield from found.items()


def outcome_distribution(table: Table, width: int, temperature: float, convention: Convention) -> dict:
    """The exact probability of each outcome of the search on ``table`` (outcomes less likely than PRUNE are
    left out). The judge's own arithmetic, in float64: nothing the submission returns enters it. Raises TooLarge
    past BUDGET ways of drawing (a wide table at a high temperature)."""
    states = {((),): 1.0}
    size = vocabulary(table)
    budget = [BUDGET]
    for _ in range(table.max_len):
        nxt: dict = defaultdict(float)
        for beams, p in states.items():
            rows = [table.log_probs(list(b)) + (table.log_prob(list(b)) if convention.cumulative else 0.0)
                    for b in beams]
            weights = torch.softmax(torch.stack(rows).flatten().double() / temperature, dim=0).tolist()
            for combo, q in draws(weights, width, convention.replace, budget, p):
                if p * q > PRUNE:
                    nxt[tuple(sorted(beams[i // size] + (i % size,) for i in combo))] += p * q
        states = nxt
    return dict(states)


def vocabulary(table: Table) -> int:
    """The number of tokens a table gives a probability to (the length of its rows)."""
    return int(table.default.numel())


def fit(outcomes: list, dist: dict) -> dict:
    """chi_square_gof of observed outcomes against an exact distribution; outcomes it leaves out share one bin."""
    keys = list(dist)
    index = {k: i for i, k in enumerate(keys)}
    counts = [0] * (len(keys) + 1)
    for o in outcomes:
        counts[index.get(o, len(keys))] += 1
    probs = [dist[k] for k in keys] + [max(0.0, 1.0 - sum(dist.values()))]
    return chi_square_gof(counts, probs)


def show(outcome: Outcome, table: Table | None = None) -> str:
    """An outcome in the tables' names: "{A C, B C}", or with a vocab as text: "{'bd', 'cd'}"."""
    if table is not None and table.vocab:
        return "{" + ", ".join(table.text(list(h)) for h in outcome) + "}"
    return "{" + ", ".join(" ".join(NAMES.get(t, str(t)) for t in h) for h in outcome) + "}"


# --------------------------------------------------------------------------- how the search is called


RANDOMNESS = {
    "generator": "a torch.Generator passed as the last argument, seeded with the run's seed",
    "global": "Python's, numpy's and torch's global generators, seeded with the run's seed just before each call "
              "(random.seed, np.random.seed, torch.manual_seed)",
}


class Interface:
    """What every way of reaching the search shares: whether it returns a beam (else one sampled sequence), and
    how one run's value is read as an outcome."""

    def __init__(self, beam: bool):
        self.beam = beam

    def outcome(self, value, table: Table, width: int, ctx: Context | None = None) -> tuple[Outcome | None, str]:
        """The outcome of one run, or None and what is wrong with the value."""
        ids = "a list of token ids" + (" or a text of the vocab's characters" if table.vocab else "")
        if self.beam:
            rows = hypotheses_of(value, table)
            if rows is None or len(rows) != width:
                shape = "texts" if table.vocab else "token lists"
                return None, (f"expected {width} hypotheses (a 2-D array of ids, a list of {shape} or of (tokens, "
                              f"score) pairs), got {describe(value)}")
        else:
            row = tokens_of(value, table)
            if row is None:
                return None, f"expected the sampled tokens as {ids}, got {describe(value)}"
            rows = [row]
        found = []
        for i, tokens in enumerate(rows):
            which = f"hypothesis {i}" if self.beam else "the sequence"
            if tokens is None:
                return None, f"{which} should be {ids}, got {describe(value[i])}"
            tokens, problem = drawn(tokens, table, bool(ctx is not None and ctx.options["returns_seed"]))
            if problem:
                return None, f"{which} {problem}"
            found.append(tuple(tokens))
        return tuple(sorted(found)), ""


class StepInterface(Interface):
    """``target(step, bos, beam_width, max_len, temperature[, generator])``, or for one sampled sequence
    ``target(step, bos, max_len, temperature[, generator])``: ``step(prefix)`` returns the next token's
    log-probabilities (V,) after a prefix that starts with bos, as for the deterministic beam search; the result
    is the beam_width hypotheses (tokens after bos), as (tokens, score) pairs or rows of ids, or the one
    sequence's max_len tokens after bos (a beam of width 1, whichever convention)."""

    def describe(self, name: str, table: Table, width: int, temperature: float, randomness: str,
                 ctx: Context | None = None) -> str:
        beam = f", beam_width={width}" if self.beam else ""
        last = ", generator" if randomness == "generator" else ""
        return (f"{name}(step, bos={BOS}{beam}, max_len={table.max_len}, temperature={temperature:g}{last}) on "
                f"{table.about}")

    def add_call(self, p: Program, dotted: str, step, table: Table, width: int, temperature: float, randomness: str,
                 seed: int, ctx: Context | None = None):
        args = [step, BOS, *([width] if self.beam else []), table.max_len, temperature]
        if randomness == "generator":
            return p.call(dotted, *args, p.op("generator", seed))
        p.op("seed_globals", seed)
        return p.call(dotted, *args)

    def model(self, p: Program, table: Table, dotted: str, ctx: Context | None = None, width: int = 1):
        return table.step(p)


def drawn(tokens: list[int], table: Table, returns_seed: bool) -> tuple[list[int], str]:
    """The ids drawn after the prompt (bos, or the seed text, taken off when ``returns_seed``), or what is wrong
    with the start, the length or the ids of ``tokens``."""
    seed, n, unit = list(table.seed), model_decoding.prompt_length(table), model_decoding.unit_of(table)
    if returns_seed:
        if tokens[:n] != seed:
            return tokens, (f"{table.text(tokens)} does not start with the seed text {table.text(seed)}: the "
                            "contract returns the seed text followed by what was drawn")
        tokens = tokens[n:]
    elif table.vocab and len(tokens) == n + table.max_len and tokens[:n] == seed:
        return tokens, (f"{table.text(tokens)} starts with the seed text {table.text(seed)}: the contract returns "
                        "only what was drawn, without the seed text")
    elif not table.vocab and len(tokens) == table.max_len + 1 and tokens[0] == BOS:
        return tokens, f"starts with bos: return the {table.max_len} tokens after bos"
    if len(tokens) != table.max_len:
        after = "the seed text" if table.vocab else "bos"
        return tokens, (f"has {len(tokens)} {unit}s after {after}: every one has exactly max_len={table.max_len}")
    if not all(0 <= t < vocabulary(table) for t in tokens):
        return tokens, f"holds ids outside the vocabulary [0, {vocabulary(table)}): {tokens}"
    return tokens, ""


class ModelInterface(Interface):
    """The search called as a course calls it (harness/checks/model_decoding.py): on a table model built once in
    the program from the case's table, with the spec's ``args``/``kwargs`` and ``globals`` (set once, before the
    first run), ``$temperature`` and, with ``randomness = "generator"``, ``$generator`` filled in for each run.
    Without ``args`` the call is the step interface's with the model in place of ``step``. The result is read as
    text (with a ``vocab``) or ids: the hypotheses as rows, texts or (tokens, score) pairs, or one sequence; with
    ``returns_seed`` each starts with the seed text, which is taken off."""

    def default_args(self, randomness: str) -> list:
        width = ["$beam_width"] if self.beam else []
        last = ["$generator"] if randomness == "generator" else []
        return ["$model", "$bos", *width, "$max_len", "$temperature", *last]

    def describe(self, name: str, table: Table, width: int, temperature: float, randomness: str, ctx: Context) -> str:
        return model_decoding.call_words(ctx, table, name, width if self.beam else None, self.default_args(randomness),
                                         {"$temperature": f"{temperature:g}", "$generator": "generator"})

    def model(self, p: Program, table: Table, dotted: str, ctx: Context, width: int = 1) -> dict:
        """The values made once for every run (the model, the seed text, char2idx, …), the globals set with them."""
        made: dict = {}
        value = model_decoding.filler(p, ctx, table, width if self.beam else None, made)
        model_decoding.set_globals(p, ctx, table, dotted, value)
        return made

    def add_call(self, p: Program, dotted: str, made: dict, table: Table, width: int, temperature: float,
                 randomness: str, seed: int, ctx: Context):
        if randomness == "global":
            p.op("seed_globals", seed)
        value = model_decoding.filler(p, ctx, table, width if self.beam else None, made, {
            "$temperature": lambda: temperature, "$generator": lambda: p.op("generator", seed)})
        return model_decoding.add_model_call(p, ctx, dotted, value, width if self.beam else None,
                                             self.default_args(randomness))


# How the search is reached: by the ``interface`` option (today ``step`` alone), or, when the spec gives a
# ``model``, by the course's own call on a table model ("model", which the ``model`` option implies). Each entry
# has its describe, model (what every run shares), add_call and outcome; the distributions, the test and the
# messages are the same for all.
INTERFACES = {"step": StepInterface(beam=True), "model": ModelInterface(beam=True)}
SEQUENCE_INTERFACES = {"step": StepInterface(beam=False), "model": ModelInterface(beam=False)}
NAMED = ("step",)  # the interfaces a spec names; "model" is the model option's


# --------------------------------------------------------------------------- options, checked at spec load


DEFAULT_TABLES = [
    {"about": "the first step alone", "max_len": 1, "beam_widths": [2, 3],
     "next": {"": {"A": 0.5, "B": 0.3, "C": 0.15, "D": 0.05}}},
    {"about": "two steps, where step and cumulative scores part", "max_len": 2, "beam_widths": [2],
     "next": {"": {"A": 0.6, "B": 0.4}, "A": {"C": 0.9, "D": 0.1}, "B": {"C": 0.5, "D": 0.5}}},
]


SEQUENCE_TABLES = [
    {"about": "two steps, each prefix its own distribution", "max_len": 2,
     "next": {"": {"A": 0.6, "B": 0.3, "C": 0.1}, "A": {"C": 0.7, "D": 0.3}, "B": {"A": 0.5, "B": 0.5}}},
]


def validate_beam_tables(raw) -> None:
    validate_tables(raw, beam=True)


def validate_sequence_tables(raw) -> None:
    validate_tables(raw, beam=False)


def validate_tables(raw, beam: bool) -> None:
    """Tables of ids are read here; tables of text (they name a seed) need the check's vocab and are read with it
    by ``consistent``."""
    if isinstance(raw, list) and raw and all(isinstance(t, dict) for t in raw) and any("seed" in t for t in raw):
        return
    sized_tables(raw, beam)


def sized_tables(raw, beam: bool, vocab: str = "") -> list[Table]:
    """The tables, read with ``vocab``, within what the judge enumerates."""
    tables = parse_tables(raw, beam=beam, vocab=vocab)
    if not tables:
        raise OptionError("", "needs at least one table", "e.g. one table with max_len = 1 tests the first step")
    for i, table in enumerate(tables):
        if table.max_len > MAX_STEPS:
            raise OptionError(f"[{i}].max_len", f"must be at most {MAX_STEPS} for this kind, got {table.max_len}",
                              "the judge enumerates every way the draws can go: keep the tables small")
        if beam and max(table.beam_widths) > MAX_WIDTH:
            raise OptionError(f"[{i}].beam_widths", f"must be at most {MAX_WIDTH} for this kind, "
                              f"got {list(table.beam_widths)}")
    return tables


def validate_temperatures(raw) -> None:
    if not isinstance(raw, list) or not 1 <= len(raw) <= 6:
        raise OptionError("", f"must be a list of 1 to 6 temperatures, got {raw!r}", "e.g. [1.0, 0.5, 2.0]")
    for i, t in enumerate(raw):
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.05 <= t <= 20:
            raise OptionError(f"[{i}]", f"must be a number from 0.05 to 20, got {t!r}",
                              "the temperature near 0 is cold_temperature's")


def validate_cold(raw) -> None:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not (raw == 0 or 0.005 <= raw <= 0.1):
        raise OptionError("", f"must be 0 (no such case) or a number from 0.005 to 0.1, got {raw!r}")


def validate_runs(raw) -> None:
    if isinstance(raw, bool) or not isinstance(raw, int) or not 100 <= raw <= 20000:
        raise OptionError("", f"must be an integer from 100 to 20000, got {raw!r}",
                          "fewer runs cannot tell the conventions apart; more take too long")


def validate_alpha(raw) -> None:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 1e-9 <= raw <= 0.05:
        raise OptionError("", f"must be a level from 1e-9 to 0.05, got {raw!r}",
                          "the chance that a correct search fails one case; 1e-3 by default")


VALUES = (*model_decoding.VALUES, "$temperature", "$generator")  # a stochastic call's $names


def stochastic_options(target: str = "") -> dict:
    """The options of a stochastic beam check (a task's own check of this kind passes its target's name)."""
    return dict(target=Structured(target, validate_target), convention=tuple(CONVENTIONS),
                randomness=tuple(RANDOMNESS), interface=NAMED, tables=Structured(DEFAULT_TABLES, validate_beam_tables),
                **drawing_options(), **model_decoding.model_options(VALUES))


def sampling_options(target: str = "") -> dict:
    """The options of a sequence-sampling check."""
    return dict(target=Structured(target, validate_target), randomness=tuple(RANDOMNESS),
                interface=NAMED, tables=Structured(SEQUENCE_TABLES, validate_sequence_tables),
                **drawing_options(), **model_decoding.model_options(VALUES))


def consistent(options: dict, beam: bool) -> None:
    """What a stochastic check's options must agree on (raised as OptionError at spec load)."""
    vocab, model = options["vocab"], options["model"]
    if vocab and not model:
        raise OptionError("vocab", "a vocab needs a model: step(prefix) reads ids", 'add model = { kind = "module" }')
    if vocab and options["tables"] is (DEFAULT_TABLES if beam else SEQUENCE_TABLES):
        raise OptionError("tables", "with a vocab, the check needs written tables: each names its seed text",
                          'e.g. [[checks."….".tables]] seed = "a", max_len = 2, next = { "" = { c = 0.6, d = 0.4 } }')
    seeded = [i for i, t in enumerate(options["tables"]) if isinstance(t, dict) and "seed" in t]
    if seeded and not vocab:
        raise OptionError(f"tables[{seeded[0]}].seed", "a seed text needs the check's vocab (without one, tables read "
                          "the ids after bos)", 'give the check a vocab = "…" and a model, or leave the seed out')
    try:
        tables = sized_tables(options["tables"], beam, vocab)
    except OptionError as exc:
        raise OptionError(f"tables{exc.where}", exc.what, exc.fix) from None
    for i, table in enumerate(tables):
        model_decoding.validate_globals(table.globals, f"tables[{i}].globals", VALUES)
    if options["returns_seed"] and not vocab:
        raise OptionError("returns_seed", "a seed text needs a vocab (without one, the result holds the ids after "
                          "bos)")
    called = model_decoding.consistent_call(options, tables, beam)
    if not options["args"]:
        return
    if "$temperature" not in called:
        raise OptionError("args", "the call never passes the temperature",
                          'put "$temperature" where the target takes it, e.g. kwargs = { temp = "$temperature" }')
    if options["randomness"] == "generator" and "$generator" not in called:
        raise OptionError("args", 'with randomness = "generator" the call passes a generator: "$generator" is missing',
                          'put "$generator" where the target takes it, or write randomness = "global" when it '
                          "takes none")
    if options["randomness"] == "global" and "$generator" in called:
        raise OptionError("args", 'with randomness = "global" no generator is passed: "$generator" is not allowed',
                          'leave "$generator" out, or write randomness = "generator"')


def drawing_options() -> dict:
    return dict(temperatures=Structured([1.0, 0.5], validate_temperatures),
                cold_temperature=Structured(0.02, validate_cold), runs=Structured(2000, validate_runs),
                alpha=Structured(1e-3, validate_alpha), credit=CREDIT)


# --------------------------------------------------------------------------- the check


@dataclass(frozen=True)
class Case:
    table: Table
    width: int
    temperature: float
    dist: dict

    @property
    def certain(self) -> Outcome | None:
        """The one outcome of a deterministic case (a temperature near 0), None when the draws vary."""
        best = max(self.dist, key=self.dist.get)
        return best if self.dist[best] >= CERTAIN else None


class Search:
    """One stochastic check: its options, the search under test and how to run it."""

    def __init__(self, ctx: Context, beam: bool):
        self.ctx = ctx
        o = ctx.options
        self.beam = beam
        self.what = "hypotheses" if beam else "sequences"
        self.record: list[dict] = []  # each case's figures (its fit's chi2, dof and p), in the order judged
        self.varied = False  # whether a case with draws got more than one outcome
        self.convention = CONVENTIONS[o["convention"]] if beam else SAMPLING
        self.randomness = o["randomness"]
        self.interface = (INTERFACES if beam else SEQUENCE_INTERFACES)["model" if o.get("model") else o["interface"]]
        self.module, self.name = searched(ctx)
        self.runs = int(o["runs"])
        self.alpha = float(o["alpha"])
        temps = [float(t) for t in o["temperatures"]] + ([float(o["cold_temperature"])] if o["cold_temperature"] else [])
        tables = parse_tables(o["tables"], beam=beam, vocab=o.get("vocab", ""))
        self.cases = [self.case(i, t, w, temp) for i, t in enumerate(tables)
                      for w in (t.beam_widths if beam else (1,)) for temp in temps]

    def case(self, index: int, table: Table, width: int, temperature: float) -> Case:
        """A case with its exact distribution; a SpecError (grading stops, naming the table) when the judge cannot
        enumerate it or a float64 cannot hold its probabilities."""
        where = f'[checks."{self.ctx.check_id}"].tables[{index}]'
        path = self.ctx.task.path if self.ctx.task is not None else "task.toml"
        said = f"{table.about}, beam width {width}, T = {temperature:g}" if self.beam else \
            f"{table.about}, T = {temperature:g}"
        try:
            dist = outcome_distribution(table, width, temperature, self.convention)
        except TooLarge:
            raise SpecError(path, where, f"{said}: more than {BUDGET} ways for the draws to go, too many to list",
                            "give it a smaller max_len or beam width, or fewer likely tokens after each prefix, or "
                            "leave out the highest temperature") from None
        if sum(dist.values()) < 1 - LOST:
            raise SpecError(path, where, f"{said}: fewer candidates than the beam width keep a probability a float64 "
                            "can hold", "raise cold_temperature, or give the table's distributions more tokens")
        return Case(table, width, temperature, dist)

    def label(self, case: Case) -> str:
        return self.interface.describe(self.name, case.table, case.width, case.temperature, self.randomness,
                                       self.ctx)

    def seeds(self, index: int, count: int) -> list[int]:
        base = (self.ctx.seed + index * 100_003) % 2**31
        return [base + i for i in range(count)]

    def run(self, case: Case, seeds: list[int], disturb: int | None = None) -> tuple[list | None, Verdict | None]:
        """The outcomes of one run per seed, or a failed Verdict naming what is wrong with a reply.
        ``disturb`` seeds every global generator first: a search that should read only its generator must
        give the same outcomes whatever the global state."""
        p = Program()
        dotted = f"{self.module}.{self.name}"
        step = self.interface.model(p, case.table, dotted, self.ctx, case.width)  # made once, shared by every run
        if disturb is not None:
            p.op("seed_globals", disturb)
        p.result([self.interface.add_call(p, dotted, step, case.table, case.width, case.temperature,
                                          self.randomness, s, self.ctx) for s in seeds])
        label = self.label(case)
        got = self.ctx.student(p, case=f"{label}, {len(seeds)} runs")
        if not isinstance(got, list) or len(got) != len(seeds):
            return None, Verdict(False, f"{label}: expected {len(seeds)} results, got {describe(got)}")
        outcomes = []
        for i, value in enumerate(got):
            outcome, problem = self.interface.outcome(value, case.table, case.width, self.ctx)
            if outcome is None:
                return None, Verdict(False, f"{label}, run {i} (seed {seeds[i]}): {problem}",
                                     "return the beam_width hypotheses the search keeps after max_len steps, each the "
                                     "tokens after bos" if self.beam else "return the max_len tokens sampled after bos",
                                     {"case": case.table.about})
            outcomes.append(outcome)
        return outcomes, None

    # ----------------------------------------------------------------------- the cases

    def reproducible(self) -> Verdict | None:
        """The first case's first REPEATS seeds, run twice, the global generators disturbed before the second."""
        case = self.cases[0]
        seeds = self.seeds(0, REPEATS)
        first, failed = self.run(case, seeds)
        if failed:
            return failed
        second, failed = self.run(case, seeds, disturb=self.ctx.seed + 7)
        if failed:
            return failed
        differ = [i for i, (a, b) in enumerate(zip(first, second)) if a != b]
        if not differ:
            return None
        i = differ[0]
        source = RANDOMNESS[self.randomness]
        hint = ("the draws changed when only the global random state did: take every random number from the "
                "generator argument (torch.multinomial(..., generator=generator))" if self.randomness == "generator"
                else "the draws changed under the same seed, so they come from a source the caller does not seed: "
                "draw with numpy's or torch's global functions (np.random.choice, torch.multinomial without a "
                "generator)")
        return Verdict(False, f"{self.label(case)}: the same seed gave different {self.what} in {len(differ)} of "
                              f"{REPEATS} reruns (seed {seeds[i]}: {show(first[i], case.table)}, then "
                              f"{show(second[i], case.table)}); the "
                              f"randomness should come from {source}", hint,
                       {"case": case.table.about, "reruns_differing": len(differ)})

    def judge(self, index: int, case: Case) -> Verdict | None:
        label = self.label(case)
        want = case.certain
        runs = min(self.runs, 200) if want is not None else self.runs
        outcomes, failed = self.run(case, self.seeds(index + 1, runs))
        if failed:
            return failed
        if want is None and len(set(outcomes)) > 1:
            self.varied = True
        numbers = {"case": case.table.about, "beam_width": case.width, "temperature": case.temperature,
                   "convention": self.convention.name, "runs": runs}
        self.record.append(numbers)
        if want is not None:
            wrong = [o for o in outcomes if o != want]
            if not wrong:
                return None
            common = Counter(wrong).most_common(1)[0][0]
            return Verdict(False, f"{label}: as T → 0 the {self.convention.name} convention ({self.convention.words}) "
                                  f"is deterministic: expected {show(want, case.table)} in every run, got "
                                  f"{show(common, case.table)} and "
                                  f"others in {len(wrong)} of {runs} runs",
                           self.cold_hint(), numbers)
        result = fit(outcomes, case.dist)
        numbers.update(chi2=result["chi2"], dof=result["dof"], p=result["p"], alpha=self.alpha)
        if result["p"] >= self.alpha:
            return None
        return self.misfit(label, case, outcomes, result, numbers)

    def cold_hint(self) -> str:
        """What the convention does as T → 0 (a description: the check does not know which step went wrong)."""
        if not self.beam:
            return "as T → 0 every token drawn is the most likely one after its prefix"
        if self.convention.cumulative:
            return ("as T → 0 every draw with replacement takes the candidate of highest cumulative log-probability, "
                    "so the beam holds beam_width copies of one hypothesis")
        return ("as T → 0 the draws without replacement take the beam_width candidates of highest step "
                "log-probability")

    def misfit(self, label: str, case: Case, outcomes: list, result: dict, numbers: dict) -> Verdict:
        """The failed verdict of a case whose outcomes do not fit: what differs, and what they fit instead."""
        runs = len(outcomes)
        seen = Counter(outcomes)
        numbers["observed"] = {show(o, case.table): n for o, n in seen.most_common(5)}
        if len(seen) == 1:
            (only,) = seen
            return Verdict(False, f"{label}: returned {show(only, case.table)} in all {runs} runs; under the "
                                  f"{self.convention.name} convention ({self.convention.words}) that outcome has "
                                  f"probability {case.dist.get(only, 0.0):.3g}: the search does not draw at random",
                           f"draw at random ({self.convention.words}), taking the randomness from "
                           f"{RANDOMNESS[self.randomness]}",
                           numbers)
        gaps = sorted(set(seen) | set(case.dist), key=lambda o: -abs(seen.get(o, 0) - runs * case.dist.get(o, 0.0)))
        rare = f"which has probability below {PRUNE:g} under the convention"
        differs = "; ".join(f"{show(o, case.table)} in {seen.get(o, 0)} runs, " + (
            f"expected {runs * case.dist[o]:.1f}" if o in case.dist else rare) for o in gaps[:3])
        message = (f"{label}: the {self.what} of {runs} runs do not follow the {self.convention.name} convention "
                   f"({self.convention.words}): χ²={result['chi2']:.4g}, dof={result['dof']}, p={result['p']:.3g} "
                   f"< {self.alpha:g}; the largest differences: {differs}")
        hint = f"draw the candidates as the {self.convention.name} convention does: {self.convention.words}"
        for name, other, why in self.alternatives(case):
            if fit(outcomes, other)["p"] >= self.alpha:
                numbers["diagnosis"] = [name]
                return Verdict(False, message, f"they fit this instead: {why}", numbers)
        return Verdict(False, message, hint, numbers)

    def alternatives(self, case: Case):
        """(name, exact distribution, what to change) for the known departures from the convention asked for."""
        asked = self.convention
        for other in [*CONVENTIONS.values(), *MIXTURES] if self.beam else []:  # one draw a step: all forms agree
            if other == asked:
                continue
            changes = []
            if other.replace != asked.replace:
                changes.append("draws with replacement (a candidate may be kept twice)" if other.replace else
                               "draws without replacement")
            if other.cumulative != asked.cumulative:
                changes.append("weighs a candidate by its cumulative log-probability" if other.cumulative else
                               "weighs a candidate by its step log-probability alone")
            name = f"{other.name} convention" if other.name in CONVENTIONS else other.name
            asked_words = f"the {asked.name} convention asks for {asked.words}"
            yield (f"stochastic_beam.{other.name.replace(', ', '_').replace(' ', '_')}",
                   outcome_distribution(case.table, case.width, case.temperature, other),
                   f"the search {' and '.join(changes)} ({name}: {other.words}); {asked_words}")
        if case.temperature != 1.0:
            yield (f"{'stochastic_beam' if self.beam else 'sample_sequence'}.ignores_temperature",
                   outcome_distribution(case.table, case.width, 1.0, asked),
                   f"the {self.what} follow the {asked.name} convention at T = 1, not at T = {case.temperature:g}: the "
                   "temperature is ignored; divide the scores by T before the softmax")

    def false_alarm(self) -> float:
        """A bound on the chance that a correct search fails: alpha per drawn case, and for a deterministic case
        the chance that one of its runs leaves the certain outcome (Bonferroni: the sum)."""
        drawn = sum(1 for c in self.cases if c.certain is None)
        cold = sum(min(self.runs, 200) * (1 - c.dist[c.certain]) for c in self.cases if c.certain is not None)
        return min(1.0, self.alpha * drawn + cold)


@register("declared.stochastic_beam", ["{target}"],
          "a stochastic beam search's hypotheses follow the exact distribution of the convention named, on small tables",
          consistent=lambda options: consistent(options, beam=True), **stochastic_options())
def check_stochastic_beam(ctx: Context) -> Verdict:
    return judged(Search(ctx, beam=True))


@register("declared.sample_sequence", ["{target}"],
          "sequences sampled token by token follow their exact distribution, on small tables",
          consistent=lambda options: consistent(options, beam=False), **sampling_options())
def check_sample_sequence(ctx: Context) -> Verdict:
    return judged(Search(ctx, beam=False))


def judged(search: Search) -> Verdict:
    """Every case of ``search``, the reproducibility case first, with the false-alarm bound in every verdict."""
    bound = search.false_alarm()
    level = (f"each drawn case tested at level {search.alpha:g} with {search.runs} runs, so a correct search fails "
             f"this check with probability at most {bound:.2g} (Bonferroni)")

    matched = []  # the cases of a distribution that pass

    def judge(case):
        verdict = search.reproducible() if case == "reproducible" else search.judge(*case)
        if verdict is not None:
            verdict.message += f"; {level}"
            verdict.numbers["false_alarm_bound"] = bound
        elif case != "reproducible":
            matched.append(case)
        return verdict

    temps = sorted({c.temperature for c in search.cases}, reverse=True)
    verdict = by_case(search.ctx, ["reproducible", *enumerate(search.cases)], judge, Verdict(
        True, f"{search.name}'s {search.what} follow the {search.convention.name} convention "
              f"({search.convention.words}) on {len(search.cases)} cases (T = {', '.join(f'{t:g}' for t in temps)}), "
              f"reproducibly from {RANDOMNESS[search.randomness]}; {level}",
        numbers={"false_alarm_bound": bound, "convention": search.convention.name, "per_case": search.record}))
    if not verdict.passed and verdict.fraction and (not matched or not search.varied):
        # points for nothing: being reproducible, or returning now and then what a case near T = 0 expects
        why = (f"it returns the same {search.what} in every run" if not search.varied else
               "no case of a distribution passes")
        verdict.message += f"; no partial credit: {why}"
        verdict.fraction = 0.0
    return verdict
