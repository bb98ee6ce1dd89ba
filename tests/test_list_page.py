"""The executions list page, its htmx fragments, exports, autocomplete and the API list."""

from __future__ import annotations

import csv
import io
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.http import urlencode

from executions.models import Execution, Phase, Release
from tests.factories import ProjectFactory, make_execution


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


def page(client, project, headers=None, **params) -> str:
    response = client.get(list_url(project, **params), headers=headers or {})
    assert response.status_code == 200
    return response.content.decode()


def row_ids(html: str) -> list[str]:
    return re.findall(r'<tr class="execution" data-id="([^"]+)"', html)


def query_of(href: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(href.replace("&amp;", "&")).query)


# --- the page --------------------------------------------------------------------------------


def test_the_page_lists_executions_latest_first_with_their_label_chips(client_for, project):
    older = make_execution(project, labels={"name": "baseline", "team": "nlp"})
    newer = make_execution(project, labels={"team": "cv"})
    html = page(client_for, project)
    assert row_ids(html) == [newer.pk, older.pk]
    assert "baseline" in html
    assert re.search(r'<a class="chip" href="[^"]+">team<span class="chip-value">:nlp<', html)


def test_a_project_one_cannot_read_is_not_found(project, db):
    make_execution(project)
    assert Client().get(list_url(project)).status_code == 404


def test_a_label_chip_links_to_the_list_filtered_by_it(client_for, project):
    make_execution(project, labels={"team": "nlp", "note": "lr sweep 3", "name": "first"})
    html = page(client_for, project, q="team:nlp")
    chip = re.search(
        r'<a class="chip" href="([^"]+)">note<span class="chip-value">:lr sweep 3<', html
    )
    assert query_of(chip.group(1))["q"] == ['team:nlp and note:"lr sweep 3"']
    # The name label is the row's title, not a chip.
    assert '>name<span class="chip-value">' not in html
    # The chip already in the filter is shown as active, not as a link.
    assert 'class="chip active"' in html


def test_the_expression_filters_the_list(client_for, project):
    nlp = make_execution(project, labels={"team": "nlp"})
    make_execution(project, labels={"team": "cv"})
    assert row_ids(page(client_for, project, q="team:nlp")) == [nlp.pk]


def test_a_syntax_error_is_shown_under_the_box_with_its_column(client_for, project):
    make_execution(project, labels={"team": "nlp"})
    html = page(client_for, project, q="team:nlp and (")
    assert 'class="error expression-error"' in html
    assert "Syntax error at column 15" in html
    assert row_ids(html) == []
    assert 'value="team:nlp and ("' in html


@pytest.mark.parametrize(
    ("q", "message"),
    [("@phase:done", "Unknown phase"), ("@release:nn@one", "not a semantic version")],
)
def test_a_value_no_execution_could_have_is_an_error_everywhere(
    client_for, api, project, q, message
):
    """Page, export and API say what is wrong (they used to get as far as the SQL)."""
    make_execution(project, labels={"team": "nlp"})
    html = page(client_for, project, q=q)
    assert 'class="error expression-error"' in html
    assert message in html
    assert row_ids(html) == []
    export = client_for.get(reverse("executions:export", args=[project.slug, "csv"]), {"q": q})
    assert export.status_code == 400
    assert message in export.content.decode()
    response = api.get("/api/v1/executions/", {"q": q})
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


def test_active_filters_have_remove_and_negate_links(client_for, project):
    make_execution(project, labels={"team": "nlp", "model": "bert"})
    html = page(client_for, project, q="team:nlp and model:bert")
    removes = re.findall(r'class="chip-remove" href="([^"]+)"', html)
    assert [query_of(href).get("q") for href in removes] == [["model:bert"], ["team:nlp"]]
    negates = re.findall(r'<div class="menu">\s*<a href="([^"]+)"', html)
    assert query_of(negates[0])["q"] == ["not team:nlp and model:bert"]


def test_flyte_filters_apply_and_show_as_a_removable_chip(client_for, project):
    fast = make_execution(project)
    slow = make_execution(project)
    Execution.objects.filter(pk=fast.pk).update(duration=5)
    Execution.objects.filter(pk=slow.pk).update(duration=500)
    html = page(client_for, project, filters="gte(duration,100)")
    assert row_ids(html) == [slow.pk]
    assert "filters: gte(duration,100)" in html
    remove = re.search(r'href="([^"]*)"[^>]*aria-label="Remove the field filters"', html)
    assert "filters" not in query_of(remove.group(1))


def test_the_or_form_combines_a_chip_with_another_value_of_its_key(client_for, project):
    response = client_for.get(
        list_url(project, q="team:nlp and model:bert", or_term="0", or_value="cv")
    )
    assert response.status_code == 302
    assert query_of(response["Location"])["q"] == ["(team:nlp or team:cv) and model:bert"]


def test_an_htmx_request_gets_the_listing_fragment_and_the_url_to_push(client_for, project):
    make_execution(project, labels={"team": "nlp"})
    response = client_for.get(
        list_url(project, q="team:nlp", or_term="0", or_value="cv"),
        headers={"HX-Request": "true", "HX-Target": "listing"},
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="listing"')
    assert "<html" not in html
    assert query_of(response["HX-Push-Url"]) == {"q": ["team:nlp or team:cv"]}


def test_a_history_restore_request_gets_the_whole_page(client_for, project):
    response = client_for.get(
        list_url(project, q="team:nlp"),
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    assert "<html" in response.content.decode()
    assert "HX-Request" in response["Vary"]


def test_an_or_for_a_chip_that_is_gone_is_an_error_not_a_crash(client_for, project):
    html = page(client_for, project, q="team:nlp", or_term="3", or_value="cv")
    assert "That filter chip no longer exists" in html


def test_load_more_returns_the_next_rows_and_the_next_load_more(client_for, project):
    runs = [make_execution(project) for _ in range(5)]
    html = page(client_for, project, limit="2")
    assert row_ids(html) == [runs[4].pk, runs[3].pk]
    next_url = re.search(
        r'id="more-main" class="load-more"><td colspan="\d+"><a href="([^"]+)"', html
    )
    fragment = client_for.get(
        next_url.group(1).replace("&amp;", "&"),
        headers={"HX-Request": "true", "HX-Target": "more-main"},
    ).content.decode()
    assert fragment.lstrip().startswith("<tr")
    assert row_ids(fragment) == [runs[2].pk, runs[1].pk]
    assert 'id="more-main"' in fragment
    # Without JavaScript the same link is a plain next page.
    plain = client_for.get(next_url.group(1).replace("&amp;", "&")).content.decode()
    assert row_ids(plain) == [runs[2].pk, runs[1].pk]
    assert "First page" in plain


def test_page_size_sort_and_phase_filters_apply(client_for, project):
    quick = make_execution(project)
    slow = make_execution(project)
    failed = make_execution(project)
    Execution.objects.filter(pk=quick.pk).update(duration=5, phase=Phase.SUCCEEDED)
    Execution.objects.filter(pk=slow.pk).update(duration=500, phase=Phase.SUCCEEDED)
    Execution.objects.filter(pk=failed.pk).update(duration=50, phase=Phase.FAILED)
    html = page(client_for, project, sort_by__key="duration")
    assert row_ids(html) == [slow.pk, failed.pk, quick.pk]
    header = re.search(r'<a class="sort" href="([^"]+)"[^>]*>Duration', html).group(1)
    assert query_of(header)["sort_by.direction"] == ["ASCENDING"]
    assert row_ids(page(client_for, project, phase=["SUCCEEDED"], sort_by__key="duration")) == [
        slow.pk,
        quick.pk,
    ]


def test_domain_tabs_narrow_the_list(client_for, project):
    dev = make_execution(project, domain="development")
    prod = make_execution(project, domain="production")
    assert row_ids(page(client_for, project, domain="production")) == [prod.pk]
    assert row_ids(page(client_for, project)) == [prod.pk, dev.pk]


def test_the_mine_namespace_shows_my_executions(client_for, project):
    mine = make_execution(project, launched_by="anne")
    make_execution(project, launched_by="bob")
    html = page(client_for, project)
    mine_link = re.search(r'href="([^"]+)"[^>]*>Mine</a>', html).group(1)
    assert query_of(mine_link)["namespace"] == ["user:anne"]
    assert row_ids(page(client_for, project, namespace="user:anne")) == [mine.pk]


def test_sub_executions_nest_under_their_parent(client_for, project):
    parent = make_execution(project, labels={"team": "nlp"})
    child = make_execution(project, labels={"team": "nlp"}, parent=parent.pk)
    orphan_match = make_execution(project, labels={"team": "cv"}, parent=parent.pk)
    html = page(client_for, project)
    assert row_ids(html) == [parent.pk]
    assert "2 sub-executions" in html
    assert child.pk in html and orphan_match.pk in html
    # A matching child whose parent does not match is listed itself.
    assert row_ids(page(client_for, project, q="team:cv")) == [orphan_match.pk]


def test_the_release_badge_shows_the_latest_release(client_for, project):
    execution = make_execution(project)
    Execution.objects.filter(pk=execution.pk).update(phase=Phase.SUCCEEDED)
    Release.objects.create(
        project=project, artifact="nn", version="v1.2.3", execution=execution, created_by="a"
    )
    assert '<span class="release-badge">nn@v1.2.3</span>' in page(client_for, project)


def test_grouping_by_experiment_then_group_shows_counts_and_phase_summaries(client_for, project):
    for labels, phase in [
        ({"experiment": "e1", "group": "g1"}, Phase.SUCCEEDED),
        ({"experiment": "e1", "group": "g1"}, Phase.FAILED),
        ({"experiment": "e1", "group": "g2"}, Phase.SUCCEEDED),
        ({"experiment": "e2"}, Phase.RUNNING),
        ({}, Phase.SUCCEEDED),
    ]:
        execution = make_execution(project, labels=labels)
        Execution.objects.filter(pk=execution.pk).update(phase=phase)
    html = page(client_for, project, group_by="experiment,group")
    heads = re.findall(
        r'<span class="group-name">(.*?)</span>\s*<span class="group-count"[^>]*>(\d+)</span>', html
    )
    assert heads == [
        ("e1", "3"),
        ("g1", "2"),
        ("g2", "1"),
        ("e2", "1"),
        ("<em>ungrouped</em>", "1"),
        ("<em>ungrouped</em>", "1"),
        ("<em>ungrouped</em>", "1"),
    ]
    assert "2 succeeded" in html and "1 failed" in html
    assert "5 executions in 3 groups" in html


def test_grouping_one_key_counts_top_level_executions_with_their_phases(client_for, project):
    e1 = make_execution(project, labels={"experiment": "e1"})
    Execution.objects.filter(pk=e1.pk).update(phase=Phase.FAILED)
    make_execution(project, labels={"experiment": "e1"})
    # Nested under e1 (same project): a sub-execution, not a row of its own group.
    make_execution(project, labels={"experiment": "e2"}, parent=e1.pk)
    make_execution(project, parent=e1.pk)
    make_execution(project, labels={"experiment": "e2"})
    make_execution(project, labels={"experiment": "e3"})
    make_execution(project)
    # Another project's executions count in neither group.
    make_execution(ProjectFactory(), labels={"experiment": "e1"})
    html = page(client_for, project, group_by="experiment")
    heads = re.findall(
        r'<span class="group-name">(.*?)</span>\s*<span class="group-count"[^>]*>(\d+)</span>', html
    )
    assert heads == [("e1", "2"), ("e2", "1"), ("e3", "1"), ("<em>ungrouped</em>", "1")]
    # Every execution is counted, as the home page and the API count them; the list says
    # how many of them it shows under their parents.
    assert "7 executions in 4 groups, 2 shown under their parents" in html
    assert "1 failed" in html


def test_grouping_one_key_reads_the_phases_of_the_shown_groups_only(
    client_for, project, monkeypatch
):
    monkeypatch.setattr("executions.views.list.MAX_GROUPS_SHOWN", 2)
    for i, experiment in enumerate(["big", "big", "big", "mid", "mid", "small"]):
        execution = make_execution(project, labels={"experiment": experiment})
        if i == 5:
            Execution.objects.filter(pk=execution.pk).update(phase=Phase.FAILED)
    html = page(client_for, project, group_by="experiment")
    heads = re.findall(r'<span class="group-name">(.*?)</span>', html)
    assert heads == ["big", "mid"]
    assert "6 executions in 2 groups" in html
    assert "and 1 smaller group not shown" in html
    assert "failed" not in html.split('class="groups"')[1]


def test_a_group_loads_its_rows_as_a_fragment(client_for, project):
    e1 = make_execution(project, labels={"experiment": "e1", "team": "nlp"})
    make_execution(project, labels={"experiment": "e2", "team": "nlp"})
    html = page(client_for, project, group_by="experiment", q="team:nlp")
    rows_url = re.search(r'<details class="group" data-group="e1" hx-get="([^"]+)"', html).group(1)
    assert query_of(rows_url)["q"] == ["team:nlp and experiment:e1"]
    fragment = client_for.get(
        rows_url.replace("&amp;", "&"), headers={"HX-Request": "true", "HX-Target": "g1"}
    ).content.decode()
    assert row_ids(fragment) == [e1.pk]
    # In the group's rows, the page's filter is active and the group's label is a chip that
    # adds to the page's filter, as on any row.
    assert re.search(r'<span class="chip active"[^>]*>team<span class="chip-value">:nlp<', fragment)
    chip = re.search(
        r'<a class="chip" href="([^"]+)"[^>]*>experiment<span class="chip-value">:e1<', fragment
    )
    assert chip is not None
    assert query_of(chip.group(1))["q"] == ["team:nlp and experiment:e1"]
    assert "group_terms" not in chip.group(1)


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def make_many(project, n: int) -> None:
    """Executions with 20 labels each (as in the benchmark), children and some releases."""
    for i in range(n):
        labels = {f"k{j}": f"v{i % 3}-{j}" for j in range(17)}
        labels.update(experiment=f"e{i % 4}", group=f"g{i % 7}", team="nlp")
        parent = make_execution(project, labels=labels)
        # Every row has a sub-execution, so every page runs the children query.
        make_execution(project, parent=parent.pk)
        if i % 3 == 0:
            Execution.objects.filter(pk=parent.pk).update(phase=Phase.SUCCEEDED)
            Release.objects.create(
                project=project,
                artifact="nn",
                version=f"v1.0.{Release.objects.count()}",
                execution=parent,
                created_by="a",
            )


@pytest.mark.parametrize(
    "params",
    [
        {"q": "team:nlp and not k1:x"},
        {"q": "team:nlp", "group_by": "experiment,group"},
        {"group_by": "experiment"},
        {"sort_by.key": "duration", "limit": "5"},
    ],
)
def test_the_page_query_count_is_bounded_and_independent_of_size(
    client_for, project, params, settings
):
    settings.EXECBOARD_MAX_LABELS = 24
    url = list_url(project) + "?" + urlencode(params)
    make_many(project, 6)
    small = count_queries(client_for, url)
    make_many(project, 30)
    large = count_queries(client_for, url)
    assert small == large
    assert large <= 8
    # A page that holds every row needs no count query; a bigger page never costs more.
    assert count_queries(client_for, url + "&limit=200") <= large


# --- exports ---------------------------------------------------------------------------------


def test_the_csv_export_streams_every_matching_row_and_neutralises_formulas(client_for, project):
    formula = make_execution(project, labels={"name": "=HYPERLINK(1)", "team": "nlp"})
    for _ in range(3):
        make_execution(project, labels={"team": "nlp"}, workflow="+sum.wf")
    make_execution(project, labels={"team": "cv"})
    response = client_for.get(
        reverse("executions:export", args=[project.slug, "csv"]) + "?q=team:nlp&limit=1"
    )
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 4
    named = next(row for row in rows if row["id"] == formula.pk)
    assert named["name"] == "'=HYPERLINK(1)"
    assert {row["workflow"] for row in rows if row["id"] != formula.pk} == {"'+sum.wf"}
    assert json.loads(named["labels"])["team"] == "nlp"


def test_the_json_export_is_a_list_of_every_matching_execution(client_for, project):
    runs = [make_execution(project, labels={"team": "nlp"}) for _ in range(3)]
    response = client_for.get(reverse("executions:export", args=[project.slug, "json"]))
    data = json.loads(b"".join(response.streaming_content))
    assert [row["id"] for row in data] == [run.pk for run in reversed(runs)]
    assert data[0]["labels"] == {"team": "nlp", "user": "anne"}
    assert data[0]["duration"] is None


def test_an_export_with_a_bad_expression_is_a_400(client_for, project):
    url = reverse("executions:export", args=[project.slug, "csv"]) + "?q=team:"
    response = client_for.get(url)
    assert response.status_code == 400
    assert "column 5" in response.content.decode()


# --- autocomplete ----------------------------------------------------------------------------


def test_autocomplete_suggests_keys_then_values_most_used_first(client_for, project):
    for model in ["bert", "gpt", "gpt", "big bird"]:
        make_execution(project, labels={"model": model})
    url = reverse("executions:label-suggestions", args=[project.slug])
    keys = client_for.get(url + "?prefix=mo").content.decode()
    assert re.findall(r'data-text="([^"]+)"', keys) == ["model"]
    values = client_for.get(url + "?key=model&prefix=b").content.decode()
    assert re.findall(r'data-text="([^"]+)"', values) == [
        "model:bert",
        "model:&quot;big bird&quot;",
    ]
    options = client_for.get(url + "?key=model&format=values").content.decode()
    assert re.findall(r'<option value="([^"]+)"', options) == ["gpt", "bert", "big bird"]


def test_the_api_autocomplete_answers_json(api, project):
    for model in ["bert", "gpt", "gpt"]:
        make_execution(project, labels={"model": model})
    response = api.get("/api/v1/labels/", {"project": project.slug, "key": "model"})
    assert response.json() == {
        "key": "model",
        "suggestions": [{"value": "gpt", "count": 2}, {"value": "bert", "count": 1}],
    }
    assert api.get("/api/v1/labels/").json()["error"]["field"] == "project"


# --- the API list ----------------------------------------------------------------------------


def test_the_api_list_filters_by_expression_and_flyte_filters(api, project):
    a = make_execution(project, labels={"team": "nlp"})
    b = make_execution(project, labels={"team": "nlp"})
    make_execution(project, labels={"team": "cv"})
    Execution.objects.filter(pk=a.pk).update(phase=Phase.FAILED, duration=300)
    body = api.get(
        "/api/v1/executions/",
        {"project": project.slug, "q": "team:nlp", "filters": "gte(duration, 100)"},
    ).json()
    assert [row["id"] for row in body["results"]] == [a.pk]
    assert body["count"] == 1 and body["count_is_estimate"] is False
    body = api.get("/api/v1/executions/", {"q": "team:nlp and not @phase:FAILED"}).json()
    assert [row["id"] for row in body["results"]] == [b.pk]


def test_the_api_list_pages_with_a_cursor_in_any_sort(api, project):
    runs = [make_execution(project) for _ in range(5)]
    for index, run in enumerate(runs):
        Execution.objects.filter(pk=run.pk).update(duration=[3, 1, 4, 1, 5][index])
    seen, cursor = [], None
    while True:
        params = {"project": project.slug, "sort_by.key": "duration", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = api.get("/api/v1/executions/", params).json()
        assert body["count"] == 5
        seen += [row["duration"] for row in body["results"]]
        cursor = body["next"]
        if cursor is None:
            break
    assert seen == [5, 4, 3, 1, 1]


def test_the_api_list_returns_group_counts(api, project):
    for experiment in ["e1", "e1", "e2", None]:
        make_execution(project, labels={"experiment": experiment} if experiment else {})
    body = api.get(
        "/api/v1/executions/", {"project": project.slug, "group_by": "experiment"}
    ).json()
    assert body["groups"] == [
        {"value": "e1", "count": 2},
        {"value": "e2", "count": 1},
        {"value": None, "count": 1},
    ]


def test_the_api_list_keeps_to_the_namespace_and_visible_projects(api, project):
    mine = make_execution(project, launched_by="anne")
    make_execution(project, launched_by="bob")
    make_execution(ProjectFactory(slug="secret"), launched_by="anne")
    body = api.get("/api/v1/executions/", {"namespace": "user:anne"}).json()
    assert [row["id"] for row in body["results"]] == [mine.pk]


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"q": "team:nlp and"}, "q", "invalid_expression"),
        ({"q": "x" * 5000}, "q", "expression_too_long"),
        ({"q": "(" * 60 + "a" + ")" * 60}, "q", "expression_too_deep"),
        ({"filters": "eq(colour,red)"}, "filters", "invalid_query"),
        ({"sort_by.key": "size"}, "sort_by.key", "invalid_query"),
        ({"limit": "1001"}, "limit", "invalid_query"),
        ({"cursor": "garbage"}, "cursor", "invalid_query"),
        ({"group_by": "team"}, "group_by", "invalid_query"),
    ],
)
def test_the_api_list_rejects_bad_parameters_with_a_400(api, project, params, field, code):
    response = api.get("/api/v1/executions/", params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["field"], error["code"]) == (field, code)
    assert error["message"]


def test_an_api_syntax_error_reports_its_column(api, project):
    error = api.get("/api/v1/executions/", {"q": "a or or"}).json()["error"]
    assert error["column"] == 6
    assert "column 6" in error["message"]
