"""The execution page in a real browser: descriptions and labels edited in place."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from executions.models import Execution, Phase, Step
from projects.models import Role
from tests.factories import MembershipFactory, UserFactory, make_execution

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def execution(project):
    return make_execution(project, labels={"team": "nlp"}, description="Original **text**.")


def open_page(new_page, user, execution):
    page = new_page(user)
    page.goto(execution.get_absolute_url())
    return page


def start_editing(page):
    page.locator("#description").get_by_role("link", name="Edit").click()
    textarea = page.get_by_label("Description (Markdown)")
    expect(textarea).to_be_visible()
    return textarea


def test_edit_the_description_in_place_with_a_live_preview_and_save(new_page, editor, execution):
    page = open_page(new_page, editor, execution)
    address = page.url
    textarea = start_editing(page)
    expect(textarea).to_be_focused()
    textarea.fill("## Result\n\nIt went **well**.\n\n- fast\n- cheap")
    preview = page.locator("#description-preview")
    expect(preview.locator("h2")).to_have_text("Result")
    expect(preview.locator("strong")).to_have_text("well")
    page.get_by_role("button", name="Save").click()
    description = page.locator("#description > .markdown")
    expect(description.locator("h2")).to_have_text("Result")
    expect(page.get_by_label("Description (Markdown)")).to_have_count(0)
    assert page.url == address  # edited in place, no navigation
    expect(page.locator("#history")).to_contain_text("edited the description")
    page.reload()
    expect(page.locator("#description > .markdown li")).to_have_text(["fast", "cheap"])
    execution.refresh_from_db()
    assert execution.description == "## Result\n\nIt went **well**.\n\n- fast\n- cheap"
    assert execution.description_version == 1


def test_the_preview_button_renders_the_text_being_edited(new_page, editor, execution):
    page = open_page(new_page, editor, execution)
    textarea = start_editing(page)
    textarea.evaluate("(el, text) => { el.value = text; }", "| a | b |\n|---|---|\n| 1 | 2 |")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#description-preview table td")).to_have_text(["1", "2"])
    expect(textarea).to_be_visible()  # only the preview was replaced, not the editor
    expect(page.get_by_role("button", name="Save")).to_be_visible()
    execution.refresh_from_db()
    assert execution.description == "Original **text**."


def test_cancel_restores_the_description(new_page, editor, execution):
    page = open_page(new_page, editor, execution)
    start_editing(page).fill("Something I will throw away")
    page.get_by_role("link", name="Cancel").click()
    expect(page.locator("#description > .markdown strong")).to_have_text("text")
    expect(page.get_by_label("Description (Markdown)")).to_have_count(0)
    expect(page.locator("#description")).not_to_contain_text("throw away")
    execution.refresh_from_db()
    assert execution.description == "Original **text**."


def test_escape_cancels_and_ctrl_enter_saves(new_page, editor, execution):
    page = open_page(new_page, editor, execution)
    start_editing(page).fill("discarded")
    page.keyboard.press("Escape")
    expect(page.locator("#description > .markdown strong")).to_have_text("text")
    start_editing(page).fill("Saved from the *keyboard*")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#description > .markdown em")).to_have_text("keyboard")
    execution.refresh_from_db()
    assert execution.description == "Saved from the *keyboard*"


def test_a_concurrent_edit_shows_the_conflict_and_keeps_the_second_users_text(
    new_page, project, editor, execution
):
    bob = MembershipFactory(project=project, user=UserFactory(username="bob")).user
    first = open_page(new_page, editor, execution)
    second = open_page(new_page, bob, execution)
    start_editing(first)
    second_text = start_editing(second)

    first.get_by_label("Description (Markdown)").fill("Anne's version")
    first.get_by_role("button", name="Save").click()
    expect(first.locator("#description > .markdown")).to_have_text("Anne's version")

    second_text.fill("Bob's version, typed with care")
    second.get_by_role("button", name="Save").click()
    conflict = second.locator(".conflict")
    expect(conflict).to_contain_text("Someone else saved this description while you were editing.")
    expect(conflict.locator(".conflict-theirs")).to_have_text("Anne's version")
    expect(second.get_by_label("Description (Markdown)")).to_have_value(
        "Bob's version, typed with care"
    )
    execution.refresh_from_db()
    assert execution.description == "Anne's version"

    # Saving again, having seen the other text, replaces it on purpose.
    second.get_by_role("button", name="Save").click()
    expect(second.locator("#description > .markdown")).to_have_text(
        "Bob's version, typed with care"
    )
    execution.refresh_from_db()
    assert (execution.description, execution.description_version) == (
        "Bob's version, typed with care",
        2,
    )


def test_add_change_and_remove_a_label_in_place(new_page, editor, execution):
    page = open_page(new_page, editor, execution)
    address = page.url
    labels = page.locator("#labels")
    labels.get_by_label("New label").fill("stage:eval")
    labels.get_by_role("button", name="Add").click()
    chip = labels.get_by_role("link", name="stage:eval")
    expect(chip).to_be_visible()
    assert chip.get_attribute("href") == "/p/nlp/?q=stage%3Aeval"
    expect(page.locator("#history")).to_contain_text("added stage:eval")

    labels.get_by_role("link", name="Change team").click()
    value = labels.get_by_label("New value for team")
    value.fill("vision")
    value.press("Enter")
    expect(labels.get_by_role("link", name="team:vision")).to_be_visible()

    labels.get_by_role("button", name="Remove stage:eval").click()
    expect(labels.get_by_role("link", name="stage:eval")).to_have_count(0)
    expect(page.locator("#history")).to_contain_text("removed stage:eval")
    assert page.url == address
    execution.refresh_from_db()
    assert execution.labels == {"team": "vision", "user": "anne"}


def test_a_bad_label_shows_the_error_and_changes_nothing(new_page, editor, execution):
    page = open_page(new_page, editor, execution)
    labels = page.locator("#labels")
    labels.get_by_label("New label").fill("bad key:x")
    labels.get_by_role("button", name="Add").click()
    expect(labels.get_by_role("alert")).to_contain_text(
        "a key name starts and ends with a letter or digit"
    )
    expect(labels.get_by_label("New label")).to_have_value("bad key:x")
    expect(labels.locator(".label-item")).to_have_count(2)  # team and the namespace label
    execution.refresh_from_db()
    assert execution.labels == {"team": "nlp", "user": "anne"}
    assert not execution.changes.exists()


def test_the_timeline_has_one_bar_per_step(new_page, editor, execution):
    start = timezone.now() - timedelta(minutes=5)
    load = Step.objects.create(
        execution=execution,
        name="load",
        phase=Phase.SUCCEEDED,
        started_at=start,
        ended_at=start + timedelta(minutes=1),
    )
    Step.objects.create(
        execution=execution,
        name="load-part",
        parent=load,
        phase=Phase.SUCCEEDED,
        started_at=start,
        ended_at=start + timedelta(seconds=20),
    )
    Step.objects.create(
        execution=execution,
        name="train",
        phase=Phase.RUNNING,
        started_at=start + timedelta(minutes=1),
    )
    Step.objects.create(execution=execution, name="publish")
    page = open_page(new_page, editor, execution)
    svg = page.locator("svg.timeline-svg")
    expect(svg).to_be_visible()
    expect(svg.locator("rect.bar")).to_have_count(
        Execution.objects.get(pk=execution.pk).steps.count()
    )
    expect(svg.locator("g.step-row")).to_have_count(4)
    box = svg.locator("rect.bar").first.bounding_box()
    assert box and box["width"] > 10


def test_a_viewer_gets_no_edit_controls_and_the_copy_button_copies_the_id(
    new_page, project, execution
):
    viewer = MembershipFactory(
        project=project, role=Role.VIEWER, user=UserFactory(username="vic")
    ).user
    page = open_page(new_page, viewer, execution)
    expect(page.locator("#description").get_by_role("link", name="Edit")).to_have_count(0)
    expect(page.locator("#labels").get_by_label("New label")).to_have_count(0)
    copy = page.get_by_role("button", name="Copy the execution id")
    expect(copy).to_be_visible()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == execution.pk


def test_without_javascript_editing_is_a_plain_form_page(browser, live_server, editor, execution):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    client = Client()
    client.force_login(editor)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        page.goto(execution.get_absolute_url())
        page.locator("#description").get_by_role("link", name="Edit").click()
        page.wait_for_url("**/description/edit/")
        page.get_by_label("Description (Markdown)").fill("Written *without* JavaScript")
        page.get_by_role("button", name="Preview").click()
        expect(page.locator("#description-preview em")).to_have_text("without")
        page.get_by_role("button", name="Save").click()
        page.wait_for_url(f"**{execution.get_absolute_url()}#description")
        expect(page.locator("#description > .markdown em")).to_have_text("without")

        page.locator("#labels").get_by_label("New label").fill("stage:eval")
        page.locator("#labels").get_by_role("button", name="Add").click()
        expect(page.locator("#labels").get_by_role("link", name="stage:eval")).to_be_visible()
        page.locator("#labels").get_by_role("button", name="Remove stage:eval").click()
        expect(page.locator("#labels").get_by_role("link", name="stage:eval")).to_have_count(0)
    finally:
        context.close()
    execution.refresh_from_db()
    assert execution.description == "Written *without* JavaScript"
    assert [c.key for c in execution.changes.all()] == ["stage", "stage", ""]
