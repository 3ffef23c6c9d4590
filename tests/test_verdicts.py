"""Every example submission with a known bug gets exactly its known verdict — on both sides.

A folder under ``submissions/buggy`` or ``submissions/broken`` holds the one module with the bug (whole,
or as ``<module>.patch`` against the reference's: tests/patches.py) and an ``EXPECTED.toml``; it is overlaid
on ``submissions/reference`` and graded. The checks named in ``failed`` must fail (and ``errored`` ones
error), with the named ``diagnosis`` when one is given; every other check must pass.

Each example is also checked the way a student's machine checks it: from a bundle released from
these specs, with the student package alone, in a fresh venv outside the repository (the
``student_side`` fixture of tests/conftest.py runs them all there, in the background, from the start
of the session). Its public checks must give what the instructor's live run gives: the same statuses, points,
messages, hints and diagnoses. Those comparisons are the file's last tests, so that the live grading runs while
the student's side finishes.
"""
from __future__ import annotations

import fnmatch
import importlib.util
import tomllib
from pathlib import Path

import pytest

from harness.grading import grade
from harness.results import Results
from harness.sandbox import cgroups, zygote
from harness.spec import load_tasks

import patches
from helpers import DURATION

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "submissions"


def examples(kind: str) -> list[Path]:
    return sorted(p.parent for p in (SUBMISSIONS / kind).glob("*/EXPECTED.toml"))


def overlay(example: Path, dest: Path) -> Path:
    return patches.overlay(example, SUBMISSIONS / "reference", dest)


FUNCTION_TASKS = ["cells", "attention", "sequences", "generation"]


#: The CPU seconds a student's training may use in tests: the reference submission trains sentiment in 2.2 s of CPU
#: here, next_word in 3.8 s, forecasting in 1.4 s, translation in 10.7 s (``numbers.cpu_seconds`` of each
#: ``<task>.training`` check); about three times that, so that a slower machine passes too.
CPU_BUDGET_S = 10
CPU_BUDGETS_S = {"translation": 30}
#: The limits every example is graded under in tests, on both sides: a hang or a flood costs seconds, not minutes.
TEST_LIMITS = {"timeout_s": 8, "load_timeout_s": 15}
#: What an example's EXPECTED.toml may set in a [limits] table of its own: a task's [limits] keys and the training's
#: CPU budget. A hang that errors either way needs less time to say so; memory spread over processes needs more.
EXAMPLE_LIMITS = ("timeout_s", "load_timeout_s", "memory_mb", "cpu_budget_s")


def limits_of(expected: dict | None = None) -> dict:
    """The limits an example is graded under: the tests', and those its EXPECTED.toml's [limits] table sets."""
    own = (expected or {}).get("limits", {})
    unknown = sorted(set(own) - set(EXAMPLE_LIMITS))
    assert not unknown, f"EXPECTED.toml [limits]: unknown {unknown}; allowed: {', '.join(EXAMPLE_LIMITS)}"
    return {**TEST_LIMITS, **own}


def fast_specs(names=None, limits: dict | None = None):
    """The specs under the tests' limits, or ``limits`` (an example's: :func:`limits_of`), as the student's side
    applies them too (tests/student_driver.py)."""
    limits = limits or TEST_LIMITS
    specs = load_tasks(names=names)
    for spec in specs:
        for key, value in limits.items():
            if key != "cpu_budget_s":
                setattr(spec.limits, key, value)
        if spec.training:  # a slow model should cost seconds, not minutes
            spec.training["cpu_budget_s"] = cpu_budget_of(spec.name, limits)
    return specs


def cpu_budget_of(task: str, limits: dict) -> float:
    """The CPU seconds a student's training of ``task`` may use in tests: the example's own, else CPU_BUDGETS_S."""
    return limits.get("cpu_budget_s") or CPU_BUDGETS_S.get(task, CPU_BUDGET_S)


def expected_status(check_id: str, expected: dict) -> str:
    """What EXPECTED.toml says of a check; a check graded after submission (``….hidden``: the same check on
    hidden inputs) that it does not name shares the verdict of its public namesake."""
    module = expected["module"]
    if not check_id.startswith(module + "."):
        return "passed"
    if check_id in expected.get("failed", []):
        return "failed"
    named = expected.get("failed", []) + expected.get("errored", [])
    if check_id.endswith(".hidden") and not any(fnmatch.fnmatch(check_id, p) for p in named if p != "all"):
        return expected_status(check_id.removesuffix(".hidden"), expected)
    for pattern in expected.get("errored", []):
        if pattern == "all" or fnmatch.fnmatch(check_id, pattern):
            return "error"
    return "passed"


def assert_verdict(example: Path, results, expected: dict) -> None:
    wrong = []
    for c in results.checks:
        want = expected_status(c.id, expected)
        if c.status != want:
            wrong.append(f"{c.id}: {c.status} (want {want}): {c.message} | {c.hint}")
    assert not wrong, f"{example.name}:\n" + "\n".join(wrong)
    graded = {c.id: c for c in results.checks}
    for check_id in expected.get("failed", []):
        assert check_id in graded, f"{example.name}: {check_id} was not graded"
    for check_id in expected.get("partial", []):  # passes, but with fewer points than the reference gets
        c = graded[check_id]
        assert 0 < c.points < c.max_points, f"{example.name}: {check_id} scored {c.points}/{c.max_points}"
    if "diagnosis" in expected:
        named = [c for c in results.checks if expected["diagnosis"] in c.numbers.get("diagnosis", [])]
        assert named, f"{example.name}: no failing check names {expected['diagnosis']}"
        assert all(c.hint for c in named)
    if "words" in expected:
        words = expected["words"]
        check = next(c for c in results.checks if c.id == words["check"])
        assert all(w in check.message for w in words.get("message", [])), check.message
        assert all(w in check.hint for w in words.get("hint", [])), check.hint


# --------------------------------------------------------------------------- the student's side


def tasks_of(name: str) -> list[str] | None:
    """The tasks an example is graded on (None: all), the same on both sides."""
    kind, _, folder = name.partition("/")
    if kind in ("buggy", "keras"):
        return [tomllib.loads((SUBMISSIONS / name / "EXPECTED.toml").read_text())["module"]]
    if kind == "broken" or name == "notebook":
        return FUNCTION_TASKS
    return None


ALL_EXAMPLES = ["reference", "starter", "notebook"] + [f"{kind}/{p.name}" for kind in ("buggy", "broken", "keras")
                                                      for p in examples(kind)]




def assert_same_public_verdicts(live: Results, student: Results, specs, expected: dict | None = None) -> None:
    """The student's side gives the live run's public results, and says what it did not run. Durations are
    left out of messages; an example whose EXPECTED.toml says it is ``nondeterministic`` (its outcome depends
    on the wall clock or on an unseeded RNG) is held to the same checks and the same verdicts on the checks it
    names."""
    def public(results):
        return [(c.id, c.status, c.points, DURATION.sub("# s", c.message), DURATION.sub("# s", c.hint),
                 c.numbers.get("diagnosis")) for c in results.checks if c.visibility == "public"]

    if expected and expected.get("nondeterministic"):
        named = expected.get("failed", []) + expected.get("errored", [])
        assert [c[0] for c in public(student)] == [c[0] for c in public(live)]
        assert [c[:2] for c in public(student) if c[0] in named] == [c[:2] for c in public(live) if c[0] in named]
    else:
        assert public(student) == public(live)
    assert all(c.visibility == "public" for c in student.checks)
    later = [c for s in specs for c in s.checks if c.graded_later]
    assert (student.not_run_checks, student.not_run_points) == (len(later), sum(c.points for c in later))


@pytest.mark.parametrize("patch", sorted(SUBMISSIONS.glob("buggy/*/*.patch")), ids=lambda p: p.parent.name)
def test_a_patched_fixture_applies_to_the_reference_and_shows_its_bug(patch: Path):
    reference = SUBMISSIONS / "reference" / f"{patch.stem}.py"
    text = patch.read_text(encoding="utf-8")
    patches.apply(reference.read_text(encoding="utf-8"), text, f"buggy/{patch.parent.name}/{patch.name}")
    assert any(line.startswith("+") and "# BUG" in line for line in text.splitlines())


#: Each example's live results and specs, graded once in this process (``--dist loadfile`` keeps this file's tests
#: in one): its own test asserts its verdict, and the last tests of the file compare the student's side with it,
#: by when the student's side (started with the session) has had the time to finish.
LIVE: dict[str, tuple] = {}


def expected_of(name: str) -> dict | None:
    path = SUBMISSIONS / name / "EXPECTED.toml"
    return tomllib.loads(path.read_text()) if path.is_file() else None


def graded_live(name: str, tmp_path: Path) -> tuple[Results, list]:
    """The example ``name`` ("reference", "buggy/pad_post", …) graded on the instructor's side, live, on the tasks
    and under the limits the student's side grades it with: (results, specs)."""
    if name not in LIVE:
        expected = expected_of(name) or {}
        if expected.get("needs") == "tree_budget" and not cgroups.placement().available:
            pytest.skip(f"needs one budget for the worker's tree, a control group: {cgroups.placement().reason}")
        path = overlay(SUBMISSIONS / name, tmp_path / name.replace("/", "-")) if "/" in name else SUBMISSIONS / name
        specs = fast_specs(tasks_of(name), limits_of(expected))
        LIVE[name] = grade(path, specs), specs
    return LIVE[name]


@pytest.mark.parametrize("example", examples("buggy"), ids=lambda p: p.name)
def test_buggy_submission_gets_its_verdict(example: Path, tmp_path: Path):
    results, _ = graded_live(f"buggy/{example.name}", tmp_path)
    assert_verdict(example, results, expected_of(f"buggy/{example.name}"))


@pytest.mark.parametrize("example", examples("broken"), ids=lambda p: p.name)
def test_broken_submission_costs_only_its_own_checks(example: Path, tmp_path: Path):
    expected = expected_of(f"broken/{example.name}")
    results, _ = graded_live(f"broken/{example.name}", tmp_path)
    assert_verdict(example, results, expected)
    failing = [c for c in results.checks if c.status == "error"]
    assert all(c.message for c in failing)
    if "line" in expected:
        assert all(f"line {expected['line']}" in c.message for c in failing), failing[0].message


@pytest.mark.parametrize("example", examples("keras"), ids=lambda p: p.name)
def test_keras_submission_gets_the_verdicts_of_its_torch_equivalent(example: Path, tmp_path: Path):
    """The reference's model written in Keras 3: the harness trains it with its recipe and scores it as any module;
    every check gets the verdict it gets for the torch reference (all pass, EXPECTED.toml)."""
    needs_keras()
    results, _ = graded_live(f"keras/{example.name}", tmp_path)
    assert_verdict(example, results, expected_of(f"keras/{example.name}"))
    assert results.score == results.max_score > 0


def needs_keras() -> None:
    if importlib.util.find_spec("keras") is None:
        pytest.skip("keras is not installed here: pip install 'harness[keras]' (the test extra installs it)")


def test_reference_scores_full_marks(tmp_path):
    results, specs = graded_live("reference", tmp_path)
    assert [c.id for c in results.checks if c.status != "passed"] == []
    assert results.score == results.max_score > 0
    if zygote.supported()[0] and results.sandbox["mode"] != "basic":  # as every grade of this file (conftest)
        assert results.sandbox["start"] == "forked", results.sandbox.get("start_note")
    assert any(c.graded_later for s in specs for c in s.checks)  # hidden checks ran too, and passed


def test_starter_fails_every_check_as_not_implemented(tmp_path):
    results, _ = graded_live("starter", tmp_path)
    assert all(c.status == "failed" for c in results.checks), [
        (c.id, c.status, c.message) for c in results.checks if c.status != "failed"]
    assert results.score == 0
    reasons = [c.message for c in results.checks
               if "not implemented" not in c.message and "has no parameter named" not in c.message]
    assert reasons == []


def test_notebook_submission_scores_full_marks_and_reports_skipped_lines(tmp_path):
    results, _ = graded_live("notebook", tmp_path)
    assert [c.id for c in results.checks if c.status != "passed"] == []
    assert any("cells.ipynb" in n and "magic" in n for n in results.notes)
    assert any("generation.ipynb" in n and "line magic" in n for n in results.notes)
    assert {t.source for t in results.tasks} >= {"cells.ipynb", "generation.ipynb", "attention.py"}


@pytest.mark.parametrize("name", ALL_EXAMPLES)
def test_the_students_side_gives_the_live_public_verdicts(name: str, tmp_path: Path, student_side):
    """Last in this file: each example's public checks on the student's side give what the live run gave."""
    if name.startswith("keras/"):
        needs_keras()
    results, specs = graded_live(name, tmp_path)
    assert_same_public_verdicts(results, student_side[name], specs, expected_of(name))
