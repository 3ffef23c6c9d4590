"""harness.data.loaders and build_dataset on real-data files the tests write: good and malformed."""
import hashlib
from pathlib import Path

import numpy as np
import pytest

from harness.data import DataError, resolve
from harness.data import build_dataset as build_view
from harness.data.loaders import load_classification_csv, load_series_csv, load_text_corpus, load_tsv_pairs
from harness.spec import SpecError


def build_dataset(table, spec_path, view="hidden"):
    """These tests look at every split as the instructor's side builds it: the hidden view."""
    return build_view(table, spec_path, view=view)

AIRLINE = Path(__file__).resolve().parents[1] / "tasks" / "forecasting" / "airline_passengers.csv"


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def imdb(n=30):
    rows = ["review,sentiment"]
    for i in range(n):
        good = i % 2 == 0
        rows.append(f'"A {"great" if good else "dull"} film, number {i}.",{"positive" if good else "negative"}')
    return "\n".join(rows) + "\n"


def test_classification_csv_good(tmp_path):
    path = write(tmp_path, "reviews.csv", imdb())
    spec = tmp_path / "task.toml"
    table = {"kind": "csv-classification", "path": "reviews.csv", "sha256": sha(path), "seed": 1,
             "columns": {"text": "review", "label": "sentiment"}, "preprocessing": {"maxlen": 5}}
    data = build_dataset(table, spec)
    assert data.class_names == ["negative", "positive"]
    assert len(data.train.texts) + len(data.valid.texts) + len(data.test.texts) == 30
    assert len(data.test.texts) == 6 and len(data.valid.texts) == 3
    assert data.train.ids.shape[1] == 5 and (data.train.ids[:, -1] != 0).all()  # pre-truncated: ends kept
    assert data.optimum == {} and len(data.fingerprint) == 64
    assert build_dataset(table, spec).test.texts == data.test.texts  # seeded split
    texts, labels, _ = load_classification_csv(path, "review", "sentiment")
    assert texts[0] == "A great film, number 0." and labels[:2] == ["positive", "negative"]


def test_classification_csv_split_column_and_numeric_labels(tmp_path):
    rows = ["text,label,split"] + [f"t{i},{i % 3},{['train', 'train', 'test', 'valid'][i % 4]}" for i in range(12)]
    write(tmp_path, "d.csv", "\n".join(rows))
    data = build_dataset({"kind": "csv-classification", "path": "d.csv", "columns": {"split": "split"}},
                         tmp_path / "task.toml")
    assert data.class_names == ["0", "1", "2"]
    assert data.test.texts == ["t2", "t6", "t10"] and data.valid.texts == ["t3", "t7", "t11"]


@pytest.mark.parametrize("content, where, words", [
    ("review,sentiment\n\"good\",positive\n\"bad\",negative,extra\n", "line 3", "fields"),
    ("review,sentiment\n\"good\",positive\n,negative\n", "line 3, column 'review'", "empty"),
    ("review,sentiment\n\"good\",\n", "line 2, column 'sentiment'", "empty"),
    ("review,sentiment\n", "file", "no rows"),
    ("", "file", "empty"),
    ("text,label\nx,1\n", "column 'review'", "not in the header"),
])
def test_classification_csv_malformed(tmp_path, content, where, words):
    path = write(tmp_path, "bad.csv", content)
    with pytest.raises(DataError) as err:
        load_classification_csv(path, "review", "sentiment")
    e = err.value
    assert e.path == str(path) and e.key == where and words in e.problem and e.fix
    assert str(path) in str(e) and where in str(e)


def test_missing_file_and_checksum_mismatch(tmp_path):
    spec = tmp_path / "task.toml"
    with pytest.raises(DataError) as err:
        build_dataset({"kind": "csv-classification", "path": "nope.csv"}, spec)
    assert "nope.csv" in err.value.path and "does not exist" in err.value.problem and "[dataset].path" in err.value.fix
    path = write(tmp_path, "reviews.csv", imdb())
    with pytest.raises(DataError) as err:
        build_dataset({"kind": "csv-classification", "path": "reviews.csv", "sha256": "0" * 64,
                       "columns": {"text": "review", "label": "sentiment"}}, spec)
    assert err.value.key == "sha256" and sha(path) in err.value.problem and "[dataset].sha256" in err.value.fix
    with pytest.raises(SpecError) as err:
        build_dataset({"kind": "csv-classification", "path": "reviews.csv", "sha256": "abc"}, spec)
    assert err.value.key == "[dataset].sha256" and err.value.path == str(spec)


def test_not_utf8_names_the_line(tmp_path):
    path = write(tmp_path, "latin.csv", "text,label\nok,1\ncaf\xe9,0\n", encoding="latin-1")
    with pytest.raises(DataError) as err:
        load_classification_csv(path)
    assert err.value.key == "line 3" and "UTF-8" in err.value.problem


def test_text_corpus_lines_and_running_text(tmp_path):
    lines = write(tmp_path, "corpus.txt", "The cat sat.\n\nThe dog ran!\n" + "A bird sang.\n" * 8)
    assert load_text_corpus(lines)[:2] == ["The cat sat.", "The dog ran!"]
    running = write(tmp_path, "book.txt", "It was dark. The wind blew!\nWas it cold? Yes.")
    assert load_text_corpus(running, "punctuation") == ["It was dark.", "The wind blew!", "Was it cold?", "Yes."]
    data = build_dataset({"kind": "text-corpus", "path": "corpus.txt", "sha256": sha(lines)}, tmp_path / "task.toml")
    assert data.train.inputs[0, 0] == 1 and data.optimum == {}
    assert sum(len(s.sentences) for s in data.splits.values()) == 10
    chars = build_dataset({"kind": "text-corpus", "path": "corpus.txt", "preprocessing": {"tokenizer": "char"}},
                          tmp_path / "task.toml")
    assert "<unk>" not in chars.vocab.tokens[4:] and " " in chars.vocab
    write(tmp_path, "blank.txt", "\n  \n")
    with pytest.raises(DataError, match="is empty"):
        load_text_corpus(tmp_path / "blank.txt")


def test_tsv_pairs_spa_eng_layout(tmp_path):
    body = "".join(f"Go {i}.\tVe {i}.\tCC-BY 2.0 (France) Attribution: tatoeba.org #{i}\n" for i in range(20))
    path = write(tmp_path, "spa-eng.txt", body)
    assert load_tsv_pairs(path)[0] == ("Go 0.", "Ve 0.")
    data = build_dataset({"kind": "tsv-pairs", "path": "spa-eng.txt", "sha256": sha(path)}, tmp_path / "task.toml")
    assert len(data.test.pairs) == 4 and data.test.src.shape[0] == 4
    assert data.train.tgt_in[0, 0] == 1
    swapped = build_dataset({"kind": "tsv-pairs", "path": "spa-eng.txt", "columns": {"source": 1, "target": 0}},
                            tmp_path / "task.toml")
    assert swapped.train.pairs[0][0].startswith("Ve")


@pytest.mark.parametrize("content, where, words", [
    ("Go.\tVe.\nRun.  ¡Corre!\n", "line 2", "TAB"),
    ("Go.\tVe.\n\t¡Corre!\n", "line 2, field 1", "empty"),
])
def test_tsv_pairs_malformed(tmp_path, content, where, words):
    path = write(tmp_path, "pairs.txt", content)
    with pytest.raises(DataError) as err:
        load_tsv_pairs(path)
    assert err.value.key == where and str(path) in str(err.value)
    assert words in err.value.problem + err.value.fix


def test_series_csv_good_is_the_airline_series(tmp_path):
    months, values = load_series_csv(AIRLINE, sha256=sha(AIRLINE))
    assert months[0] == "1949-01" and len(values) == 144
    spec = AIRLINE.parent / "task.toml"
    from_csv = build_dataset({"kind": "series-csv", "path": "airline_passengers.csv", "sha256": sha(AIRLINE)}, spec)
    builtin = build_dataset({"kind": "airline"}, spec)
    assert np.array_equal(from_csv.values, builtin.values) and np.array_equal(from_csv.X, builtin.X)
    write(tmp_path, "sales.csv", "date,units\n" + "".join(f"2020-{m:02d}-01,{m * 10}\n" for m in range(1, 13)))
    data = build_dataset({"kind": "series-csv", "path": "sales.csv", "columns": {"month": "date", "value": "units"},
                          "preprocessing": {"holdout": 3, "window": 4, "horizon": 1}}, tmp_path / "task.toml")
    assert data.months[-1] == "2020-12" and data.X.shape == (5, 4, 1)


def test_a_series_csv_public_part_is_every_row_before_the_final_holdout(tmp_path):
    """``public``: the release writes the header and the rows before the hidden holdout, as written; a file of that
    name must be that text; a folder holding it alone builds the same public view."""
    from harness.data.build import public_text

    rows = "".join(f"2020-{m:02d},{m * 10}\n" for m in range(1, 13)) + "".join(f"2021-{m:02d},{m}\n" for m in range(1, 7))
    data = write(tmp_path, "sales.csv", "Month,Units\r\n" + rows)
    table = {"kind": "series-csv", "path": "sales.csv", "sha256": sha(data), "public": "sales_public.csv",
             "columns": {"value": "Units"}, "preprocessing": {"holdout": 3, "window": 4, "horizon": 1}}
    name, text = public_text(table, tmp_path / "task.toml")
    assert name == "sales_public.csv" and text == "Month,Units\r\n" + rows.split("2021-04")[0]
    public = write(tmp_path, "sales_public.csv", text.replace("2021-03,3", "2021-03,4"))
    with pytest.raises(DataError) as err:
        build_view(table, tmp_path / "task.toml")
    assert err.value.path == str(public) and "is not the public part of sales.csv (its header and first 15 rows" in \
        err.value.problem
    write(tmp_path, "sales_public.csv", text)
    whole = build_view(table, tmp_path / "task.toml")
    data.unlink()  # a released folder: the public file alone
    alone = build_view(table, tmp_path / "task.toml")
    assert alone.months == whole.months and np.array_equal(alone.X, whole.X) and len(alone.values) == 15


@pytest.mark.parametrize("content, where, words", [
    ("Month,Passengers\n1949-01,112\n1949-02,1 18\n", "line 3, column 'Passengers'", "not a finite number"),
    ("Month,Passengers\n1949-01,112\n1949-02,\n", "line 3, column 'Passengers'", "not a finite number"),
    ("Month,Passengers\n1949-01,112\n1949-03,118\n", "line 3, column 'Month'", "does not follow"),
    ("Month,Passengers\nJan 1949,112\n", "line 2, column 'Month'", "not a month"),
    ("Month,Passengers\n1949-01,112,7\n", "line 2", "fields"),
    ("Date,Passengers\n1949-01,112\n", "column 'Month'", "not in the header"),
])
def test_series_csv_malformed(tmp_path, content, where, words):
    path = write(tmp_path, "series.csv", content)
    with pytest.raises(DataError) as err:
        load_series_csv(path)
    assert err.value.key == where and words in err.value.problem and err.value.fix
    assert f"{path}: {where}: " in str(err.value)


@pytest.mark.parametrize("table, key, words", [
    ({}, "[dataset].kind", "missing"),
    ({"kind": "synthetic-sentimant"}, "[dataset].kind", "did you mean 'synthetic-sentiment'"),
    ({"kind": "synthetic-sentiment", "path": "x.csv"}, "[dataset].path", "not used by kind"),
    ({"kind": "synthetic-sentiment", "noise": 0.7}, "[dataset].noise", "[0, 0.5)"),
    ({"kind": "synthetic-sentiment", "train_size": "big"}, "[dataset].train_size", "integer"),
    ({"kind": "synthetic-sentiment", "preprocessing": {"padding": "left"}}, "[dataset.preprocessing].padding", "'pre'"),
    ({"kind": "synthetic-sentiment", "preprocessing": {"vocab_sise": 10}}, "[dataset.preprocessing].vocab_sise",
     "did you mean 'vocab_size'"),
    ({"kind": "synthetic-sentiment", "preprocessing": {"window": 10}}, "[dataset.preprocessing].window", "unknown"),
    ({"kind": "csv-classification"}, "[dataset].path", "missing"),
    ({"kind": "csv-classification", "path": "a.csv", "columns": {"txt": "x"}}, "[dataset].columns.txt",
     "did you mean 'text'"),
    ({"kind": "airline", "preprocessing": {"horizon": 30}}, "[dataset.preprocessing].horizon", "longer than the holdout"),
    ({"kind": "airline", "preprocessing": {"window": 100}}, "[dataset.preprocessing].window", "no training window"),
    ({"kind": "airline", "preprocessing": {"scaling": "log"}}, "[dataset.preprocessing].scaling", "minmax"),
    ({"kind": "synthetic-grammar", "preprocessing": {"tokenizer": "char"}}, "[dataset.preprocessing].tokenizer", "word"),
    ({"kind": "airline", "seed": 3}, "[dataset].seed", "not used by kind"),
])
def test_spec_errors_name_the_key(table, key, words):
    spec = Path("tasks/demo/task.toml")
    with pytest.raises(SpecError) as err:
        build_dataset(table, spec)
    e = err.value
    assert e.path == str(spec) and e.key == key
    assert words in e.problem + " " + e.fix


def test_resolve_fills_defaults():
    _, options, _, pre = resolve({"kind": "synthetic-sentiment"}, Path("t/task.toml"))
    assert options == {"seed": 0, "train_size": 4000, "valid_size": 500, "test_size": 1000, "noise": 0.05}
    assert pre["padding"] == pre["truncating"] == "pre" and pre["tokenizer"] == "word" and pre["lowercase"]


def test_fingerprint_follows_table_and_file(tmp_path):
    spec = tmp_path / "task.toml"
    small = {"kind": "synthetic-sentiment", "train_size": 50, "valid_size": 5, "test_size": 20}
    a = build_dataset(small, spec).fingerprint
    assert a == build_dataset(dict(reversed(list(small.items()))), spec).fingerprint  # key order does not matter
    assert a != build_dataset(dict(small, seed=1), spec).fingerprint
    path = write(tmp_path, "r.csv", imdb())
    table = {"kind": "csv-classification", "path": "r.csv", "columns": {"text": "review", "label": "sentiment"}}
    before = build_dataset(table, spec).fingerprint
    path.write_text(imdb(40))
    assert build_dataset(table, spec).fingerprint != before  # same table, new file contents
