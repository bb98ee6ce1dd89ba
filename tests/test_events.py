"""The phase state machine of SPEC §2: events are the only way phases change."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from rest_framework import serializers

from executions import services
from executions.api.serializers import EventSerializer
from executions.errors import Conflict, ExecboardError
from executions.events import record_event
from executions.models import Event
from tests.factories import make_execution

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def execution(project):
    return make_execution(project)


def post(api, execution, **body):
    if isinstance(body.get("occurred_at"), datetime):
        body["occurred_at"] = body["occurred_at"].isoformat()
    # json.dumps escapes what the test client's renderer cannot encode (lone surrogates).
    return api.post(
        f"/api/v1/executions/{execution.pk}/events/",
        json.dumps(body),
        content_type="application/json",
    )


def test_running_then_succeeded_sets_the_times_and_derives_the_duration(execution):
    record_event(execution_id=execution.pk, phase="QUEUED", occurred_at=at(0))
    record_event(execution_id=execution.pk, phase="RUNNING", occurred_at=at(1))
    execution.refresh_from_db()
    assert (execution.phase, execution.started_at, execution.ended_at) == ("RUNNING", at(1), None)
    assert execution.duration is None
    record_event(execution_id=execution.pk, phase="SUCCEEDED", occurred_at=at(3.5))
    execution.refresh_from_db()
    assert (execution.phase, execution.ended_at, execution.duration) == ("SUCCEEDED", at(3.5), 150)


def test_a_failure_keeps_its_message_as_the_error(execution):
    record_event(execution_id=execution.pk, phase="RUNNING", occurred_at=at(0))
    record_event(execution_id=execution.pk, phase="FAILED", occurred_at=at(1), message="OOM")
    execution.refresh_from_db()
    assert (execution.phase, execution.error, execution.duration) == ("FAILED", "OOM", 60)


def test_a_repeated_event_id_is_stored_once_and_acknowledged_with_200(api, execution):
    first = post(api, execution, phase="RUNNING", occurred_at=at(1), event_id="run-1")
    again = post(api, execution, phase="FAILED", occurred_at=at(2), event_id="run-1")
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == first.json()
    assert Event.objects.filter(execution=execution).count() == 1
    execution.refresh_from_db()
    assert execution.phase == "RUNNING"


def test_the_same_event_id_may_be_used_by_another_execution(api, project, execution):
    other = make_execution(project)
    assert post(api, execution, phase="RUNNING", event_id="e1").status_code == 201
    assert post(api, other, phase="RUNNING", event_id="e1").status_code == 201


def test_a_stale_event_is_recorded_but_does_not_move_the_phase_back(api, execution):
    post(api, execution, phase="RUNNING", occurred_at=at(5))
    response = post(api, execution, phase="QUEUED", occurred_at=at(1))
    assert response.status_code == 201
    assert response.json()["applied"] is False
    execution.refresh_from_db()
    assert (execution.phase, execution.started_at) == ("RUNNING", at(5))
    assert list(execution.events.values_list("phase", "applied")) == [
        ("QUEUED", False),
        ("RUNNING", True),
    ]


def test_a_stale_event_after_a_terminal_phase_is_recorded_without_effect(execution):
    record_event(execution_id=execution.pk, phase="RUNNING", occurred_at=at(0))
    record_event(execution_id=execution.pk, phase="FAILED", occurred_at=at(10))
    result = record_event(execution_id=execution.pk, phase="SUCCEEDED", occurred_at=at(5))
    assert result.created and not result.event.applied
    execution.refresh_from_db()
    assert (execution.phase, execution.ended_at) == ("FAILED", at(10))


@pytest.mark.parametrize("phase", ["RUNNING", "QUEUED", "FAILED", "SUCCEEDED"])
def test_a_terminal_phase_is_final_and_a_later_event_is_a_409(api, execution, phase):
    post(api, execution, phase="RUNNING", occurred_at=at(0))
    post(api, execution, phase="SUCCEEDED", occurred_at=at(1))
    response = post(api, execution, phase=phase, occurred_at=at(2))
    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "code": "already_terminal",
            "message": "The execution is already terminal (SUCCEEDED); only RUNNING after "
            "FAILED, ABORTED or TIMED_OUT (a resume) is accepted.",
            "field": "phase",
            "phase": "SUCCEEDED",
        }
    }
    assert execution.events.count() == 2
    execution.refresh_from_db()
    assert (execution.phase, execution.ended_at) == ("SUCCEEDED", at(1))


def test_only_running_resumes_a_failed_execution(execution):
    record_event(execution_id=execution.pk, phase="FAILED", occurred_at=at(1))
    with pytest.raises(Conflict):
        record_event(execution_id=execution.pk, phase="QUEUED", occurred_at=at(2))


def test_resume_after_failed_restarts_started_at_and_clears_ended_at(api, execution):
    post(api, execution, phase="RUNNING", occurred_at=at(0))
    post(api, execution, phase="FAILED", occurred_at=at(2), message="boom")
    response = post(api, execution, phase="RUNNING", occurred_at=at(10))
    assert response.status_code == 201
    execution.refresh_from_db()
    assert (execution.phase, execution.started_at, execution.ended_at) == ("RUNNING", at(10), None)
    assert (execution.duration, execution.error) == (None, "")

    post(api, execution, phase="SUCCEEDED", occurred_at=at(13))
    execution.refresh_from_db()
    assert (execution.phase, execution.ended_at, execution.duration) == ("SUCCEEDED", at(13), 180)


def test_an_unknown_phase_is_refused_and_nothing_is_recorded(api, execution):
    response = post(api, execution, phase="DONE")
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid",
        "message": "Unknown phase 'DONE'; expected one of UNDEFINED, QUEUED, RUNNING, SUCCEEDING, "
        "SUCCEEDED, FAILING, FAILED, ABORTING, ABORTED, TIMED_OUT.",
        "field": "phase",
    }
    assert not execution.events.exists()


def test_an_event_without_a_time_happens_now(api, execution):
    response = post(api, execution, phase="RUNNING")
    assert response.status_code == 201
    execution.refresh_from_db()
    assert execution.started_at is not None


def test_a_bad_occurred_at_is_a_400_naming_the_field(api, execution):
    response = post(api, execution, phase="RUNNING", occurred_at="yesterday")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "occurred_at"


def test_an_event_id_longer_than_200_characters_is_refused(execution):
    with pytest.raises(ExecboardError, match="event_id must be a string of 1 to 200"):
        record_event(execution_id=execution.pk, phase="RUNNING", event_id="e" * 201)


def test_the_events_of_an_execution_are_listed_in_time_order(api, execution):
    post(api, execution, phase="RUNNING", occurred_at=at(2))
    post(api, execution, phase="QUEUED", occurred_at=at(1))
    response = api.get(f"/api/v1/executions/{execution.pk}/events/")
    assert [(e["phase"], e["applied"]) for e in response.json()] == [
        ("QUEUED", False),
        ("RUNNING", True),
    ]


def test_events_are_written_as_the_declared_fields_would_write_them(api, execution):
    """EventSerializer builds its output by hand (I2); DRF's own rendering of the declared
    fields is the reference, with and without a step, id and message."""
    services.step_create(execution_id=execution.pk, name="load")
    post(api, execution, phase="RUNNING", occurred_at=at(0), step="load", event_id="e-1")
    post(api, execution, phase="FAILED", occurred_at=at(1.5), message="out of <memory> ✗")
    for event in Event.objects.filter(execution=execution).select_related("step"):
        serializer = EventSerializer(event)
        assert serializer.data == serializers.ModelSerializer.to_representation(serializer, event)
    listed = api.get(f"/api/v1/executions/{execution.pk}/events/").json()
    assert [e["step"] for e in listed] == ["load", None]
    assert listed[1]["occurred_at"] == "2026-01-01T12:01:30Z"


# Step events


def test_a_step_event_moves_the_step_and_not_the_execution(api, execution):
    services.step_create(execution_id=execution.pk, name="load")
    assert post(api, execution, phase="RUNNING", occurred_at=at(0), step="load").status_code == 201
    post(api, execution, phase="SUCCEEDED", occurred_at=at(2), step="load")
    step = execution.steps.get()
    assert (step.phase, step.started_at, step.ended_at, step.duration) == (
        "SUCCEEDED",
        at(0),
        at(2),
        120,
    )
    execution.refresh_from_db()
    assert execution.phase == "UNDEFINED"
    assert execution.events.get(phase="SUCCEEDED").step == step


def test_a_terminal_step_refuses_a_later_event(execution):
    step = services.step_create(execution_id=execution.pk, name="load")
    record_event(execution_id=execution.pk, phase="SUCCEEDED", occurred_at=at(1), step_id=step.pk)
    with pytest.raises(Conflict, match="The step is already terminal"):
        record_event(execution_id=execution.pk, phase="FAILED", occurred_at=at(2), step_id=step.pk)


def test_an_event_for_an_unknown_step_is_a_400(api, execution):
    response = post(api, execution, phase="RUNNING", step="nope")
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid",
        "message": "No step 'nope' in this execution.",
        "field": "step",
    }
    assert not execution.events.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("message", "a\ud800", "Surrogate characters are not allowed: U+D800."),
        ("message", "a\x00", "Null characters are not allowed."),
        ("event_id", "e\udfff", "Surrogate characters are not allowed: U+DFFF."),
    ],
)
def test_text_that_postgresql_cannot_store_is_a_400(api, execution, field, value, message):
    response = post(api, execution, phase="RUNNING", **{field: value})
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(message)
    assert response.json()["error"]["field"] == field
    assert not execution.events.exists()


@pytest.mark.parametrize(
    ("field", "value"), [("message", "a\x00"), ("message", "\ud800"), ("event_id", "\udfff")]
)
def test_record_event_refuses_text_that_postgresql_cannot_store(execution, field, value):
    with pytest.raises(ExecboardError) as info:
        record_event(execution_id=execution.pk, phase="RUNNING", **{field: value})
    assert info.value.field == field
    assert not execution.events.exists()
