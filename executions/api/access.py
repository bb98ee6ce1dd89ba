"""Project and execution lookups for API views, with the access rules of projects.access."""

from __future__ import annotations

from django.http import Http404
from rest_framework.exceptions import NotAuthenticated

from executions.models import Execution
from projects.access import check_access, project_for, readable_projects
from projects.models import ApiToken, Project, Role


def request_token(request) -> ApiToken | None:
    return request.auth if isinstance(request.auth, ApiToken) else None


def _require_login_to_write(request, role: str) -> None:
    if role != Role.VIEWER and not request.user.is_authenticated:
        raise NotAuthenticated("Writing needs an API token: 'Authorization: Token <key>'.")


def api_project(request, slug, role: str = Role.VIEWER) -> Project:
    _require_login_to_write(request, role)
    if not isinstance(slug, str) or not slug:
        raise Http404("No such project.")
    return project_for(request.user, slug, role, token=request_token(request))


def api_execution(
    request, execution_id: str, role: str = Role.VIEWER, *, lock: bool = False
) -> Execution:
    """The execution with its project, if the caller has ``role`` on the project. With
    ``lock`` (inside a transaction), the statement that fetches the execution also locks its
    row, and only its row: the project stays free for the project's other executions."""
    _require_login_to_write(request, role)
    # select_related: the access check reads the project (one statement, not two).
    executions = Execution.objects.select_related("project")
    if lock:
        executions = executions.select_for_update(of=("self",))
    try:
        execution = executions.get(pk=execution_id)
    except Execution.DoesNotExist:
        raise Http404("No such execution.") from None
    check_access(request.user, execution.project, role, token=request_token(request))
    return execution


def visible_projects(request):
    return readable_projects(request.user, request_token(request))
