"""Saved views of the executions list: list, save the current view, delete."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from executions.errors import ExecboardError
from executions.saved_views import saved_view_create
from projects.access import can_edit, project_for
from projects.models import Role


def _render(request, project, *, error=None, status=200):
    template = "executions/saved_views.html" + ("#saved-views" if request.htmx else "")
    context = {
        "project": project,
        "views": project.saved_views.all(),
        "can_edit": can_edit(request.user, project),
        "error": error,
        "list_url": reverse("executions:list", args=[project.slug]),
    }
    return render(request, template, context, status=status)


@require_GET
def saved_views(request, slug: str):
    return _render(request, project_for(request.user, slug))


@require_POST
@login_required
def saved_view_save(request, slug: str):
    project = project_for(request.user, slug, Role.EDITOR)
    try:
        view = saved_view_create(
            project=project,
            name=request.POST.get("name", ""),
            query_string=request.POST.get("query_string", ""),
            by=request.user.get_username(),
        )
    except ExecboardError as exc:
        return _render(request, project, error=exc.message, status=exc.status)
    if request.htmx:
        return _render(request, project)
    url = reverse("executions:list", args=[project.slug])
    return redirect(f"{url}?{view.query_string}" if view.query_string else url)


@require_POST
@login_required
def saved_view_delete(request, slug: str, view_id: int):
    project = project_for(request.user, slug, Role.EDITOR)
    view = project.saved_views.filter(pk=view_id).first()
    if view is None:
        raise Http404("No such saved view.")
    view.delete()
    if request.htmx:
        return _render(request, project)
    return redirect("executions:saved-views", slug=project.slug)
