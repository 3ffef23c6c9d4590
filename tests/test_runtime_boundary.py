"""The worker's boundary is a folder: harness/runtime holds what runs in the worker, imports nothing of
the rest of the harness, and is exactly what the launcher copies into a worker."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import harness.runtime
from harness.sandbox.launcher import RUNTIME_DIR, RUNTIME_PACKAGE, Sandbox

RUNTIME = Path(harness.runtime.__file__).resolve().parent
ALLOWED = set(sys.stdlib_module_names) | {"torch", "numpy", "safetensors"}
SIBLINGS = {p.stem for p in RUNTIME.glob("*.py")}


def refused_imports(path: Path) -> list[str]:
    """Each import of ``path`` that reaches past the standard library, torch, numpy, safetensors and the
    runtime's own modules: ``"line 12: harness.spec"``. Dynamic imports of a constant name count too."""
    refused = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [(0, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [(node.level, node.module)] if node.module else [(node.level, a.name) for a in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None))
              in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant)):
            names = [(0, str(node.args[0].value))]
        else:
            continue
        for level, name in names:
            top = name.split(".")[0]
            if (level == 0 and top not in ALLOWED) or (level == 1 and top not in SIBLINGS) or level > 1:
                refused.append(f"line {node.lineno}: {'.' * level}{name}")
    return refused


@pytest.mark.parametrize("path", sorted(RUNTIME.glob("*.py")), ids=lambda p: p.name)
def test_the_runtime_imports_only_the_standard_library_torch_numpy_safetensors_and_itself(path):
    assert refused_imports(path) == []


def test_the_import_rule_catches_what_it_is_for(tmp_path):
    source = tmp_path / "leaky.py"
    source.write_text("import os\nimport torch.nn\nfrom . import wire\nfrom .ops import OPS\n"
                      "from harness.spec import load_tasks\nfrom ..checks import compare\nimport reference_models\n"
                      "from . import nowhere\nimport importlib\nimportlib.import_module('harness.grading')\n")
    assert refused_imports(source) == ["line 5: harness.spec", "line 6: ..checks", "line 7: reference_models",
                                       "line 8: .nowhere", "line 10: harness.grading"]


def files_under(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


def test_the_launcher_copies_exactly_the_runtime_folder_and_always_fresh(tmp_path):
    assert RUNTIME_DIR == RUNTIME
    (tmp_path / "submission").mkdir()
    sandbox = Sandbox(tmp_path / "submission", tmp_path / "scratch")
    root = sandbox._install_runtime()
    copied = root / RUNTIME_PACKAGE
    assert [p.name for p in root.iterdir()] == [RUNTIME_PACKAGE]
    assert files_under(copied) == files_under(RUNTIME)
    assert not list(copied.rglob("__pycache__"))
    (copied / "left_by_a_worker.py").write_text("x = 1\n")
    (copied / "wire.py").write_text("tampered\n")
    sandbox._install_runtime()  # a restart
    assert files_under(copied) == files_under(RUNTIME)
