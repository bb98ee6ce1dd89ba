"""JSON shapes of SPEC §5. Output is built by hand-tuned serializers; input is validated by
the services so that the page and the API share every rule."""

from __future__ import annotations

from rest_framework import serializers

from executions.models import Change, Event, Execution, Step


class ExecutionSerializer(serializers.ModelSerializer):
    project = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    parent = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    display_name = serializers.CharField(read_only=True)
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True), read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Execution
        fields = [
            "id",
            "project",
            "domain",
            "workflow",
            "workflow_version",
            "phase",
            "created_at",
            "started_at",
            "ended_at",
            "duration",
            "launched_by",
            "mode",
            "parent",
            "display_name",
            "labels",
            "description",
            "description_version",
            "user_metadata",
            "inputs",
            "error",
            "url",
        ]
        read_only_fields = fields

    def get_url(self, execution: Execution) -> str:
        path = execution.get_absolute_url()
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


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


class ExecutionPageSerializer(serializers.Serializer):
    results = ExecutionSerializer(many=True)
    next = serializers.CharField(allow_null=True)
    count = serializers.IntegerField()
    count_is_estimate = serializers.BooleanField()


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
