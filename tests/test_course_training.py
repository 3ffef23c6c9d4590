"""The trained part of the course's assignment (docs/examples/course/training; issue 20, the acceptance case): the
student trains a character language model in their own fit(train, valid, budget), on windows of a corpus shipped
with the example, and the judge scores the predictor on text fit never saw.

Each example submission is graded once per mode — by `harness grade` on the class (every check, the hidden ones
included, two workers: the live verdicts and the gradebook) and from a release (the public checks, as a student's
machine runs them) — and its verdict asserted beside it in VERDICTS.
"""
from __future__ import annotations

import csv
import importlib.util
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness import bundle
from harness.cli import main
from harness.results import Results

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "docs" / "examples" / "course"
TRAINING = COURSE / "training"
TASKS, SUBMISSIONS = TRAINING / "tasks", TRAINING / "submissions"
TASK = "charlm_course_model"
FIT, CAUSAL, PPL, HIDDEN = (f"{TASK}.{c}" for c in ("fit", "causal", "perplexity", "perplexity.hidden"))
POINTS = {FIT: 1, CAUSAL: 1, PPL: 6, HIDDEN: 6}
BUDGET = 12
KERAS = importlib.util.find_spec("keras") is not None
FULL = {c: ("passed", float(p)) for c, p in POINTS.items()}
NOTHING_KEPT = (f"fit used its budget of {BUDGET} CPU seconds and was stopped; it kept no predictor, so nothing is "
                "graded")

#: submission -> what it deserves: the exact (status, points) of some checks; a "lower" one scores its perplexity
#: checks above nothing and visibly below full points; "kept" is graded on what budget.keep kept
VERDICTS = {
    "torch_loop": FULL,                 # 1. the course's loop in a notebook, early stopping on validation perplexity
    "keras_fit": FULL,                  # 2. the same architecture in Keras 3, model.fit with EarlyStopping
    "overfits": {FIT: ("passed", 1.0), CAUSAL: ("passed", 1.0), PPL: "lower", HIDDEN: "lower"},   # 3.
    "past_budget": {FIT: ("failed", 0.0), CAUSAL: ("passed", 1.0), PPL: "kept", HIDDEN: "kept"},  # 4. with keep
    "past_budget_no_keep": dict.fromkeys(POINTS, ("failed", 0.0)),                                # 4. without
    "reads_valid": {FIT: ("passed", 1.0), CAUSAL: ("passed", 1.0), PPL: ("passed", 6.0), HIDDEN: "nothing"},  # 5.
}


def needs(name: str) -> None:
    if name == "keras_fit" and not KERAS:
        pytest.skip("keras is not installed (pip install 'harness[keras]'; CI installs it)")


#: the student's side, in a process of its own: release the task, then check each submission from the bundle
RELEASE_SIDE = """
import sys
from pathlib import Path
from harness import bundle
from harness.answers import BundleAnswers
from harness.grading import grade
from harness.release import write_release
from harness.spec import load_tasks

folder, out = Path(sys.argv[1]), Path(sys.argv[2])
write_release(folder, load_tasks(Path(sys.argv[3])))
found = bundle.load(folder / bundle.FOLDER)
for path in map(Path, sys.argv[4:]):
    results = grade(path, found.specs(), visibility=("public",), answers=BundleAnswers(found))
    results.write(out / f"{path.name}.json")
"""


@pytest.fixture(scope="module")
def release_side(tmp_path_factory):
    """The task released to students (no hidden check, no answer key, the public part of the corpus only), and each
    submission checked from its bundle as a student's machine checks it: in a process started before the class run,
    so that both run at once."""
    root = tmp_path_factory.mktemp("release")
    folder, out = root / "assignment", root / "results"
    out.mkdir()
    names = [n for n in sorted(VERDICTS) if n != "keras_fit" or KERAS]
    log = root / "output.txt"
    with log.open("w") as output:  # a file, not a pipe: a pipe nobody reads yet would stop the process when full
        process = subprocess.Popen([sys.executable, "-c", RELEASE_SIDE, str(folder), str(out), str(TASKS),
                                    *(str(SUBMISSIONS / n) for n in names)], stdout=output, stderr=subprocess.STDOUT)
    done = {}

    def wait() -> tuple[Path, dict[str, Results]]:
        if not done:
            process.wait(timeout=1800)
            assert process.returncode == 0, log.read_text()[-5000:]
            done.update({n: Results.read(out / f"{n}.json") for n in names})
        return folder, done

    yield wait
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def class_run(tmp_path_factory, release_side) -> tuple[Path, dict[str, Results]]:
    """The example submissions graded by the command line, as an instructor grades the class: every visibility."""
    out = tmp_path_factory.mktemp("grades")
    done = CliRunner().invoke(main, ["grade", str(SUBMISSIONS), "--out", str(out), "--workers", "2",
                                     "--tasks-dir", str(TASKS)])
    assert done.exit_code == 0, done.output
    return out, {p.name: Results.read(p / "results.json") for p in (out / "submissions").iterdir()}


def checks(results) -> dict:
    return {c.id: c for c in results.checks}


def assert_verdict(name: str, got: dict) -> None:
    for check, want in VERDICTS[name].items():
        if check not in got:
            continue
        c = got[check]
        if want == "lower":  # scored, and clearly below what the course's model gets
            assert 0 < c.points < 0.8 * c.max_points, (check, c.points, c.message)
        elif want == "kept":  # the kept model is scored (how far it got depends on the machine's speed)
            assert c.status in ("passed", "failed") and c.points > 0 and c.numbers["perplexity"] < 17, c.message
        elif want == "nothing":
            assert c.status == "failed" and c.points < 0.01 * c.max_points, (check, c.points, c.message)
        else:
            assert (c.status, c.points) == want, (check, c.status, c.points, c.message, c.hint)


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_each_example_gets_its_verdict_in_the_class_run(class_run, name):
    needs(name)
    got = checks(class_run[1][name])
    assert sorted(got) == sorted(POINTS)
    assert_verdict(name, got)


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_a_release_gives_the_public_verdicts(class_run, release_side, name):
    """From the bundle, as a student checks: the same public verdicts; the same messages where nothing depends on
    how fast the machine is (a budget's stop does)."""
    needs(name)
    live, offline = checks(class_run[1][name]), checks(release_side()[1][name])
    assert sorted(offline) == sorted(c for c in POINTS if not c.endswith(".hidden"))
    assert_verdict(name, offline)
    if not name.startswith("past_budget"):
        for check, c in offline.items():
            assert (c.status, c.points) == (live[check].status, live[check].points), check
            if check != FIT:  # fit's message says the CPU seconds it used
                assert c.message == live[check].message


def test_the_gradebook_has_a_row_per_submission(class_run):
    out, results = class_run
    with (out / "gradebook.csv").open(newline="", encoding="utf-8") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert sorted(rows) == sorted(VERDICTS)
    for name, row in rows.items():
        assert row["status"] == "graded" and row["max"] == "14", row
        assert float(row["total"]) == pytest.approx(results[name].score, abs=0.01)
    assert rows["torch_loop"]["total"] == "14" and rows["past_budget_no_keep"]["total"] == "0"
    assert float(rows["overfits"]["total"]) < float(rows["torch_loop"]["total"]) - 2


def test_the_model_that_overfits_is_scored_by_the_text_it_never_saw(class_run):
    """Its perplexity on the validation and hidden text is far above the course model's, and above the trigram's,
    while on the text fit trained on it is below the course model's: the hint says it overfits."""
    overfit, good = checks(class_run[1]["overfits"]), checks(class_run[1]["torch_loop"])
    for check in (PPL, HIDDEN):
        numbers = overfit[check].numbers
        assert numbers["perplexity"] > 2 * good[check].numbers["perplexity"]
        assert numbers["perplexity"] > numbers["classical"]["trigram (Kneser-Ney)"]
        assert numbers["training_split"] < good[check].numbers["perplexity"]  # better than the course model's
        assert "it has learned its training data rather than the task (it overfits)" in overfit[check].hint
        assert "train longer" not in overfit[check].hint


def test_a_training_past_its_budget_is_stopped_and_graded_on_what_it_kept(class_run):
    kept = checks(class_run[1]["past_budget"])[FIT]
    assert kept.message.startswith(f"fit used its budget of {BUDGET} CPU seconds and was stopped; graded the "
                                   "predictor it kept at "), kept.message
    assert kept.numbers["graded"] == "kept" and kept.numbers["keeps"] >= 1
    nothing = checks(class_run[1]["past_budget_no_keep"])
    assert nothing[FIT].message == NOTHING_KEPT and "budget.keep(model)" in nothing[FIT].hint
    for check in (CAUSAL, PPL, HIDDEN):
        assert nothing[check].message == f"not scored: {NOTHING_KEPT}"


def test_the_fit_that_reads_the_validation_answers_is_defeated_by_the_hidden_text(class_run):
    """On the validation windows it was handed it is perfect (the public checks score that text); on the hidden
    block it is the unigram model it falls back to."""
    got = checks(class_run[1]["reads_valid"])
    assert got[PPL].numbers["perplexity"] == pytest.approx(1.0, abs=1e-6)
    hidden = got[HIDDEN].numbers
    assert hidden["perplexity"] == pytest.approx(hidden["classical"]["unigram (add-one)"], rel=0.01)


def test_the_notebook_is_graded_on_its_definitions(class_run):
    notes = "\n".join(class_run[1]["torch_loop"].notes)
    for said in ("skipped with open('corpus.txt') as f:", "skipped model = fit(train, valid, NoBudget())",
                 "skipped plt.show()"):
        assert said in notes, said


def test_the_release_holds_no_hidden_text(release_side):
    folder, _ = release_side()
    task = folder / bundle.FOLDER / "tasks" / TASK
    text = (TASKS / TASK / "corpus.txt").read_text(encoding="utf-8")
    public = (task / "corpus_public.txt").read_text(encoding="utf-8")
    assert not (task / "corpus.txt").exists() and text.startswith(public)
    hidden = text[-len(text) // 10:]  # the hidden block: the last tenth of the text
    assert not any(hidden[i:i + 60] in public for i in range(0, len(hidden) - 60, 60))
    assert not list(task.glob("answer_key.py")) and not list(task.glob("hidden.toml"))
    contract = (folder / "CONTRACT.md").read_text(encoding="utf-8")
    assert "def fit(train, valid, budget)\n" in contract and "fit may use 12 CPU seconds" in contract
    assert "windows of 100 characters" in contract and "ignore_index=0" in contract  # the task's conventions


def test_the_committed_corpus_and_notebook_are_what_the_scripts_write(tmp_path):
    corpus = runpy.run_path(str(TRAINING / "make_corpus.py"))
    assert corpus["corpus"]() == (TASKS / TASK / "corpus.txt").read_text(encoding="utf-8"), \
        f"run python {TRAINING / 'make_corpus.py'}"
    notebooks = runpy.run_path(str(COURSE / "build_notebooks.py"))
    written = notebooks["write_trained"](tmp_path)
    assert written.read_text() == (SUBMISSIONS / "torch_loop" / written.name).read_text(), \
        f"run python {COURSE / 'build_notebooks.py'}"
