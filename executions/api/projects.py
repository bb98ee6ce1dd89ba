from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.response import Response

from executions import labels as label_rules
from executions.api.access import api_project, visible_projects
from executions.errors import ExecboardError
from projects.models import Project, Role


class ProjectSerializer(serializers.ModelSerializer):
    default_labels = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = ["slug", "name", "description", "default_labels", "created_at"]

    def get_default_labels(self, project: Project) -> dict[str, str]:
        return project.default_labels_dict()


@extend_schema(
    operation_id="projects_list",
    responses=inline_serializer("ProjectPage", {"results": ProjectSerializer(many=True)}),
)
@api_view(["GET"])
def project_list(request):
    # prefetch: one query for every project's default labels instead of one per project.
    projects = visible_projects(request).prefetch_related("default_labels")
    return Response({"results": ProjectSerializer(projects, many=True).data})


@extend_schema(responses=ProjectSerializer)
@api_view(["GET"])
def project_detail(request, slug: str):
    return Response(ProjectSerializer(api_project(request, slug)).data)


class DefaultLabelsSerializer(serializers.Serializer):
    default_labels = serializers.DictField(child=serializers.CharField(allow_blank=True))


@extend_schema(request=DefaultLabelsSerializer, responses=ProjectSerializer)
@api_view(["PUT"])
def project_default_labels(request, slug: str):
    """Replace the project's default labels; project admins only."""
    project = api_project(request, slug, Role.ADMIN)
    body = request.data
    if not isinstance(body, dict) or set(body) != {"default_labels"}:
        raise ExecboardError(
            'Send {"default_labels": {"key": "value", …}}.', field="default_labels"
        )
    try:
        labels = label_rules.validate_labels(body["default_labels"])
        label_rules.check_count(labels)
    except ExecboardError as error:
        error.field = "default_labels"
        raise
    project.replace_default_labels(labels)
    return Response(ProjectSerializer(project).data)


urlpatterns = [
    path("projects/", project_list, name="api-project-list"),
    path("projects/<slug:slug>/", project_detail, name="api-project-detail"),
    path(
        "projects/<slug:slug>/default-labels/",
        project_default_labels,
        name="api-project-default-labels",
    ),
]
