"""Files a student can hand in that are not what they seem: links, FIFOs, devices, loops, folders where a file
belongs, huge files; and output paths a student's folder can bend (``reports/<name>`` a link).

The judge reads only regular files inside the submission, never through a link, never blocking, up to a cap;
it writes only through real folders, atomically. Links, FIFOs and loops cannot live in git, so each tree is
built here in tmp_path. Whatever could block runs in a thread joined with a generous timeout.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import stat
import threading
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from harness import batch, submission
from harness.batch import assumption_problem, content_hash, discover, grade_class
from harness.ci import definition_place
from harness.classrun import GRADED, NOT_GRADED
from harness.cli import main
from harness.files import OutputError, write_output
from harness.results import Results
from harness.spec import load_tasks
from harness.submission import HARNESS_TOML_BYTES, SubmissionError, locate, make_scratch_copy, source_cap

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "submissions" / "reference"
ANSWER_KEY = ROOT / "reference_models" / "cells.py"
SECRET = "SECRET-ANSWER-KEY-7d41"
LINKED = "cells.py is a symbolic link; submit the file itself"
FIFO = "cells.py is a named pipe (FIFO), not a regular file; submit the file itself"
pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX file types")


def in_time(function, *args, timeout: float = 120.0):
    """``function(*args)`` in a thread: what it returns, or a test failure if it is still blocked after ``timeout``."""
    box: dict = {}

    def target():
        try:
            box["value"] = function(*args)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"{function.__name__} blocked for {timeout} s"
    if "error" in box:
        raise box["error"]
    return box["value"]


def folder(path: Path, **files: str) -> Path:
    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    return path


@pytest.fixture
def answer_key(tmp_path) -> Path:
    """A stand-in for a file the student must not see, with a marker that must never reach a result."""
    key = tmp_path / "judge" / "cells.py"
    key.parent.mkdir()
    key.write_text(f"# {SECRET}\nclass LSTMCell: pass\n")
    return key


def linked_to(tmp_path: Path, target) -> Path:
    sub = folder(tmp_path / "mallory")
    (sub / "cells.py").symlink_to(target)
    return sub


# --------------------------------------------------------------------------- module files


@pytest.mark.parametrize("target", ["answer key", "real answer key", "another student", "/etc/passwd",
                                    "/proc/self/environ", "inside", "dangling", "loop"])
def test_a_module_that_is_a_link_is_refused_wherever_it_points(tmp_path, answer_key, target):
    other = folder(tmp_path / "alice", **{"cells.py": "class LSTMCell: pass  # alice's work\n"})
    where = {"answer key": answer_key, "real answer key": ANSWER_KEY, "another student": other / "cells.py",
             "/etc/passwd": Path("/etc/passwd"), "/proc/self/environ": Path("/proc/self/environ"),
             "inside": "mine.py", "dangling": tmp_path / "nowhere.py", "loop": "cells.py"}[target]
    sub = linked_to(tmp_path, where)
    (sub / "mine.py").write_text("class LSTMCell: pass\n")
    module = in_time(locate, sub, ["cells"]).modules["cells"]
    assert module.problem == LINKED and module.python is None
    assert assumption_problem(sub, ["cells"]) == LINKED  # the only module: the submission is not graded, saying why


def test_a_module_in_a_linked_folder_is_refused_wherever_the_folder_points(tmp_path, answer_key):
    sub = folder(tmp_path / "mallory", **{"harness.toml": '[modules]\ncells = "work/cells.py"\n'})
    (sub / "work").symlink_to(answer_key.parent)
    assert locate(sub, ["cells"]).modules["cells"].problem == "work is a symbolic link; submit the file itself"
    shutil.rmtree(answer_key.parent)
    (sub / "real").mkdir()
    (sub / "real" / "cells.py").write_text("X = 1\n")
    (sub / "work").unlink()
    (sub / "work").symlink_to("real")  # inside the folder: refused all the same, one rule for every link
    assert locate(sub, ["cells"]).modules["cells"].problem == "work is a symbolic link; submit the file itself"


def bind_socket(path: Path) -> None:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()  # the socket file stays


def device(path: Path) -> None:
    """A character device like /dev/zero (1, 5); creating one needs privileges, so the test skips without them."""
    try:
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 5))
    except (PermissionError, AttributeError):
        pytest.skip("making a device file needs privileges")


@pytest.mark.parametrize("kind, make, message", [
    ("fifo", lambda p: os.mkfifo(p), FIFO),
    ("folder", lambda p: p.mkdir(), "cells.py is a folder, not a regular file; submit the file itself"),
    ("socket", bind_socket, "cells.py is a socket, not a regular file; submit the file itself"),
    ("device", device, "cells.py is a device, not a regular file; submit the file itself"),
])
def test_a_module_that_is_not_a_regular_file_is_refused_without_blocking(tmp_path, kind, make, message):
    sub = folder(tmp_path / "mallory")
    if kind == "socket" and len(str(sub / "cells.py")) > 100:
        pytest.skip("the path is too long for a socket")
    make(sub / "cells.py")
    assert in_time(locate, sub, ["cells"]).modules["cells"].problem == message
    assert in_time(assumption_problem, sub, ["cells"]) == message


def test_a_mapped_notebook_that_is_a_link_or_a_fifo_is_refused(tmp_path, answer_key):
    sub = folder(tmp_path / "mallory", **{"harness.toml": '[modules]\ncells = "desafio.ipynb"\nsequences = "s.py"\n'})
    (sub / "desafio.ipynb").symlink_to(answer_key)
    os.mkfifo(sub / "s.py")
    modules = in_time(locate, sub, ["cells", "sequences"]).modules
    assert modules["cells"].problem == "desafio.ipynb is a symbolic link; submit the file itself"
    assert modules["sequences"].problem == "s.py is a named pipe (FIFO), not a regular file; submit the file itself"


def test_a_module_over_the_cap_is_refused_naming_the_key_that_raises_it(tmp_path):
    sub = folder(tmp_path / "big")
    (sub / "cells.py").write_text("X = 1\n" + "#" * (9 * 1024 * 1024))
    module = locate(sub, ["cells"]).modules["cells"]
    assert module.problem == ("cells.py is 9.0 MB, over the 8.0 MB the grader reads from it: make it smaller; an "
                              "instructor can raise [limits] source_mb in the task's task.toml")
    assert locate(sub, ["cells"], 16 * 1024 * 1024).modules["cells"].python.startswith("X = 1\n")


def test_a_task_raises_the_cap_with_limits_source_mb(tmp_path):
    tasks = tmp_path / "tasks"
    shutil.copytree(ROOT / "tasks" / "cells", tasks / "cells")
    spec = tasks / "cells" / "task.toml"
    spec.write_text(spec.read_text().replace("[limits]\n", "[limits]\nsource_mb = 32\n", 1))
    specs = load_tasks(tasks, ["cells"])
    assert specs[0].limits.source_mb == 32 and source_cap(specs) == 32 * 1024 * 1024
    assert source_cap(load_tasks(ROOT / "tasks", ["cells"])) == 8 * 1024 * 1024


def test_a_notebook_line_of_200000_dashes_is_read_without_crashing(tmp_path):
    sub = folder(tmp_path / "dashes")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("-" * 200_000), nbformat.v4.new_code_cell("X = 1")]
    nbformat.write(nb, str(sub / "cells.ipynb"))
    module = locate(sub, ["cells"]).modules["cells"]  # definitions only: a cell too deep to parse is skipped
    assert module.problem is None and "X = 1" in module.python and "does not parse" in module.skipped[0].why
    (sub / "harness.toml").write_text('[notebook]\nrun = "all"\n')
    module = locate(sub, ["cells"]).modules["cells"]
    assert module.problem is None and "-" * 200_000 in module.python and "X = 1" in module.python


# --------------------------------------------------------------------------- harness.toml


@pytest.mark.parametrize("make, message", [
    (lambda p: p.mkdir(), "harness.toml is a folder, not a regular file; submit the file itself"),
    (lambda p: p.symlink_to("/dev/zero"), "harness.toml is a symbolic link; submit the file itself"),
    (lambda p: p.symlink_to(p), "harness.toml is a symbolic link; submit the file itself"),
    (lambda p: os.mkfifo(p), "harness.toml is a named pipe (FIFO), not a regular file; submit the file itself"),
    (lambda p: p.write_text(f'[modules]\ncells = "cells.py"\nnote = "{"x" * 20_000_000}"\n'),
     f"harness.toml is 19 MB, over the {HARNESS_TOML_BYTES // 1024} KB the grader reads from it: make it smaller"),
])
def test_a_harness_toml_that_is_not_a_small_regular_file_stops_the_submission_saying_why(tmp_path, make, message):
    sub = folder(tmp_path / "mallory", **{"cells.py": "X = 1\n"})
    make(sub / "harness.toml")
    with pytest.raises(SubmissionError) as caught:
        in_time(locate, sub, ["cells"])
    assert str(caught.value) == message
    assert in_time(assumption_problem, sub, ["cells"]) == message


# --------------------------------------------------------------------------- before the sandbox: hash, copy, listing


def test_the_content_hash_never_opens_a_fifo_a_device_or_a_link(tmp_path, answer_key):
    sub = folder(tmp_path / "piper", **{"cells.py": "X = 1\n"})
    os.mkfifo(sub / "notes.py")
    (sub / "harness.toml").symlink_to("/dev/zero")
    (sub / "loop.py").symlink_to(sub / "loop.py")
    (sub / "key.py").symlink_to(answer_key)
    first = in_time(content_hash, sub)
    assert first is not None and len(first) == 64
    (sub / "key.py").unlink()
    (sub / "key.py").symlink_to(tmp_path / "elsewhere.py")
    assert in_time(content_hash, sub) != first  # a link that changes is noticed, though never followed


def test_the_content_hash_of_a_huge_class_of_files_is_bounded(tmp_path, monkeypatch):
    sub = folder(tmp_path / "many", **{f"m{i}.py": "" for i in range(30)})
    monkeypatch.setattr(batch, "MAX_ENTRIES", 20)
    assert content_hash(sub) is None  # too many to walk: graded again each run rather than walked without end


def test_the_scratch_copy_holds_no_link_fifo_or_linked_content(tmp_path, answer_key):
    sub = folder(tmp_path / "piper", **{"cells.py": "X = 1\n", "data/train.txt": "a b c\n"})
    os.mkfifo(sub / "notes.py")
    (sub / "key.py").symlink_to(answer_key)
    (sub / "keys").symlink_to(answer_key.parent)
    (sub / "loop").symlink_to(sub / "loop")
    copy = in_time(make_scratch_copy, locate(sub, ["cells"]), tmp_path / "scratch")
    copied = sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*"))
    assert copied == ["cells.py", "data", "data/train.txt"]
    assert not any(SECRET in p.read_text() for p in copy.rglob("*") if p.is_file())


def test_a_submission_too_large_to_copy_is_not_graded_saying_why(tmp_path, monkeypatch):
    sub = folder(tmp_path / "hoarder", **{"cells.py": "X = 1\n", **{f"data/{i}.bin": "x" * 1000 for i in range(5)}})
    monkeypatch.setattr(submission, "COPY_TOTAL_LIMIT", 3000)
    with pytest.raises(SubmissionError, match="holds more than 0 MB of files: remove data, checkpoints"):
        make_scratch_copy(locate(sub, ["cells"]), tmp_path / "scratch")
    monkeypatch.setattr(submission, "MAX_ENTRIES", 4)
    with pytest.raises(SubmissionError, match="holds more than 4 files and folders: remove data"):
        make_scratch_copy(locate(sub, ["cells"]), tmp_path / "scratch2")


def test_discover_lists_a_link_loop_without_raising(tmp_path):
    klass = tmp_path / "class"
    folder(klass / "ada", **{"cells.py": ""})
    (klass / "loop").symlink_to(klass / "loop")
    assert [name for name, _ in discover(klass, tmp_path / "out")] == ["ada", "loop"]
    assert assumption_problem(klass / "loop", ["cells"]) == "loop is a broken link"


# --------------------------------------------------------------------------- outputs


def test_write_output_is_atomic_and_never_writes_through_a_link(tmp_path):
    out = tmp_path / "out"
    victim = folder(tmp_path / "victim", **{"results.json": "untouched"})
    write_output(out / "submissions" / "ada" / "results.json", "{}", within=out)
    assert (out / "submissions" / "ada" / "results.json").read_text() == "{}"
    (out / "submissions" / "bob").symlink_to(victim)
    with pytest.raises(OutputError, match="bob is a symbolic link, not a folder"):
        write_output(out / "submissions" / "bob" / "results.json", "{}", within=out)
    (out / "submissions" / "ada" / "report.html").symlink_to(victim / "results.json")
    with pytest.raises(OutputError, match="it is a symbolic link"):
        write_output(out / "submissions" / "ada" / "report.html", "<html>", within=out)
    assert (victim / "results.json").read_text() == "untouched"
    assert not list(out.rglob(".*.tmp"))


def test_a_class_run_never_writes_through_a_link_planted_in_out(tmp_path):
    out, victim = tmp_path / "out", folder(tmp_path / "victim", **{"results.json": "untouched"})
    (out / "submissions").mkdir(parents=True)
    (out / "submissions" / "bob").symlink_to(victim)
    payload = {"name": "bob", "status": NOT_GRADED, "reason": "empty folder", "content_hash": None, "seconds": 0.0}
    outcome = batch._save(out, 1, tmp_path / "class" / "bob", payload)
    assert outcome.status == NOT_GRADED and "bob is a symbolic link" in outcome.reason
    assert (victim / "results.json").read_text() == "untouched"  # the stale-file sweep did not reach through


def test_results_are_read_back_only_through_real_folders(tmp_path):
    out, victim = tmp_path / "out", tmp_path / "victim"
    document = Results(submission="bob", harness_version="0", created="now", tasks=[], checks=[])
    document.write(victim / "results.json")
    (out / "submissions").mkdir(parents=True)
    (out / "submissions" / "bob").symlink_to(victim)
    assert Results.read(victim / "results.json").submission == "bob"
    with pytest.raises(OSError, match="bob is a symbolic link"):
        Results.read(out / "submissions" / "bob" / "results.json", within=out)
    os.mkfifo(out / "submissions" / "fifo.json")
    with pytest.raises(OSError, match="named pipe"):
        in_time(Results.read, out / "submissions" / "fifo.json")


def test_ci_annotations_never_open_a_fifo_or_follow_a_link_in_the_modules_place(tmp_path, answer_key):
    sub = folder(tmp_path / "mallory")
    os.mkfifo(sub / "cells.py")
    (sub / "attention.py").symlink_to(answer_key)
    os.mkfifo(sub / "generation.ipynb")
    assert in_time(definition_place, sub / "cells.py", "cells.LSTMCell") is None
    assert in_time(definition_place, sub / "generation.ipynb", "generation.beam_search") is None
    assert definition_place(sub / "attention.py", "attention.LSTMCell") is None
    (sub / "sequences.py").write_text("\n\nclass LSTMCell:\n    pass\n")
    assert definition_place(sub / "sequences.py", "sequences.LSTMCell") == (None, 3, 3)


def test_grade_refuses_a_gradebook_that_is_a_link(tmp_path):
    klass, out = folder(tmp_path / "class" / "ada", **{"cells.py": ""}).parent, tmp_path / "out"
    victim = tmp_path / "victim.sqlite"
    victim.write_text("not ours")
    out.mkdir()
    (out / "gradebook.sqlite").symlink_to(victim)
    result = CliRunner().invoke(main, ["grade", str(klass), "--out", str(out), "--task", "cells",
                                       "--isolation", "basic"])
    assert result.exit_code == 2, result.output
    assert "gradebook.sqlite: it is a symbolic link" in " ".join(result.output.split())
    assert victim.read_text() == "not ours"


def test_check_inside_a_students_folder_refuses_a_linked_reports_folder(tmp_path, monkeypatch):
    """An instructor runs ``harness check .`` in a student's folder whose ``reports/<name>`` is a link to another
    student's graded results: those stay untouched, and the command says why it saved nothing."""
    victim = folder(tmp_path / "bob" / "reports" / "bob", **{"results.json": "bob's graded results"})
    sub = tmp_path / "mallory"
    shutil.copytree(REFERENCE, sub)
    (sub / "reports").mkdir()
    (sub / "reports" / "mallory").symlink_to(victim)
    monkeypatch.chdir(sub)
    result = CliRunner().invoke(main, ["check", ".", "--task", "cells"])
    assert result.exit_code == 2, result.output
    assert "the results were not saved" in result.output and "mallory is a symbolic link" in " ".join(result.output.split())
    assert sorted(p.name for p in victim.iterdir()) == ["results.json"]
    assert (victim / "results.json").read_text() == "bob's graded results"


# --------------------------------------------------------------------------- a class that holds all of it


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory):
    """A class of the reference, its copy with a FIFO beside it, and the hostile trees; graded once (cells only)."""
    base = tmp_path_factory.mktemp("hostile")
    klass, out = base / "class", base / "out"
    key = folder(base / "judge", **{"cells.py": f"# {SECRET}\n"}) / "cells.py"
    shutil.copytree(REFERENCE, klass / "ada")
    shutil.copytree(REFERENCE, klass / "piper")
    os.mkfifo(klass / "piper" / "notes.py")
    linked_to(klass / "x", key).rename(klass / "keylink")
    linked_to(klass / "x", klass / "ada" / "cells.py").rename(klass / "copier")
    linked_to(klass / "x", ANSWER_KEY).rename(klass / "answers")
    linked_to(klass / "x", "cells.py").rename(klass / "loop")
    os.mkfifo(folder(klass / "fifo") / "cells.py")
    shutil.copytree(REFERENCE, klass / "zero")
    (klass / "zero" / "harness.toml").symlink_to("/dev/zero")
    shutil.copytree(REFERENCE, klass / "huge")
    (klass / "huge" / "harness.toml").write_text(f'note = "{"z" * 20_000_000}"\n')
    (klass / "x").rmdir()
    run = in_time(lambda: grade_class(klass, out, tasks=["cells"], workers=1), timeout=900)
    return klass, out, {o.name: o for o in run.outcomes}


def test_the_class_is_graded_around_hostile_files(hostile_class):
    _, out, outcomes = hostile_class
    for name in ("ada", "piper"):  # a FIFO beside a correct module blocks nothing and costs nothing
        assert outcomes[name].status == GRADED
        results = Results.read(out / "submissions" / name / "results.json")
        assert results.score == results.max_score == 46
    for name in ("keylink", "copier", "answers", "loop"):
        assert (outcomes[name].status, outcomes[name].reason) == (NOT_GRADED, LINKED)
    assert (outcomes["fifo"].status, outcomes["fifo"].reason) == (NOT_GRADED, FIFO)
    assert outcomes["zero"].reason == "harness.toml is a symbolic link; submit the file itself"
    assert outcomes["huge"].reason == "harness.toml is 19 MB, over the 64 KB the grader reads from it: make it smaller"


def test_nothing_of_a_linked_file_reaches_an_output(hostile_class):
    _, out, _ = hostile_class
    written = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {"gradebook.csv", "gradebook.sqlite", "index.html", "results.json"}
    for path in written:
        data = path.read_bytes()
        assert SECRET.encode() not in data and b"zzzzzzzzzzzzzzzz" not in data, path
        assert b"class _Cell(nn.Module)" not in data, path  # the answer key's source
    assert max(p.stat().st_size for p in written if p.name in ("gradebook.csv", "index.html")) < 1024 * 1024
    with sqlite3.connect(out / "gradebook.sqlite") as conn:
        reasons = dict(conn.execute("SELECT submission, reason FROM outcomes"))
    assert reasons["copier"] == LINKED and not json.dumps(reasons).count(SECRET)
