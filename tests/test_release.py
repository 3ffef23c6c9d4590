"""harness.release and harness.bundle: what the students' folder holds, and what it must not hold.

A release of the function tasks is written once (a few seconds); the tests read it as a student's
machine would, and damage copies of it to see the bundle refuse them with a message that says what to do.
"""
from __future__ import annotations

import json
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
