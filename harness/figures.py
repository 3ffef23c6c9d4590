"""Figures for reports: a figure's data (as the checks' figure functions return it) in, inline SVG out.

Pure functions of the data: the same data gives byte-identical SVG, nothing is read from or left in
pyplot's global state (figures are plain ``matplotlib.figure.Figure`` objects, dropped after use),
and the SVG is self-contained (no fonts, images or links to fetch), so a report opens offline.
"""
from __future__ import annotations

import html
import io
import math
import re
from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")  # never a GUI backend, even if pyplot is imported later

from matplotlib.figure import Figure  # noqa: E402 - after choosing the backend
from matplotlib.ticker import FuncFormatter, LogFormatter  # noqa: E402

# Okabe-Ito: distinguishable with the common colour-vision deficiencies and in greyscale print.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")

RC = {
    "svg.fonttype": "none",          # text stays text: small, selectable, drawn in the page's font
    "text.parse_math": False,        # a "$" in a label is a dollar sign, not mathtext that may not parse
    "font.family": "sans-serif",
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e3e6ea",
    "grid.linewidth": 0.8,
    "axes.edgecolor": "#5b6470",
    "axes.titlesize": 11,
    "legend.frameon": False,
}


@dataclass(frozen=True)
class Drawing:
    """A drawn figure: the SVG (empty when nothing could be drawn) and notes to show under it."""

    svg: str
    notes: list[str] = field(default_factory=list)


def draw(data: dict, title: str = "", key: str = "figure", show_title: bool = True) -> Drawing:
    """Draw a figure's data; ``key`` (the figure's id) keeps ids unique when several SVGs share a page.

    The title labels the SVG for screen readers and, with ``show_title``, is drawn above the axes
    (a page that prints the title itself leaves it out of the picture).
    """
    if not isinstance(data, dict):
        return Drawing("", ["cannot draw this figure: its data is not a mapping"])
    if "error" in data and "kind" not in data:
        return Drawing("", [f"this figure could not be made: {data['error']}"])
    kind = data.get("kind")
    drawer = DRAWERS.get(kind)
    if drawer is None:
        return Drawing("", [f"cannot draw a figure of kind {kind!r}"])
    try:
        return drawer(data, title, key, show_title)
    except (KeyError, TypeError, ValueError) as exc:  # malformed data costs the figure, not the report
        return Drawing("", [f"cannot draw this figure ({type(exc).__name__}: {exc})"])


def lines(data: dict, title: str, key: str, show_title: bool = True) -> Drawing:
    """One line per series; a cell's answer key (dashed) and the student's (solid) share a colour."""
    notes = [f"{name} is not drawn: {reason}" for name, reason in sorted(data.get("errors", {}).items())]
    series = [s for s in data["series"] if s.get("values")]
    colours: dict[str, str] = {}
    for s in series:
        group = s.get("cell", s.get("label", ""))
        colours.setdefault(group, PALETTE[len(colours) % len(PALETTE)])
    log_y = bool(data.get("log_y")) and any(_positive(v) for s in series for v in s["values"])

    with matplotlib.rc_context({**RC, "svg.hashsalt": key}):
        fig = Figure(figsize=(8.0, 4.2), layout="constrained")
        ax = fig.add_subplot()
        for s in series:
            values = [_number(v) for v in s["values"]]
            student = s.get("who") == "student"
            ax.plot(range(len(values)), values, label=str(s.get("label", "")),
                    color=colours[s.get("cell", s.get("label", ""))],
                    # the answer key dashed on top of a broad solid line: where they agree, both show
                    linestyle="-" if student else (0, (4, 3)), linewidth=3.2 if student else 1.5,
                    alpha=0.5 if student else 1.0, zorder=2 if student else 3)
        if log_y:
            ax.set_yscale("log", nonpositive="mask")
            ax.yaxis.set_major_formatter(FuncFormatter(_power_of_ten))
            ax.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False))  # labels only on short ranges
        ax.set_xlabel(str(data.get("x_label", "")))
        ax.set_ylabel(str(data.get("y_label", "")))
        if title and show_title:
            ax.set_title(title, loc="left", wrap=True)
        if series:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, handlelength=3)
        else:
            ax.text(0.5, 0.5, "no data to plot", transform=ax.transAxes, ha="center", va="center", color="#5b6470")
        svg = _svg(fig, key, title)
    if data.get("log_y") and not log_y and series:
        notes.append("no positive values, so the y-axis is linear rather than logarithmic")
    return Drawing(svg, notes)


DRAWERS = {"lines": lines}


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power_of_ten(value: float, _pos=None) -> str:
    """Log-axis tick labels as plain text (10⁻³), since mathtext is off for the data's own labels."""
    if not (value > 0 and math.isfinite(value)):
        return ""
    exponent = math.log10(value)
    if abs(exponent - round(exponent)) < 1e-9:
        return "10" + str(round(exponent)).translate(_SUPERSCRIPT)
    return f"{value:.3g}"


def _positive(value) -> bool:
    number = _number(value)
    return math.isfinite(number) and number > 0


_XML_PROLOGUE = re.compile(r"\A.*?(?=<svg\b)", re.S)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
_ID_REFERENCES = re.compile(r'(\bid="|href="#|url\(#)([^"\)]+)')


def _svg(fig: Figure, key: str, label: str) -> str:
    """The figure as an inline <svg> element: no XML prologue, no metadata, ids prefixed with ``key``."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = _METADATA.sub("", _XML_PROLOGUE.sub("", buffer.getvalue(), count=1), count=1)
    prefix = "fig-" + re.sub(r"[^A-Za-z0-9_-]", "-", key) + "-"
    svg = _ID_REFERENCES.sub(lambda m: m.group(1) + prefix + m.group(2), svg)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{html.escape(label)}" ', 1).strip()
