"""``harness grade`` on a small class: parallel grading, files, gradebook, resume, spec change, Dask, Ctrl-C.

The class: three copies of the reference submission, two with one buggy module copied over the
reference's, and four entries that break the harness's assumptions. Only the fast function tasks
(cells, sequences) are graded, to keep the file quick.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import sqlite3
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from harness import batch
from harness.batch import Job, assumption_problem, content_hash, grade_class, grade_job
from harness.cli import main
from harness.spec import load_tasks

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "submissions" / "reference"
TASKS = ["--task", "cells", "--task", "sequences"]
GRADABLE = ["ada", "ben", "cy", "dee"]


def submission(folder: Path, bug: str | None = None) -> Path:
    """A copy of the reference submission, with the buggy module of ``bug`` copied over it."""
    shutil.copytree(REFERENCE, folder)
    if bug:
        for path in (ROOT / "submissions" / "buggy" / bug).glob("*.py"):
            shutil.copy(path, folder / path.name)
    return folder


def make_class(root: Path) -> Path:
    root.mkdir(parents=True)
    submission(root / "ada")
    submission(root / "ben")
    submission(root / "cy", "gru_z_swapped")
    submission(root / "dee", "pad_post")
    (root / "empty").mkdir()
    (root / "notebook_only").mkdir()
    (root / "notebook_only" / "cells.ipynb").write_text("this is { not JSON")
    with zipfile.ZipFile(root / "eve.zip", "w") as archive:
        archive.write(REFERENCE / "cells.py", "cells.py")
    (root / "notes.txt").write_text("a file where a folder was expected")
    return root


def rows(out: Path) -> dict[str, dict]:
    with (out / "gradebook.csv").open(newline="", encoding="utf-8") as f:
        return {r["student"]: r for r in csv.DictReader(f)}


def outcomes(out: Path, run_id: int) -> dict[str, tuple]:
    with sqlite3.connect(out / "gradebook.sqlite") as conn:
        return {r[0]: r[1:] for r in conn.execute(
            "SELECT submission, how, graded_in_run, score FROM outcomes WHERE run_id = ?", (run_id,))}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The class graded once by the command line with two local worker processes."""
    base = tmp_path_factory.mktemp("class")
    klass, out = make_class(base / "class"), base / "out"
    result = CliRunner().invoke(main, ["grade", str(klass), "--out", str(out), "--workers", "2", *TASKS])
    assert result.exit_code == 0, result.output
    return klass, out, result.output


def test_each_graded_submission_gets_results_and_a_report(graded):
    klass, out, output = graded
    assert "4 graded" in output and "4 not graded" in output
    for name in GRADABLE:
        data = json.loads((out / "submissions" / name / "results.json").read_text())
        assert data["environment"]["submission_sha256"] == content_hash(klass / name)
        assert {t["name"] for t in data["tasks"]} == {"cells", "sequences"}
        assert "<svg" in (out / "submissions" / name / "report.html").read_text()
    assert sorted(p.name for p in (out / "submissions").iterdir()) == GRADABLE  # nothing for the ungradable
    assert not list(out.rglob(".*.tmp"))


def test_gradebook_csv_has_a_row_per_student_and_a_reason_for_each_ungradable(graded):
    _, out, _ = graded
    table = rows(out)
    with (out / "gradebook.csv").open(encoding="utf-8") as f:
        assert f.readline().strip() == "student,cells,sequences,total,max,percentage,status"
    assert list(table) == sorted(table) == ["ada", "ben", "cy", "dee", "empty", "eve.zip", "notebook_only", "notes.txt"]
    # the checks of hidden.toml count too: cells 38 + 8 points, sequences 5 + 3
    assert [table[n]["total"] for n in GRADABLE] == ["54", "54", "46", "52.14"]
    assert table["cy"]["cells"] == "38" and table["cy"]["sequences"] == "8"   # GRU z swapped costs cells points
    # padding at the end fails 5 of the 11 padding cases and 5 of the 20 hidden ones: credit per case
    assert table["dee"]["cells"] == "46" and table["dee"]["sequences"] == "6.14"
    assert all(table[n]["status"] == "graded" and table[n]["max"] == "54" for n in GRADABLE)
    assert table["empty"]["status"] == "empty folder: nothing was submitted"
    assert "not a readable notebook" in table["notebook_only"]["status"]
    assert "an archive (eve.zip)" in table["eve.zip"]["status"] and "unpack" in table["eve.zip"]["status"]
    assert "a file (notes.txt), not a submission folder" in table["notes.txt"]["status"]
    assert table["empty"]["total"] == "" and table["empty"]["max"] == "54"


def test_sqlite_records_the_run_and_every_check(graded):
    _, out, _ = graded
    conn = sqlite3.connect(out / "gradebook.sqlite")
    run = conn.execute("SELECT run_id, status, workers, scheduler, tasks, graded, not_graded FROM runs").fetchall()
    assert run == [(1, "finished", 2, None, '["cells", "sequences"]', 4, 4)]
    found = outcomes(out, 1)
    assert {n: found[n][:2] for n in GRADABLE} == {n: ("graded", 1) for n in GRADABLE}
    assert found["empty"][0] == "not graded"
    per = dict(conn.execute("SELECT submission, count(*) FROM check_results GROUP BY submission"))
    assert set(per) == set(GRADABLE) and len(set(per.values())) == 1 and per["ada"] > 20
    failed = conn.execute("SELECT check_id, message FROM check_results WHERE submission = 'cy' AND status != 'passed'"
                          ).fetchall()
    assert "cells.GRUCell.forward" in {c for c, _ in failed}
    assert conn.execute("SELECT sum(score) FROM task_scores WHERE submission = 'dee'").fetchone()[0] == pytest.approx(52.1364)


def test_overview_links_every_report_and_names_what_could_not_be_graded(graded):
    _, out, _ = graded
    page = (out / "index.html").read_text()
    for name in GRADABLE:
        assert f'href="submissions/{name}/report.html"' in page
    assert "8 submissions" in page and "<svg" in page and "Checks by pass rate" in page
    assert "empty folder: nothing was submitted" in page and "an archive (eve.zip)" in page
    first_check = page.index("Checks by pass rate")
    assert page.index("cells.GRUCell.forward", first_check) < page.index("cells.RNNCell.forward", first_check)


def test_a_stopped_run_resumes_and_a_spec_change_regrades(graded, tmp_path):
    klass, graded_out, _ = graded
    out = tmp_path / "out"
    shutil.copytree(graded_out, out)
    (out / "submissions" / "ben" / "results.json").unlink()
    before = {n: (out / "submissions" / n / "results.json").stat().st_mtime_ns for n in GRADABLE if n != "ben"}
    run = grade_class(klass, out, tasks=["cells", "sequences"], workers=2)
    assert run.counts["graded_now"] == 1 and run.counts["up_to_date"] == 3
    found = outcomes(out, 2)
    assert found["ben"][:2] == ("graded", 2)
    assert {n: found[n][:2] for n in before} == {n: ("up to date", 1) for n in before}  # linked to the run that graded it
    assert {n: (out / "submissions" / n / "results.json").stat().st_mtime_ns for n in before} == before
    assert rows(out)["ben"]["total"] == "54" and rows(out)["cy"]["total"] == "46"

    tasks = tmp_path / "tasks"  # the same specs, one with other points
    for name in ("cells", "sequences"):
        shutil.copytree(ROOT / "tasks" / name, tasks / name)
    spec = tasks / "sequences" / "task.toml"
    spec.write_text(spec.read_text().replace('[checks."sequences.make_windows"]\npoints = 2',
                                             '[checks."sequences.make_windows"]\npoints = 4'))
    run = grade_class(klass, out, tasks=["cells", "sequences"], tasks_dir=tasks, workers=2)
    assert run.counts["graded_now"] == 4 and run.counts["up_to_date"] == 0
    assert {n: outcomes(out, 3)[n][:2] for n in GRADABLE} == {n: ("graded", 3) for n in GRADABLE}
    assert rows(out)["ada"]["max"] == "56" and rows(out)["dee"]["sequences"] == "8.14"


def test_dask_cluster_gives_the_scores_of_the_process_pool(graded, tmp_path):
    distributed = pytest.importorskip("distributed")
    klass, pool_out, _ = graded
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster:
        run = grade_class(klass, tmp_path / "out", tasks=["cells", "sequences"], scheduler=cluster.scheduler_address)
    assert run.scheduler == cluster.scheduler_address and not run.interrupted
    assert rows(tmp_path / "out") == rows(pool_out)
    for name in GRADABLE:
        on_dask = json.loads((tmp_path / "out" / "submissions" / name / "results.json").read_text())
        in_pool = json.loads((pool_out / "submissions" / name / "results.json").read_text())
        assert [(c["id"], c["status"], c["points"]) for c in on_dask["checks"]] == \
               [(c["id"], c["status"], c["points"]) for c in in_pool["checks"]]
    with sqlite3.connect(tmp_path / "out" / "gradebook.sqlite") as conn:
        assert conn.execute("SELECT workers, scheduler FROM runs").fetchone() == (None, cluster.scheduler_address)


def test_ctrl_c_saves_what_finished_and_the_next_run_grades_the_rest(tmp_path):
    klass = tmp_path / "class"
    for name in ("a", "b", "c"):
        submission(klass / name)
    out = tmp_path / "out"

    def interrupt_after_the_first(tally, outcome):
        if outcome is not None and tally.done == 1:
            os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C would

    run = grade_class(klass, out, tasks=["sequences"], workers=1, progress=interrupt_after_the_first)
    assert run.interrupted and 1 <= run.counts["graded"] < 3 and run.counts["not_reached"] >= 1, (
        run.counts, {n: (r["status"], r.get("reason", "")) for n, r in rows(out).items()})
    stopped = [n for n, r in rows(out).items() if r["status"] != "graded"]
    assert all("stopped" in rows(out)[n]["status"] for n in stopped)
    with sqlite3.connect(out / "gradebook.sqlite") as conn:
        assert conn.execute("SELECT status FROM runs").fetchone() == ("interrupted",)
    assert "stopped before every submission" in (out / "index.html").read_text()

    again = grade_class(klass, out, tasks=["sequences"], workers=1)
    assert not again.interrupted and again.counts["graded_now"] == len(stopped)
    assert all(r["status"] == "graded" and r["total"] == "8" for r in rows(out).values())
    forced = grade_class(klass, out, tasks=["sequences"], workers=1, regrade=True)
    assert forced.counts["graded_now"] == 3

    results = out / "submissions" / "a" / "results.json"  # a forged score the database did not record
    forged = json.loads(results.read_text())
    forged["checks"][0].update(points=0.0, status="failed")  # another student's grade, say
    results.write_text(json.dumps(forged))
    again = grade_class(klass, out, tasks=["sequences"], workers=1)
    assert again.counts["graded_now"] == 1 and rows(out)["a"]["total"] == "8"
    (out / "gradebook.sqlite").unlink()  # results.json files the database has not seen: they prove nothing
    kept = grade_class(klass, out, tasks=["sequences"], workers=1)
    assert kept.counts["graded_now"] == 3 and kept.counts["up_to_date"] == 0
    with sqlite3.connect(out / "gradebook.sqlite") as conn:
        assert set(conn.execute("SELECT how, graded_in_run FROM outcomes")) == {("graded", 1)}
        assert conn.execute("SELECT count(DISTINCT submission) FROM check_results WHERE run_id = 1").fetchone() == (3,)


def test_a_pool_process_stopped_between_jobs_starts_none_of_those_it_was_handed(monkeypatch):
    """ProcessPoolExecutor hands a process one job more than it runs, and that job cannot be cancelled: a Ctrl-C
    that reaches the process between two jobs must keep it from starting the next."""
    started, job = [], SimpleNamespace(warm=False)
    monkeypatch.setattr(batch, "grade_job", lambda job: started.append(job) or {"status": "graded"})
    monkeypatch.setattr(batch, "_STOPPED", type(batch._STOPPED)())
    previous = signal.getsignal(signal.SIGINT)
    try:
        assert batch._pool_job(job) == {"status": "graded"}  # not stopped: runs
        batch._stopped_while_idle(signal.SIGINT, None)         # the handler a pool process has between jobs
        with pytest.raises(KeyboardInterrupt):
            batch._pool_job(job)
        assert started == [job]
    finally:
        signal.signal(signal.SIGINT, previous)


def test_an_exception_of_the_harness_costs_that_submission_only(tmp_path, monkeypatch):
    klass = tmp_path / "class"
    for name in ("a", "b"):
        submission(klass / name)

    def flaky(jobs, workers, stop):  # job "a" crashes the harness; "b" is graded for real, in this process
        for job in jobs:
            yield job, RuntimeError("boom") if job.name == "a" else grade_job(job)

    monkeypatch.setattr(batch, "run_local", flaky)
    run = grade_class(klass, tmp_path / "out", tasks=["sequences"])
    table = rows(tmp_path / "out")
    assert table["b"]["status"] == "graded" and table["b"]["total"] == "8"
    assert "the harness failed on this submission (RuntimeError: boom)" in table["a"]["status"]
    assert run.counts == {"total": 2, "graded": 1, "graded_now": 1, "up_to_date": 0, "not_graded": 1, "not_reached": 0}


def test_a_job_whose_specs_changed_under_it_is_reported_not_raised():
    spec = load_tasks(None, ["sequences"])[0]
    job = Job("ada", str(REFERENCE), str(spec.path.parents[1]), ("sequences",), (("sequences", "0" * 16),))
    payload = grade_job(job)
    assert payload["status"] == "not graded" and "the harness failed on this submission" in payload["reason"]
    assert "sequences" in payload["reason"] and "started with" in payload["reason"]


def test_what_breaks_the_assumptions_is_named(tmp_path):
    stems = ["cells", "sequences"]
    (tmp_path / "hw.tar.gz").write_bytes(b"\x1f\x8b")
    assert assumption_problem(tmp_path / "hw.tar.gz", stems).startswith("an archive (hw.tar.gz), not a folder")
    (tmp_path / "only_git" / ".git").mkdir(parents=True)
    assert assumption_problem(tmp_path / "only_git", stems) == "empty folder: nothing was submitted"
    other = tmp_path / "other"
    other.mkdir()
    (other / "tarea1.py").write_text("x = 1\n")
    assert assumption_problem(other, stems) == ("no recognised module: expected cells.py, sequences.py (or .ipynb) "
                                                "(the folder has: tarea1.py); rename it, or map it in harness.toml, "
                                                'e.g. cells = "tarea1.py"')
    nested = tmp_path / "nested"
    (nested / "repo").mkdir(parents=True)
    shutil.copy(REFERENCE / "cells.py", nested / "repo" / "cells.py")
    assert "found repo/cells.py in a subfolder" in assumption_problem(nested, stems)
    mapped = tmp_path / "mapped"
    mapped.mkdir()
    (mapped / "harness.toml").write_text("cells = [")
    assert "not valid TOML" in assumption_problem(mapped, stems)
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(REFERENCE / "sequences.py", partial / "sequences.py")
    (partial / "cells.ipynb").write_text("{")
    assert assumption_problem(partial, stems) is None  # a broken notebook beside a good module: graded


def test_an_unreadable_folder_is_a_reason(tmp_path, monkeypatch):
    folder = tmp_path / "locked"
    folder.mkdir()

    def denied(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "iterdir", denied)  # root reads everything: pretend
    assert assumption_problem(folder, ["cells"]) == "the folder cannot be read (Permission denied)"


def test_content_hash_follows_the_files_the_harness_reads(tmp_path):
    folder = submission(tmp_path / "sub")
    first = content_hash(folder)
    (folder / "README.md").write_text("notes")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "cells.cpython-311.pyc").write_bytes(b"\0")
    assert content_hash(folder) == first
    (folder / "cells.py").write_text((folder / "cells.py").read_text() + "\n# changed\n")
    assert content_hash(folder) != first
    (folder / "harness.toml").write_text("")
    assert content_hash(folder) not in (first, None)


def test_command_line_errors_exit_2(tmp_path):
    result = CliRunner().invoke(main, ["grade", str(tmp_path / "nope"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "no such folder" in result.output
    result = CliRunner().invoke(main, ["grade", str(REFERENCE), "--out", str(tmp_path / "out"), *TASKS])
    assert result.exit_code == 2 and "looks like one submission" in result.output


@pytest.fixture
def no_fork_server():
    """This process without the session's fork server (tests/conftest.py), as the command starts: given back after."""
    from harness.sandbox import zygote

    zygote.stop_for_process()
    yield zygote
    zygote.start_for_process()


def test_a_class_of_one_is_graded_in_the_runs_own_process_from_a_fork_server_it_stops(tmp_path, monkeypatch,
                                                                                      no_fork_server):
    zygote = no_fork_server

    def no_pool(jobs, workers, stop):
        raise AssertionError("a class of one started a pool of processes")

    monkeypatch.setattr(batch, "run_local", no_pool)
    run = grade_class(submission(tmp_path / "class" / "ada").parent, tmp_path / "out", tasks=["sequences"])
    assert run.counts["graded_now"] == 1 and rows(tmp_path / "out")["ada"]["total"] == "8"
    results = json.loads((tmp_path / "out" / "submissions" / "ada" / "results.json").read_text())
    if zygote.supported()[0] and results["sandbox"]["mode"] != "basic":
        assert results["sandbox"]["start"] == "forked"  # from the fork server started with the run
    assert zygote.current() is None  # and stopped with it


SLOW_FIRST_WINDOWS = '''

import time as _time


def make_windows(ids, window, _make_windows=make_windows):
    _time.sleep(60)
    return _make_windows(ids, window)
'''


def test_ctrl_c_stops_a_class_of_one_graded_in_process_and_the_next_run_grades_it(tmp_path, no_fork_server):
    """The job runs in the run's own process: the first Ctrl-C interrupts it, its sandbox closes, the run saves
    its gradebook with the submission not reached, and the run after grades it."""
    import threading

    zygote = no_fork_server
    klass, out = tmp_path / "class", tmp_path / "out"
    ada = submission(klass / "ada")
    honest = (ada / "sequences.py").read_text()
    (ada / "sequences.py").write_text(honest + SLOW_FIRST_WINDOWS)
    timer = threading.Timer(8.0, os.kill, (os.getpid(), signal.SIGINT))  # as Ctrl-C would, mid-check
    timer.start()
    try:
        run = grade_class(klass, out, tasks=["sequences"])
    finally:
        timer.cancel()
    assert run.interrupted and run.counts["not_reached"] == 1 and run.seconds < 40
    assert "stopped before this submission was graded" in rows(out)["ada"]["status"]
    with sqlite3.connect(out / "gradebook.sqlite") as conn:
        assert conn.execute("SELECT status FROM runs").fetchone() == ("interrupted",)
    assert zygote.current() is None
    (ada / "sequences.py").write_text(honest)
    again = grade_class(klass, out, tasks=["sequences"])
    assert not again.interrupted and rows(out)["ada"]["total"] == "8"
