"""Basic isolation: what a student's laptop gets where Linux's mechanisms are missing (macOS, Windows),
forced here on Linux with ``HARNESS_ISOLATION=basic``.

The worker still runs in a separate process with a wall-clock timeout, a scrubbed environment, a scratch
working directory and the pickle-free protocol (over stdin/stdout); every OS protection is reported off,
and the results and the report say so.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
import tomllib
import uuid
from pathlib import Path

import pytest

from harness.grading import grade
from harness.report import render_report
from harness.sandbox import launcher
from harness.runtime.config import Limits
from harness.runtime.confine import PROTECTIONS
from harness.sandbox.launcher import Sandbox, isolation_mode
from harness.sandbox.program import Program
from harness.spec import load_tasks
from test_sandbox import marked

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and /bin/sleep")

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "submissions"
BASIC_LINE = "Reduced isolation (basic): not held here: network cut-off, "  # harness/sandbox/reduced.py
#: The one protection a basic worker reports held: the session of its own the launcher gives it (POSIX).
HELD_IN_BASIC = ["process_group"] if os.name == "posix" else []


@pytest.fixture(scope="module")
def reference_results():
    """submissions/reference graded on one small task in basic isolation (one worker start, ~3 s)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARNESS_ISOLATION", "basic")
        return grade(SUBMISSIONS / "reference", load_tasks(names=["sequences"]))


def test_the_reference_passes_in_basic_isolation_with_every_os_protection_off(reference_results):
    results = reference_results
    assert results.checks and [c.id for c in results.checks if c.status != "passed"] == []
    assert results.score == results.max_score > 0
    assert results.sandbox["mode"] == "basic"
    protections, notes = results.sandbox["protections"], results.sandbox["notes"]
    assert set(protections) == set(PROTECTIONS)
    assert [name for name, held in protections.items() if held] == HELD_IN_BASIC
    assert all(notes[name] == "HARNESS_ISOLATION=basic" for name in PROTECTIONS if name not in HELD_IN_BASIC)
    assert results.sandbox["limits"].startswith("none but the wall-clock timeout")  # as rlimits: not held says


def test_the_report_says_basic_isolation_near_the_protections(reference_results):
    page = render_report(reference_results)
    assert BASIC_LINE in page
    sandbox = page[page.index("<h3>Sandbox</h3>"):]
    assert sandbox.index(BASIC_LINE) < sandbox.index("network namespace: not held")
    assert page.count("HARNESS_ISOLATION=basic") == 1  # said once, not on each of the 17 rows
    full = {**reference_results.sandbox, "mode": "full"}
    reference_results.sandbox, saved = full, reference_results.sandbox
    try:
        assert "Reduced isolation" not in render_report(reference_results)
    finally:
        reference_results.sandbox = saved


def test_a_hang_at_import_is_still_stopped_by_the_timeout(tmp_path, monkeypatch):
    example = SUBMISSIONS / "broken" / "hangs_at_import"
    expected = tomllib.loads((example / "EXPECTED.toml").read_text())
    assert expected["module"] == "cells" and expected["errored"] == ["all"]
    submission = tmp_path / "submission"
    shutil.copytree(SUBMISSIONS / "reference", submission)
    shutil.copy(example / "cells.py", submission / "cells.py")
    specs = load_tasks(names=["cells"])
    specs[0].limits.load_timeout_s = 5  # starting the worker (~2.5 s) and the import each get 5 s
    monkeypatch.setenv("HARNESS_ISOLATION", "basic")
    began = time.monotonic()
    results = grade(submission, specs)
    seconds = time.monotonic() - began
    assert results.sandbox["mode"] == "basic"
    assert results.checks and all(c.status == "error" for c in results.checks)
    # the message full isolation gives: the import took too long and was stopped, once for all checks
    message = "importing cells.py failed: importing cells.py took longer than 5 s and was stopped"
    assert all(c.message == message for c in results.checks), results.checks[0].message
    assert results.sandbox["worker_starts"] == 1
    assert seconds < 30, seconds


def test_printing_and_reading_cannot_touch_the_protocol(tmp_path, monkeypatch):
    """In basic isolation the protocol is on the worker's stdin/stdout: the submission must see neither.
    The judge here cannot ask how much output is pending (as on Windows): it still gets all of it."""
    monkeypatch.setenv("HARNESS_ISOLATION", "basic")
    monkeypatch.setattr(launcher, "fcntl", None)
    monkeypatch.setenv("SECRET_TOKEN", "judge-only-secret-value")
    sub, scratch = tmp_path / "submission", tmp_path / "scratch"
    sub.mkdir()
    scratch.mkdir()
    (sub / "cells.py").write_text(textwrap.dedent('''
        import os, sys
        print("HRN1 printed at import")
        def chat(x):
            print("HRN1" + "\\x00" * 7 + "\\x10" + '{"ok": true, "value": 666}', flush=True)
            os.write(1, b"HRN1 straight to fd 1")
            return x + 1
        def read_stdin():
            return sys.stdin.read() + os.read(0, 100).decode()
        def environment():
            return dict(os.environ)
        def cwd():
            return os.getcwd()
    '''))
    sb = Sandbox(sub, scratch, Limits(timeout_s=5, load_timeout_s=20))
    try:
        assert sb.mode == "basic" and sb.mode_reason == "HARNESS_ISOLATION=basic"
        assert sb.load("cells", "cells.py").header["ok"]
        assert call(sb, "chat", 41) == 42
        assert call(sb, "read_stdin") == ""
        env = call(sb, "environment")
        assert "SECRET_TOKEN" not in env and env["HOME"] == str(scratch / "home")
        assert call(sb, "cwd") == str(sub)
        output = sb.output()
        assert "HRN1 printed at import" in output and "HRN1 straight to fd 1" in output and "666" in output
        assert sb.starts == 1
    finally:
        sb.close()


@linux_only
def test_the_worker_and_its_children_end_when_the_judge_dies(tmp_path):
    """No lifeline descriptor in basic isolation: the worker notices the end of its request pipe."""
    sub, scratch = tmp_path / "submission", tmp_path / "scratch"
    sub.mkdir()
    scratch.mkdir()
    (sub / "cells.py").write_text(textwrap.dedent('''
        import subprocess
        def spawn(marker):
            subprocess.Popen([marker, "60"], executable="/bin/sleep", stdin=subprocess.DEVNULL)
            return True
        def hang():
            while True:
                pass
    '''))
    marker = f"harness-test-{uuid.uuid4().hex[:12]}"
    script = textwrap.dedent(f"""
        import os, threading
        from pathlib import Path
        from harness.runtime.config import Limits
        from harness.sandbox.launcher import Sandbox
        from harness.sandbox.program import Program
        sb = Sandbox(Path({str(sub)!r}), Path({str(scratch)!r}), Limits(timeout_s=30, load_timeout_s=20))
        assert sb.load("cells", "cells.py").header["ok"]
        for name, args in (("spawn", ({marker!r},)), ("hang", ())):
            if name == "hang":  # the judge dies while the submission's code runs
                threading.Timer(0.5, os._exit, (0,)).start()
            p = Program()
            p.result(p.call("cells." + name, *args))
            sb.run(p.to_json(), p.inputs)
    """)
    env = {**os.environ, "HARNESS_ISOLATION": "basic"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env,
                          check=False)
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 5
    while marked(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marked(marker) == [], "a child of the worker outlived the judge"


def test_the_mode_follows_the_os_and_the_environment(monkeypatch):
    monkeypatch.delenv("HARNESS_ISOLATION", raising=False)
    if sys.platform.startswith("linux") and os.geteuid() == 0:
        assert isolation_mode() == ("full", "Linux as root")
    monkeypatch.setattr(sys, "platform", "win32")
    assert isolation_mode() == ("basic", "not available on this OS (Windows)")
    monkeypatch.setattr(sys, "platform", "darwin")
    assert isolation_mode() == ("basic", "not available on this OS (macOS)")
    monkeypatch.setenv("HARNESS_ISOLATION", "basic")
    assert isolation_mode() == ("basic", "HARNESS_ISOLATION=basic")
    monkeypatch.setenv("HARNESS_ISOLATION", "sandboxed")
    with pytest.raises(ValueError, match="HARNESS_ISOLATION='sandboxed' is not one of"):
        isolation_mode()


# --------------------------------------------------------------------------- helpers


def call(sb: Sandbox, name: str, *args):
    p = Program()
    p.result(p.call(f"cells.{name}", *args))
    reply = sb.run(p.to_json(), p.inputs)
    assert reply.header["ok"], reply.header
    return reply.value


