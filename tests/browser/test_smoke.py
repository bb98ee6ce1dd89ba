from __future__ import annotations

import pytest

from tests.factories import make_execution

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_project_page_shows_an_execution_in_a_real_browser(new_page, project, editor):
    execution = make_execution(project, labels={"name": "first run"})
    page = new_page(editor)
    page.goto(f"/p/{project.slug}/")
    assert page.get_by_role("link", name="first run").get_attribute("href") == (
        execution.get_absolute_url()
    )
