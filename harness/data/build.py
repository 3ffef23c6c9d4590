"""``build_dataset``: a task's ``[dataset]`` table in, a ready dataset out (trusted side).

Kinds, the family of dataset each builds, and their keys (defaults in ``KINDS``):

    kind                   returns             [dataset] keys
    synthetic-sentiment    ClassificationData  seed, train_size, valid_size, test_size, noise (0.05)
    csv-classification     ClassificationData  path, sha256, columns {text, label, split}, seed,
                                               valid_fraction (0.1), test_fraction (0.2)
    synthetic-grammar      LanguageModelData   seed, train_size, valid_size, test_size
    text-corpus            LanguageModelData   path, sha256, layout ("sentences"|"windows"), sentences
                                               ("lines"|"punctuation"), seed, valid_fraction, test_fraction,
                                               public (layout "windows")
    synthetic-translation  TranslationData     seed, train_size, valid_size, test_size
    tsv-pairs              TranslationData     path, sha256, columns {source = 0, target = 1}, seed,
                                               valid_fraction, test_fraction
    airline                SeriesData          (none: the built-in Box & Jenkins series)
    synthetic-series       SeriesData          seed, length (144), sigma (10), seasonality, level, slope,
                                               amplitude
    series-csv             SeriesData          path, sha256, columns {month = "Month", value = "Passengers"},
                                               public

``[dataset.preprocessing]``: text kinds take tokenizer ("word"|"char"), lowercase (true),
vocab_size (specials included; unset = every training token), min_count (1) and maxlen (unset =
no truncation, each split padded to its own longest row); classification also padding and
truncating ("pre", as Keras). Series kinds take holdout (24), window (12), horizon (= holdout)
and scaling ("minmax" | "standard" | "none"). A text corpus with layout "windows" takes window (required) and
stride (default: window) instead of maxlen: its running text is cut by position into blocks and windows
(harness.data.corpus). Sizes default to 4000/500/1000. Real data without a ``columns.split`` is split by a seeded
shuffle (rows keep their file order within a split). Paths are relative to the folder of task.toml. ``public``
names the file a release ships in place of the data file: its text without the part the hidden checks score
(``public_text``); where the data file is absent (a student's folder), the public view reads it.

Views. A task is built in one of two views. The *public* view is what a student's machine can
rebuild from the released recipe: it evaluates on a public validation split — for the synthetic kinds
the generator's test rows drawn from the spec's (public) seed, for real files the valid split, for a
series the ``holdout`` months before the final holdout. The *hidden* view is the instructor's: the
test rows of a synthetic kind are drawn from the hidden seed of ``hidden.toml`` (never released);
for real files they are the file's test split, and for a series the final holdout months. Example::

    [dataset]
    kind = "series-csv"
    path = "airline_passengers.csv"
    sha256 = "29a86cac504338c7c5607e721396e4bda240ca61785ffcac9ed1af4088199d42"
    [dataset.preprocessing]
    holdout = 24
    window = 12
"""
from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .. import metrics
from ..errors import SpecError, suggest
from . import corpus, loaders, series
from .datasets import (ClassificationData, ClassificationSplit, LanguageModelData, LanguageModelSplit, SeriesData,
                       TranslationData, TranslationSplit)
from .synthetic import grammar as grammar_gen
from .synthetic import sentiment as sentiment_gen
from .synthetic import translation as translation_gen
from .text import TOKENIZERS, get_tokenizer, lm_sequences, pad
from .vocab import EOS, UNK, Vocabulary

DATA_VERSION = "1"  # bump when the same table would build different data

SIZES = {"train_size": 4000, "valid_size": 500, "test_size": 1000}
FRACTIONS = {"valid_fraction": 0.1, "test_fraction": 0.2}
FILE = {"path": None, "sha256": None}
TEXT_PRE = {"tokenizer": "word", "lowercase": True, "vocab_size": None, "min_count": 1, "maxlen": None}
CLASSIFICATION_PRE = dict(TEXT_PRE, padding="pre", truncating="pre")
CORPUS_PRE = dict(TEXT_PRE, window=None, stride=None)  # window and stride: layout "windows" only
SERIES_PRE = {"holdout": 24, "window": 12, "horizon": None, "scaling": "minmax"}

# kind -> (family, keys with defaults, column roles with defaults, preprocessing keys with defaults)
KINDS: dict[str, tuple[str, dict, dict, dict]] = {
    "synthetic-sentiment": ("classification", {"seed": 0, **SIZES, "noise": 0.05}, {}, CLASSIFICATION_PRE),
    "csv-classification": ("classification", {"seed": 0, **FILE, **FRACTIONS},
                           {"text": "text", "label": "label", "split": None}, CLASSIFICATION_PRE),
    "synthetic-grammar": ("language_model", {"seed": 0, **SIZES}, {}, TEXT_PRE),
    "text-corpus": ("language_model", {"seed": 0, **FILE, **FRACTIONS, "layout": "sentences", "sentences": "lines",
                                       "public": None}, {}, CORPUS_PRE),
    "synthetic-translation": ("translation", {"seed": 0, **SIZES}, {}, TEXT_PRE),
    "tsv-pairs": ("translation", {"seed": 0, **FILE, **FRACTIONS}, {"source": 0, "target": 1}, TEXT_PRE),
    "airline": ("series", {}, {}, SERIES_PRE),
    "synthetic-series": ("series", {"seed": 0, "length": 144, "sigma": 10.0, "seasonality": "multiplicative",
                                    "level": 120.0, "slope": 2.0, "amplitude": 0.2}, {}, SERIES_PRE),
    "series-csv": ("series", {**FILE, "public": None}, {"month": "Month", "value": "Passengers"}, SERIES_PRE),
}
CHOICES = {"tokenizer": TOKENIZERS, "padding": ("pre", "post"), "truncating": ("pre", "post"),
           "scaling": series.SCALINGS, "seasonality": series.SEASONALITIES, "sentences": ("lines", "punctuation"),
           "layout": ("sentences", "windows")}
# keys that may be left out; every other None default means "required"
OPTIONAL_NONE = {"sha256", "vocab_size", "maxlen", "horizon", "split", "public", "window", "stride"}


def _canonical(table: dict) -> str:
    return json.dumps(table, sort_keys=True, separators=(",", ":"), default=str)


def fingerprint(table: dict, file_sha256: str | None = None, view: str = "public",
                hidden_seed: int | None = None) -> str:
    """sha256 of the canonical table, the data file's checksum, the view and DATA_VERSION."""
    text = _canonical({"dataset": table, "file_sha256": file_sha256, "version": DATA_VERSION,
                       **({"view": view, "hidden_seed": hidden_seed} if view != "public" else {})})
    return hashlib.sha256(text.encode()).hexdigest()


class _Checker:
    def __init__(self, spec_path: Path):
        self.path = spec_path

    def error(self, key: str, problem: str, fix: str = ""):
        raise SpecError(self.path, key, problem, fix)

    def value(self, key: str, value, default):
        """``value`` checked against the type of ``default`` (and the key's choices)."""
        name = key.rsplit(".", 1)[-1]
        if name in CHOICES:
            if value not in CHOICES[name]:
                self.error(key, f"must be one of {', '.join(map(repr, CHOICES[name]))}, got {value!r}",
                           suggest(str(value), CHOICES[name]))
            return value
        if name in ("sha256",):
            return loaders.check_sha256_format(self.path, value)
        if name in ("path", "public"):
            if not isinstance(value, str) or not value:
                self.error(key, f"must be a file path string, got {value!r}",
                           f'e.g. {name} = "{"corpus_public.txt" if name == "public" else "data/reviews.csv"}"')
            if name == "public" and (Path(value).name != value or value in (".", "..")):
                self.error(key, f"must be a file name beside task.toml, got {value!r}",
                           'e.g. public = "corpus_public.txt" (a release writes it into the task\'s folder)')
            return value
        if name in ("text", "label", "split", "month", "value"):
            if not isinstance(value, str) or not value:
                self.error(key, f"must be a column name, got {value!r}", 'e.g. text = "review"')
            return value
        if name in ("source", "target"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                self.error(key, f"must be a field index ≥ 0 (0 is the first field), got {value!r}",
                           "e.g. source = 0, target = 1")
            return value
        if isinstance(default, bool) or name == "lowercase":
            if not isinstance(value, bool):
                self.error(key, f"must be true or false, got {value!r}")
            return value
        if isinstance(default, float) or name in ("noise", "sigma", "valid_fraction", "test_fraction"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                self.error(key, f"must be a number, got {value!r}")
            value = float(value)
            if name == "noise" and not 0 <= value < 0.5:
                self.error(key, f"must be in [0, 0.5), got {value}", "a label-noise rate such as 0.05")
            if name.endswith("_fraction") and not 0 <= value < 1:
                self.error(key, f"must be in [0, 1), got {value}", "e.g. 0.1")
            if name == "sigma" and value < 0:
                self.error(key, f"must be ≥ 0, got {value}")
            return value
        # integers: seed, sizes, vocab_size, min_count, maxlen, holdout, window, horizon, length
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(key, f"must be an integer, got {value!r}")
        minimum = {"seed": 0, "train_size": 1, "valid_size": 0, "test_size": 1, "vocab_size": 5,
                   "min_count": 1, "maxlen": 1, "holdout": 1, "window": 1, "horizon": 1, "length": 3,
                   "stride": 1}.get(name, 0)
        if value < minimum:
            self.error(key, f"must be ≥ {minimum}, got {value}")
        return value

    def table(self, where: str, given, defaults: dict) -> dict:
        if not isinstance(given, dict):
            self.error(where, f"must be a table, got {given!r}",
                       f"write it as [{where.strip('[]')}] or {{ key = value }}")
        for key in given:
            if key not in defaults:
                allowed = defaults or {"(none for this kind)": None}
                self.error(f"{where}.{key}", "unknown key" if defaults else "not used by this kind",
                           suggest(key, allowed))
        out = {}
        for key, default in defaults.items():
            if key in given:
                out[key] = self.value(f"{where}.{key}", given[key], default)
            elif default is None and key not in OPTIONAL_NONE:
                self.error(f"{where}.{key}", "missing", f"add {key} = … to {where}")
            else:
                out[key] = default
        return out


def resolve(table: dict, spec_path: Path) -> tuple[str, dict, dict, dict]:
    """(kind, options, columns, preprocessing) with defaults filled in; SpecError on a bad table."""
    check = _Checker(Path(spec_path))
    if not isinstance(table, dict):
        check.error("[dataset]", "missing or not a table", 'add [dataset] with kind = "…"')
    if "kind" not in table:
        check.error("[dataset].kind", "missing", "add kind = one of " + ", ".join(map(repr, KINDS)))
    kind = table["kind"]
    if kind not in KINDS:
        check.error("[dataset].kind", f"unknown kind {kind!r}", suggest(str(kind), KINDS))
    _, keys, column_roles, pre = KINDS[kind]
    allowed = {"kind", "preprocessing", *keys} | ({"columns"} if column_roles else set())
    for key in table:
        if key not in allowed:
            other = [k for k, spec in KINDS.items() if key in spec[1] or (key == "columns" and spec[2])]
            fix = f"it is used by kind {' / '.join(map(repr, other))}" if other else suggest(key, allowed)
            check.error(f"[dataset].{key}", f"not used by kind {kind!r}", fix)
    options = check.table("[dataset]", {k: v for k, v in table.items() if k in keys}, keys)
    columns = check.table("[dataset].columns", table.get("columns", {}), column_roles) if column_roles else {}
    preprocessing = check.table("[dataset.preprocessing]", table.get("preprocessing", {}), pre)
    if kind == "synthetic-grammar" and preprocessing["tokenizer"] != "word":
        check.error("[dataset.preprocessing].tokenizer", "must be \"word\" for kind 'synthetic-grammar'",
                    "its optimal perplexity is defined over words")
    if kind == "text-corpus":
        preprocessing = _corpus_layout(check, table, options, preprocessing)
    if options.get("public") is not None and Path(options["public"]) == Path(options["path"]):
        check.error("[dataset].public", f"names the data file itself ({options['path']!r})",
                    'name another file, e.g. public = "corpus_public.txt"')
    if "valid_fraction" in options and options["valid_fraction"] + options["test_fraction"] >= 1:
        check.error("[dataset].test_fraction", "valid_fraction + test_fraction must be < 1",
                    "leave some rows for training")
    return kind, options, columns, preprocessing


def _corpus_layout(check: _Checker, table: dict, options: dict, pre: dict) -> dict:
    """A text corpus's layout: sentences (one per line, or cut at . ! ?) or windows of running text
    (harness.data.corpus); the keys of one are refused with the other, saying which layout uses them."""
    given = table.get("preprocessing", {})
    where = "[dataset.preprocessing]"
    if options["layout"] == "sentences":
        for key in ("window", "stride"):
            if key in given:
                check.error(f"{where}.{key}", 'is used with layout = "windows" only',
                            f'add layout = "windows" to [dataset], or remove {key}')
        if options["public"] is not None:
            check.error("[dataset].public", "cannot be written for a corpus of sentences: its splits are drawn by a "
                        "seeded shuffle of the whole file, so a file without the test sentences would split "
                        "differently", 'use layout = "windows" (split by position), or remove public')
        return pre
    if pre["window"] is None:
        check.error(f"{where}.window", 'missing (layout = "windows")', "add window = 100 (tokens per window)")
    for key, fix in (("maxlen", "window sets the length of every row"),):
        if given.get(key) is not None:
            check.error(f"{where}.{key}", 'is not used with layout = "windows"', f"remove it: {fix}")
    if "sentences" in table:
        check.error("[dataset].sentences", 'is not used with layout = "windows"',
                    "remove it: windows are cut from the running text")
    if pre["stride"] is not None and pre["stride"] > pre["window"]:
        check.error(f"{where}.stride", f"is {pre['stride']}, longer than the window ({pre['window']}): the text between "
                    "two training windows would never be trained on", "use a stride ≤ window (the default is window)")
    return dict(pre, stride=pre["stride"] or pre["window"])


VIEWS = ("public", "hidden")


def build_dataset(table: dict, spec_path: Path, view: str = "public", hidden_seed: int | None = None):
    """The dataset a task's ``[dataset]`` table describes (see ``KINDS`` for each kind's keys), in
    one of the two views (see the module's docstring); its ``test`` split is what the view scores.

    Paths are relative to the folder of ``spec_path`` (the task.toml). Returns a
    ClassificationData, LanguageModelData, TranslationData or SeriesData.
    """
    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}, not {view!r}")
    spec_path = Path(spec_path)
    kind, options, columns, pre = resolve(table, spec_path)
    family = KINDS[kind][0]
    file_path = (spec_path.parent / options["path"]) if options.get("path") else None
    file_sha = loaders.file_sha256(file_path) if file_path is not None and file_path.is_file() else None
    fp = fingerprint(table, file_sha, view, hidden_seed)
    builder = {"classification": _classification, "language_model": _language_model,
               "translation": _translation, "series": _series}[family]
    where = _View(view, hidden_seed if view == "hidden" else None)
    return builder(kind, options, columns, pre, file_path, fp, spec_path, where)


class _View:
    """Which rows a view scores: ``test_seed`` redraws a synthetic kind's test rows; a file's public
    view scores its valid split."""

    def __init__(self, name: str, test_seed: int | None):
        self.name, self.test_seed = name, test_seed

    def file_splits(self, raw: dict, spec_path, file_path) -> dict:
        if self.name == "public":
            if not raw["valid"]:
                raise SpecError(spec_path, "[dataset].valid_fraction", f"the valid split of {file_path} is empty, and "
                                "the public checks are scored on it", "give it some rows: valid_fraction > 0")
            raw = dict(raw, test=raw["valid"])
        return raw


# ---------------------------------------------------------------------------------------------
# splitting real data


def _split_indices(n: int, options: dict, fixed: Sequence[str] | None = None) -> dict[str, list[int]]:
    """Row indices per split: from a split column when given, else a seeded shuffle by fractions.

    Rows keep their file order within a split.
    """
    if fixed is not None:
        return {name: [i for i, s in enumerate(fixed) if s == name] for name in ("train", "valid", "test")}
    perm = np.random.default_rng(options["seed"]).permutation(n)
    n_test = int(round(options["test_fraction"] * n))
    n_valid = int(round(options["valid_fraction"] * n))
    return {"test": sorted(perm[:n_test].tolist()), "valid": sorted(perm[n_test:n_test + n_valid].tolist()),
            "train": sorted(perm[n_test + n_valid:].tolist())}


def _need_rows(spec_path, file_path, name, rows):
    if not rows:
        raise SpecError(spec_path, "[dataset]", f"the {name} split of {file_path} is empty",
                        "use a larger file, other fractions, or give the split column some rows of it")


def _vocab(seqs, pre) -> Vocabulary:
    return Vocabulary.build(seqs, max_size=pre["vocab_size"], min_count=pre["min_count"])


# ---------------------------------------------------------------------------------------------
# families


def _classification(kind, options, columns, pre, file_path, fp, spec_path, view) -> ClassificationData:
    if kind == "synthetic-sentiment":
        corpus = sentiment_gen.generate(options["seed"], options["train_size"], options["valid_size"],
                                        options["test_size"], options["noise"])
        raw = {name: (s.texts, s.labels.tolist()) for name, s in corpus.splits().items()}
        class_names, optimum = corpus.class_names, corpus.optimum
        if view.test_seed is not None:
            hidden = sentiment_gen.generate(view.test_seed, 0, 0, options["test_size"], options["noise"])
            raw["test"] = (hidden.test.texts, hidden.test.labels.tolist())
            optimum = hidden.optimum
    else:
        texts, labels, fixed = loaders.load_classification_csv(file_path, columns["text"], columns["label"],
                                                               columns["split"], options["sha256"])
        class_names = _class_names(labels)
        ids = [class_names.index(lab) for lab in labels]
        idx = _split_indices(len(texts), options, fixed)
        raw = {}
        for name, rows in idx.items():
            if name != "valid":
                _need_rows(spec_path, file_path, name, rows)
            raw[name] = ([texts[i] for i in rows], [ids[i] for i in rows])
        raw = view.file_splits(raw, spec_path, file_path)
        optimum = {}
    tok = get_tokenizer(pre["tokenizer"], pre["lowercase"])
    tokens = {name: [tok(t) for t in texts] for name, (texts, _) in raw.items()}
    vocab = _vocab(tokens["train"], pre)
    splits = {}
    for name, (texts, labels) in raw.items():
        ids = pad([vocab.encode(t) for t in tokens[name]], pre["maxlen"], pre["padding"], pre["truncating"])
        splits[name] = ClassificationSplit(ids, _long(labels), list(texts))
    return ClassificationData(kind, vocab, class_names, splits["train"], splits["valid"], splits["test"],
                              optimum, fp, pre)


def _class_names(labels: list[str]) -> list[str]:
    names = sorted(set(labels))
    try:
        return sorted(names, key=float)
    except ValueError:
        return names


def _long(values):
    import torch

    return torch.tensor(list(values), dtype=torch.long)


def _language_model(kind, options, columns, pre, file_path, fp, spec_path, view) -> LanguageModelData:
    if options.get("layout") == "windows":
        return _corpus_windows(kind, options, pre, file_path, fp, spec_path, view)
    if kind == "synthetic-grammar":
        corpus = grammar_gen.generate(options["seed"], options["train_size"], options["valid_size"],
                                      options["test_size"])
        tokens = {"train": corpus.train, "valid": corpus.valid, "test": corpus.test}
        if view.test_seed is not None:
            tokens["test"] = grammar_gen.generate(view.test_seed, 0, 0, options["test_size"]).test
    else:
        sentences = loaders.load_text_corpus(file_path, options["sentences"], options["sha256"])
        idx = _split_indices(len(sentences), options)
        tok = get_tokenizer(pre["tokenizer"], pre["lowercase"])
        tokens = {}
        for name, rows in idx.items():
            if name != "valid":
                _need_rows(spec_path, file_path, name, rows)
            tokens[name] = [t for t in (tok(sentences[i]) for i in rows) if t]
        tokens = view.file_splits(tokens, spec_path, file_path)
    vocab = _vocab(tokens["train"], pre)
    splits = {}
    for name, sents in tokens.items():
        inputs, targets = lm_sequences([vocab.encode(s) for s in sents], pre["maxlen"])
        splits[name] = LanguageModelSplit(inputs, targets, [list(s) for s in sents])
    optimum = {}
    if kind == "synthetic-grammar":
        optimum = _grammar_optimum(corpus.pfsa, vocab, splits["test"], pre["maxlen"])
    return LanguageModelData(kind, vocab, splits["train"], splits["valid"], splits["test"], optimum, fp, pre)


def _corpus_windows(kind, options, pre, file_path, fp, spec_path, view) -> LanguageModelData:
    """A text corpus as windows of running text, split by position (harness.data.corpus); the public view reads the
    released public file when the whole file is not there (a student's machine)."""
    source, public_only = _data_source(options, file_path, spec_path, view.name)
    text = loaders.read_text(source, None if public_only else options["sha256"])
    spans = corpus.token_spans(text, pre["tokenizer"], pre["lowercase"])
    b = _blocks(spans, options, pre, source, spec_path, public_only)
    if not public_only:
        _check_public_file(options, spec_path, *_corpus_head(text, spans, b))
    ranges = {"train": b.train, "valid": b.valid, "test": b.test if view.name == "hidden" else b.valid}
    if ranges["valid"][1] - ranges["valid"][0] < 2 and view.name == "public":
        raise SpecError(spec_path, "[dataset].valid_fraction", f"the valid block of {options['path']} has "
                        f"{ranges['valid'][1] - ranges['valid'][0]} token(s), and the public checks are scored on it",
                        "give it some text: valid_fraction > 0")
    tokens = {name: spans.tokens[lo:hi] for name, (lo, hi) in ranges.items()}
    vocab = _vocab([tokens["train"]], pre)
    splits = {}
    for name, (lo, hi) in ranges.items():
        stride = pre["stride"] if name == "train" else pre["window"]
        inputs, targets = corpus.windows(vocab.encode(tokens[name]), pre["window"], stride)
        splits[name] = LanguageModelSplit(inputs, targets, [tokens[name]], (lo, hi))
    return LanguageModelData(kind, vocab, splits["train"], splits["valid"], splits["test"], {}, fp, pre,
                             layout="windows")


def _data_source(options, file_path: Path, spec_path: Path, view: str) -> tuple[Path, bool]:
    """(the file to read, whether it is the public file alone): the whole data file when it is there; else, for the
    public view, the public file a release wrote in its place (``[dataset].public``)."""
    public = spec_path.parent / options["public"] if options.get("public") is not None else None
    if file_path.is_file() or public is None:
        return file_path, False
    if view == "hidden":
        raise loaders.DataError(file_path, "file", "does not exist; the hidden checks score the end of it, which a "
                                f"released folder never holds ({options['public']} is its public part only)",
                                "grade with the task folder that holds the whole file")
    return public, True


def _blocks(spans, options, pre, where: Path, spec_path: Path, public_only: bool) -> "corpus.Blocks":
    try:
        return corpus.blocks(len(spans.tokens), options["valid_fraction"], options["test_fraction"], pre["window"],
                             public_only)
    except corpus.BlocksError as exc:
        raise SpecError(spec_path, "[dataset]", f"{where}: {exc}",
                        "use a longer text, a shorter window or other fractions") from None


def public_text(table: dict, spec_path: Path) -> tuple[str, str] | None:
    """(file name, text) of the public file a ``[dataset]`` names with ``public``: the data file's text without the
    part the hidden checks score, as a release writes it — a corpus of windows up to the gap before its hidden block,
    a series CSV without its final holdout; None when the table names none. A public file already beside task.toml
    must be that text (DataError otherwise)."""
    spec_path = Path(spec_path)
    kind, options, columns, pre = resolve(table, spec_path)
    if options.get("public") is None:
        return None
    file_path = spec_path.parent / options["path"]
    source, public_only = _data_source(options, file_path, spec_path, "public")
    if public_only:
        return options["public"], loaders.read_text(source)  # a released folder: its public file is all there is
    text = loaders.read_text(file_path, options["sha256"])
    if kind == "series-csv":
        values = loaders.series_from_text(file_path, text, columns["month"], columns["value"])[1]
        expected, what = _series_head(file_path, text, columns, len(values), pre["holdout"])
    else:
        spans = corpus.token_spans(text, pre["tokenizer"], pre["lowercase"])
        expected, what = _corpus_head(text, spans, _blocks(spans, options, pre, file_path, spec_path, False))
    _check_public_file(options, spec_path, expected, what)
    return options["public"], expected


def _corpus_head(text: str, spans, b: "corpus.Blocks") -> tuple[str, str]:
    """The public part of a corpus of windows (its text up to the gap before the hidden block) and those words."""
    return (text[:spans.starts[b.public_end]],
            f"its first {b.public_end} tokens: the text before the hidden block and its gap")


def _series_head(file_path: Path, text: str, columns: dict, n_values: int, holdout: int) -> tuple[str, str]:
    """The public part of a series CSV of ``n_values`` rows (its header and every row before the final ``holdout``,
    as written) and those words."""
    roles = {"month": columns["month"], "value": columns["value"]}
    n_rows = n_values - holdout
    return (loaders.csv_head(file_path, text, roles, n_rows),
            f"its header and first {n_rows} rows: every month before the final holdout of {holdout}")


def _check_public_file(options, spec_path: Path, expected: str, what: str) -> None:
    """A public file beside task.toml must be the public part of the data file, character for character."""
    if options.get("public") is None:
        return
    public = spec_path.parent / options["public"]
    if public.is_file() and loaders.read_text(public) != expected:
        raise loaders.DataError(public, "file", f"is not the public part of {options['path']} ({what})",
                                f"delete it and `harness release` writes it from {options['path']}, or fix it")


def _grammar_optimum(pfsa, vocab: Vocabulary, split: LanguageModelSplit, maxlen: int | None) -> dict:
    """Exact optimal perplexity of the test split as the model is scored on it.

    Words outside the vocabulary are ``<unk>`` (the true probabilities of the merged words add up)
    and a truncated row scores the probability of its prefix.
    """
    unk = vocab.tokens[UNK]

    def word_map(w: str) -> str:
        return w if (w in vocab or w == vocab.tokens[EOS]) else unk

    rows = []
    for sent in split.sentences:
        row = [word_map(w) for w in sent] + [vocab.tokens[EOS]]
        rows.append(row[:maxlen] if maxlen else row)
    ppl, n = grammar_gen.optimal_perplexity(pfsa, rows, word_map)
    assert n == split.n_tokens, (n, split.n_tokens)
    figures = pfsa.population_figures()
    return {"perplexity": ppl, "tokens": n, "entropy_rate_perplexity": figures["entropy_rate_perplexity"],
            "unigram_perplexity": figures["unigram_perplexity"]}


def _translation(kind, options, columns, pre, file_path, fp, spec_path, view) -> TranslationData:
    if kind == "synthetic-translation":
        corpus = translation_gen.generate(options["seed"], options["train_size"], options["valid_size"],
                                          options["test_size"])
        raw = {"train": corpus.train, "valid": corpus.valid, "test": corpus.test}
        optimum = dict(corpus.optimum)
        if view.test_seed is not None:
            raw["test"] = translation_gen.generate(view.test_seed, 0, 0, options["test_size"]).test
            seen = {en for en, _ in raw["train"]}
            optimum["test_in_train"] = sum(en in seen for en, _ in raw["test"]) / max(len(raw["test"]), 1)
    else:
        pairs = loaders.load_tsv_pairs(file_path, columns["source"], columns["target"], options["sha256"])
        idx = _split_indices(len(pairs), options)
        raw = {}
        for name, rows in idx.items():
            if name != "valid":
                _need_rows(spec_path, file_path, name, rows)
            raw[name] = [pairs[i] for i in rows]
        raw = view.file_splits(raw, spec_path, file_path)
        optimum = {}
    tok = get_tokenizer(pre["tokenizer"], pre["lowercase"])
    src_tok = {name: [tok(s) for s, _ in pairs] for name, pairs in raw.items()}
    tgt_tok = {name: [tok(t) for _, t in pairs] for name, pairs in raw.items()}
    src_vocab, tgt_vocab = _vocab(src_tok["train"], pre), _vocab(tgt_tok["train"], pre)
    splits = {}
    for name, pairs in raw.items():
        src = pad([src_vocab.encode(s, eos=True) for s in src_tok[name]], pre["maxlen"], "post", "post")
        tgt_in, tgt_out = lm_sequences([tgt_vocab.encode(t) for t in tgt_tok[name]], pre["maxlen"])
        splits[name] = TranslationSplit(src, tgt_in, tgt_out, list(pairs))
    return TranslationData(kind, src_vocab, tgt_vocab, splits["train"], splits["valid"], splits["test"],
                           optimum, fp, pre)


def _series(kind, options, columns, pre, file_path, fp, spec_path, view) -> SeriesData:
    signal, public_only = None, False
    if kind == "airline":
        s = series.airline_passengers()
        months, values = s.months, s.values
    elif kind == "synthetic-series":
        syn = series.synthetic_seasonal(options["seed"], options["length"], level=options["level"],
                                        slope=options["slope"], amplitude=options["amplitude"],
                                        sigma=options["sigma"], seasonality=options["seasonality"])
        months, values, signal = syn.series.months, syn.series.values, syn.signal
    else:
        source, public_only = _data_source(options, file_path, spec_path, view.name)
        text = loaders.read_text(source, None if public_only else options["sha256"])
        months, values = loaders.series_from_text(source, text, columns["month"], columns["value"])
        values = np.asarray(values, dtype=np.float64)
        if not public_only and options["public"] is not None and len(values) > pre["holdout"]:
            _check_public_file(options, spec_path, *_series_head(file_path, text, columns, len(values),
                                                                 pre["holdout"]))
    holdout, window = pre["holdout"], pre["window"]
    horizon = pre["horizon"] if pre["horizon"] is not None else holdout
    pre = dict(pre, horizon=horizon)
    where = "[dataset.preprocessing]"
    if view.name == "public" and not public_only:  # the final holdout is the hidden view's; the public view ends
        # before it (a released public file has ended there already)
        if 2 * holdout >= len(values):
            raise SpecError(spec_path, f"{where}.holdout", f"is {holdout}: the public checks hold out the "
                            f"{holdout} months before the last {holdout}, and the series has {len(values)}",
                            "hold out fewer months")
        months, values = list(months)[:-holdout], values[:-holdout]
        signal = None if signal is None else signal[:-holdout]
    if holdout >= len(values):
        raise SpecError(spec_path, f"{where}.holdout", f"is {holdout} but the series has {len(values)} values",
                        "hold out fewer months")
    if horizon > holdout:
        raise SpecError(spec_path, f"{where}.horizon", f"is {horizon}, longer than the holdout ({holdout})",
                        "use a horizon ≤ holdout (shorter horizons are rolled forward)")
    train, test = series.split_holdout(values, holdout)
    if len(train) - window - horizon + 1 < 1:
        raise SpecError(spec_path, f"{where}.window", f"window {window} + horizon {horizon} leave no training "
                        f"window in {len(train)} training months", "use a shorter window or horizon")
    scaler = series.Scaler.fit(train, pre["scaling"])
    scaled = scaler.transform(train)
    X, Y = series.series_windows(scaled, window, horizon)
    import torch

    forecast_input = torch.tensor(scaled[-window:], dtype=torch.float32).reshape(1, window, 1)
    optimum = {}
    if signal is not None:
        # The best forecast of y_t = s_t + e_t from the past is s_t (e_t is independent noise): the
        # noise-free signal scored against the noisy holdout; its RMSE is ≈ sigma (expected value).
        best = signal[-holdout:]
        optimum = {"rmse": metrics.rmse(test, best), "mae": metrics.mae(test, best),
                   "mape": metrics.mape(test, best), "smape": metrics.smape(test, best),
                   "mase": metrics.mase(test, best, train, m=12), "sigma": options["sigma"]}
    return SeriesData(kind, list(months), values, train, test, scaler, window, horizon, X, Y, forecast_input,
                      optimum, fp, pre, 12, signal)
