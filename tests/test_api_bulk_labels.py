"""POST /api/v1/executions/bulk-labels/ (SPEC §10): add or remove labels on executions named
by id or matched by the list's parameters, all or nothing, with history."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from executions.models import Change, Execution, Label
from projects.models import Role
from tests.factories import (
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_execution,
    make_token,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/executions/bulk-labels/"


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(user)}")
    return client


def snapshot() -> tuple:
    """Every label and history row, to show that a refused request changed nothing."""
    return (
        sorted((e.pk, sorted(e.labels.items())) for e in Execution.objects.all()),
        sorted(Label.objects.values_list("execution_id", "key", "value")),
        Change.objects.count(),
    )


def label_rows(execution) -> dict[str, str]:
    return dict(Label.objects.filter(execution=execution).values_list("key", "value"))


@pytest.fixture
def runs(project):
    """Three executions of the project: two of team nlp, one of team cv."""
    return [
        make_execution(project, labels={"team": "nlp", "model": "bert"}),
        make_execution(project, labels={"team": "nlp"}),
        make_execution(project, labels={"team": "cv"}),
    ]


def test_labels_are_added_to_executions_named_by_id(api, runs):
    response = api.post(
        URL, {"ids": [runs[0].pk, runs[2].pk], "add": {"stage": "eval"}}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {"matched": 2, "changed": 2, "dry_run": False}
    for execution in runs:
        execution.refresh_from_db()
    assert runs[0].labels["stage"] == runs[2].labels["stage"] == "eval"
    assert "stage" not in runs[1].labels
    assert label_rows(runs[0])["stage"] == "eval"


def test_labels_are_changed_on_everything_the_list_parameters_match(api, runs):
    response = api.post(
        URL,
        {"project": "nlp", "q": "team:nlp", "add": {"reviewed": ""}, "remove": ["model"]},
        format="json",
    )
    assert response.json() == {"matched": 2, "changed": 2, "dry_run": False}
    for execution in runs:
        execution.refresh_from_db()
    assert runs[0].labels == {"team": "nlp", "reviewed": "", "user": "anne"}
    assert runs[1].labels == {"team": "nlp", "reviewed": "", "user": "anne"}
    assert "reviewed" not in runs[2].labels


def test_the_selection_can_span_every_project_the_caller_may_read(api, runs, editor):
    other = ProjectFactory(slug="cv")
    MembershipFactory(project=other, user=editor)
    elsewhere = make_execution(other, labels={"team": "nlp"})
    response = api.post(URL, {"q": "team:nlp", "add": {"stage": "eval"}}, format="json")
    assert response.json()["matched"] == 3
    elsewhere.refresh_from_db()
    assert elsewhere.labels["stage"] == "eval"


def test_a_dry_run_counts_and_changes_nothing(api, runs):
    before = snapshot()
    response = api.post(
        URL, {"project": "nlp", "add": {"team": "nlp"}, "dry_run": True}, format="json"
    )
    assert response.json() == {"matched": 3, "changed": 1, "dry_run": True}
    assert snapshot() == before


def test_each_changed_execution_gets_its_history_and_unchanged_ones_none(api, runs):
    response = api.post(
        URL, {"project": "nlp", "add": {"team": "nlp"}, "remove": ["model"]}, format="json"
    )
    assert response.json() == {"matched": 3, "changed": 2, "dry_run": False}
    assert not Change.objects.filter(execution=runs[1]).exists()
    assert list(
        Change.objects.filter(execution=runs[0]).values_list("by", "field", "key", "old", "new")
    ) == [("anne", "label", "model", "bert", None)]
    assert list(
        Change.objects.filter(execution=runs[2]).values_list("by", "field", "key", "old", "new")
    ) == [("anne", "label", "team", "cv", "nlp")]
    history = api.get(f"/api/v1/executions/{runs[2].pk}/history/").json()
    assert [(h["key"], h["old"], h["new"], h["by"]) for h in history] == [
        ("team", "cv", "nlp", "anne")
    ]


def test_removing_a_key_an_execution_lacks_is_no_change_for_it(api, runs):
    response = api.post(URL, {"project": "nlp", "remove": ["model"]}, format="json")
    assert response.json() == {"matched": 3, "changed": 1, "dry_run": False}
    assert Change.objects.count() == 1


def test_the_label_rows_agree_with_the_labels_so_the_list_finds_the_new_label(api, runs):
    api.post(
        URL,
        {"project": "nlp", "q": "team:nlp", "add": {"stage": "eval", "team": "ml"}},
        format="json",
    )
    for execution in runs:
        execution.refresh_from_db()
        assert label_rows(execution) == execution.labels
        assert Label.objects.filter(execution=execution).first().created_at == (
            execution.created_at
        )
    listed = api.get("/api/v1/executions/", {"project": "nlp", "q": "stage:eval team:ml"})
    assert sorted(row["id"] for row in listed.json()["results"]) == sorted([runs[0].pk, runs[1].pk])
    assert (
        api.get("/api/v1/executions/", {"project": "nlp", "q": "team:nlp"}).json()["results"] == []
    )


def test_a_selection_over_the_limit_is_refused_and_changes_nothing(api, runs, settings):
    settings.EXECBOARD_BULK_LIMIT = 2
    before = snapshot()
    response = api.post(URL, {"project": "nlp", "add": {"stage": "eval"}}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_many"
    assert "more than 2 executions" in response.json()["error"]["message"]
    by_id = api.post(URL, {"ids": [r.pk for r in runs], "add": {"x": "1"}}, format="json")
    assert by_id.status_code == 400
    assert snapshot() == before


@pytest.mark.parametrize(
    "changes",
    [{"add": {"user": "bob"}}, {"remove": ["user"]}, {"add": {"production": "nightly"}}],
)
def test_namespace_keys_are_refused(api, runs, changes):
    before = snapshot()
    response = api.post(URL, {"project": "nlp", **changes}, format="json")
    assert response.status_code == 400
    assert "reserved for namespaces" in response.json()["error"]["message"]
    assert snapshot() == before


def test_an_execution_that_would_pass_the_label_cap_is_named_and_nothing_changes(
    api, project, settings
):
    settings.EXECBOARD_MAX_LABELS = 3
    roomy = make_execution(project, labels={"a": "1"})
    full = make_execution(project, labels={"a": "1", "b": "2", "c": "3"})
    before = snapshot()
    response = api.post(URL, {"ids": [roomy.pk, full.pk], "add": {"d": "4"}}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert full.pk in error["message"] and error["execution"] == full.pk
    assert "at most 3 labels" in error["message"]
    assert snapshot() == before


def test_the_label_cap_counts_project_defaults_but_not_namespace_labels(api, project, settings):
    settings.EXECBOARD_MAX_LABELS = 2
    project.replace_default_labels({"team": "nlp"})
    execution = make_execution(project)  # team:nlp and user:anne
    response = api.post(URL, {"ids": [execution.pk], "add": {"stage": "eval"}}, format="json")
    assert response.json()["changed"] == 1
    response = api.post(URL, {"ids": [execution.pk], "add": {"more": "x"}}, format="json")
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"add": {}}, "add"),
        ({"add": {"team": "x"}, "remove": ["team"]}, "remove"),
        ({"add": {"bad key": "x"}}, "add"),
        ({"add": {"k": "a\nb"}}, "add"),
        ({"add": {"k": 5}}, "add"),
        ({"add": ["k"]}, "add"),
        ({"remove": "k"}, "remove"),
        ({"remove": [5]}, "remove"),
        ({"add": {"k": "v"}, "dry_run": "yes"}, "dry_run"),
        ({"add": {"k": "v"}, "sort_by.key": "name"}, "sort_by.key"),
        ({"add": {"k": "v"}, "limit": 5}, "limit"),
    ],
)
def test_bad_changes_and_unknown_fields_are_refused(api, runs, body, field):
    before = snapshot()
    response = api.post(URL, {"project": "nlp", **body}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    assert snapshot() == before


@pytest.mark.parametrize(
    ("selection", "field"),
    [
        ({}, "ids"),
        ({"ids": []}, "ids"),
        ({"ids": "abc"}, None),
        ({"ids": [1, 2]}, "ids"),
        ({"ids": ["a"], "q": "team:nlp"}, "q"),
        ({"project": "nlp", "q": "team:nlp and ("}, None),
        ({"project": "nlp", "phase": "NOPE"}, "phase"),
        ({"project": "nlp", "filters": "eq(nope,1)"}, None),
        ({"project": "nlp", "q": 5}, "q"),
        ({"project": "nlp", "q": "team:\x00"}, "q"),
        ({"project": ["nlp"]}, "project"),
    ],
)
def test_bad_selections_are_refused(api, runs, selection, field):
    before = snapshot()
    response = api.post(URL, {**selection, "add": {"k": "v"}}, format="json")
    if selection == {"ids": "abc"}:  # a single id is a list of one, and not found
        assert response.status_code == 404
        return
    assert response.status_code == 400
    if field:
        assert response.json()["error"]["field"] == field
    assert snapshot() == before


def test_phase_may_be_a_list_as_the_list_takes_it(api, runs):
    response = api.post(
        URL, {"project": "nlp", "phase": ["UNDEFINED", "FAILED"], "add": {"k": ""}}, format="json"
    )
    assert response.json()["matched"] == 3


def test_an_unreadable_id_is_not_found_and_nothing_changes(api, runs):
    hidden = make_execution(ProjectFactory(slug="secret"), labels={"team": "nlp"})
    before = snapshot()
    response = api.post(URL, {"ids": [runs[0].pk, hidden.pk], "add": {"k": "v"}}, format="json")
    assert response.status_code == 404
    assert hidden.pk in response.json()["error"]["message"]
    missing = api.post(URL, {"ids": ["nosuchid00", "NOT/AN-ID"], "add": {"k": "v"}}, format="json")
    assert missing.status_code == 404
    assert snapshot() == before


def test_a_viewer_is_refused_with_403_and_nothing_changes(project, runs):
    viewer = MembershipFactory(project=project, user=UserFactory(username="vic"), role=Role.VIEWER)
    client = token_client(viewer.user)
    before = snapshot()
    by_ids = client.post(URL, {"ids": [runs[0].pk], "add": {"k": "v"}}, format="json")
    by_project = client.post(URL, {"project": "nlp", "add": {"k": "v"}}, format="json")
    assert (by_ids.status_code, by_project.status_code) == (403, 403)
    assert snapshot() == before


def test_every_matched_project_needs_the_editor_role(api, runs, editor):
    other = ProjectFactory(slug="cv")
    MembershipFactory(project=other, user=editor, role=Role.VIEWER)
    make_execution(other, labels={"team": "nlp"})
    before = snapshot()
    response = api.post(URL, {"q": "team:nlp", "add": {"k": "v"}}, format="json")
    assert response.status_code == 403
    assert "cv" in response.json()["error"]["message"]
    assert snapshot() == before


def test_a_token_limited_to_another_project_cannot_reach_these_executions(editor, runs):
    other = ProjectFactory(slug="cv")
    MembershipFactory(project=other, user=editor)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(editor, projects=[other])}")
    response = client.post(URL, {"ids": [runs[0].pk], "add": {"k": "v"}}, format="json")
    assert response.status_code == 404


def test_writing_needs_a_token(anon_api, runs):
    response = anon_api.post(URL, {"ids": [runs[0].pk], "add": {"k": "v"}}, format="json")
    assert response.status_code == 401


@pytest.mark.parametrize("by_ids", [True, False])
def test_the_statements_do_not_grow_with_the_selection(
    api, project, by_ids, django_assert_max_num_queries
):
    def body(executions, value):
        selection = {"ids": [e.pk for e in executions]} if by_ids else {"project": "nlp"}
        return {**selection, "add": {"stage": value}, "remove": ["model"]}

    few = [make_execution(project, labels={"model": "m"}) for _ in range(5)]
    with CaptureQueriesContext(connection) as queries:
        assert api.post(URL, body(few, "a"), format="json").json()["changed"] == 5
    many = few + [make_execution(project, labels={"model": "m"}) for _ in range(45)]
    with django_assert_max_num_queries(len(queries)):
        assert api.post(URL, body(many, "b"), format="json").json()["changed"] == 50
