"""What to fix first: the checks that did not pass, grouped by cause, most points lost first.

One algorithm for every place that tells a student what to fix — the terminal (``harness check``),
the HTML report, CI's annotations and job summary, and Gradescope's output — so that they list the
same things in the same order.
"""
from __future__ import annotations

from dataclasses import dataclass

from .results import CheckResult, Results

NEEDS_WORK = ("failed", "error")  # the statuses a student has something to fix for (skipped is not one)


@dataclass(frozen=True)
class FixItem:
    """Checks that failed with the same message (one cause), and the points that cause costs."""

    checks: tuple[CheckResult, ...]

    @property
    def first(self) -> CheckResult:
        return self.checks[0]

    @property
    def points_lost(self) -> float:
        return round(sum(c.max_points - c.points for c in self.checks), 6)

    @property
    def title(self) -> str:
        more = len(self.checks) - 1
        return self.first.id + (f" and {more} more" if more else "")

    @property
    def message(self) -> str:
        return self.first.message

    @property
    def hint(self) -> str:
        return self.first.hint


def fix_first(results: Results, limit: int | None = None) -> list[FixItem]:
    """Failed and errored checks grouped by cause (same task, status, message and hint), most points lost first.

    Five checks of a cell that all fail for "has no parameter named 'weight_ih'" are one thing to fix,
    listed once. Ties keep the spec's order, which puts the simpler checks of a part first.
    """
    groups: dict[tuple, list[CheckResult]] = {}
    for c in results.checks:
        if c.status in NEEDS_WORK:
            groups.setdefault((c.task, c.status, c.message, c.hint), []).append(c)
    items = [FixItem(tuple(cs)) for cs in groups.values()]
    items.sort(key=lambda item: -item.points_lost)  # stable: ties stay in the spec's order
    return items if limit is None else items[:limit]
