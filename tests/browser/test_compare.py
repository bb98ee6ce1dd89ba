"""The compare page in a real browser: differences highlighted, the "Only differences" toggle."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from executions.models import Step
from tests.factories import make_execution

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def trio(project):
    runs = [
        make_execution(
            project,
            labels={"name": f"run {i}", "team": "nlp", "model": model},
            inputs={"lr": lr, "layers": [1, 2]},
        )
        for i, (model, lr) in enumerate((("bert", 0.1), ("gpt", 0.1), ("bert", 0.01)))
    ]
    for run, seconds in zip(runs, (60, 60, 95), strict=True):
        Step.objects.create(
            execution=run, name="train", started_at=T0, ended_at=T0 + timedelta(seconds=seconds)
        )
    return runs


def row(page, key: str):
    return page.locator(f"tr.compare-row[data-key='{key}']")


def background(locator) -> str:
    return locator.evaluate("el => getComputedStyle(el).backgroundColor")


def test_differing_cells_are_highlighted_and_the_toggle_hides_equal_rows(
    new_page, project, editor, trio
):
    page = new_page(editor)
    ids = ",".join(run.pk for run in trio)
    page.goto(f"/p/{project.slug}/compare/?ids={ids}")

    headers = page.locator("th.compare-exec a")
    expect(headers).to_have_text(["run 0", "run 1", "run 2"])
    headers.nth(2).focus()  # the names are links to the executions
    expect(headers.nth(2)).to_have_attribute("href", trio[2].get_absolute_url())

    model, team = row(page, "model"), row(page, "team")
    expect(model.locator("td.differs")).to_have_count(3)
    expect(team.locator("td.differs")).to_have_count(0)
    assert background(model.locator("td").first) != background(team.locator("td").first)
    # Not colour alone: a visible mark and words for screen readers.
    expect(model.locator(".diff-mark")).to_be_visible()
    expect(model.get_by_role("rowheader")).to_have_accessible_name(re.compile("differs"))
    expect(row(page, "train").locator("td.differs")).to_have_count(3)

    page.get_by_role("link", name=re.compile("^Only differences")).click()
    expect(page).to_have_url(re.compile(r"only=diff"))
    expect(team).to_have_count(0)
    expect(row(page, "layers")).to_have_count(0)
    expect(row(page, "workflow")).to_have_count(0)
    expect(model).to_have_count(1)
    expect(row(page, "lr")).to_have_count(1)
    expect(page.get_by_role("link", name=re.compile("^Only differences"))).to_have_attribute(
        "aria-current", "true"
    )

    page.get_by_role("link", name=re.compile("^All rows")).click()
    expect(team).to_have_count(1)
    page.go_back()  # the toggle is in the history like any link
    expect(page).to_have_url(re.compile(r"only=diff"))
    expect(team).to_have_count(0)


def test_three_rows_selected_in_the_list_open_side_by_side(new_page, project, editor, trio):
    page = new_page(editor)
    page.goto(f"/p/{project.slug}/")
    for run in trio:
        page.get_by_label(f"Select {run.display_name}").check()
    page.get_by_role("button", name="Compare").click()
    expect(page).to_have_url(re.compile(rf"/p/{project.slug}/compare/\?"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Compare 3 executions")
    expect(page.locator("th.compare-exec a")).to_have_count(3)
    expect(row(page, "model").locator("td.differs")).to_have_count(3)


@pytest.fixture
def axe(request):
    """tests/browser/conftest.py's axe-core checker, where this checkout has it."""
    try:
        return request.getfixturevalue("axe")
    except pytest.FixtureLookupError:
        pytest.skip("tests/browser/conftest.py has no axe fixture")


def test_the_comparison_and_its_error_pass_axe(new_page, project, editor, trio, axe):
    page = new_page(editor)
    ids = ",".join(run.pk for run in trio)
    for query in (f"ids={ids}", f"ids={ids}&only=diff", "ids=one"):
        page.goto(f"/p/{project.slug}/compare/?{query}")
        assert axe(page) == [], query
