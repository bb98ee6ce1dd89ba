"""Printing results as an aligned table, JSON or CSV (``-o table|json|csv``)."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

FORMATS = ("table", "json", "csv")
MAX_CELL = 48


def write_json(data: Any, stream: TextIO = sys.stdout) -> None:
    json.dump(data, stream, indent=2, ensure_ascii=False)
    stream.write("\n")


def write_csv(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str], stream: TextIO = sys.stdout
) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])


def write_table(
    rows: Iterable[Sequence[Any]], headers: Sequence[str], stream: TextIO = sys.stdout
) -> None:
    """Columns padded to their widest cell (cut at 48 characters); the last column is whole."""
    cells = [[str(h) for h in headers]] + [
        [_cell(c) for c in row[:-1]] + [_cell(row[-1], width=None)] for row in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        padded = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])] + [row[-1]]
        stream.write("  ".join(padded).rstrip() + "\n")


def write_fields(fields: Sequence[tuple[str, Any]], stream: TextIO = sys.stdout) -> None:
    """One ``name: value`` line per field, names aligned; multi-line values indented."""
    width = max(len(name) for name, _ in fields)
    for name, value in fields:
        text = "" if value is None else str(value)
        lines = text.splitlines() or [""]
        stream.write(f"{name + ':':<{width + 1}} {lines[0]}".rstrip() + "\n")
        for line in lines[1:]:
            stream.write(f"{'':<{width + 1}} {line}".rstrip() + "\n")


def _cell(value: Any, width: int | None = MAX_CELL) -> str:
    text = "" if value is None else str(value).replace("\n", " ")
    return text if width is None or len(text) <= width else text[: width - 1] + "…"
