"""Finding a submission's modules: .py, notebooks (magics skipped), harness.toml, bad input."""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from harness.submission import SubmissionError, locate, make_scratch_copy

ROOT = Path(__file__).resolve().parents[1]


def notebook(path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title")] + [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, str(path))
    return path


def test_python_then_notebook_then_missing(tmp_path):
    (tmp_path / "cells.py").write_text("X = 1\n")
    notebook(tmp_path / "generation.ipynb", "Y = 2")
    sub = locate(tmp_path, ["cells", "generation", "attention"])
    assert sub.modules["cells"].kind == "py"
    assert sub.modules["generation"].kind == "ipynb" and "Y = 2" in sub.modules["generation"].python
    assert sub.modules["attention"].problem == "attention.py not submitted"


def test_magics_and_shell_lines_are_skipped_and_reported(tmp_path):
    path = notebook(tmp_path / "cells.ipynb", "%matplotlib inline\nimport math\n!pip install torch",
                    "%%time\nA = math.pi", "%%bash\necho hi", "if True:\n    !ls\n    B = 1", "files = !ls")
    source = locate(tmp_path, ["cells"]).modules["cells"]
    namespace: dict = {}
    exec(compile(source.python, str(path), "exec"), namespace)  # the converted file is valid Python
    assert namespace["A"] == pytest.approx(3.14159, abs=1e-4) and namespace["B"] == 1
    reasons = [(s.cell, s.why) for s in source.skipped]
    assert (1, "line magic") in reasons and (1, "shell command") in reasons
    assert (2, "cell magic line") in reasons and (4, "shell command") in reasons
    assert any(s.cell == 3 and "whole cell" in s.why for s in source.skipped)
    assert (5, "shell or magic assignment") in reasons


def test_a_self_check_cell_is_skipped_not_graded_as_an_import_of_the_grader(tmp_path):
    """A student checks the notebook from inside it (harness.check); graded, that cell is left out whole. A cell
    that does more than that stays, and its import of the grader is then reported as such."""
    notebook(tmp_path / "sequences.ipynb", "X = 1", 'import harness\nharness.check("sequences.ipynb")',
             "from harness import check\nresult = check()\nresult", "import harness\nY = 2")
    source = locate(tmp_path, ["sequences"]).modules["sequences"]
    assert [(s.cell, s.why) for s in source.skipped] == [(2, "a harness self-check cell: the whole cell is skipped"),
                                                          (3, "a harness self-check cell: the whole cell is skipped")]
    assert "harness.check" not in source.python and "import harness\nY = 2" in source.python


def test_notebook_lines_map_back_to_cells(tmp_path):
    notebook(tmp_path / "cells.ipynb", "a = 1", "b = 2\nc = 1 / 0")
    source = locate(tmp_path, ["cells"]).modules["cells"]
    line = source.python.splitlines().index("c = 1 / 0") + 1
    assert source.locate_line(line) == "cells.ipynb, cell 2, line 2"


def test_invalid_notebook_is_a_problem_not_a_crash(tmp_path):
    (tmp_path / "cells.ipynb").write_text('{"cells": [')
    source = locate(tmp_path, ["cells"]).modules["cells"]
    assert "not a readable notebook" in source.problem and source.python is None
    (tmp_path / "cells.ipynb").write_text(json.dumps({"cells": "nope"}))
    assert "notebook" in locate(tmp_path, ["cells"]).modules["cells"].problem


def test_harness_toml_maps_modules_and_refuses_escapes(tmp_path):
    notebook(tmp_path / "desafio_1.ipynb", "Z = 3")
    (tmp_path / "harness.toml").write_text('cells = "desafio_1.ipynb"\n')
    assert locate(tmp_path, ["cells"]).modules["cells"].path.name == "desafio_1.ipynb"
    (tmp_path / "harness.toml").write_text('[modules]\ncells = "../outside.py"\n')
    with pytest.raises(SubmissionError, match="outside the submission"):
        locate(tmp_path, ["cells"])
    (tmp_path / "harness.toml").write_text("cells = \n")
    with pytest.raises(SubmissionError, match="not valid TOML"):
        locate(tmp_path, ["cells"])


def test_archives_and_missing_folders_are_clear_errors(tmp_path):
    with pytest.raises(SubmissionError, match="no such folder"):
        locate(tmp_path / "nope", ["cells"])
    (tmp_path / "work.zip").write_bytes(b"PK")
    with pytest.raises(SubmissionError, match="unpack the archive"):
        locate(tmp_path / "work.zip", ["cells"])


def test_scratch_copy_holds_modules_as_python(tmp_path):
    sub = locate(ROOT / "submissions" / "notebook", ["cells", "generation", "attention"])
    copy = make_scratch_copy(sub, tmp_path / "copy")
    assert (copy / "cells.py").read_text() == sub.modules["cells"].python
    assert (copy / "attention.py").exists() and not (copy / ".git").exists()
