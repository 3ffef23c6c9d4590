"""Greedy and beam search called as a course calls them: on a model, with text and notebook globals.

A declared ``greedy`` or ``beam`` check with a ``model`` option hands the searched function a *table model*
(``harness/runtime/table_model.py``, built in the worker from the table) instead of ``step``, and calls it
with the spec's ``args``/``kwargs``, in which ``$model``, ``$seed``, ``$max_len``, ``$beam_width``, ``$bos``,
``$eos``, ``$vocab``, ``$vocab_size``, ``$char2idx`` and ``$idx2char`` stand for the case's values. With a
``vocab`` each character is a token and the tables read the text after their ``seed``; results are text or
ids, compared with the answer key's on the same table model, exactly, and shown as text. ``globals`` (of
the check, then of the table) are set in the student's module before the call, as a notebook's cells would.
``length = "exact"``: exactly ``max_len`` tokens, no eos; ``returns_seed``: the result starts with the seed.
"""
from __future__ import annotations

import math

from ..runtime import table_model
from ..runtime.tokens import BOS, EOS
from ..sandbox.program import Program
from . import Context, OptionError, Structured, Verdict
from .compare import describe
from .diagnose import wrong_output
from .tables import Table, hypotheses_of, parse_tables, tokens_of

MODEL_CHOICES = {"kind": table_model.KINDS, "input": table_model.INPUTS, "returns": table_model.RETURNS,
                 "positions": table_model.POSITIONS, "dtype": tuple(table_model.DTYPES), "state": (False, True)}
VALUES = ("$model", "$seed", "$max_len", "$beam_width", "$bos", "$eos", "$vocab", "$vocab_size", "$char2idx",
          "$idx2char")
MAX_VOCAB, MAX_INT, MAX_ITEMS = 256, 100_000, 1000


def validate_model(raw) -> None:
    if raw == {}:
        return
    if not isinstance(raw, dict):
        raise OptionError("", f"must be a table describing the model, got {raw!r}",
                          'e.g. model = { kind = "module", input = "ids", returns = "logits", positions = "last" }')
    for key, value in raw.items():
        if key not in MODEL_CHOICES:
            raise OptionError(f".{key}", "unknown key", "a model has " + ", ".join(MODEL_CHOICES))
        if value not in MODEL_CHOICES[key] or isinstance(value, bool) != (key == "state"):
            raise OptionError(f".{key}", f"must be one of {', '.join(map(repr, MODEL_CHOICES[key]))}, got {value!r}")
    kind = raw.get("kind", "module")
    if kind != "module" and "state" in raw:
        raise OptionError(".state", "only a module takes its state as an argument (a step always does)")
    if kind == "step" and {"input", "positions"} & set(raw):
        raise OptionError(".kind", "a step model takes one token at a time: it has no input form or positions")
    if kind == "predict" and raw.get("returns", "probs") != "probs":
        raise OptionError(".returns", "predict returns probabilities, as a Keras model's does")
    if kind == "step" and raw.get("returns", "log_probs") != "log_probs":
        raise OptionError(".returns", "a step returns log-probabilities, as the contract's step(prefix) does")


def validate_vocab(raw) -> None:
    if raw == "":
        return
    if not isinstance(raw, str) or not 4 <= len(raw) <= MAX_VOCAB or len(set(raw)) != len(raw):
        raise OptionError("", f"must be a text of 4 to {MAX_VOCAB} distinct characters, got {raw!r}",
                          'each character is a token, its id its place: vocab = "abcdefgh"')


def validate_value(value, where: str, values: tuple = VALUES) -> None:
    """A value a call passes or a global holds: a number, a string, a boolean or a list of them, or a ``$name``
    of ``values`` (a stochastic check adds its own)."""
    if isinstance(value, str):
        if value.startswith("$") and value not in values:
            raise OptionError(where, f"unknown value {value!r}", "one of " + ", ".join(values))
        if len(value) > MAX_ITEMS:
            raise OptionError(where, f"a text of {len(value)} characters is over the {MAX_ITEMS} a call may take")
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int):
        if abs(value) > MAX_INT:
            raise OptionError(where, f"{value} is over the {MAX_INT} a call may take", "a table is small: so is a call")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise OptionError(where, f"must be a finite number, got {value!r}")
    elif isinstance(value, list):
        if len(value) > MAX_ITEMS:
            raise OptionError(where, f"a list of {len(value)} items is over the {MAX_ITEMS} a call may take")
        for i, v in enumerate(value):
            validate_value(v, f"{where}[{i}]", values)
    else:
        raise OptionError(where, f"cannot be {value!r}", 'give a number, a text, a boolean, a list or a "$name" such '
                          'as "$model"')


def validate_args(raw, values: tuple = VALUES) -> None:
    if not isinstance(raw, list):
        raise OptionError("", f"must be a list of the call's arguments, got {raw!r}",
                          'e.g. args = ["$model", "$seed", 20, "$max_len"]')
    for i, value in enumerate(raw):
        validate_value(value, f"[{i}]", values)


def validate_kwargs(raw, values: tuple = VALUES) -> None:
    if not isinstance(raw, dict):
        raise OptionError("", f"must be a table of keyword arguments, got {raw!r}", 'e.g. kwargs = { mode = "det" }')
    for name, value in raw.items():
        if not name.isidentifier():
            raise OptionError(f".{name}", "not a Python name")
        validate_value(value, f".{name}", values)


def validate_globals(raw, where: str = "", values: tuple = VALUES) -> None:
    if not isinstance(raw, dict):
        raise OptionError(where, f"must be a table of module globals, got {raw!r}",
                          'e.g. globals = { char2idx = "$char2idx", max_context_size = 20 }')
    for name, value in raw.items():
        if not name.isidentifier() or name.startswith("__"):
            raise OptionError(f"{where}.{name}", "not a name a module global can have")
        if value == "$model":
            raise OptionError(f"{where}.{name}", "a global cannot hold the model", "pass it in args")
        validate_value(value, f"{where}.{name}", values)


def model_options(values: tuple = VALUES) -> dict:
    """The options that call a search as a course does: on a table model, with text and notebook globals;
    ``values`` are the ``$names`` a call and a global may hold (a stochastic kind adds its own)."""
    return dict(model=Structured({}, validate_model), vocab=Structured("", validate_vocab),
                args=Structured([], lambda raw: validate_args(raw, values)),
                kwargs=Structured({}, lambda raw: validate_kwargs(raw, values)),
                globals=Structured({}, lambda raw: validate_globals(raw, "", values)), returns_seed=False)


TEXT_VALUES = ("$seed", "$vocab", "$char2idx", "$idx2char")  # what only a vocab gives


def named(value) -> set[str]:
    """The ``$name`` values in an argument or a global (lists included)."""
    if isinstance(value, list):
        return set().union(*(named(v) for v in value))
    return {value} if isinstance(value, str) and value.startswith("$") else set()


def consistent(options: dict, beam: bool) -> None:
    """What the options of a greedy or beam check must agree on (raised as OptionError at spec load)."""
    vocab, model = options["vocab"], options["model"]
    tables = parse_tables(options["tables"], beam, vocab)
    for i, table in enumerate(tables):
        validate_globals(table.globals, f"tables[{i}].globals")
    if vocab and not model:
        raise OptionError("vocab", "a vocab needs a model: step(prefix) reads ids", 'add model = { kind = "module" }')
    if vocab and options["length"] == "eos":
        raise OptionError("length", "a vocab has no eos: generation runs for exactly max_len characters",
                          'write length = "exact"')
    if vocab and not tables:
        raise OptionError("tables", "with a vocab, the check needs a written table: it names the seed text",
                          'e.g. [[checks."….".tables]] seed = "ab", max_len = 3, next = { "" = { a = 0.6, b = 0.4 } }')
    if options["returns_seed"] and not vocab:
        raise OptionError("returns_seed", "a seed text needs a vocab (without one, the result holds the ids after "
                          "bos)")
    if model and options.get("accept_missing_eos"):
        raise OptionError("accept_missing_eos", "with a model, a result is compared with the answer key's exactly",
                          "leave it out, or drop the model")
    if not model and options.get("hypotheses", "best") != "best":
        raise OptionError("hypotheses", "only a check with a model compares every hypothesis (without one, each "
                          "hypothesis is judged on the table and the best compared)", 'add model = { kind = "step" } '
                          "or leave it out")
    consistent_call(options, tables, beam)


def consistent_call(options: dict, tables: list[Table], beam: bool) -> set[str]:
    """What a call on a table model must agree on, for every kind that makes one (greedy, beam, the stochastic
    kinds); returns the ``$name`` values the call passes."""
    vocab, model = options["vocab"], options["model"]
    if not model and (options["args"] or options["kwargs"] or options["globals"] or any(t.globals for t in tables)):
        raise OptionError("model", "args, kwargs and globals call the target with a model: this check has none",
                          'add model = { kind = "module" } or leave them out')
    if vocab and not options["args"]:
        raise OptionError("args", "missing: with a vocab, say how the target is called",
                          'e.g. args = ["$model", "$seed", 20, "$max_len"]')
    called = named(options["args"]) | named(list(options["kwargs"].values()))
    if model and options["args"] and "$model" not in called:
        raise OptionError("args", "the call never passes the model", 'put "$model" where the target takes it')
    given = called | named([v for g in [options["globals"], *(t.globals for t in tables)] for v in g.values()])
    if not vocab and given & set(TEXT_VALUES):
        raise OptionError("args", f"{sorted(given & set(TEXT_VALUES))[0]} needs a vocab", 'add vocab = "…"')
    if not beam and "$beam_width" in given:
        raise OptionError("args", '"$beam_width" belongs to beam search')
    return called


def prompt_length(table: Table) -> int:
    return len(table.seed) if table.vocab else 0


# --------------------------------------------------------------------------- the call as a program


def default_args(beam: bool) -> list:
    return ["$model", "$bos", "$eos", "$beam_width", "$max_len"] if beam else ["$model", "$bos", "$eos", "$max_len"]


def model_program(ctx: Context, table: Table, dotted: str, width: int | None = None) -> Program:
    """The program that sets the case's globals and calls ``dotted`` with the spec's arguments on the table model."""
    p = Program()
    value = filler(p, ctx, table, width)
    set_globals(p, ctx, table, dotted, value)
    return p.result(add_model_call(p, ctx, dotted, value, width))


def filler(p: Program, ctx: Context, table: Table, width: int | None = None, made: dict | None = None,
           extra: dict | None = None):
    """``value(v)``: an argument or a global with its ``$name`` values put in, each made once in ``p`` and kept in
    ``made`` (share it to put many calls on one model in one program). ``extra`` maps more ``$name`` values to
    functions making them, made anew at each use (a stochastic run's ``$temperature`` and ``$generator``)."""
    options = ctx.options
    made = {} if made is None else made
    extra = extra or {}

    def value(v):
        if isinstance(v, list):
            return [value(x) for x in v]
        if not isinstance(v, str) or not v.startswith("$"):
            return v
        if v in extra:
            return extra[v]()
        if v not in made:
            made[v] = {"$model": lambda: table.model(p, options["model"]),
                       "$seed": lambda: table.vocab and "".join(table.vocab[t] for t in table.seed),
                       "$max_len": lambda: table.max_len, "$beam_width": lambda: width, "$bos": lambda: BOS,
                       "$eos": lambda: EOS, "$vocab": lambda: table.vocab, "$vocab_size": lambda: table.size,
                       "$char2idx": lambda: p.op("vocab_map", table.vocab, "char2idx"),
                       "$idx2char": lambda: p.op("vocab_map", table.vocab, "idx2char")}[v]()
        return made[v]

    return value


def set_globals(p: Program, ctx: Context, table: Table, dotted: str, value) -> None:
    """Set the check's and the table's module globals (the table's win) in ``dotted``'s module, until ``p`` ends."""
    module = dotted.partition(".")[0]
    for name, v in {**ctx.options["globals"], **table.globals}.items():
        p.assign(f"{module}.{name}", value(v))


def add_model_call(p: Program, ctx: Context, dotted: str, value, width: int | None = None,
                   args: list | None = None):
    """Add to ``p`` one call of ``dotted`` with the spec's ``args``/``kwargs`` (``args`` when it has none: the
    contract's), filled in by ``value`` (:func:`filler`); returns its reference."""
    args = ctx.options["args"] or args or default_args(width is not None)
    return p.call(dotted, *value(args), **{k: value(v) for k, v in ctx.options["kwargs"].items()})


def call_words(ctx: Context, table: Table, name: str, width: int | None = None, args: list | None = None,
               extra: dict | None = None) -> str:
    """The call as the student reads it: ``beam_search(model, 2, 3, 'ab', 20, mode='det') on …``; ``args`` when
    the spec has none, ``extra`` the words of more ``$name`` values (as :func:`filler`'s)."""
    extra = extra or {}

    def said(v):
        if isinstance(v, list):
            return "[" + ", ".join(said(x) for x in v) + "]"
        if v == "$model":
            return "model"
        if v in extra:
            return extra[v]
        if v in ("$seed", "$vocab"):
            return repr("".join(table.vocab[t] for t in table.seed) if v == "$seed" else table.vocab)
        if v in ("$char2idx", "$idx2char"):
            return v[1:]
        if isinstance(v, str) and v.startswith("$"):
            return str({"$max_len": table.max_len, "$beam_width": width, "$bos": BOS, "$eos": EOS,
                        "$vocab_size": table.size}[v])
        return repr(v)

    args = ctx.options["args"] or args or default_args(width is not None)
    parts = [said(a) for a in args] + [f"{k}={said(v)}" for k, v in ctx.options["kwargs"].items()]
    return f"{name}({', '.join(parts)}) on {table.about}"


# --------------------------------------------------------------------------- reading results


def seed_problem(ctx: Context, table: Table, got: list[int], want: list[int]) -> tuple[str, str] | None:
    """What is wrong with the start (bos, the seed) or the length of ``got`` (the contract's conventions), if that
    is all."""
    seed, n = list(table.seed), prompt_length(table)
    if not table.vocab and got[:1] == [BOS] and got[1:] == want:
        return f"it starts with bos ({BOS})", "the result holds the tokens after bos, without bos itself"
    if ctx.options["returns_seed"] and want[:n] == seed and got == want[n:]:
        return (f"the seed text {table.text(seed)} is missing at the start",
                "the contract returns the seed text followed by what was generated")
    if not ctx.options["returns_seed"] and table.vocab and got == seed + want:
        return (f"it starts with the seed text {table.text(seed)}", "the contract returns only what was generated, "
                "without the seed text")
    generated = got[n:] if ctx.options["returns_seed"] and got[:n] == seed else got
    if ctx.options["length"] == "exact" and len(generated) != table.max_len:
        unit = unit_of(table)
        return (f"{len(generated)} {unit}s follow the seed, the contract asks for exactly {table.max_len}",
                f"generate exactly {table.max_len} {unit}s (the call's length): " +
                ("this one stops early" if len(generated) < table.max_len else "this one goes on past it"))
    return None


def unit_of(table: Table) -> str:
    return "character" if table.vocab else "token"


def first_difference(ctx: Context, table: Table, got: list[int], want: list[int]) -> str:
    at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
    first = ("the seed's first" if ctx.options["returns_seed"] else "the first generated") if table.vocab else \
        "the first token after bos"
    return f"they part at {unit_of(table)} {at} (0 = {first})"


def passed(ctx: Context, hand: list[Table], randoms: list[Table], beam: bool) -> Verdict:
    """The verdict of a search that matched on every table, in the words of the call."""
    from .tables import tables_tested

    unit = unit_of((hand or randoms)[0]) if hand or randoms else "token"
    length = (f"exactly max_len {unit}s" if ctx.options["length"] == "exact" else
              "the tokens after bos, eos included")
    held = f"the seed text, then {length}" if ctx.options["returns_seed"] else length
    what = "the result equals the answer key's"
    if beam:
        what = ("every hypothesis equals the answer key's, in order" if ctx.options["hypotheses"] == "all" else
                "the best hypothesis equals the answer key's")
    return Verdict(True, f"{'beam' if beam else 'greedy'} search on a table model matches on "
                         f"{tables_tested(hand, randoms, beam)}: {what} ({held})")


def answer_key_value(ctx: Context, program: Program, table: Table, read, label: str):
    """The answer key's result read as the student's is; one that cannot be read is the task's error, said as such."""
    value = ctx.reference(program)
    found = read(value, table)
    if found is None or (isinstance(found, list) and any(h is None for h in found)):
        raise ValueError(f"{label}: the answer key returned {describe(value)}, which reads as neither text nor token "
                         "ids: fix answer_key.py")
    return found


def judge_greedy(ctx: Context, table: Table, module: str, name: str) -> Verdict | None:
    label = call_words(ctx, table, name)
    program = model_program(ctx, table, f"{module}.{name}")
    got_value = ctx.student(program, case=label)
    want = answer_key_value(ctx, program, table, tokens_of, label)
    got = tokens_of(got_value, table)
    shape = "text" if table.vocab else "a list of token ids"
    if got is None:
        return Verdict(False, f"{label}: should return {shape}, got {describe(got_value)}",
                       f"return {shape}", {"case": table.about})
    if got == want:
        return None
    numbers = {"case": table.about, "expected": want, "got": got}
    n = prompt_length(table) if ctx.options["returns_seed"] else 0
    expected = f"expected {table.text(want)}, got {table.text(got)}"
    problem = seed_problem(ctx, table, got, want)
    if problem is not None:
        return wrong_output(ctx, f"{label}: {expected}: {problem[0]}", program, got_value, module, name, 0.0, 0.0,
                            problem[1], numbers)
    traced = f"expected {table.text(want)} ({table.path(want[n:])}), got {table.text(got)}"
    return wrong_output(ctx, f"{label}: {traced}: {first_difference(ctx, table, got, want)}", program, got_value,
                        module, name, 0.0, 0.0, "at each step take the most probable next token given everything so far, as the model's "
                        "output for the last position says", numbers)


def judge_beam(ctx: Context, table: Table, width: int, module: str, name: str) -> Verdict | None:
    label = call_words(ctx, table, name, width)
    program = model_program(ctx, table, f"{module}.{name}", width)
    got_value = ctx.student(program, case=label)
    want = answer_key_value(ctx, program, table, hypotheses_of, label)
    got = hypotheses_of(got_value, table)
    numbers = {"case": table.about, "beam_width": width}
    if got is None or any(h is None for h in got):
        shape = "texts" if table.vocab else "token lists"
        return Verdict(False, f"{label}: should return the hypotheses, best first (a 2-D array of ids, or a list of "
                              f"{shape}), got {describe(got_value)}", "return every hypothesis of the beam, best first",
                       numbers)
    if (got == want) if ctx.options["hypotheses"] == "all" else (got[0] == want[0]):
        return None
    n = prompt_length(table) if ctx.options["returns_seed"] else 0
    problem = seed_problem(ctx, table, got[0], want[0])
    if problem is not None:
        return wrong_output(ctx, f"{label}: the best hypothesis {table.text(got[0])}: {problem[0]}", program,
                            got_value, module, name, 0.0, 0.0, problem[1], numbers)
    if got[0] == want[0]:  # hypotheses = "all": the best is right, another is not
        at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        if at == len(want):
            message = f"{label}: {len(got)} hypotheses returned, the beam holds {len(want)}"
        else:
            message = (f"{label}: hypothesis {at} (0 = the best) should be {table.text(want[at])}, got "
                       f"{table.text(got[at]) if at < len(got) else 'nothing'}, of {len(want)} hypotheses")
    else:
        best, mine = want[0][n:], got[0][n:]
        message = (f"{label}: the best hypothesis: expected {table.text(want[0])} with log-probability "
                   f"{table.log_prob(best):.6g} ({table.path(best)}), got {table.text(got[0])} with "
                   f"{table.log_prob(mine):.6g}; {first_difference(ctx, table, got[0], want[0])}")
    numbers.update(expected=want, got=got)
    return wrong_output(ctx, message, program, got_value, module, name, 0.0, 0.0,
                        f"keep the {width} most probable sequences by summed log-probability at every step; each "
                        "candidate extends the very sequence it came from (its history and the model's reading of "
                        "it), and the best comes first", numbers)

