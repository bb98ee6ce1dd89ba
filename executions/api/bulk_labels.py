"""Bulk labels API (SPEC §10): HTTP ↔ executions.bulk_labels, nothing more."""

from __future__ import annotations

from dataclasses import asdict

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from executions.api.access import api_project, request_token, visible_projects
from executions.bulk_labels import (
    SELECTION_PARAMS,
    BulkLabelsError,
    LabelChanges,
    labels_bulk_update,
    select_ids,
    select_matching,
)
from executions.errors import ExecboardError
from executions.models import Execution
from projects.access import check_access
from projects.models import Role

BODY_FIELDS = frozenset({"ids", *SELECTION_PARAMS, "add", "remove", "dry_run"})


class BulkLabelsInputSerializer(serializers.Serializer):
    """Documents the body; the view reads it itself so that every refusal says why."""

    ids = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Executions by id; or:"
    )
    project = serializers.CharField(required=False, help_text="Everything the list matches…")
    domain = serializers.CharField(required=False)
    q = serializers.CharField(required=False, help_text="Label expression.")
    filters = serializers.CharField(required=False, help_text="Flyte filters.")
    phase = serializers.CharField(required=False, help_text="Comma-separated phases.")
    namespace = serializers.CharField(required=False)
    since = serializers.ChoiceField(choices=["1h", "24h", "7d", "30d"], required=False)
    add = serializers.DictField(
        child=serializers.CharField(allow_blank=True, allow_null=True),
        required=False,
        help_text="Labels to add or change: key to value ('' or null for a tag).",
    )
    remove = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Label keys to remove."
    )
    dry_run = serializers.BooleanField(
        required=False, default=False, help_text="Count, change nothing."
    )


class BulkLabelsOutputSerializer(serializers.Serializer):
    matched = serializers.IntegerField(help_text="Executions selected.")
    changed = serializers.IntegerField(help_text="Of those, the ones whose labels change.")
    dry_run = serializers.BooleanField()


@extend_schema(
    operation_id="executions_bulk_labels",
    request=BulkLabelsInputSerializer,
    responses=BulkLabelsOutputSerializer,
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def bulk_labels(request):
    body = request.data
    if not isinstance(body, dict):
        raise ExecboardError("The request body must be a JSON object.")
    unknown = set(body) - BODY_FIELDS
    if unknown:
        raise ExecboardError(
            f"Unknown field(s): {', '.join(sorted(unknown))}; expected some of "
            f"{', '.join(sorted(BODY_FIELDS))}.",
            field=sorted(unknown)[0],
        )
    dry_run = body.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise ExecboardError("dry_run must be true or false.", field="dry_run")
    changes = LabelChanges.validated(body.get("add"), body.get("remove"))
    token = request_token(request)
    result = labels_bulk_update(
        selection=_selection(request, body),
        changes=changes,
        by=request.user.get_username(),
        authorize=lambda project: check_access(request.user, project, Role.EDITOR, token),
        dry_run=dry_run,
    )
    return Response(asdict(result))


def _selection(request, body: dict):
    filtered_by = [name for name in SELECTION_PARAMS if name in body]
    if "ids" in body:
        if filtered_by:
            raise BulkLabelsError(
                f"Select by ids or by the list's parameters, not both ({filtered_by[0]}).",
                field=filtered_by[0],
            )
        readable = Execution.objects.filter(project__in=visible_projects(request))
        return select_ids(body["ids"], readable)
    if not filtered_by:
        raise BulkLabelsError(
            f"Say which executions: ids, or the list's parameters ({', '.join(SELECTION_PARAMS)}).",
            field="ids",
        )
    slug = body.get("project")
    if slug is not None:
        if not isinstance(slug, str):
            raise BulkLabelsError("project must be a project's slug.", field="project")
        project = api_project(request, slug, Role.EDITOR)
        return select_matching(body, Execution.objects.in_project(project), project.pk)
    projects = visible_projects(request)
    return select_matching(body, Execution.objects.filter(project__in=projects), projects=projects)


urlpatterns = [
    path("executions/bulk-labels/", bulk_labels, name="api-execution-bulk-labels"),
]
