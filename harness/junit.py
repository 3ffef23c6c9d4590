"""JUnit XML of a Results document: one test case per check, so that any CI shows failures natively.

The shape is the one Jenkins, GitLab, GitHub test reporters and pytest's ``xunit2`` family share::

    <testsuites name tests failures errors skipped time>
      <testsuite name=TASK tests failures errors skipped time timestamp>
        <properties><property name value/>…</properties>      score, max_score, module, points.<check id>
        <testcase classname=TASK name=CHECK_ID time>
          <failure message type>message, how to fix, traceback</failure>    (failed)
          <error message type>…</error>                                    (error)
          <skipped message/>                                               (skipped)
          <system-out>points and message</system-out>

Points sit in the suite's properties (``points.<check id>`` = ``"2/3"``) and in each case's
system-out, because the common schema has no properties on a test case.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

from .results import CheckResult, Results
from .triage import HOW_TO_FIX

#: Characters XML 1.0 cannot carry at all (a student's output may contain them).
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value) -> str:
    return _INVALID_XML.sub("\ufffd", str(value))


def _seconds(value: float) -> str:
    return f"{max(float(value), 0.0):.3f}"


def _timestamp(created: str) -> str:
    """ISO 8601 without a zone, as the schema's pattern wants (UTC)."""
    try:
        moment = datetime.fromisoformat(created)
    except (TypeError, ValueError):
        return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _details(check: CheckResult) -> str:
    lines = [f"{check.points:g}/{check.max_points:g} points", check.message]
    if check.hint:
        lines.append(f"{HOW_TO_FIX}: {check.hint}")
    numbers = check.numbers if isinstance(check.numbers, dict) else {}
    for key in ("traceback", "output"):
        if numbers.get(key):
            lines += ["", f"{key}:", str(numbers[key])]
    return "\n".join(lines)


def _one_line(text: str, limit: int = 500) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def to_element(results: Results, name: str = "harness") -> ET.Element:
    """The ``<testsuites>`` element: one suite per task (in the results' order), one case per check."""
    root = ET.Element("testsuites", name=_text(name))
    task_names = [t.name for t in results.tasks]
    stray = sorted({c.task for c in results.checks} - set(task_names))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "time": 0.0}
    for task_name in task_names + stray:
        task = next((t for t in results.tasks if t.name == task_name), None)
        checks = [c for c in results.checks if c.task == task_name]
        counts = {"tests": len(checks), "failures": sum(c.status == "failed" for c in checks),
                  "errors": sum(c.status == "error" for c in checks),
                  "skipped": sum(c.status == "skipped" for c in checks)}
        seconds = sum(c.seconds for c in checks)
        suite = ET.SubElement(root, "testsuite", name=_text(task_name),
                              **{k: str(v) for k, v in counts.items()},
                              time=_seconds(seconds), timestamp=_timestamp(results.created))
        props = ET.SubElement(suite, "properties")
        score = round(sum(c.points for c in checks), 6)
        max_score = round(sum(c.max_points for c in checks), 6)
        listed = [("score", f"{score:g}"), ("max_score", f"{max_score:g}")]
        if task is not None:
            listed += [("title", task.title), ("module", task.module), ("source", task.source),
                       ("spec_version", task.spec_version), ("spec_digest", task.spec_digest)]
        listed += [(f"points.{c.id}", f"{c.points:g}/{c.max_points:g}") for c in checks]
        for key, value in listed:
            ET.SubElement(props, "property", name=_text(key), value=_text(value))
        for c in checks:
            case = ET.SubElement(suite, "testcase", classname=_text(task_name), name=_text(c.id),
                                 time=_seconds(c.seconds))
            if c.status == "failed":
                el = ET.SubElement(case, "failure", message=_text(_one_line(c.message)), type="failed")
                el.text = _text(_details(c))
            elif c.status == "error":
                el = ET.SubElement(case, "error", message=_text(_one_line(c.message)), type="error")
                el.text = _text(_details(c))
            elif c.status == "skipped":
                ET.SubElement(case, "skipped", message=_text(_one_line(c.message)))
            out = ET.SubElement(case, "system-out")
            out.text = _text(f"{c.points:g}/{c.max_points:g} points — {c.message}")
        for key, value in counts.items():
            totals[key] += value
        totals["time"] += seconds
    for key, value in totals.items():
        root.set(key, _seconds(value) if key == "time" else str(value))
    return root


def to_junit(results: Results, name: str = "harness") -> str:
    """The JUnit XML document as text (UTF-8, with an XML declaration)."""
    root = to_element(results, name)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(results: Results, path: Path, name: str = "harness") -> Path:
    """Write the JUnit XML to ``path`` atomically, never through a link (harness.files.write_output)."""
    from .files import write_output

    return write_output(path, to_junit(results, name))
