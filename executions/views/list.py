"""The project executions list (SPEC §4, §10), its htmx fragments, exports and label
autocomplete.

All state lives in the URL (the same parameters as the API list, plus ``columns``,
``density`` and ``defaults``). The request's expression is parsed once, by
``ListQuery.from_params``; chips and links edit that tree (``executions.query``'s
``add_term``, ``remove_term``, ``negate_term``, ``or_value``). An htmx request gets a fragment
of the page's own template: ``#listing`` (filter bar and results) when the filter bar
changed, ``#rows`` (table rows and the next "load more") for load more and for the rows of an
opened group.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import reduce
from urllib.parse import quote, quote_plus

from django.conf import settings
from django.http import Http404, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import RFC3986_SUBDELIMS
from django.views.decorators.http import require_GET

from execboard.fields import EXPORT_COLUMNS
from executions import planner
from executions.columns import (
    BASE_COLUMNS,
    Column,
    columns_param,
    parse_columns,
    row_cells,
    suggested_keys,
    with_values,
)
from executions.models import Execution, Phase
from executions.query import (
    DEFAULT_LIMIT,
    TIME_RANGES,
    Group,
    LabelTerm,
    ListQuery,
    Node,
    Not,
    QueryError,
    add_term,
    and_prefix,
    conjunction,
    conjuncts,
    label_keys,
    label_values,
    list_rows,
    negate_term,
    nested_matches,
    or_key,
    or_value,
    page_groups,
    remove_term,
    to_text,
    with_children,
)
from projects.access import can_edit, project_for
from projects.models import Project

# The rows of a page, also an htmx fragment on their own (load more, a group's rows): a
# Jinja2 template (config/jinja2.py says why).
ROWS_TEMPLATE = "executions/partials/_rows.jinja"
PAGE_SIZES = (25, 50, 100, 200)
# The grouped page reads the phases of the shown groups' executions, a random read each
# (50 groups of 95 at 1M: about 20 ms); the rest are counted and named below them.
MAX_GROUPS_SHOWN = 50
# A group's rows URL: how many trailing terms of q select the group (see _decorate_groups).
GROUP_TERMS = "group_terms"
STATE_PARAMS = (
    "q",
    "filters",
    "domain",
    "phase",
    "since",
    "namespace",
    "sort_by.key",
    "sort_by.direction",
    "limit",
    "group_by",
    "columns",
    "density",
    "defaults",
)
VIEW_OPTIONS = {"density": ("comfortable",), "defaults": ("show",)}


class Links:
    """URLs of the list with some parameters changed; the current state stays in the URL."""

    def __init__(self, path: str, params: QueryDict) -> None:
        self.path = path
        self.state = QueryDict(mutable=True)
        for name in STATE_PARAMS:
            values = [v for v in params.getlist(name) if v]
            if values:
                self.state.setlist(name, values)

    def get(self, name: str) -> str:
        return self.state.get(name, "")

    def _changed(self, changes: dict[str, str | list[str] | None]) -> QueryDict:
        params = self.state.copy()
        for name, value in changes.items():
            name = name.replace("__", ".")
            if not value:
                params.pop(name, None)
            elif isinstance(value, list):
                params.setlist(name, value)
            else:
                params[name] = value
        return params

    def url(self, *, path: str | None = None, **changes: str | list[str] | None) -> str:
        """The list's URL (or ``path``) with parameters changed; a falsy value removes one
        and ``__`` in a name stands for ``.`` (``sort_by__key`` → ``sort_by.key``)."""
        encoded = self._changed(changes).urlencode()
        return f"{path or self.path}?{encoded}" if encoded else (path or self.path)

    def q_urls(
        self, *, prefix: str = "", relative: bool = False, **changes: str | list[str] | None
    ) -> Callable[[str], str]:
        """``url(q)``: the same URL as ``self.url(q=prefix + q, **changes)`` (``?…`` alone,
        when ``relative``), for the many values of ``q`` of a page (its label chips, its
        groups) with the rest of the state and the ``prefix`` of ``q`` encoded once."""
        params = self._changed(changes)
        params["q"] = ""  # q keeps its place among the parameters (or comes last)
        pairs = list(params.lists())
        at = [name for name, _ in pairs].index("q")
        head, tail = _encoded(pairs[:at]), _encoded(pairs[at + 1 :])
        path = "" if relative else self.path
        start = f"{path}?{head}&q=" if head else f"{path}?q="
        start += _quote_plus(prefix)
        end = f"&{tail}" if tail else ""
        bare = f"{path}?{head}{end}" if head else (f"{path}?{tail}" if tail else path or "?")

        def url(q: str) -> str:
            return start + _quote_plus(q) + end if prefix or q else bare

        return url


_URL_PLAIN = re.compile(r"[A-Za-z0-9_.~: -]*")


def _quote_plus(text: str) -> str:
    """``quote_plus(text)``, faster for the usual ``a:b and c:d`` of plain characters (where
    only ``:`` and spaces need encoding): quote_plus looks up each character of such a text."""
    if _URL_PLAIN.fullmatch(text):
        return text.replace(":", "%3A").replace(" ", "+")
    return quote_plus(text)


def _encoded(pairs: list[tuple[str, list[str]]]) -> str:
    params = QueryDict(mutable=True)
    for name, values in pairs:
        params.setlist(name, values)
    return params.urlencode()


@dataclass(frozen=True)
class Chip:
    """An active filter in the filter bar, with its remove / negate / OR links."""

    text: str
    remove_url: str
    negate_url: str
    negated: bool
    or_key: str | None
    index: int


def _filter_chips(links: Links, expression: Node | None) -> list[Chip]:
    return [
        Chip(
            text=to_text(term),
            remove_url=links.url(q=to_text(remove_term(expression, index))),
            negate_url=links.url(q=to_text(negate_term(expression, index))),
            negated=isinstance(term, Not),
            or_key=or_key(term),
            index=index,
        )
        for index, term in enumerate(conjuncts(expression))
    ]


@dataclass(frozen=True)
class LabelChip:
    """A row's label: a link to the list filtered by it too (``url`` None when the filter
    already has it)."""

    key: str
    value: str
    url: str | None


def _label_chips(links: Links, expression: Node | None) -> Callable[[str, str], LabelChip]:
    """``chip(key, value)``, made once per page and remembered per label: rows repeat
    labels (team:nlp on many rows), and a chip's URL holds the whole expression."""
    active = set(conjuncts(expression))
    url = links.q_urls(prefix=and_prefix(expression), relative=True)
    made: dict[tuple[str, str], LabelChip] = {}

    def chip(key: str, value: str) -> LabelChip:
        found = made.get((key, value))
        if found is None:
            term = LabelTerm(key, value)
            found = LabelChip(key, value, None if term in active else url(to_text(term)))
            made[key, value] = found
        return found

    return chip


def _detail_urls(slug: str) -> Callable[[str], str]:
    """``url(execution_id)``: what ``reverse("executions:detail", ...)`` returns (reverse()
    quotes the path the same way), with reverse() called once per page instead of per row."""
    head, _, tail = reverse("executions:detail", args=[slug, "ID"]).rpartition("ID")
    safe = RFC3986_SUBDELIMS + "/~:@"
    return lambda execution_id: head + quote(execution_id, safe=safe) + tail


def _prepare_rows(
    rows: list[Execution],
    state: ListState,
    expression: Node | None,
    slug: str,
    defaults: dict[str, str],
) -> None:
    """Give each row what the template shows: ``url``, ``chips`` (its labels but the
    ``name`` label, the project's default labels unless the view shows them, and the labels
    of label columns) and ``cells`` (each column with its value). No query."""
    chip = _label_chips(state.links, expression)
    detail_url = _detail_urls(slug)
    shown_as_columns = {column.key for column in state.columns if column.source == "label"}
    hidden = {} if state.show_defaults else defaults
    for row in rows:
        row.url = detail_url(row.id)
        row.chips = [
            chip(key, value)
            for key, value in row.labels.items()
            if key != "name" and key not in shown_as_columns and hidden.get(key) != value
        ]
        row.cells = [
            (column, value, chip(column.key, value.text) if _is_label_cell(column, value) else None)
            for column, value in row_cells(row, state.columns)
        ]
        for child in row.child_list:
            child.url = detail_url(child.id)


def _is_label_cell(column: Column, value) -> bool:
    return column.source == "label" and not value.missing


@dataclass(frozen=True)
class Header:
    """A column's head: its title and, for a sortable column, the URL that sorts by it and
    the current direction (``aria-sort``)."""

    column: Column
    url: str | None
    sort: str | None

    @property
    def arrow(self) -> str:
        return {"ascending": "↑", "descending": "↓"}.get(self.sort or "", "")


def _headers(links: Links, query: ListQuery | None, columns: tuple[Column, ...]) -> list[Header]:
    key = query.sort_key if query else "created_at"
    descending = query.descending if query else True
    headers = []
    for column in columns:
        if column.sort_key is None:
            headers.append(Header(column, None, None))
            continue
        current = column.sort_key == key
        direction = "ASCENDING" if current and descending else "DESCENDING"
        url = links.url(sort_by__key=column.sort_key, sort_by__direction=direction)
        sort = ("descending" if descending else "ascending") if current else None
        headers.append(Header(column, url, sort))
    return headers


def _decorate_groups(groups: list[Group], links: Links, expression: Node | None, keys) -> None:
    """Each group's URL of its rows (htmx) and of its own filtered list, and the id of the
    table body its rows go to (``target``)."""
    rows_url, list_url = links.q_urls(), links.q_urls(group_by=None)

    def decorate(groups: list[Group], target: str) -> None:
        for index, group in enumerate(groups, start=1):
            group.target = f"{target}{index}"
            group_terms = [
                LabelTerm(key, value) if value is not None else Not(LabelTerm(key))
                for key, value in zip(keys, group.values, strict=False)
            ]
            q = to_text(reduce(add_term, group_terms, expression))
            # The rows URL (it has group_by, so a "?") says how many of its terms select the
            # group, so that the rows' chips add to the page's filter, not the group's.
            group.rows_url = f"{rows_url(q)}&{GROUP_TERMS}={len(group_terms)}"
            group.list_url = list_url(q)
            decorate(group.subgroups, f"{group.target}-")

    decorate(groups, "g")


def _more_id(request) -> str:
    """The id of the "load more" row: one per table (the main one, or a group's tbody)."""
    target = request.htmx.target if request.htmx else None
    scope = target.removeprefix("more-") if target and target != "listing" else "main"
    return f"more-{scope}"


def _page_expression(request, expression: Node | None) -> Node | None:
    """The expression the rows' chips add to: without the trailing terms that select the
    group whose rows are asked for (``GROUP_TERMS``, set by the group's rows URL)."""
    terms = conjuncts(expression)
    raw = request.GET.get(GROUP_TERMS, "")
    group_terms = int(raw) if raw in ("1", "2") and int(raw) <= len(terms) else 0
    return conjunction(terms[: len(terms) - group_terms])


def _fragment(request) -> str:
    """Which part of the page an htmx request wants: ``#listing`` of the page's template,
    or ``#rows`` (``ROWS_TEMPLATE``)."""
    if not request.htmx or request.htmx.history_restore_request:
        return ""
    return "#listing" if request.htmx.target in (None, "listing") else "#rows"


@dataclass(frozen=True)
class ListState:
    """The list as the URL asks for it: links, the validated query (None, with ``error``,
    when the URL is invalid), the columns and the view options. ``or_term`` / ``or_value``
    (the chip menu's OR form) and ``move`` (the Columns menu's arrows) are folded into the
    state; ``rewritten`` says the URL changed because of them."""

    links: Links
    query: ListQuery | None
    columns: tuple[Column, ...]
    comfortable: bool = False
    show_defaults: bool = False
    error: QueryError | None = None
    rewritten: bool = False

    @classmethod
    def from_request(cls, request) -> ListState:
        links = Links(request.path, request.GET)
        columns = parse_columns(QueryDict())
        try:
            columns = _moved(parse_columns(request.GET), request.GET.get("move", ""))
            query = ListQuery.from_params(request.GET)
            _check_view_options(request.GET)
            or_term = request.GET.get("or_term", "")
            if request.GET.get("or_value") and or_term.isdigit():
                expression = or_value(query.expression, int(or_term), request.GET["or_value"])
                query = replace(query, expression=expression)
            links.state.pop("columns", None)
            if columns_param(columns):
                links.state["columns"] = columns_param(columns)
            if query.expression is not None:
                links.state["q"] = to_text(query.expression)
            rewritten = links.url() != _plain_url(request)
            return cls(
                links,
                query,
                columns,
                comfortable=links.get("density") == "comfortable",
                show_defaults=links.get("defaults") == "show",
                rewritten=rewritten,
            )
        except QueryError as exc:
            return cls(links, None, columns, error=exc)


def _plain_url(request) -> str:
    """The request's URL with only the list's state, as ``Links.url`` writes it."""
    return Links(request.path, request.GET).url()


def _moved(columns: tuple[Column, ...], move: str) -> tuple[Column, ...]:
    """The columns with one moved by the Columns menu's arrows: ``move=<name>:-1`` or ``:1``."""
    if not move:
        return columns
    name, _, step = move.rpartition(":")
    names = [column.name for column in columns]
    if name not in names or step not in ("-1", "1"):
        raise QueryError(f"Cannot move the column {name!r}.", field="move")
    at = names.index(name)
    to = min(max(at + int(step), 0), len(columns) - 1)
    reordered = list(columns)
    reordered.insert(to, reordered.pop(at))
    return tuple(reordered)


def _check_view_options(params: QueryDict) -> None:
    for name, allowed in VIEW_OPTIONS.items():
        value = params.get(name)
        if value and value not in allowed:
            raise QueryError(f"{name} must be {' or '.join(allowed)}; got {value!r}.", field=name)


def _filter_bar(request, project, state: ListState) -> dict:
    links, query = state.links, state.query
    return {
        "project": project,
        "can_edit": can_edit(request.user, project),
        "links": links,
        "query": query,
        "error": state.error,
        "columns": state.columns,
        "base_columns": [
            (name, title, any(c.name == name for c in state.columns))
            for name, title in BASE_COLUMNS.items()
        ],
        "comfortable": state.comfortable,
        "show_defaults": state.show_defaults,
        "density_url": links.url(density=None if state.comfortable else "comfortable"),
        "defaults_url": links.url(defaults=None if state.show_defaults else "show"),
        "chips": _filter_chips(links, query.expression) if query else [],
        "filters_remove_url": links.url(filters=None),
        "headers": _headers(links, query, state.columns),
        "phases": Phase.values,
        "selected_phases": set(query.phases) if query else set(),
        "time_ranges": list(TIME_RANGES),
        "page_sizes": PAGE_SIZES,
        "limit": query.limit if query else DEFAULT_LIMIT,
        "domains": _domain_tabs(links),
        "namespaces": _namespace_links(request, links),
        "hidden_state": [
            (name, value)
            for name in ("domain", "filters", "sort_by.key", "sort_by.direction", "columns")
            for value in links.state.getlist(name)
        ]
        + [(name, links.get(name)) for name in VIEW_OPTIONS if links.get(name)],
        "selection_state": [
            (name, value)
            for name in ("q", "filters", "domain", "phase", "since", "namespace")
            for value in links.state.getlist(name)
        ],
        "csv_url": links.url(path=reverse("executions:export", args=[project.slug, "csv"])),
        "json_url": links.url(path=reverse("executions:export", args=[project.slug, "json"])),
    }


def _results(request, project, state: ListState, fragment: str) -> dict:
    """The groups (grouped view) or one keyset page of rows (also a group's rows), with the
    count of every match and of those shown under their parents."""
    query, links = state.query, state.links
    if query is None:
        return {}
    executions = project.executions.all()
    plan = planner.plan(query, executions, project_id=project.pk, top_level_only=True)
    if query.group_by and fragment != "#rows":
        top = query.filter(executions, plan)
        groups, top_level_total, nested = page_groups(query, top, plan, MAX_GROUPS_SHOWN)
        if nested is None:
            nested = nested_matches(query, executions, plan).count()
        shown = groups[:MAX_GROUPS_SHOWN]
        _decorate_groups(shown, links, query.expression, query.group_by)
        return {
            "groups": shown,
            "hidden_groups": len(groups) - len(shown),
            "total": top_level_total + nested,
            "nested": nested,
            "total_is_estimate": False,
        }
    filtered = with_values(list_rows(query.filter(executions, plan)), state.columns)
    rows, next_cursor = query.page(filtered, plan)
    with_children(rows)
    defaults = project.default_labels_dict() if not state.show_defaults else {}
    expression = _page_expression(request, query.expression) if fragment == "#rows" else None
    _prepare_rows(rows, state, expression or query.expression, project.slug, defaults)
    if fragment == "#rows":
        return {
            "executions": rows,
            "next_url": _next_url(request, links, next_cursor),
            "more_id": _more_id(request),
            "columns": state.columns,
        }
    total, is_estimate, nested = query.page_total(executions, plan, rows, next_cursor)
    return {
        "executions": rows,
        "total": total,
        "nested": nested,
        "total_is_estimate": is_estimate,
        "sort_window": plan.sort_window,
        "next_url": _next_url(request, links, next_cursor),
        "more_id": _more_id(request),
    }


def _next_url(request, links: Links, next_cursor) -> str | None:
    if next_cursor is None:
        return None
    group_terms = request.GET.get(GROUP_TERMS, "")
    return links.url(cursor=next_cursor.encode(), **{GROUP_TERMS: group_terms})


@require_GET
def execution_list(request, slug: str):
    project = project_for(request.user, slug, projects=Project.objects.with_default_labels())
    state = ListState.from_request(request)
    if state.rewritten and not request.htmx:
        return redirect(state.links.url())
    fragment = _fragment(request)
    context = _filter_bar(request, project, state) | _results(request, project, state, fragment)
    if fragment == "#rows":
        response = render(request, ROWS_TEMPLATE, context, using="jinja2")
    else:
        response = render(request, "executions/execution_list.html" + fragment, context)
    if fragment == "#listing":
        response["HX-Push-Url"] = state.links.url()
    # The same URL answers a page or a fragment: caches must keep them apart.
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


@require_GET
def column_suggestions(request, slug: str):
    """The Columns menu's suggestions: field columns from the keys the project's latest
    executions have, most common first (``<option>``s for a datalist)."""
    project = project_for(request.user, slug)
    return render(
        request,
        "executions/partials/_column_suggestions.html",
        {"suggestions": suggested_keys(project.pk)},
    )


def _domain_tabs(links: Links) -> list[dict]:
    current = links.get("domain")
    tabs = [{"name": "All", "url": links.url(domain=None), "active": not current}]
    for domain in settings.EXECBOARD_DOMAINS:
        tabs.append(
            {
                "name": domain,
                "url": links.url(domain=domain),
                "active": domain == current,
            }
        )
    return tabs


def _namespace_links(request, links: Links) -> list[dict]:
    current = links.get("namespace")
    choices = [("Global", "")]
    if request.user.is_authenticated:
        choices.append(("Mine", f"user:{request.user.get_username()}"))
    return [
        {"title": title, "url": links.url(namespace=value), "active": current == value}
        for title, value in choices
    ]


@require_GET
def execution_export(request, slug: str, fmt: str):
    """Every execution matching the current filter as CSV or JSON, streamed."""
    project = project_for(request.user, slug)
    if fmt not in ("csv", "json"):
        raise Http404("Exports are .csv or .json.")
    try:
        query = ListQuery.from_params(request.GET)
    except QueryError as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain; charset=utf-8")
    executions = project.executions.all()
    # An export holds every match in order, also where the page sorts only the latest.
    plan = replace(planner.plan(query, executions, project_id=project.pk), sort_window=None)
    rows = query.ordered(query.filter(executions, plan), plan)
    # iterator(): rows stream from the database in chunks instead of all loaded at once.
    executions = rows.iterator(chunk_size=2000)
    if fmt == "csv":
        body, content_type = _csv_lines(executions, project.slug), "text/csv; charset=utf-8"
    else:
        body, content_type = _json_chunks(executions, project.slug), "application/json"
    response = StreamingHttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{project.slug}-executions.{fmt}"'
    return response


def _export_row(execution, project_slug: str) -> dict:
    """An execution as the export writes it, keyed by ``EXPORT_COLUMNS``."""
    values = {
        "id": execution.id,
        "name": execution.display_name,
        "project": project_slug,
        "domain": execution.domain,
        "workflow": execution.workflow,
        "workflow_version": execution.workflow_version,
        "phase": execution.phase,
        "created_at": execution.created_at.isoformat(),
        "started_at": execution.started_at.isoformat() if execution.started_at else None,
        "ended_at": execution.ended_at.isoformat() if execution.ended_at else None,
        "duration": execution.duration,
        "launched_by": execution.launched_by,
        "mode": execution.mode,
        "parent": execution.parent_id,
        "labels": execution.labels,
    }
    return {column: values[column] for column in EXPORT_COLUMNS}


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_cell(value) -> str:
    """Text for a CSV cell. Spreadsheets run cells that start with = + - @ as formulas:
    those get a leading quote."""
    if value is None:
        return ""
    cell = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def _csv_lines(executions, project_slug: str) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_COLUMNS)
    for execution in executions:
        row = _export_row(execution, project_slug)
        yield writer.writerow([_csv_cell(value) for value in row.values()])


def _json_chunks(executions, project_slug: str) -> Iterator[str]:
    yield "["
    for index, execution in enumerate(executions):
        row = _export_row(execution, project_slug)
        yield ("," if index else "") + "\n" + json.dumps(row, ensure_ascii=False)
    yield "\n]\n"


@require_GET
def label_suggestions(request, slug: str):
    """Autocomplete: label keys, or the values of ``key``, most used first.

    ``format`` picks the fragment: the expression box's list (default), ``values`` or
    ``namespaces`` (``<option>``s for a datalist)."""
    project = project_for(request.user, slug)
    key = request.GET.get("key", "")
    prefix = request.GET.get("prefix", "")
    if key:
        suggestions = [
            {"text": to_text(LabelTerm(key, row["value"])), **row}
            for row in label_values(project.pk, key, prefix)
        ]
    else:
        suggestions = [{"text": row["key"], **row} for row in label_keys(project.pk, prefix)]
    return render(
        request,
        "executions/partials/_suggestions.html",
        {"suggestions": suggestions, "key": key, "format": request.GET.get("format", "")},
    )
