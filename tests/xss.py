"""Stored-XSS payloads planted in every user-written field, and a checker that an HTML page
renders them inert. Shared by tests/test_security_xss.py (HTML) and
tests/browser/test_xss.py (a real Chromium)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from executions import releases
from executions.events import record_event
from executions.models import Execution, SavedView
from executions.services import step_create
from projects.models import Project
from tests.factories import ProjectFactory, UserFactory, make_execution

# Every request a payload could make goes to this host; every script it could run calls
# alert(), which the browser test catches as a dialog.
EVIL = "evil.example"

PAYLOADS = [
    '<script>alert("xss-script")</script>',
    '<img src=x onerror=alert("xss-img")>',
    '<svg><script>alert("xss-svg")</script></svg>',
    '<svg onload=alert("xss-svg-onload")>',
    "<iframe srcdoc=\"<script>alert('xss-srcdoc')</script>\"></iframe>",
    f'<iframe src="https://{EVIL}/frame"></iframe>',
    f'<script src="https://{EVIL}/x.js"></script>',
    '[link](javascript:alert("xss-link"))',
    '[link](JaVaScRiPt:alert("xss-mixed-case"))',
    '<a href="&#106;avascript:alert(&#39;xss-entity&#39;)">entity</a>',
    '<a href="&#x6A;&#x61;vascript:alert(1)">hex entity</a>',
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<a href=\"data:text/html,<script>alert('xss-data')</script>\">data link</a>",
    f'<div hx-get="https://{EVIL}/hx" hx-trigger="load">hx-get</div>',
    '<button hx-on:click="alert(\'xss-hx-on\')" hx-on="click: alert(1)">hx-on</button>',
    f'<base href="https://{EVIL}/">',
    f'<meta http-equiv="refresh" content="0;url=https://{EVIL}/">',
    f'<link rel="stylesheet" href="https://{EVIL}/x.css">',
    f'<object data="https://{EVIL}/o"></object><embed src="https://{EVIL}/e">',
    f'<table><tr><td style="background:url(https://{EVIL}/bg)">cell</td></tr></table>',
    '"><script>alert("xss-attr-break")</script>',
    "'><img src=x onerror=alert('xss-quote-break')>",
    '</script><script>alert("xss-json-break")</script>',
    "</textarea><script>alert('xss-textarea')</script>",
]
MARKDOWN = "# Notes\n\n" + "\n\n".join(PAYLOADS)

# Spreadsheet formulas that CSV exports must neutralise.
FORMULAS = ['=HYPERLINK("https://evil.example","x")', "+1+1", "-2+3", "@SUM(1)"]


@dataclass
class XssWorld:
    project: Project
    execution: Execution
    release: object
    saved_view: SavedView
    superuser: object

    def path_values(self) -> dict:
        return {
            "slug": self.project.slug,
            "execution_id": self.execution.pk,
            "key": "k0",
            "name": self.execution.steps.first().name,
            "artifact": "nn",
            "version": "v1.0.0",
            "stage": "prod",
            "release_id": self.release.pk,
            "view_id": self.saved_view.pk,
            "fmt": "csv",
        }


def plant_payloads() -> XssWorld:
    """A project whose every user-written field carries a payload."""
    project = ProjectFactory(slug="xss", name=PAYLOADS[0], description=MARKDOWN)
    project.default_labels.create(key="origin", value=PAYLOADS[1])
    labels = {f"k{i}": payload[:256] for i, payload in enumerate(PAYLOADS[:12])}
    labels["name"] = PAYLOADS[20]
    execution = make_execution(
        project,
        workflow=PAYLOADS[21][:255],
        labels=labels,
        description=MARKDOWN,
        user_metadata={"note": PAYLOADS[2], PAYLOADS[3]: PAYLOADS[22]},
        inputs={"lr": PAYLOADS[4], "nested": {"x": PAYLOADS[13]}},
        launched_by="mallory",
    )
    more = {f"m{i}": payload[:256] for i, payload in enumerate(PAYLOADS[12:], start=12)}
    make_execution(
        project,
        labels={**more, "experiment": PAYLOADS[0], "group": PAYLOADS[1]},
        parent=execution.pk,
        description=MARKDOWN,
    )
    step_create(
        execution_id=execution.pk, name=PAYLOADS[14][:200], user_metadata={"s": PAYLOADS[15]}
    )
    record_event(execution_id=execution.pk, phase="RUNNING", message=PAYLOADS[16])
    record_event(execution_id=execution.pk, phase="SUCCEEDED", message=PAYLOADS[17])
    execution.refresh_from_db()
    release = releases.release_create(
        project=project,
        execution=execution,
        by="mallory",
        artifact="nn",
        version="v1.0.0",
        note=MARKDOWN,
        stage="prod",
    )
    saved_view = SavedView.objects.create(
        project=project, name=PAYLOADS[18], query_string="q=k0", created_by="mallory"
    )
    formulas = {f"f{i}": formula for i, formula in enumerate(FORMULAS)}
    make_execution(project, workflow=FORMULAS[0], labels=formulas, description=FORMULAS[1])
    superuser = UserFactory(username="root", is_superuser=True, is_staff=True)
    return XssWorld(project, execution, release, saved_view, superuser)


URL_ATTRIBUTES = {
    "href", "src", "action", "formaction", "xlink:href", "poster", "background", "data",
    "hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete",
}  # fmt: skip
FORBIDDEN_TAGS = {"iframe", "object", "embed", "frame", "frameset", "base", "applet"}
SCRIPT_TYPES_OK = {"application/json", "application/ld+json"}
DANGEROUS_SCHEME = re.compile(r"^(javascript|vbscript|data):", re.IGNORECASE)


def _normalise_url(value: str) -> str:
    # Browsers ignore whitespace and control characters inside a scheme.
    return re.sub(r"[\x00-\x20]", "", value)


class _InertChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        where = self.get_starttag_text()[:120]
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}> element: {where}")
        if tag == "meta" and (attributes.get("http-equiv") or "").lower() == "refresh":
            self.problems.append(f"meta refresh: {where}")
        if tag == "link" and EVIL in (attributes.get("href") or ""):
            self.problems.append(f"external stylesheet: {where}")
        if tag == "script":
            src = attributes.get("src")
            kind = (attributes.get("type") or "").lower()
            if src is not None:
                if not src.startswith("/"):
                    self.problems.append(f"script from elsewhere: {where}")
            elif kind not in SCRIPT_TYPES_OK:
                self._in_inline_script = True
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.problems.append(f"event handler attribute {name}: {where}")
            if name == "srcdoc":
                self.problems.append(f"srcdoc attribute: {where}")
            if name.startswith(("hx-on", "data-hx-on")):
                self.problems.append(f"{name} attribute: {where}")
            if name in URL_ATTRIBUTES or name.startswith("data-hx-"):
                url = _normalise_url(value)
                if DANGEROUS_SCHEME.match(url):
                    self.problems.append(f"{name} with a script or data URL: {where}")
                if url.startswith(("//", "http:", "https:")) and EVIL in url.split("?")[0]:
                    self.problems.append(f"{name} pointing at {EVIL}: {where}")
            if name == "style" and "url(" in value.lower():
                self.problems.append(f"style with a URL: {where}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_inline_script = False

    def handle_data(self, data):
        if self._in_inline_script and ("alert(" in data or EVIL in data):
            self.problems.append(f"a payload runs as inline script: {data[:120]}")


def inert_problems(html: str) -> list[str]:
    """What in ``html`` could run script or reach another host (empty when inert)."""
    checker = _InertChecker()
    checker.feed(html)
    checker.close()
    return checker.problems
