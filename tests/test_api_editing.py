"""Editing after the run through the API: the description with optimistic concurrency,
labels with the SPEC rules, and the history of both."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from executions.models import Change, Label
from executions.services import description_update, labels_update
from projects.models import Role
from tests.factories import (
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_execution,
    make_token,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def execution(project):
    return make_execution(project, labels={"team": "nlp"}, description="first")


def detail_url(execution) -> str:
    return f"/api/v1/executions/{execution.pk}/"


def labels_url(execution, key: str = "") -> str:
    return f"/api/v1/executions/{execution.pk}/labels/" + (f"{key}/" if key else "")


def history_url(execution) -> str:
    return f"/api/v1/executions/{execution.pk}/history/"


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(user)}")
    return client


def snapshot(execution) -> tuple:
    """Everything an edit could touch, to show that a refused request changed nothing."""
    execution.refresh_from_db()
    return (
        execution.description,
        execution.description_version,
        execution.labels,
        sorted(Label.objects.filter(execution=execution).values_list("key", "value")),
        Change.objects.filter(execution=execution).count(),
    )


# Description ----------------------------------------------------------------------------


def test_patching_the_description_with_its_version_saves_it_and_bumps_the_version(api, execution):
    response = api.patch(
        detail_url(execution), {"description": "second", "description_version": 0}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["description"], body["description_version"]) == ("second", 1)
    assert response["ETag"] == '"1"'
    change = Change.objects.get(execution=execution)
    assert (change.field, change.by, change.old, change.new) == (
        "description",
        "anne",
        "first",
        "second",
    )


@pytest.mark.parametrize("header", ['"0"', "0", 'W/"0"'])
def test_patching_with_if_match_works_like_description_version(api, execution, header):
    response = api.patch(
        detail_url(execution), {"description": "second"}, format="json", HTTP_IF_MATCH=header
    )
    assert response.status_code == 200
    assert response.json()["description_version"] == 1


def test_the_etag_of_get_is_what_if_match_expects(api, execution):
    etag = api.get(detail_url(execution))["ETag"]
    response = api.patch(
        detail_url(execution), {"description": "second"}, format="json", HTTP_IF_MATCH=etag
    )
    assert response.status_code == 200


@pytest.mark.parametrize("how", ["body", "if-match"])
def test_a_stale_version_is_a_409_with_the_current_text_and_version(api, execution, how):
    description_update(execution_id=execution.pk, text="theirs", expected_version=0, by="bob")
    before = snapshot(execution)
    if how == "body":
        response = api.patch(
            detail_url(execution), {"description": "mine", "description_version": 0}, format="json"
        )
    else:
        response = api.patch(
            detail_url(execution), {"description": "mine"}, format="json", HTTP_IF_MATCH='"0"'
        )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "description_conflict"
    assert (error["description"], error["description_version"]) == ("theirs", 1)
    assert "changed by someone else" in error["message"]
    assert snapshot(execution) == before


def test_the_body_version_wins_over_if_match(api, execution):
    response = api.patch(
        detail_url(execution),
        {"description": "mine", "description_version": 0},
        format="json",
        HTTP_IF_MATCH='"7"',
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "headers", "field", "message"),
    [
        ({"description": "x"}, {}, "description_version", "Send the description_version"),
        ({"description": "x", "description_version": "one"}, {}, "description_version", "whole"),
        ({"description": "x", "description_version": -1}, {}, "description_version", "whole"),
        ({"description": "x", "description_version": True}, {}, "description_version", "whole"),
        ({"description": "x"}, {"HTTP_IF_MATCH": "*"}, "description_version", "whole"),
        ({"description_version": 0}, {}, "description", "description is required"),
        ({"description": 5, "description_version": 0}, {}, "description", "string"),
        ({"description": "x", "description_version": 0, "phase": "FAILED"}, {}, None, "phase"),
    ],
)
def test_a_bad_patch_is_a_400_that_changes_nothing(api, execution, body, headers, field, message):
    before = snapshot(execution)
    response = api.patch(detail_url(execution), body, format="json", **headers)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == field
    assert message in error["message"]
    assert snapshot(execution) == before


def test_a_patch_body_that_is_not_an_object_is_refused(api, execution):
    response = api.patch(detail_url(execution), ["x"], format="json")
    assert response.status_code == 400


def test_saving_the_same_text_again_keeps_the_version_and_adds_no_history(api, execution):
    response = api.patch(
        detail_url(execution), {"description": "first", "description_version": 0}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["description_version"] == 0
    assert not Change.objects.exists()


# Labels ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["put", "post"])
def test_labels_are_added_and_changed_with_history(api, execution, method):
    response = getattr(api, method)(
        labels_url(execution),
        {"labels": {"team": "vision", "example.com/stage": "eval", "smoke": ""}},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["labels"] == {
        "team": "vision",
        "example.com/stage": "eval",
        "smoke": "",
        "user": "anne",
    }
    rows = set(Label.objects.filter(execution=execution).values_list("key", "value"))
    assert rows == {
        ("team", "vision"),
        ("example.com/stage", "eval"),
        ("smoke", ""),
        ("user", "anne"),
    }
    history = set(Change.objects.values_list("field", "key", "old", "new", "by"))
    assert history == {
        ("label", "team", "nlp", "vision", "anne"),
        ("label", "example.com/stage", None, "eval", "anne"),
        ("label", "smoke", None, "", "anne"),
    }


def test_setting_a_label_to_its_current_value_adds_no_history(api, execution):
    response = api.post(labels_url(execution), {"labels": {"team": "nlp"}}, format="json")
    assert response.status_code == 200
    assert not Change.objects.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"labels": {"bad key": "x"}}, "a key name starts and ends"),
        ({"labels": {"-team": "x"}}, "a key name starts and ends"),
        ({"labels": {"UPPER.example/x": "y"}}, "DNS subdomain"),
        ({"labels": {"k" * 64: "x"}}, "at most 63"),
        ({"labels": {"team": "v" * 257}}, "at most 256"),
        ({"labels": {"team": "a\nb"}}, "control"),
        ({"labels": {"team": 5}}, "must be a string"),
        ({"labels": {"user": "bob"}}, "reserved for namespaces"),
        ({"labels": {"production": "x"}}, "reserved for namespaces"),
        ({"labels": {f"k{i}": "v" for i in range(16)}}, "at most 16 labels"),
        ({"labels": ["team:nlp"]}, "object of key to value"),
        ({"labels": "team:nlp"}, "object of key to value"),
        ({}, "labels is required"),
        ({"labels": {"good": "x", "bad key": "y"}}, "a key name"),
    ],
)
def test_bad_labels_are_a_400_that_changes_nothing(api, execution, body, message):
    before = snapshot(execution)
    response = api.post(labels_url(execution), body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == "labels"
    assert message in error["message"]
    assert snapshot(execution) == before


def test_deleting_a_label_removes_it_with_history(api, execution):
    labels_update(execution_id=execution.pk, by="bob", set_labels={"example.com/stage": "eval"})
    response = api.delete(labels_url(execution, "example.com/stage"))
    assert response.status_code == 200
    assert "example.com/stage" not in response.json()["labels"]
    assert not Label.objects.filter(execution=execution, key="example.com/stage").exists()
    newest = Change.objects.filter(execution=execution).first()
    assert (newest.key, newest.old, newest.new, newest.by) == (
        "example.com/stage",
        "eval",
        None,
        "anne",
    )


def test_deleting_a_label_the_execution_does_not_have_is_a_404(api, execution):
    before = snapshot(execution)
    response = api.delete(labels_url(execution, "nope"))
    assert response.status_code == 404
    assert "no label 'nope'" in response.json()["error"]["message"]
    assert snapshot(execution) == before


def test_a_namespace_label_cannot_be_deleted(api, execution):
    before = snapshot(execution)
    response = api.delete(labels_url(execution, "user"))
    assert response.status_code == 400
    assert "reserved for namespaces" in response.json()["error"]["message"]
    assert snapshot(execution) == before


# History --------------------------------------------------------------------------------


def test_history_lists_label_and_description_changes_newest_first(api, execution):
    labels_update(execution_id=execution.pk, by="bob", set_labels={"team": "vision"})
    description_update(execution_id=execution.pk, text="second", expected_version=0, by="chen")
    api.delete(labels_url(execution, "team"))
    response = api.get(history_url(execution))
    assert response.status_code == 200
    rows = [(r["by"], r["field"], r["key"], r["old"], r["new"]) for r in response.json()]
    assert rows == [
        ("anne", "label", "team", "vision", None),
        ("chen", "description", "", "first", "second"),
        ("bob", "label", "team", "nlp", "vision"),
    ]
    assert set(response.json()[0]) == {"at", "by", "field", "key", "old", "new"}
    times = [r["at"] for r in response.json()]
    assert times == sorted(times, reverse=True)


def test_an_execution_without_changes_has_an_empty_history(api, execution):
    assert api.get(history_url(execution)).json() == []


# Permissions ----------------------------------------------------------------------------

WRITES = [
    ("patch", detail_url, {"description": "x", "description_version": 0}),
    ("post", labels_url, {"labels": {"a": "b"}}),
    ("put", labels_url, {"labels": {"a": "b"}}),
    ("delete", lambda e: labels_url(e, "team"), None),
]


@pytest.mark.parametrize(("method", "url", "body"), WRITES)
def test_writes_without_a_token_are_a_401(anon_api, execution, method, url, body):
    before = snapshot(execution)
    response = getattr(anon_api, method)(url(execution), body, format="json")
    assert response.status_code == 401
    assert snapshot(execution) == before


@pytest.mark.parametrize(("method", "url", "body"), WRITES)
def test_writes_by_a_viewer_are_a_403(execution, method, url, body):
    viewer = MembershipFactory(project=execution.project, role=Role.VIEWER).user
    before = snapshot(execution)
    response = getattr(token_client(viewer), method)(url(execution), body, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert snapshot(execution) == before


@pytest.mark.parametrize(("method", "url", "body"), WRITES)
def test_writes_by_a_stranger_to_the_project_are_a_404(execution, method, url, body):
    stranger = MembershipFactory(project=ProjectFactory(slug="other")).user
    before = snapshot(execution)
    response = getattr(token_client(stranger), method)(url(execution), body, format="json")
    assert response.status_code == 404
    assert snapshot(execution) == before


def test_a_token_limited_to_another_project_cannot_write(editor, execution):
    other = ProjectFactory(slug="other")
    MembershipFactory(project=other, user=editor)
    key = make_token(editor, name="scoped")
    editor.api_tokens.get(name="scoped").projects.set([other])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.post(labels_url(execution), {"labels": {"a": "b"}}, format="json")
    assert response.status_code == 404


def test_an_unknown_execution_is_a_404(api):
    assert api.get("/api/v1/executions/nosuchid/history/").status_code == 404
    response = api.patch(
        "/api/v1/executions/nosuchid/",
        {"description": "x", "description_version": 0},
        format="json",
    )
    assert response.status_code == 404


def test_a_viewer_can_read_the_history(execution):
    viewer = MembershipFactory(project=execution.project, role=Role.VIEWER).user
    assert token_client(viewer).get(history_url(execution)).status_code == 200


def test_history_is_hidden_from_strangers_and_anonymous_users(anon_api, execution):
    stranger = UserFactory(username="stranger")
    assert token_client(stranger).get(history_url(execution)).status_code == 404
    assert anon_api.get(history_url(execution)).status_code == 404


def test_with_public_read_anyone_reads_the_history_but_writing_still_needs_a_token(
    anon_api, execution, settings
):
    settings.EXECBOARD_PUBLIC_READ = True
    assert anon_api.get(history_url(execution)).status_code == 200
    response = anon_api.patch(
        detail_url(execution), {"description": "x", "description_version": 0}, format="json"
    )
    assert response.status_code == 401


def test_a_session_write_needs_the_csrf_token(editor, execution):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(editor)
    before = snapshot(execution)
    response = client.patch(
        detail_url(execution), {"description": "x", "description_version": 0}, format="json"
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]
    assert snapshot(execution) == before
