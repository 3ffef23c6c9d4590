"""What a released folder tells students: CONTRACT.md (harness.release.contract), the README, the hints that
point to it, and the student side's --help.

CONTRACT.md is written for every shipped task at once (the bundle's values are not what is tested here, so the
release records none); it must hold each task's names, signatures and conventions, and nothing of the answer
key's text nor of hidden.toml.
"""
from __future__ import annotations

import ast
import inspect
import re
import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness import course
from harness.bundle import Contents
from harness.checks import ContractBroken
from harness.checks.trained import family_of
from harness.cli import main
from harness.errors import SpecError
from harness.spec import SHARED_CONVENTIONS, load_spec, load_tasks
from harness.starter import format_signature

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def specs():
    return load_tasks()


@pytest.fixture(scope="module")
def released(specs, tmp_path_factory) -> Path:
    from harness.release import write_release

    folder = tmp_path_factory.mktemp("release") / "assignment"
    write_release(folder, specs, record=lambda _: Contents())
    return folder


@pytest.fixture(scope="module")
def contract(released) -> str:
    return (released / "CONTRACT.md").read_text(encoding="utf-8")


def section(contract: str, task: str) -> str:
    """The text of ``## task`` up to the next task's heading."""
    start = contract.index(f"\n## {task}\n")
    end = contract.find("\n## ", start + 1)
    return contract[start:end if end > 0 else None]


def signature_text(spec, name: str) -> str:
    """What the contract must show of a name's signature: the harness's call for a trained task's build_model,
    else the answer key's own (a class: its constructor's and its forward's)."""
    if spec.dataset is not None and name == "build_model":
        return f"def {family_of(spec).signature} -> nn.Module"
    obj = getattr(course.answer_key(spec), name)
    if isinstance(obj, type):
        return (f"    def __init__{format_signature(inspect.signature(obj.__init__))}\n"
                f"    def forward{format_signature(inspect.signature(obj.forward))}")
    return f"def {name}{format_signature(inspect.signature(obj))}"


# --------------------------------------------------------------------------- what CONTRACT.md holds


def test_every_task_has_a_section_with_every_name_its_signature_and_its_conventions(specs, contract):
    assert {s.name for s in specs} == {"cells", "sequences", "attention", "generation", "sentiment", "next_word",
                                       "translation", "forecasting", "sentiment_fit"}
    for spec in specs:
        text = section(contract, spec.name)
        assert f"`{spec.module}.py`" in text and f"`{spec.module}.ipynb`" in text
        for name in spec.names:
            assert f"### `{name}`" in text, (spec.name, name)
            assert signature_text(spec, name) in text, (spec.name, name)
        for name, words in spec.conventions.items():
            assert words in text, (spec.name, name)
        for check in spec.checks:
            if not check.graded_later:
                assert f"| `{check.id}` | {check.points:g} |" in text


def test_every_shipped_name_has_its_conventions_in_words(specs):
    """A name without words would leave students to guess what the checks assume of it."""
    for spec in specs:
        missing = [n for n in spec.names if n not in spec.conventions]
        assert not missing, f"tasks/{spec.name}/task.toml: [interface.conventions] says nothing of {missing}"


def test_the_conventions_the_issue_found_missing_are_stated(contract):
    """What step returns, bos in the prefix, the concat order, pre-padding, the cells' state default."""
    generation, cells = section(contract, "generation"), section(contract, "cells")
    assert "log-probabilities of the next token" in generation and "not logits nor probabilities" in generation
    assert "starts with bos" in generation and "without bos" in generation
    assert "the forward direction's H features first" in cells
    assert "state=None must behave exactly like a zero initial state" in cells
    assert 'padding="pre"' in section(contract, "sequences")
    assert "padded with 0 at the front" in section(contract, "sentiment")
    assert "lr = 0.005, epochs = 6, batch_size = 64" in section(contract, "sentiment")
    assert "(B, horizon) forecasts" in section(contract, "forecasting")
    assert "not scored" in section(contract, "translation")


def _own_texts(obj) -> list:
    """The answer key's objects behind a name: the object, and for a class its constructor and methods."""
    if isinstance(obj, type):
        return [obj] + [v for v in vars(obj).values() if inspect.isfunction(v)]
    return [obj]


def _body_lines(func) -> list[str]:
    """The lines of a function's or class's body (its docstring left out), stripped."""
    try:
        source = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError):
        return []
    node = ast.parse(source).body[0]
    body = node.body[1:] if node.body and isinstance(node.body[0], ast.Expr) else node.body
    return [line.strip() for stmt in body for line in (ast.get_source_segment(source, stmt) or "").splitlines()]


def test_nothing_of_the_answer_keys_docstrings_or_code_is_in_the_contract(specs, contract):
    checked = 0
    for spec in specs:
        key = course.answer_key(spec)
        for name in spec.names:
            for obj in _own_texts(getattr(key, name)):
                own = obj.__dict__.get("__doc__") if isinstance(obj, type) else obj.__doc__
                for line in inspect.cleandoc(own or "").splitlines():
                    if len(line.strip()) >= 25:
                        assert line.strip() not in contract, (spec.name, name, line)
                        checked += 1
                for line in _body_lines(obj):
                    if len(line) >= 20 and not line.startswith(("def ", "class ", "super().__init__")):
                        assert line not in contract, (spec.name, name, line)
                        checked += 1
    assert checked > 100  # the answer keys have docstrings and bodies: the test looked at them


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_nothing_of_hidden_toml_is_in_the_contract(specs, contract):
    """Graded-later checks are counted, never named; their seeds and options appear nowhere."""
    assert "hidden.toml" not in contract and ".hidden" not in contract
    for spec in specs:
        hidden_file = spec.path.parent / "hidden.toml"
        public_text = spec.path.read_text(encoding="utf-8")
        hidden = tomllib.loads(hidden_file.read_text(encoding="utf-8"))
        assert not re.search(rf"\bseed\b\D{{0,4}}{spec.hidden_seed}\b", contract)
        if spec.hidden_seed >= 100:
            assert not re.search(rf"\b{spec.hidden_seed}\b", contract), spec.name
        for text in _strings(hidden.get("checks", {})):
            if len(text) >= 12 and text not in public_text:
                assert text not in contract, (spec.name, text)
        later = [c for c in spec.checks if c.graded_later]
        assert later and f"{len(later)} more check" in section(contract, spec.name)
        for check in later:
            public = {c.definition: c for c in spec.checks if not c.graded_later}.get(check.definition)
            for option, value in check.options.items():
                if public is None or public.options.get(option) != value:
                    assert f"{option} = {value}" not in contract and f"{option}={value}" not in contract


def test_the_readme_says_how_to_check_from_a_terminal_and_a_notebook(released, specs):
    readme = (released / "README.md").read_text(encoding="utf-8")
    assert "harness check ." in readme
    assert f'harness.check("{specs[0].module}.ipynb")' in readme and "import harness" in readme
    assert "saved" in readme and "[modules]" in readme and f"harness check {specs[0].module}.ipynb" in readme
    assert "CONTRACT.md" in readme and "graded after you submit" in readme


# --------------------------------------------------------------------------- hints


def test_the_hints_for_a_broken_contract_name_the_document(tmp_path):
    assert "CONTRACT.md" in ContractBroken.hint
    from harness.grading import grade

    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "sequences.py").write_text("def make_windows(ids, window):\n    raise NotImplementedError\n")
    results = grade(sub, load_tasks(names=["sequences"]))
    missing = next(c for c in results.checks if c.id == "sequences.pad_sequences")
    assert missing.status == "failed" and "does not define pad_sequences" in missing.message
    assert "CONTRACT.md, section sequences" in missing.hint


# --------------------------------------------------------------------------- the spec key


def _task_copy(tmp_path: Path, conventions: str) -> Path:
    folder = tmp_path / "sequences"
    shutil.copytree(ROOT / "tasks" / "sequences", folder, ignore=shutil.ignore_patterns("__pycache__", "hidden.toml"))
    text = (folder / "task.toml").read_text(encoding="utf-8")
    start = text.index("[interface.conventions]")
    end = text.index("\n[", start + 1)
    (folder / "task.toml").write_text(text[:start] + conventions + text[end:], encoding="utf-8")
    return folder / "task.toml"


@pytest.mark.parametrize("conventions, key, problem", [
    ('[interface.conventions]\npad_sequence = "pads"\n', "[interface.conventions].pad_sequence",
     "is not a name of [interface].names"),
    ('[interface.conventions]\nshared = 3\n', "[interface.conventions].shared", "must be a non-empty string"),
    ('[interface.conventions]\nmake_windows = "  "\n', "[interface.conventions].make_windows",
     "must be a non-empty string"),
])
def test_a_wrong_conventions_table_is_refused_naming_the_key(tmp_path, conventions, key, problem):
    with pytest.raises(SpecError) as raised:
        load_spec(_task_copy(tmp_path, conventions))
    assert raised.value.key == key and problem in raised.value.problem
    if "pad_sequence" in key:
        assert "did you mean 'pad_sequences'?" in str(raised.value)


def test_conventions_keep_paragraphs_and_accept_shared(tmp_path):
    spec = load_spec(_task_copy(tmp_path, '[interface.conventions]\nshared = """One.\nStill one.\n\nTwo."""\n'
                                          'make_windows = "Windows."\n'))
    assert spec.conventions == {SHARED_CONVENTIONS: "One. Still one.\n\nTwo.", "make_windows": "Windows."}


def test_a_course_with_its_own_names_sees_them_in_the_contract(tmp_path):
    """[interface.map]: the section shows the course's names (and parameter names) and the ones the checks call."""
    from harness.release.contract import task_section

    folder = tmp_path / "attention"
    shutil.copytree(ROOT / "tasks" / "attention", folder, ignore=shutil.ignore_patterns("__pycache__", "hidden.toml"))
    text = (folder / "task.toml").read_text(encoding="utf-8")
    mapped = ('[interface.map]\ndot_attention = "attend"\n[interface.map.scaled_dot_product_attention]\n'
              'name = "sdpa"\nargs = { q = "query" }\n\n')
    at = text.index("[interface.conventions]")
    (folder / "task.toml").write_text(text[:at] + mapped + text[at:], encoding="utf-8")
    shown = task_section(load_spec(folder / "task.toml"))
    assert "### `attend` (the checks call it `dot_attention`)" in shown and "def attend(query: Tensor" in shown
    assert "def sdpa(query: Tensor, k: Tensor, v: Tensor, mask" in shown
    assert "`scaled_dot_product_attention` is `sdpa`, its parameter `q` is `query`" in shown


# --------------------------------------------------------------------------- --help on each side


@pytest.mark.parametrize("command", ["check", "ci"])
def test_the_student_sides_help_leaves_out_the_instructors_options(command, monkeypatch):
    import harness.checking

    monkeypatch.setattr(harness.checking, "answer_key_installed", lambda: False)
    student = CliRunner().invoke(main, [command, "--help"]).output
    assert "--tasks-dir" not in student and "--all" not in student and "--bundle" in student
    assert "ships with the harness" not in student
    monkeypatch.setattr(harness.checking, "answer_key_installed", lambda: True)
    instructor = CliRunner().invoke(main, [command, "--help"]).output
    assert "--tasks-dir" in instructor and "--all" in instructor
    assert "ships with the harness" not in instructor and "instructor" in instructor


def test_the_student_wheels_own_help_describes_the_student_side(student_venv, tmp_path):
    """The installed student package, in a venv without the answer key: its --help has no option it cannot use."""
    import subprocess

    from student_env import student_subprocess_env

    for command in ("check", "ci"):
        done = subprocess.run([str(student_venv.parent / "harness"), command, "--help"], capture_output=True,
                              text=True, env=student_subprocess_env(), cwd=tmp_path, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "--bundle" in done.stdout and "--tasks-dir" not in done.stdout and "--all" not in done.stdout
        assert "ships with the harness" not in done.stdout
