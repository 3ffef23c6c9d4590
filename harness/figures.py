"""Figures for reports: a figure's data (as the checks' figure functions return it) in, inline SVG out.

Pure functions of the data: the same data gives byte-identical SVG, nothing is read from or left in
pyplot's global state (figures are plain ``matplotlib.figure.Figure`` objects, cleared after use),
and the SVG is self-contained (no fonts, images or links to fetch), so a report opens offline.
Data that cannot be drawn costs its figure, never the report: it comes back as a note.

The kinds and their data (every key not marked optional is required):

``lines``
    ``series``: [{"label", "values": [numbers or null], "who" (optional), "cell" (optional)}];
    optional ``x_values`` (numbers) or ``x_labels`` (strings such as months "1959-01", of which a
    readable subset is shown as ticks), ``shade``: {"from": i, "to": j, "label"} (indices into the
    x positions, both inclusive), ``marks``: [{"at": i, "label", "who"}] (vertical lines at x positions,
    e.g. the epoch whose weights early stopping kept), ``x_label``, ``y_label``, ``log_y``, ``smooth`` (draw a moving
    average of each series over about len/50 points, the raw values faint behind it) and
    ``errors``: {name: why it is not drawn}. ``who`` sets the look: "actual" black solid,
    "student" a strong solid colour, "reference" dashed, "baseline" dotted grey, "optimum" thin
    dash-dot. A student's and a reference's series with the same ``cell`` share a colour.
``matrix``
    ``rows``, ``cols`` (labels: rows the true class, columns the predicted one), ``values`` (a
    len(rows) x len(cols) grid of counts), optional ``normalise``: "rows" (colour by, and print,
    each cell's share of its row), ``x_label``, ``y_label``.
``bars``
    ``bars``: [{"label", "value", "who"}], drawn top to bottom as given, the student's highlighted,
    "optimum" as a vertical line; optional ``y_label`` (the value axis), ``log_y``,
    ``lower_is_better``.
``text``
    ``rows``: [{"label", "text"}], optional ``note``, ``errors``: {label: why its rows are missing} and
    ``hint`` (what to do about those errors). Not a picture: the page lays the rows out as a table
    (``Drawing.table``) and escapes them, since the text is the student's model's output.

Any kind: ``{"error": why}`` without a ``kind`` is a figure that could not be made; the page shows why
in its place.
``heatmaps``
    ``items``: [{"title", "rows", "cols", "values"}] (at most 4 drawn), weights in [0, 1] on one
    shared colour scale: attention maps, rows the output words, columns the input words.
"""
from __future__ import annotations

import html
import io
import math
import re
from contextlib import contextmanager
from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")  # never a GUI backend, even if pyplot is imported later

import numpy as np  # noqa: E402
from matplotlib import colormaps  # noqa: E402
from matplotlib.colors import Normalize  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402 - after choosing the backend
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator  # noqa: E402
from matplotlib.transforms import blended_transform_factory  # noqa: E402

# Okabe-Ito: distinguishable with the common colour-vision deficiencies and in greyscale print.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
# Series colours by cell: Okabe-Ito without black (the actual values) and with bluish green last
# (the optimum's colour, left out of the cycle when a figure has an optimum).
GROUP_COLOURS = ("#0072B2", "#D55E00", "#CC79A7", "#E69F00", "#56B4E9", "#009E73", "#F0E442")
ACTUAL = "#000000"
OPTIMUM = "#009E73"
BASELINES = ("#8a8f96", "#b39a6b", "#7f9fb8", "#a88aa3")  # grey-ish, told apart by hue
MUTED = "#59636e"
SHADE = "#e9edf2"
SEQUENTIAL = "Blues"  # single-hue sequential: readable with colour-vision deficiencies and in greyscale

WHO = ("student", "reference", "baseline", "actual", "optimum")
BAR_LOOK = {  # who: (face colour, legend label)
    "student": ("#0072B2", "yours"),
    "reference": ("#a6c8e6", "answer key"),
    "baseline": ("#c5cad0", "baseline"),
    None: ("#8fa1b3", "other"),
}
MAX_HEATMAPS = 4
MAX_ANNOTATED_CELLS = 20  # a matrix with more rows or columns is coloured but not written in
MAX_TEXT = 4000           # characters of one generated text shown in the report
MAX_MARKS = 8             # vertical marks on a line figure
HUGE = 1e100              # larger values are left out: axis arithmetic on ±1e308 overflows

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


class DataError(ValueError):
    """Figure data that is not what its kind needs; the message says what is wrong, for the note."""


@dataclass(frozen=True)
class Drawing:
    """A drawn figure: the SVG (empty when nothing could be drawn) and notes to show under it.

    A "text" figure has no SVG but ``table``: rows of {"label", "text"}, plain (unescaped) strings
    for the page's template to escape and lay out.
    """

    svg: str
    notes: list[str] = field(default_factory=list)
    table: list[dict] = field(default_factory=list)


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
    drawer = DRAWERS.get(kind) if isinstance(kind, str) else None
    if drawer is None:
        return Drawing("", [f"cannot draw a figure of kind {kind!r}"])
    try:
        with np.errstate(all="ignore"):  # huge or odd numbers: drawn as well as they can be, silently
            return drawer(data, str(title), str(key), show_title)
    except KeyError as exc:  # malformed data costs the figure, not the report
        return Drawing("", [f"cannot draw this {kind} figure: its data has no {exc}"])
    except DataError as exc:
        return Drawing("", [f"cannot draw this {kind} figure: {exc}"])
    except Exception as exc:  # noqa: BLE001 - whatever the data does to matplotlib, the page still renders
        return Drawing("", [f"cannot draw this {kind} figure ({type(exc).__name__}: {exc})"])


# --------------------------------------------------------------------------- lines


def lines(data: dict, title: str, key: str, show_title: bool = True) -> Drawing:
    """One line per series, styled by who drew it; see the module's docstring for the data."""
    notes = _error_notes(data.get("errors"))
    series = []
    for i, s in enumerate(_list(data["series"], "series")):
        if not isinstance(s, dict):
            notes.append(f"series {i + 1} is not drawn: it is not a mapping")
            continue
        label = _clean(s.get("label", f"series {i + 1}"), 60)
        values = s.get("values")
        if not isinstance(values, (list, tuple)) or not values:
            notes.append(f"{label} is not drawn: it has no values")
            continue
        who = s.get("who") if s.get("who") in WHO else None
        numbers = [_number(v) for v in values]
        odd = sum(1 for v, x in zip(values, numbers) if v is not None and not _drawable(x))
        if odd:  # None is a gap by design (a forecast padded to the series' length); inf or NaN is news
            notes.append(f"{label}: {odd} of its {len(values)} values {'is' if odd == 1 else 'are'} not a finite "
                         f"number (inf, NaN, beyond ±{HUGE:.0e} or not a number), left out of the line")
        series.append({"label": label, "who": who, "values": [x if _drawable(x) else math.nan for x in numbers],
                       "group": _clean(s.get("cell", label), 60)})

    answered = {s["group"] for s in series if s["who"] == "reference"}
    for s in series:
        s["paired"] = s["group"] in answered
    n = max((len(s["values"]) for s in series), default=0)
    xs, tick_labels = _x_axis(data, n, notes)
    for s in series:
        if len(s["values"]) > len(xs):
            notes.append(f"{s['label']}: only the first {len(xs)} of its {len(s['values'])} values have an x position")
            s["values"] = s["values"][:len(xs)]

    smooth = bool(data.get("smooth")) and n > 0
    window = max(1, round(n / 50)) if smooth else 1
    log_y = bool(data.get("log_y")) and any(v > 0 for s in series for v in s["values"])
    colours = _series_colours(series)

    with _figure(key, (8.0, 4.2)) as fig:
        ax = fig.add_subplot()
        for s in series:
            x = xs[:len(s["values"])]
            style = _line_style(s, colours)
            if window > 1:
                ax.plot(x, s["values"], color=style["color"], linewidth=0.8, alpha=0.22, zorder=1)
                ax.plot(x, _moving_average(s["values"], window), label=s["label"], **style)
            else:
                ax.plot(x, s["values"], label=s["label"], **style)
        if log_y:
            ax.set_yscale("log", nonpositive="mask")
            _log_labels(ax.yaxis)
        if tick_labels is not None:
            _label_ticks(ax, xs, tick_labels)
        if xs and "shade" in data and data["shade"] is not None:
            _shade(ax, data["shade"], xs, notes)
        if xs and data.get("marks") is not None:
            _marks(ax, data["marks"], xs, series, colours, notes)
        ax.set_xlabel(_clean(data.get("x_label", ""), 120))
        ax.set_ylabel(_clean(data.get("y_label", ""), 120))
        if title and show_title:
            ax.set_title(title, loc="left", wrap=True)
        if series:
            legend_title = f"moving average\nover {window} points;\nfaint: raw values" if window > 1 else None
            legend = ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, handlelength=3,
                               title=legend_title, title_fontsize=8.5, alignment="left")
            legend.get_title().set_color(MUTED)
        else:
            _nothing(ax)
        svg = _svg(fig, key, title)
    if data.get("log_y") and not log_y and series:
        notes.append("no positive values, so the y-axis is linear rather than logarithmic")
    return Drawing(svg, notes)


def _series_colours(series: list[dict]) -> dict[str, str]:
    """A colour per cell (or label) among the series that take one: the student's, the answer key's, others'."""
    cycle = GROUP_COLOURS
    if any(s["who"] == "optimum" for s in series):
        cycle = tuple(c for c in GROUP_COLOURS if c != OPTIMUM)
    colours: dict[str, str] = {}
    for s in series:
        if s["who"] in ("student", "reference", None):
            colours.setdefault(s["group"], cycle[len(colours) % len(cycle)])
    baselines = [s["label"] for s in series if s["who"] == "baseline"]
    for i, label in enumerate(dict.fromkeys(baselines)):
        colours.setdefault("baseline:" + label, BASELINES[i % len(BASELINES)])
    return colours


def _line_style(s: dict, colours: dict[str, str]) -> dict:
    who = s["who"]
    if who == "actual":
        return {"color": ACTUAL, "linestyle": "-", "linewidth": 1.6, "zorder": 5}
    if who == "optimum":
        return {"color": OPTIMUM, "linestyle": (0, (6, 2, 1.2, 2)), "linewidth": 1.2, "zorder": 4}
    if who == "baseline":
        return {"color": colours["baseline:" + s["label"]], "linestyle": (0, (1, 1.5)), "linewidth": 2.0, "zorder": 2}
    colour = colours[s["group"]]
    if who == "reference":
        return {"color": colour, "linestyle": (0, (4, 3)), "linewidth": 1.5, "zorder": 3}
    if who == "student":
        # a broad solid line under its answer key's dashed one: where they agree, both show
        paired = s.get("paired", False)
        return {"color": colour, "linestyle": "-", "linewidth": 3.2 if paired else 2.2,
                "alpha": 0.55 if paired else 1.0, "zorder": 2 if paired else 4}
    return {"color": colour, "linestyle": "-", "linewidth": 1.6, "zorder": 3}


def _x_axis(data: dict, n: int, notes: list[str]) -> tuple[list[float], list[str] | None]:
    """The x positions of the points and, for ``x_labels``, the labels to pick ticks from."""
    x_values, x_labels = data.get("x_values"), data.get("x_labels")
    xs: list[float] = list(range(n))
    if x_values is not None:
        numbers = [_number(v) for v in x_values] if isinstance(x_values, (list, tuple)) else []
        if numbers and all(math.isfinite(v) for v in numbers):
            xs = numbers
        else:
            notes.append("x_values are not a list of numbers, so the points are numbered 0, 1, 2, ... instead")
    labels = None
    if x_labels is not None:
        if not isinstance(x_labels, (list, tuple)) or not x_labels:
            notes.append("x_labels are not a list of labels, so they are not shown")
        elif x_values is not None and len(x_labels) != len(xs):
            notes.append(f"{len(x_labels)} x_labels for {len(xs)} x_values, so the labels are not shown")
        else:
            labels = [_clean(v, 24) for v in x_labels]
            if x_values is None:
                xs = list(range(len(labels)))
    return xs, labels


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
MONTH_STEPS = (1, 2, 3, 6, 12, 24, 60, 120, 240, 600, 1200)
NICE_STEPS = tuple(m * 10 ** e for e in range(7) for m in (1, 2, 5))


def tick_subset(labels: list[str], max_ticks: int | None = None) -> list[int]:
    """Indices of the labels to show as ticks: all that fit, else evenly spaced ones (months on Januaries)."""
    n = len(labels)
    if max_ticks is None:
        longest = max((len(s) for s in labels), default=1)
        max_ticks = max(2, min(12, 80 // (longest + 3)))
    if n <= max_ticks:
        return list(range(n))
    months = [_MONTH.match(s) for s in labels]
    if all(months):
        index = [int(m.group(1)) * 12 + int(m.group(2)) - 1 for m in months]
        for step in MONTH_STEPS:
            picks = [i for i, k in enumerate(index) if k % step == 0]
            if 0 < len(picks) <= max_ticks:
                return picks
    for step in NICE_STEPS:
        if math.ceil(n / step) <= max_ticks:
            return list(range(0, n, step))
    return [0]


def _label_ticks(ax, xs: list[float], labels: list[str]) -> None:
    picks = tick_subset(labels)
    ax.xaxis.set_major_locator(FixedLocator([xs[i] for i in picks]))
    ax.set_xticklabels([labels[i] for i in picks])
    if len(picks) < len(labels) <= 60:  # a minor tick per label where they are not a blur
        ax.xaxis.set_minor_locator(FixedLocator(xs))
        ax.tick_params(axis="x", which="minor", length=2, color="#aab2bb")
    else:
        ax.xaxis.set_minor_locator(NullLocator())


def _shade(ax, shade, xs: list[float], notes: list[str]) -> None:
    """A shaded x-range (indices into the x positions, both inclusive) with its label at the top."""
    if not isinstance(shade, dict):
        notes.append("the shaded range is not drawn: shade is not a mapping")
        return
    first, last = shade.get("from"), shade.get("to")
    if not (_index(first) and _index(last) and 0 <= first <= last and first < len(xs)):
        notes.append(f"the shaded range is not drawn: from {first!r} to {last!r} are not indices of "
                     f"0..{len(xs) - 1} with from <= to")
        return
    first, last = int(first), min(int(last), len(xs) - 1)
    left = xs[first] - (xs[first] - xs[first - 1]) / 2 if first > 0 else xs[first]
    right = xs[last] + (xs[last + 1] - xs[last]) / 2 if last < len(xs) - 1 else xs[last]
    ax.axvspan(left, right, color=SHADE, linewidth=0, zorder=0)
    label = _clean(shade.get("label", ""), 40)
    if label:
        ax.text((left + right) / 2, 0.98, label, transform=blended_transform_factory(ax.transData, ax.transAxes),
                ha="center", va="top", fontsize=9, color=MUTED, style="italic", zorder=6)


def _marks(ax, marks, xs: list[float], series: list[dict], colours: dict[str, str], notes: list[str]) -> None:
    """Vertical lines at x positions (indices), each labelled at the top, in the colour of its ``who``'s series."""
    if not isinstance(marks, list):
        notes.append("the marks are not drawn: marks is not a list")
        return
    for i, mark in enumerate(marks[:MAX_MARKS]):
        if not isinstance(mark, dict):
            notes.append(f"mark {i + 1} is not drawn: it is not a mapping")
            continue
        at = mark.get("at")
        if not (_index(at) and 0 <= at < len(xs)):
            notes.append(f"mark {i + 1} is not drawn: at = {at!r} is not an index of 0..{len(xs) - 1}")
            continue
        colour = next((colours[s["group"]] for s in series if s["who"] == mark.get("who") and s["group"] in colours),
                      MUTED)
        ax.axvline(xs[int(at)], color=colour, linestyle=(0, (2, 2)), linewidth=1.3, zorder=4)
        label = _clean(mark.get("label", ""), 40)
        if label:
            ax.text(xs[int(at)], 0.98, f" {label}", transform=blended_transform_factory(ax.transData, ax.transAxes),
                    ha="left", va="top", fontsize=9, color=colour, zorder=6)
    if len(marks) > MAX_MARKS:
        notes.append(f"only the first {MAX_MARKS} of {len(marks)} marks are drawn")


def _moving_average(values: list[float], window: int) -> list[float]:
    """Centred moving average that skips missing values (NaN) and shrinks at the ends."""
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    kernel = np.ones(window)
    sums = np.convolve(np.where(ok, v, 0.0), kernel, mode="same")
    counts = np.convolve(ok.astype(float), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return np.where(ok, mean, np.nan).tolist()


# --------------------------------------------------------------------------- matrix


def matrix(data: dict, title: str, key: str, show_title: bool = True) -> Drawing:
    """A confusion matrix: rows the true class, columns the predicted, counts (and row shares) written in."""
    notes: list[str] = []
    rows, cols = _labels(data["rows"], "rows", 24), _labels(data["cols"], "cols", 24)
    counts = _grid(data["values"], len(rows), len(cols))
    normalise = data.get("normalise")
    if normalise not in (None, "rows"):
        notes.append(f"normalise {normalise!r} is not known (only \"rows\"), so the counts are shown as they are")
        normalise = None
    if np.isnan(counts).any():
        notes.append("some cells have no number; they are left blank")
    if normalise == "rows":
        totals = np.nansum(counts, axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            shades = np.where(totals > 0, counts / np.where(totals > 0, totals, 1), np.nan)
        norm = Normalize(0.0, 1.0)
        bar_label = "share of the true class (row)"
    else:
        shades = counts
        finite = counts[np.isfinite(counts)]
        top = float(finite.max()) if finite.size else 1.0
        norm = Normalize(min(0.0, float(finite.min())) if finite.size else 0.0, top if top > 0 else 1.0)
        bar_label = "count"
    cmap = colormaps[SEQUENTIAL]
    annotate = max(len(rows), len(cols)) <= MAX_ANNOTATED_CELLS
    if not annotate:
        notes.append(f"{len(rows)} x {len(cols)} classes: too many to write the numbers in the cells")

    width = min(10.0, 2.4 + 0.8 * len(cols) + max(len(s) for s in rows) * 0.07)
    height = min(10.0, 1.4 + 0.55 * len(rows) + max(len(s) for s in cols) * 0.05)
    with _figure(key, (max(width, 4.0), max(height, 2.6))) as fig:
        ax = fig.add_subplot()
        mesh = ax.pcolormesh(np.ma.masked_invalid(shades), cmap=cmap, norm=norm, edgecolors="white", linewidth=1.0)
        ax.set_aspect("equal")
        ax.invert_yaxis()
        _token_axes(ax, rows, cols, rotate=max(len(s) for s in cols) > 4 and len(cols) > 3)
        if annotate:
            size = 10 if len(cols) <= 10 else 8.5 if len(cols) <= 14 else 7
            for i in range(len(rows)):
                for j in range(len(cols)):
                    if not math.isfinite(counts[i, j]):
                        continue
                    text = _count(counts[i, j])
                    if normalise == "rows" and math.isfinite(shades[i, j]):
                        text += "\n" + _share(shades[i, j])
                    ax.text(j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=size, linespacing=1.15,
                            color=_ink(cmap(norm(shades[i, j])) if math.isfinite(shades[i, j]) else (1, 1, 1, 1)))
        ax.set_xlabel(_clean(data.get("x_label") or "predicted class", 120))
        ax.set_ylabel(_clean(data.get("y_label") or "true class", 120))
        if title and show_title:
            ax.set_title(title, loc="left", wrap=True)
        colorbar = fig.colorbar(mesh, ax=ax, shrink=0.85, pad=0.03, aspect=25)
        colorbar.set_label(bar_label, color=MUTED)
        colorbar.outline.set_visible(False)
        _vector_colorbar(colorbar)
        if normalise == "rows":
            colorbar.formatter = FuncFormatter(lambda v, _pos=None: f"{100 * v:.0f}%")
        svg = _svg(fig, key, title)
    return Drawing(svg, notes)


# --------------------------------------------------------------------------- bars


def bars(data: dict, title: str, key: str, show_title: bool = True) -> Drawing:
    """Horizontal bars in the order given, the value at the end of each, an optimum as a vertical line."""
    notes: list[str] = []
    log = bool(data.get("log_y"))
    drawn, optima = [], []
    for i, b in enumerate(_list(data["bars"], "bars")):
        if not isinstance(b, dict):
            notes.append(f"bar {i + 1} is not drawn: it is not a mapping")
            continue
        label = _clean(b.get("label", f"bar {i + 1}"), 40)
        value = _number(b.get("value"))
        who = b.get("who") if b.get("who") in WHO else None
        if not math.isfinite(value):
            notes.append(f"{label} has no value ({_shown(b.get('value'))}), so it is not drawn")
        elif not _drawable(value):
            notes.append(f"{label} is {value:.3g}, too large to draw, so it is not drawn")
        elif log and value <= 0:
            notes.append(f"{label} is {_value(value)}, which a logarithmic axis cannot show, so it is not drawn")
        else:
            (optima if who == "optimum" else drawn).append({"label": label, "value": value, "who": who})
    if not drawn and not optima:
        return Drawing("", notes + ["no bar has a value to draw"])

    lower = data.get("lower_is_better")
    axis_label = _clean(data.get("y_label", ""), 100)
    if lower is not None:
        better = "← lower is better" if lower else "higher is better →"
        axis_label = f"{axis_label}   ({better})" if axis_label else better
    values = [b["value"] for b in drawn + optima]

    with _figure(key, (8.0, 1.5 + 0.42 * max(len(drawn), 1))) as fig:
        ax = fig.add_subplot()
        ax.grid(axis="y", visible=False)
        ys = list(range(len(drawn)))
        if log:
            ax.set_xscale("log")
            _log_labels(ax.xaxis)
            base = 10.0 ** math.floor(math.log10(min(values)))
            right = max(values) * (max(values) / base) ** 0.14
        else:
            base = 0.0
            span = max(max(values), 0.0) - min(min(values), 0.0) or 1.0
            right = max(max(values), 0.0) + 0.14 * span
        for y, b in zip(ys, drawn):
            colour = BAR_LOOK[b["who"] if b["who"] in BAR_LOOK else None][0]
            student = b["who"] == "student"
            ax.barh(y, b["value"] - base, left=base, height=0.62, color=colour, zorder=2,
                    edgecolor="#1f2328" if student else "none", linewidth=1.0 if student else 0)
            ax.text(b["value"], y, f" {_value(b['value'])} ",
                    ha="left" if b["value"] >= base else "right", va="center", fontsize=9.5, zorder=3,
                    fontweight="bold" if student else "normal")
        ax.set_yticks(ys, [b["label"] for b in drawn])
        for tick, b in zip(ax.get_yticklabels(), drawn):
            if b["who"] == "student":
                tick.set_fontweight("bold")
        ax.set_ylim(len(drawn) - 0.5, -0.5 if not optima else -0.9)  # the first bar on top
        if log:
            ax.set_xlim(base, right)
        else:
            ax.set_xlim(min(min(values), 0.0) * 1.14, right)
        ax.tick_params(axis="y", length=0)
        for b in optima:
            ax.axvline(b["value"], color=OPTIMUM, linestyle=(0, (6, 2, 1.2, 2)), linewidth=1.6, zorder=4)
            ax.annotate(f"{b['label']}: {_value(b['value'])}", xy=(b["value"], 1.0),
                        xycoords=("data", "axes fraction"), xytext=(4, -2), textcoords="offset points",
                        ha="left", va="top", fontsize=9, color=OPTIMUM, zorder=5)
        ax.set_xlabel(axis_label)
        if title and show_title:
            ax.set_title(title, loc="left", wrap=True)
        whos = list(dict.fromkeys(b["who"] if b["who"] in BAR_LOOK else None for b in drawn))
        if len(whos) > 1:
            handles = [Patch(facecolor=BAR_LOOK[w][0], edgecolor="#1f2328" if w == "student" else "none",
                             label=BAR_LOOK[w][1]) for w in whos]
            handles += [Line2D([], [], color=OPTIMUM, linestyle=(0, (6, 2, 1.2, 2)), label="optimum")] if optima else []
            ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
        svg = _svg(fig, key, title)
    return Drawing(svg, notes)


# --------------------------------------------------------------------------- text


def text(data: dict, title: str, key: str, show_title: bool = True) -> Drawing:
    """Generated text, label by label: a table for the page to escape (the text is the student model's)."""
    notes = [_clean(data["note"], 500)] if data.get("note") else []
    notes += _error_notes(data.get("errors"), "rows", "shown")
    if data.get("errors") and data.get("hint"):
        notes.append(_clean(data["hint"], 500))
    table = []
    for i, row in enumerate(_list(data["rows"], "rows")):
        if not isinstance(row, dict):
            notes.append(f"row {i + 1} is not shown: it is not a mapping")
            continue
        value = row.get("text")
        if value is None:
            notes.append(f"row {i + 1} ({_clean(row.get('label', ''), 40)}) is not shown: it has no text")
            continue
        content = value if isinstance(value, str) else str(value)
        shown = _clean(content, MAX_TEXT, keep_lines=True)
        if len(content) > MAX_TEXT:
            shown += f" [… {len(content) - MAX_TEXT} more characters]"
        table.append({"label": _clean(row.get("label", ""), 60), "text": shown})
    if not table and not data.get("errors"):
        notes.append("no text to show")
    return Drawing("", notes, table)


# --------------------------------------------------------------------------- heatmaps


def heatmaps(data: dict, title: str, key: str, show_title: bool = True) -> Drawing:
    """Attention maps side by side on one colour scale from 0 to 1 (rows output words, columns input words)."""
    notes: list[str] = []
    maps = []
    for i, item in enumerate(_list(data["items"], "items")):
        name = _clean(item.get("title", ""), 60) if isinstance(item, dict) else ""
        try:
            if not isinstance(item, dict):
                raise DataError("it is not a mapping")
            rows, cols = _labels(item["rows"], "rows", 14), _labels(item["cols"], "cols", 14)
            values = _grid(item["values"], len(rows), len(cols))
        except KeyError as exc:
            notes.append(f"map {i + 1}{f' ({name})' if name else ''} is not drawn: it has no {exc}")
            continue
        except DataError as exc:
            notes.append(f"map {i + 1}{f' ({name})' if name else ''} is not drawn: {exc}")
            continue
        finite = values[np.isfinite(values)]
        if finite.size < values.size:
            notes.append(f"map {i + 1}{f' ({name})' if name else ''}: some weights are not numbers; their cells are blank")
        if finite.size and (finite.min() < -1e-6 or finite.max() > 1 + 1e-6):
            notes.append(f"map {i + 1}{f' ({name})' if name else ''}: weights from {finite.min():.3g} to "
                         f"{finite.max():.3g} lie outside [0, 1]; the colours are clipped")
        maps.append({"title": name, "rows": rows, "cols": cols, "values": values})
    if len(maps) > MAX_HEATMAPS:
        notes.append(f"only the first {MAX_HEATMAPS} of {len(maps)} maps are drawn")
        maps = maps[:MAX_HEATMAPS]
    if not maps:
        return Drawing("", notes + ["no attention map could be drawn"])

    n = len(maps)
    most_rows = max(len(m["rows"]) for m in maps)
    most_cols = max(len(m["cols"]) for m in maps)
    ncols = n if n <= 2 or most_cols * n <= 24 else 2
    nrows = math.ceil(n / ncols)
    cell = 0.32 if max(most_rows, most_cols) <= 20 else 0.22
    label_room = 0.08 * max(len(s) for m in maps for s in m["rows"] + m["cols"])
    panel_w, panel_h = cell * most_cols + 0.6 + label_room, cell * most_rows + 0.7 + label_room
    width = min(10.0, max(5.0, ncols * panel_w + 1.0))
    height = min(12.0, max(2.8, nrows * panel_h + (0.3 if title and show_title else 0.0)))
    size = 9 if max(most_rows, most_cols) <= 20 else 7.5
    cmap, norm = colormaps[SEQUENTIAL], Normalize(0.0, 1.0)

    with _figure(key, (width, height)) as fig:
        axes = fig.subplots(nrows, ncols, squeeze=False)
        mesh = None
        for ax, m in zip(axes.flat, maps):
            mesh = ax.pcolormesh(np.ma.masked_invalid(np.clip(m["values"], 0.0, 1.0)), cmap=cmap, norm=norm,
                                 edgecolors="#ffffff", linewidth=0.4)
            ax.set_aspect("equal")
            ax.invert_yaxis()
            _token_axes(ax, m["rows"], m["cols"], rotate=True, size=size)
            if m["title"]:
                ax.set_title(m["title"], fontsize=10, loc="left")
        for ax in list(axes.flat)[n:]:
            ax.set_visible(False)
        for ax in axes[-1, :]:
            ax.set_xlabel(_clean(data.get("x_label") or "input word", 60), color=MUTED)
        for ax in axes[:, 0]:
            ax.set_ylabel(_clean(data.get("y_label") or "output word", 60), color=MUTED)
        if title and show_title:
            fig.suptitle(title, x=0.0, ha="left", fontsize=11)
        colorbar = fig.colorbar(mesh, ax=axes[:, -1].tolist() if nrows > 1 else axes.ravel().tolist(),
                                shrink=0.8 if nrows > 1 else 0.9, aspect=20, pad=0.02)
        colorbar.set_label("attention weight", color=MUTED)
        colorbar.outline.set_visible(False)
        _vector_colorbar(colorbar)
        svg = _svg(fig, key, title)
    return Drawing(svg, notes)


DRAWERS = {"lines": lines, "matrix": matrix, "bars": bars, "text": text, "heatmaps": heatmaps}


# --------------------------------------------------------------------------- helpers


@contextmanager
def _figure(key: str, size: tuple[float, float]):
    """A fresh figure under the report's style, cleared when drawn (never one of pyplot's)."""
    with matplotlib.rc_context({**RC, "svg.hashsalt": key}):
        fig = Figure(figsize=size, layout="constrained")
        try:
            yield fig
        finally:
            fig.clear()


def _token_axes(ax, rows: list[str], cols: list[str], rotate: bool, size: float = 10) -> None:
    """Cell-centred tick labels for a grid (rows down the left, columns along the bottom), no grid lines."""
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xticks([j + 0.5 for j in range(len(cols))], cols, fontsize=size)
    ax.set_yticks([i + 0.5 for i in range(len(rows))], rows, fontsize=size)
    ax.tick_params(length=0, pad=3)
    if rotate:
        for tick in ax.get_xticklabels():
            tick.set(rotation=60, ha="right", rotation_mode="anchor")


def _vector_colorbar(colorbar) -> None:
    """A colorbar drawn as vector quads (no embedded PNG), each stroked in its own colour so no seams show."""
    colorbar.solids.set_rasterized(False)
    colorbar.solids.set_edgecolor("face")
    colorbar.solids.set_linewidth(0.3)


def _ink(rgba) -> str:
    """Black or white text, whichever reads better on a cell of colour ``rgba`` (WCAG relative luminance)."""
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgba[:3])
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "#ffffff" if (1.05 / (luminance + 0.05)) > ((luminance + 0.05) / 0.05) else "#1f2328"


def _grid(values, n_rows: int, n_cols: int) -> np.ndarray:
    """A n_rows x n_cols array of floats (NaN for what is not a number), or DataError saying what is wrong."""
    if not isinstance(values, (list, tuple)) or len(values) != n_rows:
        raise DataError(f"values must be a list of {n_rows} rows (one per row label), "
                         f"not {_shown(values) if not isinstance(values, (list, tuple)) else f'{len(values)} rows'}")
    for i, row in enumerate(values):
        if not isinstance(row, (list, tuple)) or len(row) != n_cols:
            raise DataError(f"row {i + 1} of the values must have {n_cols} numbers (one per column label), "
                             f"not {_shown(row) if not isinstance(row, (list, tuple)) else len(row)}")
    return np.array([[_number(v) for v in row] for row in values], dtype=float).reshape(n_rows, n_cols)


def _labels(labels, name: str, limit: int) -> list[str]:
    if not isinstance(labels, (list, tuple)) or not labels:
        raise DataError(f"{name} must be a non-empty list of labels, not {_shown(labels)}")
    return [_clean(s, limit) for s in labels]


def _list(value, name: str) -> list:
    if not isinstance(value, (list, tuple)):
        raise DataError(f"{name} must be a list, not {_shown(value)}")
    return list(value)


def _error_notes(errors, parts: str = "series", verb: str = "drawn") -> list[str]:
    if not errors:
        return []
    if not isinstance(errors, dict):
        return [f"some {parts} are not {verb}: {_clean(errors, 300)}"]
    return [f"{_clean(name, 60)} is not {verb}: {_clean(why, 700)}" for name, why in sorted(errors.items(), key=str)]


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _clean(value, limit: int, keep_lines: bool = False) -> str:
    """A label as text: a string, no control characters, at most ``limit`` characters (cut with …)."""
    text = value if isinstance(value, str) else "" if value is None else str(value)
    if not keep_lines:
        text = " ".join(text.split())
    text = _CONTROL.sub("�", text)
    return text if len(text) <= limit else text[:max(limit - 1, 0)] + "…"


def _shown(value) -> str:
    return _clean(repr(value), 60)


def _index(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) or isinstance(value, float) and value.is_integer()


def _drawable(value: float) -> bool:
    """Finite and small enough for an axis' arithmetic (limits, margins, ticks) not to overflow."""
    return math.isfinite(value) and abs(value) <= HUGE


def _number(value) -> float:
    if isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return math.nan


def _value(value: float) -> str:
    """A value as printed at the end of a bar: 4 significant digits, thousands grouped."""
    magnitude = abs(value)
    if magnitude == 0:
        return "0"
    if magnitude >= 1e7 or magnitude < 1e-3:
        return f"{value:.3e}"
    if magnitude >= 1e4:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _count(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:.3g}"


def _share(value: float) -> str:
    return "<1%" if 0 < value < 0.005 else f"{100 * value:.0f}%"


def _nothing(ax) -> None:
    ax.text(0.5, 0.5, "no data to plot", transform=ax.transAxes, ha="center", va="center", color=MUTED)


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _log_labels(axis) -> None:
    """Powers of ten as 10⁻³ and, on axes spanning under two decades, some of the ticks between them."""
    def minor(value: float, _pos=None) -> str:
        low, high = sorted(axis.get_view_interval())
        if not (value > 0 and low > 0 and high / low < 100):
            return ""
        mantissa = value / 10.0 ** math.floor(math.log10(value))
        return f"{value:g}" if min(abs(mantissa - 2), abs(mantissa - 5)) < 1e-6 else ""

    axis.set_major_formatter(FuncFormatter(_power_of_ten))
    axis.set_minor_formatter(FuncFormatter(minor))


def _power_of_ten(value: float, _pos=None) -> str:
    """Log-axis tick labels as plain text (10⁻³), since mathtext is off for the data's own labels."""
    if not (value > 0 and math.isfinite(value)):
        return ""
    exponent = math.log10(value)
    if abs(exponent - round(exponent)) < 1e-9:
        return "10" + str(round(exponent)).translate(_SUPERSCRIPT)
    return f"{value:.3g}"


_XML_PROLOGUE = re.compile(r"\A.*?(?=<svg\b)", re.DOTALL)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.DOTALL)
_ID_REFERENCES = re.compile(r'(\bid="|href="#|url\(#)([^"\)]+)')


def _svg(fig: Figure, key: str, label: str) -> str:
    """The figure as an inline <svg> element: no XML prologue, no metadata, ids prefixed with ``key``."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = _METADATA.sub("", _XML_PROLOGUE.sub("", buffer.getvalue(), count=1), count=1)
    prefix = "fig-" + re.sub(r"[^A-Za-z0-9_-]", "-", key) + "-"
    svg = _ID_REFERENCES.sub(lambda m: m.group(1) + prefix + m.group(2), svg)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{html.escape(label)}" ', 1).strip()
