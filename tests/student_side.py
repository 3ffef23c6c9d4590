"""The student's side of tests/test_verdicts.py, started in the background as soon as the tests are collected.

Every example submission is checked the way a student's machine checks it — from a bundle released from the
same specs, with the student package alone, in a fresh venv outside the repository — while the instructor's
side of the suite runs. The release runs in a subprocess of this environment (it trains the trained tasks'
reference models when the baselines cache is cold), the checks in a subprocess of the student's venv
(tests/student_driver.py); a thread waits for both, so the suite's own tests are not held up. It writes what it
found into its folder (``done.json``, or ``failed.txt`` saying why), where every process of the run reads it
(:class:`ResultsIn`).
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent
RELEASE = """
import sys
sys.path.insert(0, {tests!r})
from harness.release import write_release
from test_verdicts import fast_specs
write_release({folder!r}, fast_specs())
"""


DONE, FAILED = "done.json", "failed.txt"


class StudentSide:
    """One background run over every example, in the folder ``root``."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True)
        self._thread = threading.Thread(target=self._run, name="student-side", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            files = self._check_every_example()
        except BaseException as exc:  # noqa: BLE001 - reported by ResultsIn, in the tests that need them
            (self.root / FAILED).write_text(f"{type(exc).__name__}: {exc}")
        else:
            (self.root / f"{DONE}.part").write_text(json.dumps(files))
            (self.root / f"{DONE}.part").rename(self.root / DONE)

    def _check_every_example(self) -> dict:
        from harness.release.wheel import build_student_wheel
        from patches import PatchError
        from student_env import make_student_venv, student_subprocess_env
        from test_verdicts import ALL_EXAMPLES, SUBMISSIONS, cpu_budget_of, expected_of, limits_of, overlay, tasks_of

        python = make_student_venv(build_student_wheel(self.root / "wheel"), self.root / "venv", with_pip=False)
        release = self.root / "release"
        done = subprocess.run([sys.executable, "-c", RELEASE.format(tests=str(TESTS), folder=str(release))],
                              capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, "the release failed:\n" + done.stderr[-5000:]
        jobs = {}
        for name in ALL_EXAMPLES:
            path = SUBMISSIONS / name
            if "/" in name:
                try:
                    path = overlay(path, self.root / "examples" / name.replace("/", "-"))
                except PatchError:  # its own test says so, from the same overlay; the others go on
                    continue
            tasks = tasks_of(name) or sorted(p.name for p in (release / ".harness" / "tasks").iterdir())
            limits = limits_of(expected_of(name))
            cpu = {task: cpu_budget_of(task, limits) for task in tasks}  # as fast_specs gives the live side
            jobs[name] = {"name": name.replace("/", "-"), "path": str(path), "tasks": tasks,
                          "limits": {k: v for k, v in limits.items() if k != "cpu_budget_s"}, "cpu_budget_s": cpu}
        config = self.root / "jobs.json"
        config.write_text(json.dumps({"bundle": str(release / ".harness"), "jobs": list(jobs.values())}))
        done = subprocess.run([str(python), str(TESTS / "student_driver.py"), str(config), str(self.root / "results")],
                              capture_output=True, text=True, cwd=self.root, env=student_subprocess_env(),
                              timeout=3600)
        assert done.returncode == 0, "the student's side failed:\n" + done.stdout[-3000:] + done.stderr[-5000:]
        return {name: f"{job['name']}.json" for name, job in jobs.items()}

    def close(self, wait: bool) -> None:
        """Wait for the run to finish (other processes of the suite may need it), unless ``wait`` is false."""
        self._thread.join(timeout=None if wait else 0)


class ResultsIn:
    """The results of the run in ``root`` (example name -> Results), read when first asked for: a test grades its
    own side first, and waits for this run only when it compares the two."""

    def __init__(self, root: Path, timeout: float = 3600):
        self.root, self.timeout = root, timeout
        self._results: dict | None = None

    def __getitem__(self, name: str):
        if self._results is None:
            self._results = self._wait()
        return self._results[name]

    def _wait(self) -> dict:
        from harness.results import Results

        deadline = time.monotonic() + self.timeout
        while not (self.root / DONE).exists():
            if (self.root / FAILED).exists():
                raise AssertionError("checking the examples on the student's side failed: "
                                     + (self.root / FAILED).read_text())
            if time.monotonic() > deadline:
                raise AssertionError(f"the student's side did not finish within {self.timeout:.0f} s ({self.root})")
            time.sleep(0.5)
        files = json.loads((self.root / DONE).read_text())
        return {name: Results.read(self.root / "results" / file) for name, file in files.items()}
