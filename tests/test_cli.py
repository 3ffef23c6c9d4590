"""The command line as a user meets it: summary, files written, exit status."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from harness.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_check_writes_json_and_report_and_exits_0(tmp_path):
    out_json, out_html = tmp_path / "r.json", tmp_path / "r.html"
    result = CliRunner().invoke(main, ["check", str(ROOT / "submissions" / "reference"), "--task", "cells",
                                       "--json", str(out_json), "--report", str(out_html)])
    assert result.exit_code == 0, result.output
    assert "Score 38/38 (100%)" in result.output
    data = json.loads(out_json.read_text())
    assert data["schema_version"] == 3 and data["score"] == data["max_score"] == 38
    # the checks of tasks/cells/hidden.toml did not run, and the summary says how many points that leaves out
    assert "public checks: 38 of 38 points; 8 more points (6 checks) are graded after submission" in " ".join(
        result.output.split())
    # one of them is of visibility "hidden" (tasks/cells/hidden.toml): the student is told it will never be shown
    assert ("1 of them (1 point) is hidden: its result is never shown to students, though its points count towards "
            "the grade; the other 5 are shown to students after the due date") in " ".join(result.output.split())
    assert {"id", "status", "points", "max_points", "message", "hint"} <= set(data["checks"][0])
    assert "<svg" in out_html.read_text()


def test_a_failing_submission_still_exits_0_and_says_what_to_fix(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "cells.py").write_text((ROOT / "submissions" / "buggy" / "gru_z_swapped" / "cells.py").read_text())
    result = CliRunner().invoke(main, ["check", str(sub), "--task", "cells", "--json", str(tmp_path / "r.json"),
                                       "--report", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    assert "Fix first" in result.output and "cells.GRUCell.forward" in result.output


def test_missing_path_and_bad_spec_exit_2_with_a_clear_message(tmp_path):
    result = CliRunner().invoke(main, ["check", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "no such folder" in result.output
    bad = tmp_path / "tasks" / "cells"
    bad.mkdir(parents=True)
    (bad / "task.toml").write_text('[task]\nname = "cells"\ntitle = "x"\nmodule = "cells"\n[checks."cells.nope"]\npoints = 1\n')
    result = CliRunner().invoke(main, ["check", str(ROOT / "submissions" / "reference"), "--tasks-dir",
                                       str(tmp_path / "tasks")])
    assert result.exit_code == 2 and "task.toml" in result.output and "unknown check id" in result.output
