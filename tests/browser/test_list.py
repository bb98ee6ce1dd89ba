"""The executions list in a real browser: chips, the expression box, grouping, history."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from executions.models import Execution, Phase
from tests.factories import make_execution

pytestmark = pytest.mark.django_db(transaction=True)


def expression_in(url: str) -> str:
    return parse_qs(urlsplit(url).query).get("q", [""])[0]


@pytest.fixture
def teams(project):
    """Two nlp runs (bert, gpt) and one cv run, oldest first."""
    return [
        make_execution(project, labels={"team": "nlp", "model": "bert", "name": "nlp bert"}),
        make_execution(project, labels={"team": "nlp", "model": "gpt", "name": "nlp gpt"}),
        make_execution(project, labels={"team": "cv", "model": "gpt", "name": "cv gpt"}),
    ]


def rows(page):
    return page.locator("tr.execution")


def test_clicking_a_chip_filters_the_list_and_updates_the_url(new_page, project, editor, teams):
    page = new_page(editor)
    page.goto(f"/p/{project.slug}/")
    expect(rows(page)).to_have_count(3)
    page.locator("tr.execution a.chip", has_text="team:nlp").first.click()
    expect(rows(page)).to_have_count(2)
    page.wait_for_url(re.compile(r"q=team%3Anlp"))
    assert expression_in(page.url) == "team:nlp"
    expect(page.locator(".filter-chip")).to_have_text([re.compile("team:nlp")])
    expect(page.locator("#q")).to_have_value("team:nlp")


def test_removing_a_chip_widens_the_list(new_page, project, editor, teams):
    page = new_page(editor)
    page.goto(f"/p/{project.slug}/?q=team:nlp and model:gpt")
    expect(rows(page)).to_have_count(1)
    page.get_by_label("Remove filter team:nlp").click()
    expect(rows(page)).to_have_count(2)
    page.wait_for_url(lambda url: expression_in(url) == "model:gpt")


def test_or_and_not_from_the_chip_menu(new_page, project, editor, teams):
    page = new_page(editor)
    page.goto(f"/p/{project.slug}/?q=team:nlp")
    expect(rows(page)).to_have_count(2)

    page.get_by_label("Options for team:nlp").click()
    page.locator(".or-form input[name=or_value]").fill("cv")
    page.locator(".or-form").get_by_role("button", name="Add").click()
    expect(rows(page)).to_have_count(3)
    page.wait_for_url(lambda url: expression_in(url) == "team:nlp or team:cv")

    page.get_by_label("Options for team:nlp or team:cv").click()
    page.get_by_role("link", name="Exclude (not)").click()
    expect(rows(page)).to_have_count(0)
    page.wait_for_url(lambda url: expression_in(url) == "not (team:nlp or team:cv)")
    expect(page.locator(".filter-chip.negated")).to_have_count(1)


def test_typing_an_expression_filters_the_list(new_page, project, editor, teams):
    page = new_page(editor)
    page.goto(f"/p/{project.slug}/")
    page.locator("#q").fill("model:gpt and not team:cv")
    page.locator("#q").press("Enter")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("nlp gpt")
    page.wait_for_url(lambda url: expression_in(url) == "model:gpt and not team:cv")


def test_the_expression_box_suggests_values_of_a_key(new_page, project, editor, teams):
    page = new_page(editor)
    page.goto(f"/p/{project.slug}/")
    page.locator("#q").press_sequentially("model:g")
    suggestion = page.locator("#suggestions li[data-text]")
    expect(suggestion).to_have_count(1)
    suggestion.click()
    expect(page.locator("#q")).to_have_value("model:gpt ")


def test_a_syntax_error_is_shown_under_the_expression_box(new_page, project, editor, teams):
    page = new_page(editor)
    page.goto(f"/p/{project.slug}/")
    page.locator("#q").fill("team:nlp and (model:bert")
    page.locator("#q").press("Enter")
    error = page.get_by_role("alert")
    expect(error).to_contain_text("Syntax error at column 25")
    expect(rows(page)).to_have_count(0)


def test_grouping_by_experiment_then_group_shows_correct_counts(new_page, project, editor):
    for labels, phase in [
        ({"experiment": "e1", "group": "g1"}, Phase.SUCCEEDED),
        ({"experiment": "e1", "group": "g1"}, Phase.FAILED),
        ({"experiment": "e1", "group": "g2"}, Phase.SUCCEEDED),
        ({"experiment": "e2", "group": "g3"}, Phase.RUNNING),
        ({}, Phase.SUCCEEDED),
    ]:
        execution = make_execution(project, labels=labels)
        Execution.objects.filter(pk=execution.pk).update(phase=phase)
    page = new_page(editor)
    page.goto(f"/p/{project.slug}/")
    page.get_by_label("Group by").select_option("experiment,group")
    page.wait_for_url(re.compile(r"group_by=experiment%2Cgroup"))
    groups = page.locator("details.group:not(.sub) > summary")
    expect(groups).to_have_count(3)
    expect(groups.nth(0)).to_contain_text("e1")
    expect(groups.nth(0).locator(".group-count")).to_have_text("3")
    expect(groups.nth(0)).to_contain_text("2 succeeded")
    expect(groups.nth(0)).to_contain_text("1 failed")
    expect(groups.nth(1).locator(".group-count")).to_have_text("1")
    expect(groups.nth(2)).to_contain_text("ungrouped")

    groups.nth(0).click()
    subgroups = page.locator("details.group.sub > summary")
    expect(subgroups.filter(has_text="g1").locator(".group-count")).to_have_text("2")
    subgroups.filter(has_text="g1").click()
    expect(page.locator("details.group.sub[open] tr.execution")).to_have_count(2)


def test_the_back_button_restores_the_previous_list(new_page, project, editor, teams):
    page = new_page(editor)
    page.goto(f"/p/{project.slug}/")
    expect(rows(page)).to_have_count(3)
    page.locator("tr.execution a.chip", has_text="team:cv").first.click()
    expect(rows(page)).to_have_count(1)
    page.go_back()
    expect(rows(page)).to_have_count(3)
    assert expression_in(page.url) == ""
    page.go_forward()
    expect(rows(page)).to_have_count(1)
    assert expression_in(page.url) == "team:cv"


def test_load_more_appends_the_next_page(new_page, project, editor):
    for i in range(5):
        make_execution(project, labels={"name": f"run {i}"})
    page = new_page(editor)
    page.goto(f"/p/{project.slug}/?limit=2")
    expect(rows(page)).to_have_count(2)
    page.get_by_role("link", name="Load more").click()
    expect(rows(page)).to_have_count(4)
    page.get_by_role("link", name="Load more").click()
    expect(rows(page)).to_have_count(5)
    expect(page.get_by_role("link", name="Load more")).to_have_count(0)
    names = rows(page).locator("td.name > a").all_inner_texts()
    assert names == [f"run {i}" for i in reversed(range(5))]
    assert "cursor" not in page.url
