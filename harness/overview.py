"""The class overview page (``index.html``), rendered from a run's outcomes and their Results only.

Self-contained like the per-submission report (whose stylesheet it reuses): inline CSS and SVG, no
scripts, fonts or links to fetch, everything a submission controls escaped by the template engine.
It shows how many submissions were graded and why the others were not, the score distribution,
each task's mean and median, each check's pass rate (worst first, with its most common failure
message), the slowest submissions and a link to every report.
"""
from __future__ import annotations

import html
import io
import re
import statistics
from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .classrun import GRADED, ClassRun, Outcome
from .figures import PALETTE, RC
from .files import write_output
from .report import TEMPLATES, environment, percent

SLOWEST = 10
BINS = 10  # score histogram: 0–10 %, …, 90–100 %
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def render_overview(run: ClassRun) -> str:
    """The class overview of a run, as HTML."""
    return environment().get_template("overview.html.j2").render(page=page(run), css=report_css())


def write_overview(run: ClassRun, path: Path) -> Path:
    """Render and write ``index.html`` atomically; returns the path."""
    return write_output(path, render_overview(run))


def page(run: ClassRun) -> dict:
    """What the template shows, computed here so that the template only lays it out."""
    graded = [o for o in run.outcomes if o.status == GRADED and o.results is not None]
    shares = [percent(o.results.score, o.results.max_score) for o in graded]
    shares = [s for s in shares if s is not None]
    return {
        "run_id": run.run_id, "started": run.started, "finished": run.finished, "seconds": run.seconds,
        "where": f"Dask scheduler {run.scheduler}" if run.scheduler else f"{run.workers} local worker process"
                 + ("es" if run.workers != 1 else ""),
        "interrupted": run.interrupted,
        "counts": run.counts,
        "specs": [{"name": s.name, "title": s.title, "version": s.version, "digest": s.digest}
                  for s in sorted(run.specs, key=lambda s: s.name)],
        "distribution": {"svg": histogram(shares), "n": len(shares), **summary(shares)},
        "tasks": task_rows(graded, run.specs),
        "checks": check_rows(graded),
        "slowest": [submission_row(o) for o in sorted(graded, key=lambda o: (-o.results.seconds, o.name))[:SLOWEST]],
        "not_graded": [submission_row(o) for o in run.outcomes if o.status != GRADED],
        "submissions": [submission_row(o) for o in run.outcomes],
    }


def summary(values: list[float]) -> dict:
    if not values:
        return {"mean": None, "median": None, "low": None, "high": None}
    return {"mean": round(statistics.fmean(values), 1), "median": round(statistics.median(values), 1),
            "low": min(values), "high": max(values)}


def task_rows(graded: list[Outcome], specs) -> list[dict]:
    rows = []
    for spec in sorted(specs, key=lambda s: s.name):
        scores = [t.score for o in graded for t in o.results.tasks if t.name == spec.name]
        stats = summary(scores)
        rows.append({"name": spec.name, "title": spec.title, "max": spec.max_score, "n": len(scores), **stats,
                     "mean_percent": percent(stats["mean"], spec.max_score) if scores else None})
    return rows


def check_rows(graded: list[Outcome]) -> list[dict]:
    """Per check: how many ran it, the pass rate and its most common failure, worst first.

    Failure messages are grouped with their numbers masked ("max error 0.31" and "max error 0.07"
    are one mistake); the group's first message stands for it."""
    ran: Counter = Counter()
    passed: Counter = Counter()
    task: dict[str, str] = {}
    failures: dict[str, Counter] = defaultdict(Counter)
    example: dict[tuple[str, str], str] = {}
    for o in graded:
        for c in o.results.checks:
            ran[c.id] += 1
            task.setdefault(c.id, c.task)
            if c.status == "passed":
                passed[c.id] += 1
            elif c.status in ("failed", "error"):
                shape = NUMBER.sub("#", c.message)
                failures[c.id][shape] += 1
                example.setdefault((c.id, shape), c.message)
    rows = []
    for check_id, n in ran.items():
        common = failures[check_id].most_common(1)
        rows.append({"id": check_id, "task": task[check_id], "n": n, "passed": passed[check_id],
                     "rate": round(100.0 * passed[check_id] / n, 1),
                     "failures": sum(failures[check_id].values()),
                     "message": example[(check_id, common[0][0])] if common else "",
                     "message_count": common[0][1] if common else 0})
    return sorted(rows, key=lambda r: (r["rate"], r["id"]))


def submission_row(o: Outcome) -> dict:
    r = o.results
    counts = r.counts() if r is not None else {}
    return {"name": o.name, "href": quote(o.report) if o.report else None, "status": o.status, "how": o.how,
            "reason": o.reason, "score": r.score if r else None, "max_score": r.max_score if r else None,
            "percent": percent(r.score, r.max_score) if r else None,
            "passed": counts.get("passed", 0), "failed": counts.get("failed", 0) + counts.get("error", 0),
            "seconds": r.seconds if r else o.seconds}


@lru_cache(maxsize=1)
def report_css() -> str:
    """The per-submission report's stylesheet, so that both pages look alike and stay alike."""
    found = re.search(r"<style>(.*?)</style>", (TEMPLATES / "report.html.j2").read_text(encoding="utf-8"), re.DOTALL)
    return found.group(1).strip() if found else ""


# --------------------------------------------------------------------------- the score histogram


def histogram(shares: list[float], key: str = "score-distribution") -> str:
    """Inline SVG of the scores (percent of the points) in bins of 10 %, with the median marked.

    A kind that harness.figures does not have (vertical bins over a fixed 0–100 axis); drawn under
    its style and as deterministically: the same scores give the same bytes."""
    if not shares:
        return ""
    edges = [100.0 * i / BINS for i in range(BINS + 1)]
    counts = [0] * BINS
    for s in shares:
        counts[min(int(max(s, 0.0) // (100 / BINS)), BINS - 1)] += 1  # 100 % falls in the last bin
    median = statistics.median(shares)
    with matplotlib.rc_context({**RC, "svg.hashsalt": key}):
        fig = Figure(figsize=(9, 3), layout="constrained")
        try:
            ax = fig.add_subplot()
            ax.bar(edges[:-1], counts, width=100 / BINS, align="edge", color=PALETTE[0], edgecolor="white",
                   linewidth=1.0)
            for left, n in zip(edges, counts):
                if n:
                    ax.annotate(str(n), (left + 50 / BINS, n), xytext=(0, 2), textcoords="offset points",
                                ha="center", va="bottom", fontsize=9)
            ax.axvline(median, color=PALETTE[1], linestyle="--", linewidth=1.4, label=f"median {median:.0f} %")
            ax.legend(loc="upper left")
            ax.set_xlim(0, 100)
            ax.set_xticks(edges)
            ax.set_ylim(0, max(counts) * 1.18 + 0.5)
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(axis="x", visible=False)
            ax.set_axisbelow(True)
            ax.set_xlabel("score (% of the points)")
            ax.set_ylabel("submissions")
            return _svg(fig, key, f"Histogram of {len(shares)} scores; median {median:.0f} percent")
        finally:
            fig.clear()


def _svg(fig: Figure, key: str, label: str) -> str:
    """The figure as an inline <svg>: no prologue or metadata, ids prefixed with ``key``."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", buffer.getvalue()[buffer.getvalue().index("<svg"):],
                 count=1, flags=re.DOTALL)
    svg = re.sub(r'(\bid="|href="#|url\(#)([^"\)]+)', lambda m: f"{m.group(1)}{key}-{m.group(2)}", svg)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{html.escape(label)}" ', 1).strip()
