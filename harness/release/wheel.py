"""The student's wheel (``harness-student``): the judge without the answer key, built from this tree.

One source tree, two distributions. The instructor installs this repository (``harness``, the
answer key ``reference_models``, the default specs ``harness_tasks``); a student installs
``harness-student``, built here from the very same ``harness/`` sources, so the judge on a laptop is
the judge that grades, with no fork or second package to keep in step. The student's wheel is an
allowlist minus exclusions, written once below (:data:`INCLUDE`, :data:`EXCLUDE`), copied into a
staging folder with a generated ``pyproject.toml``; the built wheel is then opened and checked
(:func:`verify_student_wheel`), so that anything that slips past the rule — an instructor-only module
added under ``harness/``, answer-key code pasted into the judge, a spec file — stops the build
instead of reaching students.

Instructor-only: this module is itself excluded from the wheel it builds.
"""
from __future__ import annotations

import ast
import fnmatch
import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

DISTRIBUTION = "harness-student"
DESCRIPTION = ("The student's side of the sequence-models grading harness: public checks from a released "
               "assignment; no answer key, no task specs, no hidden checks.")

# The rule, relative to the repository (fnmatch: ``*`` also crosses folders). reference_models/ and
# tasks/ are outside harness/, so never copied; __pycache__ never is.
INCLUDE = ("harness/*.py", "harness/templates/*")
EXCLUDE = ("harness/release", "harness/starter.py")  # instructor-only: release tools; the starter reads the key
PACKAGE_DATA = {"harness": ["templates/*"]}          # the non-Python files INCLUDE copies
# Dask grades a class; statsmodels fits the forecasting baselines, whose figures a release records: the instructor's
DROPPED_DEPENDENCIES = ("distributed", "statsmodels")
EXTRAS = ("keras",)   # the instructor's extras a student installs too: pip install 'harness-student[keras]'
SCRIPTS = {"harness": "harness.cli:main"}

# Whatever the rule says, never in the student's wheel.
FORBIDDEN_TOP = {"reference_models": "the answer key", "harness_tasks": "the task specs",
                 "tasks": "the task specs"}
FORBIDDEN_FILES = {"task.toml": "a task spec", "hidden.toml": "hidden checks and seeds"}
# The answer key's own definitions (top level, so an interface's method or a mention does not count).
ANSWER_KEY_MARKERS = (r"^class (RNNCell|LSTMCell|GRUCell|PeepholeLSTMCell)\(", r"^class Variant\b",
                      r"^def variants_for\(", r"^CATALOGUE\b")


class StudentWheelError(RuntimeError):
    """The student's wheel could not be built, or holds something students must not get."""


def build_student_wheel(out_dir: Path, repo: Path | None = None) -> Path:
    """Build ``harness-student`` from the checkout ``repo`` (default: this one) into ``out_dir``;
    the wheel's path. Raises :class:`StudentWheelError` if the build fails or the wheel is not clean."""
    repo = Path(repo).resolve() if repo else Path(__file__).resolve().parents[2]
    if not (repo / "pyproject.toml").is_file() or not (repo / "harness").is_dir():
        raise StudentWheelError(f"{repo} is not a source checkout of the harness (no pyproject.toml and "
                                "harness/ there): the student's wheel is built from one; pass repo=")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    _check_build_backend()
    with tempfile.TemporaryDirectory(prefix="harness-student-") as tmp:
        staging = Path(tmp) / "src"
        files = stage(repo, staging)
        version = _version(staging / "harness" / "__init__.py")
        (staging / "pyproject.toml").write_text(student_pyproject(repo, version), encoding="utf-8")
        stem = f"{DISTRIBUTION.replace('-', '_')}-{version}-"
        for old in out_dir.glob(f"{stem}*.whl"):
            old.unlink()
        run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                              "--no-index", "--disable-pip-version-check", "-q", "-w", str(out_dir), str(staging)],
                             capture_output=True, text=True)
        if run.returncode != 0:
            raise StudentWheelError(f"pip wheel failed ({run.returncode}):\n{(run.stdout + run.stderr)[-3000:]}")
        built = sorted(out_dir.glob(f"{stem}*.whl"))
        if len(built) != 1:
            raise StudentWheelError(f"expected one {stem}*.whl in {out_dir}, found {[p.name for p in built]}")
        verify_student_wheel(built[0], repo, expected=files)
    return built[0]


def selected(rel: str) -> bool:
    """Whether a repository-relative POSIX path goes into the student's wheel, by the rule above."""
    if "__pycache__" in rel.split("/"):
        return False
    if any(rel == e or rel.startswith(e + "/") for e in EXCLUDE):
        return False
    return any(fnmatch.fnmatchcase(rel, pattern) for pattern in INCLUDE)


def stage(repo: Path, staging: Path) -> list[str]:
    """Copy what :func:`selected` admits from ``repo`` to ``staging``; the copied relative paths."""
    copied = []
    for path in sorted((repo / "harness").rglob("*")):
        rel = path.relative_to(repo).as_posix()
        if path.is_file() and selected(rel):
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, staging / rel)
            copied.append(rel)
    return copied


def student_pyproject(repo: Path, version: str) -> str:
    """The staging folder's ``pyproject.toml``: the instructor's dependencies minus
    :data:`DROPPED_DEPENDENCIES`, the same command, the ``harness`` package only."""
    project = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    dropped = {_normalize(n) for n in DROPPED_DEPENDENCIES}
    dependencies = [d for d in project["project"].get("dependencies", []) if _normalize(_name(d)) not in dropped]
    build = project.get("build-system", {"requires": ["setuptools>=68"], "build-backend": "setuptools.build_meta"})
    s = json.dumps  # a JSON string or list of strings is a TOML one
    lines = ["[build-system]", f"requires = {s(build['requires'])}", f"build-backend = {s(build['build-backend'])}",
             "", "[project]", f"name = {s(DISTRIBUTION)}", f"version = {s(version)}",
             f"description = {s(DESCRIPTION)}"]
    if "requires-python" in project["project"]:
        lines.append(f"requires-python = {s(project['project']['requires-python'])}")
    lines += ["dependencies = ["] + [f"    {s(d)}," for d in dependencies] + ["]", ""]
    extras = {name: project["project"].get("optional-dependencies", {}).get(name) for name in EXTRAS}
    missing = [name for name, requirements in extras.items() if not requirements]
    if missing:
        raise StudentWheelError(f"pyproject.toml has no [project.optional-dependencies] {', '.join(missing)}: the "
                                "student's wheel offers the instructor's extras of the same name")
    lines += ["[project.optional-dependencies]"] + [f"{name} = {s(r)}" for name, r in extras.items()] + [""]
    lines += ["[project.scripts]"]
    lines += [f"{name} = {s(target)}" for name, target in SCRIPTS.items()]
    lines += ["", "[tool.setuptools.packages.find]", 'include = ["harness", "harness.*"]', "",
              "[tool.setuptools.package-data]"]
    lines += [f"{package} = {s(globs)}" for package, globs in PACKAGE_DATA.items()]
    return "\n".join(lines) + "\n"


def verify_student_wheel(wheel: Path, repo: Path | None = None, expected: list[str] | None = None) -> None:
    """Raise :class:`StudentWheelError` naming every path or content of ``wheel`` that students must not
    get: the answer key, the task specs, the instructor-only parts of ``harness/``, and answer-key source
    (its top-level definitions, and verbatim any definition of ``repo``'s ``reference_models``). With
    ``expected`` (the staged paths), also every staged file the wheel lacks."""
    problems = []
    definitions = _answer_key_definitions(Path(repo) / "reference_models") if repo else {}
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        for name in names:
            if name.endswith("/"):
                continue
            parts = name.split("/")
            if parts[0] in FORBIDDEN_TOP or "reference_models" in parts:
                problems.append(f"{name}: {FORBIDDEN_TOP.get(parts[0], 'the answer key')}")
            elif any(name == e or name.startswith(e + "/") for e in EXCLUDE):
                problems.append(f"{name}: instructor-only (EXCLUDE)")
            elif parts[-1] in FORBIDDEN_FILES:
                problems.append(f"{name}: {FORBIDDEN_FILES[parts[-1]]}")
            elif not selected(name) and not parts[0].endswith(".dist-info"):
                problems.append(f"{name}: not admitted by the rule (INCLUDE minus EXCLUDE)")
            if parts[0].endswith(".dist-info"):
                continue
            try:
                text = z.read(name).decode("utf-8")
            except UnicodeDecodeError:
                continue
            for marker in ANSWER_KEY_MARKERS:
                found = re.search(marker, text, re.MULTILINE)
                if found:
                    problems.append(f"{name}: answer-key source ({found.group(0)!r})")
            flat = _flat(text)
            problems += [f"{name}: answer-key source ({where})" for where, body in definitions.items()
                         if body in flat]
        problems += [f"{rel}: staged but not in the wheel (PACKAGE_DATA?)" for rel in expected or ()
                     if rel not in names]
    if problems:
        raise StudentWheelError(f"{wheel.name} must not reach students as built:\n  " + "\n  ".join(problems))


def _answer_key_definitions(package: Path) -> dict[str, str]:
    """``{"cells.py: LSTMCell": flattened source}`` of every top-level class and function of the answer key."""
    found = {}
    for path in sorted(package.glob("**/*.py")):
        source = path.read_text(encoding="utf-8")
        for node in ast.parse(source).body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                where = f"{path.relative_to(package).as_posix()}: {node.name}"
                found[where] = _flat(ast.get_source_segment(source, node))
    return found


def _flat(text: str) -> str:
    return " ".join(text.split())


def _name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return match.group(1) if match else requirement


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _version(init: Path) -> str:
    """``__version__`` of the staged ``harness/__init__.py``: ``harness.__version__`` of that checkout."""
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if (isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__version__" for t in node.targets)
                and isinstance(node.value, ast.Constant)):
            return str(node.value.value)
    raise StudentWheelError(f"{init}: no __version__ = \"...\"")


def _check_build_backend() -> None:
    """setuptools in this environment (``--no-build-isolation``: the build works offline)."""
    from importlib.metadata import PackageNotFoundError, version
    from importlib.util import find_spec

    try:
        found = version("setuptools")
    except PackageNotFoundError:
        raise StudentWheelError("setuptools is not installed here: pip install 'setuptools>=70.1' "
                                "(or pip install -e '.[test]')") from None
    release = tuple(int(n) for n in re.findall(r"\d+", found)[:2])
    if release < (70, 1) and find_spec("wheel") is None:
        raise StudentWheelError(f"setuptools {found} needs the `wheel` package to build wheels: "
                                "pip install 'setuptools>=70.1'")
