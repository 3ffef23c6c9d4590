"""Checking from inside a notebook: ``harness.check()`` in a cell checks the notebook being edited and
shows the report inline, as otter-grader's ``grader.check`` does — but the student's code still runs
in the sandbox's worker, never in the student's own kernel, and the verdicts are the harness's.

The notebook is read from disk (the kernel cannot see what the editor has not saved), so the result
always says which saved file it checked. In Colab, where the notebook is not a file on the runtime,
it is fetched from Colab's editor instead (``google.colab``'s ``get_ipynb`` request).

The report is shown in an ``<iframe srcdoc>`` holding the whole report page: the page's CSS (which
styles ``body``, ``table``, ``a``…) can neither restyle the notebook around it nor be restyled by
JupyterLab's or VS Code's output CSS, so it looks exactly like the standalone report in Jupyter,
JupyterLab, VS Code and Colab; its phone layout follows the width of the output area; and
``<base href="about:srcdoc">`` keeps its "Fix first" links inside the frame (without it, a link to
``#check-…`` resolves against the notebook's own URL and loads the notebook app into the frame).
"""
from __future__ import annotations

import html
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .results import NOT_READ, NOT_SUBMITTED, Results, count

FAILING = ("failed", "error")
WIDTH = 100  # columns of the plain-text report: long messages and hints are wrapped there, never cut
FRAME_HEIGHT_PX = 640  # until the frame's onload fits it to the report (where the notebook runs scripts)
FIT_HEIGHT = ("try{var d=this.contentDocument.documentElement;"
              "this.style.height=(d.scrollHeight+2)+'px'}catch(e){}")
WARN_STYLE = ("margin:0 0 6px;padding:6px 10px;font:13px/1.4 system-ui,sans-serif;color:#1f2328;"
              "background:#fff1e5;border-left:3px solid #bc4c00")
FILE_HINT = 'pass the notebook\'s file name, e.g. harness.check("desafio.ipynb")'


def wrap(text: str) -> list[str]:
    """A line of the plain-text report wrapped at WIDTH columns (the lines after the first indented), never cut."""
    import textwrap

    return textwrap.wrap(text, WIDTH, subsequent_indent="  ", break_long_words=True, break_on_hyphens=False) or [""]


class NotebookNotFound(FileNotFoundError):
    """The notebook to check could not be found; the message says what to pass instead."""


@dataclass
class NotebookResult:
    """What ``harness.check`` returns: the Results, shown as the report in a notebook (``_repr_html_``)
    and as a short summary anywhere else (``repr``)."""

    results: Results
    path: Path
    origin: str = "file"  # "file": the saved file at ``path``; "colab": fetched from Colab's editor

    @property
    def checked(self) -> str:
        """What was graded, said so that a student who forgot to save knows why nothing changed: the file of each
        task (never one that was not graded) and the files left out, with why."""
        name = self.path.name
        graded = list(dict.fromkeys(t.source for t in self.results.tasks
                                    if t.source != NOT_SUBMITTED and not t.source.endswith(NOT_READ)))
        if not self.path.is_dir() and name + NOT_READ in (t.source for t in self.results.tasks):
            said = f"could not read {name}: the report says why"
        elif self.path.is_dir():
            said = f"checked the saved files {', '.join(graded)} of {name}" if graded else f"graded nothing in {name}"
        elif name not in graded:
            said = f"graded {', '.join(graded)}, not {name}" if graded else f"graded nothing of {name}"
        elif self.origin == "colab":
            said = f"checked {name} as Colab's editor holds it"
        else:
            said = f"checked the saved file {name} (save with Ctrl+S first)"
        others = [g for g in graded if g != name]
        if others and name in graded and not self.path.is_dir():
            said += f"; also graded {', '.join(others)}"
        ignored = [i for t in self.results.tasks for i in t.ignored]
        return said + (f"; ignored {'; '.join(ignored)}" if ignored else "")

    @property
    def isolation(self) -> str:
        """A reduced isolation in plain words ("" in full isolation): harness.sandbox.reduced."""
        from .sandbox.reduced import line_of

        return line_of(self.results.sandbox)

    @property
    def failing(self) -> list:
        return [c for c in self.results.checks if c.status in FAILING]

    def score_line(self) -> str:
        from .report import percent, points as _points

        r = self.results
        share = f" ({_points(percent(r.score, r.max_score))} %)" if r.max_score else ""
        line = f"{_points(r.score)} / {_points(r.max_score)} points{share} on {count(len(r.checks), 'check')}"
        return line + (f"; {r.later_line()}" if r.not_run_checks else "")

    def summary(self) -> str:
        """Plain text, as complete as the report: the score, what is graded later and whether it will be shown,
        every cause of a check that did not pass with its whole message and hint, the notes, what was checked."""
        from .triage import as_text, fix_first

        lines = wrap(f"harness.check: {self.score_line()}") + (wrap(self.isolation) if self.isolation else [])
        not_graded = self.results.sandbox.get("not_graded")
        if not_graded:  # nothing ran: the reason, as the report's summary gives it
            lines += wrap(f"not graded: {not_graded}")
        items = fix_first(self.results)
        if items:
            n = len(self.failing)
            causes = f", for {count(len(items), 'cause')}" if len(items) != n else ""
            lines.append(f"Fix first ({count(n, 'check')} did not pass{causes}; most points lost first):")
            for item in items:
                lines += ["  " + line for line in as_text(item, WIDTH - 2)]
        elif self.results.checks:
            lines.append("every check passed")
        for note in self.results.notes:
            lines += wrap(f"note: {note}")
        lines += wrap(self.checked)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        from .report import render_report

        page = render_report(self.results).replace("<head>", '<head>\n<base href="about:srcdoc">', 1)
        head = (f"{html.escape(self.checked[0].upper() + self.checked[1:])} · "
                f"{html.escape(self.score_line())}")
        warn = (f'<p class="harness-isolation" style="{WARN_STYLE}">{html.escape(self.isolation)}</p>'
                if self.isolation else "")
        return ('<div class="harness-check">' + warn +
                f'<p style="margin:0 0 6px;font:13px/1.4 system-ui,sans-serif;color:#59636e">{head}</p>'
                f'<iframe title="harness report: {html.escape(self.path.name)}"'
                f' srcdoc="{html.escape(page, quote=True)}"'
                f' style="display:block;width:100%;height:{FRAME_HEIGHT_PX}px;border:1px solid #d8dee4;'
                f'border-radius:8px;background:#fff" onload="{FIT_HEIGHT}"></iframe></div>')


def check(path: str | Path | None = None, tasks: list[str] | tuple = (), **options) -> NotebookResult:
    """Check the notebook at ``path`` (by default the one this kernel runs, where that can be found) with
    ``harness.checking.run`` (``options`` are passed on) and return a result that a notebook shows as
    the report. The submission checked is the notebook's folder; ``tasks`` default to the task of each
    module the notebook holds (``cells.ipynb``: cells; or what the folder's harness.toml maps to it)."""
    from . import checking  # lazily: importing harness.notebook must stay light
    from .sandbox.isolation import IsolationFailed
    from .spec import SpecError

    tasks = (tasks,) if isinstance(tasks, str) else tuple(tasks)
    with tempfile.TemporaryDirectory(prefix="harness-notebook-") as scratch:
        notebook, origin = locate_notebook(path, Path(scratch))
        folder = notebook if notebook.is_dir() else notebook.parent
        guessed = not tasks and notebook.is_file()
        if guessed:
            tasks = modules_in(notebook)
        if origin == "colab" and "bundle" not in options:
            # the fetched copy sits alone in a scratch folder: the assignment is where the kernel runs
            from .bundle import find

            found = find(Path.cwd())
            if found is not None:
                options["bundle"] = found
        try:
            results = checking.run(folder, tasks=tasks, file=notebook.name if notebook.is_file() else None, **options)
        except IsolationFailed as exc:  # nothing of the notebook ran: the report shown says why
            results = checking.not_graded(folder, exc)
        except SpecError as exc:
            if not (guessed and exc.problem == "not found"):
                raise
            raise NotebookNotFound(
                f"{notebook.name} is not a file this assignment grades: name it after its module (e.g. "
                f'cells.ipynb), map it in harness.toml ([modules] cells = "{notebook.name}"), or name the tasks: '
                f'harness.check("{notebook.name}", tasks=["cells"])') from None
    return NotebookResult(results, notebook, origin)


def modules_in(notebook: Path) -> tuple[str, ...]:
    """The contract modules a notebook holds: those its folder's harness.toml maps to it, else the one it
    is named after. (Task and module names are the same for every task the course ships.)"""
    from .checking import held_by

    return tuple(held_by(notebook.parent, notebook.name))


def locate_notebook(path: str | Path | None, scratch: Path) -> tuple[Path, str]:
    """(the file to check, "file" or "colab"). ``scratch`` receives a notebook fetched from Colab."""
    if path is not None:
        found = Path(path).expanduser()
        if not found.exists():
            raise NotebookNotFound(f"there is no file {str(path)!r} in {Path.cwd()}: {FILE_HINT}, "
                                   "as the file browser shows it (a path relative to this folder, or a full path)")
        # the folder resolved, not the file: a notebook that is a link is refused where it is read, never followed
        return found.parent.resolve() / found.name, "file"
    found = running_notebook()
    if found is not None:
        return found, "file"
    if "google.colab" in sys.modules:
        return _fetch_from_colab(scratch), "colab"
    raise NotebookNotFound(f"cannot tell which notebook this kernel runs: {FILE_HINT} "
                           f"(the file must be saved; this kernel runs in {Path.cwd()})")


def running_notebook() -> Path | None:
    """The notebook file this kernel runs, from what the front end tells the kernel: VS Code's
    ``__vsc_ipynb_file__``, recent IPython's ``__session__``, recent Jupyter's ``JPY_SESSION_NAME``."""
    namespace = _user_namespace()
    for value in (namespace.get("__vsc_ipynb_file__"), namespace.get("__session__"),
                  os.environ.get("JPY_SESSION_NAME")):
        if not isinstance(value, str) or not value.endswith(".ipynb"):
            continue  # unset, or a console's session name
        candidate = Path(value).expanduser()
        # JPY_SESSION_NAME is a full path since jupyter_server 2.0, relative to the server's root before
        for option in (candidate, Path.cwd() / candidate, Path.cwd() / candidate.name):
            if option.is_file():
                return option.resolve()
    return None


def _user_namespace() -> dict:
    ipython = sys.modules.get("IPython")  # never imported here: only a kernel that runs it has one
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    if shell is not None and isinstance(getattr(shell, "user_ns", None), dict):
        return shell.user_ns
    main = sys.modules.get("__main__")
    return vars(main) if main is not None else {}


def _fetch_from_colab(scratch: Path, timeout_s: float = 30.0) -> Path:
    """Colab keeps the notebook in Drive, not on the runtime: ask Colab's editor for it and write it to
    ``scratch``, named as Colab names it."""
    import threading

    from google.colab import _message  # noqa: PLC2701 - Colab's own (private) request channel

    reply: list = []

    def ask():
        try:
            reply.append(_message.blocking_request("get_ipynb", timeout_sec=timeout_s))
        except Exception as exc:  # noqa: BLE001 - reported below
            reply.append(exc)

    asker = threading.Thread(target=ask, daemon=True)
    asker.start()
    asker.join(timeout_s + 5)
    notebook = reply[0].get("ipynb") if reply and isinstance(reply[0], dict) else None
    if not isinstance(notebook, dict):
        why = f" ({reply[0]})" if reply and isinstance(reply[0], Exception) else ""
        raise NotebookNotFound(f"Colab did not hand over this notebook{why}: File > Download > .ipynb, upload "
                               f"it to the Files panel, then {FILE_HINT}")
    name = str(notebook.get("metadata", {}).get("colab", {}).get("name") or "notebook.ipynb")
    name = Path(name).name if name.endswith(".ipynb") else "notebook.ipynb"
    target = scratch / name
    target.write_text(json.dumps(notebook), encoding="utf-8")
    return target
