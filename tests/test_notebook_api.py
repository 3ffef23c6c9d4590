"""``harness.check()`` in a notebook cell: finds the notebook, checks it through ``harness.checking.run``
and shows the report inline (``_repr_html_``) or a short summary (``repr``).

``harness.checking.run`` is replaced by a fake that returns real Results (the notebook example graded
on one task), so these tests exercise only what harness/notebook.py adds.
"""
from __future__ import annotations

import html
import json
import subprocess
import sys
import types
from dataclasses import replace
from pathlib import Path

import pytest

import harness
from harness.grading import grade
from harness.notebook import NotebookNotFound, NotebookResult
from harness.report import points
from harness.spec import load_tasks

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_EXAMPLE = ROOT / "submissions" / "notebook"


@pytest.fixture(scope="module")
def graded():
    """submissions/notebook graded on the sequences task: real Results, one worker start."""
    return grade(NOTEBOOK_EXAMPLE, load_tasks(names=["sequences"]))


@pytest.fixture
def fake_run(graded, monkeypatch):
    """``harness.checking.run`` replaced (the module is made up if it does not exist yet); returns its calls."""
    calls = []

    def run(path, tasks=(), **options):
        folder = Path(path)
        calls.append({"path": folder, "tasks": tasks, "options": options,
                      "notebooks": {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.ipynb")}})
        load_tasks(names=list(tasks) or None)  # as the real one does: an unknown task is a SpecError
        file = options.get("file")  # graded in place of each module's own file, as the real one does
        return replace(graded, tasks=[replace(t, source=file) for t in graded.tasks]) if file else graded

    try:
        import harness.checking as checking
    except ImportError:
        checking = types.ModuleType("harness.checking")
        monkeypatch.setitem(sys.modules, "harness.checking", checking)
        monkeypatch.setattr(harness, "checking", checking, raising=False)
    monkeypatch.setattr(checking, "run", run, raising=False)
    for name in ("JPY_SESSION_NAME",):
        monkeypatch.delenv(name, raising=False)
    return calls


EMPTY_NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


@pytest.fixture
def notebook(tmp_path, monkeypatch) -> Path:
    """A saved notebook in the kernel's working folder, mapped to the sequences module by harness.toml."""
    path = tmp_path / "desafio.ipynb"
    path.write_text(EMPTY_NOTEBOOK)
    (tmp_path / "harness.toml").write_text('[modules]\nsequences = "desafio.ipynb"\n')
    monkeypatch.chdir(tmp_path)
    return path


def test_check_runs_the_notebooks_folder_on_the_notebooks_tasks(fake_run, notebook):
    result = harness.check("desafio.ipynb", visibility="public")
    assert isinstance(result, NotebookResult) and result.path == notebook.resolve()
    assert fake_run == [{"path": notebook.parent.resolve(), "tasks": ("sequences",),  # from harness.toml
                         "options": {"visibility": "public", "file": "desafio.ipynb"},  # the file graded
                         "notebooks": {"desafio.ipynb": EMPTY_NOTEBOOK}}]
    harness.check(notebook, tasks="cells")  # one task by name is not a tuple of its letters
    assert fake_run[-1]["tasks"] == ("cells",)
    (notebook.parent / "generation.ipynb").write_text(EMPTY_NOTEBOOK)
    harness.check("generation.ipynb")  # named after its module
    assert fake_run[-1]["tasks"] == ("generation",)


def test_a_notebook_the_assignment_does_not_grade_is_a_clear_error(fake_run, notebook):
    (notebook.parent / "notas.ipynb").write_text(EMPTY_NOTEBOOK)
    with pytest.raises(NotebookNotFound, match=r"notas\.ipynb is not a file this assignment grades: .*harness\.toml"):
        harness.check("notas.ipynb")


def test_the_html_is_the_report_in_a_frame(fake_run, notebook, graded):
    page = harness.check("desafio.ipynb")._repr_html_()
    assert page.startswith('<div class="harness-check">') and "<iframe" in page and 'srcdoc="' in page
    for check in graded.checks:
        assert check.id in page
    assert f"{points(graded.score)} / {points(graded.max_score)} points" in page
    assert "Checked the saved file desafio.ipynb (save with Ctrl+S first)" in page
    srcdoc = html.unescape(page.split('srcdoc="', 1)[1].split('"', 1)[0])
    assert srcdoc.startswith("<!doctype html>") and '<base href="about:srcdoc">' in srcdoc  # links stay inside
    assert "Every check passed" in srcdoc and "<script" not in srcdoc.lower()


def test_the_repr_is_a_plain_text_report(fake_run, notebook, graded):
    text = repr(harness.check("desafio.ipynb"))
    assert "<" not in text and len(text.splitlines()) <= 4
    total = points(graded.max_score)
    assert f"{total} / {total} points (100 %) on {len(graded.checks)} checks" in text
    assert "every check passed" in text
    assert text.endswith("checked the saved file desafio.ipynb (save with Ctrl+S first)")
    first = graded.checks[0]
    broken = replace(graded, checks=[replace(first, status="failed", points=0.0,
                                             message="pads at the\nwrong end")] + graded.checks[1:])
    broken.tasks = [replace(t, not_run_checks=2, not_run_points=4.0) for t in graded.tasks]
    text = repr(NotebookResult(broken, notebook))
    assert f"{points(graded.max_score - first.max_points)} / {total} points" in text
    assert "4 more points (2 checks) are graded after submission" in " ".join(text.split())  # wrapped at 100
    lost = f"{points(first.max_points)} point{'' if first.max_points == 1 else 's'} lost"
    assert f"\n  {first.id} ({lost}): pads at the\n    wrong end\n" in text  # the message's own line break kept


def test_a_missing_file_is_a_clear_error(fake_run, notebook):
    with pytest.raises(NotebookNotFound, match=r"no file 'desafio_1\.ipynb' in .*harness\.check\(\"desafio\.ipynb\"\)"):
        harness.check("desafio_1.ipynb")
    assert fake_run == []


def test_without_a_path_it_asks_for_the_file_name(fake_run, notebook):
    with pytest.raises(FileNotFoundError, match=r"cannot tell which notebook.*harness\.check\(\"desafio\.ipynb\"\)"):
        harness.check()
    assert fake_run == []


def test_without_a_path_it_finds_the_notebook_jupyter_or_vs_code_names(fake_run, notebook, monkeypatch):
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))  # jupyter_server >= 2: the full path
    assert harness.check().path == notebook.resolve()
    monkeypatch.setenv("JPY_SESSION_NAME", "course/desafio.ipynb")  # older: relative to the server's root
    assert harness.check().path == notebook.resolve()
    monkeypatch.setenv("JPY_SESSION_NAME", "Console-1")  # a console, not a notebook
    monkeypatch.setattr(sys.modules["__main__"], "__vsc_ipynb_file__", str(notebook), raising=False)
    assert harness.check().path == notebook.resolve()
    assert [c["path"] for c in fake_run] == [notebook.parent.resolve()] * 3


def test_in_colab_the_notebook_is_fetched_from_the_editor(fake_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    content = {"cells": [{"cell_type": "code", "source": "x = 1", "metadata": {}, "outputs": [],
                          "execution_count": None}],
               "metadata": {"colab": {"name": "sequences.ipynb"}}, "nbformat": 4, "nbformat_minor": 0}
    message = types.ModuleType("google.colab._message")
    message.blocking_request = lambda kind, timeout_sec: {"ipynb": content} if kind == "get_ipynb" else None
    colab = types.ModuleType("google.colab")
    colab._message = message
    for name, module in (("google", types.ModuleType("google")), ("google.colab", colab),
                         ("google.colab._message", message)):
        monkeypatch.setitem(sys.modules, name, module)
    result = harness.check()
    (name, text), = fake_run[0]["notebooks"].items()
    assert name == "sequences.ipynb" and json.loads(text) == content and fake_run[0]["tasks"] == ("sequences",)
    assert result.origin == "colab" and repr(result).endswith("checked sequences.ipynb as Colab's editor holds it")


def test_import_harness_stays_light():
    code = ("import sys, harness; assert callable(harness.check); "
            "print(sorted(m for m in ('torch', 'jinja2', 'harness.report', 'harness.checking') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
