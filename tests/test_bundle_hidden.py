"""Hidden stays hidden: a released bundle is a function of the released files and the public checks' values only.

Two courses that reuse one task and differ only in hidden.toml's seed, or only in the answer key's source (not
in its values), release the same bytes: nothing in a bundle can be hashed against guesses of a seed.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness import bundle
from harness.release import write_release
from harness.spec import HIDDEN_FILE, load_tasks

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "tasks"


def released_bytes(tasks: Path, out: Path) -> dict[str, bytes]:
    """Every file of the release's .harness/ folder, by its path."""
    write_release(out, load_tasks(tasks))
    folder = out / bundle.FOLDER
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("course") / "tasks"
    shutil.copytree(EXAMPLE, folder)
    return folder


@pytest.fixture(scope="module")
def released(course, tmp_path_factory) -> dict[str, bytes]:
    return released_bytes(course, tmp_path_factory.mktemp("release") / "a")


def variant(course: Path, tmp_path: Path, edit) -> Path:
    other = tmp_path / "tasks"
    shutil.copytree(course, other)
    edit(other / "charlm")
    return other


def test_a_course_that_changes_only_the_hidden_seed_releases_the_same_bytes(course, released, tmp_path):
    def reseed(folder: Path):
        hidden = folder / HIDDEN_FILE
        hidden.write_text(hidden.read_text().replace("seed = 90210", "seed = 90211"))

    other = variant(course, tmp_path, reseed)
    assert load_tasks(other)[0].digest != load_tasks(course)[0].digest  # the instructor's digest sees the change
    assert released_bytes(other, tmp_path / "b") == released


def test_a_course_that_changes_only_the_answer_keys_source_releases_the_same_bytes(course, released, tmp_path):
    def comment(folder: Path):
        key = folder / "answer_key.py"
        key.write_text(key.read_text() + "\n# the instructor's own note, not a value\n")

    other = variant(course, tmp_path, comment)
    assert load_tasks(other)[0].digest != load_tasks(course)[0].digest
    assert released_bytes(other, tmp_path / "b") == released


def test_a_changed_released_file_changes_only_what_depends_on_it(course, released, tmp_path):
    def describe(folder: Path):
        toml = folder / "task.toml"
        toml.write_text(toml.read_text().replace('title = "A character language model, part 1"',
                                                 'title = "A character language model, part one"'))

    changed = released_bytes(variant(course, tmp_path, describe), tmp_path / "b")
    assert changed["values.safetensors"] == released["values.safetensors"]
    assert changed["tasks/charlm/task.toml"] != released["tasks/charlm/task.toml"]
    assert changed["bundle.json"] != released["bundle.json"]  # the file's digest and the task's digest


def test_bundle_json_holds_no_value_computed_from_hidden_toml_or_the_answer_keys_source(course, released):
    spec = load_tasks(course)[0]
    text = released["bundle.json"].decode()
    index = json.loads(text)
    assert spec.digest not in text and str(spec.hidden_seed) not in text
    assert index["tasks"]["charlm"]["digest"] == spec.public_digest != spec.digest
    assert set(index["tasks"]["charlm"]) == {"digest", "withheld"}  # withheld: counts the student is told


def test_the_released_digest_is_the_student_sides_own(course, released, tmp_path):
    """On the student's machine the released task.toml and checks.py make the spec's digest: the bundle's
    matches it, and a released file edited afterwards is refused."""
    out = tmp_path / "a"
    write_release(out, load_tasks(course))
    loaded = bundle.load(out / bundle.FOLDER)
    assert [s.digest for s in loaded.specs()] == [load_tasks(course)[0].public_digest]


def test_graded_results_and_their_exports_hold_no_value_computed_from_hidden_toml(course, tmp_path):
    """What an instructor hands back (results.json, the report, JUnit, Gradescope's file) carries the public digest:
    the full one, which covers hidden.toml, stays in the instructor's gradebook, where a resumed run checks it."""
    from harness.gradescope import write_gradescope
    from harness.grading import grade
    from harness.junit import write_junit
    from harness.report import render_report

    spec = load_tasks(course)[0]
    results = grade(EXAMPLE.parent / "submissions" / "good", [spec])
    write_junit(results, tmp_path / "junit.xml")
    write_gradescope(results, tmp_path / "gradescope.json")
    handed_back = [results.to_json(), render_report(results), (tmp_path / "junit.xml").read_text(),
                   (tmp_path / "gradescope.json").read_text()]
    assert results.tasks[0].spec_digest == spec.public_digest
    assert not any(spec.digest in text for text in handed_back)
