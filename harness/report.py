"""HTML report of one graded submission, rendered from its Results document and nothing else.

The page is self-contained (inline CSS and SVG, no scripts, fonts or links to fetch) so that it can be
mailed, archived and opened offline; everything the submission controls (messages, printed output,
tracebacks) is escaped by the template engine. The same Results give the same bytes.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import jinja2

from .definitions import skipped_note
from .results import STATUSES, CheckResult, Results
from .sandbox import reduced
from .triage import HOW_TO_FIX, NEEDS_WORK, FixItem, fix_first

TEMPLATES = Path(__file__).parent / "templates"

STATUS_LOOK = {"passed": "✓", "failed": "✗", "error": "!", "skipped": "–"}
PRE_NUMBERS = {"traceback": "Traceback", "output": "Output"}  # text kept as printed, not as JSON
ENVIRONMENT_LABELS = {"python": "Python", "torch": "PyTorch", "platform": "Platform", "threads": "Threads",
                      "deterministic_algorithms": "Deterministic algorithms",
                      "cpu_capability": "CPU kernels (instruction set)"}


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters["points"] = points
    return env


def render_report(results: Results) -> str:
    """The report page of one submission, as HTML."""
    return environment().get_template("report.html.j2").render(page=page(results))


def write_report(results: Results, path: Path, within: Path | None = None) -> Path:
    """Render and write the report to ``path`` atomically, never through a link (``within``: see
    harness.files.write_output); returns the path."""
    from .files import write_output

    return write_output(path, render_report(results), within)


def page(results: Results) -> dict:
    """What the template shows, computed once here so that the template only lays it out."""
    anchors = Anchors()
    rows = {id(c): check_row(c, anchors.make("check-" + c.id)) for c in results.checks}
    task_names = [t.name for t in results.tasks]
    tasks = [{"name": t.name, "title": t.title, "module": t.module, "source": t.source, "ignored": t.ignored,
              "score": t.score,
              "max_score": t.max_score, "percent": percent(t.score, t.max_score),
              "anchor": anchors.make("task-" + t.name),
              "rows": [rows[id(c)] for c in results.checks if c.task == t.name]} for t in results.tasks]
    strays = [rows[id(c)] for c in results.checks if c.task not in task_names]
    if strays:  # checks of a task the document does not describe: shown, not dropped
        tasks.append({"name": "", "title": "Other checks", "module": "", "source": "", "ignored": [],
                      "score": sum(r["points"] for r in strays), "max_score": sum(r["max_points"] for r in strays),
                      "percent": percent(sum(r["points"] for r in strays), sum(r["max_points"] for r in strays)),
                      "anchor": anchors.make("task-other"), "rows": strays})
    counts = results.counts()
    return {
        "name": Path(results.submission).name or Path(results.submission).resolve().name or results.submission,
        "submission": results.submission,
        "score": results.score,
        "max_score": results.max_score,
        "percent": percent(results.score, results.max_score),
        "not_run": results.coverage_line(),
        "how_to_fix": HOW_TO_FIX,
        "counts": [{"status": s, "icon": STATUS_LOOK[s], "n": counts[s]} for s in STATUSES],
        "n_checks": len(results.checks),
        "fix_first": [fix_row(item, rows) for item in fix_first(results)],
        "n_needs_work": sum(counts[s] for s in NEEDS_WORK),
        "tasks": tasks,
        "figures": [figure_view(f, anchors) for f in results.figures],
        "notes": [str(n) for n in results.notes if not skipped_note(str(n))],
        "skipped": [found for n in results.notes if (found := skipped_note(str(n)))],
        "environment": environment_rows(results.environment),
        "seeds": results.environment.get("seeds", {}),
        "protections": protection_rows(results.sandbox.get("protections", {}), results.sandbox.get("notes"),
                                       said=basic_reason(results.sandbox)),
        "reduced_isolation": reduced_panel_line(results.sandbox),
        "not_graded": str(results.sandbox.get("not_graded") or ""),  # the worker could not be confined: nothing ran
        "worker_starts": results.sandbox.get("worker_starts"),
        "limits": limits_line(results.sandbox),
        "harness_version": results.harness_version,
        "schema_version": results.schema_version,
        "created": results.created,
        "seconds": results.seconds,
    }


def check_row(check: CheckResult, anchor: str) -> dict:
    numbers = dict(check.numbers) if isinstance(check.numbers, dict) else {"numbers": check.numbers}
    details = [{"label": label, "text": str(numbers.pop(key))}
               for key, label in PRE_NUMBERS.items() if isinstance(numbers.get(key), str) and numbers[key]]
    for key in PRE_NUMBERS:
        if numbers.get(key) == "":
            numbers.pop(key)
    compared = comparison_rows(numbers.get("comparison"))
    if compared:
        numbers.pop("comparison")
    if numbers:
        details.insert(0, {"label": "Numbers", "text": json.dumps(numbers, indent=2, ensure_ascii=False, default=str)})
    return {"anchor": anchor, "id": check.id, "task": check.task, "status": check.status,
            "icon": STATUS_LOOK.get(check.status, "?"), "points": check.points, "max_points": check.max_points,
            "message": check.message, "hint": check.hint, "hidden": check.visibility != "public",
            "visibility": check.visibility, "details": details, "comparison": compared}


#: rows a graded figure's comparison may have in the report; a longer list is shown as numbers only
COMPARISON_ROWS = 20


def comparison_rows(rows) -> list[dict]:
    """A graded figure's ``comparison`` (harness/checks/trained.py): the student's figure beside the reference
    model's, the optimum's and each classical baseline's, each with the part it plays in the points. Anything but
    a short list of {label: str, value: number, role: str} rows gives [] (then it stays among the numbers)."""
    if not isinstance(rows, list) or not 0 < len(rows) <= COMPARISON_ROWS:
        return []
    shown = []
    for row in rows:
        if not (isinstance(row, dict) and isinstance(row.get("label"), str) and isinstance(row.get("role", ""), str)
                and isinstance(row.get("value"), (int, float)) and not isinstance(row.get("value"), bool)):
            return []
        shown.append({"label": row["label"][:80], "value": f"{float(row['value']):.4g}", "role": row.get("role", "")[:40],
                      "yours": row.get("role") == "yours"})
    return shown


def fix_row(item: FixItem, rows: dict[int, dict]) -> dict:
    """A cause under "Fix first": the row of its first check (its whole message and hint), the points the
    cause costs in words, its other checks."""
    return {**rows[id(item.first)], "points_lost": item.points_lost, "lost": item.lost,
            "also": [rows[id(c)] for c in item.checks[1:]]}


def figure_view(figure: dict, anchors: Anchors) -> dict:
    """A figure as the page shows it: its SVG, or for a "text" figure its rows (escaped by the template)."""
    if not isinstance(figure, dict):
        figure = {"data": figure}
    key = str(figure.get("id", "figure"))
    data = figure.get("data", {})
    from .figures import draw  # matplotlib is imported by the reports that draw a figure, not by every judge

    drawing = draw(data, str(figure.get("title", "")), key, show_title=False)
    caption = data.get("caption") if isinstance(data, dict) else None
    return {"anchor": anchors.make("figure-" + key), "title": str(figure.get("title", key)),
            "task": str(figure.get("task", "")), "svg": drawing.svg, "table": drawing.table, "notes": drawing.notes,
            "caption": "" if caption is None else str(caption)}


def environment_rows(env: dict) -> list[dict]:
    rows = []
    for key, value in env.items():
        if key == "seeds":
            continue
        if isinstance(value, bool):
            value = "yes" if value else "no"
        rows.append({"label": ENVIRONMENT_LABELS.get(key, key.replace("_", " ").capitalize()), "value": str(value)})
    return rows


def protection_rows(protections: dict, notes: dict | None = None, said: str = "") -> list[dict]:
    """Each sandbox protection as held / not held / skipped with the reason the sandbox gave (its note,
    unless it is ``said``: the reason the reduced-isolation line already gives for all of them)."""
    notes = notes if isinstance(notes, dict) else {}
    rows = []
    for name, state in protections.items():
        if state is True:
            rows.append({"name": name.replace("_", " "), "state": "held", "icon": "✓", "why": ""})
        elif state is False or state is None:
            why = notes.get(name)
            why = "" if not isinstance(why, str) or why == said else why
            rows.append({"name": name.replace("_", " "), "state": "not held", "icon": "✗", "why": why})
        else:
            rows.append({"name": name.replace("_", " "), "state": "not held", "icon": "–", "why": str(state)})
    return rows


def limits_line(sandbox: dict) -> str:
    """Which mechanism held the task's limits (one budget for the worker's tree, or per process), and the
    largest use of it seen; "none" when the worker reported neither (as basic isolation does)."""
    limits = sandbox.get("limits")
    if not isinstance(limits, str) or not limits:
        return ""
    held = sandbox.get("protections") if isinstance(sandbox.get("protections"), dict) else {}
    if held and not any(held.get(p) is True for p in ("rlimits", "memory_limit", "tree_budget")) \
            and not limits.startswith("none"):  # a document written before basic isolation said so itself
        limits = f"none but the wall-clock timeout ({limits.split(': ', 1)[-1]})"
    peak = sandbox.get("tree_peak") if isinstance(sandbox.get("tree_peak"), dict) else {}
    seen = (f"; at most {peak['peak_mb']:g} MB and {peak['processes']} processes in use"
            if isinstance(peak.get("peak_mb"), (int, float)) and isinstance(peak.get("processes"), int) else "")
    return f"Limits: {limits}{seen}."


def basic_reason(sandbox: dict) -> str:
    """Why the sandbox ran in basic isolation ("" when it did not): the note its protections share."""
    if sandbox.get("mode") != "basic":
        return ""
    notes = sandbox.get("notes") if isinstance(sandbox.get("notes"), dict) else {}
    reasons = {notes[name] for name in sandbox.get("protections", {}) if isinstance(notes.get(name), str)}
    return reasons.pop() if len(reasons) == 1 else ""


def reduced_panel_line(sandbox: dict) -> str:
    """The Sandbox panel's first line in a reduced isolation: the words the terminal and the notebook say, and
    why this mode ran (said once here, not on each protection)."""
    said = reduced.line_of(sandbox)
    reason = basic_reason(sandbox)
    return said + (f" This run: {reason}." if said and reason else "")


def percent(score: float, max_score: float) -> float | None:
    return round(100.0 * score / max_score, 1) if max_score else None


def points(value) -> str:
    """Points as people write them: 3, 2.5, 0.33."""
    if value is None:
        return "–"
    text = f"{float(value):.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


class Anchors:
    """Unique, URL-safe element ids made from check, task and figure ids."""

    def __init__(self):
        self.used: set[str] = set()

    def make(self, text: str) -> str:
        base = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "item"
        anchor, n = base, 1
        while anchor in self.used:
            n += 1
            anchor = f"{base}-{n}"
        self.used.add(anchor)
        return anchor
