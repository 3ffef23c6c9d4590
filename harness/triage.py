"""What to fix first: the checks that did not pass, grouped by cause, most points lost first.

One algorithm for every place that tells a student what to fix — the terminal (``harness check``),
the HTML report, CI's annotations and job summary, Gradescope's output and a notebook's plain-text
report — so that they list the same things in the same order, and one wording of each cause (its
title, the points it costs, its whole message and how to fix it) so that none says less than another.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass

from .results import CheckResult, Results, points_phrase

NEEDS_WORK = ("failed", "error")  # the statuses a student has something to fix for (skipped is not one)
HOW_TO_FIX = "How to fix"  # the label of a cause's hint, wherever it is shown


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
    def lost(self) -> str:
        """The points this cause costs, in words: "1 point lost", "2.5 points lost"."""
        return points_phrase(self.points_lost) + " lost"

    @property
    def message(self) -> str:
        """The whole message (results keep at most TEXT_LIMIT characters of it; no surface cuts it further)."""
        return self.first.message

    @property
    def hint(self) -> str:
        return self.first.hint


def as_text(item: FixItem, width: int | None = None, indent: str = "  ") -> list[str]:
    """A cause as plain text lines: "<title> (<points> lost): <message>", then "How to fix: <hint>" indented
    by ``indent``, both whole; with ``width``, wrapped at that many columns (never cut)."""
    pieces = [(f"{item.title} ({item.lost}): {item.message}", "")]
    if item.hint:
        pieces.append((f"{HOW_TO_FIX}: {item.hint}", indent))
    if width is None:
        return [first + text for text, first in pieces]
    lines = []
    for text, first in pieces:
        for paragraph in text.splitlines():  # a message's own line breaks are kept
            lines += textwrap.wrap(paragraph, width, initial_indent=first, subsequent_indent=indent,
                                   break_long_words=True, break_on_hyphens=False) or [first.rstrip()]
            first = indent
    return lines


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
