"""The list page's rows, groups and table heads are built in Python (executions/views/list.py)
rather than by the template engine, for speed. These tests render the markup the template
had (kept below as the reference) through Django's template engine, with its autoescaping,
and check that the Python output is the same HTML for hostile and unusual values."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.http import QueryDict
from django.template import engines
from django.utils import timezone

from executions.models import Execution, Phase
from executions.query import Group, LabelTerm, ListQuery, Not, Or, conjunction, to_text
from executions.views.list import (
    GROUP_TERMS,
    Links,
    _decorate_groups,
    _duration,
    _groups_html,
    _rows_html,
    _sort_headers,
    _thead_html,
)
from tests.xss import PAYLOADS

SLUG = "nlp"
PATH = f"/p/{SLUG}/"

THEAD = """
<thead><tr>
  {% for header in headers %}<th><a class="sort" href="{{ header.url }}" hx-get="{{ header.url }}" hx-target="#listing" hx-push-url="true">{{ header.title }}{% if header.arrow %} <span aria-hidden="true">{{ header.arrow }}</span>{% endif %}</a></th>{% endfor %}
  <th>Launched by</th><th>Release</th><th>Labels</th>
</tr></thead>
"""  # noqa: E501

ROWS = """{% for execution in executions %}
<tr class="execution" data-id="{{ execution.id }}">
  <td class="name">
    <a href="{% url 'executions:detail' slug execution.id %}">{{ execution.display_name }}</a>
    {% if execution.display_name != execution.id %}<div class="muted mono">{{ execution.id }}</div>{% endif %}
    {% if execution.child_list %}
    <details class="children">
      <summary>{{ execution.child_list|length }} sub-execution{{ execution.child_list|length|pluralize }}</summary>
      <ul>
        {% for child in execution.child_list %}<li><a href="{% url 'executions:detail' slug child.id %}">{{ child.display_name }}</a> <span class="phase phase-{{ child.phase|lower }}">{{ child.phase }}</span>{% if child.duration_text %} <span class="muted">{{ child.duration_text }}</span>{% endif %}</li>{% endfor %}
      </ul>
    </details>
    {% endif %}
  </td>
  <td>{{ execution.workflow }}{% if execution.workflow_version %} <span class="muted">{{ execution.workflow_version }}</span>{% endif %}</td>
  <td><span class="phase phase-{{ execution.phase|lower }}">{{ execution.phase }}</span></td>
  <td>{% if execution.started_at %}<time datetime="{{ execution.started_at|date:'c' }}" title="{{ execution.started_at|date:'c' }}">{{ execution.started_at|date:"Y-m-d H:i" }}</time>{% else %}<span class="muted">—</span>{% endif %}</td>
  <td class="num">{{ execution.duration_text|default:"—" }}</td>
  <td>{{ execution.launched_by }}</td>
  <td>{% if execution.release_badge %}<span class="release-badge" title="Released as {{ execution.release_badge }}">{{ execution.release_badge }}</span>{% endif %}</td>
  <td class="labels">{% for key, value, url in execution.chips %}{% if url %}<a class="chip" href="{{ url }}" hx-get="{{ url }}" title="Filter by {{ key }}{% if value %}:{{ value }}{% endif %}">{{ key }}{% if value %}<span class="chip-value">:{{ value }}</span>{% endif %}</a>{% else %}<span class="chip active" title="Already filtered">{{ key }}{% if value %}<span class="chip-value">:{{ value }}</span>{% endif %}</span>{% endif %} {% endfor %}</td>
</tr>
{% endfor %}"""  # noqa: E501

GROUP_HEAD = """<span class="group-name">{% if group.value is None %}<em>ungrouped</em>{% else %}{{ group.value }}{% endif %}</span>
<span class="group-count" title="{{ group.count }} execution{{ group.count|pluralize }}">{{ group.count }}</span>
<span class="phase-summary">{% for phase, n in group.phase_summary %}<span class="phase phase-{{ phase|lower }}">{{ n }} {{ phase|lower }}</span> {% endfor %}</span>
<a class="group-open" href="{{ group.list_url }}" hx-get="{{ group.list_url }}" hx-target="#listing" hx-push-url="true">open list</a>
"""  # noqa: E501

GROUPS = """{% for group in groups %}
    {% with outer=forloop.counter %}
    <details class="group"{% if not group.subgroups %} hx-get="{{ group.rows_url }}" hx-trigger="toggle once" hx-target="#g{{ outer }}" hx-swap="innerHTML" hx-push-url="false"{% endif %} data-group="{{ group.value|default_if_none:'' }}">
      <summary>{% with group=group %}GROUP_HEAD{% endwith %}</summary>
      {% if group.subgroups %}
      <div class="subgroups">
        {% for sub in group.subgroups %}
        <details class="group sub" hx-get="{{ sub.rows_url }}" hx-trigger="toggle once" hx-target="#g{{ outer }}-{{ forloop.counter }}" hx-swap="innerHTML" hx-push-url="false" data-group="{{ sub.value|default_if_none:'' }}">
          <summary>{% with group=sub %}GROUP_HEAD{% endwith %}</summary>
          <table class="table executions">THEAD<tbody id="g{{ outer }}-{{ forloop.counter }}"><tr><td colspan="8" class="empty"><a href="{{ sub.list_url }}">Show these executions</a></td></tr></tbody></table>
        </details>
        {% endfor %}
      </div>
      {% else %}
      <table class="table executions">THEAD<tbody id="g{{ outer }}"><tr><td colspan="8" class="empty"><a href="{{ group.list_url }}">Show these executions</a></td></tr></tbody></table>
      {% endif %}
    </details>
    {% endwith %}
    {% endfor %}""".replace("GROUP_HEAD", GROUP_HEAD).replace("THEAD", THEAD)  # noqa: E501


def render(template: str, **context) -> str:
    return engines["django"].from_string(template).render(context)


def normalised(html: str) -> str:
    """Whitespace that holds a line break renders as one (between inline elements) or as
    nothing (between rows and blocks): the template's indentation is not kept."""
    return re.sub(r"\s*\n\s*", "\n", html).strip()


HOSTILE = [
    *PAYLOADS[:4],
    PAYLOADS[20],
    PAYLOADS[21],
    "a&b=c d",
    "näme ünïcode ✓",
    'quote"s and \\ back',
    "50% off:+plus",
    "and",
]


def links_for(query_string: str) -> Links:
    return Links(PATH, QueryDict(query_string))


def execution(id: str, labels: dict, **fields) -> Execution:
    row = Execution(id=id, labels=labels, **{"workflow": "wf", "launched_by": "anne"} | fields)
    row.child_list = []
    row.release_badge = None
    return row


def make_rows() -> list[Execution]:
    started = datetime(2026, 3, 1, 23, 45, 12, 345678, tzinfo=UTC)
    hostile_labels = {f"k{i}": value for i, value in enumerate(HOSTILE)}
    parent = execution(
        "p1",
        {"name": PAYLOADS[0], "team": "nlp", "model": "bert", **hostile_labels},
        workflow=PAYLOADS[1],
        workflow_version=PAYLOADS[20],
        phase=Phase.SUCCEEDED,
        started_at=started,
        duration=3725.0,
        launched_by=PAYLOADS[21],
    )
    parent.release_badge = f"nn@{PAYLOADS[3]}"
    parent.child_list = [
        execution("c1", {"name": PAYLOADS[2]}, phase=Phase.FAILED, duration=4.25),
        execution("c2", {}, phase=Phase.RUNNING),
    ]
    rows = [
        parent,
        execution("p2", {"team": "cv", "empty": "", "model": "bert"}, phase=Phase.QUEUED),
        execution(
            "p3",
            {"name": "p3", "team": "nlp"},
            phase=Phase.ABORTED,
            started_at=datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC),
            duration=9 * 86400.0,
        ),
        execution("odd id é&x", {"name": "odd"}, started_at=started + timedelta(days=400)),
    ]
    rows[3].child_list = [execution("c 3", {"name": "child"})]
    return rows


def reference_rows(rows: list[Execution], links: Links, terms: list) -> str:
    """The rows as the template rendered them, each chip's link built the general way."""
    for row in [*rows, *(child for parent in rows for child in parent.child_list)]:
        row.duration_text = _duration(row.duration)
        row.chips = [
            (
                key,
                value,
                None
                if LabelTerm(key, value) in terms
                else links.url(q=to_text(conjunction([*terms, LabelTerm(key, value)]))),
            )
            for key, value in row.labels.items()
            if key != "name"
        ]
    return render(ROWS, executions=rows, slug=SLUG)


@pytest.mark.parametrize(
    ("query_string", "terms"),
    [
        ("", []),
        ("q=team:nlp&domain=production&limit=25", [LabelTerm("team", "nlp")]),
        (
            "q=(model:bert or model:gpt) and k0:x&sort_by.key=name",
            [Or((LabelTerm("model", "bert"), LabelTerm("model", "gpt"))), LabelTerm("k0", "x")],
        ),
    ],
    ids=["no-filter", "filtered", "or-filter"],
)
@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata"])
def test_rows_are_the_html_the_template_rendered(query_string, terms, zone):
    links = links_for(query_string)
    with timezone.override(zone):
        expected = reference_rows(make_rows(), links, terms)
        built = _rows_html(make_rows(), links, terms, SLUG)
    assert normalised(built) == normalised(expected)


def test_rows_escape_every_value():
    built = _rows_html(make_rows(), links_for(""), [], SLUG)
    for payload in [*PAYLOADS[:4], PAYLOADS[20], PAYLOADS[21]]:
        assert payload not in built
    assert "&lt;script&gt;alert(&quot;xss-script&quot;)&lt;/script&gt;" in built
    assert 'title="Filter by k6:a&amp;b=c d"' in built


def make_groups(keys: int) -> list[Group]:
    phases = {Phase.SUCCEEDED: 5, Phase.FAILED: 2, Phase.RUNNING: 1}
    if keys == 1:
        return [
            Group((PAYLOADS[0],), 8, dict(phases)),
            Group(("e&2",), 1, {Phase.FAILED: 1}),
            Group(("",), 2, {}),
            Group((None,), 3, {Phase.QUEUED: 3}),
        ]
    return [
        Group(
            (PAYLOADS[1],),
            9,
            dict(phases),
            [
                Group((PAYLOADS[1], PAYLOADS[21]), 8, dict(phases)),
                Group((PAYLOADS[1], None), 1, {Phase.FAILED: 1}),
            ],
        ),
        Group((None,), 1, {Phase.RUNNING: 1}, [Group((None, None), 1, {Phase.RUNNING: 1})]),
    ]


def reference_groups(groups: list[Group], links: Links, terms: list, keys) -> str:
    """The groups as the template rendered them, their links built the general way."""
    for group in [*groups, *(sub for parent in groups for sub in parent.subgroups)]:
        group_terms = [
            LabelTerm(key, value) if value is not None else Not(LabelTerm(key))
            for key, value in zip(keys, group.values, strict=False)
        ]
        rows_url = links.with_terms([*terms, *group_terms])
        group.rows_url = f"{rows_url}&{GROUP_TERMS}={len(group_terms)}"
        group.list_url = links.with_terms([*terms, *group_terms], group_by=None)
    return render(GROUPS, groups=groups, headers=_sort_headers(links, None))


@pytest.mark.parametrize("keys", [("experiment",), ("experiment", "group")])
@pytest.mark.parametrize(
    ("query_string", "terms"),
    [
        ("", []),
        ('domain=x&q=team:"a b"', [LabelTerm("team", "a b")]),
        ("q=team:nlp&limit=25", [LabelTerm("team", "nlp")]),
    ],
    ids=["no-filter", "q-after-domain", "q-first"],
)
def test_groups_are_the_html_the_template_rendered(keys, query_string, terms):
    params = QueryDict(query_string, mutable=True)
    params["group_by"] = ",".join(keys)
    links = Links(PATH, params)
    expected = reference_groups(make_groups(len(keys)), links, terms, keys)

    groups = make_groups(len(keys))
    _decorate_groups(groups, links, terms, keys)
    built = _groups_html(groups, _thead_html(_sort_headers(links, None)))
    assert normalised(built) == normalised(expected)
    for payload in (PAYLOADS[0], PAYLOADS[1], PAYLOADS[21]):
        assert payload not in built


@pytest.mark.parametrize(
    "query_string",
    ["", "sort_by.key=duration", "sort_by.key=name&sort_by.direction=ASCENDING&q=a:<b>"],
)
def test_the_table_head_is_the_html_the_template_rendered(query_string):
    links = links_for(query_string)
    headers = _sort_headers(links, ListQuery.from_params(links.state))
    expected = render(THEAD, headers=headers)
    assert normalised(_thead_html(headers)) == normalised(expected)
