"""One submission's failure is that submission's row: a NaN in a student's numbers, or results that cannot be
saved, never stop ``harness check`` or a class run, on the first run or on the next one."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import patches
from harness import batch
from harness.batch import grade_class, grade_job
from harness.cli import main

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "submissions" / "reference"
PEEPHOLE_NAN = ROOT / "submissions" / "broken" / "peephole_nan"


def rows(out: Path) -> dict[str, dict]:
    with (out / "gradebook.csv").open(newline="", encoding="utf-8") as f:
        return {r["student"]: r for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def nan_class(tmp_path_factory) -> Path:
    """Three students; the middle one's PeepholeLSTMCell returns NaN."""
    klass = tmp_path_factory.mktemp("nan") / "class"
    klass.mkdir()
    shutil.copytree(REFERENCE, klass / "ada")
    patches.overlay(PEEPHOLE_NAN, REFERENCE, klass / "nan")
    shutil.copytree(REFERENCE, klass / "zed")
    return klass


def test_check_of_a_nan_submission_writes_its_results_and_report(nan_class, tmp_path):
    json_path, report = tmp_path / "results.json", tmp_path / "report.html"
    result = CliRunner().invoke(main, ["check", str(nan_class / "nan"), "--task", "cells", "--json", str(json_path),
                                       "--report", str(report)])
    assert result.exit_code == 0, result.output
    document = json.loads(json_path.read_text(encoding="utf-8"))
    gradcheck = next(c for c in document["checks"] if c["id"] == "cells.PeepholeLSTMCell.gradcheck")
    assert gradcheck["status"] == "failed" and "NaN" in json.dumps(gradcheck["numbers"])
    assert "NaN" in report.read_text(encoding="utf-8")


def test_a_class_run_grades_everyone_around_a_nan_and_so_does_the_next(nan_class, tmp_path):
    out = tmp_path / "out"
    for attempt in ("first", "second"):
        result = CliRunner().invoke(main, ["grade", str(nan_class), "--out", str(out), "--workers", "1",
                                           "--task", "cells"])
        assert result.exit_code == 0, f"{attempt} run:\n{result.output}"
        table = rows(out)
        assert {name: row["status"] for name, row in table.items()} == {n: "graded" for n in ("ada", "nan", "zed")}
        assert table["ada"]["total"] == table["zed"]["total"] == table["ada"]["max"]
        assert float(table["nan"]["total"]) < float(table["nan"]["max"])
    assert "3 up to date" in result.output  # the second run read the NaN student's results.json back
    saved = (out / "submissions" / "nan" / "results.json").read_text(encoding="utf-8")
    assert '"NaN"' in saved
    overview = (out / "index.html").read_text(encoding="utf-8")
    assert all(f"submissions/{name}/report.html" in overview for name in ("ada", "nan", "zed"))


def test_results_that_cannot_be_saved_cost_that_submission_only(tmp_path, monkeypatch):
    klass = tmp_path / "class"
    for name in ("a", "b"):
        shutil.copytree(REFERENCE, klass / name)
    save = batch._save

    def failing_save(out, run_id, path, payload):
        if payload["name"] == "a" and payload["status"] == "graded":
            raise ValueError("Out of range float values are not JSON compliant")
        return save(out, run_id, path, payload)

    def in_process(jobs, workers, stop):
        for job in jobs:
            yield job, grade_job(job)

    monkeypatch.setattr(batch, "_save", failing_save)
    monkeypatch.setattr(batch, "run_local", in_process)
    run = grade_class(klass, tmp_path / "out", tasks=["sequences"])
    table = rows(tmp_path / "out")
    assert table["b"]["status"] == "graded"
    assert "the harness failed on this submission (ValueError: Out of range float" in table["a"]["status"]
    assert run.counts["graded"] == 1 and run.counts["not_graded"] == 1 and run.counts["not_reached"] == 0
    assert not (tmp_path / "out" / "submissions" / "a" / "results.json").exists()


def test_a_huge_value_in_harness_toml_is_cut_before_the_gradebook_and_the_overview(tmp_path, monkeypatch):
    """The largest harness.toml a student may hand in, one value filling it: what reaches the class's files is cut."""
    from harness.results import TEXT_LIMIT
    from harness.submission import HARNESS_TOML_BYTES

    klass = tmp_path / "class"
    for name in ("honest", "huge"):
        shutil.copytree(REFERENCE, klass / name)
    name = "n" * (HARNESS_TOML_BYTES - 100)
    (klass / "huge" / "harness.toml").write_text(f'[modules]\ncells = "{name}.py"\n', encoding="utf-8")

    def in_process(jobs, workers, stop):
        for job in jobs:
            yield job, grade_job(job)

    monkeypatch.setattr(batch, "run_local", in_process)
    grade_class(klass, tmp_path / "out", tasks=["cells", "sequences"])
    out = tmp_path / "out"
    assert rows(out)["huge"]["status"] == "graded" and rows(out)["honest"]["status"] == "graded"
    for written in ("gradebook.csv", "gradebook.sqlite", "index.html", "submissions/huge/results.json",
                    "submissions/huge/report.html"):
        text = (out / written).read_bytes()
        assert name.encode() not in text, written  # never the whole value
    results = json.loads((out / "submissions" / "huge" / "results.json").read_text(encoding="utf-8"))
    assert all(len(c["message"]) <= TEXT_LIMIT for c in results["checks"])
    assert (out / "submissions" / "huge" / "results.json").stat().st_size < 4 * HARNESS_TOML_BYTES
