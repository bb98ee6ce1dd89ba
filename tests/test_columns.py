"""The list's columns (SPEC §10, issue 12): ``columns=`` parsed and validated, field columns'
values formatted and shown, the Columns menu's moves, saved views, suggestions, the project's
default labels hidden from the rows, and a statement count independent of the columns."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.http import QueryDict
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.http import urlencode

from executions.columns import (
    DEFAULT_COLUMNS,
    MAX_FIELD_COLUMNS,
    Column,
    columns_param,
    format_number,
    parse_columns,
)
from executions.models import SavedView
from executions.query import QueryError
from tests.factories import make_execution

# --- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def client_for(editor):
    client = Client()
    client.force_login(editor)
    return client


def list_url(project, **params) -> str:
    url = reverse("executions:list", args=[project.slug])
    if params:
        url += "?" + urlencode({k.replace("__", "."): v for k, v in params.items()}, doseq=True)
    return url


def page(client, project, **params) -> str:
    response = client.get(list_url(project, **params))
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def names(columns) -> list[str]:
    return [column.name for column in columns]


def q(text: str) -> QueryDict:
    return QueryDict(text)


def headers(html: str) -> list[str]:
    """The texts of the table head's cells, after the selection column's."""
    head = re.search(r"<thead>(.*?)</thead>", html, re.S).group(1)
    cells = re.findall(r"<th\b[^>]*>(.*?)</th>", head, re.S)
    texts = [
        unescape(re.sub(r"<[^>]+>", "", cell)).replace("↑", "").replace("↓", "") for cell in cells
    ]
    return [text.strip() for text in texts][1:]


def row_html(html: str, execution_id: str) -> str:
    found = re.search(
        rf'<tr class="execution" data-id="{re.escape(execution_id)}"[^>]*>(.*?)</tr>', html, re.S
    )
    assert found, f"no row {execution_id}"
    return found.group(1)


def cells(html: str, execution_id: str) -> list[tuple[str, str]]:
    """``(class, inner html)`` of each cell of a row, after the selection cell."""
    found = re.findall(r'<td class="([^"]*)"[^>]*>(.*?)</td>', row_html(html, execution_id), re.S)
    return [(classes, inner.strip()) for classes, inner in found][1:]


def error_message(html: str) -> str:
    found = re.search(r'<p class="error[^"]*"[^>]*>(.*?)</p>', html, re.S)
    assert found, "no error shown"
    return unescape(found.group(1))


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(unescape(url)).query)


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


# --- parse_columns ---------------------------------------------------------------------------


def test_without_columns_the_default_columns_are_shown():
    assert names(parse_columns(q(""))) == list(DEFAULT_COLUMNS)
    assert names(parse_columns(q("columns="))) == list(DEFAULT_COLUMNS)
    assert names(parse_columns({})) == list(DEFAULT_COLUMNS)
    assert DEFAULT_COLUMNS == (
        "name",
        "workflow",
        "phase",
        "started",
        "duration",
        "launched_by",
        "release",
        "labels",
    )


def test_the_comma_form_keeps_the_order_given():
    columns = parse_columns(q("columns=phase,name,meta.loss,input.lr,label.team"))
    assert names(columns) == ["phase", "name", "meta.loss", "input.lr", "label.team"]
    assert columns[2] == Column("meta.loss", "meta", "loss")
    assert columns[3] == Column("input.lr", "input", "lr")
    assert columns[4] == Column("label.team", "label", "team")
    assert [c.is_field for c in columns] == [False, False, True, True, True]


def test_spaces_around_comma_separated_items_are_ignored():
    assert names(parse_columns(q("columns=name%2C+phase"))) == ["name", "phase"]


def test_the_repeated_form_ignores_the_empty_add_a_column_box():
    columns = parse_columns(q("columns=name&columns=meta.loss&columns="))
    assert names(columns) == ["name", "meta.loss"]
    assert names(parse_columns(q("columns=name&columns=+"))) == ["name"]


def test_the_repeated_and_comma_forms_may_be_mixed():
    assert names(parse_columns(q("columns=name,phase&columns=meta.loss"))) == [
        "name",
        "phase",
        "meta.loss",
    ]


def test_a_field_columns_title_is_its_key_and_it_sorts_by_itself():
    column = parse_columns(q("columns=name,meta.val_loss"))[1]
    assert column.title == "val_loss"
    assert column.sort_key == "meta.val_loss"
    assert parse_columns(q("columns=name,started"))[1].sort_key == "started_at"
    assert parse_columns(q("columns=name,labels"))[1].sort_key is None


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("columns=name,size", "Unknown column 'size'"),
        ("columns=name,,phase", "empty item"),
        ("columns=name,phase,", "empty item"),
        ("columns=,name", "empty item"),
        ("columns=name,phase,phase", "listed twice"),
        ("columns=name,meta.loss,meta.loss", "listed twice"),
        ("columns=name&columns=name", "listed twice"),
        ("columns=phase,duration", "must include name"),
        ("columns=meta.loss", "must include name"),
        ("columns=name,label.-team", "label.-team"),
        ("columns=name,label./b", "label./b"),
        ("columns=name,label.b_", "label.b_"),
        ("columns=name,label.UPPER/x", "label.UPPER/x"),
        ("columns=name,meta.", "meta.<key>"),
        ("columns=name,input.a+b", "input.<key>"),
        ("columns=name,foo.x", "Unknown column 'foo.x'"),
        ("columns=Name", "Unknown column 'Name'"),
    ],
)
def test_a_bad_columns_value_is_an_error_naming_columns(raw, fragment):
    with pytest.raises(QueryError) as error:
        parse_columns(q(raw))
    assert error.value.field == "columns"
    assert error.value.status == 400
    assert fragment in error.value.message


def test_at_most_twelve_field_columns():
    fields = [f"meta.m{i}" for i in range(MAX_FIELD_COLUMNS)]
    assert len(parse_columns(q("columns=" + ",".join(["name", *fields])))) == MAX_FIELD_COLUMNS + 1
    with pytest.raises(QueryError) as error:
        parse_columns(q("columns=" + ",".join(["name", *fields, "input.one_more"])))
    assert error.value.field == "columns"
    assert str(MAX_FIELD_COLUMNS) in error.value.message


def test_the_columns_parameter_is_empty_for_the_default_columns():
    assert columns_param(parse_columns(q(""))) == ""
    assert columns_param(parse_columns(q("columns=name,meta.loss"))) == "name,meta.loss"
    everything = "columns=" + ",".join(DEFAULT_COLUMNS)
    assert columns_param(parse_columns(q(everything))) == ""


# --- format_number ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1234, "1,234"),
        (0.91234, "0.9123"),
        (1234.5, "1,234.5"),
        (3.0, "3"),
        (0, "0"),
        (-1234, "-1,234"),
        (1234567, "1,234,567"),
        (-0.5, "-0.5"),
        (0.1, "0.1"),
        (12.34567, "12.35"),
        (-1234.5, "-1,234.5"),
        (1000.0, "1,000"),
        (123456.789, "123,456.8"),
        (0.00012345, "0.0001234"),
    ],
)
def test_numbers_are_formatted_with_separators_and_four_significant_digits(value, shown):
    assert format_number(value) == shown


def test_a_number_rounded_up_to_a_thousand_is_thousands_separated_too():
    """999.99 at four significant digits is 1,000, as 1000.0 is shown."""
    assert format_number(999.99) == "1,000"
    assert format_number(-999.99) == "-1,000"


@pytest.mark.parametrize("value", [1e30, 1e300, -1e300])
def test_a_huge_number_is_shown_in_a_few_digits_not_hundreds(value):
    """``about four significant digits``: 1e300 is not 301 digits of which all but the first
    16 are float noise (``1,000,000,000,000,000,052,504,...``)."""
    shown = format_number(value)
    assert len(shown) <= 24, shown


# --- the page --------------------------------------------------------------------------------

CHOSEN = "name,phase,meta.loss,input.lr,label.team"


@pytest.fixture
def chosen_rows(project):
    long_note = "a very long note that does not fit in a table cell"
    full = make_execution(
        project,
        labels={"team": "nlp", "name": "full"},
        user_metadata={"loss": 0.91234, "note": long_note, "steps": 1234},
        inputs={"lr": 1234.5, "optimizer": "adam"},
    )
    empty = make_execution(project, labels={"name": "empty"})
    text = make_execution(
        project, labels={"team": "cv"}, user_metadata={"loss": "n/a"}, inputs={"lr": 3.0}
    )
    return {"full": full, "empty": empty, "text": text, "long_note": long_note}


def test_the_page_shows_the_chosen_columns_in_order(client_for, project, chosen_rows):
    html = page(client_for, project, columns=CHOSEN)
    assert headers(html) == ["Name", "Phase", "loss", "lr", "team"]
    for row in ("full", "empty", "text"):
        assert len(cells(html, chosen_rows[row].pk)) == 5


def test_the_default_page_shows_the_base_columns(client_for, project, chosen_rows):
    html = page(client_for, project)
    titles = ["Name", "Workflow", "Phase", "Started", "Duration", "Launched by", "Release"]
    assert headers(html) == [*titles, "Labels"]


def test_numbers_are_right_aligned_and_formatted(client_for, project, chosen_rows):
    html = page(client_for, project, columns=CHOSEN)
    _, _, loss, lr, _ = cells(html, chosen_rows["full"].pk)
    assert loss == ("field num", "0.9123")
    assert lr == ("field num", "1,234.5")
    _, _, loss, lr, _ = cells(html, chosen_rows["text"].pk)
    assert loss == ("field", "n/a")
    assert lr == ("field num", "3")


def test_a_label_column_is_a_chip_that_filters_by_it(client_for, project, chosen_rows):
    html = page(client_for, project, columns=CHOSEN)
    classes, team = cells(html, chosen_rows["full"].pk)[4]
    assert classes == "field"
    link = re.fullmatch(r'<a class="chip" href="([^"]+)">nlp</a>', team)
    assert link, team
    params = query_of(link.group(1))
    assert params["q"] == ["team:nlp"]
    assert params["columns"] == [CHOSEN]
    # Filtered by it, the chip is the active filter, not a link.
    filtered = page(client_for, project, columns=CHOSEN, q="team:nlp")
    assert cells(filtered, chosen_rows["full"].pk)[4] == (
        "field",
        '<span class="chip active">nlp</span>',
    )


def test_a_label_column_keeps_that_label_out_of_the_chips_column(client_for, project, chosen_rows):
    html = page(client_for, project, columns="name,label.team,labels")
    _, _, (_, labels) = cells(html, chosen_rows["full"].pk)
    assert ">team<" not in labels
    assert ">user<" in labels


def test_a_missing_value_is_a_dash(client_for, project, chosen_rows):
    html = page(client_for, project, columns=CHOSEN)
    for classes, inner in cells(html, chosen_rows["empty"].pk)[2:]:
        assert classes == "field"
        assert inner == '<span class="muted">—</span>'


def test_long_text_is_cut_and_shown_whole_on_hover_and_focus(client_for, project, chosen_rows):
    html = page(client_for, project, columns="name,meta.note,input.optimizer")
    _, note, optimizer = cells(html, chosen_rows["full"].pk)
    cut = re.fullmatch(r'<span class="cut" ([^>]*)>(.*)</span>', note[1])
    assert cut, note
    attributes = dict(re.findall(r'(\w+)="([^"]*)"', cut.group(1)))
    assert attributes["tabindex"] == "0"
    assert unescape(attributes["title"]) == chosen_rows["long_note"]
    assert unescape(cut.group(2)) == chosen_rows["long_note"]
    assert optimizer == ("field", "adam")


def test_json_objects_and_booleans_are_shown_as_json_text(client_for, project):
    run = make_execution(project, user_metadata={"best": True, "shape": {"a": [1, 2]}})
    html = page(client_for, project, columns="name,meta.best,meta.shape")
    shown = [(classes, unescape(inner)) for classes, inner in cells(html, run.pk)[1:]]
    assert shown == [("field", "true"), ("field", '{"a":[1,2]}')]


def test_field_column_keys_and_values_are_escaped(client_for, project):
    run = make_execution(project, user_metadata={"<i>k": "<script>x()</script>", "n": '"><b>x</b>'})
    response = client_for.get(list_url(project, columns="name,meta.<i>k,meta.n"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<script>x()" not in html
    assert "<i>k" not in html
    assert "<b>x</b>" not in html
    assert headers(html) == ["Name", "<i>k", "n"]
    shown = [unescape(inner) for _, inner in cells(html, run.pk)[1:]]
    assert shown == ["<script>x()</script>", '"><b>x</b>']


def test_a_field_column_head_sorts_by_it(client_for, project, chosen_rows):
    html = page(client_for, project, columns=CHOSEN, sort_by__key="meta.loss")
    head = re.search(r'<th class="col-meta[^"]*"[^>]*>.*?</th>', html, re.S).group(0)
    assert 'aria-sort="descending"' in head
    href = re.search(r'href="([^"]+)"', head).group(1)
    assert query_of(href)["sort_by.key"] == ["meta.loss"]
    assert query_of(href)["sort_by.direction"] == ["ASCENDING"]
    ids = re.findall(r'<tr class="execution" data-id="([^"]+)"', html)
    # 0.9123 (a number), then "n/a" (text), then the one without a loss.
    assert ids == [chosen_rows["full"].pk, chosen_rows["text"].pk, chosen_rows["empty"].pk]


def test_the_load_more_rows_have_the_same_columns(client_for, project, chosen_rows):
    html = page(client_for, project, columns=CHOSEN, limit=1)
    more = re.search(r'id="more-main"[^>]*>.*?<a href="([^"]+)"', html, re.S).group(1)
    assert query_of(more)["columns"] == [CHOSEN]
    fragment = client_for.get(
        unescape(more), headers={"HX-Request": "true", "HX-Target": "more-main"}
    ).content.decode()
    assert "<thead>" not in fragment
    row_id = re.search(r'<tr class="execution" data-id="([^"]+)"', fragment).group(1)
    assert len(cells(fragment, row_id)) == 5


@pytest.mark.parametrize(
    "columns", ["name,size", "name,,phase", "phase", "name,name", "name,label.-x"]
)
def test_a_bad_columns_value_is_an_inline_error_and_changes_nothing(
    client_for, project, chosen_rows, columns
):
    response = client_for.get(list_url(project, columns=columns))
    assert response.status_code == 200
    html = response.content.decode()
    assert "column" in error_message(html).lower()
    # No rows under columns nobody asked for, and no redirect to a URL with other columns.
    assert re.findall(r'<tr class="execution"', html) == []
    assert "<thead>" not in html


def test_the_columns_menu_moves_a_column_and_redirects_to_the_comma_form(client_for, project):
    url = list_url(
        project,
        columns=["name", "phase", "meta.loss", ""],
        move="meta.loss:-1",
        q="team:nlp",
    )
    response = client_for.get(url)
    assert response.status_code == 302
    params = query_of(response["Location"])
    assert params["columns"] == ["name,meta.loss,phase"]
    assert params["q"] == ["team:nlp"]
    assert "move" not in params
    # The canonical URL is the page itself.
    assert client_for.get(response["Location"]).status_code == 200


def test_moving_a_column_right(client_for, project):
    response = client_for.get(list_url(project, columns="name,phase,meta.loss", move="name:1"))
    assert response.status_code == 302
    assert query_of(response["Location"])["columns"] == ["phase,name,meta.loss"]


@pytest.mark.parametrize("move", ["name:-1", "meta.loss:1"])
def test_moving_a_column_past_either_end_leaves_the_order(client_for, project, move):
    url = list_url(project, columns="name,phase,meta.loss", move=move)
    response = client_for.get(url, follow=True)
    assert response.status_code == 200
    assert headers(response.content.decode()) == ["Name", "Phase", "loss"]


@pytest.mark.parametrize("move", ["name:2", "name:", "name", ":1", "name:x"])
def test_a_malformed_move_is_an_inline_error(client_for, project, move):
    html = page(client_for, project, columns="name,phase", move=move)
    assert "Cannot move" in error_message(html)


def test_the_repeated_form_is_redirected_to_the_comma_form(client_for, project):
    response = client_for.get(list_url(project, columns=["name", "input.lr", ""]))
    assert response.status_code == 302
    assert query_of(response["Location"])["columns"] == ["name,input.lr"]


def test_choosing_the_default_columns_drops_the_parameter(client_for, project):
    response = client_for.get(list_url(project, columns=list(DEFAULT_COLUMNS)))
    assert response.status_code == 302
    assert "columns" not in query_of(response["Location"])


def test_moving_a_column_that_is_not_shown_is_an_inline_error(client_for, project):
    html = page(client_for, project, columns="name,phase", move="meta.loss:1")
    assert "meta.loss" in error_message(html)


def save_view(client, project, query_string: str):
    return client.post(
        reverse("executions:saved-view-save", args=[project.slug]),
        {"name": "with columns", "query_string": query_string},
    )


def test_a_saved_view_keeps_its_columns(client_for, project):
    response = save_view(
        client_for, project, "columns=name%2Cmeta.loss%2Clabel.team&sort_by.key=meta.loss"
    )
    assert response.status_code == 302
    view = SavedView.objects.get()
    assert QueryDict(view.query_string)["columns"] == "name,meta.loss,label.team"
    assert QueryDict(view.query_string)["sort_by.key"] == "meta.loss"
    assert query_of(response["Location"])["columns"] == ["name,meta.loss,label.team"]


def test_the_save_form_carries_the_pages_columns(client_for, project):
    html = page(client_for, project, columns="name,meta.loss")
    value = re.search(r'name="query_string" value="([^"]*)"', html).group(1)
    assert QueryDict(unescape(value))["columns"] == "name,meta.loss"


@pytest.mark.parametrize("columns", ["name,size", "phase", "name,,phase", "name,label.-x"])
def test_a_saved_view_with_bad_columns_is_refused(client_for, project, columns):
    response = save_view(client_for, project, urlencode({"columns": columns}))
    assert response.status_code == 400
    assert SavedView.objects.count() == 0


def test_column_suggestions_list_the_keys_most_common_first(client_for, project):
    for i in range(5):
        make_execution(
            project,
            labels={"team": "nlp"},
            user_metadata={"loss": i} if i < 4 else {},
            inputs={"lr": 0.1} if i < 2 else {},
        )
    make_execution(project, inputs={"lr": 0.2, "rare": 1})
    response = client_for.get(reverse("executions:column-suggestions", args=[project.slug]))
    assert response.status_code == 200
    options = re.findall(r'<option value="([^"]+)"[^>]*>(\d+)</option>', response.content.decode())
    offered = [name for name, _ in options]
    assert offered.index("label.team") < offered.index("meta.loss") < offered.index("input.lr")
    assert offered.index("input.lr") < offered.index("input.rare")
    counts = dict(options)
    assert counts["label.team"] == "5"
    assert counts["meta.loss"] == "4"
    assert counts["input.lr"] == "3"
    assert [int(n) for _, n in options] == sorted((int(n) for _, n in options), reverse=True)


def test_column_suggestions_of_a_project_one_cannot_read_are_not_found(project):
    url = reverse("executions:column-suggestions", args=[project.slug])
    assert Client().get(url).status_code == 404


# --- the project's default labels ------------------------------------------------------------


def chip_keys(html: str, execution_id: str) -> list[str]:
    labels = row_html(html, execution_id).split('class="labels"', 1)[1]
    return re.findall(r'class="chip(?: active)?"[^>]*>([^<]+)<', labels)


def test_the_projects_default_labels_are_hidden_from_rows_unless_asked_for(client_for, project):
    project.replace_default_labels({"owner": "ml", "env": "prod"})
    run = make_execution(project, labels={"team": "nlp"})
    overriding = make_execution(project, labels={"owner": "someone-else"})
    assert run.labels["owner"] == "ml"
    html = page(client_for, project)
    assert sorted(chip_keys(html, run.pk)) == ["team", "user"]
    # A label that differs from the project's default is not a default: it is shown.
    assert "owner" in chip_keys(html, overriding.pk)
    assert "env" not in chip_keys(html, overriding.pk)
    shown = page(client_for, project, defaults="show")
    assert sorted(chip_keys(shown, run.pk)) == ["env", "owner", "team", "user"]


def test_a_bad_view_option_is_an_inline_error(client_for, project):
    html = page(client_for, project, defaults="maybe")
    assert "defaults" in error_message(html)


# --- statements ------------------------------------------------------------------------------


def test_the_statement_count_does_not_grow_with_field_columns(client_for, project):
    for i in range(12):
        parent = make_execution(
            project,
            labels={"team": "nlp", "k": f"v{i}"},
            user_metadata={"loss": i / 10, "acc": i, "note": "x" * i},
            inputs={"lr": 0.1, "epochs": i},
        )
        make_execution(project, parent=parent.pk)
    fields = "meta.loss,meta.acc,meta.note,input.lr,input.epochs,label.k"
    plain = count_queries(client_for, list_url(project, columns="name,phase", limit=5))
    wide = count_queries(client_for, list_url(project, columns=f"name,phase,{fields}", limit=5))
    assert plain == wide
    assert wide <= 8
    sorted_plain = count_queries(
        client_for, list_url(project, columns="name,phase", limit=5, sort_by__key="meta.loss")
    )
    sorted_wide = count_queries(
        client_for,
        list_url(project, columns=f"name,phase,{fields}", limit=5, sort_by__key="meta.loss"),
    )
    assert sorted_plain == sorted_wide <= 8
