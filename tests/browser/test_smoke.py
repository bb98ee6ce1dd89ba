from __future__ import annotations

import pytest

from tests.factories import make_execution

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_project_page_links_an_execution_by_its_name_in_a_real_browser(
    new_page, project, editor
):
    execution = make_execution(project, labels={"name": "first run"})
    page = new_page(editor)
    page.goto(f"/p/{project.slug}/")
    link = page.locator(f"a[href='{execution.get_absolute_url()}']")
    assert link.first.inner_text().strip() == "first run"
