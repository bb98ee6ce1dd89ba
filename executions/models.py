"""Executions and everything attached to them.

Storage is designed for a million executions with twenty labels each (see
../shared/bench/WORKLOAD.md and BENCHMARKS.md):

* ``Execution.labels`` is a copy of the effective labels as a JSON object. Pages and the API
  show label chips from it without a join, and on PostgreSQL a GIN ``jsonb_path_ops`` index
  (``execution_labels_gin``) answers AND of several labels by containment
  (``labels @> '{"team": "nlp", "model": "bert"}'``).
* ``Label`` keeps one row per label that also carries the execution's ``project`` and
  ``created_at``. Its btree index ``(project, key, value, created_at DESC) INCLUDE
  (execution)`` makes a label filter, key-exists, OR (a union of such scans), the group-by
  counts and autocomplete index-only scans, in time order for one label of one project.
  Lists across projects read one range of it per project; labels that many executions
  carry are tested on the ``labels`` copy instead while an execution index is walked (see
  executions/query.py). A second, project-less ``(key, value, created_at DESC)`` index
  was dropped (migration 0004): it cost 1.9 KB of the 8.9 KB per execution at 1M, and
  the queries it served are served as fast without it (BENCHMARKS.md).
* Executions are indexed on ``(project, created_at DESC, id DESC)`` (latest in a project,
  keyset pages), ``(created_at DESC, id DESC)`` (latest everywhere) and
  ``(duration DESC NULLS LAST)`` (longest first).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable

from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from projects.models import Project

ID_ALPHABET = string.ascii_lowercase + string.digits
ID_LENGTH = 10


def new_execution_id() -> str:
    """A short random URL-safe id such as ``f3k9x2m1qa`` (36**10 ≈ 3.7e15 values)."""
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


class Phase(models.TextChoices):
    UNDEFINED = "UNDEFINED"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDING = "SUCCEEDING"
    SUCCEEDED = "SUCCEEDED"
    FAILING = "FAILING"
    FAILED = "FAILED"
    ABORTING = "ABORTING"
    ABORTED = "ABORTED"
    TIMED_OUT = "TIMED_OUT"


TERMINAL_PHASES = frozenset({Phase.SUCCEEDED, Phase.FAILED, Phase.ABORTED, Phase.TIMED_OUT})


class Mode(models.TextChoices):
    MANUAL = "MANUAL"
    SCHEDULED = "SCHEDULED"
    RELAUNCH = "RELAUNCH"
    CHILD = "CHILD"


class ExecutionQuerySet(models.QuerySet):
    def in_project(self, project: Project) -> ExecutionQuerySet:
        return self.filter(project=project)

    def latest_first(self) -> ExecutionQuerySet:
        return self.order_by("-created_at", "-id")

    def with_label(self, key: str, value: str | None = None) -> ExecutionQuerySet:
        """Executions carrying the label (any value when ``value`` is None)."""
        rows = Label.objects.filter(key=key)
        if value is not None:
            rows = rows.filter(value=value)
        return self.filter(pk__in=rows.values("execution_id"))


class Execution(models.Model):
    id = models.CharField(primary_key=True, max_length=16, default=new_execution_id, editable=False)
    # The (project, created_at, id) index below serves lookups by project too.
    project = models.ForeignKey(
        Project, on_delete=models.PROTECT, related_name="executions", db_index=False
    )
    domain = models.CharField(max_length=64)
    workflow = models.CharField(max_length=255)
    workflow_version = models.CharField(max_length=255, blank=True)
    inputs = models.JSONField(default=dict, blank=True)
    phase = models.CharField(max_length=16, choices=Phase.choices, default=Phase.UNDEFINED)
    # When the event that set the current phase occurred: older events are stale.
    phase_occurred_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True, help_text="Seconds, once ended.")
    launched_by = models.CharField(max_length=150)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.MANUAL)
    parent = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children"
    )
    description = models.TextField(blank=True)
    description_version = models.PositiveIntegerField(default=0)
    user_metadata = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    labels = models.JSONField(default=dict, blank=True)

    objects = ExecutionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["project", "-created_at", "-id"], name="execution_project_time"),
            models.Index(fields=["-created_at", "-id"], name="execution_time"),
            # PostgreSQL only (see AddIndexOnPostgres in the migration):
            models.Index(F("duration").desc(nulls_last=True), name="execution_duration"),
            # PostgreSQL only (see AddIndexOnPostgres in the migration):
            GinIndex(fields=["labels"], opclasses=["jsonb_path_ops"], name="execution_labels_gin"),
        ]

    def __str__(self) -> str:
        return self.display_name

    def get_absolute_url(self) -> str:
        return reverse("executions:detail", args=[self.project.slug, self.id])

    @property
    def display_name(self) -> str:
        return self.labels.get("name") or self.id

    @property
    def is_terminal(self) -> bool:
        return self.phase in TERMINAL_PHASES


class Label(models.Model):
    """One label of one execution, with the execution's project and creation time copied in
    so that label filters are index-only scans already in time order (see module docstring).
    """

    pk = models.CompositePrimaryKey("execution_id", "key")
    execution = models.ForeignKey(
        Execution, on_delete=models.CASCADE, related_name="label_rows", db_index=False
    )
    key = models.CharField(max_length=317)
    value = models.CharField(max_length=256, blank=True)
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(
                fields=["project", "key", "value", "-created_at"],
                include=["execution"],
                name="label_project_kv_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key}:{self.value}" if self.value else self.key


class Step(models.Model):
    """A unit inside an execution (Ray step / Flyte node); names are unique per execution."""

    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="steps")
    name = models.CharField(max_length=255)
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children"
    )
    phase = models.CharField(max_length=16, choices=Phase.choices, default=Phase.UNDEFINED)
    phase_occurred_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    options = models.JSONField(default=dict, blank=True)
    user_metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["execution", "name"], name="step_unique_name")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def duration(self) -> float | None:
        if self.started_at and self.ended_at:
            return (self.ended_at - self.started_at).total_seconds()
        return None


class Event(models.Model):
    """A reported phase change; the only way phases move (see executions/events.py)."""

    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="events")
    step = models.ForeignKey(
        Step, on_delete=models.CASCADE, null=True, blank=True, related_name="events"
    )
    phase = models.CharField(max_length=16, choices=Phase.choices)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    event_id = models.CharField(max_length=200, null=True, blank=True)
    message = models.TextField(blank=True)
    applied = models.BooleanField(
        default=True, help_text="False when the event was stale and did not move the phase."
    )

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["execution", "event_id"],
                condition=models.Q(event_id__isnull=False),
                name="event_unique_event_id",
            )
        ]

    def __str__(self) -> str:
        return f"{self.phase} at {self.occurred_at:%Y-%m-%d %H:%M:%S}"


class Change(models.Model):
    """History of label and description changes: who, when, old and new."""

    class Field(models.TextChoices):
        LABEL = "label"
        DESCRIPTION = "description"

    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="changes")
    at = models.DateTimeField(default=timezone.now)
    by = models.CharField(max_length=150)
    field = models.CharField(max_length=16, choices=Field.choices)
    key = models.CharField(max_length=317, blank=True)
    old = models.TextField(null=True, blank=True)
    new = models.TextField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["execution", "-at"], name="change_execution_time")]

    def __str__(self) -> str:
        return f"{self.field} {self.key} by {self.by}"

    @classmethod
    def of_labels(
        cls,
        execution_id: str,
        *,
        by: str,
        at,
        changes: Iterable[tuple[str, str | None, str | None]],
    ) -> list[Change]:
        """History entries of label changes ``(key, old, new)`` of one execution (None: the
        label was absent, or removed)."""
        return [
            cls(
                execution_id=execution_id,
                at=at,
                by=by,
                field=cls.Field.LABEL,
                key=key,
                old=old,
                new=new,
            )
            for key, old, new in changes
        ]


class Release(models.Model):
    """An execution promoted as a SemVer version of an artifact (GTO's registration)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="releases")
    artifact = models.CharField(max_length=200)
    version = models.CharField(max_length=100, help_text="Normalised SemVer with a 'v' prefix.")
    execution = models.ForeignKey(Execution, on_delete=models.PROTECT, related_name="releases")
    note = models.TextField(blank=True)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "artifact", "version"], name="release_unique_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.artifact}@{self.version}"


class StageEvent(models.Model):
    """Append-only stage assignments; the current version in a stage is the latest assign
    not followed by an unassign."""

    class Action(models.TextChoices):
        ASSIGN = "assign"
        UNASSIGN = "unassign"

    release = models.ForeignKey(Release, on_delete=models.CASCADE, related_name="stage_events")
    stage = models.CharField(max_length=63)
    action = models.CharField(max_length=10, choices=Action.choices)
    by = models.CharField(max_length=150)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.release} {self.stage}"


class SavedView(models.Model):
    """A named filter + grouping + sort (the list page's query string), shared in a project."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="saved_views")
    name = models.CharField(max_length=100)
    query_string = models.TextField()
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="saved_view_unique_name")
        ]

    def __str__(self) -> str:
        return self.name
