"""`harness init`: starter files written from the specs, so that what students get and what is graded
cannot drift apart. Every name of every shipped spec is generated, the folder imports, and grading it
fails every check as "not implemented" (or, for cells, "has no parameter named"), never "does not define"."""
from __future__ import annotations

import importlib.util
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.recipe import STUDENT_SETTABLE, current
from harness.spec import load_tasks
from harness.submission import notebook_to_python
from harness.trained_by import by_student

ROOT = Path(__file__).resolve().parents[1]
SPECS = load_tasks()
FUNCTION_TASKS = [s.name for s in SPECS if s.dataset is None]  # the trained tasks have build_model or fit
EXPECTED = re.compile(r"not implemented yet|has no parameter named")

PROBE = r"""
import importlib, inspect, json, sys
import torch
sys.path.insert(0, sys.argv[1])
out = {}
for module, names in json.loads(sys.argv[2]).items():
    mod = importlib.import_module(module)
    for name in names:
        obj = getattr(mod, name, None)
        info = {"defined": obj is not None}
        if isinstance(obj, type):
            info["module"] = issubclass(obj, torch.nn.Module)
            sig = inspect.signature(obj.__init__)
            args = [p for p in list(sig.parameters.values())[1:] if p.default is inspect.Parameter.empty]
            if all(p.annotation == "int" for p in args):
                info["parameters"] = len(list(obj(*[4] * len(args)).parameters()))
            try:  # unbound, with None for self and every argument: the body raises before reading them
                obj.forward(*[None] * len(inspect.signature(obj.forward).parameters))
            except NotImplementedError as exc:
                info["raises"] = str(exc)
        elif callable(obj):
            try:
                obj(*[None] * len(inspect.signature(obj).parameters))
            except NotImplementedError as exc:
                info["raises"] = str(exc)
        out[f"{module}.{name}"] = info
    out[f"{module}.HYPERPARAMETERS"] = getattr(mod, "HYPERPARAMETERS", None)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def starter(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("assignment")
    result = CliRunner().invoke(main, ["init", str(folder)])
    assert result.exit_code == 0, result.output
    return folder


def test_every_name_of_every_spec_is_generated_and_the_folder_imports(starter):
    assert sorted(p.name for p in starter.glob("*.py")) == sorted(f"{s.module}.py" for s in SPECS)
    names = {s.module: s.names for s in SPECS}
    probe = subprocess.run([sys.executable, "-c", PROBE, str(starter), json.dumps(names)],
                           capture_output=True, text=True, timeout=120, check=False)
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    for spec in SPECS:
        for name in spec.names:
            info = found[f"{spec.module}.{name}"]
            assert info["defined"], f"{spec.module}.{name}"
            assert info.get("raises", "").startswith("TODO: "), f"{spec.module}.{name}: {info}"
            if "module" in info:
                assert info["module"] and info.get("parameters", 0) == 0, f"{spec.module}.{name}: {info}"
        if spec.training and not by_student(spec):  # a student-trained task's fit has no recipe to set
            hyper = found[f"{spec.module}.HYPERPARAMETERS"]
            own = {k: current(spec.training, k) for k in STUDENT_SETTABLE if k in spec.training["bounds"]}
            # a key the task leaves unset (momentum with Adam, patience without early stopping) is left out
            assert hyper == {k: v for k, v in own.items() if v is not None}
            for key, value in hyper.items():
                if key == "optimizer":  # its bounds are the kinds a student may choose
                    assert value in spec.training["bounds"][key]
                    continue
                low, high = spec.training["bounds"][key]
                assert low <= value <= high


def test_grading_the_starter_fails_every_check_as_not_implemented(starter, tmp_path):
    """The function tasks with the shipped specs; the task modules with copies of their specs without
    figures, which would train the reference model on a cold cache (the checks are the same)."""
    tasks = tmp_path / "tasks"
    for spec in SPECS:
        if spec.name not in FUNCTION_TASKS:
            folder = tasks / spec.name
            folder.mkdir(parents=True)
            for f in spec.path.parent.iterdir():
                folder.joinpath(f.name).write_bytes(f.read_bytes())
            toml = folder / "task.toml"
            toml.write_text(re.sub(r"(?m)^figures\s*=.*$", "", toml.read_text()))
    runs = [[arg for t in FUNCTION_TASKS for arg in ("--task", t)], ["--tasks-dir", str(tasks)]]
    seen = 0
    for i, extra in enumerate(runs):
        out = tmp_path / f"r{i}.json"
        result = CliRunner().invoke(main, ["check", str(starter), *extra, "--json", str(out),
                                           "--report", str(tmp_path / f"r{i}.html")])
        assert result.exit_code == 0, result.output
        checks = json.loads(out.read_text())["checks"]
        for c in checks:
            assert c["status"] == "failed" and EXPECTED.search(c["message"]), (c["id"], c["message"])
            assert "does not define" not in c["message"]
        seen += len(checks)
    assert seen == sum(not c.graded_later for s in SPECS for c in s.checks)  # public checks only


def test_notebooks_hold_a_markdown_cell_before_each_definition_and_grade_the_same(tmp_path):
    result = CliRunner().invoke(main, ["init", str(tmp_path), "--notebook", "--task", "cells", "--task", "generation",
                                       "--no-workflow"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cells.ipynb", "generation.ipynb"]
    for spec in load_tasks(None, ["cells", "generation"]):
        path = tmp_path / f"{spec.module}.ipynb"
        nb = nbformat.read(str(path), as_version=4)
        nbformat.validate(nb)
        kinds = [c.cell_type for c in nb.cells]
        assert kinds == ["markdown", "code"] + ["markdown", "code"] * len(spec.names)
        for name, heading in zip(spec.names, nb.cells[2::2]):
            assert heading.source.startswith(f"## `{name}`")
        source = notebook_to_python(path)
        assert source.problem is None and not source.skipped
        compile(source.python, str(path), "exec")
    out = tmp_path / "r.json"
    graded = CliRunner().invoke(main, ["check", str(tmp_path), "--task", "cells", "--task", "generation",
                                       "--json", str(out), "--report", str(tmp_path / "r.html")])
    assert graded.exit_code == 0, graded.output
    checks = json.loads(out.read_text())["checks"]
    assert checks and all(c["status"] == "failed" and EXPECTED.search(c["message"]) for c in checks)


def test_init_refuses_to_overwrite_unless_forced_and_writes_the_workflow(tmp_path):
    first = CliRunner().invoke(main, ["init", str(tmp_path), "--task", "sequences", "--task", "cells"])
    assert first.exit_code == 0, first.output
    workflow = tmp_path / ".github" / "workflows" / "harness.yml"
    text = workflow.read_text()
    assert 'HARNESS_TASKS: "sequences cells"' in text  # in the order asked for
    assert "harness ci . --junit junit.xml" in text
    try:
        import yaml
    except ModuleNotFoundError:  # PyYAML is optional: the text checks above still hold
        yaml = None
    if yaml is not None:
        assert yaml.safe_load(text)["jobs"]["grade"]["env"]["HARNESS_TASKS"] == "sequences cells"

    (tmp_path / "cells.py").write_text("# my work\n")
    again = CliRunner().invoke(main, ["init", str(tmp_path), "--task", "cells"])
    assert again.exit_code == 2 and "--force" in again.output and "cells.py" in again.output
    assert (tmp_path / "cells.py").read_text() == "# my work\n"
    forced = CliRunner().invoke(main, ["init", str(tmp_path), "--task", "cells", "--force"])
    assert forced.exit_code == 0 and "class LSTMCell(nn.Module)" in (tmp_path / "cells.py").read_text()


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_signatures_agree_with_the_hand_written_starter(starter):
    """submissions/starter was written by hand before `harness init`: the same names, parameters and defaults."""
    for spec in SPECS:
        generated = _load(starter / f"{spec.module}.py", f"_generated_{spec.module}")
        by_hand = _load(ROOT / "submissions" / "starter" / f"{spec.module}.py", f"_by_hand_{spec.module}")
        for name in spec.names:
            ours, theirs = getattr(generated, name), getattr(by_hand, name)
            pairs = [(ours.__init__, theirs.__init__), (ours.forward, theirs.forward)] if isinstance(ours, type) \
                else [(ours, theirs)]
            for a, b in pairs:
                sa, sb = inspect.signature(a).parameters.values(), inspect.signature(b).parameters.values()
                assert [(p.name, p.default) for p in sa] == [(p.name, p.default) for p in sb], f"{spec.module}.{name}"
        assert getattr(generated, "HYPERPARAMETERS", None) == getattr(by_hand, "HYPERPARAMETERS", None)
