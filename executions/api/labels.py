"""Label autocomplete for clients: keys, then values of a key, most used first."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.response import Response

from executions.api.access import api_project
from executions.errors import ExecboardError
from executions.query import label_keys, label_values


@extend_schema(
    parameters=[
        OpenApiParameter("project", str, required=True),
        OpenApiParameter("key", str, description="Suggest values of this key (else keys)."),
        OpenApiParameter("prefix", str, description="What the user typed so far."),
    ],
    responses=inline_serializer(
        "LabelSuggestions",
        {
            "key": serializers.CharField(allow_null=True),
            "suggestions": serializers.ListField(child=serializers.DictField()),
        },
    ),
)
@api_view(["GET"])
def label_suggestions(request):
    slug = request.query_params.get("project")
    if not slug:
        raise ExecboardError("project is required: the slug of a project.", field="project")
    project = api_project(request, slug)
    key = request.query_params.get("key") or None
    prefix = request.query_params.get("prefix", "")
    suggestions = label_values(project.pk, key, prefix) if key else label_keys(project.pk, prefix)
    return Response({"key": key, "suggestions": suggestions})


urlpatterns = [path("labels/", label_suggestions, name="api-label-suggestions")]
