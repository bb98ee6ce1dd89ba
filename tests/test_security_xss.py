"""Stored and reflected XSS: payloads in descriptions, labels, names, metadata, steps,
events, release notes and saved views render inert on every page and htmx partial
(walked from the URLconf), and CSV exports neutralise spreadsheet formulas."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.test import Client

from executions.services import description_update
from tests.urlwalk import endpoints
from tests.xss import FORMULAS, MARKDOWN, PAYLOADS, inert_problems, plant_payloads

pytestmark = pytest.mark.django_db

PAGES = [e for e in endpoints() if not e.is_api]


@pytest.fixture
def world():
    return plant_payloads()


@pytest.fixture
def browser(world):
    client = Client()
    client.force_login(world.superuser)
    return client


def assert_inert(response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code}"
    if "html" not in response.get("Content-Type", ""):
        return
    html = response.content.decode()
    problems = inert_problems(html)
    assert not problems, f"{what}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("endpoint", PAGES, ids=str)
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx-partial"])
def test_payloads_render_inert_on_every_page(world, browser, endpoint, htmx):
    url = endpoint.url(world.path_values())
    headers = {"HX-Request": "true", "HX-Current-URL": "http://testserver" + url} if htmx else {}
    response = browser.get(url, headers=headers)
    assert_inert(response, f"GET {url}{' (htmx)' if htmx else ''}")


REFLECTED = {
    "q": '"><script>alert("q")</script>',
    "namespace": "user:\"><img src=x onerror=alert('ns')>",
    "filters": "eq(phase,<script>alert(1)</script>)",
    "sort_by.key": "<svg onload=alert(1)>",
    "cursor": "<script>alert(1)</script>",
    "group_by": '"><script>alert("g")</script>',
}


@pytest.mark.parametrize(("param", "value"), REFLECTED.items(), ids=list(REFLECTED))
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx-partial"])
def test_query_parameters_reflected_in_the_list_page_are_escaped(
    world, browser, param, value, htmx
):
    headers = {"HX-Request": "true"} if htmx else {}
    response = browser.get(f"/p/{world.project.slug}/", {param: value}, headers=headers)
    assert_inert(response, f"list page with {param}")


def test_a_valid_query_with_markup_in_a_label_value_is_escaped(world, browser):
    response = browser.get(f"/p/{world.project.slug}/", {"q": f'k0:"{PAYLOADS[0]}"'})
    assert_inert(response, "list page filtered by a payload label")


def test_the_description_preview_and_conflict_views_are_sanitised(world, browser):
    edit = next((e for e in PAGES if e.name == "executions:description-edit"), None)
    if edit is None:
        pytest.fail("The description editor (executions:description-edit) is gone.")
    url = edit.url(world.path_values())
    stale_version = world.execution.description_version
    execution = description_update(
        execution_id=world.execution.pk,
        text=MARKDOWN + "\n\nedited",
        expected_version=stale_version,
        by="mallory",
    )
    version = execution.description_version
    text = "\n\n".join(PAYLOADS)
    for headers in ({}, {"HX-Request": "true"}):
        preview = browser.post(
            url,
            {"description": text, "description_version": version, "action": "preview"},
            headers=headers,
        )
        assert preview.status_code == 200
        assert_inert(preview, "description preview")
        stale = browser.post(
            url, {"description": text, "description_version": stale_version}, headers=headers
        )
        assert stale.status_code == 409
        assert_inert(stale, "description conflict")
    world.execution.refresh_from_db()
    assert world.execution.description_version == version


def test_rendered_markdown_sits_in_containers_that_htmx_ignores(world, browser):
    pages = [
        world.execution.get_absolute_url(),
        f"/p/{world.project.slug}/artifacts/nn/",
    ]
    for url in pages:
        html = browser.get(url).content.decode()
        containers = re.findall(r"<div[^>]*class=\"(?:markdown|note)\b[^>]*>", html)
        assert containers, f"no rendered Markdown found on {url}"
        for tag in containers:
            assert "hx-disable" in tag, f"{url}: {tag}"


def test_the_payloads_are_shown_as_text_not_dropped(world, browser):
    html = browser.get(world.execution.get_absolute_url()).content.decode()
    assert "&lt;img src=x onerror=alert(&quot;xss-img&quot;)&gt;" in html


def test_api_responses_are_json_that_browsers_do_not_sniff(world, browser):
    response = browser.get(f"/api/v1/executions/{world.execution.pk}/")
    assert response["Content-Type"] == "application/json"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_csv_exports_neutralise_spreadsheet_formulas(world, browser):
    response = browser.get(f"/p/{world.project.slug}/export.csv")
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    cells = [cell for row in csv.reader(io.StringIO(body.decode())) for cell in row]
    assert cells, "the export is empty"
    for formula in FORMULAS:
        assert formula not in cells, f"{formula!r} exported as a live formula"
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")], "a cell starts a formula"


def test_pages_forbid_inline_and_foreign_scripts(world, browser):
    header = browser.get(world.execution.get_absolute_url())["Content-Security-Policy"]
    policy = dict(directive.strip().split(" ", 1) for directive in header.split(";"))
    assert policy["script-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
