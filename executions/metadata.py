"""Run and step metadata in Ray Workflows' shape (``workflow.get_metadata``).

Times are epoch seconds as in Ray; a time not yet known is absent, not null."""

from __future__ import annotations

from datetime import datetime

from executions.models import Execution, Step


def _stats(started_at: datetime | None, ended_at: datetime | None) -> dict[str, float]:
    stats = {}
    if started_at is not None:
        stats["start_time"] = started_at.timestamp()
    if ended_at is not None:
        stats["end_time"] = ended_at.timestamp()
    return stats


def step_metadata(step: Step) -> dict:
    data = {
        "name": step.name,
        "status": step.phase,
        "step_options": step.options,
        "user_metadata": step.user_metadata,
        "stats": _stats(step.started_at, step.ended_at),
    }
    if step.parent_id is not None:
        data["parent"] = step.parent.name
    return data


def execution_metadata(execution: Execution) -> dict:
    # select_related: each nested step names its parent step without a query per step.
    steps = execution.steps.select_related("parent")
    return {
        "execution_id": execution.id,
        "status": execution.phase,
        "stats": _stats(execution.started_at, execution.ended_at),
        "user_metadata": execution.user_metadata,
        "steps": [step_metadata(step) for step in steps],
    }
