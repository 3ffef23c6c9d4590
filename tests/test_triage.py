"""What to fix first, from a hand-built Results document: grouping by cause, order by points lost, and
the same list in the terminal, the HTML report, CI's job summary and Gradescope's output."""
from __future__ import annotations

import io
import re

from rich.console import Console

from harness.ci import markdown_summary
from harness.cli import print_summary
from harness.gradescope import to_gradescope
from harness.report import render_report
from harness.results import CheckResult, Results, TaskResult
from harness.triage import fix_first

NO_WEIGHT = "GRUCell has no parameter named 'weight_ih'"


def several_failures() -> Results:
    """Four causes in spec order 1 point, 4 points (four checks, one message), 3 points, 1 point."""
    checks = [
        CheckResult("cells.RNNCell.forward", "cells", "passed", 2, 2, "RNNCell matches the answer key"),
        CheckResult("cells.RNNCell.shapes", "cells", "failed", 0, 1, "RNNCell returned (3, 4), expected (3, 5)"),
        *(CheckResult(f"cells.GRUCell.{part}", "cells", "error", 0, 1, NO_WEIGHT, "name it weight_ih, as in the contract")
          for part in ("shapes", "forward", "gradients", "gradcheck")),
        CheckResult("cells.LSTMCell.forward", "cells", "failed", 0.5, 3.5, "LSTMCell: largest error 0.41",
                    "the forget gate has no bias"),
        CheckResult("cells.LSTMCell.skipped", "cells", "skipped", 0, 0, "needs LSTMCell.forward"),
        CheckResult("sequences.pad", "sequences", "failed", 1, 2, "pads on the left", "pad after the tokens"),
    ]
    tasks = [TaskResult("cells", "Cells", "cells", "cells.py", 2.5, 11.5, "1", "abc"),
             TaskResult("sequences", "Sequences", "sequences", "sequences.py", 1, 2, "1", "def")]
    return Results("submissions/alice", "0.1.0", "2026-01-01T00:00:00+00:00", tasks, checks, seconds=1.0)


def test_checks_with_one_message_are_one_cause_and_the_costliest_comes_first():
    items = fix_first(several_failures())
    assert [i.title for i in items] == ["cells.GRUCell.shapes and 3 more", "cells.LSTMCell.forward",
                                        "cells.RNNCell.shapes", "sequences.pad"]  # 1-point tie: spec order
    assert [i.points_lost for i in items] == [4, 3, 1, 1]
    assert items[0].message == NO_WEIGHT and items[0].hint == "name it weight_ih, as in the contract"
    assert [i.title for i in fix_first(several_failures(), limit=2)] == [i.title for i in items[:2]]


def test_terminal_report_ci_and_gradescope_list_the_same_causes_in_the_same_order():
    results = several_failures()
    expected = [i.title for i in fix_first(results)]

    buffer = io.StringIO()
    print_summary(results, Console(file=buffer, width=200, color_system=None, highlight=False))
    terminal = buffer.getvalue().split("Fix first\n", 1)[1]
    terminal = [m.group(1) for m in re.finditer(r"^  (\S.*?) \([\d.]+ points? lost\): ", terminal, re.MULTILINE)]

    page = render_report(results)
    section = page[page.index('<section class="fix-first"'):page.index("</section>", page.index('class="fix-first"'))]
    html = [code + (more or "") for code, more in
            re.findall(r'<li><a href="#[^"]+"><code>([^<]+)</code></a>( and \d+ more)?', section)]

    summary = markdown_summary(results).split("### Fix first", 1)[1]
    markdown = re.findall(r"^\d+\. \*\*`(.+?)`\*\*", summary, re.MULTILINE)

    output = to_gradescope(results)["output"].split("Fix first:", 1)[1]
    gradescope = re.findall(r"^- (.+?) \([\d.]+ points? lost\): ", output, re.MULTILINE)

    assert terminal == html == markdown == gradescope == expected


def test_the_report_links_every_check_of_a_cause():
    page = render_report(several_failures())
    section = page[page.index('<section class="fix-first"'):page.index("</section>", page.index('class="fix-first"'))]
    assert "7 checks did not pass, for 4 causes" in section
    for part in ("shapes", "forward", "gradients", "gradcheck"):
        assert f'href="#check-cells.GRUCell.{part}"' in section
    assert section.count(NO_WEIGHT.replace("'", "&#39;")) == 1  # the message once, for the four checks
    assert "4 points lost" in section and "1 point lost" in section and "LSTMCell.skipped" not in section and "RNNCell.forward" not in section
