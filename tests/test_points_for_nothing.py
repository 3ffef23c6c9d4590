"""No points for nothing, in every kind: a stub (zeros, a constant, NaN) or code that raises earns nothing, and the
implement-it-yourself rule reads every module a submission imports from its own folder, as Python runs it.

Graded on the worked example task (docs/examples/tasks/charlm): its declared kinds are the engine's.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.grading import grade
from harness.spec import load_tasks

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples"
GOOD = (EXAMPLE / "submissions" / "good" / "charlm.py").read_text()
SOFTMAX = "    z = logits / temperature\n    return torch.exp(z - torch.logsumexp(z, dim=-1, keepdim=True))\n"
assert SOFTMAX in GOOD


@pytest.fixture(scope="module")
def specs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("course") / "tasks"
    shutil.copytree(EXAMPLE / "tasks", folder)
    return load_tasks(folder)


def graded(specs, folder: Path, files: dict[str, str]) -> dict:
    """check id -> its result, for a submission made of ``files`` (path -> text)."""
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return {c.id: c for c in grade(folder, specs, visibility=("public",)).checks}


def softmax_is(body: str) -> str:
    return GOOD.replace(SOFTMAX, body)


@pytest.mark.parametrize("body, phrase", [
    ("    return torch.zeros_like(logits)\n", "every directional derivative is 0"),
    ("    return logits * float('nan')\n", "not finite (NaN or infinity)"),
    ("    return torch.ones_like(logits) / logits.shape[-1]\n", "every directional derivative is 0"),
], ids=["zeros", "nan", "constant"])
def test_a_stub_earns_nothing_from_the_declared_gradcheck_or_the_rule(specs, tmp_path, body, phrase):
    checks = graded(specs, tmp_path, {"charlm.py": softmax_is(body)})
    gradcheck, rule = checks["charlm.softmax_t.gradcheck"], checks["charlm.softmax_t.implementation"]
    assert (gradcheck.status, gradcheck.points) == ("failed", 0) and phrase in gradcheck.message, gradcheck.message
    assert (rule.status, rule.points) == ("failed", 0) and "nothing to judge yet" in rule.message, rule.message
    assert checks["charlm.CharScorer.forward"].status == "passed"  # the rest of the module is untouched


@pytest.mark.parametrize("error", ["RuntimeError", "ValueError", "ZeroDivisionError"])
def test_code_that_raises_any_error_earns_no_implementation_points(specs, tmp_path, error):
    checks = graded(specs, tmp_path, {"charlm.py": softmax_is(f"    raise {error}('not yet')\n")})
    rule = checks["charlm.softmax_t.implementation"]
    assert (rule.status, rule.points) == ("failed", 0)
    assert "nothing to judge yet" in rule.message and f"raised {error}: not yet" in rule.message, rule.message


HELPER_CORE = "import torch\n\n\ndef normalised(z):\n    return z.softmax(dim=-1)\n"
HELPER_GOOD = "import torch\n\n\ndef normalised(z):\n    return torch.exp(z - torch.logsumexp(z, dim=-1, keepdim=True))\n"


@pytest.mark.parametrize("core, failing", [(HELPER_CORE, True), (HELPER_GOOD, False)], ids=["forbidden", "correct"])
def test_the_rule_follows_the_modules_imported_from_the_submissions_folder(specs, tmp_path, core, failing):
    """charlm.py -> helpers/maths.py -> (relative import) helpers/core.py: the built-in two modules away is found
    and named with its file and line; the same helpers written with tensor operations keep every point."""
    files = {"charlm.py": softmax_is("    return maths.softmax_t(logits, temperature)\n").replace(
                 "import torch\n", "import torch\n\nfrom helpers import maths\n", 1),
             "helpers/__init__.py": "",
             "helpers/maths.py": "from .core import normalised\n\n\ndef softmax_t(logits, temperature):\n"
                                 "    return normalised(logits / temperature)\n",
             "helpers/core.py": core}
    checks = graded(specs, tmp_path, files)
    rule = checks["charlm.softmax_t.implementation"]
    if failing:
        assert rule.status == "failed" and "Tensor.softmax (helpers/core.py, line 5" in rule.message, rule.message
        assert [c for c, r in checks.items() if r.status != "passed"] == ["charlm.softmax_t.implementation"]
    else:
        assert all(r.status == "passed" for r in checks.values()), {c: r.message for c, r in checks.items()}


def test_an_encoding_declaration_is_read_as_the_worker_runs_it(specs, tmp_path):
    """In UTF-7, ``+AAo-`` is a line break: read as UTF-8 the line is a comment, run as Python it is code."""
    hidden = "    return softmax(logits / temperature)  # +AAo-    return (logits / temperature).softmax(-1)\n"
    source = softmax_is(hidden).replace("import torch\n", "import torch\nfrom torch import softmax\n")
    source = "# coding: utf-7\n" + source.replace(" + self.bias", ".add(self.bias)").replace(
        "[bos] + out", "[bos, *out]")  # a lone + is not UTF-7
    assert source.count("+") == 1
    rule = graded(specs, tmp_path, {"charlm.py": source})["charlm.softmax_t.implementation"]
    assert rule.status == "failed" and "torch.softmax" in rule.message and "Tensor.softmax" in rule.message, rule.message


def test_a_notebook_line_the_parser_cannot_hold_costs_that_submission_only(specs, tmp_path):
    """200,000 minus signs: Python's parser gives up (MemoryError) in the worker and in the judge's reading; the
    judge turns both into that submission's messages and returns its results."""
    cells = [GOOD, "x = " + "-" * 200_000 + "1\n"]
    notebook = {"cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
                           "outputs": [], "source": text} for i, text in enumerate(cells)],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "charlm.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    (tmp_path / "harness.toml").write_text('[notebook]\nrun = "all"\n')  # definitions only would skip that cell
    checks = {c.id: c for c in grade(tmp_path, specs, visibility=("public",)).checks}
    assert checks and all(c.points == 0 for c in checks.values())
    assert all(c.status == "error" and "charlm.ipynb" in c.message for c in checks.values()), \
        {c.id: c.message for c in checks.values()}


def test_a_utf7_file_that_would_crash_a_utf8_reading_is_graded_as_the_worker_runs_it(specs, tmp_path):
    """The issue's probe: read as UTF-8, a line is 200,000 nested minus signs (the parser gives up); run as UTF-7
    it is a comment. The judge reads what the worker runs: nothing to choke on, every check graded."""
    source = GOOD.replace(" + self.bias", ".add(self.bias)").replace("[bos] + out", "[bos, *out]")
    source = "# coding: utf-7\n+ACM- " + "-" * 200_000 + "1\n" + source
    checks = graded(specs, tmp_path, {"charlm.py": source})
    assert all(c.status == "passed" for c in checks.values()), {c.id: c.message for c in checks.values()}
