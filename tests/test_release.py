"""harness.release and harness.bundle: what the students' folder holds, and what it must not hold.

A release of the function tasks is written once (a few seconds); the tests read it as a student's
machine would, and damage copies of it to see the bundle refuse them with a message that says what to do.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness import __version__, bundle
from harness.answers import BundleAnswers
from harness.checking import CheckingError, run
from harness.cli import main
from harness.grading import grade
from harness.spec import HIDDEN_FILE, load_tasks
from test_real_data import TRAINING

ROOT = Path(__file__).resolve().parents[1]
TASKS = ["sequences", "generation"]


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    from harness.release import write_release

    folder = tmp_path_factory.mktemp("release") / "assignment"
    written, warnings = write_release(folder, load_tasks(names=TASKS))
    assert all(p.is_file() for p in written)
    assert warnings == [f".github/workflows/harness.yml: its install step asks for harness-student=={__version__} "
                        "from PyPI; point it at where the course publishes the student wheel (see the comments of "
                        "that step)"]
    return folder


def test_the_release_holds_starters_workflow_readme_and_the_public_specs(released):
    assert {p.name for p in released.iterdir()} == {"sequences.py", "generation.py", "README.md", "CONTRACT.md",
                                                    ".github", ".harness"}
    assert "NotImplementedError" in (released / "sequences.py").read_text()
    workflow = (released / ".github" / "workflows" / "harness.yml").read_text()
    assert f'"harness-student=={__version__}"' in workflow and "git+" not in workflow
    assert "harness ci ." in workflow
    for name in TASKS:
        source = ROOT / "tasks" / name
        shipped = released / ".harness" / "tasks" / name
        assert (shipped / "task.toml").read_bytes() == (source / "task.toml").read_bytes()
        assert (source / HIDDEN_FILE).is_file() and not (shipped / HIDDEN_FILE).exists()
    readme = (released / "README.md").read_text()
    later = [c for s in load_tasks(names=TASKS) for c in s.checks if c.graded_later]
    assert f"{sum(c.points for c in later):g} more points ({len(later)} checks) are graded" in " ".join(readme.split())


def test_nothing_hidden_is_released(released):
    """No hidden check, no hidden seed, no code but the written checks: the whole folder searched byte by byte."""
    specs = load_tasks(names=TASKS)
    hidden_ids = [c.id for s in specs for c in s.checks if c.graded_later]
    texts = {p: p.read_bytes() for p in released.rglob("*") if p.is_file()}
    code = {p.relative_to(released).as_posix(): p.read_text() for p in texts if p.suffix == ".py" and ".harness" in p.parts}
    assert code == {f".harness/tasks/{s.name}/checks.py": (s.path.parent / "checks.py").read_text() for s in specs
                    if (s.path.parent / "checks.py").is_file()}  # the written checks, and no other Python
    for path, data in texts.items():
        for check_id in hidden_ids:
            assert check_id.encode() not in data, (path, check_id)
        assert b"hidden_seed" not in data and b"hidden.toml" not in data or path.name == "README.md", path
    index = json.loads((released / ".harness" / "bundle.json").read_text())
    assert set(index["tasks"]) == set(TASKS)
    assert all(key.split("/")[0] in TASKS and not key.endswith(".hidden") for key in index["draws"])
    for spec in specs:  # the seed of the hidden inputs appears nowhere as a number
        assert f"seed = {spec.hidden_seed}".encode() not in b"".join(texts.values())
        assert str(spec.hidden_seed) not in json.dumps(index["tasks"])


def test_a_submission_that_memorised_the_public_values_fails_the_hidden_checks(released, tmp_path):
    """The fixture returns the public cases' expected outputs by lookup: every public check passes, from the
    bundle and live; the checks graded after submission, on cases from the hidden seed, fail."""
    sub = tmp_path / "sub"
    shutil.copytree(ROOT / "submissions" / "buggy" / "memorises_public_cases", sub)
    student = run(sub, ["sequences"], bundle=released / ".harness")
    assert [c.status for c in student.checks] == ["passed", "passed"]
    live = grade(sub, load_tasks(names=["sequences"]))
    assert {c.id: c.status for c in live.checks} == {
        "sequences.pad_sequences": "passed", "sequences.make_windows": "passed",
        "sequences.pad_sequences.hidden": "failed", "sequences.make_windows.hidden": "failed"}


def test_public_results_say_what_is_graded_later_never_all_passed(released):
    result = CliRunner().invoke(main, ["check", str(ROOT / "submissions" / "reference"), "--bundle",
                                       str(released / ".harness"), "--task", "sequences",
                                       "--json", "/dev/null", "--report", "/dev/null"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Score 5/5 (100%)" in text
    assert "public checks: 5 of 5 points; 3 more points (2 checks) are graded after submission" in text
    # the bundle says how many of them are never shown (none here), so the student side says so too
    assert "3 more points (2 checks) are graded after submission; their results are shown to students after the " \
           "due date" in text


def copy_of(released: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "copy"
    shutil.copytree(released, folder)
    return folder / ".harness"


def test_a_bundle_for_another_harness_is_refused_saying_which_to_install(released, tmp_path):
    folder = copy_of(released, tmp_path)
    index = json.loads((folder / bundle.INDEX).read_text())
    index["harness_version"] = "9.9.9"
    (folder / bundle.INDEX).write_text(json.dumps(index))
    with pytest.raises(bundle.BundleError, match=r"released for harness 9\.9\.9.*harness-student==9\.9\.9"):
        bundle.load(folder)
    index["schema_version"] = 99
    (folder / bundle.INDEX).write_text(json.dumps(index))
    with pytest.raises(bundle.BundleError, match="bundle schema 99"):
        bundle.load(folder)


def test_a_damaged_or_edited_bundle_is_refused(released, tmp_path):
    folder = copy_of(released, tmp_path)
    index = json.loads((folder / bundle.INDEX).read_text())
    digest = next(iter(index["references"]))
    index["references"][digest] = 0
    (folder / bundle.INDEX).write_text(json.dumps(index))
    with pytest.raises(bundle.BundleError, match="digest does not match"):
        bundle.load(folder)
    shutil.copy(released / ".harness" / bundle.INDEX, folder / bundle.INDEX)
    spec = folder / "tasks" / "sequences" / "task.toml"
    spec.write_text(spec.read_text().replace("points = 3", "points = 30"))
    with pytest.raises(bundle.BundleError, match="task.toml: missing or changed since the release"):
        bundle.load(folder)
    (folder / bundle.VALUES).unlink()
    with pytest.raises(bundle.BundleError, match="values.safetensors: missing"):
        bundle.load(folder)
    (folder / bundle.INDEX).write_text("{not json")
    with pytest.raises(bundle.BundleError, match="not a bundle the harness wrote"):
        bundle.load(folder)


def test_the_student_side_finds_the_bundle_or_says_where_it_should_be(released, tmp_path, monkeypatch):
    import harness.checking

    monkeypatch.setattr(harness.checking, "answer_key_installed", lambda: False)
    inside = released / "nested"
    inside.mkdir(exist_ok=True)
    shutil.copy(ROOT / "submissions" / "reference" / "sequences.py", inside / "sequences.py")
    results = run(inside, ["sequences"])  # .harness of a parent folder
    assert results.score == results.max_score == 5 and results.not_run_points == 3
    with pytest.raises(CheckingError, match=r"no assignment bundle found .*\.harness/bundle\.json.*--bundle"):
        run(tmp_path, ["sequences"])
    with pytest.raises(CheckingError, match="not on this machine.*leave out --all"):
        run(inside, ["sequences"], all_checks=True)


def test_a_missing_expected_value_is_an_error_that_names_the_bundle(released):
    """A program the bundle does not hold (here: a public check's options changed on the instructor's side
    after the release) is reported as an error of the grader's data, not as the student's mistake."""
    specs = load_tasks(names=["generation"])
    specs[0].checks[0].options["temperatures"] = [0.25]
    results = grade(ROOT / "submissions" / "reference", specs, visibility=("public",),
                    answers=BundleAnswers(bundle.load(released / ".harness")))
    first = results.checks[0]
    assert first.status == "error" and first.message.startswith("the assignment's bundle holds no expected value")


@pytest.mark.parametrize("command", [["release", "out"], ["init", "out"], ["grade", "class", "--out", "out"]])
def test_the_instructors_commands_say_so_on_a_students_machine(command, tmp_path, monkeypatch):
    import harness.checking

    monkeypatch.setattr(harness.checking, "answer_key_installed", lambda: False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 2
    assert f"harness {command[0]} runs on the instructor's side" in " ".join(result.output.split())


# --------------------------------------------------------------------------- a data file without its hidden part

CORPUS_TASK = """figures = ["lm.perplexity"]
[task]
name = "lm"
title = "A character language model"
module = "next_word"
seed = 3
[dataset]
kind = "text-corpus"
path = "corpus.txt"
layout = "windows"
{public}
[dataset.preprocessing]
tokenizer = "char"
window = 40
{training}
[checks."lm.interface"]
points = 1
[checks."lm.perplexity"]
points = 2
"""


def corpus_task(tasks: Path, public: str) -> Path:
    """A windowed character corpus whose sentences are numbered (each stretch of the text is unique), with a hidden
    perplexity check; ``public``: the [dataset].public line, or ""."""
    folder = tasks / "lm"
    folder.mkdir(parents=True)
    words = ["the cat", "a dog", "sees", "likes", "the river", "a red ball"]
    text = "".join(f"{words[i % 6]} {words[(i * 5) % 6]} {i}. " + ("\n" if i % 7 == 0 else "") for i in range(700))
    (folder / "corpus.txt").write_text(text, encoding="utf-8")
    (folder / "task.toml").write_text(CORPUS_TASK.format(public=public, training=TRAINING))
    (folder / HIDDEN_FILE).write_text('seed = 77\n[checks."lm.perplexity"]\npoints = 2\n')
    shutil.copy(ROOT / "tasks" / "next_word" / "answer_key.py", folder)
    return folder


def test_a_corpus_released_as_it_is_is_warned_of_and_the_warning_says_how(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    from harness.release import file_data_warnings

    corpus_task(tmp_path / "tasks", "")
    (spec,) = load_tasks(tmp_path / "tasks")
    (warning,) = file_data_warnings(spec)
    assert warning.startswith("task lm: its data file corpus.txt is released as it is, so the rows the hidden checks "
                              "score are on students' machines too. To keep them: add public = \"corpus_public.txt\" "
                              "to [dataset]: the release then writes that file")
    sentences = load_tasks(names=["next_word"])[0]
    sentences.dataset = {"kind": "text-corpus", "path": "c.txt"}  # a corpus of sentences is told what to change
    assert 'cut the corpus into windows (layout = "windows"' in file_data_warnings(sentences)[0]
    sentences.dataset = {"kind": "series-csv", "path": "s.csv"}
    assert 'add public = "s_public.csv" to [dataset]' in file_data_warnings(sentences)[0]
    sentences.dataset = {"kind": "tsv-pairs", "path": "spa-eng.txt"}
    assert "not possible yet for kind 'tsv-pairs'" in file_data_warnings(sentences)[0]


def test_a_corpus_with_a_public_file_releases_no_hidden_text_and_checks_from_it(tmp_path, monkeypatch):
    """The release writes the public text in place of the data file; no file of the released folder (the bundle
    included) holds a stretch of the hidden block; and a student's machine rebuilds the public view from it."""
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    from harness.release import file_data_warnings, write_release

    folder = corpus_task(tmp_path / "tasks", 'public = "corpus_public.txt"')
    (spec,) = load_tasks(tmp_path / "tasks")
    assert file_data_warnings(spec) == []
    out = tmp_path / "assignment"
    written, warnings = write_release(out, [spec])
    assert not [w for w in warnings if "lm" in w.split(":")[0]], warnings  # nothing left behind, nothing leaks
    shipped = out / ".harness" / "tasks" / "lm"
    assert sorted(p.name for p in shipped.iterdir()) == ["corpus_public.txt", "task.toml"]
    text = (folder / "corpus.txt").read_text(encoding="utf-8")
    hidden = spec.data_for("hidden").test
    lo, hi = hidden.span  # char tokens: token positions are character offsets here
    numbered = re.findall(r" \d+\. ", text[lo:hi])  # each sentence's number is in the text once
    stretches = [text[m.start() - 8:m.end()] for n in numbered for m in re.finditer(re.escape(n), text)]
    assert len(stretches) == len(numbered) > 50 and all(text.count(s) == 1 for s in stretches)
    released_bytes = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    found = [s for s in stretches if s.encode() in released_bytes]
    assert found == [], found[:3]
    assert text.startswith((shipped / "corpus_public.txt").read_text(encoding="utf-8"))
    student = run(ROOT / "submissions" / "reference", ["lm"], bundle=out / ".harness")
    assert {c.id: c.status for c in student.checks} == {"lm.interface": "passed", "lm.perplexity": "passed"}
    live = {c.id: c for c in grade(ROOT / "submissions" / "reference", [spec]).checks}
    (offline,) = [c for c in student.checks if c.id == "lm.perplexity"]
    assert offline.numbers["perplexity"] == pytest.approx(live["lm.perplexity"].numbers["perplexity"])  # one split
    hidden = live["lm.perplexity.hidden"]  # the instructor's grade scores the hidden block, from the whole file
    assert hidden.status == "passed" and hidden.numbers["perplexity"] != offline.numbers["perplexity"]


def test_a_series_csv_with_a_public_file_ships_no_month_of_the_final_holdout(tmp_path):
    """The default airline task has public = "airline_passengers_public.csv": what a release ships in place of the
    CSV holds every month but the final 24, as written; a student's folder rebuilds the same public view from it."""
    from harness.data import DataError
    from harness.release import file_data_warnings, public_data, released_task_files

    folder = tmp_path / "tasks" / "forecasting"
    shutil.copytree(ROOT / "tasks" / "forecasting", folder)
    toml = folder / "task.toml"
    (spec,) = load_tasks(tmp_path / "tasks")
    assert file_data_warnings(spec) == [] and [p.name for p in released_task_files(spec)] == ["task.toml"]
    name, text = public_data(spec)
    full = (folder / "airline_passengers.csv").read_text()
    hidden_rows = full.splitlines()[-24:]
    assert name == "airline_passengers_public.csv" and full.startswith(text) and hidden_rows[0].startswith("1959-01")
    assert [row for row in hidden_rows if row in text] == [] and text.splitlines()[-1].startswith("1958-12")
    student = tmp_path / "student" / "forecasting"
    student.mkdir(parents=True)
    shutil.copy(toml, student)
    (student / name).write_text(text)
    (mine,) = load_tasks(tmp_path / "student")
    assert mine.data.values.tolist() == spec.data.values.tolist() and len(mine.data.values) == 120
    assert mine.data.holdout.tolist() == spec.data.holdout.tolist()
    with pytest.raises(DataError, match="released folder never holds"):
        mine.data_for("hidden")
    (folder / name).write_text(text.replace("1949-01,112", "1949-01,113"))  # a public file of other figures
    with pytest.raises(DataError, match="is not the public part of airline_passengers.csv"):
        load_tasks(tmp_path / "tasks")[0].data
