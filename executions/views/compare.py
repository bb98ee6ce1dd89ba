"""The compare page (SPEC §10): 2 to 4 executions of a project side by side, one column each.

``?ids=a,b,c`` names them (the parameter may be repeated, as a form of checkboxes sends it);
``only=diff`` keeps the rows whose values differ. The toggle is a plain link; with htmx it
swaps the ``#comparison`` fragment of the same template in place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from executions.compare import (
    MAX_IDS,
    MIN_IDS,
    SECTIONS,
    Comparison,
    Row,
    Section,
    load_comparison,
    parse_ids,
)
from executions.errors import ExecboardError, NotFound
from projects.access import can_read, project_for

TEMPLATE = "executions/compare.html"

SECTION_TITLES: dict[Section, str] = {
    "field": "Fields",
    "label": "Labels",
    "input": "Inputs",
    "meta": "User metadata",
    "step": "Step durations",
}


@dataclass(frozen=True)
class Cell:
    """One value as the page shows it; ``kind`` picks the markup in the template."""

    value: Any
    kind: str

    @property
    def json(self) -> str:
        return json.dumps(self.value, ensure_ascii=False)


@dataclass(frozen=True)
class DisplayRow:
    row: Row
    title: str
    cells: list[Cell]


@dataclass(frozen=True)
class DisplaySection:
    name: Section
    title: str
    rows: list[DisplayRow]
    total: int


def _kind(section: Section, key: str, value: Any) -> str:
    if value is None:
        return "none"
    if section == "step" or (section == "field" and key == "duration"):
        return "duration"
    if isinstance(value, datetime):
        return "time"
    if section == "field" and key in ("phase", "parent"):
        return key
    if value == "" and section == "label":
        return "tag"
    if value == "":
        return "none" if section == "field" else "empty"
    return "text" if isinstance(value, str) else "json"


def _display_row(row: Row) -> DisplayRow:
    title = row.key.replace("_", " ").capitalize() if row.section == "field" else row.key
    cells = [Cell(value, _kind(row.section, row.key, value)) for value in row.values]
    return DisplayRow(row, title, cells)


def _sections(comparison: Comparison, only_diff: bool) -> list[DisplaySection]:
    sections = []
    for name in SECTIONS:
        rows = [row for row in comparison.rows if row.section == name]
        shown = [row for row in rows if row.differs or not only_diff]
        sections.append(
            DisplaySection(name, SECTION_TITLES[name], [_display_row(r) for r in shown], len(rows))
        )
    return sections


@require_GET
def compare(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(request.user, slug)
    context: dict[str, Any] = {
        "project": project,
        "list_url": reverse("executions:list", args=[project.slug]),
        "min_ids": MIN_IDS,
        "max_ids": MAX_IDS,
    }
    try:
        ids = parse_ids(request.GET.getlist("ids"))
    except ExecboardError as error:
        context["error"] = error.message
        return render(request, TEMPLATE, context, status=400)
    try:
        comparison = load_comparison(
            ids, can_read=lambda other: can_read(request.user, other), project=project
        )
    except NotFound as missing:
        raise Http404(missing.message) from missing

    only_diff = request.GET.get("only") == "diff"
    query = f"?ids={','.join(ids)}"  # ids are [a-z0-9] (parse_ids): nothing to quote
    context.update(
        executions=comparison.executions,
        sections=_sections(comparison, only_diff),
        only_diff=only_diff,
        differing=sum(row.differs for row in comparison.rows),
        total=len(comparison.rows),
        all_url=request.path + query,
        diff_url=request.path + query + "&only=diff",
        api_url=reverse("api-execution-compare") + query,
    )
    fragment = "#comparison" if request.htmx and not request.htmx.history_restore_request else ""
    response = render(request, TEMPLATE + fragment, context)
    # The same URL answers a page or a fragment: caches must keep them apart.
    patch_vary_headers(response, ("HX-Request",))
    return response
