"""The list's columns (SPEC §10): ``columns=name,phase,meta.loss,label.team`` in display order.

Base columns are the execution's own fields; field columns show one JSON value of each row:
``label.<key>`` (a chip that filters), ``meta.<key>`` (a top-level key of ``user_metadata``)
and ``input.<key>`` (a top-level key of ``inputs``). Every column but ``launched_by``,
``release`` and ``labels`` sorts the list (``sort_by.key``)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.db.models.fields.json import KeyTransform

from executions.models import Execution
from executions.query import FIELD_SORT_SOURCES, FieldSort, QueryError

BASE_COLUMNS = {
    "name": "Name",
    "workflow": "Workflow",
    "phase": "Phase",
    "started": "Started",
    "duration": "Duration",
    "launched_by": "Launched by",
    "release": "Release",
    "labels": "Labels",
}
DEFAULT_COLUMNS = tuple(BASE_COLUMNS)
# The sort key of each sortable base column.
BASE_SORT_KEYS = {
    "name": "name",
    "workflow": "workflow",
    "phase": "phase",
    "started": "started_at",
    "duration": "duration",
}
MAX_FIELD_COLUMNS = 12
# Keys offered in the Columns menu come from the project's latest executions.
SUGGESTED_FROM = 500
MAX_SUGGESTIONS = 60


@dataclass(frozen=True)
class Column:
    """A column of the list: a base column (``source`` None) or a field column."""

    name: str
    source: str | None = None
    key: str = ""

    @property
    def title(self) -> str:
        return BASE_COLUMNS[self.name] if self.source is None else self.key

    @property
    def sort_key(self) -> str | None:
        return BASE_SORT_KEYS.get(self.name) if self.source is None else self.name

    @property
    def is_field(self) -> bool:
        return self.source is not None


def parse_columns(params: Mapping[str, Any]) -> tuple[Column, ...]:
    """The columns a request asks for, validated; the default columns when it asks for none.

    ``columns=a,b`` (the URL's form) or repeated ``columns=a&columns=b`` (the Columns menu's
    form, whose empty "add a column" box is ignored). Unknown names, empty items of the
    comma-separated form, repeats and bad keys raise ``QueryError`` naming them."""
    raw = params.getlist("columns") if hasattr(params, "getlist") else [params.get("columns")]
    raw = [value for value in raw if value is not None]
    if len(raw) > 1:
        raw = [value for value in raw if value.strip()]
    if not raw or raw == [""]:
        return tuple(Column(name) for name in DEFAULT_COLUMNS)
    names = [item.strip() for value in raw for item in value.split(",")]
    columns, seen = [], set()
    for name in names:
        column = _column(name)
        if column.name in seen:
            raise QueryError(f"The column {name!r} is listed twice.", field="columns")
        seen.add(column.name)
        columns.append(column)
    if "name" not in seen:
        raise QueryError(
            "columns must include name: each row links to its execution.", field="columns"
        )
    if sum(column.is_field for column in columns) > MAX_FIELD_COLUMNS:
        raise QueryError(f"At most {MAX_FIELD_COLUMNS} field columns.", field="columns")
    return tuple(columns)


def _column(name: str) -> Column:
    if name in BASE_COLUMNS:
        return Column(name)
    known = f"{', '.join(BASE_COLUMNS)}, or label.<key>, meta.<key>, input.<key>"
    if not name:
        raise QueryError(f"columns has an empty item; expected {known}.", field="columns")
    try:
        field_sort = FieldSort.parse(name)
    except QueryError as exc:
        raise QueryError(f"Column {name!r}: {exc.message}", field="columns") from None
    if field_sort is None:
        raise QueryError(f"Unknown column {name!r}; expected {known}.", field="columns")
    return Column(field_sort.name, field_sort.source, field_sort.key)


def columns_param(columns: tuple[Column, ...]) -> str:
    """The ``columns=`` value of these columns; empty for the default columns."""
    names = tuple(column.name for column in columns)
    return "" if names == DEFAULT_COLUMNS else ",".join(names)


def with_values(queryset: QuerySet, columns: tuple[Column, ...]) -> QuerySet:
    """Rows with the value of each ``meta.``/``input.`` column selected (one JSON key each,
    not the whole document); ``label.`` columns read the row's ``labels``."""
    selected = {
        _selected_as(index): KeyTransform(column.key, FIELD_SORT_SOURCES[column.source])
        for index, column in enumerate(columns)
        if column.source in ("meta", "input")
    }
    return queryset.annotate(**selected) if selected else queryset


@dataclass(frozen=True)
class Cell:
    """A field column's value in a row, as shown: its text, whether it is a number (right
    aligned) and whether it is long (cut with an ellipsis, whole on hover and focus)."""

    text: str
    numeric: bool = False
    missing: bool = False

    @property
    def long(self) -> bool:
        return len(self.text) > 24


MISSING = Cell("—", missing=True)


def _selected_as(index: int) -> str:
    return f"column_{index}"


def row_cells(row: Execution, columns: tuple[Column, ...]) -> list[tuple[Column, Cell | None]]:
    """Each column of ``row`` with its field column's value (None for a base column)."""
    return [
        (column, _cell(row, column, index) if column.is_field else None)
        for index, column in enumerate(columns)
    ]


def _cell(row: Execution, column: Column, index: int) -> Cell:
    if column.source == "label":
        value = row.labels.get(column.key)
        return MISSING if value is None else Cell(value)
    value = getattr(row, _selected_as(index), None)
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return Cell("true" if value else "false")
    if isinstance(value, int | float):
        return Cell(format_number(value), numeric=True)
    if isinstance(value, str):
        return Cell(value)
    return Cell(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def format_number(value: int | float) -> str:
    """A metric as a table shows it: thousands separated, about four significant digits, and
    very large numbers in scientific notation."""
    if abs(value) >= 1e15:
        return f"{value:.4g}"
    if isinstance(value, int) or value.is_integer():
        return f"{int(value):,}"
    if round(abs(value), 1) >= 1000:
        return f"{value:,.1f}".removesuffix(".0")
    return f"{value:.4g}"


def suggested_keys(project_id: int) -> list[tuple[str, int]]:
    """Field columns worth offering: the label, metadata and input keys of the project's
    latest ``SUGGESTED_FROM`` executions, most common first."""
    latest = (
        Execution.objects.filter(project_id=project_id)
        .order_by("-created_at", "-id")
        .values_list("labels", "user_metadata", "inputs")[:SUGGESTED_FROM]
    )
    counts: Counter[str] = Counter()
    for labels, metadata, inputs in latest:
        counts.update(f"label.{key}" for key in labels)
        counts.update(f"meta.{key}" for key in metadata or {})
        counts.update(f"input.{key}" for key in inputs or {})
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ranked[:MAX_SUGGESTIONS]
