"""Real data files read on the trusted side: errors name the file, the line and column, and the fix.

Four layouts: a classification CSV (IMDB-style: a text column and a label column), a plain-text
corpus (one sentence per line, or running text cut into sentences), tab-separated sentence pairs
(the ``spa-eng.txt`` layout: source, target, further columns ignored), and a monthly series CSV
(``Month,Passengers``). Files are UTF-8 (a BOM is allowed); an optional sha256 is checked first.
"""
from __future__ import annotations

import csv
import hashlib
import io
import math
import re
from pathlib import Path

from ..errors import SpecError
from .text import split_sentences


class DataError(SpecError):
    """A data file is wrong. ``key`` says where (``line 7, column 'Passengers'``)."""


_SHA256 = re.compile(r"[0-9a-f]{64}")
_MONTH = re.compile(r"(\d{4})-(\d{2})(?:-\d{2})?")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_text(path: Path, sha256: str | None = None) -> str:
    """The file's text, after checking that it exists, matches ``sha256`` and is not empty."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file", "does not exist" if not path.exists() else "is not a file",
                        "check [dataset].path (relative to the folder of task.toml)")
    actual = file_sha256(path)
    if sha256 is not None and actual != sha256.lower():
        raise DataError(path, "sha256", f"is {actual}, the spec expects {sha256}",
                        "the file changed: restore the original, or put the new checksum in [dataset].sha256")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(path, f"line {line}", f"is not UTF-8 (byte {raw[exc.start]:#x})",
                        "save the file as UTF-8") from None
    if not text.strip():
        raise DataError(path, "file", "is empty", "point [dataset].path at a file with data")
    return text


def _csv_rows(path: Path, text: str, columns: dict[str, str | int], delimiter: str = ","):
    """(line number, {role: cell}) for each data row; ``columns`` maps a role to a header name."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except csv.Error as exc:
        raise DataError(path, "line 1", f"is not valid CSV ({exc})", "fix the header line") from None
    index = {}
    for role, name in columns.items():
        if name not in header:
            raise DataError(path, f"column {name!r}", f"not in the header (columns: {', '.join(header)})",
                            f"set [dataset].columns.{role} to one of the header's names")
        index[role] = header.index(name)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(path, f"line {reader.line_num}", f"is not valid CSV ({exc})",
                            "close the quotes or escape the quote characters") from None
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise DataError(path, f"line {reader.line_num}", f"has {len(row)} fields, the header has {len(header)}",
                            "quote a field that contains the delimiter, or fill in the missing fields")
        yield reader.line_num, {role: row[i] for role, i in index.items()}


def load_classification_csv(path: Path, text_column: str = "text", label_column: str = "label",
                            split_column: str | None = None, sha256: str | None = None):
    """(texts, labels, splits or None) from a CSV with a header; labels are kept as strings."""
    path = Path(path)
    columns = {"text": text_column, "label": label_column}
    if split_column:
        columns["split"] = split_column
    texts, labels, splits = [], [], []
    for line, row in _csv_rows(path, read_text(path, sha256), columns):
        if not row["text"].strip():
            raise DataError(path, f"line {line}, column {text_column!r}", "is empty",
                            "remove the row or give it a text")
        label = row["label"].strip()
        if not label:
            raise DataError(path, f"line {line}, column {label_column!r}", "is empty", "give every row a label")
        texts.append(row["text"])
        labels.append(label)
        if split_column:
            split = row["split"].strip().lower()
            if split not in ("train", "valid", "test"):
                raise DataError(path, f"line {line}, column {split_column!r}", f"is {split!r}",
                                "use train, valid or test")
            splits.append(split)
    if not texts:
        raise DataError(path, "file", "has a header but no rows", "add data rows")
    return texts, labels, (splits if split_column else None)


def load_text_corpus(path: Path, sentences: str = "lines", sha256: str | None = None) -> list[str]:
    """Sentences: each non-blank line (``"lines"``), or running text cut after . ! ? (``"punctuation"``)."""
    path = Path(path)
    text = read_text(path, sha256)
    if sentences == "lines":
        return [line.strip() for line in text.splitlines() if line.strip()]
    return split_sentences(text)


def load_tsv_pairs(path: Path, source_column: int = 0, target_column: int = 1,
                   sha256: str | None = None) -> list[tuple[str, str]]:
    """(source, target) per non-blank line of a tab-separated file; further columns are ignored."""
    path = Path(path)
    need = max(source_column, target_column) + 1
    pairs = []
    for line_no, line in enumerate(read_text(path, sha256).splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < need:
            raise DataError(path, f"line {line_no}", f"has {len(fields)} tab-separated field(s), {need} needed",
                            "separate source and target with a TAB character (not spaces)")
        src, tgt = fields[source_column].strip(), fields[target_column].strip()
        for value, col in ((src, source_column), (tgt, target_column)):
            if not value:
                raise DataError(path, f"line {line_no}, field {col + 1}", "is empty",
                                "remove the line or fill in the sentence")
        pairs.append((src, tgt))
    return pairs


def load_series_csv(path: Path, month_column: str = "Month", value_column: str = "Passengers",
                    sha256: str | None = None) -> tuple[list[str], list[float]]:
    """(months as "YYYY-MM", values) from a CSV of consecutive months."""
    return series_from_text(path, read_text(path, sha256), month_column, value_column)


def series_from_text(path: Path, text: str, month_column: str = "Month",
                     value_column: str = "Passengers") -> tuple[list[str], list[float]]:
    """load_series_csv on the text of ``path`` already read (read_text), for a caller that needs the text too."""
    path = Path(path)
    months, values, previous = [], [], None
    for line, row in _csv_rows(path, text, {"month": month_column, "value": value_column}):
        cell = row["value"].strip()
        try:
            value = float(cell)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise DataError(path, f"line {line}, column {value_column!r}", f"{cell!r} is not a finite number",
                            "write a plain number such as 112 or 112.5 (no thousands separator or blank)")
        m = _MONTH.fullmatch(row["month"].strip())
        if not m or not 1 <= int(m.group(2)) <= 12:
            raise DataError(path, f"line {line}, column {month_column!r}", f"{row['month']!r} is not a month",
                            "write months as YYYY-MM, e.g. 1949-01")
        index = int(m.group(1)) * 12 + int(m.group(2)) - 1
        if previous is not None and index != previous + 1:
            raise DataError(path, f"line {line}, column {month_column!r}",
                            f"{m.group(1)}-{m.group(2)} does not follow the previous row's month",
                            "sort the rows by month and fill in missing months")
        previous = index
        months.append(f"{m.group(1)}-{m.group(2)}")
        values.append(value)
    if not values:
        raise DataError(path, "file", "has a header but no rows", "add data rows")
    return months, values


def csv_head(path: Path, text: str, columns: dict[str, str], n_rows: int) -> str:
    """The CSV's text up to the end of its ``n_rows``-th data row, header included, as written (the lines a
    csv reader reads, blank ones kept)."""
    last = 1
    for i, (line, _) in enumerate(_csv_rows(Path(path), text, columns)):
        if i == n_rows:
            break
        last = line
    return "".join(io.StringIO(text, newline="").readlines()[:last])


def check_sha256_format(spec_path: Path, value) -> str:
    if not isinstance(value, str) or not _SHA256.fullmatch(value.lower()):
        raise SpecError(spec_path, "[dataset].sha256", f"must be 64 hexadecimal characters, got {value!r}",
                        "copy it from `sha256sum FILE`, or remove the key")
    return value.lower()
