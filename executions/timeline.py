"""The steps of an execution as a tree and as a Gantt picture (drawn as SVG by the page).

``step_tree`` orders steps parent-first, depth-first; ``build_timeline`` lays out one bar
per step on a shared time axis so a reader sees at a glance where the time went. The layout is
plain numbers; the template turns it into SVG (and escapes every name on the way).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from execboard.fields import format_duration
from executions.models import Step

NAME_WIDTH = 220
CHART_WIDTH = 720
AXIS_HEIGHT = 26
ROW_HEIGHT = 24
BAR_HEIGHT = 14
INDENT = 14
PENDING_WIDTH = 6
MAX_TICKS = 7
# Candidate tick spacings in seconds: 1s … 1 week.
TICK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
              43200, 86400, 172800, 604800)  # fmt: skip


def _tick_label(seconds: int) -> str:
    """Axis labels stay short: ``0``, ``45s``, ``10m``, ``1h 30m``, ``2d``."""
    if seconds == 0:
        return "0"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts[:2])


@dataclass(frozen=True)
class StepRow:
    step: Step
    depth: int


def step_tree(steps: Sequence[Step]) -> list[StepRow]:
    """Steps parent-first and depth-first, each with its nesting depth; siblings keep their
    given order. A step whose parent is not among ``steps`` is treated as a root."""
    known = {step.pk for step in steps}
    children: dict[int | None, list[Step]] = defaultdict(list)
    for step in steps:
        parent = step.parent_id if step.parent_id in known else None
        children[parent].append(step)
    rows: list[StepRow] = []
    seen: set[int] = set()
    stack = [(step, 0) for step in reversed(children[None])]
    while stack:
        step, depth = stack.pop()
        seen.add(step.pk)
        rows.append(StepRow(step, depth))
        stack.extend((child, depth + 1) for child in reversed(children[step.pk]))
    # Steps in a parent loop (which the API cannot create) still get their row.
    rows.extend(StepRow(step, 0) for step in steps if step.pk not in seen)
    return rows


@dataclass(frozen=True)
class Bar:
    step: Step
    depth: int
    y: float
    x: float
    width: float
    state: str  # "done", "open" (running: drawn up to now) or "pending" (not started)
    tooltip: str

    @property
    def name_x(self) -> float:
        return 8 + self.depth * INDENT

    @property
    def text_y(self) -> float:
        return self.y + BAR_HEIGHT - 3

    @property
    def row_y(self) -> float:
        return self.y - (ROW_HEIGHT - BAR_HEIGHT) / 2


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Timeline:
    bars: list[Bar]
    ticks: list[Tick]
    total_seconds: float
    chart_x: int = NAME_WIDTH
    width: int = NAME_WIDTH + CHART_WIDTH
    bar_height: int = BAR_HEIGHT
    row_height: int = ROW_HEIGHT

    @property
    def height(self) -> int:
        return AXIS_HEIGHT + ROW_HEIGHT * len(self.bars) + 6


def _tick_spacing(total: float) -> int:
    for spacing in TICK_STEPS:
        if total / spacing <= MAX_TICKS - 1:
            return spacing
    return TICK_STEPS[-1] * max(1, round(total / (TICK_STEPS[-1] * (MAX_TICKS - 1))))


def build_timeline(steps: Sequence[Step], *, until: datetime) -> Timeline:
    """One bar per step on a shared axis from the earliest start to the latest end; a step
    still running is drawn up to ``until`` (now, or the execution's end)."""
    rows = step_tree(steps)
    starts = [row.step.started_at for row in rows if row.step.started_at]
    origin = min(starts) if starts else until

    def end_of(step: Step) -> datetime | None:
        if step.started_at is None:
            return None
        return step.ended_at or max(until, step.started_at)

    ends = [end for end in (end_of(row.step) for row in rows) if end]
    total = max(((max(ends) - origin).total_seconds() if ends else 0.0), 1.0)
    scale = (CHART_WIDTH - 10) / total

    bars = []
    for index, row in enumerate(rows):
        step = row.step
        y = AXIS_HEIGHT + index * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2
        end = end_of(step)
        if step.started_at is None or end is None:
            x, width, state = 0.0, PENDING_WIDTH, "pending"
            when = "not started"
        else:
            x = (step.started_at - origin).total_seconds() * scale
            seconds = (end - step.started_at).total_seconds()
            width = max(seconds * scale, 2.0)
            state = "done" if step.ended_at else "open"
            when = f"{format_duration(seconds)}{'' if step.ended_at else ' so far'}"
        bars.append(
            Bar(
                step=step,
                depth=row.depth,
                y=y,
                x=round(NAME_WIDTH + x, 2),
                width=round(width, 2),
                state=state,
                tooltip=f"{step.name} · {step.phase} · {when}",
            )
        )
    spacing = _tick_spacing(total)
    ticks = [
        Tick(x=round(NAME_WIDTH + t * scale, 2), label=_tick_label(t))
        for t in range(0, int(total) + 1, spacing)
    ]
    return Timeline(bars=bars, ticks=ticks, total_seconds=total)
