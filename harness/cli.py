"""The ``harness`` command. Thin: parse arguments, call the library, print what it returns.

Exit status of ``harness check``: 0 whenever every check ran, whatever the score; 2 when the
harness itself could not run (a bad spec, a missing path). CI gating is ``harness ci``'s job.
"""
from __future__ import annotations

import atexit
import gc
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table

from .files import OutputError, write_output
from .results import Results, files_line
from .spec import SpecError, load_tasks
from .submission import SubmissionError
from .triage import HOW_TO_FIX, fix_first

def require_instructor(command: str) -> None:
    """Exit 2 with a clear message when a command of the instructor's side runs from the student package."""
    from .checking import answer_key_installed

    if not answer_key_installed():
        click.echo(f"error: harness {command} runs on the instructor's side: it needs the answer key "
                   "(reference_models), which the student package does not have; a student runs "
                   "harness check or harness ci in the released assignment folder", err=True)
        sys.exit(2)


class InstructorOption(click.Option):
    """An option that needs the answer key (--tasks-dir, --all): left out of --help where it is not installed,
    so that a student's help describes the student's side."""

    def get_help_record(self, ctx):
        from .checking import answer_key_installed

        return super().get_help_record(ctx) if answer_key_installed() else None


TASKS_DIR_HELP = ("Folder of task specs, on the instructor's side (default: the tasks/ installed with the instructor's "
                  "package). A student's check reads the released .harness/ folder instead.")


ISOLATION_HELP = ("How the worker that runs student code is confined: full (Linux as root), userns (Linux as "
                  "an ordinary user), basic (no operating-system protection), or auto (the strongest here). A mode "
                  "this machine cannot give is refused, never weakened. Default: $HARNESS_ISOLATION, else auto")


def isolation_option(default_note: str = ""):
    from .sandbox.isolation import ASKABLE

    return click.option("--isolation", type=click.Choice(list(ASKABLE)), default=None,
                        help=ISOLATION_HELP + (default_note or "."))


def state_isolation(asked: str | None, console: Console, resolve=None):
    """The worker's isolation, resolved and said before grading starts; exits 2 when this machine cannot give it."""
    from .sandbox.isolation import IsolationError, resolve as resolve_default

    try:
        chosen = (resolve or resolve_default)(asked)
    except IsolationError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        sys.exit(2)
    console.print(escape(chosen.describe()), soft_wrap=True)
    return chosen


def warm_worker(chosen) -> None:
    """This command's fork server (harness/sandbox/zygote.py), started first thing where the mode uses one: the
    worker's torch import then runs while the judge imports its own and loads the specs. Stopped when the command
    ends (in-process too: a notebook, a test); a server already running is used and left to its owner."""
    if chosen.mode == "basic":
        return
    from .sandbox import zygote

    if zygote.current() is None:
        click.get_current_context().call_on_close(zygote.stop_for_process)
    zygote.start_for_process()


def print_what_ran(results: Results, console: Console) -> None:
    """Under the mode line, once a check ran: a reduced isolation in plain words (as the worker reported it), and
    per task the file graded when another file for its module was left out, and why (harness.submission)."""
    from .sandbox import reduced

    said = reduced.line_of(results.sandbox)
    if said:
        console.print(f"[yellow]{escape(said)}[/]", soft_wrap=True)
    for task in results.tasks:
        if task.ignored:
            console.print(f"[yellow]{escape(files_line(task))}[/]", soft_wrap=True)


def cannot_run() -> tuple[type[Exception], ...]:
    """What stops a check before any check ran: a bad spec, path or bundle (imported when one is raised)."""
    from .bundle import BundleError
    from .checking import CheckingError

    return SpecError, SubmissionError, BundleError, CheckingError


STATUS_STYLE = {"passed": "green", "failed": "red", "error": "magenta", "skipped": "yellow"}
STATUS_MARK = {"passed": "✓", "failed": "✗", "error": "!", "skipped": "-"}
FIX_FIRST = 5  # causes listed under "Fix first"


def print_summary(results: Results, console: Console, verbose: bool = False) -> None:
    """Per task a table of checks; then what to fix first."""
    for task in results.tasks:
        table = Table(title=f"{escape(task.title)} — {task.score:g}/{task.max_score:g}  ({escape(task.source)})",
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
            table.add_row(f"[{style}]{STATUS_MARK[c.status]}[/]", escape(c.id), f"{c.points:g}/{c.max_points:g}",
                          escape(message))  # a message quotes the submission: never read as markup
        console.print(table)
        console.print()
    failing = fix_first(results)  # one line per cause, most points lost first
    if failing:
        console.print("[bold]Fix first[/]")
        for item in failing[:FIX_FIRST]:  # the whole message and hint, wrapped (indented) to the terminal's width
            console.print(Padding(f"[{STATUS_STYLE[item.first.status]}]{escape(item.title)}[/] "
                                  f"[dim]({item.lost})[/]: {escape(item.message)}", (0, 0, 0, 2), expand=False))
            if item.hint:
                console.print(Padding(f"[dim]{HOW_TO_FIX}:[/] {escape(item.hint)}", (0, 0, 0, 4), expand=False))
        if len(failing) > FIX_FIRST:
            console.print(f"  … and {len(failing) - FIX_FIRST} more (see the report)")
        console.print()
    for note in results.notes:
        console.print(f"[dim]note: {escape(note)}[/]")
    counts = results.counts()
    pct = 100 * results.score / results.max_score if results.max_score else 0.0
    console.print(f"[bold]Score {results.score:g}/{results.max_score:g} ({pct:.0f}%)[/]  "
                  + "  ".join(f"{n} {s}" for s, n in counts.items() if n)
                  + f"  in {results.seconds:.1f} s")
    if results.not_run_checks:
        console.print(f"[yellow]{escape(results.coverage_line())}[/]")


@click.group()
@click.version_option(package_name="harness")
def main() -> None:
    """Grade submissions for a course on sequence models."""
    # Last thing at exit (atexit runs handlers last in, first out): the interpreter's final garbage collections then
    # skip what the command made, torch's modules above all; about half a second of a command that imported torch.
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--task", "tasks", multiple=True, help="Grade only this task (repeatable). Default: all tasks.")
@click.option("--tasks-dir", cls=InstructorOption, type=click.Path(path_type=Path), default=None, help=TASKS_DIR_HELP)
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None,
              help="Write the results JSON here (default: reports/<name>/results.json).")
@click.option("--report", "report_path", type=click.Path(path_type=Path), default=None,
              help="Write the HTML report here (default: reports/<name>/report.html).")
@click.option("--verbose", "-v", is_flag=True, help="Show the message of passed checks too.")
@click.option("--all", "all_checks", is_flag=True, cls=InstructorOption,
              help="Run the checks graded after submission too (the instructor's side only). Default: public only.")
@click.option("--gradescope", "gradescope_path", type=click.Path(path_type=Path), default=None,
              help="Also write the results in Gradescope's results.json format here.")
@click.option("--bundle", "bundle_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Check against this released .harness folder (default on a student's machine: the assignment's).")
@isolation_option()
def check(path: Path, tasks: tuple[str, ...], tasks_dir: Path | None, json_path: Path | None,
          report_path: Path | None, verbose: bool, all_checks: bool = False, gradescope_path: Path | None = None,
          bundle_dir: Path | None = None, isolation: str | None = None) -> None:
    """Run the public checks on the submission at PATH and report what to fix first.

    PATH is the submission's folder, or one file of it (generation.ipynb): that file is graded for its module,
    whatever else the folder holds."""
    console = Console(stderr=False, highlight=False)
    chosen = state_isolation(isolation, console)
    warm_worker(chosen)
    from .checking import MODULE_SUFFIXES, not_graded, run
    from .sandbox.isolation import IsolationFailed

    ctx = click.get_current_context()
    refused = None
    try:
        folder = path.parent if path.suffix in MODULE_SUFFIXES and path.is_file() else path  # a file of it
        out = Path("reports") / folder.resolve().name
        with console.status("grading…") as status:
            results = run(path, tasks, all_checks=all_checks, bundle=bundle_dir, tasks_dir=tasks_dir,
                          progress=lambda check_id: status.update(f"grading: {check_id}"), isolation=chosen,
                          chosen_specs=lambda specs: preload_report(ctx, any(s.figures for s in specs)))
    except IsolationFailed as exc:  # fail closed: nothing of the submission ran; the report says why
        refused, results = exc, not_graded(path, exc)
    except cannot_run() as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        sys.exit(2)
    json_path, report_path = save_check(results, json_path, report_path, out, console)
    if refused is not None:
        console.print(f"[red]error:[/] {escape(str(refused))}\nreport:  {report_path}", soft_wrap=True)
        sys.exit(2)
    if gradescope_path:
        from .gradescope import write_gradescope

        write_gradescope(results, gradescope_path)
    print_what_ran(results, console)
    print_summary(results, console, verbose)
    console.print(f"results: {json_path}\nreport:  {report_path}")


def preload_report(ctx: click.Context, figures: bool) -> None:
    """Import what the report needs (jinja2; matplotlib too when a task draws ``figures``: half a second) in a thread
    of its own while the checks run, most of which the judge spends waiting for the worker. matplotlib is left out
    when no figure is drawn: the import holds the interpreter's lock, and slowed a three-check notebook's whole
    check by a fifth. Joined when the command ends, however it ends; an import that fails here fails again, with its
    message, where the report is written."""
    import threading

    def load() -> None:
        try:
            from . import report  # noqa: F401
            if figures:
                from . import figures as drawing  # noqa: F401
        except Exception:  # noqa: BLE001 - said where the report is written
            pass

    thread = threading.Thread(target=load, name="report-imports", daemon=True)
    thread.start()
    ctx.call_on_close(lambda: thread.join(timeout=60))


def save_check(results: Results, json_path: Path | None, report_path: Path | None, out: Path,
               console: Console) -> tuple[Path, Path]:
    """Write the results and the report of ``harness check``: where the user said, else under ``out``
    (``reports/<name>`` in the working folder, which may be a student's: every folder on the way must be a
    real one, never a link). Exits 2 saying why when they cannot be written."""
    from .report import write_report

    try:
        results.write(json_path or out / "results.json", within=None if json_path else Path("."))
        write_report(results, report_path or out / "report.html", within=None if report_path else Path("."))
    except OSError as exc:
        console.print(f"[red]error:[/] the results were not saved: {escape(str(exc))}", soft_wrap=True)
        sys.exit(2)
    return json_path or out / "results.json", report_path or out / "report.html"


@main.command("grade")
@click.argument("submissions_dir", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Folder for the reports, the class overview (index.html) and the gradebook.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Local worker processes (default: one per core).")
@click.option("--scheduler", default=None, help="Grade on a Dask cluster instead, e.g. tcp://host:8786.")
@click.option("--regrade", is_flag=True, help="Grade every submission again, even those already up to date.")
@click.option("--task", "tasks", multiple=True, help="Grade only this task (repeatable). Default: all tasks.")
@click.option("--tasks-dir", type=click.Path(path_type=Path), default=None, help=TASKS_DIR_HELP)
@isolation_option("; for a class, full on Linux.")
def grade_command(submissions_dir: Path, out: Path, workers: int | None, scheduler: str | None, regrade: bool,
                  tasks: tuple[str, ...], tasks_dir: Path | None, isolation: str | None = None) -> None:
    """Grade every submission folder in SUBMISSIONS_DIR, with the hidden checks, in parallel.

    Exit status: 0 when the run finished (whatever the scores, and even if some submissions could
    not be graded), 2 when it could not start, 130 when stopped with Ctrl-C (what finished is saved)."""
    from rich.markup import escape

    require_instructor("grade")
    from .batch import BatchError, ProgressBar, class_isolation, grade_class

    console = Console(highlight=False)
    chosen = state_isolation(isolation, console, class_isolation)
    try:
        with ProgressBar(console) as bar:
            run = grade_class(submissions_dir, out, tasks=list(tasks) or None, tasks_dir=tasks_dir, workers=workers,
                              scheduler=scheduler, regrade=regrade, progress=bar, isolation=chosen)
    except (SpecError, BatchError, OutputError) as exc:  # OutputError: a link where --out's files go
        console.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        sys.exit(2)
    console.print(run.summary(), markup=False)
    sys.exit(130 if run.interrupted else 0)


@main.command("ci")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--task", "tasks", multiple=True, envvar="HARNESS_TASKS",
              help="Grade only this task (repeatable; or $HARNESS_TASKS, space-separated). Default: all tasks.")
@click.option("--tasks-dir", cls=InstructorOption, type=click.Path(path_type=Path), default=None, help=TASKS_DIR_HELP)
@click.option("--all", "all_checks", is_flag=True, cls=InstructorOption,
              help="Grade the checks graded after submission too (an instructor's CI, Gradescope). Default: public "
                   "checks only.")
@click.option("--min-score", type=float, default=None, help="Pass when the score is at least this many points.")
@click.option("--min-percent", type=click.FloatRange(0, 100), default=None,
              help="Pass when the score is at least this percentage of the points graded.")
@click.option("--require-all", is_flag=True,
              help="Pass only when no check fails (with a threshold: as well). The rule when no threshold is given.")
@click.option("--junit", "junit_path", type=click.Path(path_type=Path), default=None,
              help="Write JUnit XML here (one test case per check).")
@click.option("--summary", "summary_path", type=click.Path(path_type=Path), default=None,
              help="Write the Markdown summary here (it also goes to $GITHUB_STEP_SUMMARY when set).")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None, help="Write the results JSON here.")
@click.option("--report", "report_path", type=click.Path(path_type=Path), default=None,
              help="Write the HTML report here.")
@click.option("--gradescope", "gradescope_path", type=click.Path(path_type=Path), default=None,
              help="Write Gradescope's results.json here.")
@click.option("--classroom-result", "classroom_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Append GitHub Classroom's step output (result=<base64 JSON>, one test per check) to this file: "
                   "in a workflow, \"$GITHUB_OUTPUT\" (see harness/classroom.py).")
@click.option("--bundle", "bundle_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Check against this released .harness folder (default on a student's machine: the assignment's).")
@isolation_option()
def ci_command(path: Path, tasks: tuple[str, ...], tasks_dir: Path | None, all_checks: bool, min_score: float | None,
               min_percent: float | None, require_all: bool, junit_path: Path | None, summary_path: Path | None,
               json_path: Path | None, report_path: Path | None, gradescope_path: Path | None,
               classroom_path: Path | None = None, bundle_dir: Path | None = None,
               isolation: str | None = None) -> None:
    """Grade PATH in CI: the public checks, a pass/fail rule, JUnit XML, a Markdown summary, annotations.
    PATH is the submission's folder, or one file of it, graded for its module whatever else the folder holds.

    Exit status: 0 when the rule holds, 1 when it does not, 2 when the harness itself cannot run (a bad
    spec, a missing folder, no check to grade). In GitHub Actions (GITHUB_ACTIONS=true) the problems are
    printed as annotations at their file and line, and the summary is appended to $GITHUB_STEP_SUMMARY."""
    import traceback

    from . import ci

    try:
        gate = ci.Gate(min_score, min_percent, require_all)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if classroom_path and all_checks:
        raise click.UsageError("--classroom-result shows every test to the student in GitHub Classroom: it grades the "
                               "public checks only; drop --all")
    from .sandbox.isolation import IsolationFailed

    console = Console(highlight=False)
    chosen = state_isolation(isolation, console)
    warm_worker(chosen)
    try:
        from .checking import run

        results = run(path, tasks, all_checks=all_checks, bundle=bundle_dir, tasks_dir=tasks_dir, isolation=chosen)
        outcome = ci.evaluate(results, gate)
    except (*cannot_run(), ci.CIError, IsolationFailed) as exc:
        _ci_cannot_run(console, str(exc), summary_path, gradescope_path, classroom_path)
    except Exception as exc:  # noqa: BLE001 - a bug of the harness: say so, exit 2, not 1
        traceback.print_exc()
        _ci_cannot_run(console, f"internal error of the harness ({type(exc).__name__}: {exc})", summary_path,
                       gradescope_path, classroom_path)
    if json_path:
        results.write(json_path)
    if report_path:
        from .report import write_report

        write_report(results, report_path)
    if junit_path:
        from .junit import write_junit

        write_junit(results, junit_path)
    if gradescope_path:
        from .gradescope import write_gradescope

        write_gradescope(results, gradescope_path)
    if classroom_path:
        from .classroom import to_classroom

        _append_classroom(console, classroom_path, to_classroom(results, outcome))
    markdown = ci.markdown_summary(results, outcome)
    if summary_path:
        write_output(summary_path, markdown)
    ci.write_step_summary(markdown)
    print_what_ran(results, console)
    print_summary(results, console)
    if ci.in_github_actions():
        for line in ci.annotations(results, outcome):
            click.echo(line)
    verdict = "[green]PASSED[/]" if outcome.passed else "[red]FAILED[/]"
    console.print(f"harness ci: {verdict} — required {outcome.rule}: {outcome.reason}")
    sys.exit(outcome.exit_code)


def _append_classroom(console: Console, path: Path, document: dict) -> None:
    """Append the Classroom step output to ``path``; exit 2 saying why when it cannot be written."""
    from .classroom import append_output

    try:
        append_output(path, document)
    except OSError as exc:
        console.print(f"[red]error:[/] the GitHub Classroom result was not written: {escape(str(exc))}", soft_wrap=True)
        sys.exit(2)


def _ci_cannot_run(console: Console, message: str, summary_path: Path | None, gradescope_path: Path | None,
                   classroom_path: Path | None = None) -> None:
    """Exit 2, saying why on the terminal, in the job summary, as an annotation, to Gradescope and to Classroom."""
    from rich.markup import escape

    from . import ci

    console.print(f"[red]error:[/] {escape(message)}", soft_wrap=True)
    markdown = ci.error_summary(message)
    if summary_path:
        write_output(summary_path, markdown)
    ci.write_step_summary(markdown)
    if gradescope_path:
        import json

        from .gradescope import failure_document

        write_output(gradescope_path, json.dumps(failure_document(message), indent=2) + "\n")
    if classroom_path:
        from .classroom import failure_document as classroom_failure

        _append_classroom(console, classroom_path, classroom_failure(message))
    if ci.in_github_actions():
        click.echo(ci.workflow_command("error", message, title="harness could not run"))
    sys.exit(2)


@main.group("cache")
def cache_group() -> None:
    """The cached figures of reference models and classical baselines (instructor)."""


@cache_group.command("list")
def cache_list() -> None:
    """List the cached reference figures: task, when, epochs trained, the figures, and their digest (a release's
    .harness/bundle.json names the digests of the figures it used under figures_used)."""
    from . import cache

    rows = cache.entries()
    click.echo(f"cache: {cache.folder()} ({len(rows)} file{'s' if len(rows) != 1 else ''})")
    for e in rows:  # one entry a few lines, never cut to a terminal's width: a digest or file name is looked up
        epochs = f"{e.epochs} epochs" if e.epochs is not None else "epochs unknown"
        click.echo(f"{e.task}  {e.created}  {epochs}, {e.stopped}  digest {e.digest or '-'}  {e.path.name}")
        if e.figures:
            click.echo("    reference figures: " + ", ".join(f"{k} {v:.4g}" for k, v in sorted(e.figures.items())))


@cache_group.command("clear")
@click.option("--task", default=None, help="Only this task's cached figures. Default: all.")
def cache_clear(task: str | None) -> None:
    """Remove cached reference figures: they are computed again when next needed."""
    from . import cache

    removed = cache.clear(task)
    click.echo(f"removed {len(removed)} cached file{'s' if len(removed) != 1 else ''} from {cache.folder()}")


@main.command("export")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--format", "fmt_name", type=click.Choice(["gradescope", "junit", "markdown", "canvas", "moodle"]),
              default=None, help="gradescope, junit, markdown: SOURCE is a results JSON. canvas, moodle: SOURCE is "
              "the folder harness grade wrote (its --out), exported for the LMS's gradebook import with --roster.")
@click.option("--gradescope", "fmt", flag_value="gradescope", help="Short for --format gradescope.")
@click.option("--junit", "fmt", flag_value="junit", help="Short for --format junit.")
@click.option("--markdown", "fmt", flag_value="markdown", help="Short for --format markdown.")
@click.option("-o", "--output", "--out", "output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write here (default: standard output; canvas and moodle need a file).")
@click.option("--hidden-as", type=click.Choice(["after_published", "after_due_date", "hidden", "visible"]),
              default=None, help="Gradescope visibility of every check graded after submission "
              "(default: each check's own, from hidden.toml).")
@click.option("--roster", "roster_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="canvas, moodle: the CSV mapping each submission folder to the LMS's student (a 'submission' "
                   "column and the LMS's identifier columns; see docs/CLASSROOM_AND_LMS.md).")
@click.option("--assignment", default=None,
              help="canvas, moodle: the assignment the points belong to, as the LMS names it (Canvas: 'Name (id)' "
                   "with the id in the assignment's address). Default: 'harness: ' and the run's tasks.")
@click.option("--out-of", type=float, default=None,
              help="canvas, moodle: scale the grades to this many points, the assignment's maximum in the LMS. "
                   "Default: the harness's points.")
def export_command(source: Path, fmt_name: str | None, fmt: str | None, output: Path | None, hidden_as: str | None,
                   roster_path: Path | None, assignment: str | None, out_of: float | None = None) -> None:
    """Convert a results JSON (from check, ci or grade) to another format, or a graded class to an LMS's
    gradebook import.

    The LMS formats write --out and, beside it, the list of what it leaves out (canvas.csv: canvas.unmatched.csv):
    the submissions without a roster row, the roster's students without a submission, and the submissions that
    could not be graded."""
    import json

    if fmt and fmt_name and fmt != fmt_name:
        raise click.UsageError(f"--{fmt} and --format {fmt_name} disagree; give one format")
    fmt = fmt_name or fmt
    if fmt is None:
        raise click.UsageError("choose a format: --format gradescope|junit|markdown|canvas|moodle")
    if fmt in ("canvas", "moodle"):
        _export_lms(source, fmt, roster_path, output, assignment, out_of)
        return
    if roster_path or assignment or out_of is not None:
        raise click.UsageError("--roster, --assignment and --out-of go with --format canvas or moodle")
    results_json = source
    if output is not None and output.resolve() == results_json.resolve():
        raise click.UsageError(f"{output} is the input; write the export elsewhere")
    try:
        results = Results.read(results_json)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        click.echo(f"error: {results_json}: not a results document the harness wrote ({type(exc).__name__}: {exc})",
                   err=True)
        sys.exit(2)
    if fmt == "gradescope":
        from .gradescope import to_gradescope

        text = json.dumps(to_gradescope(results, hidden_as), indent=2, allow_nan=False) + "\n"
    elif fmt == "junit":
        from .junit import to_junit

        text = to_junit(results)
    else:
        from .ci import markdown_summary

        text = markdown_summary(results)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_output(output, text)
        click.echo(f"wrote {output}", err=True)


def _export_lms(folder: Path, lms: str, roster_path: Path | None, output: Path | None, assignment: str | None,
                out_of: float | None) -> None:
    """``harness export --format canvas|moodle``: the file, the list of unmatched rows, and each of them said."""
    from . import lms as lms_export

    if roster_path is None or output is None:
        raise click.UsageError(f"--format {lms} needs --roster ROSTER.csv and --out FILE")
    try:
        export = lms_export.build(folder, roster_path, lms, assignment, out_of)
        written, unmatched = lms_export.write(export, output)
    except (lms_export.ExportError, lms_export.RosterError, lms_export.GradebookError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    for line in export.summary(written):
        click.echo(line, err=line.startswith(("warning:", "note:")))
    click.echo(f"listed in {unmatched}: {len(export.unmatched_rows()) - 1} submission(s) or student(s) left out")


@main.command("init")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--task", "tasks", multiple=True, help="Write this task's module (repeatable). Default: all tasks.")
@click.option("--tasks-dir", type=click.Path(path_type=Path), default=None, help=TASKS_DIR_HELP)
@click.option("--notebook", is_flag=True, help="Write notebooks (<module>.ipynb) instead of .py files.")
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
@click.option("--no-workflow", is_flag=True, help="Do not write .github/workflows/harness.yml.")
def init_command(directory: Path, tasks: tuple[str, ...], tasks_dir: Path | None, notebook: bool, force: bool,
                 no_workflow: bool) -> None:
    """Write an assignment's starter files into DIRECTORY, from the task specs.

    One module (or notebook) per task with every name the spec grades, the answer key's signatures and
    docstrings, and NotImplementedError bodies; and a GitHub workflow that runs `harness ci`."""
    require_instructor("init")
    from .starter import StarterError, write_starter

    try:
        specs = load_tasks(tasks_dir, list(tasks) or None)
        written, warnings = write_starter(directory, specs, notebook=notebook, force=force, workflow=not no_workflow)
    except (SpecError, StarterError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    _say_written(written, warnings)


@main.command("release")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option("--task", "tasks", multiple=True, help="Release this task (repeatable). Default: all tasks.")
@click.option("--tasks-dir", type=click.Path(path_type=Path), default=None, help=TASKS_DIR_HELP)
@click.option("--notebook", is_flag=True, help="Write notebooks (<module>.ipynb) instead of .py starter files.")
@click.option("--force", is_flag=True, help="Overwrite files that exist, and replace DIRECTORY/.harness.")
@click.option("--classroom", is_flag=True,
              help="Write GitHub Classroom's workflow (.github/workflows/classroom.yml: points on the Classroom "
                   "dashboard) instead of .github/workflows/harness.yml.")
def release_command(directory: Path, tasks: tuple[str, ...], tasks_dir: Path | None, notebook: bool,
                    force: bool, classroom: bool = False) -> None:
    """Write the assignment folder handed to students into DIRECTORY (instructors).

    Starter files, the assignment's GitHub workflow, a README, and .harness/: the public part of each
    task and the public bundle — every public check's inputs and the answer key's outputs, precomputed,
    so that students check offline with the student package alone. Never copied: hidden.toml (checks
    graded after submission, the hidden seed) and the answer key."""
    require_instructor("release")
    from .release import ReleaseError, write_release
    from .starter import StarterError

    try:
        specs = load_tasks(tasks_dir, list(tasks) or None)
        written, warnings = write_release(directory, specs, notebook=notebook, force=force, classroom=classroom)
    except (SpecError, StarterError, ReleaseError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    _say_written(written, warnings)


def _say_written(written: list[Path], warnings: list[str]) -> None:
    for path in written:
        click.echo(f"wrote {path}")
    for warning in warnings:
        click.echo(warning if warning.startswith("note: ") else f"warning: {warning}", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
