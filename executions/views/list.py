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
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

from django.conf import settings
from django.http import Http404, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import RFC3986_SUBDELIMS
from django.utils.safestring import mark_safe
from django.utils.timezone import template_localtime
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

    def q_urls(self, **changes: str | list[str] | None) -> Callable[[str], str]:
        """``url(q)``: the same URL as ``self.url(q=q, **changes)``, for the many values of
        ``q`` of a page (its groups) with the rest of the state encoded once."""
        params = self._changed(changes)
        params["q"] = ""  # q keeps its place among the parameters (or comes last)
        pairs = list(params.lists())
        at = [name for name, _ in pairs].index("q")
        head, tail = _encoded(pairs[:at]), _encoded(pairs[at + 1 :])

        def url(q: str) -> str:
            encoded = "&".join(part for part in (head, q and f"q={quote_plus(q)}", tail) if part)
            return f"{self.path}?{encoded}" if encoded else self.path

        return url

    def with_terms(self, terms: list[Node], **changes) -> str:
        return self.url(q=to_text(conjunction(terms)), **changes)

    def adding_to(self, terms: list[Node]) -> Callable[[Node], str]:
        """``url(term)``: the list filtered by ``terms and term``. Made once per page, it
        encodes the rest of the state once, not once per label chip."""
        rest = self.state.copy()
        rest.pop("q", None)
        tail = "&" + rest.urlencode() if rest else ""
        prefix = "".join(f"{and_operand_text(term)} and " for term in terms)
        head = f"{self.path}?q={quote_plus(prefix)}"

        def url(term: Node) -> str:
            return head + _quote_plus(and_operand_text(term)) + tail

        return url


_URL_PLAIN = re.compile(r"[A-Za-z0-9_.~:-]*")


def _quote_plus(text: str) -> str:
    """``quote_plus(text)``, faster for the usual ``key:value`` of plain characters (where
    only the ``:`` needs encoding): quote_plus looks up each character of such a text."""
    return text.replace(":", "%3A") if _URL_PLAIN.fullmatch(text) else quote_plus(text)


def _encoded(pairs: list[tuple[str, list[str]]]) -> str:
    params = QueryDict(mutable=True)
    for name, values in pairs:
        params.setlist(name, values)
    return params.urlencode()


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


# The page's repeated parts (its rows, groups and their table heads) are built here rather
# than in the template: 50 rows hold about 1,000 label chips, and the grouped page shows 100
# groups each with a table head; the template engine's few microseconds per variable and tag,
# times thousands, cost more than the page's SQL. Each function writes the markup the template
# had, escaped; tests/test_list_rendering.py renders that markup through the template engine
# and compares.


def _escape(text: str) -> str:
    """HTML-escape as Django's ``escape`` does, without its lazy-string wrapper."""
    return html.escape(text, quote=True)


def _plural(n: int) -> str:
    """The ``pluralize`` filter."""
    return "" if n == 1 else "s"


def _chip_html(key: str, value: str, url: str | None) -> str:
    """A row's label chip (and the space after it), escaped."""
    key, value = _escape(key), _escape(value)
    text = f'{key}<span class="chip-value">:{value}</span>' if value else key
    if url is None:
        return f'<span class="chip active" title="Already filtered">{text}</span> '
    url = _escape(url)
    title = f"{key}:{value}" if value else key
    return f'<a class="chip" href="{url}" hx-get="{url}" title="Filter by {title}">{text}</a> '


def _page_chips(links: Links, terms: list[Node]) -> Callable[[str, str], str]:
    """``chip(key, value)``: a label chip linking to the list filtered by it too (active, not
    a link, when already in the filter), made once per page for each label: rows repeat
    chips (team:nlp on many rows)."""
    active = set(terms)
    adding = links.adding_to(terms)
    made: dict[tuple[str, str], str] = {}

    def chip(key: str, value: str) -> str:
        markup = made.get((key, value))
        if markup is None:
            term = LabelTerm(key, value)
            markup = _chip_html(key, value, None if term in active else adding(term))
            made[key, value] = markup
        return markup

    return chip


def _detail_urls(slug: str) -> Callable[[str], str]:
    """``url(execution_id)``: what ``reverse("executions:detail", ...)`` returns (reverse()
    quotes the path the same way), with reverse() called once per page instead of per row."""
    head, _, tail = reverse("executions:detail", args=[slug, "ID"]).rpartition("ID")
    safe = RFC3986_SUBDELIMS + "/~:@"
    return lambda execution_id: head + quote(execution_id, safe=safe) + tail


def _started_html(started_at) -> str:
    if started_at is None:
        return '<span class="muted">—</span>'
    local = template_localtime(started_at)
    iso = local.isoformat()
    shown = (
        f"{local.year:04d}-{local.month:02d}-{local.day:02d} {local.hour:02d}:{local.minute:02d}"
    )
    return f'<time datetime="{iso}" title="{iso}">{shown}</time>'


def _phase_html(phase: str) -> str:
    return f'<span class="phase phase-{_escape(phase.lower())}">{_escape(phase)}</span>'


def _children_html(children: list, detail_url: Callable[[str], str]) -> str:
    items = []
    for child in children:
        duration = _duration(child.duration)
        items.append(
            f'<li><a href="{_escape(detail_url(child.id))}">{_escape(child.display_name)}</a> '
            f"{_phase_html(child.phase)}"
            + (f' <span class="muted">{duration}</span>' if duration else "")
            + "</li>"
        )
    n = len(children)
    return (
        f'<details class="children">\n<summary>{n} sub-execution{_plural(n)}</summary>\n'
        f"<ul>\n{''.join(items)}\n</ul>\n</details>"
    )


def _row_html(row, chip: Callable[[str, str], str], detail_url: Callable[[str], str]) -> str:
    """A row of the table: the execution, its sub-executions and its label chips (the
    ``name`` label is the row's title, not a chip). Everything comes from the row and its
    ``labels`` JSON: no query per row."""
    execution_id = _escape(row.id)
    name = [f'<a href="{_escape(detail_url(row.id))}">{_escape(row.display_name)}</a>']
    if row.display_name != row.id:
        name.append(f'<div class="muted mono">{execution_id}</div>')
    if row.child_list:
        name.append(_children_html(row.child_list, detail_url))
    workflow = _escape(row.workflow)
    if row.workflow_version:
        workflow += f' <span class="muted">{_escape(row.workflow_version)}</span>'
    badge = _escape(row.release_badge or "")
    if badge:
        badge = f'<span class="release-badge" title="Released as {badge}">{badge}</span>'
    chips = "".join(chip(key, value) for key, value in row.labels.items() if key != "name")
    return "\n".join(
        [
            f'<tr class="execution" data-id="{execution_id}">',
            '<td class="name">',
            *name,
            "</td>",
            f"<td>{workflow}</td>",
            f"<td>{_phase_html(row.phase)}</td>",
            f"<td>{_started_html(row.started_at)}</td>",
            f'<td class="num">{_duration(row.duration) or "—"}</td>',
            f"<td>{_escape(row.launched_by)}</td>",
            f"<td>{badge}</td>",
            f'<td class="labels">{chips}</td>',
            "</tr>",
        ]
    )


def _rows_html(rows, links: Links, terms: list[Node], slug: str) -> str:
    chip = _page_chips(links, terms)
    detail_url = _detail_urls(slug)
    # Safe: every value in it went through _escape.
    return mark_safe("\n".join(_row_html(row, chip, detail_url) for row in rows))


def _thead_html(headers: list[dict]) -> str:
    """The table's head: sortable columns, then the others."""
    cells = []
    for header in headers:
        url = _escape(header["url"])
        arrow = header["arrow"]
        arrow = f' <span aria-hidden="true">{arrow}</span>' if arrow else ""
        cells.append(
            f'<th><a class="sort" href="{url}" hx-get="{url}" hx-target="#listing" '
            f'hx-push-url="true">{_escape(header["title"])}{arrow}</a></th>'
        )
    # Safe: every value in it went through _escape.
    return mark_safe(
        f"\n<thead><tr>\n{''.join(cells)}\n"
        "<th>Launched by</th><th>Release</th><th>Labels</th>\n</tr></thead>\n"
    )


def _group_head_html(group: Group) -> str:
    """A group's summary: its value, count, phases and the link to its own list."""
    name = "<em>ungrouped</em>" if group.value is None else _escape(group.value)
    phases = "".join(
        f'<span class="phase phase-{_escape(phase.lower())}">{n} {_escape(phase.lower())}</span> '
        for phase, n in group.phase_summary
    )
    url = _escape(group.list_url)
    return (
        f'<span class="group-name">{name}</span>\n'
        f'<span class="group-count" title="{group.count} execution{_plural(group.count)}">'
        f"{group.count}</span>\n"
        f'<span class="phase-summary">{phases}</span>\n'
        f'<a class="group-open" href="{url}" hx-get="{url}" hx-target="#listing" '
        'hx-push-url="true">open list</a>\n'
    )


def _group_html(group: Group, target: str, thead: str, css: str = "group") -> str:
    """A group: its head and either its subgroups, or an empty table whose rows htmx loads
    (from ``rows_url`` into ``#<target>``) when the group is opened."""
    value = _escape(group.value or "")
    if group.subgroups:
        opening = f'<details class="{css}" data-group="{value}">'
        body = "\n".join(
            _group_html(sub, f"{target}-{index}", thead, css="group sub")
            for index, sub in enumerate(group.subgroups, start=1)
        )
        body = f'<div class="subgroups">\n{body}\n</div>'
    else:
        opening = (
            f'<details class="{css}" hx-get="{_escape(group.rows_url)}" hx-trigger="toggle once" '
            f'hx-target="#{target}" hx-swap="innerHTML" hx-push-url="false" data-group="{value}">'
        )
        body = (
            f'<table class="table executions">{thead}<tbody id="{target}"><tr><td colspan="8" '
            f'class="empty"><a href="{_escape(group.list_url)}">Show these executions</a>'
            "</td></tr></tbody></table>"
        )
    return f"{opening}\n<summary>{_group_head_html(group)}</summary>\n{body}\n</details>"


def _groups_html(groups: list[Group], thead: str) -> str:
    # Safe: every value in it went through _escape.
    return mark_safe(
        "\n".join(
            _group_html(group, f"g{index}", thead) for index, group in enumerate(groups, start=1)
        )
    )


def _decorate_groups(groups: list[Group], links: Links, terms: list[Node], keys) -> None:
    """Each group's URL of its rows (htmx) and of its own filtered list."""
    rows_url, list_url = links.q_urls(), links.q_urls(group_by=None)

    def decorate(groups: list[Group]) -> None:
        for group in groups:
            group_terms = [
                LabelTerm(key, value) if value is not None else Not(LabelTerm(key))
                for key, value in zip(keys, group.values, strict=False)
            ]
            q = to_text(conjunction([*terms, *group_terms]))
            # The rows URL (it has group_by, so a "?") says how many of its terms select the
            # group, so that the rows' chips add to the page's filter, not the group's.
            group.rows_url = f"{rows_url(q)}&{GROUP_TERMS}={len(group_terms)}"
            group.list_url = list_url(q)
            decorate(group.subgroups)

    decorate(groups)


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


def _group_terms(request, terms: list[Node]) -> int:
    """How many of the expression's last terms select the group whose rows are asked for
    (``GROUP_TERMS``, set by the group's rows URL); 0 for anything else."""
    raw = request.GET.get(GROUP_TERMS, "")
    return int(raw) if raw in ("1", "2") and int(raw) <= len(terms) else 0


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
        "thead_html": _thead_html(_sort_headers(links, query)),
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


def _results(request, project, state: ListState, fragment: str, thead_html: str) -> dict:
    """The groups (grouped view; each group's table has the page's ``thead_html``) or one
    keyset page of rows (also a group's rows)."""
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
            "groups_html": _groups_html(shown, thead_html),
            "hidden_groups": len(groups) - len(shown),
            "total": total,
            "total_is_estimate": False,
        }
    rows, next_cursor = query.page(list_rows(top))
    with_children(rows)
    total, is_estimate = query.total(top, rows, next_cursor)
    group_terms = _group_terms(request, state.terms) if fragment == "#rows" else 0
    page_terms = state.terms[: len(state.terms) - group_terms]
    return {
        "executions": rows,
        "rows_html": _rows_html(rows, links, page_terms, project.slug),
        "total": total,
        "total_is_estimate": is_estimate,
        "next_url": (
            links.url(cursor=next_cursor.encode(), **{GROUP_TERMS: str(group_terms or "")})
            if next_cursor
            else None
        ),
        "more_id": _more_id(request),
    }


@require_GET
def execution_list(request, slug: str):
    project = project_for(request.user, slug)
    state = ListState.from_request(request)
    if state.rewritten and not request.htmx:
        return redirect(state.links.url())
    fragment = _fragment(request)
    bar = _filter_bar(request, project, state)
    context = bar | _results(request, project, state, fragment, bar["thead_html"])
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
