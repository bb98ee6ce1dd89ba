"""Concurrent writers on PostgreSQL: threads, each with its own database connection, post
at the same moment; idempotency and row locks make exactly one of them win."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from executions.models import Event, Execution
from tests.factories import make_execution, make_token

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite serialises writers on one database lock; races need PostgreSQL "
        "(DATABASE_URL=postgres://…).",
    ),
]

ROUNDS = 5


def at_once(*calls: Callable[[], object]) -> list:
    """Run the calls in threads released together; return their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index: int, call: Callable[[], object]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:  # surfaced to the test below
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    errors = [r for r in results if isinstance(r, Exception)]
    if errors:
        raise errors[0]
    return results


@pytest.fixture
def token(editor) -> str:
    return make_token(editor)


def client(token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api


def post(token: str, url: str, body: dict, method: str = "post"):
    return lambda: getattr(client(token), method)(url, body, format="json")


def test_the_same_event_twice_at_once_is_stored_once_and_acknowledged_twice(project, token):
    for _ in range(ROUNDS):
        execution = make_execution(project)
        url = f"/api/v1/executions/{execution.pk}/events/"
        body = {"phase": "RUNNING", "event_id": "attempt-1"}
        responses = at_once(post(token, url, body), post(token, url, body))
        assert sorted(r.status_code for r in responses) == [200, 201]
        assert responses[0].json()["id"] == responses[1].json()["id"]
        assert Event.objects.filter(execution=execution).count() == 1
        execution.refresh_from_db()
        assert execution.phase == "RUNNING"


def test_running_after_succeeded_is_409_already_terminal(project, token):
    execution = make_execution(project)
    url = f"/api/v1/executions/{execution.pk}/events/"
    api = client(token)
    assert api.post(url, {"phase": "SUCCEEDED"}, format="json").status_code == 201
    response = api.post(url, {"phase": "RUNNING"}, format="json")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "already_terminal"
    assert "already terminal" in error["message"]
    execution.refresh_from_db()
    assert execution.phase == "SUCCEEDED"
    assert execution.events.count() == 1


def test_aborting_and_aborted_at_once_end_in_a_legal_state(project, token):
    for _ in range(ROUNDS):
        execution = make_execution(project)
        url = f"/api/v1/executions/{execution.pk}/events/"
        client(token).post(url, {"phase": "RUNNING"}, format="json")
        responses = at_once(
            post(token, url, {"phase": "ABORTING"}), post(token, url, {"phase": "ABORTED"})
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses in ([201, 201], [201, 409]), statuses
        execution.refresh_from_db()
        assert execution.events.count() == 1 + statuses.count(201)
        if execution.phase == "ABORTED":
            assert execution.ended_at is not None
            assert execution.duration is not None
        else:
            # ABORTED occurred before ABORTING was applied: it is kept but stale (SPEC §2).
            assert execution.phase == "ABORTING"
            assert execution.events.get(phase="ABORTED").applied is False


def test_two_terminal_phases_at_once_leave_exactly_one(project, token):
    """The loser is either refused (409) or, if it occurred before the winner, recorded as
    stale without moving the phase (SPEC §2)."""
    for _ in range(ROUNDS):
        execution = make_execution(project)
        url = f"/api/v1/executions/{execution.pk}/events/"
        responses = at_once(
            post(token, url, {"phase": "SUCCEEDED"}), post(token, url, {"phase": "FAILED"})
        )
        applied = [r for r in responses if r.status_code == 201 and r.json()["applied"]]
        others = [r for r in responses if r not in applied]
        assert len(applied) == 1, [r.status_code for r in responses]
        loser = others[0]
        assert loser.status_code == 409 or not loser.json()["applied"]
        execution.refresh_from_db()
        assert execution.phase == applied[0].json()["phase"]
        assert execution.events.filter(applied=True).count() == 1


def test_two_description_saves_at_once_one_wins_and_the_loser_gets_the_current_text(project, token):
    for _ in range(ROUNDS):
        execution = make_execution(project, description="v0")
        url = f"/api/v1/executions/{execution.pk}/"
        responses = at_once(
            post(token, url, {"description": "from A", "description_version": 0}, "patch"),
            post(token, url, {"description": "from B", "description_version": 0}, "patch"),
        )
        winners = [r for r in responses if r.status_code == 200]
        losers = [r for r in responses if r.status_code == 409]
        assert (len(winners), len(losers)) == (1, 1)
        execution.refresh_from_db()
        won = winners[0].json()
        assert (execution.description, execution.description_version) == (won["description"], 1)
        error = losers[0].json()["error"]
        assert error["code"] == "description_conflict"
        assert error["description"] == won["description"]
        assert error["description_version"] == 1
        assert execution.changes.filter(field="description").count() == 1


def test_labels_added_at_once_by_two_writers_are_both_kept(project, token):
    for _ in range(ROUNDS):
        execution = make_execution(project)
        url = f"/api/v1/executions/{execution.pk}/labels/"
        responses = at_once(
            post(token, url, {"labels": {"a": "1"}}, "put"),
            post(token, url, {"labels": {"b": "2"}}, "put"),
        )
        assert [r.status_code for r in responses] == [200, 200]
        execution.refresh_from_db()
        assert {"a": "1", "b": "2"}.items() <= execution.labels.items()
        assert set(execution.label_rows.values_list("key", flat=True)) >= {"a", "b"}


def test_steps_created_at_once_with_one_name_get_distinct_names(project, token):
    execution = make_execution(project)
    url = f"/api/v1/executions/{execution.pk}/steps/"
    responses = at_once(*(post(token, url, {"name": "load"}) for _ in range(3)))
    assert [r.status_code for r in responses] == [201, 201, 201]
    assert sorted(r.json()["name"] for r in responses) == ["load", "load_1", "load_2"]
    assert Execution.objects.get(pk=execution.pk).steps.count() == 3
