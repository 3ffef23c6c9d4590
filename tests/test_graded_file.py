"""The file the student wrote is the file graded (harness/submission.py's rule), and every place a student reads
says which file was graded and which was left out.

A released folder (``write_release``, as ``harness release`` writes it) holds the starter ``generation.py``, whose
bodies only raise; a student who works in a notebook puts ``generation.ipynb`` beside it. Checked from the
notebook, from the terminal or in CI, the notebook is what is graded, and the starter is named as ignored.
"""
from __future__ import annotations

import html
import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import harness
from harness.cli import main
from harness.release import write_release
from harness.results import NAME_LIMIT, TEXT_LIMIT, Results
from harness.spec import load_tasks
from harness.submission import is_unchanged_starter, locate

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "submissions"
NOTEBOOK = SUBMISSIONS / "notebook" / "generation.ipynb"  # a correct notebook: every public check passes
STARTER_IGNORED = "generation.py (an unchanged starter: its contract names only raise)"
ASKED_IGNORED = "generation.py (you asked for generation.ipynb)"
#: A generation.py with code of its own and one mistake: graded, it loses the perplexity check.
EDITED_PY = (SUBMISSIONS / "reference" / "generation.py").read_text() + (
    "\n\ndef perplexity(log_probs, targets, pad_id=0):\n    return 1.0\n")


@pytest.fixture(scope="module")
def spec():
    return load_tasks(names=["generation"])[0]


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    """The folder a course releases for the generation task (starter, README, bundle)."""
    folder = tmp_path_factory.mktemp("released")
    write_release(folder, load_tasks(names=["generation"]))
    return folder


@pytest.fixture
def assignment(released, tmp_path, monkeypatch) -> Path:
    """The released folder as a student has it: the starter generation.py untouched, their notebook beside it;
    the working folder (where ``harness check`` writes reports/) is outside it."""
    folder = tmp_path / "assignment"
    shutil.copytree(released, folder)
    shutil.copy(NOTEBOOK, folder / "generation.ipynb")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("HARNESS_ISOLATION", raising=False)
    return folder


def run_cli(*args: str):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result, result.output


def the_report(results: Results) -> str:
    from harness.report import render_report

    return render_report(results)


def test_the_release_really_leaves_an_unchanged_starter_beside_the_notebook(assignment, spec):
    starter = (assignment / "generation.py").read_text()
    assert "NotImplementedError" in starter and is_unchanged_starter(starter, set(spec.names))
    module = locate(assignment, ["generation"], contract={"generation": set(spec.names)}).modules["generation"]
    assert module.path.name == "generation.ipynb" and module.problem is None
    assert module.ignored == [STARTER_IGNORED]


def test_harness_check_in_a_notebook_grades_that_notebook_and_says_so(assignment):
    result = harness.check(str(assignment / "generation.ipynb"), bundle=assignment / ".harness")
    task, = result.results.tasks
    assert task.source == "generation.ipynb" and task.ignored == [ASKED_IGNORED]
    assert task.score == task.max_score > 0  # the notebook's code, not the stub's NotImplementedError
    assert not any("NotImplementedError" in c.message for c in result.results.checks)
    summary = " ".join(result.summary().split())  # wrapped to the plain text's width
    assert summary.endswith(f"checked the saved file generation.ipynb (save with Ctrl+S first); ignored "
                            f"{ASKED_IGNORED}")
    page = result._repr_html_()
    head = page.split("<iframe", 1)[0]
    assert "Checked the saved file generation.ipynb" in head and html.escape(f"ignored {ASKED_IGNORED}") in head
    report = html.unescape(page.split('srcdoc="', 1)[1].split('"', 1)[0])
    assert "graded file: generation.ipynb" in report and f"ignored: {ASKED_IGNORED}" in html.unescape(report)


def test_harness_check_of_the_folder_grades_the_written_notebook_over_the_starter(assignment, tmp_path):
    out = tmp_path / "out"
    result, text = run_cli("check", str(assignment), "--bundle", str(assignment / ".harness"),
                           "--json", str(out / "r.json"), "--report", str(out / "r.html"))
    assert result.exit_code == 0, text
    assert f"generation: graded generation.ipynb; ignored {STARTER_IGNORED}" in text
    document = json.loads((out / "r.json").read_text())
    task, = document["tasks"]
    assert task["source"] == "generation.ipynb" and task["ignored"] == [STARTER_IGNORED]
    assert task["score"] == task["max_score"] > 0
    report = html.unescape((out / "r.html").read_text())
    assert "graded file: generation.ipynb" in report and f"ignored: {STARTER_IGNORED}" in report
    from harness.ci import markdown_summary  # the CI job's summary says it too

    summary = markdown_summary(Results.from_json((out / "r.json").read_text()))
    assert f"*generation: graded generation.ipynb; ignored {STARTER_IGNORED}*" in summary


def test_both_edited_the_py_is_graded_and_the_notebook_named_with_how_to_choose(assignment, tmp_path):
    (assignment / "generation.py").write_text(EDITED_PY)
    out = tmp_path / "out"
    result, text = run_cli("check", str(assignment), "--bundle", str(assignment / ".harness"),
                           "--json", str(out / "r.json"))
    assert result.exit_code == 0, text
    task, = Results.from_json((out / "r.json").read_text()).tasks
    assert task.source == "generation.py" and task.score < task.max_score  # the .py's own mistake
    warning, = task.ignored
    assert warning.startswith("generation.ipynb (generation.py and generation.ipynb both hold code of their own")
    assert '[modules] generation = "generation.ipynb"' in warning and 'harness.check("generation.ipynb")' in warning
    assert f"generation: graded generation.py; ignored {warning}" in text
    # asked for by its path, in CI too, the notebook is graded, whatever the .py holds
    result, text = run_cli("ci", str(assignment / "generation.ipynb"), "--bundle", str(assignment / ".harness"),
                           "--json", str(out / "ci.json"))
    assert result.exit_code == 0, text  # every check passes: the notebook is correct
    task, = Results.from_json((out / "ci.json").read_text()).tasks
    assert task.source == "generation.ipynb" and task.ignored == [ASKED_IGNORED] and task.score == task.max_score
    assert f"generation: graded generation.ipynb; ignored {ASKED_IGNORED}" in text


def test_harness_toml_still_wins_over_the_starter_rule(assignment, spec):
    contract = {"generation": set(spec.names)}
    (assignment / "harness.toml").write_text('[modules]\ngeneration = "generation.py"\n')
    module = locate(assignment, ["generation"], contract=contract).modules["generation"]
    assert module.path.name == "generation.py"  # the unchanged starter: the student said so
    assert module.ignored == ["generation.ipynb (harness.toml [modules] names generation.py)"]
    # the file asked for wins over the mapping, and the mapping is named beside it
    module = locate(assignment, ["generation"], chosen={"generation": "generation.ipynb"},
                    contract=contract).modules["generation"]
    assert module.path.name == "generation.ipynb"
    assert module.ignored == ["generation.py (you asked for generation.ipynb (harness.toml [modules] names "
                              "generation.py))"]


def test_a_notebook_that_is_a_link_or_too_large_is_still_refused(assignment, spec):
    contract = {"generation": set(spec.names)}
    (assignment / "generation.ipynb").rename(assignment / "mine.ipynb")
    os.symlink("mine.ipynb", assignment / "generation.ipynb")
    module = locate(assignment, ["generation"], contract=contract).modules["generation"]
    assert module.path.name == "generation.py" and module.problem is None  # never the link's target
    assert module.ignored == ["generation.ipynb (cannot be used: generation.ipynb is a symbolic link; "
                              "submit the file itself)"]
    # asked for by name, the link is refused, not followed to mine.ipynb
    result = harness.check(str(assignment / "generation.ipynb"), bundle=assignment / ".harness")
    task, = result.results.tasks
    assert task.source == "generation.ipynb (could not be read)" and task.score == 0
    assert result.results.checks and all("symbolic link" in c.message for c in result.results.checks)
    assert result.checked.startswith("could not read generation.ipynb: the report says why")  # not "checked the saved file"
    assert "could not read generation.ipynb" in result.summary()
    # too large: refused by the same reader, and the starter is what is left
    os.remove(assignment / "generation.ipynb")
    shutil.copy(NOTEBOOK, assignment / "generation.ipynb")
    small = (assignment / "generation.py").stat().st_size + 10
    module = locate(assignment, ["generation"], small, contract=contract).modules["generation"]
    assert module.path.name == "generation.py"
    why, = module.ignored
    assert why.startswith("generation.ipynb (cannot be used: generation.ipynb is ") and "over the" in why


def test_a_starter_notebook_beside_the_students_py_is_the_one_ignored(tmp_path, spec):
    from harness.starter import write_starter

    write_starter(tmp_path, [spec], notebook=True, workflow=False)  # harness init --notebook
    assert (tmp_path / "generation.ipynb").exists() and not (tmp_path / "generation.py").exists()
    (tmp_path / "generation.py").write_text(EDITED_PY)
    module = locate(tmp_path, ["generation"], contract={"generation": set(spec.names)}).modules["generation"]
    assert module.path.name == "generation.py"
    assert module.ignored == ["generation.ipynb (an unchanged starter: its contract names only raise)"]


def test_what_counts_as_an_unchanged_starter(spec):
    names = set(spec.names)
    starter = (SUBMISSIONS / "starter" / "generation.py").read_text()
    assert is_unchanged_starter(starter, names)
    assert not is_unchanged_starter((SUBMISSIONS / "reference" / "generation.py").read_text(), names)
    assert not is_unchanged_starter(EDITED_PY, names)
    # one name written is enough: the student is at work in this file
    assert not is_unchanged_starter(starter + "\n\ndef perplexity(lp, t, pad_id=0):\n    return 1.0\n", names)
    assert not is_unchanged_starter(starter + "\nperplexity = len\n", names)  # an assignment is code of their own
    # a later definition (a notebook cell run again) counts, whichever way
    assert is_unchanged_starter("def perplexity(a):\n    return 1\n\ndef perplexity(a):\n    '''doc'''\n    pass\n",
                                names)
    # an instructor's own starter: ... or pass bodies, any exception
    assert is_unchanged_starter("def greedy_search(*a):\n    ...\n\ndef beam_search(*a):\n    raise ValueError\n",
                                names)
    assert not is_unchanged_starter("import torch\n", names)  # none of the contract: nothing says it is a starter
    assert not is_unchanged_starter("def perplexity(a:\n", names)  # being edited: does not parse
    cells = load_tasks(names=["cells"])[0]
    assert is_unchanged_starter((SUBMISSIONS / "starter" / "cells.py").read_text(), set(cells.names))  # classes
    assert not is_unchanged_starter((SUBMISSIONS / "reference" / "cells.py").read_text(), set(cells.names))


def test_a_file_that_holds_no_module_is_a_clear_error(assignment):
    (assignment / "notes.ipynb").write_text(NOTEBOOK.read_text())
    result, text = run_cli("check", str(assignment / "notes.ipynb"), "--bundle", str(assignment / ".harness"))
    assert result.exit_code == 2
    assert "notes.ipynb is not a file this assignment grades" in text and "[modules] generation" in text
    result, text = run_cli("check", str(assignment / "generation.ipynb"), "--bundle", str(assignment / ".harness"),
                           "--task", "nope")
    assert result.exit_code == 2 and "nope" in text


def test_a_file_asked_for_with_the_tasks_named_holds_their_modules_unless_named_after_another(tmp_path):
    from harness.checking import CheckingError, NotGradedFile, _asked

    cells, generation = load_tasks(names=["cells", "generation"])
    every = lambda: [cells, generation]  # noqa: E731
    specs, chosen = _asked(tmp_path, "notas.ipynb", [generation], True, every)  # the student said which task
    assert specs == [generation] and chosen == {"generation": "notas.ipynb"}
    with pytest.raises(NotGradedFile, match=r"generation\.ipynb is the generation module, not cells: "
                                            r".*--task generation"):
        _asked(tmp_path, "generation.ipynb", [cells], True, every)
    specs, chosen = _asked(tmp_path, "generation.ipynb", [cells, generation], False, every)  # only its own task
    assert specs == [generation] and chosen == {"generation": "generation.ipynb"}
    with pytest.raises(NotGradedFile, match=r"notas\.ipynb is not a file this assignment grades \(its modules: "
                                            r"cells, generation\): name it after its module \(e\.g\. cells\.ipynb\)"):
        _asked(tmp_path, "notas.ipynb", [cells, generation], False, every)
    with pytest.raises(CheckingError, match="not a path"):  # only a name in the folder: never one outside it
        _asked(tmp_path, "../generation.ipynb", [generation], False, every)


def test_results_record_the_ignored_files_within_limits_and_old_documents_still_load():
    document = {"schema_version": 3, "harness_version": "0", "submission": "s", "created": "now", "checks": [],
                "tasks": [{"name": "t", "title": "T", "module": "m", "source": "m.py", "score": 0.0,
                           "max_score": 0.0, "spec_version": "1", "spec_digest": "d"}]}
    assert Results.from_dict(json.loads(json.dumps(document))).tasks[0].ignored == []  # written before the field
    document["tasks"][0]["ignored"] = ["m.ipynb (" + "x" * (2 * TEXT_LIMIT) + ")"] * 3
    task = Results.from_dict(document).tasks[0]
    assert len(task.ignored) == 3 and all(len(i) <= TEXT_LIMIT // 4 for i in task.ignored)
    assert NAME_LIMIT < TEXT_LIMIT // 4  # a file name and its reason fit
    document["tasks"][0]["ignored"] = "m.ipynb"
    with pytest.raises(ValueError, match="ignored"):
        Results.from_dict(document)
