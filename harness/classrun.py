"""The result of grading a class: one Outcome per submission, the run's Tally, the finished ClassRun.

Plain data, made by ``harness.batch`` and read by ``harness.gradebook`` and ``harness.overview``;
nothing here grades, reads a submission or writes a file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .results import Results

if TYPE_CHECKING:  # pragma: no cover
    from .spec import TaskSpec

GRADED = "graded"
NOT_GRADED = "not graded"


@dataclass
class Outcome:
    """What a run found for one submission."""

    name: str
    path: Path
    status: str                       # GRADED | NOT_GRADED
    reason: str = ""                  # why it could not be graded
    results: Results | None = None
    content_hash: str | None = None
    how: str = "graded"               # graded | up to date | imported | not graded | not reached
    graded_in_run: int | None = None
    seconds: float = 0.0              # time the job took, graded or not

    @property
    def report(self) -> str | None:
        """The report's path relative to the output folder, when there is one."""
        return f"submissions/{self.name}/report.html" if self.results is not None else None


@dataclass
class Tally:
    """Progress of a run, as the progress callback sees it."""

    total: int            # submissions found
    to_grade: int         # of which not up to date
    done: int = 0         # jobs finished in this run
    not_graded: int = 0   # of which could not be graded


@dataclass
class ClassRun:
    """A finished (or stopped) run: its outcomes, one per submission, in name order."""

    run_id: int
    out: Path
    outcomes: list[Outcome]
    specs: list[TaskSpec]
    started: str
    finished: str
    workers: int | None
    scheduler: str | None
    interrupted: bool = False
    seconds: float = 0.0
    counts: dict = field(default_factory=dict)

    def summary(self) -> str:
        c = self.counts
        lines = [f"{c['graded']} graded ({c['graded_now']} in this run, {c['up_to_date']} up to date), "
                 f"{c['not_graded']} not graded" + (f", {c['not_reached']} not reached" if c["not_reached"] else "")
                 + f" — {self.seconds:.1f} s"]
        for o in self.outcomes:
            if o.status != GRADED and o.how != "not reached":
                lines.append(f"  not graded: {o.name}: {o.reason}")
        if self.interrupted:
            lines.append("stopped: run the same command again to grade the rest")
        lines.append(f"overview:  {self.out / 'index.html'}\ngradebook: {self.out / 'gradebook.csv'}, "
                     f"{self.out / 'gradebook.sqlite'}")
        return "\n".join(lines)


def count(outcomes: list[Outcome]) -> dict[str, int]:
    """A run's counts (``ClassRun.counts``): graded, in this run, up to date, not graded, not reached."""
    return {"total": len(outcomes),
            "graded": sum(o.status == GRADED for o in outcomes),
            "graded_now": sum(o.how == "graded" for o in outcomes),
            "up_to_date": sum(o.how in ("up to date", "imported") for o in outcomes),
            "not_graded": sum(o.status != GRADED and o.how != "not reached" for o in outcomes),
            "not_reached": sum(o.how == "not reached" for o in outcomes)}
