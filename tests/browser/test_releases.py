from __future__ import annotations

import pytest
from playwright.sync_api import expect

from executions import releases
from executions.models import Release
from tests.factories import make_succeeded_execution

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_editor_releases_an_execution_from_its_page_and_the_badge_appears(
    new_page, project, editor
):
    execution = make_succeeded_execution(project, workflow="train.wf")
    page = new_page(editor)
    page.goto(execution.get_absolute_url())
    panel = page.locator("#releases")
    expect(panel).to_contain_text("Not released.")
    panel.get_by_text("Release this execution").click()
    expect(panel.get_by_label("Artifact")).to_have_value("train.wf")
    panel.get_by_label("Next version").select_option("minor")
    panel.get_by_label("Stage (optional)").fill("staging")
    panel.get_by_role("button", name="Release").click()

    badge = page.locator("#releases .release-badge")
    expect(badge).to_have_text("train.wf@v0.1.0")
    expect(page.locator("#releases .stage-chip")).to_have_text("staging")
    # htmx swapped the panel in place: the page was not reloaded.
    assert page.url.endswith(execution.get_absolute_url())
    assert Release.objects.get().execution_id == execution.pk


def test_an_editor_assigns_a_stage_after_confirming_it_in_place(new_page, project, editor):
    created = releases.release_create(
        project=project,
        execution=make_succeeded_execution(project),
        artifact="model/nn",
        version="v1.0.0",
        by="anne",
    )
    page = new_page(editor)
    page.goto("/p/nlp/artifacts/model/nn/")
    page.get_by_label("Stage for v1.0.0").fill("prod")
    page.get_by_role("button", name="Assign…").click()

    confirm = page.locator("#stage-confirm")
    expect(confirm).to_contain_text("Assign model/nn@v1.0.0 to stage prod?")
    assert releases.artifact_detail(project, "model/nn").state.stages == {}
    confirm.get_by_role("button", name="Assign").click()

    expect(page.locator(f'tr[id="{created.version}"] .stage-chip')).to_contain_text("prod")
    state = releases.artifact_detail(project, "model/nn").state
    assert state.stages["prod"].release == created


def test_a_refused_release_shows_its_error_in_place_and_keeps_the_typed_note(
    new_page, project, editor
):
    releases.release_create(
        project=project,
        execution=make_succeeded_execution(project),
        artifact="nn",
        version="v1.0.0",
        by="anne",
    )
    execution = make_succeeded_execution(project)
    page = new_page(editor)
    page.goto(execution.get_absolute_url())
    panel = page.locator("#releases")
    panel.get_by_text("Release this execution").click()
    panel.get_by_label("Artifact").fill("nn")
    panel.get_by_label("or exactly").fill("1.0.0")
    panel.get_by_label("Note (Markdown)").fill("a careful note")
    panel.get_by_role("button", name="Release").click()

    expect(page.locator("#releases .error")).to_contain_text("nn@v1.0.0 is already released")
    # Shown in place by htmx, not by a page load.
    assert page.url.endswith(execution.get_absolute_url())
    expect(page.locator("#releases").get_by_label("Note (Markdown)")).to_have_value(
        "a careful note"
    )
    assert Release.objects.filter(execution=execution).count() == 0
