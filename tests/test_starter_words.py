"""Starter files and releases are written from the contract's words, never from the answer key's text.

``answer_key.py`` is never released (docs/WRITING_TASKS.md), and neither is anything written in it: its
docstrings, its comments and its code. What students receive may hold the contract — names, signatures and the
type aliases they use, parameter names and shapes, the spec's ``[interface.conventions]`` — and nothing else of
it. The answer keys of every shipped task and of the guide's example are read with ``ast`` and ``tokenize``
(with the modules their names come from, such as ``reference_models/cells.py``), cut into fragments, and every
fragment is looked for, whitespace folded, in every starter file (module and notebook) and in whole releases.
"""
from __future__ import annotations

import ast
import inspect
import io
import json
import re
import textwrap
import tokenize
from pathlib import Path

import pytest

from harness import course
from harness.spec import load_tasks
from harness.starter import planned_files, render_python, starter_module

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_TASKS = ROOT / "docs" / "examples" / "tasks"
FUNCTION_TASKS = ["attention", "cells", "generation", "sequences"]
WORDS = 7  # a docstring is looked for as every run of this many consecutive words


def fold(text: str) -> str:
    """Whitespace folded to single spaces: a docstring re-filled to another width is still found."""
    return " ".join(text.split())


def _sources(spec) -> dict[str, str]:
    """The answer key's source and that of the modules its names come from (the default course's answer keys
    are ``from reference_models.cells import *``), by file."""
    key = course.answer_key(spec)
    homes = [key] + [inspect.getmodule(getattr(key, n, None)) for n in spec.names if hasattr(key, n)]
    return {m.__file__: Path(m.__file__).read_text() for m in dict.fromkeys(h for h in homes if h is not None)}


def _stored(node: ast.AST) -> bool:
    """``self.x = x`` and ``self.xs = nn.ModuleList(xs)``: what a starter's ``__init__`` writes from the signature."""
    return (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Attribute)
            and isinstance(node.targets[0].value, ast.Name) and node.targets[0].value.id == "self"
            and node.targets[0].attr in ast.dump(node.value))


def fragments(source: str, signature_names: set[str]) -> dict[str, set[str]]:
    """What of an answer key may never reach students, by kind: runs of WORDS words of every docstring; every
    comment of three words or more; every statement of a body (folded, 20 characters or more) except a
    constructor's ``super().__init__()`` and the storing of its arguments, which a starter writes from the
    signature. Module-level type aliases that a signature uses are the contract's (``State = …``)."""
    tree = ast.parse(source)
    out: dict[str, set[str]] = {"docstring": set(), "comment": set(), "code": set()}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            words = (ast.get_docstring(node) or "").split()
            out["docstring"] |= {" ".join(words[i:i + WORDS]) for i in range(max(0, len(words) - WORDS + 1))}
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body[1:] if ast.get_docstring(node) is not None else node.body
            for stmt in body:
                if _stored(stmt) or "super().__init__()" in (ast.get_source_segment(source, stmt) or ""):
                    continue
                for line in (ast.get_source_segment(source, stmt) or "").splitlines():
                    if len(line.strip()) >= 20:
                        out["code"].add(fold(line.split("  #")[0]))
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        text = tok.string.lstrip("#").strip()
        if tok.type == tokenize.COMMENT and len(text.split()) >= 3 and not text.startswith(("noqa", "type:")):
            out["comment"].add(fold(text))
    aliases = {n.targets[0].id for n in tree.body if isinstance(n, ast.Assign) and len(n.targets) == 1
               and isinstance(n.targets[0], ast.Name)} & signature_names
    out["code"] -= {fold(ast.get_source_segment(source, n)) for n in tree.body if isinstance(n, ast.Assign)
                    and isinstance(n.targets[0], ast.Name) and n.targets[0].id in aliases}
    return out


def leaks(text: str, found: dict[str, set[str]]) -> list[tuple[str, str]]:
    """The fragments of an answer key that ``text`` holds, as (kind, fragment)."""
    haystack = fold(text)
    return [(kind, f) for kind, items in found.items() for f in sorted(items) if f and f in haystack]


def _signature_names(spec) -> set[str]:
    """Every identifier in the signatures of the contract's names (the aliases a starter may define)."""
    key, names = course.answer_key(spec), set()
    for name in spec.names:
        obj = getattr(key, name, None)
        for func in ([obj.__init__, getattr(obj, "forward", None)] if isinstance(obj, type) else [obj]):
            if callable(func):
                names |= set(re.findall(r"[A-Za-z_]\w*", str(inspect.signature(func))))
    return names


def answer_key_fragments(specs) -> dict[str, set[str]]:
    """The fragments of these tasks' answer keys, less those said in the same words by what a task writes for
    students — the files it releases (task.toml, checks.py) and its catalogue's descriptions, which hints quote:
    the instructor wrote both, and an equation of a hint reaches students from the hint, not from the answer key."""
    from harness.release import released_task_files

    merged: dict[str, set[str]] = {"docstring": set(), "comment": set(), "code": set()}
    for spec in specs:
        released = [p.read_text(encoding="utf-8") for p in released_task_files(spec) if p.suffix in (".toml", ".py")]
        spec_words = fold("\n".join(released + [e.description for e in course.catalogue(spec)]))
        for source in _sources(spec).values():
            for kind, items in fragments(source, _signature_names(spec)).items():
                merged[kind] |= {f for f in items if f not in spec_words}
    return merged


def _texts(folder: Path) -> dict[Path, str]:
    """Every text file of a folder, notebooks as the text of their cells."""
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # the values file: numbers, not words
        if path.suffix == ".ipynb":
            text = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"])
        out[path] = text
    return out


@pytest.fixture(scope="module")
def shipped():
    return load_tasks() + load_tasks(EXAMPLE_TASKS)


def test_the_fragments_are_the_answer_keys_text():
    """The scanner finds a docstring re-filled, a comment and a line of code of an answer key, and leaves the
    signature's own words (a stored argument, a type alias) alone: the test below can fail."""
    source = textwrap.dedent('''
        """The key of a toy task: values the checks compare with, never shown to students."""
        import torch

        State = tuple[torch.Tensor, torch.Tensor]


        def decode(step, state: State, max_len):
            """Walk the table greedily from bos and return the tokens after it, with eos when it was emitted."""
            tokens = []  # the ids after bos, in the order they were chosen
            while len(tokens) < max_len:
                tokens.append(int(torch.argmax(step(tokens))))
            return tokens


        class Scorer(torch.nn.Module):
            def __init__(self, n):
                super().__init__()
                self.n = n
    ''')
    found = fragments(source, {"State", "step", "max_len"})
    leaky = ('def decode(step, state: State, max_len):\n    """Walk the table greedily from bos and return the\n'
             '    tokens after it, with eos when it was emitted."""\n'
             "    # the ids after bos, in the order they were chosen\n    while len(tokens) < max_len:\n")
    kinds = {kind for kind, _ in leaks(leaky, found)}
    assert kinds == {"docstring", "comment", "code"}, leaks(leaky, found)
    assert leaks("State = tuple[torch.Tensor, torch.Tensor]\nclass Scorer(nn.Module):\n    def __init__(self, n):\n"
                 "        super().__init__()\n        self.n = n\n", found) == []
    assert leaks("The key of a toy task", found) == []  # fewer than WORDS words in a row: not a copy


def test_no_starter_holds_the_answer_keys_text(shipped, tmp_path):
    """Every shipped task's starter module and notebook, and the guide's example's."""
    checked = 0
    for spec in shipped:
        found = answer_key_fragments([spec])
        assert sum(map(len, found.values())) > 5, spec.name  # the answer key has text: the test looked at it
        files = planned_files(tmp_path, [spec], workflow=False) | planned_files(tmp_path, [spec], notebook=True,
                                                                                 workflow=False)
        for path, content in files.items():
            text = content if isinstance(content, str) else "\n".join(c.source for c in content.cells)
            assert leaks(text, found) == [], (spec.name, path.name)
            checked += 1
    assert checked == 2 * len(shipped)


def test_a_starter_says_the_contracts_words(shipped):
    """What replaced the answer key's docstrings: the spec's [interface.conventions], name by name (the default
    course's Bidirectional says which direction's features come first), and the shared ones atop the module."""
    for spec in shipped:
        text = fold(render_python(starter_module(spec)))
        for name, words in spec.conventions.items():
            if name != "HYPERPARAMETERS":
                assert fold(words) in text, (spec.name, name)
    cells = next(s for s in shipped if s.name == "cells")
    assert "the forward direction's H features first" in fold(render_python(starter_module(cells)))


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    """Whole releases of the function tasks and of the guide's example (trained tasks' starters are above)."""
    from harness.release import write_release

    out = {}
    for name, specs in (("default", load_tasks(names=FUNCTION_TASKS)), ("example", load_tasks(EXAMPLE_TASKS))):
        folder = tmp_path_factory.mktemp("release") / name
        write_release(folder, specs)
        out[name] = (folder, specs)
    return out


def test_no_release_holds_the_answer_keys_text(releases):
    """The starters, CONTRACT.md, README.md, the workflow and the bundle (its specs, checks.py and records)."""
    for name, (folder, specs) in releases.items():
        found = answer_key_fragments(specs)
        texts = _texts(folder)
        assert any(p.name == "bundle.json" for p in texts) and any(p.name == "CONTRACT.md" for p in texts), name
        for path, text in texts.items():
            assert leaks(text, found) == [], (name, path.relative_to(folder).as_posix())
