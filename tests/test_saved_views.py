"""Saved views: a named list query shared in the project."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from executions.models import SavedView
from projects.models import Role
from tests.factories import MembershipFactory, UserFactory


@pytest.fixture
def client_for(editor):
    client = Client()
    client.force_login(editor)
    return client


def save(client, project, **data):
    return client.post(reverse("executions:saved-view-save", args=[project.slug]), data)


def test_saving_a_view_keeps_the_query_without_its_cursor_and_opens_it(client_for, project):
    response = save(
        client_for,
        project,
        name="failed nlp",
        query_string="q=team%3Anlp&phase=FAILED&group_by=experiment&cursor=abc",
    )
    view = SavedView.objects.get(project=project)
    assert (view.name, view.created_by) == ("failed nlp", "anne")
    assert view.query_string == "q=team%3Anlp&phase=FAILED&group_by=experiment"
    assert response.status_code == 302
    assert response["Location"].endswith("/p/nlp/?" + view.query_string)


def test_saved_views_are_listed_with_links_to_the_list(client_for, project):
    SavedView.objects.create(
        project=project, name="mine", query_string="namespace=user%3Aanne", created_by="anne"
    )
    html = client_for.get(reverse("executions:saved-views", args=[project.slug])).content.decode()
    assert 'href="/p/nlp/?namespace=user%3Aanne">mine</a>' in html
    fragment = client_for.get(
        reverse("executions:saved-views", args=[project.slug]), headers={"HX-Request": "true"}
    ).content.decode()
    assert fragment.lstrip().startswith('<div id="saved-views"')


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "query_string": "q=a"}, "needs a name"),
        ({"name": "x" * 101, "query_string": "q=a"}, "needs a name"),
        ({"name": "bad", "query_string": "q=team%3A"}, "Syntax error at column 5"),
        ({"name": "bad", "query_string": "sort_by.key=size"}, "Unknown sort key"),
    ],
)
def test_a_bad_view_is_refused_with_a_message_and_nothing_saved(client_for, project, data, message):
    response = save(client_for, project, **data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not SavedView.objects.exists()


def test_a_name_already_taken_is_a_conflict(client_for, project):
    save(client_for, project, name="nightly", query_string="")
    response = save(client_for, project, name="nightly", query_string="q=a")
    assert response.status_code == 409
    assert "already has a saved view named &#x27;nightly&#x27;" in response.content.decode()
    assert SavedView.objects.get().query_string == ""


def test_viewers_cannot_save_or_delete_views(project):
    viewer = MembershipFactory(project=project, user=UserFactory(username="vic"), role=Role.VIEWER)
    client = Client()
    client.force_login(viewer.user)
    assert save(client, project, name="x", query_string="").status_code == 403
    view = SavedView.objects.create(project=project, name="v", query_string="", created_by="anne")
    url = reverse("executions:saved-view-delete", args=[project.slug, view.pk])
    assert client.post(url).status_code == 403
    assert SavedView.objects.filter(pk=view.pk).exists()


def test_an_editor_deletes_a_view(client_for, project):
    view = SavedView.objects.create(project=project, name="v", query_string="", created_by="bob")
    url = reverse("executions:saved-view-delete", args=[project.slug, view.pk])
    assert client_for.post(url).status_code == 302
    assert not SavedView.objects.exists()
    assert client_for.post(url).status_code == 404


def test_the_list_page_offers_to_save_the_current_view_to_editors(client_for, project):
    html = client_for.get("/p/nlp/?q=team:nlp&cursor=").content.decode()
    assert 'name="query_string" value="q=team%3Anlp"' in html
