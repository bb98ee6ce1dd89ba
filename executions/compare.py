"""Executions side by side (SPEC §10 "Compare"): the rows that the page and the API show.

A comparison is a value: the executions in the order asked for, and one ``Row`` per field,
label, input, top-level ``user_metadata`` key and step, each holding one value per execution
(``None`` where an execution lacks it) and whether those values differ. It is built from two
statements whatever the number of labels, inputs or steps: the executions with their
projects, then the steps of all of them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from executions.errors import ExecboardError, NotFound
from executions.models import Execution, Step
from executions.services import EXECUTION_ID_RE
from projects.models import Project

MIN_IDS = 2
MAX_IDS = 4

Section = Literal["field", "label", "input", "meta", "step"]
SECTIONS: tuple[Section, ...] = ("field", "label", "input", "meta", "step")

# The execution's own fields, in the order they are compared: what ran, how it went, when.
FIELDS = (
    "workflow",
    "workflow_version",
    "domain",
    "phase",
    "mode",
    "launched_by",
    "created_at",
    "started_at",
    "ended_at",
    "duration",
    "parent",
    "error",
)


@dataclass(frozen=True)
class Row:
    section: Section
    key: str
    values: tuple[Any, ...]
    differs: bool


@dataclass(frozen=True)
class Comparison:
    executions: tuple[Execution, ...]
    rows: tuple[Row, ...]

    def only_differences(self) -> Comparison:
        return Comparison(self.executions, tuple(row for row in self.rows if row.differs))


def parse_ids(values: Iterable[str]) -> list[str]:
    """The ids of ``?ids=a,b,c`` (the parameter may also be repeated, as a form of checkboxes
    sends it), or an error saying what is wrong with them."""
    ids = [part.strip() for value in values for part in value.split(",")]
    if ids == [""]:
        ids = []
    if not ids:
        raise ExecboardError(
            f"Give {MIN_IDS} to {MAX_IDS} execution ids to compare: ids=a,b,c.", field="ids"
        )
    for position, execution_id in enumerate(ids, start=1):
        if not execution_id:
            raise ExecboardError(
                f"ids has an empty id at position {position}; separate ids with single commas.",
                field="ids",
            )
        if not EXECUTION_ID_RE.match(execution_id):
            raise ExecboardError(
                f"{execution_id[:40]!r} is not an execution id (lowercase letters and digits).",
                field="ids",
            )
    repeated = next((i for n, i in enumerate(ids) if i in ids[:n]), None)
    if repeated is not None:
        raise ExecboardError(
            f"ids names {repeated!r} more than once; compare {MIN_IDS} to {MAX_IDS} different "
            f"executions.",
            field="ids",
        )
    if not MIN_IDS <= len(ids) <= MAX_IDS:
        raise ExecboardError(
            f"Compare takes {MIN_IDS} to {MAX_IDS} executions; got {len(ids)}.", field="ids"
        )
    return ids


def load_comparison(
    ids: Sequence[str],
    *,
    can_read: Callable[[Project], bool],
    project: Project | None = None,
) -> Comparison:
    """The comparison of the executions ``ids`` (parsed by ``parse_ids``), in that order.

    An id that does not exist, whose project ``can_read`` refuses, or (with ``project``) that
    belongs to another project is reported exactly as missing, so that a private execution's
    existence does not leak."""
    # select_related: the access check and the execution's URL read its project (one
    # statement for all, not one per execution).
    found = Execution.objects.select_related("project").filter(pk__in=ids).in_bulk()
    executions = []
    for execution_id in ids:
        execution = found.get(execution_id)
        if (
            execution is None
            or (project is not None and execution.project_id != project.pk)
            or not can_read(execution.project)
        ):
            raise NotFound(f"No execution {execution_id!r}.", field="ids")
        executions.append(execution)
    steps = Step.objects.filter(execution_id__in=ids).only(
        "execution_id", "name", "started_at", "ended_at"
    )
    return compare(executions, steps)


def compare(executions: Sequence[Execution], steps: Iterable[Step]) -> Comparison:
    """The rows of a comparison: fields, then labels, inputs and metadata (each by key, the
    union over the executions), then steps (in the order the executions ran them)."""
    rows = [_row("field", key, [_field(e, key) for e in executions]) for key in FIELDS]
    for section, attribute in (("label", "labels"), ("input", "inputs"), ("meta", "user_metadata")):
        objects = [_object(getattr(e, attribute)) for e in executions]
        keys = sorted({key for obj in objects for key in obj})
        rows += [_row(section, key, [obj.get(key) for obj in objects]) for key in keys]
    rows += _step_rows(executions, steps)
    return Comparison(tuple(executions), tuple(rows))


def _step_rows(executions: Sequence[Execution], steps: Iterable[Step]) -> list[Row]:
    """One row per step name, each value the step's duration in seconds (``None`` when the
    execution has no such step or it has not finished). Steps arrive in the order they were
    created; names keep the order of first appearance, so a pipeline reads top to bottom."""
    durations: dict[str, dict[str, float | None]] = {}
    for step in steps:
        durations.setdefault(step.name, {})[step.execution_id] = step.duration
    return [
        _row("step", name, [by_execution.get(e.pk) for e in executions])
        for name, by_execution in durations.items()
    ]


def _field(execution: Execution, key: str) -> Any:
    return execution.parent_id if key == "parent" else getattr(execution, key)


def _object(value: Any) -> dict[str, Any]:
    """A JSON column's top-level keys; anything but an object has none."""
    return value if isinstance(value, dict) else {}


def _row(section: Section, key: str, values: list[Any]) -> Row:
    first = _identity(values[0])
    return Row(section, key, tuple(values), any(_identity(v) != first for v in values[1:]))


def _identity(value: Any) -> tuple[str, Any]:
    """What makes two values the same: JSON values by their canonical text (so ``1`` differs
    from ``true`` and from ``"1"``, and key order does not matter), times by the instant."""
    if isinstance(value, datetime):
        return ("time", value)
    return ("json", json.dumps(value, sort_keys=True))
