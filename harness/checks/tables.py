"""Next-token tables: a language model known exactly, the ground truth of the decoding checks.

The public helpers a written decoding check (a task's ``checks.py``) builds on, documented in
docs/WRITING_TASKS.md: ``TOKEN_IDS`` (the token names ``eos``, ``A``..``D`` and their ids; bos is
``harness.runtime.tokens.BOS``), ``log_dist`` (a row of log-probabilities from a few probabilities),
``Table`` (its ``step(p)`` and ``model(p, spec)`` put the table into a program, as the contract's
``step(prefix)`` or as a table model, ``harness/runtime/table_model.py``; ``log_prob(tokens)`` scores a
sequence), ``parse_tables`` (tables as task.toml writes them) and ``random_tables`` (drawn from a check's seed).

A table reads the tokens after its prompt: bos for the contract's token ids, or a seed text when the check
gives a ``vocab`` (each character a token, ids in the vocab's order), with no bos and no eos.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import torch

from ..runtime.table_model import prefix_key
from ..runtime.tokens import BOS, EOS
from ..runtime.wire import from_numpy
from ..sandbox.program import Program, Ref
from . import Context, OptionError, Structured

FLOAT64 = torch.float64
VOCAB = 8
FLOOR = 1e-6  # the probability of a token a table does not list, before renormalising
TOKEN_IDS = {"eos": EOS, "A": 4, "B": 5, "C": 6, "D": 7}
NAMES = {i: name for name, i in TOKEN_IDS.items()}
RANDOM_TOKENS = (EOS, 4, 5, 6)  # a random table's next token is one of eos, A, B, C


def spell(tokens) -> str:
    return "[" + ", ".join(f"{t} ({NAMES[t]})" if t in NAMES else str(t) for t in tokens) + "]"


def log_dist(probs: dict, size: int = VOCAB) -> torch.Tensor:
    """Log-probabilities (size,) with the given probabilities, FLOOR on the other tokens, renormalised."""
    p = torch.full((size,), FLOOR, dtype=FLOAT64)
    for token, q in probs.items():
        p[token] = q
    return (p / p.sum()).log()


@dataclass(frozen=True)
class Table:
    """A next-token table: ``next`` maps a prefix after the prompt (ids joined by spaces, "" for none) to
    log-probabilities; a prefix it does not list gets ``default``. The prompt is bos, or with a ``vocab`` (each
    character a token) the ``seed`` text's ids. ``globals``: module globals a case sets before its call."""
    about: str
    next: dict
    default: torch.Tensor
    max_len: int
    beam_widths: tuple[int, ...] = ()
    vocab: str = ""
    seed: tuple[int, ...] = ()
    globals: dict = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.vocab) or VOCAB

    @property
    def prompt(self) -> list[int]:
        return list(self.seed) if self.vocab else [BOS]

    def step(self, p: Program) -> Ref:
        """The table as the contract's ``step(prefix) -> log-probs`` (prefix: the ids so far, from bos)."""
        return p.op("table_step", dict(self.next), self.default)

    def model(self, p: Program, spec: dict) -> Ref:
        """The table as the model ``spec`` describes (harness/runtime/table_model.py: ``kind``, ``input``,
        ``returns``, ``positions``, ``state``, ``dtype``), reading the tokens after the prompt."""
        capacity = 2 * (len(self.prompt) + self.max_len) + 256  # a stateful model's memory, padding included
        return p.op("table_model", dict(spec), dict(self.next), self.default, self.prompt, capacity)

    def log_probs(self, prefix: list[int]) -> torch.Tensor:
        return self.next.get(prefix_key(prefix), self.default)

    def log_prob(self, tokens: list[int]) -> float:
        """The true summed log-probability of ``tokens`` (after the prompt) under the table."""
        total = 0.0
        for i, token in enumerate(tokens):
            if not 0 <= token < self.size:
                return -math.inf
            total += float(self.log_probs(tokens[:i])[token])
        return total

    def tokens(self) -> list[int]:
        """The tokens some prefix makes likely (more than the floor given to unlisted tokens)."""
        rows = [*self.next.values(), self.default]
        return sorted({t for row in rows for t in range(self.size) if float(row[t]) > math.log(10 * FLOOR)})

    def name(self, token: int) -> str:
        if self.vocab:
            return repr(self.vocab[token]) if 0 <= token < len(self.vocab) else str(token)
        return NAMES.get(token, str(token))

    def text(self, tokens: list[int]) -> str:
        """Tokens as the check shows them: text (quoted) with a vocab, else ids with their names."""
        if self.vocab:
            return repr("".join(self.vocab[t] if 0 <= t < len(self.vocab) else "?" for t in tokens))
        return spell(tokens)

    def path(self, tokens: list[int]) -> str:
        """How ``tokens`` come about, step by step: "B 0.28, then A 0.52, then eos 0.53"."""
        steps = [f"{self.name(t)} {math.exp(float(self.log_probs(tokens[:i])[t])):.2g}"
                 for i, t in enumerate(tokens) if 0 <= t < self.size]
        return ", then ".join(steps)


# --------------------------------------------------------------------------- reading what a search returned


def integer_tensor(t: torch.Tensor) -> bool:
    return not (t.is_floating_point() or t.is_complex() or t.dtype == torch.bool)


def token_scalar(value) -> int | None:
    """One token id: a Python or numpy integer, or an integer tensor or array of one element; None otherwise
    (booleans and floats are not ids, even 3.0)."""
    value = from_numpy(value)
    if isinstance(value, torch.Tensor):
        return int(value.reshape(())) if integer_tensor(value) and value.numel() == 1 else None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return None


def tokens_of(value, table: Table | None = None) -> list[int] | None:
    """Token ids from one returned sequence, or None when it is not one: a 1-D integer tensor or numpy array,
    a list or tuple of token ids (each as ``token_scalar`` reads it), or, when the table has a vocab, text or a
    list of one-character strings. A 2-D value is not a sequence (``hypotheses_of`` reads rows)."""
    vocab = table.vocab if table is not None else ""
    value = from_numpy(value)
    if isinstance(value, str):
        return [vocab.index(c) for c in value] if vocab and all(c in vocab for c in value) else None
    if isinstance(value, torch.Tensor):
        return [int(t) for t in value.tolist()] if value.dim() == 1 and integer_tensor(value) else None
    if not isinstance(value, (list, tuple)):
        return None
    if vocab and value and all(isinstance(c, str) and len(c) == 1 for c in value):
        return tokens_of("".join(value), table)
    ids = [token_scalar(t) for t in value]
    return None if any(t is None for t in ids) else ids


def hypotheses_of(value, table: Table | None = None) -> list[list[int] | None] | None:
    """Each hypothesis's tokens, best first, from the rows of a 2-D array, or a list of sequences or of (tokens,
    score) pairs; None when the value is none of these, None in place of a hypothesis that does not read."""
    value = from_numpy(value)
    if isinstance(value, torch.Tensor):
        return [tokens_of(row, table) for row in value] if value.dim() == 2 and len(value) else None
    if not isinstance(value, (list, tuple)) or not value:
        return None
    out = []
    for item in value:
        tokens = tokens_of(item, table)
        if tokens is None and isinstance(item, (list, tuple)) and len(item) == 2:
            tokens = tokens_of(item[0], table)  # (tokens, score)
        out.append(tokens)
    return out


# --------------------------------------------------------------------------- tables written in task.toml


def token_id(word: str, where: str, vocab: str = "") -> int:
    if vocab:
        if len(word) == 1 and word in vocab:
            return vocab.index(word)
        raise OptionError(where, f"{word!r} is not a character of the vocab {vocab!r}",
                          "with a vocab, each token is one of its characters")
    if word in TOKEN_IDS:
        return TOKEN_IDS[word]
    if word.isdigit() and int(word) < VOCAB:
        return int(word)
    raise OptionError(where, f"unknown token {word!r}",
                      f"write a token as one of {', '.join(TOKEN_IDS)} or an id below {VOCAB}")


def distribution(raw, where: str, vocab: str = "") -> dict[int, float]:
    if not isinstance(raw, dict) or not raw:
        raise OptionError(where, f"must be a table of next-token probabilities, got {raw!r}",
                          "e.g. { eos = 0.3, A = 0.7 }")
    probs = {}
    for word, q in raw.items():
        token = token_id(str(word), where, vocab)
        if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 < q <= 1:
            raise OptionError(f"{where}.{word}", f"must be a probability in (0, 1], got {q!r}")
        probs[token] = float(q)
    if not 0.98 <= sum(probs.values()) <= 1.02:
        raise OptionError(where, f"the probabilities sum to {sum(probs.values()):.3g}",
                          "make them sum to 1 (they are renormalised, so rounding to two decimals is fine)")
    return probs


def written_prefix(raw: str, where: str, vocab: str = "") -> str:
    """A prefix as task.toml writes it ("A B", or ids; with a vocab, the text itself: "ab") as the table names it."""
    if vocab:
        return prefix_key(token_id(c, where, vocab) for c in raw)
    return prefix_key(token_id(word, where) for word in raw.split())


TABLE_KEYS = {"about", "max_len", "beam_widths", "next", "default", "seed", "globals"}
MAX_LEN = 64  # the most tokens a table's search may emit: a table is small, and so is what the worker is asked


def parse_table(raw, index: int, beam: bool, vocab: str = "") -> Table:
    where = f"[{index}]"
    if not isinstance(raw, dict):
        raise OptionError(where, "must be a table", 'e.g. about = "…", max_len = 4, next = { "" = { A = 1.0 } }')
    allowed = TABLE_KEYS if beam else TABLE_KEYS - {"beam_widths"}
    for key in raw:
        if key not in allowed:
            raise OptionError(f"{where}.{key}", "unknown key", "allowed: " + ", ".join(sorted(allowed)))
    max_len = raw.get("max_len")
    if isinstance(max_len, bool) or not isinstance(max_len, int) or not 1 <= max_len <= MAX_LEN:
        raise OptionError(f"{where}.max_len", f"must be an integer from 1 to {MAX_LEN}, got {max_len!r}")
    widths = raw.get("beam_widths", [1, 2] if beam else [])
    if not isinstance(widths, list) or not all(isinstance(w, int) and not isinstance(w, bool) and w >= 1
                                               for w in widths) or (beam and not widths):
        raise OptionError(f"{where}.beam_widths", f"must be a list of integers ≥ 1, got {widths!r}")
    if not isinstance(raw.get("next"), dict):
        raise OptionError(f"{where}.next", "missing: the next-token probabilities after each prefix",
                          'e.g. next = { "" = { A = 0.6, eos = 0.4 }, "A" = { eos = 1.0 } }')
    size = len(vocab) or VOCAB
    nexts = {written_prefix(str(prefix), f'{where}.next."{prefix}"', vocab):
             log_dist(distribution(dist, f'{where}.next."{prefix}"', vocab), size)
             for prefix, dist in raw["next"].items()}
    default = log_dist(distribution(raw.get("default", {vocab[:1] or "eos": 1.0}), f"{where}.default", vocab), size)
    seed = raw.get("seed")
    if vocab and not (isinstance(seed, str) and seed):
        raise OptionError(f"{where}.seed", f"missing: with a vocab, a table reads the text after its seed, got {seed!r}",
                          'e.g. seed = "ab"')
    if not vocab and seed is not None:
        raise OptionError(f"{where}.seed", "a seed text needs the check's vocab (without one, tables read the ids "
                          "after bos)", 'give the check a vocab = "…" or leave the seed out')
    ids = tuple(token_id(c, f"{where}.seed", vocab) for c in seed) if vocab else ()
    names = raw.get("globals", {})
    if not isinstance(names, dict):
        raise OptionError(f"{where}.globals", f"must be a table of module globals, got {names!r}",
                          "e.g. globals = { max_context_size = 20 }")
    return Table(str(raw.get("about", f"table {index + 1}")), nexts, default, max_len, tuple(widths), vocab, ids,
                 dict(names))


def parse_tables(raw, beam: bool, vocab: str = "") -> list[Table]:
    if not isinstance(raw, list):
        raise OptionError("", f"must be a list of tables, got {raw!r}", "write each as [[checks.\"…\".tables]]")
    return [parse_table(t, i, beam, vocab) for i, t in enumerate(raw)]


def validate_tables(raw, beam: bool) -> None:
    """Tables of ids are read here; tables of text (they name a seed) need the check's vocab, and are read with
    it by the check's ``consistent`` (harness/checks/model_decoding.py)."""
    if isinstance(raw, list) and any(isinstance(t, dict) and "seed" in t for t in raw):
        if not all(isinstance(t, dict) for t in raw):
            raise OptionError("", f"must be a list of tables, got {raw!r}")
        return
    parse_tables(raw, beam)


GREEDY_TABLES = Structured([], lambda raw: validate_tables(raw, beam=False))
BEAM_TABLES = Structured([], lambda raw: validate_tables(raw, beam=True))


# --------------------------------------------------------------------------- random tables


def random_tables(ctx: Context, count: int, max_len: int, beam: bool, vocab: str = "",
                  seed: tuple[int, ...] = ()) -> list[Table]:
    """``count`` tables drawn from the check's seed: every prefix over A, B, C shorter than ``max_len`` has its
    own next-token distribution over eos, A, B, C (softmax of normal logits, scale 1.5). Beam widths 2, 3, 2, …
    With a vocab: over its characters 1 to 3 (no eos), read after ``seed``."""
    outcomes = tuple(range(1, min(4, len(vocab)))) if vocab else RANDOM_TOKENS
    words = outcomes if vocab else RANDOM_TOKENS[1:]
    size = len(vocab) or VOCAB
    prefixes = [[]]
    for prefix in prefixes:
        if len(prefix) + 1 < max_len:
            prefixes.extend(prefix + [t] for t in words)
    tables = []
    for i in range(count):
        probs = torch.softmax(ctx.randn(len(prefixes), len(outcomes), scale=1.5), dim=-1)
        nexts = {prefix_key(prefix): log_dist(dict(zip(outcomes, row.tolist())), size)
                 for prefix, row in zip(prefixes, probs)}
        widths = (2 + i % 2,) if beam else ()
        default = log_dist({outcomes[0] if vocab else EOS: 1.0}, size)
        tables.append(Table(f"random table {i + 1} of {count}", nexts, default, max_len, widths, vocab, tuple(seed)))
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

