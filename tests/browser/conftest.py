"""Playwright driving Debian's Chromium against pytest-django's live server.

Browser tests skip when /usr/bin/chromium is missing, unless EXECBOARD_REQUIRE_BROWSER=1
(set by .ci/run), where a missing browser is a failure."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# around it are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("EXECBOARD_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, live_server):
    """``new_page(user=None)`` → a page in a fresh context, signed in as ``user`` if given."""
    contexts = []

    def make(user=None):
        context = browser.new_context(base_url=live_server.url)
        if user is not None:
            client = Client()
            client.force_login(user)
            cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
            context.add_cookies(
                [{"name": cookie.key, "value": cookie.value, "url": live_server.url}]
            )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


# axe-core (the npm package) checks pages for WCAG problems. It is not vendored: install it
# with `npm install axe-core@4` in the repository or in /tmp, or point EXECBOARD_AXE at axe.min.js.
AXE_CANDIDATES = [
    os.environ.get("EXECBOARD_AXE", ""),
    str(Path(__file__).resolve().parents[2] / "node_modules/axe-core/axe.min.js"),
    "/tmp/node_modules/axe-core/axe.min.js",
]
WCAG_A_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture(scope="session")
def axe_source() -> str:
    for candidate in AXE_CANDIDATES:
        if candidate and Path(candidate).is_file():
            return Path(candidate).read_text(encoding="utf-8")
    message = "axe-core is missing: npm install axe-core@4 (or set EXECBOARD_AXE)"
    if os.environ.get("EXECBOARD_REQUIRE_BROWSER") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def axe(axe_source):
    """``axe(page, tags=WCAG_A_AA)`` → the page's axe-core violations as readable lines
    (rule, impact, the failing elements); an empty list when the page passes. The script is
    evaluated through the DevTools protocol, which the page's Content-Security-Policy allows."""

    def check(page, tags=WCAG_A_AA) -> list[str]:
        if not page.evaluate("() => typeof window.axe !== 'undefined'"):
            page.evaluate(axe_source)
        violations = page.evaluate(
            """tags => axe.run(document, {runOnly: {type: "tag", values: tags},
                                          resultTypes: ["violations"]})
                      .then(r => r.violations)""",
            tags,
        )
        return [
            f"{v['id']} ({v['impact']}): {v['help']} — "
            + "; ".join(
                f"{' '.join(n['target'])}: {n.get('failureSummary', '').strip()}"
                for n in v["nodes"][:5]
            )
            for v in violations
        ]

    return check
