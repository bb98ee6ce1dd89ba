"""The phase state machine (SPEC §2, Event). Events are the only way phases change.

* A repeated ``event_id`` is accepted once and acknowledged again without effect.
* An event that occurred before the one that set the current phase is recorded but does not
  move the phase back (``applied=False``).
* A terminal phase is final, except an explicit resume (``RUNNING`` after ``FAILED``,
  ``ABORTED`` or ``TIMED_OUT``), which restarts ``started_at`` and clears ``ended_at`` until the
  next terminal event, as in Ray. Anything else after a terminal phase is a 409 conflict.

The execution row is locked (``select_for_update``) for the whole decision, so concurrent
events for one execution are applied one after the other and exactly one terminal phase wins.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

from executions.errors import Conflict, ExecboardError, NotFound
from executions.models import TERMINAL_PHASES, Event, Execution, Phase, Step
from executions.services import utf8_size

RESUMABLE_PHASES = TERMINAL_PHASES - {Phase.SUCCEEDED}
MAX_MESSAGE_BYTES = 64 * 1024


@dataclass(frozen=True)
class EventResult:
    event: Event
    created: bool


def _transition(target: Execution | Step, phase: str, occurred_at: datetime, what: str) -> bool:
    """Move ``target`` to ``phase`` if the rules allow; return whether the phase moved."""
    if target.phase_occurred_at is not None and occurred_at < target.phase_occurred_at:
        return False
    resuming = False
    if target.phase in TERMINAL_PHASES:
        if phase == Phase.RUNNING and target.phase in RESUMABLE_PHASES:
            resuming = True
        else:
            raise Conflict(
                f"The {what} is already terminal ({target.phase}); only RUNNING after "
                "FAILED, ABORTED or TIMED_OUT (a resume) is accepted.",
                field="phase",
                code="already_terminal",
                extra={"phase": target.phase},
            )
    target.phase = phase
    target.phase_occurred_at = occurred_at
    if phase == Phase.RUNNING and (resuming or target.started_at is None):
        target.started_at = occurred_at
        target.ended_at = None
    if phase in TERMINAL_PHASES:
        target.ended_at = occurred_at
    return True


def record_event(
    *,
    execution_id: str,
    phase: str,
    occurred_at: datetime | None = None,
    event_id: str | None = None,
    message: str = "",
    step_id: int | None = None,
) -> EventResult:
    """Record an event of the execution (or of its step ``step_id``), moving its phase when
    the rules above allow."""
    _check_event(phase, event_id, message)
    with transaction.atomic():
        execution = Execution.objects.select_for_update().filter(pk=execution_id).first()
        if execution is None:
            raise NotFound("No such execution.")
        return _apply(execution, phase, occurred_at, event_id, message, step_id)


def record_event_locked(
    execution: Execution,
    *,
    phase: str,
    occurred_at: datetime | None = None,
    event_id: str | None = None,
    message: str = "",
    step_id: int | None = None,
) -> EventResult:
    """``record_event`` for an execution that the caller fetched with
    ``select_for_update()`` in the transaction it is in: the API fetches, locks and checks
    access to the execution in one statement, then records the event (BENCHMARKS.md, I2)."""
    _check_event(phase, event_id, message)
    return _apply(execution, phase, occurred_at, event_id, message, step_id)


def _check_event(phase: str, event_id: str | None, message: str) -> None:
    if phase not in Phase.values:
        raise ExecboardError(
            f"Unknown phase {phase!r}; expected one of {', '.join(Phase.values)}.", field="phase"
        )
    if event_id is not None and (not isinstance(event_id, str) or not 0 < len(event_id) <= 200):
        raise ExecboardError("event_id must be a string of 1 to 200 characters.", field="event_id")
    if not isinstance(message, str):
        raise ExecboardError("The message must be a string.", field="message")
    if utf8_size(message, "message") > MAX_MESSAGE_BYTES:
        raise ExecboardError("The message is longer than 64 KiB.", field="message")
    if event_id is not None:
        utf8_size(event_id, "event_id")


def _apply(
    execution: Execution,
    phase: str,
    occurred_at: datetime | None,
    event_id: str | None,
    message: str,
    step_id: int | None,
) -> EventResult:
    """The decision and its writes, on an execution whose row the caller holds locked."""
    occurred_at = occurred_at or timezone.now()
    if event_id is not None:
        duplicate = execution.events.filter(event_id=event_id).first()
        if duplicate is not None:
            return EventResult(duplicate, created=False)

    step = None
    if step_id is not None:
        step = execution.steps.filter(pk=step_id).first()
        if step is None:
            raise ExecboardError("No such step in this execution.", field="step")
        applied = _transition(step, phase, occurred_at, "step")
    else:
        applied = _transition(execution, phase, occurred_at, "execution")
    event = Event(
        execution=execution,
        step=step,
        phase=phase,
        occurred_at=occurred_at,
        event_id=event_id,
        message=message,
        applied=applied,
    )
    if applied and step is None:
        _derive_execution_fields(execution, phase, message)
        _save_moved_with_event(execution, event)
    else:
        if applied:
            step.save(update_fields=["phase", "phase_occurred_at", "started_at", "ended_at"])
        event.save(force_insert=True)
    return EventResult(event, created=True)


# What an applied event changes on its execution.
MOVED_FIELDS = ("phase", "phase_occurred_at", "started_at", "ended_at", "duration", "error")


def _save_moved_with_event(execution: Execution, event: Event) -> None:
    """Save the execution's ``MOVED_FIELDS`` and insert the event that moved them. On
    PostgreSQL in one statement, one round trip instead of two and no query to compile: an
    event is most of I2's requests (BENCHMARKS.md)."""
    if connection.vendor != "postgresql":
        execution.save(update_fields=MOVED_FIELDS)
        event.save(force_insert=True)
        return
    db = connections[DEFAULT_DB_ALIAS]
    moved = [Execution._meta.get_field(name) for name in MOVED_FIELDS]
    params = [field.get_db_prep_save(getattr(execution, field.attname), db) for field in moved]
    params.append(execution.pk)
    params.extend(
        field.get_db_prep_save(field.pre_save(event, True), db) for field in _event_fields()
    )
    with connection.cursor() as cursor:
        cursor.execute(_save_moved_with_event_statement(), params)
        event.pk = cursor.fetchone()[0]
    event._state.adding = False
    event._state.db = db.alias


def _event_fields() -> list:
    return [field for field in Event._meta.concrete_fields if not field.primary_key]


@functools.cache
def _save_moved_with_event_statement() -> str:
    quote = connection.ops.quote_name
    moved = ", ".join(
        f"{quote(Execution._meta.get_field(name).column)} = %s" for name in MOVED_FIELDS
    )
    columns = ", ".join(quote(field.column) for field in _event_fields())
    return (
        f"WITH moved AS (UPDATE {quote(Execution._meta.db_table)} SET {moved} "
        f"WHERE {quote(Execution._meta.pk.column)} = %s) "
        f"INSERT INTO {quote(Event._meta.db_table)} ({columns}) "
        f"VALUES ({', '.join(['%s'] * len(_event_fields()))}) "
        f"RETURNING {quote(Event._meta.pk.column)}"
    )


def _derive_execution_fields(execution: Execution, phase: str, message: str) -> None:
    if phase in TERMINAL_PHASES:
        start = execution.started_at or execution.created_at
        execution.duration = max((execution.ended_at - start).total_seconds(), 0.0)
    else:
        execution.duration = None
    if phase == Phase.FAILED or phase == Phase.TIMED_OUT:
        execution.error = message
    elif phase == Phase.RUNNING:
        execution.error = ""
