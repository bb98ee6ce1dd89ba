"""The project executions list (SPEC §4), its htmx fragments, exports and label autocomplete.

All state lives in the URL (the same parameters as the API list). An htmx request gets a
fragment of the page's own template: ``#listing`` (filter bar and results) when the filter
bar changed, ``#rows`` (table rows and the next "load more") for load more and for the rows
of an expanded group.
"""

from __future__ import annotations

import csv
import html
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote_plus

from django.conf import settings
from django.http import Http404, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from executions.models import Phase
from executions.query import (
    DEFAULT_LIMIT,
    TIME_RANGES,
    Group,
    LabelTerm,
    ListQuery,
    Node,
    Not,
    Or,
    QueryError,
    and_operand_text,
    conjunction,
    conjuncts,
    label_keys,
    label_values,
    list_rows,
    page_groups,
    parse_expression,
    to_text,
    with_children,
)
from projects.access import can_edit, project_for

PAGE_SIZES = (25, 50, 100, 200)
MAX_GROUPS_SHOWN = 100
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
)
SORTABLE_COLUMNS = (
    ("name", "Name"),
    ("workflow", "Workflow"),
    ("phase", "Phase"),
    ("started_at", "Started"),
    ("duration", "Duration"),
)


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

    def url(self, *, path: str | None = None, **changes: str | list[str] | None) -> str:
        """The list's URL (or ``path``) with parameters changed; a falsy value removes one
        and ``__`` in a name stands for ``.`` (``sort_by__key`` → ``sort_by.key``)."""
        params = self.state.copy()
        for name, value in changes.items():
            name = name.replace("__", ".")
            if not value:
                params.pop(name, None)
            elif isinstance(value, list):
                params.setlist(name, value)
            else:
                params[name] = value
        encoded = params.urlencode()
        return f"{path or self.path}?{encoded}" if encoded else (path or self.path)

    def with_terms(self, terms: list[Node], **changes) -> str:
        return self.url(q=to_text(conjunction(terms)), **changes)

    def adding_to(self, terms: list[Node]) -> Callable[[Node], str]:
        """``url(term)``: the list filtered by ``terms and term``. Made once per page, it
        encodes the rest of the state once, not once per label chip."""
        rest = self.state.copy()
        rest.pop("q", None)
        tail = "&" + rest.urlencode() if rest else ""
        prefix = " and ".join(and_operand_text(term) for term in terms)

        made: dict[Node, str] = {}  # rows repeat chips (team:nlp on many rows)

        def url(term: Node) -> str:
            if term not in made:
                text = and_operand_text(term)
                q = f"{prefix} and {text}" if prefix else text
                made[term] = f"{self.path}?q={quote_plus(q)}{tail}"
            return made[term]

        return url


@dataclass
class Chip:
    """An active filter in the filter bar, with its remove / negate / OR links."""

    text: str
    remove_url: str
    negate_url: str
    negated: bool
    or_key: str | None
    index: int


def _chips(links: Links, terms: list[Node]) -> list[Chip]:
    chips = []
    for index, term in enumerate(terms):
        others = terms[:index] + terms[index + 1 :]
        flipped = term.item if isinstance(term, Not) else Not(term)
        chips.append(
            Chip(
                text=to_text(term),
                remove_url=links.with_terms(others),
                negate_url=links.with_terms([*terms[:index], flipped, *terms[index + 1 :]]),
                negated=isinstance(term, Not),
                or_key=_or_key(term),
                index=index,
            )
        )
    return chips


def _or_key(term: Node) -> str | None:
    """The label key a chip can be ORed on: ``k:v`` or ``(k:a or k:b)``."""
    if isinstance(term, LabelTerm) and term.value is not None:
        return term.key
    if isinstance(term, Or):
        keys = {item.key for item in term.items if isinstance(item, LabelTerm)}
        if len(keys) == 1 and all(isinstance(item, LabelTerm) for item in term.items):
            return keys.pop()
    return None


def _or_with(terms: list[Node], index: int, value: str) -> list[Node]:
    """Terms with chip ``index`` ORed with another value of its key."""
    if not 0 <= index < len(terms):
        raise QueryError("That filter chip no longer exists; start again from the list.")
    term = terms[index]
    key = _or_key(term)
    if key is None:
        raise QueryError("Only a key:value filter can be combined with another value.")
    items = term.items if isinstance(term, Or) else (term,)
    new = LabelTerm(key, value)
    if new not in items:
        items = (*items, new)
    return [*terms[:index], Or(items), *terms[index + 1 :]]


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def _escape(text: str) -> str:
    """HTML-escape as Django's ``escape`` does, without its lazy-string wrapper."""
    return html.escape(text, quote=True)


def _chip_html(key: str, value: str, url: str | None) -> str:
    """A row's label chip (and the space after it), escaped. Built here rather than in the
    template: a page holds 50 rows of about 21 chips, and rendering them variable by
    variable through the template engine took longer than the page's SQL."""
    key, value = _escape(key), _escape(value)
    text = f'{key}<span class="chip-value">:{value}</span>' if value else key
    if url is None:
        return f'<span class="chip active" title="Already filtered">{text}</span> '
    url = _escape(url)
    title = f"{key}:{value}" if value else key
    return f'<a class="chip" href="{url}" hx-get="{url}" title="Filter by {title}">{text}</a> '


def _decorate(rows, links: Links, terms: list[Node]) -> None:
    """Give each row its label chips (with the link that adds the chip to the filter; the
    ``name`` label is the row's title, not a chip) and its duration in words. Everything
    comes from the ``labels`` JSON: no query per row."""
    active = set(terms)
    adding = links.adding_to(terms)
    for row in rows:
        row.duration_text = _duration(row.duration)
        chips = []
        for key, value in row.labels.items():
            if key == "name":
                continue  # already the row's title
            term = LabelTerm(key, value)
            chips.append(_chip_html(key, value, None if term in active else adding(term)))
        row.chips_html = mark_safe("".join(chips))  # each part escaped by _chip_html
        for child in getattr(row, "child_list", ()):
            child.duration_text = _duration(child.duration)


def _decorate_groups(groups: list[Group], links: Links, terms: list[Node], keys) -> None:
    """Each group's term, the URL of its rows (htmx) and of its own filtered list."""
    for group in groups:
        group_terms = [
            LabelTerm(key, value) if value is not None else Not(LabelTerm(key))
            for key, value in zip(keys, group.values, strict=False)
        ]
        group.rows_url = links.with_terms([*terms, *group_terms])
        group.list_url = links.with_terms([*terms, *group_terms], group_by=None)
        _decorate_groups(group.subgroups, links, terms, keys)


def _sort_headers(links: Links, query: ListQuery | None) -> list[dict]:
    key = query.sort_key if query else "created_at"
    descending = query.descending if query else True
    headers = []
    for column, title in SORTABLE_COLUMNS:
        direction = "ASCENDING" if column == key and descending else "DESCENDING"
        headers.append(
            {
                "title": title,
                "url": links.url(sort_by__key=column, sort_by__direction=direction),
                "arrow": ("↓" if descending else "↑") if column == key else "",
            }
        )
    return headers


def _more_id(request) -> str:
    """The id of the "load more" row: one per table (the main one, or a group's tbody)."""
    target = request.htmx.target if request.htmx else None
    scope = target.removeprefix("more-") if target and target != "listing" else "main"
    return f"more-{scope}"


def _fragment(request) -> str:
    """Which part of the template an htmx request wants."""
    if not request.htmx or request.htmx.history_restore_request:
        return ""
    return "#listing" if request.htmx.target in (None, "listing") else "#rows"


@dataclass
class ListState:
    """The list as the URL asks for it: links, the expression's top-level terms and the
    validated query (None, with ``error``, when the URL is invalid). ``or_term`` /
    ``or_value`` (the chip menu's OR form) are folded into the expression; ``rewritten``
    says the URL changed because of it."""

    links: Links
    terms: list[Node]
    query: ListQuery | None
    error: QueryError | None = None
    rewritten: bool = False

    @classmethod
    def from_request(cls, request) -> ListState:
        links = Links(request.path, request.GET)
        terms: list[Node] = []
        rewritten = False
        try:
            terms = conjuncts(parse_expression(links.get("q")))
            if request.GET.get("or_value") and request.GET.get("or_term", "").isdigit():
                terms = _or_with(terms, int(request.GET["or_term"]), request.GET["or_value"])
                links = Links(request.path, QueryDict(links.with_terms(terms).partition("?")[2]))
                rewritten = True
            params = links.state.copy()
            params["cursor"] = request.GET.get("cursor", "")
            return cls(links, terms, ListQuery.from_params(params), rewritten=rewritten)
        except QueryError as exc:
            return cls(links, terms, None, error=exc)


def _filter_bar(request, project, state: ListState) -> dict:
    links, query = state.links, state.query
    return {
        "project": project,
        "can_edit": can_edit(request.user, project),
        "links": links,
        "query": query,
        "error": state.error,
        "chips": _chips(links, state.terms) if query else [],
        "filters_remove_url": links.url(filters=None),
        "headers": _sort_headers(links, query),
        "phases": Phase.values,
        "selected_phases": set(query.phases) if query else set(),
        "time_ranges": list(TIME_RANGES),
        "page_sizes": PAGE_SIZES,
        "limit": query.limit if query else DEFAULT_LIMIT,
        "domains": _domain_tabs(links),
        "namespaces": _namespace_links(request, links),
        "hidden_state": [
            (name, value)
            for name in ("domain", "filters", "sort_by.key", "sort_by.direction")
            for value in links.state.getlist(name)
        ],
        "csv_url": links.url(path=reverse("executions:export", args=[project.slug, "csv"])),
        "json_url": links.url(path=reverse("executions:export", args=[project.slug, "json"])),
    }


def _results(request, project, state: ListState, fragment: str) -> dict:
    """The groups (grouped view) or one keyset page of rows (also a group's rows)."""
    query, links = state.query, state.links
    if query is None:
        return {}
    top = query.filter(project.executions.all(), project.pk, top_level_only=True)
    if query.group_by and fragment != "#rows":
        groups, total = page_groups(query, top, project.pk, MAX_GROUPS_SHOWN)
        shown = groups[:MAX_GROUPS_SHOWN]
        _decorate_groups(shown, links, state.terms, query.group_by)
        return {
            "groups": shown,
            "hidden_groups": len(groups) - len(shown),
            "total": total,
            "total_is_estimate": False,
        }
    rows, next_cursor = query.page(list_rows(top))
    with_children(rows)
    _decorate(rows, links, state.terms)
    total, is_estimate = query.total(top, rows, next_cursor)
    return {
        "executions": rows,
        "total": total,
        "total_is_estimate": is_estimate,
        "next_url": links.url(cursor=next_cursor.encode()) if next_cursor else None,
        "more_id": _more_id(request),
    }


@require_GET
def execution_list(request, slug: str):
    project = project_for(request.user, slug)
    state = ListState.from_request(request)
    if state.rewritten and not request.htmx:
        return redirect(state.links.url())
    fragment = _fragment(request)
    context = _filter_bar(request, project, state) | _results(request, project, state, fragment)
    response = render(request, "executions/execution_list.html" + fragment, context)
    if fragment == "#listing":
        response["HX-Push-Url"] = state.links.url()
    # The same URL answers a page or a fragment: caches must keep them apart.
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


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
    rows = query.ordered(query.filter(project.executions.all(), project.pk))
    # iterator(): rows stream from the database in chunks instead of all loaded at once.
    executions = rows.iterator(chunk_size=2000)
    if fmt == "csv":
        body, content_type = _csv_lines(executions, project.slug), "text/csv; charset=utf-8"
    else:
        body, content_type = _json_chunks(executions, project.slug), "application/json"
    response = StreamingHttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{project.slug}-executions.{fmt}"'
    return response


EXPORT_COLUMNS = (
    "id",
    "name",
    "project",
    "domain",
    "workflow",
    "workflow_version",
    "phase",
    "created_at",
    "started_at",
    "ended_at",
    "duration",
    "launched_by",
    "mode",
    "parent",
    "labels",
)


def _export_row(execution, project_slug: str) -> list:
    return [
        execution.id,
        execution.display_name,
        project_slug,
        execution.domain,
        execution.workflow,
        execution.workflow_version,
        execution.phase,
        execution.created_at.isoformat(),
        execution.started_at.isoformat() if execution.started_at else None,
        execution.ended_at.isoformat() if execution.ended_at else None,
        execution.duration,
        execution.launched_by,
        execution.mode,
        execution.parent_id,
        execution.labels,
    ]


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
        yield writer.writerow([_csv_cell(value) for value in row])


def _json_chunks(executions, project_slug: str) -> Iterator[str]:
    yield "["
    for index, execution in enumerate(executions):
        row = dict(zip(EXPORT_COLUMNS, _export_row(execution, project_slug), strict=True))
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
