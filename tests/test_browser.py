"""Reports in a real browser: headless Chromium opens the pages that ``harness grade`` writes.

A small class is graded once per test session by the command line (``harness grade DIR --out OUT``,
cells only): the reference under a student's name with a space and an accent, the reference with the
GRU's update gate swapped (so the page has a "Fix first" list and failed rows), and an empty folder
(a row that could not be graded). Each report and the class overview (``OUT/index.html``) is opened
at a desktop and a phone width, and the test asserts what a reader sees, not what the HTML holds:

* every row of the tables and every figure has a size, lies inside the page (no sideways
  scrolling), is not hidden by CSS, and is what the browser finds at its own centre once scrolled
  there (nothing covers it); the figures' pixels in the screenshot are not blank;
* the page asks for nothing but itself (and data: URLs): every request Chromium records is listed;
* the full-page screenshot is a real PNG of the page's size, not one colour;
* the overview's links lead, as the browser resolves them, to the reports on disk.

Needs Debian's ``chromium`` (``.ci/run`` installs it); skipped with the reason when it is missing.
Screenshots are kept under pytest's temporary folder (``screenshots/``), or in ``$HARNESS_SCREENSHOTS``.
"""
from __future__ import annotations

import io
import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from browser import Browser, BrowserError, find_chromium
from click.testing import CliRunner
from PIL import Image  # matplotlib's own dependency, so present wherever the harness is

from harness.cli import main
from harness.results import Results
from harness.triage import fix_first as fix_first_items

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "submissions"
CHROMIUM = find_chromium()
VIEWPORTS = {"desktop": (1280, 900), "phone": (390, 844)}
MIN_PNG_BYTES = 20_000

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not found: install Debian's chromium to run the browser tests")

# What the reader sees of each element matching a selector, measured in the page. An element is seen
# when it has a size, no ancestor hides it (display, visibility, opacity), it lies inside the page's
# width, and after scrolling it into view the browser's hit test at its centre lands on it.
PROBE = r"""
(selector) => {
  const root = document.documentElement;
  const out = [];
  for (const el of document.querySelectorAll(selector)) {
    el.scrollIntoView({block: "center", inline: "center"});
    const r = el.getBoundingClientRect();
    let hiddenBy = null;
    for (let n = el; n && n.nodeType === 1; n = n.parentElement) {
      const s = getComputedStyle(n);
      if (s.display === "none" || s.visibility !== "visible" || parseFloat(s.opacity) === 0) {
        const cls = typeof n.className === "string" ? n.className : (n.className || {}).baseVal || "";
        hiddenBy = `${n.tagName.toLowerCase()}${cls ? "." + cls.trim().split(/\s+/).join(".") : ""}: ` +
          `display ${s.display}, visibility ${s.visibility}, opacity ${s.opacity}`;
        break;
      }
    }
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    const hit = document.elementFromPoint(x, y);
    out.push({
      id: el.id || (el.closest("[id]") || {}).id || "",
      width: r.width, height: r.height,
      left: r.left + window.scrollX, right: r.right + window.scrollX,
      top: r.top + window.scrollY, bottom: r.bottom + window.scrollY,
      hiddenBy,
      onTop: !!hit && (hit === el || el.contains(hit)),
      hit: hit ? hit.tagName.toLowerCase() + (hit.id ? "#" + hit.id : "") : null,
      drawn: el.tagName.toLowerCase() === "svg" ? el.querySelectorAll("path, line, polyline, text, use").length : null,
      text: (el.innerText || el.textContent || "").trim().slice(0, 80),
    });
  }
  window.scrollTo(0, 0);
  return {elements: out, pageWidth: root.scrollWidth, pageHeight: root.scrollHeight,
          viewportWidth: window.innerWidth};
}
"""


def probe(page, selector: str) -> dict:
    return page.evaluate(f"({PROBE})({selector!r})")


def assert_seen(measured: dict, what: str) -> None:
    """Every measured element is visible to a reader, as described in PROBE."""
    elements = measured["elements"]
    assert elements, f"no {what} on the page"
    assert measured["pageWidth"] <= measured["viewportWidth"], (
        f"the page is {measured['pageWidth']} px wide in a {measured['viewportWidth']} px window: it scrolls sideways")
    for e in elements:
        name = f"{what} {e['id'] or e['text']!r}"
        assert e["hiddenBy"] is None, f"{name} is hidden by {e['hiddenBy']}"
        assert e["width"] >= 1 and e["height"] >= 1, f"{name} has no size: {e['width']} x {e['height']}"
        assert 0 <= e["left"] and e["right"] <= measured["pageWidth"] + 0.5, f"{name} sticks out of the page: {e}"
        assert 0 <= e["top"] and e["bottom"] <= measured["pageHeight"] + 0.5, f"{name} lies outside the page: {e}"
        assert e["onTop"], f"{name} is covered: the browser finds {e['hit']} at its centre"


def image_of(png: bytes):
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "the screenshot is not a PNG"
    image = Image.open(io.BytesIO(png))
    image.load()
    return image.convert("RGB")


def colours(image, box=None) -> int:
    part = image.crop(tuple(round(v) for v in box)) if box else image
    found = part.getcolors(maxcolors=1 << 16)
    return 1 << 16 if found is None else len(found)


def assert_pixels(image, measured: dict, what: str, at_least: int, shot: Path) -> None:
    for e in measured["elements"]:
        box = (e["left"], e["top"], e["right"], e["bottom"])
        assert colours(image, box) > at_least, f"{shot}: {what} {e['id'] or e['text']!r} is blank there ({box})"


def assert_screenshot(page, measured: dict, shot: Path):
    """(c) A full-page PNG of the page's size, not one colour; returns it as an image."""
    png = page.screenshot()
    shot.write_bytes(png)
    assert len(png) > MIN_PNG_BYTES, f"{shot}: {len(png)} bytes"
    image = image_of(png)
    assert image.size == (measured["pageWidth"], measured["pageHeight"]), f"{shot}: {image.size}"
    assert colours(image) > 16, f"{shot} is (nearly) one colour"
    return image


def assert_nothing_fetched(page) -> None:
    """(b) Nothing was requested but the page itself (and data: URLs), after scrolling everything into
    view and taking the screenshot."""
    requests = page.requests
    assert page.url in requests, f"the page's own load was not recorded: {requests}"
    external = [u for u in requests if u != page.url and not u.startswith("data:")]
    assert not external, f"the page loads external resources: {external}"


def assert_figures(page, count: int, width: int) -> dict:
    figures = probe(page, "figure svg")
    assert len(figures["elements"]) == count >= 1
    assert_seen(figures, "figure")
    for e in figures["elements"]:
        assert e["width"] >= 0.6 * min(width, 640) and e["height"] >= 100, f"figure {e['id']} is tiny: {e}"
        assert e["drawn"] >= 20, f"figure {e['id']} has almost nothing drawn: {e['drawn']} marks"
    return figures


# --- what is opened ---------------------------------------------------------------------------------
STUDENTS = {"Zoë Smith": None, "gru_z_swapped": "gru_z_swapped", "empty": "empty"}  # name: bug


@pytest.fixture(scope="session")
def graded_class(tmp_path_factory) -> Path:
    """The output folder of ``harness grade`` over a small class, run once by the command line."""
    if CHROMIUM is None:
        pytest.skip("chromium not found: install Debian's chromium to run the browser tests")
    base = tmp_path_factory.mktemp("browser")
    klass, out = base / "class", base / "out"
    for name, bug in STUDENTS.items():
        if bug == "empty":
            (klass / name).mkdir(parents=True)
            continue
        shutil.copytree(SUBMISSIONS / "reference", klass / name)
        for path in (SUBMISSIONS / "buggy" / bug).glob("*.py") if bug else ():
            shutil.copy(path, klass / name / path.name)
    result = CliRunner().invoke(main, ["grade", str(klass), "--out", str(out), "--workers", "2", "--task", "cells"])
    assert result.exit_code == 0, result.output
    assert (out / "index.html").is_file(), result.output
    return out


def report(out: Path, name: str) -> tuple[Results, Path]:
    folder = out / "submissions" / name
    return Results.read(folder / "results.json"), folder / "report.html"


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    if os.environ.get("HARNESS_SCREENSHOTS"):
        folder = Path(os.environ["HARNESS_SCREENSHOTS"])
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="session")
def browser():
    if CHROMIUM is None:
        pytest.skip("chromium not found: install Debian's chromium to run the browser tests")
    try:
        chromium = Browser(CHROMIUM)
    except BrowserError as exc:  # installed but cannot start here: say so, do not pass silently
        pytest.fail(f"{CHROMIUM} is installed but does not start headless: {exc}")
    try:
        yield chromium
    finally:
        chromium.close()


# --- the tests --------------------------------------------------------------------------------------
@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("name", ["Zoë Smith", "gru_z_swapped"])
def test_report_in_chromium(browser, graded_class, screenshots, name, viewport):
    results, path = report(graded_class, name)
    failing = [c for c in results.checks if c.status in ("failed", "error")]
    assert {c.id for c in failing} == ({"cells.GRUCell.forward", "cells.GRUCell.gradients",  # and on hidden inputs:
                                        "cells.GRUCell.forward.hidden", "cells.GRUCell.gradients.hidden"}
                                       if name == "gru_z_swapped" else set())
    width, height = VIEWPORTS[viewport]
    with browser.open(path, width, height) as page:
        # (a) the check table and the figures are there for a reader to see
        rows = probe(page, "table.checks tbody tr")
        assert len(rows["elements"]) == len(results.checks)
        assert_seen(rows, "check row")
        assert {e["id"] for e in rows["elements"]} == {"check-" + c.id for c in results.checks}
        assert_seen(probe(page, "table.checks td.status .badge"), "status badge")
        figures = assert_figures(page, len(results.figures), width)
        if failing:
            fix_first = probe(page, ".fix-first li")
            assert len(fix_first["elements"]) == len(fix_first_items(results))  # one item per cause
            assert_seen(fix_first, "'Fix first' item")
            assert_seen(probe(page, "tr.failed .hint"), "hint")
        else:
            assert_seen(probe(page, ".all-passed"), "'Every check passed'")

        # (c) the screenshot is of the page, and the figures and rows are in its pixels
        image = assert_screenshot(page, rows, screenshots / f"report-{name.replace(' ', '_')}-{viewport}.png")
        assert_pixels(image, figures, "figure", 16, screenshots)
        assert_pixels(image, rows, "check row", 4, screenshots)

        # (b)
        assert_nothing_fetched(page)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_class_overview_in_chromium(browser, graded_class, screenshots, viewport):
    graded = [n for n, bug in STUDENTS.items() if bug != "empty"]
    width, height = VIEWPORTS[viewport]
    with browser.open(graded_class / "index.html", width, height) as page:
        # (a) every table (tasks, checks by pass rate, not graded, slowest, all submissions) and the histogram
        rows = probe(page, "table.checks tbody tr")
        assert_seen(rows, "table row")
        texts = [e["text"] for e in rows["elements"]]
        n_checks = len(report(graded_class, graded[0])[0].checks)
        assert sum(t.startswith("cells.") for t in texts) == n_checks, texts  # one row per check
        assert any("empty" in t and "nothing was submitted" in t for t in texts), texts
        figures = assert_figures(page, 1, width)

        # every report is linked, the link is seen, and the browser's reading of it is the file on disk
        links = probe(page, "a[href$='report.html']")
        assert_seen(links, "link")
        targets = page.evaluate("[...document.querySelectorAll(\"a[href$='report.html']\")].map(a => a.href)")
        assert all(t.startswith("file://") for t in targets), targets
        files = {Path(unquote(urlparse(t).path)) for t in targets}
        assert files == {report(graded_class, n)[1] for n in graded}, files

        # (c)
        image = assert_screenshot(page, rows, screenshots / f"overview-{viewport}.png")
        assert_pixels(image, figures, "figure", 16, screenshots)

        # (b)
        assert_nothing_fetched(page)


def test_the_probes_see_what_is_wrong(browser, tmp_path):
    """The checks above can fail: a hidden figure, a covered row and a fetched image are all caught."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!doctype html><html><body style='margin:0'>"
        "<table class='checks'><tbody><tr id='check-a'><td>a</td></tr></tbody></table>"
        "<div style='position:fixed;inset:0;background:#fff'></div>"
        "<figure style='visibility:hidden'><svg width='300' height='200'><path d='M0 0L300 200'/></svg></figure>"
        "<img src='http://example.invalid/pixel.png'><img src='data:image/gif;base64,R0lGODlhAQABAAAAACw='>"
        "</body></html>", encoding="utf-8")
    with browser.open(bad, 800, 600) as page:
        with pytest.raises(AssertionError, match="is covered"):
            assert_seen(probe(page, "table.checks tbody tr"), "check row")
        with pytest.raises(AssertionError, match="is hidden by svg: display inline, visibility hidden"):
            assert_seen(probe(page, "figure svg"), "figure")
        assert "http://example.invalid/pixel.png" in page.requests


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_fix_first_shows_whole_long_messages_and_hints_without_sideways_scrolling(browser, tmp_path, viewport):
    """A long message (with a long unbroken word) and its hint are shown whole under "Fix first" and
    wrap inside the window, at a desktop and a phone width."""
    from harness.report import write_report
    from harness.results import CheckResult, TaskResult

    message = "GRUCell: largest error 1.03; " + "the gates decide how much of the old state is kept " * 30 + "x" * 300
    hint = "the update gate is used the other way round: " + "use (1 - z) * n + z * h " * 20
    checks = [CheckResult("cells.GRUCell.forward", "cells", "failed", 0, 3, message, hint),
              CheckResult("cells.GRUCell.gradients", "cells", "failed", 0, 1, message, hint)]
    results = Results("submissions/alice", "0.1.0", "2026-01-01T00:00:00+00:00",
                      [TaskResult("cells", "Cells", "cells", "cells.py", 0, 4, "1", "abc")], checks)
    path = write_report(results, tmp_path / "report.html")
    width, height = VIEWPORTS[viewport]
    with browser.open(path, width, height) as page:
        for selector, what in ((".fix-first li .message", "'Fix first' message"), (".fix-first li .hint", "'Fix first' hint")):
            measured = probe(page, selector)
            assert len(measured["elements"]) == 1  # one cause for the two checks
            assert_seen(measured, what)
        shown = page.evaluate("document.querySelector('.fix-first li .message').innerText")
        assert " ".join(shown.split()) == " ".join(message.split())
