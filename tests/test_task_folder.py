"""A course's own task as a folder (docs/WRITING_TASKS.md): declared checks, a written checks.py, a catalogue,
graded live, from a released bundle and with the installed command, without any change to the harness.

The worked example is docs/examples/tasks/charlm; its example submissions have known verdicts.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import bundle
from harness.answers import BundleAnswers
from harness.errors import SpecError
from harness.grading import grade
from harness.release import write_release
from harness.spec import load_tasks

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples"
ALL = ("public", "after_due_date", "hidden")

#: Each example submission: the checks that fail, and a phrase of each failure's message or hint.
EXPECTED = {
    "good": {},
    "multiplies_temperature": {
        "charlm.softmax_t.forward": "multiplied by the temperature",         # named by the catalogue
        "charlm.softmax_t.forward.hidden": "multiplied by the temperature",
        "charlm.temperature_limits": "all the probability on the arg-max",   # the written check
    },
    "uses_builtin_softmax": {"charlm.softmax_t.implementation": "uses Tensor.softmax"},
}


@pytest.fixture(scope="module")
def tasks(tmp_path_factory) -> Path:
    """The example task folder copied where the repository is not: nothing of it is the harness's."""
    folder = tmp_path_factory.mktemp("course") / "tasks"
    shutil.copytree(EXAMPLE / "tasks", folder)
    return folder


def outcome(results) -> dict[str, str]:
    """check id -> its message and hint, for the checks that did not pass."""
    return {c.id: f"{c.message} {c.hint}" for c in results.checks if c.status != "passed"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_submissions_get_their_verdicts(tasks, name):
    failed = outcome(grade(EXAMPLE / "submissions" / name, load_tasks(tasks), visibility=ALL))
    assert set(failed) == set(EXPECTED[name]), failed
    for check_id, phrase in EXPECTED[name].items():
        assert phrase in failed[check_id], (check_id, failed[check_id])


def test_declared_checks_fail_where_they_should(tasks, tmp_path):
    """Gradients cut by .detach(), a backward that disagrees with its forward, a greedy that stops one token
    early: each fails the declared kind made for it, with a message that says why."""
    good = (EXAMPLE / "submissions" / "good" / "charlm.py").read_text()
    broken = good.replace("hidden = torch.nn.functional.embedding(ids, self.embed).tanh()",
                          "hidden = torch.nn.functional.embedding(ids, self.embed.detach()).tanh()")
    broken = broken.replace("    z = logits / temperature\n", "    z = Halve.apply(logits) * 2 / temperature\n")
    broken = broken.replace("def softmax_t", '''class Halve(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x / 2

    @staticmethod
    def backward(ctx, g):
        return g  # should be g / 2


def softmax_t''')
    broken = broken.replace("    for _ in range(max_len):", "    for _ in range(max_len - 1):")
    assert broken.count("Halve") == 2 and "detach" in broken and "max_len - 1" in broken
    (tmp_path / "charlm.py").write_text(broken)
    failed = outcome(grade(tmp_path, load_tasks(tasks)))
    assert set(failed) == {"charlm.CharScorer.gradients", "charlm.softmax_t.gradcheck", "charlm.greedy_decode"}
    assert "no gradient reaches CharScorer.embed" in failed["charlm.CharScorer.gradients"]
    assert "disagrees with finite differences" in failed["charlm.softmax_t.gradcheck"]
    assert "greedy_decode(step, bos=" in failed["charlm.greedy_decode"]


def test_released_checks_run_from_the_bundle_with_the_same_verdicts(tasks, tmp_path):
    """A release copies task.toml and checks.py, never hidden.toml, the answer key or the catalogue; the
    student's side runs the released checks.py against the bundle and gets the live verdicts."""
    (tasks / "charlm" / "notes.md").write_text("the instructor's notes")
    try:
        written, warnings = write_release(tmp_path / "released", load_tasks(tasks))
    finally:
        (tasks / "charlm" / "notes.md").unlink()
    released = tmp_path / "released" / bundle.FOLDER / bundle.TASKS / "charlm"
    assert sorted(p.name for p in released.iterdir()) == ["checks.py", "task.toml"]
    assert any("notes.md is not released" in w for w in warnings)
    released_bundle = bundle.load(tmp_path / "released" / bundle.FOLDER)
    for name in EXPECTED:
        results = grade(EXAMPLE / "submissions" / name, released_bundle.specs(), visibility=("public",),
                        answers=BundleAnswers(released_bundle))
        public = {k: v for k, v in EXPECTED[name].items() if not k.endswith(".hidden")}
        assert set(outcome(results)) == set(public), (name, outcome(results))


def test_the_instructor_never_runs_checks_from_a_submission(tasks, tmp_path):
    """A submission that carries a .harness/ folder with its own checks.py: grading reads the instructor's task
    folder only, so that code never runs on the judge's side."""
    submission = tmp_path / "sneaky"
    shutil.copytree(EXAMPLE / "submissions" / "good", submission)
    planted = submission / bundle.FOLDER / bundle.TASKS / "charlm"
    shutil.copytree(tasks / "charlm", planted)
    marker = tmp_path / "ran"
    (planted / "checks.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    failed = outcome(grade(submission, load_tasks(tasks)))
    assert failed == {} and not marker.exists()


def test_two_courses_may_use_the_same_written_ids(tasks, tmp_path):
    other = tmp_path / "tasks"
    shutil.copytree(tasks, other)
    (other / "charlm" / "checks.py").write_text((tasks / "charlm" / "checks.py").read_text() + "\n# another course\n")
    first, second = load_tasks(tasks)[0], load_tasks(other)[0]
    check = "charlm.temperature_limits"
    assert first.definitions[check].func is not second.definitions[check].func


@pytest.mark.parametrize("edit, key, phrase", [
    (('kind = "gradcheck"', 'kind = "gradchek"'), "kind", "did you mean 'gradcheck'?"),
    (('target = "CharScorer"\npoints = 2', 'target = "CharScorer2"\npoints = 2'), "target", "defines no 'CharScorer2'"),
    (("cases = [{ args = [{ randn = [3, 6] }, 0.7] }]\n\n[checks.\"charlm.softmax_t.implementation\"]",
      "cases = [{ args = [{ randm = [3, 6] }, 0.7] }]\n\n[checks.\"charlm.softmax_t.implementation\"]"),
     "cases[0].args[0]", "names one of randn"),
    (("cases = [{ init = [6, 4], args = [{ randint = [3, 5], low = 0, high = 6 }] }]\n\n[checks.\"charlm.CharScorer.gradients\"]",
      "cases = [{ init = [6, 4], arg = [] }]\n\n[checks.\"charlm.CharScorer.gradients\"]"), "cases[0].arg", "unknown key"),
    (('forbidden = ["torch.softmax", "torch.nn.functional.softmax", "Tensor.softmax"]', 'forbidden = "softmax"'),
     "forbidden", "list of dotted names"),
    (('kind = "greedy"\ntarget = "greedy_decode"\n', 'kind = "greedy"\n'), "target", "missing"),
])
def test_a_wrong_declared_check_is_refused_naming_its_key(tasks, tmp_path, edit, key, phrase):
    folder = tmp_path / "tasks"
    shutil.copytree(tasks, folder)
    toml = folder / "charlm" / "task.toml"
    text = toml.read_text()
    assert edit[0] in text
    toml.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(SpecError) as caught:
        load_tasks(folder)
    assert key in str(caught.value) and phrase in str(caught.value), str(caught.value)


def test_a_written_check_may_not_take_an_engine_id(tasks, tmp_path):
    folder = tmp_path / "tasks"
    shutil.copytree(tasks, folder)
    checks = folder / "charlm" / "checks.py"
    checks.write_text(checks.read_text().replace('@register("charlm.temperature_limits"', '@register("declared.equals"'))
    with pytest.raises(SpecError, match="is an id of the harness's own checks"):
        load_tasks(folder)


def test_the_installed_command_grades_the_new_task(tasks, tmp_path):
    """`harness grade` as an instructor runs it, from a folder outside the repository: the class of three
    example submissions, the gradebook and the verdicts."""
    klass = tmp_path / "class"
    shutil.copytree(EXAMPLE / "submissions", klass)
    command = Path(sys.executable).with_name("harness")
    done = subprocess.run([str(command), "grade", str(klass), "--tasks-dir", str(tasks), "--out", str(tmp_path / "out")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    import csv

    with open(tmp_path / "out" / "gradebook.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert {name: float(row["charlm"]) for name, row in rows.items()} == {
        "good": 12.0, "multiplies_temperature": 7.0, "uses_builtin_softmax": 11.0}
    assert {row["status"] for row in rows.values()} == {"graded"}


def test_the_guides_interface_map_grades_students_own_names(tasks, tmp_path):
    """docs/WRITING_TASKS.md, section 6, as written there: the course's map in task.toml, one student's own
    in harness.toml; the declared and written checks call the contract's names and reach the student's."""
    guide = (ROOT / "docs" / "WRITING_TASKS.md").read_text()
    course_map = guide.split("# task.toml\n[interface.map]\n", 1)[1].split("\n\n# a submission's harness.toml", 1)[0]
    student_map = guide.split("# a submission's harness.toml\n", 1)[1].split("```", 1)[0]
    folder = tmp_path / "tasks"
    shutil.copytree(tasks, folder)
    toml = folder / "charlm" / "task.toml"
    toml.write_text(toml.read_text().replace("[limits]", "[interface.map]\n" + course_map + "\n\n[limits]", 1))
    good = (EXAMPLE / "submissions" / "good" / "charlm.py").read_text()
    theirs = (good.replace("def softmax_t(", "def softmax_with_temperature(")
              .replace("class CharScorer(", "class Scorer(").replace("def __init__(self, n_chars,", "def __init__(self, vocab_size,")
              .replace("(n_chars, n_hidden)", "(vocab_size, n_hidden)").replace("(n_hidden, n_chars)", "(n_hidden, vocab_size)")
              .replace("zeros(n_chars)", "zeros(vocab_size)").replace("def forward(self, ids)", "def score(self, ids)")
              .replace("def greedy_decode(", "def decode_greedy("))
    assert "n_chars" not in theirs and "CharScorer" not in theirs
    submission = tmp_path / "student"
    submission.mkdir()
    (submission / "charlm.py").write_text(theirs)
    assert outcome(grade(submission, load_tasks(folder))).keys() == {"charlm.greedy_decode"}  # not mapped yet
    (submission / "harness.toml").write_text(student_map)
    assert outcome(grade(submission, load_tasks(folder))) == {}
