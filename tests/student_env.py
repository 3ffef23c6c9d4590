"""A student's environment, for tests: a fresh venv with the student's wheel and none of the answer key.

Installing torch, numpy, scipy… again would take minutes and need the network, so the new venv borrows
them from this test environment: a ``.pth`` file in its site-packages lists this environment's
site-packages folders. A path line in a ``.pth`` only appends to ``sys.path``: the ``.pth`` files inside
those folders are not run, so this environment's editable-install finder (which maps ``harness`` and
``reference_models`` to the checkout) stays inactive. A folder that physically holds the instructor's
packages (a non-editable install) is replaced by a mirror of symlinks to everything else in it.
"""
from __future__ import annotations

import os
import re
import site
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

# What of this environment the student's venv must not see: the instructor's packages and their metadata.
INSTRUCTOR_PACKAGES = ("harness", "reference_models", "harness_tasks")
INSTRUCTOR_ONLY = re.compile(r"^(harness|reference_models|harness_tasks)([-.].*)?$|^__editable__.*harness")


def student_subprocess_env() -> dict[str, str]:
    """This process's environment minus what would put the checkout or this venv on the student's path."""
    drop = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV", "__PYVENV_LAUNCHER__")
    return {k: v for k, v in os.environ.items() if k not in drop}


def dependency_dirs() -> list[Path]:
    """This environment's site-packages folders (where the third-party dependencies are), in path order."""
    sites = {os.path.realpath(p) for p in site.getsitepackages()}
    sites |= {os.path.realpath(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")}
    if site.ENABLE_USER_SITE:
        sites.add(os.path.realpath(site.getusersitepackages()))
    seen, found = set(), []
    for entry in sys.path:
        real = os.path.realpath(entry) if entry else ""
        if real in sites and real not in seen and os.path.isdir(real):
            seen.add(real)
            found.append(Path(real))
    return found


def _without_instructor(folder: Path, mirror: Path) -> Path:
    """``folder`` itself, or when it holds the instructor's packages a mirror of symlinks to the rest."""
    if not any((folder / name).exists() or (folder / f"{name}.py").exists() for name in INSTRUCTOR_PACKAGES):
        return folder
    mirror.mkdir(parents=True)
    for entry in sorted(folder.iterdir()):
        if not INSTRUCTOR_ONLY.match(entry.name) and entry.suffix != ".pth":
            (mirror / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    return mirror


def make_venv_with_wheel(wheel: Path, where: Path, with_pip: bool = True) -> Path:
    """A new venv at ``where`` holding ``wheel`` (``--no-deps --no-index``), its dependencies borrowed from
    this environment; the venv's python. ``with_pip=False`` (4-5 s faster: no ensurepip) installs with this
    environment's pip instead of the venv's own."""
    where = Path(where).resolve()
    venv.EnvBuilder(with_pip=with_pip, clear=True).create(where)
    where.chmod(0o755)  # as a venv usually is: a worker that drops to a uid of its own must read it (tmp folders are 700)
    python = where / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = Path(run_in(python, where, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    dirs = [_without_instructor(d, where / "borrowed" / f"site-{i}") for i, d in enumerate(dependency_dirs())]
    (purelib / "_borrowed_test_dependencies.pth").write_text("".join(f"{d}\n" for d in dirs))
    pip = [str(python), "-m", "pip"] if with_pip else [sys.executable, "-m", "pip", "--python", str(python)]
    install = subprocess.run([*pip, "install", "--no-deps", "--no-index", "--disable-pip-version-check", "-q",
                              str(wheel)], capture_output=True, text=True, env=student_subprocess_env(), cwd=where)
    assert install.returncode == 0, f"pip install {wheel} failed:\n{install.stdout}{install.stderr}"
    return python


def make_student_venv(wheel: Path, where: Path, with_pip: bool = True) -> Path:
    """A fresh venv at ``where`` (with pip unless ``with_pip=False``, 4-5 s faster) with the student's
    ``wheel`` installed; its python. Raises AssertionError if the venv can import the answer key, or
    imports ``harness`` from anywhere but itself."""
    python = make_venv_with_wheel(wheel, where, with_pip=with_pip)
    probe = ("import importlib.util, harness; "
             "print(harness.__file__); print(importlib.util.find_spec('reference_models') is None)")
    harness_file, no_answer_key = run_in(python, Path(where), "-c", probe).split()
    assert Path(harness_file).resolve().is_relative_to(Path(where).resolve()), \
        f"harness imported from {harness_file}, not from {where}"
    assert no_answer_key == "True", f"reference_models is importable in {where}"
    return python


def run_in(python: Path, cwd: Path, *args: str) -> str:
    """``python *args`` in ``cwd`` with :func:`student_subprocess_env`; its stdout (AssertionError if it fails)."""
    done = subprocess.run([str(python), *args], capture_output=True, text=True, env=student_subprocess_env(), cwd=cwd)
    assert done.returncode == 0, f"{python} {' '.join(args)} failed:\n{done.stdout}{done.stderr}"
    return done.stdout
