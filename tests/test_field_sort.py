"""Sorting by a JSON value (SPEC §10): ``sort_by.key`` = ``meta.<key>``, ``input.<key>`` or
``label.<key>`` through the API and the list page. Numbers sort numerically and before text,
text by its characters, missing values and JSON null last in both directions, ties by id,
and keyset cursors page through every row exactly once."""

from __future__ import annotations

import itertools
import json
import re
from html import unescape

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils.http import urlencode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from executions import planner
from executions.models import Execution
from executions.query import Cursor, ListQuery, QueryError
from tests.factories import ProjectFactory, make_execution

API = "/api/v1/executions/"
MISSING = object()  # the execution has no such key
DIRECTIONS = ("ASCENDING", "DESCENDING")


# --- helpers ---------------------------------------------------------------------------------


def kind(value) -> int:
    """0 a number, 1 any other value, 2 missing or null: the order of SPEC §10."""
    if value is MISSING or value is None:
        return 2
    if isinstance(value, int | float) and not isinstance(value, bool):
        return 0
    return 1


def text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def expected_order(rows: dict[str, object], direction: str) -> list[str]:
    """The ids of ``{id: value}`` as SPEC §10 orders them: the kind always ascending
    (numbers, text, missing), the value and then the id in the asked direction."""
    descending = direction == "DESCENDING"
    ordered: list[str] = []
    for wanted in (0, 1, 2):
        ids = [i for i, value in rows.items() if kind(value) == wanted]
        if wanted == 0:
            key = lambda i: (float(rows[i]), i)  # noqa: E731
        elif wanted == 1:
            key = lambda i: (text(rows[i]), i)  # noqa: E731
        else:
            key = lambda i: i  # noqa: E731
        ordered += sorted(ids, key=key, reverse=descending)
    return ordered


def api_pages(api, key: str, direction: str, limit: int, **extra) -> list[list[str]]:
    """The ids of every page of the API list, following ``next`` to the end."""
    params = {
        "project": "nlp",
        "sort_by.key": key,
        "sort_by.direction": direction,
        "limit": limit,
        **extra,
    }
    params = {name: value for name, value in params.items() if value != ""}
    pages = []
    for _ in range(100):
        response = api.get(API, params)
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append([row["id"] for row in body["results"]])
        if not body["next"]:
            return pages
        params["cursor"] = body["next"]
    raise AssertionError("the cursors never reached the end")


def api_ids(api, key: str, direction: str, limit: int, **extra) -> list[str]:
    pages = api_pages(api, key, direction, limit, **extra)
    assert all(len(page) == limit for page in pages[:-1])
    assert 0 < len(pages[-1]) <= limit or pages == [[]]
    return [execution_id for page in pages for execution_id in page]


def list_url(project, **params) -> str:
    url = reverse("executions:list", args=[project.slug])
    return url + "?" + urlencode({k.replace("__", "."): v for k, v in params.items()})


def row_ids(html: str) -> list[str]:
    return re.findall(r'<tr class="execution" data-id="([^"]+)"', html)


def load_more(html: str) -> str | None:
    found = re.search(r'<tr id="more-main"[^>]*>\s*<td[^>]*>\s*<a href="([^"]+)"', html)
    return unescape(found.group(1)) if found else None


def page_ids(client, url: str) -> list[str]:
    """The rows of the list page at ``url`` and of every "Load more" after it."""
    ids: list[str] = []
    for _ in range(100):
        response = client.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        ids += row_ids(html)
        url = load_more(html)
        if url is None:
            return ids
    raise AssertionError("the load-more links never reached the end")


def error_of(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["error"]


@pytest.fixture
def client_for(editor):
    client = Client()
    client.force_login(editor)
    return client


# Numbers (ints and floats mixed, negative, 2 < 10, a tie of 2 and 2.0), text (a number in
# quotes sorts as text, a boolean as its word), JSON null and missing values.
META_VALUES = [10, 2, 2.5, -3, -0.5, 2.0, 0, 1e3, 0.125, "beta", "alpha", "10", "alpha", True]
META_VALUES += [None, MISSING, MISSING, None]


@pytest.fixture
def losses(project) -> dict[str, object]:
    """Executions with ``user_metadata.loss`` of each of ``META_VALUES``, plus one in another
    project that must never appear."""
    rows = {}
    for value in META_VALUES:
        metadata = {"other": 1} if value is MISSING else {"loss": value, "other": 1}
        rows[make_execution(project, user_metadata=metadata).pk] = value
    make_execution(ProjectFactory(slug="elsewhere"), user_metadata={"loss": 1})
    return rows


# --- meta.<key> through the API --------------------------------------------------------------


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_meta_values_sort_numbers_first_then_text_then_missing_and_null(api, losses, direction):
    ids = api_ids(api, "meta.loss", direction, 1000)
    assert ids == expected_order(losses, direction)
    values = [losses[i] for i in ids]
    numbers = [v for v in values if kind(v) == 0]
    strings = [text(v) for v in values if kind(v) == 1]
    # Numerically (2 before 10), not as text; strings by text; missing and null last.
    if direction == "ASCENDING":
        assert numbers == sorted(numbers)
        assert numbers.index(2) < numbers.index(10)
        assert strings == ["10", "alpha", "alpha", "beta", "true"]
    else:
        assert numbers == sorted(numbers, reverse=True)
        assert strings == ["true", "beta", "alpha", "alpha", "10"]
    assert [kind(v) for v in values] == sorted(kind(v) for v in values)
    assert values[-4:].count(None) == 2 and values[-4:].count(MISSING) == 2


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_ties_are_broken_by_id_in_the_direction_of_the_sort(api, losses, direction):
    ids = api_ids(api, "meta.loss", direction, 1000)
    twos = [i for i in ids if losses[i] == 2 and kind(losses[i]) == 0]
    alphas = [i for i in ids if losses[i] == "alpha"]
    last = [i for i in ids if kind(losses[i]) == 2]
    for tied in (twos, alphas, last):
        assert len(tied) >= 2
        assert tied == sorted(tied, reverse=direction == "DESCENDING")


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("limit", [1, 2, 3])
def test_cursors_page_through_every_row_exactly_once(api, losses, direction, limit):
    ids = api_ids(api, "meta.loss", direction, limit)
    assert len(ids) == len(set(ids)) == len(losses)
    assert ids == expected_order(losses, direction)


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_the_api_sorts_across_the_readable_projects_without_a_project(api, losses, direction):
    """Without ``project`` the list is every project one may read (not ``elsewhere``)."""
    ids = api_ids(api, "meta.loss", direction, 2, project="")
    assert ids == expected_order(losses, direction)


def test_the_count_of_a_meta_sorted_list_is_every_match(api, losses):
    body = api.get(
        API, {"project": "nlp", "sort_by.key": "meta.loss", "limit": 2, "q": "user:anne"}
    ).json()
    assert body["count"] == len(losses)
    assert body["count_is_estimate"] is False


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_a_filtered_list_sorts_by_meta_and_pages_the_matches_only(api, project, direction):
    rows = {}
    for i, value in enumerate([3, 1, "x", None, 2, MISSING, 1]):
        metadata = {} if value is MISSING else {"loss": value}
        team = "a" if i % 2 == 0 else "b"
        rows[make_execution(project, labels={"team": team}, user_metadata=metadata).pk] = (
            value,
            team,
        )
    matching = {i: value for i, (value, team) in rows.items() if team == "a"}
    for limit in (1, 2):
        ids = api_ids(api, "meta.loss", direction, limit, q="team:a")
        assert ids == expected_order(matching, direction)


# --- input.<key> and label.<key> -------------------------------------------------------------


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("limit", [1, 2])
def test_input_values_sort_like_metadata(api, project, direction, limit):
    rows = {}
    for value in [0.1, 0.01, 1, "adam", "sgd", None, MISSING, 0.1, -1, 100]:
        inputs = {} if value is MISSING else {"lr": value}
        rows[make_execution(project, inputs=inputs).pk] = value
    assert api_ids(api, "input.lr", direction, limit) == expected_order(rows, direction)


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("limit", [1, 2])
def test_label_values_are_text_and_sort_by_text_with_missing_last(api, project, direction, limit):
    rows = {}
    for value in ["10", "9", "b", "a", MISSING, "10", "", MISSING]:
        labels = {} if value is MISSING else {"rank": value}
        rows[make_execution(project, labels=labels).pk] = value
    ids = api_ids(api, "label.rank", direction, limit)
    assert ids == expected_order(rows, direction)
    ranks = [rows[i] for i in ids if rows[i] is not MISSING]
    # "10" before "9": a label is text, never a number.
    expected = ["", "10", "10", "9", "a", "b"]
    assert ranks == (expected if direction == "ASCENDING" else expected[::-1])
    assert [rows[i] for i in ids][-2:] == [MISSING, MISSING]


def test_a_prefixed_label_key_sorts_too(api, project):
    rows = {make_execution(project, labels={"x.io/rank": v}).pk: v for v in "cafebd"}
    rows[make_execution(project).pk] = MISSING
    assert api_ids(api, "label.x.io/rank", "ASCENDING", 2) == expected_order(rows, "ASCENDING")


def test_a_key_with_a_dot_is_one_top_level_key(api, project):
    """``meta.a.b`` is the top-level key ``a.b``, not ``b`` inside ``a``."""
    rows = {make_execution(project, user_metadata={"a.b": n}).pk: n for n in (2, 0, 3, 1)}
    rows[make_execution(project, user_metadata={"a": {"b": -1}}).pk] = MISSING
    assert api_ids(api, "meta.a.b", "ASCENDING", 2) == expected_order(rows, "ASCENDING")


def sorts_by_its_own_values(api, project, key: str) -> None:
    """Six values of ``meta.<key>`` and a row without it sort by value: a key the SQL failed
    to reach would leave every row missing, in the order of their (random) ids."""
    rows = {make_execution(project, user_metadata={key: n}).pk: n for n in (3, 1, 6, 2, 5, 4)}
    rows[make_execution(project, user_metadata={"other": 0}).pk] = MISSING
    assert api_ids(api, f"meta.{key}", "DESCENDING", 2) == expected_order(rows, "DESCENDING")


@pytest.mark.parametrize("key", ["a'b", "a$b", "a[0]", "ä", "a*", "%s", "a.b.c"])
def test_keys_with_other_characters_sort_by_their_own_value(api, project, key):
    sorts_by_its_own_values(api, project, key)


@pytest.mark.parametrize("key", ['a"b', "a\\b"])
def test_a_key_with_a_quote_or_a_backslash_is_refused(api, project, key):
    """SQLite's JSON paths cannot name such a key, so no database is asked to: a 400."""
    error = error_of(api.get(API, {"project": "nlp", "sort_by.key": f"meta.{key}"}))
    assert error["field"] == "sort_by.key"


# --- the list page ---------------------------------------------------------------------------


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_the_page_lists_rows_in_the_meta_order(client_for, project, losses, direction):
    url = list_url(project, sort_by__key="meta.loss", sort_by__direction=direction)
    assert page_ids(client_for, url) == expected_order(losses, direction)


def test_the_page_sorts_by_meta_descending_by_default(client_for, project, losses):
    url = list_url(project, sort_by__key="meta.loss")
    assert page_ids(client_for, url) == expected_order(losses, "DESCENDING")


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("limit", [1, 2])
def test_the_pages_load_more_links_page_through_every_row_once(
    client_for, project, losses, direction, limit
):
    url = list_url(project, sort_by__key="meta.loss", sort_by__direction=direction, limit=limit)
    ids = page_ids(client_for, url)
    assert len(ids) == len(set(ids)) == len(losses)
    assert ids == expected_order(losses, direction)


@pytest.mark.parametrize("key", ["input.lr", "label.rank"])
def test_the_page_sorts_by_input_and_label_values(client_for, project, key):
    rows = {}
    for value in ["b", "a", MISSING, "c"]:
        extra = {}
        if value is not MISSING:
            extra = {"inputs": {"lr": value}} if key == "input.lr" else {"labels": {"rank": value}}
        rows[make_execution(project, **extra).pk] = value
    for direction in DIRECTIONS:
        url = list_url(project, sort_by__key=key, sort_by__direction=direction, limit=2)
        assert page_ids(client_for, url) == expected_order(rows, direction)


def test_the_export_is_in_the_meta_order(client_for, project, losses):
    url = reverse("executions:export", args=[project.slug, "json"])
    for direction in DIRECTIONS:
        response = client_for.get(url, {"sort_by.key": "meta.loss", "sort_by.direction": direction})
        rows = json.loads(b"".join(response.streaming_content))
        assert [row["id"] for row in rows] == expected_order(losses, direction)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the sort window is PostgreSQL's")
def test_beyond_the_sort_window_the_latest_matches_are_sorted_and_paged(
    api, client_for, project, losses, monkeypatch
):
    monkeypatch.setattr(planner, "SORT_WINDOW", 5)
    monkeypatch.setattr(planner, "planner_rows", lambda *querysets: 1_000_000)
    latest = Execution.objects.filter(project=project).order_by("-created_at", "-id")[:5]
    window = {execution.pk: losses[execution.pk] for execution in latest}
    for direction in DIRECTIONS:
        body = api.get(
            API, {"project": "nlp", "sort_by.key": "meta.loss", "sort_by.direction": direction}
        ).json()
        assert body["sort_is_approximate"] is True
        assert [row["id"] for row in body["results"]] == expected_order(window, direction)
        for limit in (1, 2):
            assert api_ids(api, "meta.loss", direction, limit) == expected_order(window, direction)
    html = client_for.get(list_url(project, sort_by__key="meta.loss")).content.decode()
    assert "latest 5 matching" in html
    assert row_ids(html) == expected_order(window, "DESCENDING")


# --- bad keys and cursors --------------------------------------------------------------------

BAD_KEYS = ["meta.", "meta.a b", "foo.x", "input.", "label.", "meta.a,b", "meta.a\tb", "meta"]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_a_bad_sort_key_is_a_400_naming_sort_by_key(api, project, key):
    error = error_of(api.get(API, {"project": "nlp", "sort_by.key": key}))
    assert error["field"] == "sort_by.key"
    assert error["message"]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_a_bad_sort_key_is_an_inline_error_on_the_page(client_for, project, key):
    make_execution(project, user_metadata={"loss": 1})
    response = client_for.get(list_url(project, sort_by__key=key))
    assert response.status_code == 200
    html = response.content.decode()
    found = re.search(r'<p class="error expression-error"[^>]*>([^<]+)</p>', html)
    assert found, html
    message = unescape(found.group(1))
    assert "key" in message.lower()
    assert row_ids(html) == []


def test_a_label_sort_key_must_be_a_valid_label_key(api, project):
    """``label.<key>`` names a label: a key no label can have is refused, not silently an
    empty sort."""
    for key in ("label.-bad", "label./b", "label.x_"):
        error = error_of(api.get(API, {"project": "nlp", "sort_by.key": key}))
        assert error["field"] == "sort_by.key", key


def first_cursor(api, key: str, direction: str = "ASCENDING") -> str:
    body = api.get(
        API, {"project": "nlp", "sort_by.key": key, "sort_by.direction": direction, "limit": 1}
    ).json()
    assert body["next"]
    return body["next"]


@pytest.mark.parametrize(
    ("cursor_from", "used_with"),
    [
        (("meta.loss", "ASCENDING"), ("meta.other", "ASCENDING")),
        (("meta.loss", "ASCENDING"), ("input.loss", "ASCENDING")),
        (("meta.loss", "ASCENDING"), ("label.loss", "ASCENDING")),
        (("meta.loss", "ASCENDING"), ("meta.loss", "DESCENDING")),
        (("meta.loss", "ASCENDING"), ("created_at", "ASCENDING")),
        (("created_at", "ASCENDING"), ("meta.loss", "ASCENDING")),
        (("duration", "DESCENDING"), ("meta.loss", "DESCENDING")),
    ],
)
def test_a_cursor_from_another_sort_is_refused(api, losses, cursor_from, used_with):
    cursor = first_cursor(api, *cursor_from)
    key, direction = used_with
    params = {"project": "nlp", "sort_by.key": key, "sort_by.direction": direction}
    error = error_of(api.get(API, {**params, "cursor": cursor}))
    assert error["field"] == "cursor"


def test_a_cursor_from_another_sort_is_an_inline_error_on_the_page(client_for, project, losses):
    url = list_url(project, sort_by__key="meta.loss", limit=1)
    cursor = re.search(r"cursor=([^&\"]+)", load_more(client_for.get(url).content.decode()))
    response = client_for.get(list_url(project, sort_by__key="meta.other", cursor=cursor[1]))
    assert response.status_code == 200
    assert "another sort order" in response.content.decode()


@pytest.mark.parametrize(
    "value",
    [[0, "x", None], [1, 2, None], [1, None, None], [2, 1, None], [3, None, None], "x", [0, 1]],
)
def test_a_forged_field_sort_cursor_is_refused(api, losses, value):
    token = Cursor("meta.loss", False, value, "abc").encode()
    params = {"project": "nlp", "sort_by.key": "meta.loss", "sort_by.direction": "ASCENDING"}
    assert error_of(api.get(API, {**params, "cursor": token}))["field"] == "cursor"


@pytest.mark.parametrize("value", [[0, True, None], [False, 1, None], [True, None, "x"]])
def test_a_forged_cursor_with_booleans_is_never_a_server_error(api, losses, value):
    token = Cursor("meta.loss", False, value, "abc").encode()
    params = {"project": "nlp", "sort_by.key": "meta.loss", "sort_by.direction": "ASCENDING"}
    response = api.get(API, {**params, "cursor": token})
    assert response.status_code in (200, 400)


# --- property: paging agrees with the single page --------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**62), 2**62)
    | st.floats(allow_nan=False, allow_infinity=False, width=64)
    | st.text(alphabet="ab09 é-", max_size=4),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.sampled_from("xy"), inner),
    max_leaves=3,
)
_runs = itertools.count()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    values=st.lists(json_values | st.just(MISSING), min_size=1, max_size=9),
    source=st.sampled_from(["meta", "input"]),
    limit=st.integers(1, 3),
    descending=st.booleans(),
)
def test_any_json_values_page_by_cursor_as_they_sort_in_one_page(
    db, values, source, limit, descending
):
    project = ProjectFactory(slug=f"prop-{next(_runs)}")
    field = "user_metadata" if source == "meta" else "inputs"
    rows = {}
    for value in values:
        document = {} if value is MISSING else {"v": value}
        rows[make_execution(project, **{field: document}).pk] = value
    executions = Execution.objects.in_project(project)
    params = {
        "sort_by.key": f"{source}.v",
        "sort_by.direction": "DESCENDING" if descending else "ASCENDING",
    }

    def fetch(extra) -> tuple[list[str], Cursor | None]:
        query = ListQuery.from_params({**params, **extra})
        plan = planner.plan(query, executions, project_id=project.pk)
        rows_, cursor = query.page(query.filter(executions, plan), plan)
        return [row.pk for row in rows_], cursor

    whole, none = fetch({"limit": "1000"})
    assert none is None
    paged, extra = [], {"limit": str(limit)}
    for _ in range(len(values) + 1):
        ids, cursor = fetch(extra)
        paged += ids
        if cursor is None:
            break
        extra = {"limit": str(limit), "cursor": cursor.encode()}
    assert paged == whole
    assert sorted(whole) == sorted(rows)
    # Numbers first and missing or null last, either way; numbers in numeric order.
    kinds = [kind(rows[i]) for i in whole]
    assert kinds == sorted(kinds)
    numbers = [float(rows[i]) for i in whole if kinds[whole.index(i)] == 0]
    assert numbers == sorted(numbers, reverse=descending)


def test_a_field_sort_key_is_read_by_list_query():
    assert ListQuery.from_params({"sort_by.key": "meta.loss"}).field_sort.name == "meta.loss"
    with pytest.raises(QueryError) as error:
        ListQuery.from_params({"sort_by.key": "meta."})
    assert error.value.field == "sort_by.key"
