"""Executions API: HTTP ↔ services and query code, nothing more."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from executions import planner, services
from executions.api import serializers as s
from executions.api.access import api_execution, api_project, request_token, visible_projects
from executions.errors import ExecboardError, NotFound
from executions.events import record_event_locked
from executions.metadata import execution_metadata, step_metadata
from executions.models import Execution
from executions.query import MAX_LIMIT, SORT_KEYS, ListQuery, QueryError, api_groups
from projects.models import SLUG_RE, Project, Role


def _body(request) -> dict:
    if not isinstance(request.data, dict):
        raise ExecboardError("The request body must be a JSON object.")
    return request.data


def _writable_project(request, slug: Any) -> Project:
    """The project an execution is created in, for an editor; errors name the field."""
    if not isinstance(slug, str) or not slug:
        raise ExecboardError("project is required: the slug of a project.", field="project")
    if not SLUG_RE.match(slug):
        raise NotFound(f"No project {slug!r}.", field="project")
    try:
        return api_project(request, slug, Role.EDITOR)
    except Http404 as exc:
        raise NotFound(f"No project {slug!r}.", field="project") from exc
    except PermissionDenied as exc:
        raise ExecboardError(str(exc), field="project", code="forbidden", status=403) from exc


def _creator(request) -> dict:
    token = request_token(request)
    return {
        "launched_by": request.user.get_username(),
        "production_namespace": token.production_namespace if token else "",
    }


# What the list understands. Anything else is refused rather than ignored, so that a typo
# does not silently widen a query and a probe such as created_by__password__startswith=x
# is told plainly that it is not a filter.
LIST_PARAMS = frozenset(
    {
        *("project", "domain", "q", "filters", "phase", "since", "namespace"),
        *("sort_by.key", "sort_by.direction", "limit", "cursor", "group_by"),
    }
)


@extend_schema(
    methods=["GET"],
    operation_id="executions_list",
    parameters=[
        OpenApiParameter("project", str, description="A project slug (default: all visible)."),
        OpenApiParameter("domain", str),
        OpenApiParameter("q", str, description="Label expression: team:nlp and not release."),
        OpenApiParameter("filters", str, description="Flyte filters: eq(phase,RUNNING)+…"),
        OpenApiParameter("phase", str, description="Comma-separated phases."),
        OpenApiParameter("since", str, enum=["1h", "24h", "7d", "30d"]),
        OpenApiParameter("namespace", str, description="A label such as user:anne."),
        OpenApiParameter(
            "sort_by.key",
            str,
            description=f"One of {', '.join(SORT_KEYS)}, or a JSON value: label.<key>, "
            "meta.<key> (user_metadata), input.<key> (inputs); numbers before text, missing "
            "last.",
        ),
        OpenApiParameter("sort_by.direction", str, enum=["DESCENDING", "ASCENDING"]),
        OpenApiParameter("limit", int, description=f"1 to {MAX_LIMIT}."),
        OpenApiParameter("cursor", str, description="`next` of the previous page."),
        OpenApiParameter(
            "group_by",
            str,
            enum=["experiment", "group", "experiment,group"],
            description="Adds `groups`: executions per label value.",
        ),
    ],
    responses=s.ExecutionPageSerializer,
)
@extend_schema(
    methods=["POST"], request=s.ExecutionCreateSerializer, responses={201: s.ExecutionSerializer}
)
@api_view(["GET", "POST"])
def execution_list(request):
    if request.method == "POST":
        body = _body(request)
        unknown = set(body) - services.CREATE_FIELDS
        if unknown:
            raise ExecboardError(f"Unknown field(s): {', '.join(sorted(unknown))}.")
        project = _writable_project(request, body.get("project"))
        fields = {k: v for k, v in body.items() if k != "project"}
        execution = services.execution_create(project=project, **fields, **_creator(request))
        data = s.ExecutionSerializer(execution, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED)

    unknown = set(request.query_params) - LIST_PARAMS
    if unknown:
        raise QueryError(
            f"Unknown parameter(s): {', '.join(sorted(unknown))}; expected some of "
            f"{', '.join(sorted(LIST_PARAMS))}.",
            field=sorted(unknown)[0],
        )
    query = ListQuery.from_params(request.query_params)
    slug = request.query_params.get("project")
    project = api_project(request, slug) if slug else None
    if project is not None:
        scope = {"project_id": project.pk}
        executions = Execution.objects.in_project(project)
    else:
        scope = {"projects": visible_projects(request)}
        executions = Execution.objects.filter(project__in=scope["projects"])
    plan = planner.plan(query, executions, **scope)
    filtered = query.filter(executions, plan)
    # select_related: each row's URL needs its project's slug (one query, not one per row).
    rows, next_cursor = query.page(filtered.select_related("project"), plan)
    total, is_estimate = query.total(executions, plan, rows, next_cursor)
    body = {
        "results": s.ExecutionSerializer(rows, many=True, context={"request": request}).data,
        "next": next_cursor.encode() if next_cursor else None,
        "count": total,
        "count_is_estimate": is_estimate,
        # A sort by a JSON value over very many matches orders the latest of them only.
        "sort_is_approximate": plan.sort_window is not None,
    }
    if query.group_by:
        body["groups"] = api_groups(query, executions, plan, None if is_estimate else total)
    return Response(body)


@extend_schema(request=s.BulkCreateSerializer, responses={201: s.BulkCreateSerializer})
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def execution_bulk_create(request):
    body = _body(request)
    created = services.executions_create_bulk(
        items=body.get("executions"),
        resolve_project=lambda slug: _writable_project(request, slug),
        **_creator(request),
    )
    data = s.ExecutionSerializer(created, many=True, context={"request": request}).data
    return Response({"executions": data}, status=status.HTTP_201_CREATED)


@extend_schema(methods=["GET"], responses=s.ExecutionSerializer)
@extend_schema(
    methods=["PATCH"], request=s.DescriptionPatchSerializer, responses=s.ExecutionSerializer
)
@api_view(["GET", "PATCH"])
def execution_detail(request, execution_id: str):
    if request.method == "PATCH":
        execution = api_execution(request, execution_id, Role.EDITOR)
        body = _body(request)
        unknown = set(body) - {"description", "description_version"}
        if unknown:
            raise ExecboardError(
                f"Only the description can be changed here; unknown field(s): "
                f"{', '.join(sorted(unknown))}."
            )
        if "description" not in body:
            raise ExecboardError("description is required.", field="description")
        execution = services.description_update(
            execution_id=execution.pk,
            text=body["description"],
            expected_version=_expected_version(request, body),
            by=request.user.get_username(),
        )
    else:
        execution = api_execution(request, execution_id)
    # The ETag is the description version, what a PATCH sends back in If-Match.
    return Response(
        s.ExecutionSerializer(execution, context={"request": request}).data,
        headers={"ETag": f'"{execution.description_version}"'},
    )


def _expected_version(request, body: dict) -> int:
    """The version the client edited: `description_version` in the body or `If-Match: "n"`."""
    raw = body.get("description_version")
    if raw is None:
        raw = request.headers.get("If-Match", "").strip().removeprefix("W/").strip('"')
    if raw is None or raw == "":
        raise ExecboardError(
            "Send the description_version you edited (or an If-Match header) so that a "
            "concurrent edit is not overwritten.",
            field="description_version",
        )
    if isinstance(raw, str) and raw.isdigit():
        return int(raw)
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        return raw
    raise ExecboardError("description_version must be a whole number.", field="description_version")


def _step_id(execution: Execution, ref, field: str = "step") -> int | None:
    """A step named by its name or id; ``field`` is the request field that named it."""
    if ref in (None, ""):
        return None
    if "\x00" in str(ref):  # no step has it, and PostgreSQL cannot compare with it
        raise ExecboardError(f"No step {ref!r} in this execution.", field=field)
    step = execution.steps.filter(name=str(ref)).first()
    if step is None and str(ref).isdigit():
        step = execution.steps.filter(pk=int(ref)).first()
    if step is None:
        raise ExecboardError(f"No step {ref!r} in this execution.", field=field)
    return step.pk


@extend_schema(methods=["GET"], responses=s.EventSerializer(many=True))
@extend_schema(
    methods=["POST"], request=s.EventCreateSerializer, responses={201: s.EventSerializer}
)
@api_view(["GET", "POST"])
def execution_events(request, execution_id: str):
    if request.method == "GET":
        execution = api_execution(request, execution_id)
        events = execution.events.select_related("step")
        return Response(s.EventSerializer(events, many=True).data)
    with transaction.atomic():
        # One statement fetches the execution with its project and locks its row; access is
        # checked on the locked row and the event recorded under that lock.
        execution = api_execution(request, execution_id, Role.EDITOR, lock=True)
        body = s.EventCreateSerializer(data=_body(request))
        body.is_valid(raise_exception=True)
        data = body.validated_data
        result = record_event_locked(
            execution,
            phase=data["phase"],
            occurred_at=data.get("occurred_at"),
            event_id=data.get("event_id"),
            message=data.get("message", ""),
            step_id=_step_id(execution, data.get("step")),
        )
    return Response(
        s.EventSerializer(result.event).data,
        status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
    )


@extend_schema(methods=["GET"], responses=s.StepSerializer(many=True))
@extend_schema(methods=["POST"], request=s.StepCreateSerializer, responses={201: s.StepSerializer})
@api_view(["GET", "POST"])
def execution_steps(request, execution_id: str):
    if request.method == "GET":
        execution = api_execution(request, execution_id)
        return Response(s.StepSerializer(execution.steps.select_related("parent"), many=True).data)
    execution = api_execution(request, execution_id, Role.EDITOR)
    body = _body(request)
    step = services.step_create(
        execution_id=execution.pk,
        name=body.get("name"),
        parent=_step_id(execution, body.get("parent"), field="parent"),
        options=body.get("options"),
        user_metadata=body.get("user_metadata"),
    )
    return Response(s.StepSerializer(step).data, status=status.HTTP_201_CREATED)


@extend_schema(methods=["GET"], responses=s.StepSerializer)
@extend_schema(methods=["PATCH"], request=s.StepUpdateSerializer, responses=s.StepSerializer)
@api_view(["GET", "PATCH"])
def execution_step(request, execution_id: str, name: str):
    role = Role.EDITOR if request.method == "PATCH" else Role.VIEWER
    execution = api_execution(request, execution_id, role)
    step = execution.steps.select_related("parent").filter(name=name).first()
    if step is None:
        raise ExecboardError(f"No step {name!r} in this execution.", code="not_found", status=404)
    if request.method == "PATCH":
        body = _body(request)
        step = services.step_update(
            step=step, options=body.get("options"), user_metadata=body.get("user_metadata")
        )
    return Response(s.StepSerializer(step).data)


@extend_schema(
    parameters=[OpenApiParameter("name", str, description="A step's name.")],
    responses=OpenApiTypes.OBJECT,
)
@api_view(["GET"])
def execution_metadata_view(request, execution_id: str):
    execution = api_execution(request, execution_id)
    name = request.query_params.get("name")
    if name:
        step = execution.steps.filter(name=name).first()
        if step is None:
            raise ExecboardError(
                f"No step {name!r} in this execution.", code="not_found", status=404
            )
        return Response(step_metadata(step))
    return Response(execution_metadata(execution))


@extend_schema(
    methods=["PUT", "POST"], request=s.LabelsPutSerializer, responses=s.ExecutionSerializer
)
@api_view(["PUT", "POST"])
def execution_labels(request, execution_id: str):
    execution = api_execution(request, execution_id, Role.EDITOR)
    body = _body(request)
    if "labels" not in body:
        raise ExecboardError("labels is required: an object of key to value.", field="labels")
    execution = services.labels_update(
        execution_id=execution.pk, by=request.user.get_username(), set_labels=body["labels"]
    )
    return Response(s.ExecutionSerializer(execution, context={"request": request}).data)


@extend_schema(request=None, responses=s.ExecutionSerializer)
@api_view(["DELETE"])
def execution_label(request, execution_id: str, key: str):
    execution = api_execution(request, execution_id, Role.EDITOR)
    execution = services.labels_update(
        execution_id=execution.pk, by=request.user.get_username(), remove=[key]
    )
    return Response(s.ExecutionSerializer(execution, context={"request": request}).data)


@extend_schema(responses=s.ChangeSerializer(many=True))
@api_view(["GET"])
def execution_history(request, execution_id: str):
    execution = api_execution(request, execution_id)
    return Response(s.ChangeSerializer(execution.changes.all(), many=True).data)


urlpatterns = [
    path("executions/", execution_list, name="api-execution-list"),
    path("executions/bulk/", execution_bulk_create, name="api-execution-bulk"),
    path("executions/<str:execution_id>/", execution_detail, name="api-execution-detail"),
    path("executions/<str:execution_id>/events/", execution_events, name="api-execution-events"),
    path("executions/<str:execution_id>/steps/", execution_steps, name="api-execution-steps"),
    path(
        "executions/<str:execution_id>/steps/<str:name>/",
        execution_step,
        name="api-execution-step",
    ),
    path(
        "executions/<str:execution_id>/metadata/",
        execution_metadata_view,
        name="api-execution-metadata",
    ),
    path("executions/<str:execution_id>/labels/", execution_labels, name="api-execution-labels"),
    path(
        "executions/<str:execution_id>/labels/<path:key>/",
        execution_label,
        name="api-execution-label",
    ),
    path("executions/<str:execution_id>/history/", execution_history, name="api-execution-history"),
]
