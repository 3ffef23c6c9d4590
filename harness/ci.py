"""CI around the checks: the pass/fail rule, GitHub annotations, the Markdown summary (what to fix first
comes from ``harness.triage``, as in the terminal, the HTML report and Gradescope).

``harness ci`` grades the **public** checks by default. On a student's pull request the job page and
its annotations are the student's to read, so CI shows what ``harness check`` shows and nothing the
course keeps for grading; an instructor's CI (or Gradescope) passes ``--all`` for the hidden ones.

The rule (:class:`Gate`): with ``--min-score X`` the score must be at least X points, with
``--min-percent P`` at least P % of the points graded; with ``--require-all`` no check may fail or
error; with no threshold at all, ``--require-all`` is the rule. Skipped checks never fail the rule
(skipping is the harness's decision, not the student's mistake). Everything here takes a Results
document and returns data or text; the CLI decides where it goes.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .results import NOT_READ, NOT_SUBMITTED, TEXT_LIMIT, CheckResult, Results, TaskResult, files_line
from .notebook_json import code_sources, file_line
from .triage import HOW_TO_FIX, NEEDS_WORK, fix_first

#: GitHub shows at most 10 error annotations per step; the rest are dropped silently.
GITHUB_ERROR_LIMIT = 10


class CIError(Exception):
    """CI cannot give a verdict (no check was graded): the harness's problem, exit status 2."""


# --------------------------------------------------------------------------- the rule


@dataclass(frozen=True)
class Gate:
    """When a CI run passes. No threshold means every check must pass."""

    min_score: float | None = None
    min_percent: float | None = None
    require_all: bool = False

    def __post_init__(self):
        if self.min_score is not None and self.min_percent is not None:
            raise ValueError("give either a minimum score or a minimum percentage, not both")
        if self.min_percent is not None and not 0 <= self.min_percent <= 100:
            raise ValueError(f"a minimum percentage must lie in [0, 100], not {self.min_percent:g}")

    @property
    def all_required(self) -> bool:
        return self.require_all or (self.min_score is None and self.min_percent is None)

    def describe(self) -> str:
        parts = []
        if self.min_score is not None:
            parts.append(f"a score of at least {self.min_score:g} point{'' if self.min_score == 1 else 's'}")
        if self.min_percent is not None:
            parts.append(f"a score of at least {self.min_percent:g}%")
        if self.all_required:
            parts.append("every check passing")
        return " and ".join(parts)


@dataclass(frozen=True)
class Outcome:
    passed: bool
    rule: str       # what was required, in words
    reason: str     # why it passed or failed, in words

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1


def percent(score: float, max_score: float) -> float:
    return 100.0 * score / max_score if max_score else 0.0


def evaluate(results: Results, gate: Gate) -> Outcome:
    """Apply the rule to graded results."""
    if not results.checks:
        raise CIError("no check was graded (are the tasks' checks all hidden? pass --all to grade them)")
    score, max_score = results.score, results.max_score
    pct = percent(score, max_score)
    problems, fine = [], []
    if gate.min_score is not None:
        (fine if score >= gate.min_score else problems).append(
            f"score {score:g}/{max_score:g} {'≥' if score >= gate.min_score else '<'} {gate.min_score:g}")
    if gate.min_percent is not None:
        # a small tolerance: 2/3 of the points must pass --min-percent 66.66666666666667
        ok = pct + 1e-9 >= gate.min_percent
        (fine if ok else problems).append(f"score {pct:.1f}% {'≥' if ok else '<'} {gate.min_percent:g}%")
    if gate.all_required:
        bad = [c for c in results.checks if c.status in NEEDS_WORK]
        if bad:
            problems.append(f"{len(bad)} of {len(results.checks)} checks did not pass")
        elif results.not_run_checks:  # never "all passed" while checks are still to be graded
            fine.append(f"all {len(results.checks)} public checks passed; {results.later_line()}")
        else:
            fine.append(f"all {len(results.checks)} checks passed")
    return Outcome(not problems, gate.describe(), "; ".join(problems or fine))


# --------------------------------------------------------------------------- where a check points


@dataclass(frozen=True)
class Location:
    """Where a check's problem is: a path relative to the workspace (None: the module is missing),
    a line in it when one is known (for a notebook, the line of the .ipynb file's text that holds the
    cell's line: harness.notebook_json), and the place as the student reads it (``cells.ipynb, cell 3,
    line 4``)."""

    file: str | None
    line: int | None = None
    where: str = ""


#: "(cells.py, line 42)", "(cells.ipynb, cell 3, line 4)", "(attention.py, line 70; case: ...)":
#: how grading names a place in a message (Runner.where and ModuleSource.locate_line).
PLACE = re.compile(r"\(([^(),;]+?\.(?:py|ipynb))(?:, cell (\d+))?, line (\d+)[;)]")
TRACEBACK_PLACE = re.compile(r'File "([^"]+)", line (\d+)')


def _task(results: Results, name: str) -> TaskResult | None:
    return next((t for t in results.tasks if t.name == name), None)


def _relative(path: Path, workspace: Path) -> str:
    try:
        return os.path.relpath(path.resolve(), workspace.resolve()).replace(os.sep, "/")
    except ValueError:  # another drive on Windows
        return path.resolve().as_posix()


def locate(check: CheckResult, results: Results, workspace: Path | None = None) -> Location:
    """The file (and line) a check's problem is in, from what grading recorded.

    Looked for, in order: ``numbers["file"]``/``numbers["line"]`` when grading stores them; a place
    named in the message; the last frame of the traceback in the module's file; else the module's
    file without a line.
    """
    task = _task(results, check.task)
    if task is None or task.source == NOT_SUBMITTED or not task.source:
        return Location(None)
    workspace = Path(workspace or os.environ.get("GITHUB_WORKSPACE") or Path.cwd())
    module_file = task.source.removesuffix(NOT_READ)  # a file refused is still where the annotation points
    rel = _relative(Path(results.submission) / module_file, workspace)
    numbers = check.numbers if isinstance(check.numbers, dict) else {}
    candidates: list[tuple[str, int | None, int]] = []  # (file name, cell, line)
    if isinstance(numbers.get("line"), int) and Path(str(numbers.get("file", module_file))).name == module_file:
        cell = numbers.get("cell")
        candidates.append((module_file, cell if isinstance(cell, int) else None, numbers["line"]))
    candidates += [(m.group(1).strip(), int(m.group(2)) if m.group(2) else None, int(m.group(3)))
                   for m in PLACE.finditer(check.message)]
    frames = [(Path(m.group(1)).name, None, int(m.group(2)))
              for m in TRACEBACK_PLACE.finditer(str(numbers.get("traceback", "")))]
    candidates += list(reversed(frames))
    for name, cell, line in candidates:
        if name != module_file and Path(name).stem != Path(module_file).stem:
            continue
        if module_file.endswith(".ipynb"):
            if not cell:
                return Location(rel, None, module_file)
            text = _source_text(Path(results.submission) / module_file)
            return Location(rel, file_line(text, cell, line) if text else None, f"{module_file}, cell {cell}, line {line}")
        return Location(rel, line, f"{module_file}, line {line}")
    place = definition_place(Path(results.submission) / module_file, check.id)
    if place:
        cell, line, file_line_no = place
        where = f"{module_file}, cell {cell}, line {line}" if cell else f"{module_file}, line {line}"
        return Location(rel, file_line_no, where)
    return Location(rel, None, module_file)


def definition_place(path: Path, check_id: str) -> tuple[int | None, int, int | None] | None:
    """Where ``class NAME`` or ``def NAME`` is for a check id ``module.NAME[.part]``: (code cell, its line,
    the line of the file) in a notebook, (None, line, line) in a .py file; None when it is not found.

    Read as text, never imported: where a check about GRUCell should point when nothing raised."""
    parts = check_id.split(".")
    if len(parts) < 2 or path.suffix not in (".py", ".ipynb"):
        return None
    text = _source_text(path)
    if text is None:
        return None
    pattern = re.compile(rf"^\s*(?:class|def|async\s+def)\s+{re.escape(parts[1])}\b", re.MULTILINE)

    def line_in(source: str) -> int | None:
        match = pattern.search(source)
        return source.count("\n", 0, match.start()) + 1 + match.group(0).count("\n") if match else None

    if path.suffix == ".py":
        line = line_in(text)
        return (None, line, line) if line else None
    for cell, source in enumerate(code_sources(text) or [], start=1):
        line = line_in(source)
        if line:
            return cell, line, file_line(text, cell, line)
    return None


def _source_text(path: Path) -> str | None:
    """A submission's file as text, read as grading reads it (at most the source limit), or None."""
    from .files import read_path
    from .runtime.config import Limits

    try:  # a regular file only: a FIFO or a link in the submission's place is never opened or followed
        return read_path(path, Limits().source_mb * 1024 * 1024).decode("utf-8", errors="replace")
    except OSError:
        return None


# --------------------------------------------------------------------------- GitHub annotations


def escape_data(text: str) -> str:
    """A workflow command's message: %, CR and LF escaped as GitHub's toolkit does."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: the message escapes plus ':' and ','."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(kind: str, message: str, **properties) -> str:
    props = ",".join(f"{k}={escape_property(str(v))}" for k, v in properties.items() if v not in (None, ""))
    return f"::{kind}{' ' + props if props else ''}::{escape_data(message)}"


def annotations(results: Results, outcome: Outcome | None = None, workspace: Path | None = None,
                limit: int = GITHUB_ERROR_LIMIT) -> list[str]:
    """GitHub Actions workflow commands: one ``::error`` per cause (checks with the same message share
    one), pointing at the file and line where known, most points lost first; then one ``::notice``
    with the score (and how many causes did not fit under GitHub's limit of 10 errors per step)."""
    items = fix_first(results)
    lines = []
    for item in items[:limit]:
        loc = locate(item.first, results, workspace)
        text = f"{item.message}" + (f"\n{HOW_TO_FIX}: {item.hint}" if item.hint else "") + f"\n({item.lost})"
        if len(item.checks) > 1:
            text += "\nChecks: " + ", ".join(c.id for c in item.checks)
        cell_named = ", cell " in loc.where and loc.where not in item.message  # the cell, as Jupyter shows it
        title = f"{item.title} ({loc.where})" if cell_named else item.title
        lines.append(workflow_command("error", text, file=loc.file, line=loc.line, title=title))
    summary = f"Score {results.score:g}/{results.max_score:g} ({percent(results.score, results.max_score):.0f}%)"
    if outcome is not None:
        summary += f" — {'passed' if outcome.passed else 'failed'}: {outcome.reason}"
    if len(items) > limit:
        summary += f"; {len(items) - limit} more problems are listed in the job summary"
    lines.append(workflow_command("notice", summary, title="harness"))
    return lines


# --------------------------------------------------------------------------- Markdown summary


MARK = {"passed": "✅", "failed": "❌", "error": "💥", "skipped": "⏭️"}


def _cell(text: str, limit: int = 300) -> str:
    """Text safe inside a Markdown table cell (and inside <details>)."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def markdown_summary(results: Results, outcome: Outcome | None = None, title: str = "harness",
                     fix_limit: int = 10) -> str:
    """The job summary: score and verdict, a table of tasks, what to fix first with hints, and every
    check in a collapsed section. Everything the submission controls is escaped."""
    pct = percent(results.score, results.max_score)
    head = MARK["passed" if (outcome.passed if outcome else not fix_first(results)) else "failed"]
    out = [f"## {head} {_cell(title)}: {results.score:g}/{results.max_score:g} points ({pct:.0f}%)", ""]
    if outcome is not None:
        out += [f"**{'Passed' if outcome.passed else 'Failed'}** — required {outcome.rule}: {_cell(outcome.reason)}.", ""]
    counts = results.counts()
    out += [", ".join(f"{n} {s}" for s, n in counts.items() if n) + f" in {results.seconds:.1f} s", ""]
    if results.not_run_checks:
        line = _cell(results.coverage_line())
        out += [f"*{line[:1].upper() + line[1:]}.*", ""]
    out += ["| task | file | score | ✅ | ❌ | 💥 |", "|---|---|---:|---:|---:|---:|"]
    for t in results.tasks:
        mine = [c for c in results.checks if c.task == t.name]
        n = {s: sum(c.status == s for c in mine) for s in ("passed", "failed", "error")}
        out.append(f"| {_cell(t.title)} | `{_cell(t.source)}` | {t.score:g}/{t.max_score:g} | {n['passed']} | "
                   f"{n['failed']} | {n['error']} |")
    out.append("")
    out += [f"*{_cell(files_line(t), TEXT_LIMIT)}*\n" for t in results.tasks if t.ignored]
    items = fix_first(results)
    if items:
        out += ["### Fix first", ""]
        for i, item in enumerate(items[:fix_limit], start=1):
            loc = locate(item.first, results)
            where = f" ({_cell(loc.where)})" if loc.line or ", cell " in loc.where else ""
            out.append(f"{i}. **`{_cell(item.title)}`** — {item.lost}{where}: {_cell(item.message, TEXT_LIMIT)}")
            if item.hint:  # whole, as the message: the job page wraps them
                out.append(f"   <br>*{HOW_TO_FIX}:* {_cell(item.hint, TEXT_LIMIT)}")
        if len(items) > fix_limit:
            out.append(f"\n… and {len(items) - fix_limit} more (see the table below).")
        out.append("")
    out += [f"<details><summary>All {len(results.checks)} checks</summary>", "",
            "| | check | points | message |", "|---|---|---:|---|"]
    for c in results.checks:
        tag = "" if c.visibility == "public" else f" *({_cell(c.visibility)})*"
        out.append(f"| {MARK[c.status]} | `{_cell(c.id)}`{tag} | {c.points:g}/{c.max_points:g} | "
                   f"{_cell(c.message)}{' — *' + _cell(c.hint) + '*' if c.hint and c.status != 'passed' else ''} |")
    out += ["", "</details>", ""]
    if results.notes:
        out += [f"<details><summary>Notes ({len(results.notes)})</summary>", ""]
        out += [f"- {_cell(n)}" for n in results.notes] + ["", "</details>", ""]
    return "\n".join(out)


def error_summary(message: str, title: str = "harness") -> str:
    """The job summary when the harness itself could not run."""
    return f"## 💥 {_cell(title)} could not run\n\n{_cell(message, 2000)}\n"


def write_step_summary(markdown: str, env: Mapping[str, str] | None = None) -> Path | None:
    """Append to ``$GITHUB_STEP_SUMMARY`` when set (GitHub gives each step its own file, to append to)."""
    env = os.environ if env is None else env
    target = env.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as f:
        f.write(markdown if markdown.endswith("\n") else markdown + "\n")
    return path


def in_github_actions(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get("GITHUB_ACTIONS") == "true"
