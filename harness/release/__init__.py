"""The instructor's release tools: what turns this repository into what students receive.

Instructor-only: this subpackage is never part of the student's wheel (see :mod:`harness.release.wheel`).
``write_release`` writes the folder handed to students: the starter files, the assignment workflow,
a README, CONTRACT.md (what the checks expect: :mod:`harness.release.contract`) and ``.harness/`` — the
public part of each task folder and the public bundle (:mod:`harness.bundle`).
"""
from __future__ import annotations

import shutil
from pathlib import Path

from .. import __version__, bundle
from ..course import ANSWER_KEY, CATALOGUE, CHECKS
from ..results import count, points_phrase
from ..spec import HIDDEN_FILE, TaskSpec

WORKFLOW = ".github/workflows/harness.yml"

#: What of a task folder a release copies: its public spec and written checks (run on the student's machine
#: against the bundle's values), and the data file its [dataset] names. Never the hidden checks and seed, the
#: answer key or the catalogue (harness.course); anything else stays behind with a warning.
RELEASED = ("task.toml", CHECKS)
INSTRUCTOR_ONLY = (HIDDEN_FILE, ANSWER_KEY, CATALOGUE)


class ReleaseError(Exception):
    """The release cannot be written as asked. The message says how to fix it."""


STUDENT_README = """# {title}

Your work goes in the files of this folder ({modules}). `CONTRACT.md` says what the checks expect of each of
them: the names, their signatures and defaults, and the conventions the checks test, one section per task (a
hint that says "see CONTRACT.md, section {example}" means that task's section).

## Checking your work

The checks run offline, on your machine; install the student package once (PyTorch CPU is enough):

```bash
pip install "harness-student=={version}"   # or as your course says
```

From a terminal, in this folder:

```bash
harness check .     # the public checks, what to fix first, and reports/<folder>/report.html
```

From Jupyter, JupyterLab, VS Code or Colab, in a cell of its own:

```python
import harness
harness.check("{example}.ipynb")
```

It checks the notebook as saved on disk (save it first; in Colab, the notebook as the editor holds it), runs
your code in a separate process, never in your kernel, and shows the report below the cell. A notebook is
checked as the module it is named after ({example}.ipynb as {example}), even with the starter {example}.py
beside it. From a terminal, when both files are here, the one you edited is graded and the report says which;
to choose, name it (`harness check {example}.ipynb`) or map it in a `harness.toml` beside it: `[modules]` then
`{example} = "my_notebook.ipynb"`. {notebook_runs}
{notebook_line}
## What is graded

`.harness/` holds the public checks: their inputs and the expected outputs, precomputed. Do not edit it. Public
checks are worth {public}; {later} ({later_checks}) {later_verb} graded after you submit,
on inputs that are not in this folder, so passing every public check is a good sign and not yet the grade.
"""


#: What of a notebook runs when it is checked (task.toml [notebook] run, harness.definitions), in the README's words.
NOTEBOOK_RUNS_DEFINITIONS = """Of a notebook, only the imports, the `def` and `class` statements and the
assignments of constants run: training, downloads, plots and `!pip` lines are skipped, and the report lists
each with why. A cell with the line `# harness: keep` runs whole; one with `# harness: skip` never runs. A
function that reads a global computed from data (a vocabulary built from a downloaded text) cannot find it:
define such values as constants, or pass them as arguments."""
NOTEBOOK_RUNS_ALL = """Every cell of a notebook runs, in order, as Jupyter's "Run all" would (magics and `!pip`
lines aside); a cell with the line `# harness: skip` never runs."""


def released_task_files(spec: TaskSpec) -> list[Path]:
    """The files of a task's folder that a release copies (see RELEASED): the [dataset] file too, unless the task
    releases a public file in its place (:func:`public_data`)."""
    folder = spec.path.parent
    names = list(RELEASED)
    if spec.dataset and spec.dataset.get("path") and not spec.dataset.get("public"):
        names.append(spec.dataset["path"])
    return sorted(p for p in (folder / name for name in names) if p.is_file())


def public_data(spec: TaskSpec) -> tuple[str, str] | None:
    """(file name, text) of the public file a task releases instead of its data file (``[dataset].public``): the
    text without the part the hidden checks score, written by the release. None when the task names none."""
    from ..data.build import public_text

    return public_text(spec.dataset, spec.path) if spec.dataset and spec.dataset.get("public") else None


def left_behind(spec: TaskSpec) -> list[str]:
    """A warning for each file of the task folder that is neither released nor the instructor's own (a data file
    whose public file is released in its place is the instructor's own)."""
    folder, released = spec.path.parent, set(released_task_files(spec))
    kept = set(INSTRUCTOR_ONLY)
    if spec.dataset and spec.dataset.get("public"):
        released.add(folder / spec.dataset["public"])
        kept.add(Path(spec.dataset["path"]).name)
    return [f"task {spec.name}: {path.relative_to(folder).as_posix()} is not released (a release copies "
            f"{', '.join(RELEASED)} and the [dataset] file; {', '.join(INSTRUCTOR_ONLY)} stay with the instructor)"
            for path in sorted(folder.rglob("*")) if path.is_file() and path not in released
            and path.name not in kept and "__pycache__" not in path.parts and path.suffix != ".pyc"]


def file_data_warnings(spec: TaskSpec) -> list[str]:
    """A data file released as it is holds the rows its hidden checks score: say so, and how to keep them."""
    if not (spec.dataset and spec.dataset.get("path")) or spec.dataset.get("public") or spec.hidden_seed is None:
        return []
    path, kind = Path(spec.dataset["path"]), spec.dataset.get("kind")
    public = f'public = "{path.stem}_public{path.suffix}"'
    how = (f"add {public} to [dataset]: the release then writes that file without the part the hidden checks "
           "score, and ships it instead")
    if kind == "text-corpus" and spec.dataset.get("layout", "sentences") == "sentences":
        how = (f'cut the corpus into windows (layout = "windows", split by position) and add {public}: a corpus of '
               "sentences is split by a seeded shuffle, so a file without the test sentences would split differently")
    elif kind not in ("text-corpus", "series-csv"):
        how = (f"not possible yet for kind {kind!r} ([dataset].public is for a text corpus with "
               'layout = "windows" and a series CSV)')
    return [f"task {spec.name}: its data file {spec.dataset['path']} is released as it is, so the rows the hidden "
            f"checks score are on students' machines too. To keep them: {how}. (A synthetic kind draws its hidden "
            "rows from the hidden seed instead.)"]


def write_release(directory: Path, specs: list[TaskSpec], notebook: bool = False, force: bool = False,
                  record=None, classroom: bool = False) -> tuple[list[Path], list[str]]:
    """Write the assignment folder for students into ``directory``; returns (paths written, warnings).

    ``classroom``: the workflow is GitHub Classroom's (``.github/workflows/classroom.yml``, harness.classroom) in
    place of ``harness.yml``. ``record`` (tests) replaces :func:`harness.release.record.record`."""
    from ..starter import CLASSROOM_PATH, write_starter
    from .contract import FILENAME as CONTRACT, write_contract
    from .record import record as record_bundle

    directory = Path(directory)
    folder = directory / bundle.FOLDER
    if folder.exists() and not force:
        raise ReleaseError(f"{folder} exists already (pass --force to replace it)")
    contents = (record or record_bundle)(specs)
    written, warnings = write_starter(directory, specs, notebook=notebook, force=force, workflow=True,
                                      classroom=classroom)
    if folder.exists():
        shutil.rmtree(folder)
    for spec in specs:
        source = spec.path.parent
        for path in released_task_files(spec):
            target = folder / bundle.TASKS / spec.name / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            written.append(target)
        if (public := public_data(spec)) is not None:
            target = folder / bundle.TASKS / spec.name / public[0]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(public[1], encoding="utf-8")
            written.append(target)
        warnings += file_data_warnings(spec) + left_behind(spec)
    if contents.cache_keys:
        warnings.append(f"note: the reference figures released are the cached {', '.join(sorted(contents.cache_keys))} "
                        "(harness cache list shows them)")
    if (directory / CONTRACT).exists() and not force:
        warnings.append(f"{CONTRACT} exists already and was not replaced: it may not match these tasks "
                        "(pass --force to write it anew)")
    else:
        written.append(write_contract(directory, specs))
    written.append(bundle.write(folder, contents))
    written.append(folder / bundle.VALUES)
    public = sum(c.points for s in specs for c in s.checks if not c.graded_later)
    later = [c for s in specs for c in s.checks if c.graded_later]
    later_points = sum(c.points for c in later)
    notebook_line = ("\nThe starter files here are notebooks: write your code in their cells.\n" if notebook else "")
    notebook_runs = (NOTEBOOK_RUNS_ALL if all(s.notebook_run == "all" for s in specs) else NOTEBOOK_RUNS_DEFINITIONS)
    workflow = CLASSROOM_PATH.as_posix() if classroom else WORKFLOW
    warnings.append(f"{workflow}: its install step asks for harness-student=={__version__} from PyPI; point it at "
                    "where the course publishes the student wheel (see the comments of that step)")
    readme = directory / "README.md"
    if not readme.exists() or force:
        readme.write_text(STUDENT_README.format(
            title=" · ".join(s.title for s in specs), modules=", ".join(f"`{s.module}`" for s in specs),
            version=__version__, notebook_line=notebook_line, notebook_runs=notebook_runs, example=specs[0].module, public=points_phrase(public),
            later=points_phrase(later_points, "more "), later_checks=count(len(later), "check"),
            later_verb="is" if points_phrase(later_points) == "1 point" else "are"),
            encoding="utf-8")
        written.append(readme)
    return written, warnings
