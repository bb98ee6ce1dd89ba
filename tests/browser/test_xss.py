"""The stored-XSS payloads of tests/xss.py in a real Chromium: on every page (walked from the
URLconf), in the htmx partials those pages load and in the description preview, no dialog
opens and no request leaves for a host other than the live server."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.test import Client

from tests.urlwalk import endpoints
from tests.xss import PAYLOADS, plant_payloads

pytestmark = pytest.mark.django_db(transaction=True)

PAGES = [e for e in endpoints() if not e.is_api and e.name != "executions:export"]


class Watcher:
    """Records dialogs and blocks (and records) requests to any host but the live server."""

    def __init__(self, page, live_server_url: str) -> None:
        self.host = urlsplit(live_server_url).netloc
        self.dialogs: list[str] = []
        self.foreign: list[str] = []
        page.on("dialog", self._dialog)
        page.route("**/*", self._route)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _route(self, route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.netloc == self.host:
            route.continue_()
        else:
            self.foreign.append(url)
            route.abort()

    def problems(self) -> list[str]:
        return [f"dialog: {m}" for m in self.dialogs] + [f"request: {u}" for u in self.foreign]


@pytest.fixture
def world():
    return plant_payloads()


def visit(page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")


def html_pages(world) -> list[str]:
    """The URL of every page that answers GET with HTML (POST-only endpoints answer 405)."""
    client = Client()
    client.force_login(world.superuser)
    urls = [endpoint.url(world.path_values()) for endpoint in PAGES]
    responses = {url: client.get(url) for url in urls}
    return [
        url
        for url, response in responses.items()
        if response.status_code == 200 and "html" in response.get("Content-Type", "")
    ]


def test_no_payload_runs_or_calls_out_on_any_page(new_page, live_server, world):
    page = new_page(world.superuser)
    watcher = Watcher(page, live_server.url)
    visited = []
    for url in html_pages(world):
        visit(page, url)
        visited.append(url)
        # Hovering and focusing fires mouse and focus handlers a payload might carry.
        for element in page.locator("a, button, img, svg, div.markdown *").all()[:200]:
            if element.is_visible():
                element.hover(timeout=2000, force=True)
    assert world.execution.get_absolute_url() in visited
    assert not watcher.problems(), watcher.problems()


def test_no_payload_runs_in_the_description_editor_and_preview(new_page, live_server, world):
    page = new_page(world.superuser)
    watcher = Watcher(page, live_server.url)
    visit(page, world.execution.get_absolute_url())
    edit = page.locator("a, button").filter(has_text="Edit").first
    edit.click()
    editor = page.locator("textarea[name=description]")
    editor.wait_for()
    editor.fill("\n\n".join(PAYLOADS))
    page.locator("button").filter(has_text="Preview").first.click()
    page.wait_for_load_state("networkidle")
    page.locator(".markdown").first.wait_for()
    assert not watcher.problems(), watcher.problems()


def test_no_payload_runs_in_the_list_filtered_by_a_payload(new_page, live_server, world):
    page = new_page(world.superuser)
    watcher = Watcher(page, live_server.url)
    visit(page, f"/p/{world.project.slug}/?q=" + '"><script>alert(1)</script>')
    chips = page.locator("a.chip, .chip a").all()[:5]
    for chip in chips:
        chip.click()
        page.wait_for_load_state("networkidle")
        page.go_back()
        page.wait_for_load_state("networkidle")
    assert not watcher.problems(), watcher.problems()


def test_the_watcher_notices_a_dialog_and_a_request_to_another_host(new_page, live_server, db):
    page = new_page()
    watcher = Watcher(page, live_server.url)
    # A blank page, not one of ours: Execboard's Content-Security-Policy would block both.
    page.set_content('<img src="https://evil.example/x.png"><script>alert("caught")</script>')
    page.wait_for_load_state("networkidle")
    assert watcher.dialogs == ["caught"]
    assert watcher.foreign == ["https://evil.example/x.png"]
