"""Real data goes through the same specs as the shipped synthetic data: a CSV of reviews, a text
corpus, a tab-separated pair file and a monthly series CSV, each named by path with a checksum."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from harness.data.synthetic import sentiment as sentiment_gen
from harness.grading import grade
from harness.spec import SpecError, load_spec, load_tasks

ROOT = Path(__file__).resolve().parents[1]
TRAINING = """
[training]
lr = 0.005
epochs = 3
batch_size = 64
[training.bounds]
lr = [0.0001, 0.05]
epochs = [1, 15]
batch_size = [8, 256]
"""


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def task(folder: Path, name: str, module: str, dataset: str, checks: str) -> Path:
    (folder / name).mkdir(parents=True, exist_ok=True)
    path = folder / name / "task.toml"
    path.write_text(f'[task]\nname = "{name}"\ntitle = "{name}"\nmodule = "{module}"\nseed = 3\n'
                    f"{dataset}\n{TRAINING}\n{checks}")
    shutil.copy(ROOT / "tasks" / module / "answer_key.py", folder / name)  # the default course's reference model
    return path


def reviews_csv(path: Path, n: int = 1200) -> Path:
    import numpy as np

    rows = ["review,sentiment"]
    for u in np.random.default_rng(0).random((n, 21)).tolist():
        text, label = sentiment_gen.sample_review(u)
        rows.append(f'"{text}",{"pos" if label else "neg"}')
    path.write_text("\n".join(rows) + "\n")
    return path


def test_a_csv_of_reviews_is_graded_like_the_synthetic_task(tmp_path):
    (tmp_path / "tasks").mkdir()
    csv = reviews_csv(tmp_path / "tasks" / "reviews.csv")
    task(tmp_path / "tasks", "imdb", "sentiment",
         f'[dataset]\nkind = "csv-classification"\npath = "../reviews.csv"\nsha256 = "{sha(csv)}"\n'
         '[dataset.columns]\ntext = "review"\nlabel = "sentiment"\n',
         '[checks."sentiment.interface"]\npoints = 1\n[checks."sentiment.learns"]\npoints = 1\n'
         '[checks."sentiment.accuracy"]\npoints = 2\n')
    specs = load_tasks(tmp_path / "tasks")
    assert specs[0].data.class_names == ["neg", "pos"] and specs[0].data.optimum == {}
    results = grade(ROOT / "submissions" / "reference", specs)
    status = {c.id: c.status for c in results.checks}
    assert status == {"sentiment.interface": "passed", "sentiment.learns": "passed", "sentiment.accuracy": "passed"}
    accuracy = next(c for c in results.checks if c.id == "sentiment.accuracy")
    # no known optimum: the target is the better of the reference model and the TF-IDF model, both named
    assert accuracy.numbers["optimum"] is None and "best achievable" not in accuracy.numbers["target"]
    assert set(accuracy.numbers["target"]) <= {"reference model", "TF-IDF logistic regression"}
    assert "reference model" in accuracy.message and "TF-IDF logistic regression" in accuracy.message


def test_a_checksum_mismatch_names_the_file_and_the_fix(tmp_path):
    csv = reviews_csv(tmp_path / "reviews.csv", n=50)
    path = task(tmp_path / "tasks", "imdb", "sentiment",
                f'[dataset]\nkind = "csv-classification"\npath = "{csv}"\nsha256 = "{"0" * 64}"\n'
                '[dataset.columns]\ntext = "review"\nlabel = "sentiment"\n',
                '[checks."sentiment.interface"]\npoints = 1\n')
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert "reviews.csv" in str(info.value) and "sha256" in str(info.value)


@pytest.mark.parametrize("kind, text, extra", [
    ("text-corpus", "the cat sat on the mat .\nthe dogs sit on the mats .\n" * 40, ""),
    ("tsv-pairs", "the cat .\tel gato .\tCC-BY attribution\nthe dogs .\tlos perros .\tCC-BY\n" * 40, ""),
])
def test_corpus_and_pair_files_load_through_a_spec(tmp_path, kind, text, extra):
    data_file = tmp_path / "data.txt"
    data_file.write_text(text)
    module = "next_word" if kind == "text-corpus" else "translation"
    path = task(tmp_path / "tasks", "real", module,
                f'[dataset]\nkind = "{kind}"\npath = "{data_file}"\nsha256 = "{sha(data_file)}"\n{extra}',
                f'[checks."{module}.interface"]\npoints = 1\n')
    data = load_spec(path).data
    assert data.train.pairs[0] == ("the cat .", "el gato .") if kind == "tsv-pairs" else len(data.vocab) > 4


def test_the_shipped_airline_csv_is_checked_against_its_sha256(tmp_path):
    folder = tmp_path / "tasks" / "forecasting"
    shutil.copytree(ROOT / "tasks" / "forecasting", folder)
    spec = load_spec(folder / "task.toml")
    assert spec.data_for("hidden").values.sum() == 40363  # all 144 months
    assert len(spec.data.values) == 120  # the public view ends before the final 24-month holdout
    csv = folder / "airline_passengers.csv"
    csv.write_text(csv.read_text().replace("112", "113", 1))
    with pytest.raises(SpecError, match="sha256"):
        load_spec(folder / "task.toml").data
