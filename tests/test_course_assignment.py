"""The course's own assignment as it is taught (docs/examples/course; issue 19, the acceptance case): a character
language model's decoding functions in the course's names and signatures — select_candidates, beam_search(model,
num_beams, num_words, input_text, max_length, temp, mode), generate_seq, sample_seq, compute_perplexity — numpy
over a model, char2idx and idx2char as notebook globals.

Each example submission is graded once per mode, live (every visibility) and from a release (public checks), and
its verdicts asserted: statuses, points, and the hints that matter. The stochastic beam is graded under the task's
textbook convention and under the template's (the task folder with its one line changed, as the guide says).
"""
from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import nbformat
import pytest

from harness import bundle, course
from harness.answers import BundleAnswers
from harness.grading import grade
from harness.release import write_release
from harness.spec import load_tasks

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "docs" / "examples" / "course"
SUBMISSIONS = COURSE / "submissions"
ALL = ("public", "after_due_date", "hidden")
STO = "charlm_course.beam_search.sto"
TEXTBOOK_LINE = 'convention = "textbook"'

#: Every check of the task and its points; the hidden ones end in ".hidden".
POINTS = {"charlm_course.select_candidates.det": 2, "charlm_course.generate_seq": 2, "charlm_course.beam_search": 3,
          STO: 3, "charlm_course.sample_seq": 2, "charlm_course.compute_perplexity": 2,
          "charlm_course.select_candidates.det.hidden": 1, "charlm_course.beam_search.hidden": 2,
          "charlm_course.compute_perplexity.hidden": 1}

#: (submission, convention) -> the checks that fail, each with a phrase of its hint; the others pass in full.
EXPECTED = {
    ("notebook", "textbook"): {},                 # (a) the template's way, with the textbook's draw
    ("template_sto", "textbook"): {STO: "template convention: candidates drawn with replacement"},  # (b)
    ("template_sto", "template"): {},             # (c) the same notebook, under a spec asking for its convention
    ("notebook", "template"): {STO: "textbook convention: candidates drawn without replacement"},  # and back
    ("torch_mapped", "textbook"): {},             # (d) torch, its own file and names mapped in harness.toml
}


@pytest.fixture(scope="module")
def tasks(tmp_path_factory) -> dict[str, Path]:
    """The example's tasks folder, copied out of the repository, as written (textbook) and with the stochastic beam's
    convention changed to the template's."""
    root = tmp_path_factory.mktemp("course")
    folders = {}
    for convention in ("textbook", "template"):
        folders[convention] = root / convention / "tasks"
        shutil.copytree(COURSE / "tasks", folders[convention])
    toml = folders["template"] / "charlm_course" / "task.toml"
    assert toml.read_text().count(TEXTBOOK_LINE) == 1
    toml.write_text(toml.read_text().replace(TEXTBOOK_LINE, 'convention = "template"'))
    return folders


@pytest.fixture(scope="module")
def released(tasks, tmp_path_factory):
    """convention -> the bundle a release of that tasks folder writes, made once."""
    made = {}

    def get(convention: str):
        if convention not in made:
            out = tmp_path_factory.mktemp("released") / convention
            write_release(out, load_tasks(tasks[convention]))
            made[convention] = bundle.load(out / bundle.FOLDER)
        return made[convention]

    return get


@pytest.fixture(scope="module")
def graded(tasks, released):
    """(submission, convention, "live" or "released") -> its Results, graded once."""
    done = {}

    def get(name: str, convention: str, side: str):
        if (name, convention, side) not in done:
            path = SUBMISSIONS / name
            if side == "live":
                done[name, convention, side] = grade(path, load_tasks(tasks[convention]), visibility=ALL)
            else:
                found = released(convention)
                done[name, convention, side] = grade(path, found.specs(), visibility=("public",),
                                                     answers=BundleAnswers(found))
        return done[name, convention, side]

    return get


def verdicts(results) -> dict[str, tuple[str, float]]:
    return {c.id: (c.status, c.points) for c in results.checks}


@pytest.mark.parametrize("name, convention", sorted(EXPECTED))
def test_each_example_gets_its_verdict_live(graded, name, convention):
    results = graded(name, convention, "live")
    failing = EXPECTED[name, convention]
    want = {check: ("failed", 0.0) if check in failing else ("passed", float(points))
            for check, points in POINTS.items()}
    assert verdicts(results) == want, [(c.id, c.message, c.hint) for c in results.checks if c.status != "passed"]
    assert results.score == sum(p for _, p in want.values()) and results.max_score == sum(POINTS.values())
    for check, phrase in failing.items():
        found = next(c for c in results.checks if c.id == check)
        assert phrase in found.hint, found.hint


@pytest.mark.parametrize("name, convention", sorted(EXPECTED))
def test_a_release_gives_the_public_verdicts_messages_and_hints(graded, name, convention):
    live = {c.id: c for c in graded(name, convention, "live").checks}
    offline = graded(name, convention, "released").checks
    assert sorted(c.id for c in offline) == sorted(k for k in POINTS if not k.endswith(".hidden"))
    for c in offline:
        assert (c.status, c.points, c.message, c.hint) == (live[c.id].status, live[c.id].points,
                                                            live[c.id].message, live[c.id].hint), c.id


def test_the_template_mode_under_the_textbook_convention_is_named_as_the_templates(graded):
    """(b): the hint says which convention the draws fit and what the task asks instead."""
    sto = next(c for c in graded("template_sto", "textbook", "live").checks if c.id == STO)
    assert sto.numbers["diagnosis"] == ["stochastic_beam.template"]
    assert "do not follow the textbook convention" in sto.message
    assert "the textbook convention asks for candidates drawn without replacement" in sto.hint


def test_the_notebook_is_graded_on_its_definitions_and_lists_what_it_skipped(graded):
    """(a): the download, the shell lines, the missing framework, the training and the plot are skipped and listed;
    the globals that only the corpus defines are the checks' to set."""
    notes = "\n".join(graded("notebook", "textbook", "live").notes)
    for said in ("skipped from tensorflow.keras.utils import pad_sequences (tensorflow is not installed",
                 "skipped !wget", "skipped !pip install -q gradio (shell command)",
                 "skipped raw_text = urllib.request.urlopen(url)", "skipped for epoch in range(15):",
                 "skipped plt.show()", "skipped char2idx = {ch: i for i, ch in enumerate(chars_vocab)}"):
        assert said in notes, said


def test_the_committed_notebooks_are_what_the_script_writes(tmp_path):
    import runpy

    script = runpy.run_path(str(COURSE / "build_notebooks.py"))
    for path in script["write"](tmp_path):
        committed = SUBMISSIONS / path.parent.name / path.name
        assert committed.read_text() == path.read_text(), f"run python {COURSE / 'build_notebooks.py'}"
        nbformat.validate(nbformat.read(committed, as_version=4))


def test_the_torch_solution_is_not_found_without_its_map(tasks, tmp_path):
    """(d) names its file lm.py: without harness.toml the module is not submitted, and nothing is graded."""
    shutil.copy(SUBMISSIONS / "torch_mapped" / "lm.py", tmp_path / "lm.py")
    results = grade(tmp_path, load_tasks(tasks["textbook"]), visibility=("public",))
    assert results.score == 0
    assert {(c.status, c.message) for c in results.checks} == {("failed", "charlm_course.py not submitted")}


# --------------------------------------------------------------------------- slips named by the catalogue

#: A slip written into notebook (a) -> (the checks it fails, the catalogue entry named in each).
SLIPS = {
    "keeps_the_worst": (("np.argsort(pred_large)[::-1][:num_beams]", "np.argsort(pred_large)[:num_beams]"),
                        {"charlm_course.select_candidates.det": "keeps_the_worst",
                         "charlm_course.beam_search": None}),
    "first_step_from_every_copy": (("[probs], num_beams, vocab_size, [0], [encoded],",
                                    "[probs] * num_beams, num_beams, vocab_size, [0] * num_beams, "
                                    "[encoded] * num_beams,"),
                                   {"charlm_course.beam_search": "first_step_from_every_copy", STO: None}),
    "first_position": (("probs = F.softmax(model(x)[0, -1, :], dim=-1)",
                        "probs = F.softmax(model(x)[0, 0, :], dim=-1)"),
                       {"charlm_course.generate_seq": "first_position"}),
    "logits_as_log_probs": (("log_probs = F.log_softmax(logits[:, -1, :], dim=-1)", "log_probs = logits[:, -1, :]"),
                            {"charlm_course.compute_perplexity": "logits_as_log_probs"}),
}


def only(specs: list, checks) -> list:
    """The specs with only ``checks`` graded (the slip's own: the others are graded in full above)."""
    return [dataclasses.replace(spec, checks=[c for c in spec.checks if c.id in checks]) for spec in specs]


def with_slip(folder: Path, old: str, new: str) -> Path:
    nb = nbformat.read(SUBMISSIONS / "notebook" / "charlm_course.ipynb", as_version=4)
    assert sum(cell.source.count(old) for cell in nb.cells) == 1, old
    for cell in nb.cells:
        cell.source = cell.source.replace(old, new)
    folder.mkdir()
    nbformat.write(nb, folder / "charlm_course.ipynb")
    return folder


@pytest.mark.parametrize("slip", sorted(SLIPS))
def test_a_slip_is_named_by_the_catalogue_live_and_from_a_release(tasks, released, tmp_path, slip):
    """The beam search and greedy generation read char2idx and idx2char as globals: their catalogue variants see the
    globals the check sets, as the answer key does, so the slips are named (harness/answers.py)."""
    (old, new), failing = SLIPS[slip]
    submission = with_slip(tmp_path / slip, old, new)
    specs = load_tasks(tasks["textbook"])
    bundled = released("textbook")
    live = grade(submission, only(specs, failing), visibility=("public",))
    offline = grade(submission, only(bundled.specs(), failing), visibility=("public",), answers=BundleAnswers(bundled))
    for results in (live, offline):
        failed = {c.id: c for c in results.checks if c.status != "passed"}
        assert set(failed) == set(failing), {k: c.message for k, c in failed.items()}
        for check, entry in failing.items():
            named = failed[check].numbers.get("diagnosis")
            assert named == ([entry] if entry else None), (check, named, failed[check].hint)
            if entry:
                assert failed[check].hint.startswith("This matches a common mistake: "), failed[check].hint
    key = course.answer_key(specs[0])
    catalogue = course.task_python(specs[0].path.parent, course.CATALOGUE)
    assert not {"char2idx", "idx2char", "device"} & (set(vars(key)) | set(vars(catalogue))), \
        "the globals a variant's program set are put back"


# --------------------------------------------------------------------------- what compute_perplexity may return

@pytest.mark.parametrize("value, words", [
    ("float('nan')", "perplexity: got nan, expected 27.06"),
    ("'4.2'", "perplexity: expected a number, got str '4.2'"),
    ("None", "perplexity: expected a number, got None"),
    ("[27.0626]", "perplexity: expected a number, got a list of 1"),
    ("torch.ones(3)", "perplexity: expected shape a scalar, got (3)"),
    ("10 ** 400", "perplexity: expected a floating-point number, got 1000"),
    ("np.float32(1e38)", "perplexity: got 1e+38, expected 27.06"),
])
def test_a_perplexity_that_is_not_a_number_fails_saying_what_it_got(tasks, tmp_path, value, words):
    (tmp_path / "charlm_course.py").write_text(
        "import numpy as np\nimport torch\n\n\n"
        "def compute_perplexity(model, val_inputs, val_targets, batch_size=256):\n"
        f"    return {value}\n")
    results = grade(tmp_path, load_tasks(tasks["textbook"]), visibility=("public",))
    check = next(c for c in results.checks if c.id == "charlm_course.compute_perplexity")
    assert (check.status, check.points) == ("failed", 0.0)
    assert check.message.startswith("compute_perplexity(model, val_inputs (12, 6), val_targets (12,), 5): ")
    assert words in check.message, check.message
