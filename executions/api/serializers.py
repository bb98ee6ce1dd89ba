"""JSON shapes of SPEC §5. Output is built by hand-tuned serializers; input is validated by
the services so that the page and the API share every rule."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.urls import reverse
from django.utils import timezone
from rest_framework import serializers

from execboard.fields import EXECUTION_FIELDS
from executions.models import Change, Event, Execution, Step

# Stand-ins reversed once per request; the real slug and id ([a-z0-9-] and [a-z0-9], which
# reverse() leaves unquoted) replace them, instead of one reverse() per row.
_SLUG_MARK, _ID_MARK = "slug-mark", "idmark"


def _iso(value: datetime | None, tz) -> str | None:
    """A datetime as DRF's DateTimeField writes it: ISO 8601 in the current time zone, UTC
    as ``Z``."""
    if value is None:
        return None
    text = value.astimezone(tz).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class ExecutionJson:
    """Builds SPEC §5's execution object from a model instance with plain attribute reads:
    serialising a page of 50 (or a bulk response of 1,000) through ``ModelSerializer``'s
    field machinery cost more than the SQL. ``ExecutionSerializer`` documents the same shape
    for the schema and uses this for its output. The keys are ``EXECUTION_FIELDS`` in order
    (tests/test_fields.py holds them to it)."""

    def __init__(self, request=None) -> None:
        self.tz = timezone.get_current_timezone()
        path = reverse("executions:detail", args=[_SLUG_MARK, _ID_MARK])
        self.url = request.build_absolute_uri(path) if request else path

    def __call__(self, execution: Execution) -> dict[str, Any]:
        tz = self.tz
        labels = execution.labels
        return {
            "id": execution.id,
            "project": execution.project.slug,
            "domain": execution.domain,
            "workflow": execution.workflow,
            "workflow_version": execution.workflow_version,
            "phase": execution.phase,
            "created_at": _iso(execution.created_at, tz),
            "started_at": _iso(execution.started_at, tz),
            "ended_at": _iso(execution.ended_at, tz),
            "duration": execution.duration,
            "launched_by": execution.launched_by,
            "mode": execution.mode,
            "parent": execution.parent_id,
            "display_name": labels.get("name") or execution.id,
            "labels": {key: str(value) for key, value in labels.items()},
            "description": execution.description,
            "description_version": execution.description_version,
            "user_metadata": execution.user_metadata,
            "inputs": execution.inputs,
            "error": execution.error,
            "url": self.url.replace(_SLUG_MARK, execution.project.slug, 1).replace(
                _ID_MARK, execution.id, 1
            ),
        }


class ExecutionSerializer(serializers.ModelSerializer):
    project = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    parent = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    display_name = serializers.CharField(read_only=True)
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True), read_only=True)
    url = serializers.URLField(read_only=True)

    class Meta:
        model = Execution
        fields = list(EXECUTION_FIELDS)
        read_only_fields = fields

    def to_representation(self, execution: Execution) -> dict[str, Any]:
        return self._json(execution)

    @property
    def _json(self) -> ExecutionJson:
        """One builder per serializer (a list's child serialises every row with it)."""
        if not hasattr(self, "_json_builder"):
            self._json_builder = ExecutionJson(self.context.get("request"))
        return self._json_builder


class ExecutionCreateSerializer(serializers.Serializer):
    """Documents the create body; the service validates it (same rules as the page)."""

    project = serializers.CharField()
    domain = serializers.CharField()
    workflow = serializers.CharField()
    workflow_version = serializers.CharField(required=False, allow_blank=True)
    labels = serializers.DictField(
        child=serializers.CharField(allow_blank=True, allow_null=True),
        required=False,
        help_text='Key to value; "" or null for a plain tag. The keys user and production are '
        "reserved.",
    )
    description = serializers.CharField(required=False, allow_blank=True)
    user_metadata = serializers.DictField(required=False)
    inputs = serializers.DictField(required=False)
    parent = serializers.CharField(required=False, allow_null=True)
    mode = serializers.CharField(required=False)


class BulkCreateSerializer(serializers.Serializer):
    executions = ExecutionCreateSerializer(many=True)


class SubgroupSerializer(serializers.Serializer):
    value = serializers.CharField(allow_null=True, help_text="None: executions without the key.")
    count = serializers.IntegerField()


class GroupSerializer(SubgroupSerializer):
    groups = SubgroupSerializer(
        many=True, required=False, help_text="With group_by=experiment,group: its groups."
    )


class ExecutionPageSerializer(serializers.Serializer):
    results = ExecutionSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    count = serializers.IntegerField()
    count_is_estimate = serializers.BooleanField()
    sort_is_approximate = serializers.BooleanField(
        help_text="A sort by a label./meta./input. value over more than 20,000 estimated "
        "matches orders the latest 20,000 of them only."
    )
    groups = GroupSerializer(
        many=True, required=False, help_text="With group_by: the groups, largest first."
    )


class EventSerializer(serializers.ModelSerializer):
    step = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)

    class Meta:
        model = Event
        fields = [
            "id",
            "phase",
            "occurred_at",
            "received_at",
            "event_id",
            "message",
            "step",
            "applied",
        ]

    def to_representation(self, event: Event) -> dict[str, Any]:
        """What the declared fields write, from plain attribute reads: building DRF's fields
        for each response cost about 0.3 ms of an event request (I2, BENCHMARKS.md)."""
        tz = timezone.get_current_timezone()
        return {
            "id": event.pk,
            "phase": event.phase,
            "occurred_at": _iso(event.occurred_at, tz),
            "received_at": _iso(event.received_at, tz),
            "event_id": event.event_id,
            "message": event.message,
            "step": event.step.name if event.step_id is not None else None,
            "applied": event.applied,
        }


class EventCreateSerializer(serializers.Serializer):
    phase = serializers.CharField()
    occurred_at = serializers.DateTimeField(required=False)
    event_id = serializers.CharField(required=False, allow_null=True, max_length=200)
    message = serializers.CharField(required=False, allow_blank=True)
    step = serializers.CharField(
        required=False, allow_null=True, help_text="The step's name (or id) the event is about."
    )


class StepSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)

    class Meta:
        model = Step
        fields = [
            "id",
            "name",
            "parent",
            "phase",
            "started_at",
            "ended_at",
            "options",
            "user_metadata",
        ]


class StepCreateSerializer(serializers.Serializer):
    name = serializers.CharField()
    parent = serializers.CharField(required=False, allow_null=True)
    options = serializers.DictField(required=False)
    user_metadata = serializers.DictField(required=False)


class StepUpdateSerializer(serializers.Serializer):
    options = serializers.DictField(required=False)
    user_metadata = serializers.DictField(required=False)


class DescriptionPatchSerializer(serializers.Serializer):
    description = serializers.CharField(allow_blank=True)
    description_version = serializers.IntegerField(required=False)


class LabelsPutSerializer(serializers.Serializer):
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True))


class ChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Change
        fields = ["at", "by", "field", "key", "old", "new"]
