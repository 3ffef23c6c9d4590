"""Figure kinds: each draws, draws the same twice, and turns malformed data into a note, not an exception."""
from __future__ import annotations

import itertools
import math
import re

import pytest

from harness.figures import ACTUAL, BASELINES, GROUP_COLOURS, OPTIMUM, draw, tick_subset
from harness.report import render_report
from harness.results import Results

SCRIPT = "<script>alert('pwned')</script>"
MONTHS = [f"{1959 + i // 12}-{i % 12 + 1:02d}" for i in range(24)]


def texts(svg: str) -> list[str]:
    """The strings an SVG writes (text stays text: svg.fonttype is "none")."""
    return re.findall(r"<text\b[^>]*>([^<]*)</text>", svg)


def styles(svg: str, key: str) -> list[str]:
    """The style of each drawn line (and legend handle), in drawing order; grid lines left out."""
    found = re.findall(rf'<g id="fig-{key}-line2d_\d+">\s*<path[^>]*style="([^"]*)"', svg)
    return [s for s in found if "#e3e6ea" not in s]


def forecast() -> dict:
    actual = [100 + 10 * math.sin(i / 2) + i for i in range(24)]
    return {"kind": "lines", "x_labels": MONTHS, "x_label": "month", "y_label": "passengers",
            "shade": {"from": 18, "to": 23, "label": "holdout"},
            "series": [{"label": "actual", "who": "actual", "values": actual},
                       {"label": "your forecast", "who": "student", "values": [None] * 18 + actual[18:]},
                       {"label": "answer key", "who": "reference", "values": [None] * 18 + [v + 1 for v in actual[18:]]},
                       {"label": "seasonal naive", "who": "baseline", "values": [None] * 18 + actual[6:12]},
                       {"label": "optimum", "who": "optimum", "values": [None] * 18 + [v - 1 for v in actual[18:]]}]}


def training_loss() -> dict:
    noise = [((i * 7919) % 13 - 6) / 20 for i in range(500)]
    return {"kind": "lines", "smooth": True, "x_label": "step", "y_label": "loss",
            "series": [{"label": "yours", "who": "student", "values": [2 * math.exp(-i / 100) + 0.3 + e for i, e in enumerate(noise)]}]}


def confusion() -> dict:
    return {"kind": "matrix", "rows": ["negative", "positive"], "cols": ["negative", "positive"],
            "values": [[90, 10], [25, 75]], "x_label": "predicted", "y_label": "true", "normalise": "rows"}


def perplexity() -> dict:
    return {"kind": "bars", "y_label": "perplexity", "log_y": False, "lower_is_better": True,
            "bars": [{"label": "your LSTM", "value": 91.5, "who": "student"},
                     {"label": "answer key", "value": 88.0, "who": "reference"},
                     {"label": "unigram", "value": 640.0, "who": "baseline"},
                     {"label": "grammar optimum", "value": 61.0, "who": "optimum"}]}


def samples() -> dict:
    return {"kind": "text", "note": "prompt: the king",
            "rows": [{"label": "T = 0.5", "text": "the king said the king ."},
                     {"label": "T = 1.5", "text": f"the king {SCRIPT} & co\nsecond line"}]}


def attention(n: int = 2) -> dict:
    src, tgt = ["the", "cat", "sat", "<eos>"], ["le", "chat", "<eos>"]
    values = [[0.7, 0.2, 0.1, 0.0], [0.1, 0.8, 0.1, 0.0], [0.0, 0.0, 0.1, 0.9]]
    return {"kind": "heatmaps", "items": [{"title": f"sentence {k + 1}", "rows": tgt, "cols": src, "values": values}
                                          for k in range(n)]}


KINDS = {"lines": forecast, "smooth lines": training_loss, "matrix": confusion, "bars": perplexity,
         "heatmaps": attention}

MALFORMED = [
    {"kind": "lines"},
    {"kind": "lines", "series": "not a list"},
    {"kind": "lines", "series": [None, {"label": "x", "values": "abc"}]},
    {"kind": "lines", "series": [{"values": [1, 2]}], "x_values": ["a", None], "x_labels": 3, "shade": [1, 2]},
    {"kind": "lines", "series": [{"values": [1, 2]}], "shade": {"from": 5, "to": 1}, "errors": ["x"]},
    {"kind": "lines", "series": [{"values": [1, 2, 3]}], "x_labels": ["a"], "smooth": True, "log_y": True},
    {"kind": "matrix"},
    {"kind": "matrix", "rows": ["a"], "cols": ["b"], "values": [[1, 2]]},
    {"kind": "matrix", "rows": ["a", "b"], "cols": ["b"], "values": [[1]]},
    {"kind": "matrix", "rows": [], "cols": [], "values": []},
    {"kind": "matrix", "rows": "ab", "cols": ["a"], "values": "x"},
    {"kind": "bars"},
    {"kind": "bars", "bars": {"label": "x"}},
    {"kind": "bars", "bars": [None, {"label": "x", "value": "nan"}]},
    {"kind": "bars", "bars": [{"label": "x", "value": -1}], "log_y": True},
    {"kind": "text"},
    {"kind": "text", "rows": "text"},
    {"kind": "text", "rows": [None, {"label": "x"}]},
    {"kind": "heatmaps"},
    {"kind": "heatmaps", "items": [{"title": "no values", "rows": ["a"], "cols": ["b"]}]},
    {"kind": "heatmaps", "items": [{"rows": ["a", "b"], "cols": ["c"], "values": [[0.5]]}, 7]},
    {"kind": "heatmaps", "items": "x"},
    {"kind": "pie"},
    {"kind": ["lines"]},
    "not a mapping",
]


@pytest.mark.parametrize("name", KINDS)
def test_each_kind_draws_an_svg_and_the_same_one_twice(name):
    data = KINDS[name]()
    first, second = draw(data, "A title", "k"), draw(data, "A title", "k")
    assert first.svg.startswith("<svg") and first.svg.endswith("</svg>")
    assert 'role="img" aria-label="A title"' in first.svg
    assert first == second
    assert first.notes == []
    assert "<image" not in first.svg and "http://" not in re.sub(r'xmlns(:\w+)?="[^"]*"', "", first.svg)


def test_text_is_a_table_not_an_svg_and_the_same_twice():
    drawing = draw(samples(), "Samples", "s")
    assert drawing.svg == "" and drawing == draw(samples(), "Samples", "s")
    assert [r["label"] for r in drawing.table] == ["T = 0.5", "T = 1.5"]
    assert drawing.notes == ["prompt: the king"]


@pytest.mark.parametrize("data", MALFORMED, ids=lambda d: str(d)[:60])
def test_malformed_data_is_a_note_not_an_exception(data):
    drawing = draw(data, "Broken", "b")
    assert drawing.notes, "malformed data must say what is wrong"
    assert all(isinstance(n, str) and n for n in drawing.notes)


def test_no_pyplot_figure_is_left_open():
    import matplotlib.pyplot as plt
    before = plt.get_fignums()
    for make in KINDS.values():
        draw(make(), "t", "k")
    assert plt.get_fignums() == before


# --------------------------------------------------------------------------- lines


def test_month_labels_show_a_readable_subset():
    svg = draw(forecast(), "Forecast", "f").svg
    shown = [t for t in texts(svg) if re.fullmatch(r"\d{4}-\d{2}", t)]
    assert 3 <= len(shown) < len(MONTHS) // 2
    assert shown[0] == "1959-01" and "1960-01" in shown  # ticks on the year's start, evenly spaced
    assert len(set(shown)) == len(shown)


def test_tick_subset_for_long_and_generic_labels():
    airline = [f"{1949 + i // 12}-{i % 12 + 1:02d}" for i in range(144)]
    picks = tick_subset(airline)
    assert 3 <= len(picks) <= 12 and all(airline[i].endswith("-01") for i in picks)
    assert tick_subset(["a", "b", "c"]) == [0, 1, 2]
    words = [f"token {i}" for i in range(100)]
    picks = tick_subset(words)
    assert len(picks) <= 12 and picks[0] == 0 and len({b - a for a, b in itertools.pairwise(picks)}) == 1


def test_series_are_styled_by_who():
    svg = draw(forecast(), "Forecast", "f").svg
    drawn = styles(svg, "f")

    def look(colour: str) -> set[str]:
        return {s for s in drawn if f"stroke: {colour.lower()}" in s.lower()}

    def dashes(style: str) -> list[float]:
        found = re.search(r"stroke-dasharray: ([^;]+)", style)
        return [float(v) for v in found.group(1).split(",")] if found else []

    (actual,) = look(ACTUAL)
    assert dashes(actual) == []
    (student,) = look(GROUP_COLOURS[0])
    assert dashes(student) == [] and "stroke-opacity" not in student  # strong, solid
    (reference,) = look(GROUP_COLOURS[1])
    assert len(dashes(reference)) == 2
    (baseline,) = look(BASELINES[0])
    dots = dashes(baseline)
    assert len(dots) == 2 and dots[0] < dots[1]  # dotted: a short dash, a longer gap
    (optimum,) = look(OPTIMUM)
    assert len(dashes(optimum)) == 4             # dash-dot: dash, gap, dot, gap
    assert float(re.search(r"stroke-width: ([\d.]+)", optimum).group(1)) < float(
        re.search(r"stroke-width: ([\d.]+)", student).group(1))


def test_shaded_range_is_labelled_and_a_bad_one_is_a_note():
    assert "holdout" in texts(draw(forecast(), "F", "f").svg)
    data = forecast() | {"shade": {"from": 30, "to": 40, "label": "holdout"}}
    drawing = draw(data, "F", "f")
    assert drawing.svg and "holdout" not in texts(drawing.svg)
    assert any("shaded range is not drawn" in n for n in drawing.notes)


def test_a_mark_is_a_labelled_line_and_a_bad_one_is_a_note():
    data = training_loss() | {"marks": [{"at": 3, "label": "epoch 2 kept", "who": "student"}]}
    drawing = draw(data, "Loss", "l")
    assert " epoch 2 kept" in texts(drawing.svg) and drawing.notes == []
    assert " epoch 2 kept" not in texts(draw(training_loss(), "Loss", "l").svg)
    hostile = [{"at": 10**9}, {"at": float("nan")}, {"at": -1}, {"at": "3"}, "epoch 2", {"label": "no at"}]
    drawing = draw(training_loss() | {"marks": hostile + [{"at": 1}] * 9}, "Loss", "l")
    assert drawing.svg and drawing.notes == [
        "mark 1 is not drawn: at = 1000000000 is not an index of 0..499",
        "mark 2 is not drawn: at = nan is not an index of 0..499",
        "mark 3 is not drawn: at = -1 is not an index of 0..499",
        "mark 4 is not drawn: at = '3' is not an index of 0..499", "mark 5 is not drawn: it is not a mapping",
        "mark 6 is not drawn: at = None is not an index of 0..499", "only the first 8 of 15 marks are drawn"]
    assert draw(training_loss() | {"marks": "epoch 2"}, "Loss", "l").notes == [
        "the marks are not drawn: marks is not a list"]


def test_smooth_draws_a_moving_average_over_the_faint_raw_values():
    svg = draw(training_loss(), "Loss", "l").svg
    raw, smooth = styles(svg, "l")[:2]
    assert "stroke-opacity: 0.22" in raw and "stroke-opacity" not in smooth
    assert any("moving average" in t for t in texts(svg))
    plain = draw(training_loss() | {"smooth": False}, "Loss", "l").svg
    assert len(styles(plain, "l")) == len(styles(svg, "l")) - 1


def test_a_diverged_series_keeps_its_finite_points_and_says_what_was_left_out():
    values = [2.0, 1.5, float("inf"), float("nan"), 1e308, None, 1.0]
    drawing = draw({"kind": "lines", "series": [{"label": "yours", "who": "student", "values": values}]}, "t", "d")
    assert drawing.svg and drawing.notes == [
        "yours: 3 of its 7 values are not a finite number (inf, NaN, beyond ±1e+100 or not a number), "
        "left out of the line"]  # None is a gap by design and not counted


def test_x_values_and_too_long_series():
    data = {"kind": "lines", "x_values": [1, 2, 4, 8], "series": [{"label": "a", "values": [1, 2, 3, 4, 5]}]}
    drawing = draw(data, "t", "x")
    assert drawing.svg and any("only the first 4 of its 5 values" in n for n in drawing.notes)


# --------------------------------------------------------------------------- matrix


def test_matrix_writes_counts_and_row_shares_with_readable_ink():
    svg = draw(confusion(), "Confusion", "m").svg
    shown = texts(svg)
    for count, share in (("90", "90%"), ("10", "10%"), ("25", "25%"), ("75", "75%")):
        assert count in shown and share in shown
    assert "predicted" in shown and "true" in shown
    # the darkest cell (90 %) is written in white, a pale one (10 %) in dark ink
    assert re.search(r'<text[^>]*fill: #ffffff[^>]*>90</text>', svg)
    assert re.search(r'<text[^>]*fill: #1f2328[^>]*>10</text>', svg)
    counts = draw(confusion() | {"normalise": None}, "Confusion", "m").svg
    assert "90%" not in texts(counts) and "count" in texts(counts)


def test_matrix_with_unknown_normalisation_says_so():
    drawing = draw(confusion() | {"normalise": "columns"}, "C", "m")
    assert drawing.svg and any("normalise" in n for n in drawing.notes)


# --------------------------------------------------------------------------- bars


def test_bars_print_values_highlight_the_student_and_draw_the_optimum_as_a_line():
    svg = draw(perplexity(), "Perplexity", "p").svg
    shown = texts(svg)
    assert " 91.5 " in shown and " 88 " in shown and " 640 " in shown
    assert "grammar optimum: 61" in shown
    assert any("lower is better" in t for t in shown)
    assert re.search(r'font-weight: 700[^>]*>your LSTM<', svg)  # the student's label in bold
    higher = draw(perplexity() | {"lower_is_better": False}, "P", "p").svg
    assert any("higher is better" in t for t in texts(higher))


def test_a_bar_without_a_value_is_left_out_with_a_note():
    data = perplexity()
    data["bars"] += [{"label": "your GRU", "value": float("nan"), "who": "student"},
                     {"label": "your RNN", "value": None, "who": "student"}]
    drawing = draw(data, "P", "p")
    assert drawing.svg and "your GRU" not in texts(drawing.svg) and "your RNN" not in texts(drawing.svg)
    assert any(n.startswith("your GRU has no value") for n in drawing.notes)
    assert any(n.startswith("your RNN has no value") for n in drawing.notes)
    nothing = draw({"kind": "bars", "bars": [{"label": "x", "value": None}]}, "P", "p")
    assert nothing.svg == "" and nothing.notes


def test_log_bars_label_powers_of_ten_as_text():
    data = perplexity() | {"log_y": True}
    shown = texts(draw(data, "P", "p").svg)
    assert "10²" in shown and not any("mathdefault" in t for t in shown)


# --------------------------------------------------------------------------- heatmaps


def test_heatmaps_share_one_scale_and_draw_at_most_four():
    svg = draw(attention(2), "Attention", "a").svg
    shown = texts(svg)
    assert shown.count("chat") == 2 and shown.count("cat") == 2  # tokens as tick labels, per map
    assert "attention weight" in shown and shown.count("1.0") == 1  # one shared colorbar
    many = draw(attention(6), "Attention", "a")
    assert many.svg and any("first 4 of 6" in n for n in many.notes)
    assert texts(many.svg).count("chat") == 4


def test_heatmaps_skip_a_bad_item_and_note_weights_out_of_range():
    data = attention(1)
    data["items"] += [{"title": "ragged", "rows": ["a"], "cols": ["b", "c"], "values": [[0.5]]},
                      {"title": "hot", "rows": ["a"], "cols": ["b"], "values": [[1.7]]}]
    drawing = draw(data, "A", "a")
    assert drawing.svg and "ragged" not in texts(drawing.svg) and "hot" in texts(drawing.svg)
    assert any("ragged" in n and "is not drawn" in n for n in drawing.notes)
    assert any("hot" in n and "outside [0, 1]" in n for n in drawing.notes)


# --------------------------------------------------------------------------- in the report


def every_kind() -> Results:
    figures = [{"id": f"k.{name.replace(' ', '_')}", "title": name, "task": "k", "data": make()}
               for name, make in KINDS.items()]
    figures.append({"id": "k.text", "title": "samples", "task": "k", "data": samples()})
    figures.append({"id": "k.broken", "title": "broken", "task": "k", "data": {"kind": "bars", "bars": 3}})
    return Results(submission="submissions/kinds", harness_version="0", created="2026-01-01T00:00:00+00:00",
                   tasks=[], checks=[], figures=figures)


def test_a_report_with_every_kind_escapes_the_generated_text():
    page = render_report(every_kind())
    assert page == render_report(every_kind())
    assert page.count("<svg") == len(KINDS)
    assert "<script" not in page.lower()
    assert "the king &lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt; &amp; co\nsecond line" in page
    table = page[page.index('<table class="figure-text">'):]
    assert '<th scope="row">T = 0.5</th>' in table and 'class="mono"' in table
    assert "cannot draw this bars figure" in page
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
