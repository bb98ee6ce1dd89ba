"""Markdown renders to sanitised HTML: one function for the page, the preview and the API's
consumers; a description larger than 256 KiB is refused everywhere."""

from __future__ import annotations

import pytest
from django.urls import reverse

from executions.markdown import render_markdown
from executions.models import Change
from executions.services import MAX_DESCRIPTION_BYTES
from tests.factories import make_execution

HOSTILE = {
    "script": "Hello <script>alert('x')</script> world",
    "img onerror": '<img src="x.png" onerror="alert(1)">',
    "javascript link": "[x](javascript:alert(1))",
    "javascript link in mixed case": '<a href="JaVaScRiPt:alert(1)">x</a>',
    "iframe": '<iframe src="https://evil.example/"></iframe>',
    "svg with script": '<svg onload="alert(1)"><script>alert(1)</script></svg>',
    "data url image": "![x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "event handler on a tag": '<p onclick="alert(1)" onmouseover="alert(2)">hi</p>',
    "style tag": "<style>body { display: none }</style>",
    "htmx attributes": '<div hx-get="/admin/" hx-trigger="load">x</div>',
    "form": '<form action="https://evil.example/"><input name="password"></form>',
}
FORBIDDEN = (
    "<script",
    "onerror",
    "onload",
    "onclick",
    "onmouseover",
    "javascript:",
    "data:",
    "<iframe",
    "<svg",
    "<style",
    "hx-",
    "<form",
    "<input",
    "alert(",
)


@pytest.mark.parametrize("source", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_markdown_renders_harmless(source):
    html = render_markdown(source).lower()
    for fragment in FORBIDDEN:
        assert fragment not in html, (fragment, html)


def test_text_around_removed_markup_is_kept():
    assert "Hello" in render_markdown(HOSTILE["script"])
    assert "world" in render_markdown(HOSTILE["script"])


def test_links_get_rel_noopener_nofollow_even_when_they_say_otherwise():
    html = render_markdown('[doc](https://example.com/a) <a href="/b" rel="opener">b</a>')
    assert 'href="https://example.com/a"' in html
    assert html.count('rel="noopener nofollow"') == 2
    assert 'rel="opener"' not in html


def test_tables_fenced_code_and_lists_render():
    source = (
        "| lr | loss |\n|:---|---:|\n| 1e-4 | 0.41 |\n\n"
        "```python\nif a < b:\n    pass\n```\n\n"
        "- one\n- two\n\n1. first\n2. second\n"
    )
    html = render_markdown(source)
    assert "<table>" in html and '<th style="text-align:left">lr</th>' in html
    assert '<td style="text-align:right">0.41</td>' in html
    assert '<code class="language-python">if a &lt; b:' in html
    assert "<ul>\n<li>one</li>" in html and "<ol>\n<li>first</li>" in html


def test_only_text_align_survives_in_style_attributes():
    html = render_markdown(
        '<table><tr><td style="text-align:center;position:fixed">x</td></tr></table>'
    )
    assert 'style="text-align:center"' in html
    assert "position" not in html


def test_only_language_classes_survive():
    html = render_markdown('<code class="language-sql evil">x</code><span class="big">y</span>')
    assert '<code class="language-sql">' in html
    assert "evil" not in html and "big" not in html


def test_an_empty_description_renders_nothing():
    assert render_markdown("") == ""


# Size limit: page and API ---------------------------------------------------------------


@pytest.fixture
def execution(project):
    return make_execution(project, description="before")


def too_large() -> str:
    # Multi-byte text: the limit counts UTF-8 bytes, not characters.
    return "é" * (MAX_DESCRIPTION_BYTES // 2) + "x"


def test_a_description_of_exactly_256_kib_is_accepted(api, execution):
    text = "é" * (MAX_DESCRIPTION_BYTES // 2)
    response = api.patch(
        f"/api/v1/executions/{execution.pk}/",
        {"description": text, "description_version": 0},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["description_version"] == 1


def test_the_api_refuses_a_description_of_256_kib_and_one_byte(api, execution):
    response = api.patch(
        f"/api/v1/executions/{execution.pk}/",
        {"description": too_large(), "description_version": 0},
        format="json",
    )
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "too_large"
    assert error["field"] == "description"
    assert "262,145 bytes" in error["message"] and "256 KiB" in error["message"]
    execution.refresh_from_db()
    assert (execution.description, execution.description_version) == ("before", 0)
    assert not Change.objects.exists()


@pytest.mark.parametrize("htmx", [False, True], ids=["plain form", "htmx"])
def test_the_page_refuses_a_description_of_256_kib_and_one_byte(client, editor, execution, htmx):
    client.force_login(editor)
    url = reverse("executions:description-edit", args=[execution.project.slug, execution.pk])
    headers = {"HX-Request": "true"} if htmx else {}
    response = client.post(
        url, {"description": too_large(), "description_version": 0}, headers=headers
    )
    assert response.status_code == 413
    body = response.content.decode()
    assert "262,145 bytes; at most 262,144 (256 KiB) are allowed" in body
    assert "<textarea" in body  # the text stays in the editor
    execution.refresh_from_db()
    assert (execution.description, execution.description_version) == ("before", 0)


def test_the_preview_says_when_the_description_is_too_large(client, editor, execution):
    client.force_login(editor)
    url = reverse("executions:description-edit", args=[execution.project.slug, execution.pk])
    response = client.post(
        url,
        {"description": too_large(), "description_version": 0, "action": "preview"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "256 KiB" in response.content.decode()


def test_the_page_and_the_preview_render_through_the_same_sanitiser(client, editor, project):
    source = "**bold** <script>alert(1)</script> [x](javascript:alert(1))"
    execution = make_execution(project, description=source)
    client.force_login(editor)
    page = client.get(execution.get_absolute_url()).content.decode()
    assert f'<div class="markdown" hx-disable>{render_markdown(source)}</div>' in page
    url = reverse("executions:description-edit", args=[project.slug, execution.pk])
    preview = client.post(
        url,
        {"description": source, "description_version": 0, "action": "preview"},
        headers={"HX-Request": "true"},
    ).content.decode()
    assert f'<div class="markdown" hx-disable>{render_markdown(source)}</div>' in preview
    assert "alert(1)" not in page and "alert(1)" not in preview
