"""The patch applier of tests/patches.py: a fixture stored as a diff gives back its module, byte for byte, or
refuses loudly — naming the fixture, the hunk and the line — once the reference has changed under it."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from patches import PatchError, apply, overlay

REFERENCE = "\n".join(f"line {i}" for i in range(1, 21)) + "\n"
BUGGY = REFERENCE.replace("line 10\n", "line 10  # BUG: changed\nan added line\n").replace("line 15\n", "")
PATCH = """\
--- reference/m.py
+++ buggy/example/m.py
@@ -8,5 +8,6 @@
 line 8
 line 9
-line 10
+line 10  # BUG: changed
+an added line
 line 11
 line 12
@@ -13,5 +14,4 @@
 line 13
 line 14
-line 15
 line 16
 line 17
"""


def test_a_patch_gives_back_the_module_it_was_made_from():
    assert apply(REFERENCE, PATCH) == BUGGY


def test_a_patch_made_by_diff_applies(tmp_path: Path):
    if shutil.which("diff") is None:
        pytest.skip("no diff on this machine")
    (tmp_path / "a.py").write_text(REFERENCE)
    (tmp_path / "b.py").write_text(BUGGY.replace("line 20\n", "line 20"))  # and no newline at the end
    made = subprocess.run(["diff", "-U2", "a.py", "b.py"], cwd=tmp_path, capture_output=True, text=True).stdout
    assert "\\ No newline at end of file" in made
    assert apply(REFERENCE, made) == BUGGY.replace("line 20\n", "line 20")


def test_a_hunk_still_applies_when_the_reference_gains_lines_above_it():
    moved = "a new first line\n" + REFERENCE.replace("line 12\n", "line 12\nanother\n")
    assert apply(moved, PATCH) == "a new first line\n" + BUGGY.replace("line 12\n", "line 12\nanother\n")


def test_a_stale_hunk_is_refused_with_the_fixture_hunk_and_line():
    changed = REFERENCE.replace("line 14\n", "line 14 (reworded)\n")
    with pytest.raises(PatchError) as error:
        apply(changed, PATCH, "buggy/example/m.patch")
    message = str(error.value)
    assert message.startswith("buggy/example/m.patch: hunk 2 of 2 (@@ -13,5 +14,4 @@) no longer applies")
    assert "line 14 of the reference reads 'line 14 (reworded)', the patch expects 'line 14'" in message


def test_a_hunk_whose_lines_are_found_twice_away_from_its_place_is_refused():
    twice = "x\n" * 3 + REFERENCE.replace("line 10\n", "") + "line 8\nline 9\nline 10\nline 11\nline 12\n" * 2
    with pytest.raises(PatchError, match="hunk 1 of 2 .* its lines are not at line 8 but at lines 23, 28"):
        apply(twice, PATCH)


def test_a_hand_edited_hunk_with_a_wrong_header_is_refused():
    with pytest.raises(PatchError, match=r"@@ -8,5 \+8,6 @@ has 5 old and 5 new lines"):
        apply(REFERENCE, PATCH.replace("+an added line\n", ""))
    with pytest.raises(PatchError, match="no hunk"):
        apply(REFERENCE, "not a diff\n")


def test_overlay_lays_whole_modules_and_patched_ones_over_the_reference(tmp_path: Path):
    reference, fixture = tmp_path / "reference", tmp_path / "buggy" / "example"
    reference.mkdir()
    fixture.mkdir(parents=True)
    (reference / "m.py").write_text(REFERENCE)
    (reference / "other.py").write_text("x = 1\n")
    (fixture / "EXPECTED.toml").write_text('module = "m"\n')
    (fixture / "m.patch").write_text(PATCH)
    (fixture / "other.py").write_text("x = 2  # BUG\n")
    dest = overlay(fixture, reference, tmp_path / "dest")
    assert sorted(p.name for p in dest.iterdir()) == ["m.py", "other.py"]
    assert (dest / "m.py").read_text() == BUGGY and (dest / "other.py").read_text() == "x = 2  # BUG\n"
    (reference / "m.py").write_text(REFERENCE.replace("line 9\n", "line nine\n"))
    with pytest.raises(PatchError, match="^buggy/example/m.patch: hunk 1 of 2"):
        overlay(fixture, reference, tmp_path / "again")
