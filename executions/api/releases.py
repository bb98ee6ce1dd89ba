"""Releases and stages API (SPEC §5): HTTP ↔ executions.releases, nothing more."""

from __future__ import annotations

from django.urls import path, re_path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.response import Response

from executions import releases
from executions.api.access import api_project
from executions.errors import ExecboardError
from executions.models import Execution, Release
from projects.models import Role

CREATE_FIELDS = frozenset({"execution", "artifact", "version", "bump", "note", "stage"})


class ReleaseSerializer(serializers.Serializer):
    project = serializers.CharField(source="project.slug")
    artifact = serializers.CharField()
    version = serializers.CharField()
    execution = serializers.CharField(source="execution_id")
    note = serializers.CharField()
    created_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    stages = serializers.ListField(child=serializers.CharField(), source="current_stages")


class ReleaseListSerializer(serializers.Serializer):
    results = ReleaseSerializer(many=True)


class ReleaseCreateSerializer(serializers.Serializer):
    """Documents the create body; executions.releases validates it (same rules as the page)."""

    execution = serializers.CharField()
    artifact = serializers.CharField(required=False, help_text="Default: the workflow name.")
    version = serializers.CharField(required=False, help_text="v1.2.3; or give a bump.")
    bump = serializers.ChoiceField(choices=releases.BUMPS, required=False)
    note = serializers.CharField(required=False, allow_blank=True)
    stage = serializers.CharField(required=False, allow_null=True)


class StageSerializer(serializers.Serializer):
    stage = serializers.CharField()


class StageHolderSerializer(serializers.Serializer):
    version = serializers.CharField(source="release.version")
    since = serializers.DateTimeField()


class ArtifactSummarySerializer(serializers.Serializer):
    artifact = serializers.CharField()
    latest = serializers.CharField(source="latest.version")
    stages = serializers.DictField(child=StageHolderSerializer())


class ArtifactListSerializer(serializers.Serializer):
    results = ArtifactSummarySerializer(many=True)


class VersionSerializer(serializers.Serializer):
    version = serializers.CharField()
    execution = serializers.CharField(source="execution_id")
    note = serializers.CharField()
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField()
    stages = serializers.ListField(child=serializers.CharField(), source="current_stages")


class HistorySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    by = serializers.CharField()
    action = serializers.CharField()
    version = serializers.CharField(source="release.version")
    stage = serializers.CharField(allow_null=True)


class ArtifactDetailSerializer(serializers.Serializer):
    artifact = serializers.CharField(source="state.artifact")
    latest = serializers.CharField(source="state.latest.version")
    versions = VersionSerializer(many=True, source="state.releases")
    stages = serializers.DictField(child=StageHolderSerializer(), source="state.stages")
    history = HistorySerializer(many=True)


def _with_stages(state: releases.ArtifactState) -> releases.ArtifactState:
    for release in state.releases:
        release.current_stages = state.stages_of(release)
    return state


def _release_data(release: Release) -> dict:
    """One release as JSON, with the stages it is in now."""
    detail = releases.artifact_detail(release.project, release.artifact)
    release = next(r for r in _with_stages(detail.state).releases if r.pk == release.pk)
    return ReleaseSerializer(release).data


def _body(request) -> dict:
    if not isinstance(request.data, dict):
        raise ExecboardError("The request body must be a JSON object.")
    return request.data


@extend_schema(
    methods=["GET"],
    parameters=[OpenApiParameter("artifact", str, description="Only this artifact's releases.")],
    responses=ReleaseListSerializer,
)
@extend_schema(
    methods=["POST"], request=ReleaseCreateSerializer, responses={201: ReleaseSerializer}
)
@api_view(["GET", "POST"])
def release_list(request, slug: str):
    if request.method == "POST":
        project = api_project(request, slug, Role.EDITOR)
        body = _body(request)
        unknown = set(body) - CREATE_FIELDS
        if unknown:
            raise ExecboardError(f"Unknown field(s): {', '.join(sorted(unknown))}.")
        execution_id = body.get("execution")
        execution = (
            Execution.objects.filter(project=project, pk=execution_id).first()
            if isinstance(execution_id, str)
            else None
        )
        if execution is None:
            raise ExecboardError(
                f"No execution {execution_id!r} in project {project.slug}.", field="execution"
            )
        release = releases.release_create(
            project=project,
            execution=execution,
            by=request.user.get_username(),
            **{key: body[key] for key in CREATE_FIELDS - {"execution"} if key in body},
        )
        return Response(_release_data(release), status=status.HTTP_201_CREATED)

    project = api_project(request, slug)
    states = releases.registry(project)
    artifact = request.query_params.get("artifact")
    rows = [
        release
        for state in states
        if not artifact or state.artifact == artifact
        for release in _with_stages(state).releases
    ]
    rows.sort(key=lambda r: (r.created_at, r.pk), reverse=True)
    return Response({"results": ReleaseSerializer(rows, many=True).data})


def _release(request, slug: str, artifact: str, version: str) -> Release:
    project = api_project(request, slug, Role.EDITOR)
    return releases.release_get(project=project, artifact=artifact, version=version)


@extend_schema(request=StageSerializer, responses={201: ReleaseSerializer})
@api_view(["POST"])
def release_stages(request, slug: str, artifact: str, version: str):
    release = _release(request, slug, artifact, version)
    releases.stage_assign(
        release=release, stage=_body(request).get("stage"), by=request.user.get_username()
    )
    return Response(_release_data(release), status=status.HTTP_201_CREATED)


@extend_schema(request=None, responses=ReleaseSerializer)
@api_view(["DELETE"])
def release_stage(request, slug: str, artifact: str, version: str, stage: str):
    release = _release(request, slug, artifact, version)
    releases.stage_unassign(release=release, stage=stage, by=request.user.get_username())
    return Response(_release_data(release))


@extend_schema(operation_id="projects_artifacts_list", responses=ArtifactListSerializer)
@api_view(["GET"])
def artifact_list(request, slug: str):
    states = releases.registry(api_project(request, slug))
    return Response({"results": ArtifactSummarySerializer(states, many=True).data})


@extend_schema(responses=ArtifactDetailSerializer)
@api_view(["GET"])
def artifact_detail(request, slug: str, artifact: str):
    detail = releases.artifact_detail(api_project(request, slug), artifact)
    _with_stages(detail.state)
    return Response(ArtifactDetailSerializer(detail).data)


# A version never contains '/' or '@', so `artifact@version` splits at the last '@' even when
# the artifact is namespaced (model/nn@v1.2.3) and the stage has a prefix (example.com/prod).
RELEASE = r"^projects/(?P<slug>[^/]+)/releases/(?P<artifact>[^@]+)@(?P<version>[^/@]+)/stages/"

urlpatterns = [
    path("projects/<slug:slug>/releases/", release_list, name="api-release-list"),
    re_path(RELEASE + r"\Z", release_stages, name="api-release-stages"),
    re_path(RELEASE + r"(?P<stage>.+)/\Z", release_stage, name="api-release-stage"),
    path("projects/<slug:slug>/artifacts/", artifact_list, name="api-artifact-list"),
    path(
        "projects/<slug:slug>/artifacts/<path:artifact>/",
        artifact_detail,
        name="api-artifact-detail",
    ),
]
