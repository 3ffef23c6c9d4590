"""The ``harness`` command. Thin: parse arguments, call the library, print what it returns.

Exit status of ``harness check``: 0 whenever every check ran, whatever the score; 2 when the
harness itself could not run (a bad spec, a missing path). CI gating is ``harness ci``'s job.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from .results import Results
from .spec import SpecError, load_tasks
from .submission import SubmissionError

STATUS_STYLE = {"passed": "green", "failed": "red", "error": "magenta", "skipped": "yellow"}
STATUS_MARK = {"passed": "✓", "failed": "✗", "error": "!", "skipped": "-"}


def print_summary(results: Results, console: Console, verbose: bool = False) -> None:
    """Per task a table of checks; then what to fix first."""
    for task in results.tasks:
        table = Table(title=f"{task.title} — {task.score:g}/{task.max_score:g}  ({task.source})",
                      title_justify="left", show_edge=False, pad_edge=False, expand=False)
        table.add_column("", width=1)
        table.add_column("check", no_wrap=True)
        table.add_column("points", justify="right", no_wrap=True)
        table.add_column("message", overflow="fold")
        for c in (c for c in results.checks if c.task == task.name):
            if c.status == "passed" and not verbose:
                message = ""
            else:
                message = c.message
            style = STATUS_STYLE[c.status]
            table.add_row(f"[{style}]{STATUS_MARK[c.status]}[/]", c.id, f"{c.points:g}/{c.max_points:g}", message)
        console.print(table)
        console.print()
    failing = [c for c in results.checks if c.status in ("failed", "error")]
    if failing:
        console.print("[bold]Fix first[/]")
        for c in failing[:8]:
            tip = f"\n    [dim]how to fix:[/] {c.hint}" if c.hint else ""
            console.print(f"  [{STATUS_STYLE[c.status]}]{c.id}[/]: {c.message}{tip}")
        if len(failing) > 8:
            console.print(f"  … and {len(failing) - 8} more (see the report)")
        console.print()
    for note in results.notes:
        console.print(f"[dim]note: {note}[/]")
    counts = results.counts()
    pct = 100 * results.score / results.max_score if results.max_score else 0.0
    console.print(f"[bold]Score {results.score:g}/{results.max_score:g} ({pct:.0f}%)[/]  "
                  + "  ".join(f"{n} {s}" for s, n in counts.items() if n)
                  + f"  in {results.seconds:.1f} s")


@click.group()
@click.version_option(package_name="harness")
def main() -> None:
    """Grade submissions for a course on sequence models."""


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--task", "tasks", multiple=True, help="Grade only this task (repeatable). Default: all tasks.")
@click.option("--tasks-dir", type=click.Path(path_type=Path), default=None,
              help="Folder of task specs (default: the tasks/ folder that ships with the harness).")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None,
              help="Write the results JSON here (default: reports/<name>/results.json).")
@click.option("--report", "report_path", type=click.Path(path_type=Path), default=None,
              help="Write the HTML report here (default: reports/<name>/report.html).")
@click.option("--verbose", "-v", is_flag=True, help="Show the message of passed checks too.")
def check(path: Path, tasks: tuple[str, ...], tasks_dir: Path | None, json_path: Path | None,
          report_path: Path | None, verbose: bool) -> None:
    """Run the checks on the submission at PATH and report."""
    from .grading import grade
    from .report import write_report

    console = Console(stderr=False, highlight=False)
    try:
        specs = load_tasks(tasks_dir, list(tasks) or None)
        name = path.resolve().name
        out = Path("reports") / name
        with console.status("grading…") as status:
            results = grade(path, specs, progress=lambda check_id: status.update(f"grading: {check_id}"))
    except (SpecError, SubmissionError) as exc:
        console.print(f"[red]error:[/] {exc}", soft_wrap=True)
        sys.exit(2)
    json_path = json_path or out / "results.json"
    report_path = report_path or out / "report.html"
    results.write(json_path)
    write_report(results, report_path)
    print_summary(results, console, verbose)
    console.print(f"results: {json_path}\nreport:  {report_path}")


if __name__ == "__main__":  # pragma: no cover
    main()
