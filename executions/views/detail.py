"""The execution page and its htmx fragments."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render

from executions.models import Execution
from projects.access import project_for


def execution_detail(request, slug: str, execution_id: str):
    project = project_for(request.user, slug)
    execution = Execution.objects.filter(project=project, pk=execution_id).first()
    if execution is None:
        raise Http404("No such execution.")
    return render(
        request,
        "executions/execution_detail.html",
        {"project": project, "execution": execution},
    )
