"""Compare API (SPEC §10): HTTP ↔ executions.compare, nothing more."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.response import Response

from executions.api.access import request_token
from executions.api.serializers import ExecutionSerializer
from executions.compare import MAX_IDS, MIN_IDS, SECTIONS, load_comparison, parse_ids
from projects.access import can_read


class CompareValueField(serializers.JSONField):
    """A JSON value; a time is written as the execution JSON writes it (ISO 8601)."""

    def to_representation(self, value: Any) -> Any:
        if isinstance(value, datetime):
            return serializers.DateTimeField().to_representation(value)
        return value


class CompareRowSerializer(serializers.Serializer):
    section = serializers.ChoiceField(choices=SECTIONS)
    key = serializers.CharField()
    values = serializers.ListField(
        child=CompareValueField(allow_null=True),
        help_text="One per execution, in order; null where the execution lacks it. Step rows "
        "hold the step's duration in seconds.",
    )
    differs = serializers.BooleanField()


class ComparisonSerializer(serializers.Serializer):
    executions = ExecutionSerializer(many=True)
    rows = CompareRowSerializer(many=True)


@extend_schema(
    operation_id="executions_compare",
    parameters=[
        OpenApiParameter(
            "ids",
            str,
            required=True,
            description=f"{MIN_IDS} to {MAX_IDS} different execution ids, comma-separated.",
        )
    ],
    responses=ComparisonSerializer,
)
@api_view(["GET"])
def execution_compare(request):
    token = request_token(request)
    comparison = load_comparison(
        parse_ids(request.query_params.getlist("ids")),
        can_read=lambda project: can_read(request.user, project, token),
    )
    return Response(ComparisonSerializer(comparison, context={"request": request}).data)


urlpatterns = [
    path("executions/compare/", execution_compare, name="api-execution-compare"),
]
