"""CSRF: every form and htmx post without the token is refused (403) and changes nothing;
the API refuses a session cookie without the token, while API tokens need none."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from rest_framework.test import APIClient

from executions.models import Execution
from projects.models import Role
from tests.factories import MembershipFactory, UserFactory, make_execution, make_token
from tests.snapshots import database_snapshot
from tests.urlwalk import endpoints

pytestmark = pytest.mark.django_db

PAGES = [e for e in endpoints() if not e.is_api]


@pytest.fixture
def execution(project):
    return make_execution(project, labels={"team": "nlp"}, description="before")


@pytest.fixture
def admin(project):
    user = UserFactory(username="admin", password="a-long-password")
    MembershipFactory(user=user, project=project, role=Role.ADMIN)
    return user


@pytest.fixture
def guarded(admin):
    """A signed-in browser whose requests go through the CSRF check, as real ones do."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    return client


def path_values(project, execution) -> dict:
    return {
        "slug": project.slug,
        "execution_id": execution.pk,
        "key": "team",
        "name": "load",
        "artifact": "train.wf",
        "version": "v1.0.0",
        "stage": "prod",
        "release_id": 1,
        "view_id": 1,
        "fmt": "csv",
    }


@pytest.mark.parametrize("endpoint", PAGES, ids=str)
@pytest.mark.parametrize("htmx", [False, True], ids=["form", "htmx"])
def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    guarded, project, execution, endpoint, htmx
):
    url = endpoint.url(path_values(project, execution))
    headers = {"HX-Request": "true"} if htmx else {}
    before = database_snapshot()
    response = guarded.post(
        url,
        {"description": "changed", "description_version": 0, "labels": "x:y", "key": "team"},
        headers=headers,
    )
    assert response.status_code == 403, f"POST {url}: {response.status_code}"
    assert database_snapshot() == before


def test_the_sign_in_form_needs_the_csrf_token(admin):
    response = Client(enforce_csrf_checks=True).post(
        "/accounts/login/", {"username": "admin", "password": "a-long-password"}
    )
    assert response.status_code == 403


def test_htmx_posts_carry_the_token_that_base_html_puts_on_the_body(guarded, project, execution):
    page = guarded.get(execution.get_absolute_url())
    match = re.search(r"<body[^>]*hx-headers='([^']*)'", page.content.decode())
    assert match, "base.html must set hx-headers with the CSRF token on <body>"
    headers = json.loads(match.group(1))
    assert set(headers) == {"X-CSRFToken"}
    response = guarded.post(
        f"/p/{project.slug}/e/{execution.pk}/description/edit/",
        {"description": "after", "description_version": 0},
        headers={"HX-Request": "true", **headers},
    )
    assert response.status_code == 200
    execution.refresh_from_db()
    assert execution.description == "after"


def test_a_session_cookie_without_the_token_cannot_write_through_the_api(admin, execution):
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(admin)
    before = database_snapshot()
    for method, url, body in [
        ("patch", f"/api/v1/executions/{execution.pk}/", {"description": "x"}),
        ("put", f"/api/v1/executions/{execution.pk}/labels/", {"labels": {"a": "b"}}),
        ("delete", f"/api/v1/executions/{execution.pk}/labels/team/", None),
        ("post", f"/api/v1/executions/{execution.pk}/events/", {"phase": "RUNNING"}),
        ("post", "/api/v1/executions/", {"project": "nlp", "domain": "development"}),
    ]:
        response = getattr(api, method)(url, body, format="json")
        assert response.status_code == 403, f"{method.upper()} {url}"
        assert "CSRF" in response.json()["error"]["message"]
    assert database_snapshot() == before


def test_a_session_with_the_token_may_write_through_the_api(admin, execution):
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(admin)
    api.get(execution.get_absolute_url())
    token = api.cookies["csrftoken"].value
    response = api.patch(
        f"/api/v1/executions/{execution.pk}/",
        {"description": "after", "description_version": 0},
        format="json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200


def test_api_tokens_need_no_csrf_token(editor, project):
    api = APIClient(enforce_csrf_checks=True)
    api.credentials(HTTP_AUTHORIZATION=f"Token {make_token(editor)}")
    response = api.post(
        "/api/v1/executions/",
        {"project": project.slug, "domain": "development", "workflow": "w"},
        format="json",
    )
    assert response.status_code == 201
    assert Execution.objects.count() == 1
