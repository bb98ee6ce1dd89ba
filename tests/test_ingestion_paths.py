"""The statements of the ingestion paths (BENCHMARKS.md, I1 and I2) and what they write."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from executions.models import Event, Execution, Label
from projects.models import ApiToken
from tests.factories import ProjectFactory, make_execution

pytestmark = pytest.mark.django_db

ON_POSTGRESQL = connection.vendor == "postgresql"
# Characters that COPY's text format and SQL give a meaning to, in keys and values.
AWKWARD = "back\\slash \\N 'quote' \"double\" %s {brace} ünï ✓ 😀"


def statements(captured: CaptureQueriesContext, table: str) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if f'"{table}"' in q["sql"]]


def scope_lookups(captured: CaptureQueriesContext) -> list[str]:
    """Queries of a token's projects other than the token lookup's own EXISTS."""
    return [q for q in statements(captured, "projects_apitoken_projects") if "key_hash" not in q]


def test_a_create_writes_the_execution_and_its_labels_in_one_statement(api, project):
    project.default_labels.create(key="team", value="nlp")
    with CaptureQueriesContext(connection) as create:
        response = api.post(
            "/api/v1/executions/",
            {"project": "nlp", "domain": "development", "workflow": "w", "labels": {"a": "b"}},
            format="json",
        )
    assert response.status_code == 201
    inserts = [q["sql"] for q in create.captured_queries if "INSERT" in q["sql"]]
    assert len(inserts) == (1 if ON_POSTGRESQL else 2)
    if ON_POSTGRESQL:
        assert not [q for q in create.captured_queries if "SAVEPOINT" in q["sql"]]
    execution = Execution.objects.get(pk=response.json()["id"])
    rows = Label.objects.filter(execution=execution)
    assert {row.key: row.value for row in rows} == {"team": "nlp", "a": "b", "user": "anne"}
    assert {(row.project_id, row.created_at) for row in rows} == {
        (project.pk, execution.created_at)
    }


def test_a_single_create_keeps_awkward_label_text_as_it_was_sent(api, project):
    labels = {"example.com/key_1.x": AWKWARD, "plain": "", "dots.and-dashes": "a\\tb"}
    response = api.post(
        "/api/v1/executions/",
        {"project": "nlp", "domain": "development", "workflow": "w", "labels": labels},
        format="json",
    )
    assert response.status_code == 201
    execution = Execution.objects.get(pk=response.json()["id"])
    expected = {**labels, "user": "anne"}
    assert execution.labels == expected
    assert dict(Label.objects.filter(execution=execution).values_list("key", "value")) == expected


def test_a_bulk_create_keeps_awkward_label_text_as_it_was_sent(api, project):
    items = [
        {
            "project": "nlp",
            "domain": "development",
            "workflow": "w",
            "labels": {"example.com/key_1.x": f"{AWKWARD} {i}", "tag": None, "i": str(i)},
        }
        for i in range(250)  # several batches of label rows
    ]
    response = api.post("/api/v1/executions/bulk/", {"executions": items}, format="json")
    assert response.status_code == 201
    for item, created in zip(items, response.json()["executions"], strict=True):
        expected = {**item["labels"], "tag": "", "user": "anne"}
        assert created["labels"] == expected
        rows = Label.objects.filter(execution_id=created["id"]).values_list("key", "value")
        assert dict(rows) == expected
    assert Label.objects.count() == 250 * 4


def test_an_event_locks_the_execution_in_one_statement_and_writes_in_another(api, project):
    execution = make_execution(project)
    url = f"/api/v1/executions/{execution.pk}/events/"
    api.get("/api/v1/projects/")  # the token's last use is written once a minute, not here
    with CaptureQueriesContext(connection) as event:
        assert api.post(url, {"phase": "RUNNING"}, format="json").status_code == 201
    selects = [
        q for q in statements(event, "executions_execution") if q.lstrip().startswith("SELECT")
    ]
    assert len(selects) == 1
    assert '"projects_project"' in selects[0]
    if ON_POSTGRESQL:
        assert 'FOR UPDATE OF "executions_execution"' in selects[0]
    assert not scope_lookups(event)
    writes = [
        q["sql"]
        for q in event.captured_queries
        if q["sql"].startswith(("UPDATE", "INSERT", "WITH"))
    ]
    assert len(writes) == (1 if ON_POSTGRESQL else 2)
    assert Event.objects.get(execution=execution).phase == "RUNNING"


def test_a_refused_event_leaves_the_execution_free_for_the_next(api, project, editor):
    execution = make_execution(project)
    url = f"/api/v1/executions/{execution.pk}/events/"
    assert api.post(url, {"phase": "NOPE"}, format="json").status_code == 400
    assert api.post(url, {"phase": "RUNNING"}, format="json").status_code == 201
    execution.refresh_from_db()
    assert execution.phase == "RUNNING"
    assert execution.events.count() == 1


def test_an_unlimited_token_costs_no_query_for_its_scope(api, project):
    with CaptureQueriesContext(connection) as read:
        assert api.get("/api/v1/projects/nlp/").status_code == 200
        assert api.get("/api/v1/executions/", {"project": "nlp"}).status_code == 200
    assert not scope_lookups(read)


def test_a_limited_token_reads_its_projects_once_per_request(project, editor):
    _, key = ApiToken.issue(user=editor, name="limited", projects=[project])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    with CaptureQueriesContext(connection) as read:
        assert client.get("/api/v1/executions/", {"project": "nlp"}).status_code == 200
    assert len(scope_lookups(read)) == 1


def bulk(api, items):
    return api.post("/api/v1/executions/bulk/", {"executions": items}, format="json")


def item(**fields):
    return {"project": "nlp", "domain": "development", "workflow": "w", **fields}


def test_a_bulk_create_failing_after_label_rows_were_written_writes_nothing(api, project):
    items = [item(labels={"i": str(i)}) for i in range(300)]
    items[250]["labels"] = {"bad key": "x"}
    response = bulk(api, items)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "executions[250].labels"
    assert not Execution.objects.exists()
    assert not Label.objects.exists()


def test_a_bulk_create_reports_an_earlier_error_before_a_later_unknown_project(api, project):
    response = bulk(api, [item(), item(domain="nowhere"), item(project="nope")])
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "executions[1].domain"


def test_a_bulk_create_finds_parents_in_the_project_only(api, project):
    parent = make_execution(project)
    other = make_execution(ProjectFactory(slug="other"))
    response = bulk(api, [item(parent=parent.pk), item(parent=parent.pk, mode="MANUAL")])
    assert response.status_code == 201
    created = response.json()["executions"]
    assert [(e["parent"], e["mode"]) for e in created] == [
        (parent.pk, "CHILD"),
        (parent.pk, "MANUAL"),
    ]
    refused = bulk(api, [item(), item(parent=other.pk)])
    assert refused.status_code == 400
    assert refused.json()["error"]["field"] == "executions[1].parent"
    assert Execution.objects.count() == 4
