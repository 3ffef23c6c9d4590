"""A task is a folder: its answer key and catalogue are found beside task.toml, checked, and refused
with the file and the entry named when they are wrong."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness import course
from harness.answers import LiveAnswers
from harness.cli import main
from harness.spec import SpecError, load_spec

ROOT = Path(__file__).resolve().parents[1]


def sequences_task(tmp_path: Path, name: str = "sequences") -> Path:
    folder = tmp_path / "tasks" / name
    shutil.copytree(ROOT / "tasks" / "sequences", folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def test_the_default_tasks_have_their_answer_keys_and_catalogues():
    answers = LiveAnswers()
    answers.load()
    assert set(answers.namespace) == {"cells", "attention", "sequences", "generation", "sentiment", "next_word",
                                      "translation", "forecasting", "sentiment_fit"}
    assert {v.name for v in answers.catalogue("sequences")} >= {"pad_post", "truncate_post"}
    assert all(v.module == "sequences" for v in answers.catalogue("sequences"))


def test_a_task_without_its_answer_key_is_refused_before_grading(tmp_path):
    folder = sequences_task(tmp_path)
    (folder / "answer_key.py").unlink()
    result = CliRunner().invoke(main, ["check", str(ROOT / "submissions" / "reference"), "--tasks-dir",
                                       str(folder.parent), "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 2, result.output
    assert "answer_key.py" in result.output and "missing" in result.output


def test_an_answer_key_that_raises_is_named(tmp_path):
    folder = sequences_task(tmp_path)
    (folder / "answer_key.py").write_text("raise RuntimeError('half written')\n")
    with pytest.raises(SpecError, match="answer_key.py.*RuntimeError: half written"):
        course.answer_key(load_spec(folder / "task.toml"))


@pytest.mark.parametrize("entry,words", [
    ('V("x", "sequences", "pad_sequences", "typo", "d", None)', "kind"),
    ('V("x", "sequences", "no_such_name", "mistake", "d", None)', "defines no 'no_such_name'"),
    ('V("pad_post", "sequences", "pad_sequences", "mistake", "d", None)', "twice"),
])
def test_a_wrong_catalogue_entry_is_refused_with_its_place(tmp_path, entry, words):
    folder = sequences_task(tmp_path)
    (folder / "catalogue.py").write_text(
        "from reference_models.variants import CATALOGUE as DEFAULT, Variant as V\n"
        f"CATALOGUE = [*DEFAULT, {entry}]\n")
    with pytest.raises(SpecError, match=r"CATALOGUE\[\d+\]") as err:
        course.catalogue(load_spec(folder / "task.toml"))
    assert words in str(err.value)


def test_two_courses_answer_keys_do_not_collide(tmp_path):
    one, two = sequences_task(tmp_path / "a"), sequences_task(tmp_path / "b")
    (two / "answer_key.py").write_text("def pad_sequences(*args, **kwargs):\n    return 'course b'\n"
                                       "def make_windows(*args):\n    return 'course b'\n")
    a, b = (course.answer_key(load_spec(f / "task.toml")) for f in (one, two))
    assert a is not b and b.pad_sequences() == "course b" and a.pad_sequences([[1]]).tolist() == [[1]]


def test_loading_a_task_leaves_no_bytecode_in_its_folder(tmp_path):
    folder = sequences_task(tmp_path)
    course.answer_key(load_spec(folder / "task.toml"))
    assert not list(folder.rglob("__pycache__"))
