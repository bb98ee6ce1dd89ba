"""Pages and htmx fragments: HTTP ↔ services and query code, nothing more."""

from __future__ import annotations

from django.shortcuts import render

from executions.models import Execution
from executions.query import ListQuery, QueryError
from projects.access import project_for


def execution_list(request, slug: str):
    project = project_for(request.user, slug)
    error = None
    try:
        query = ListQuery.from_params(request.GET)
    except QueryError as exc:
        error, query = exc.message, ListQuery()
    rows, next_cursor = query.page(Execution.objects.in_project(project))
    return render(
        request,
        "executions/execution_list.html",
        {"project": project, "executions": rows, "next_cursor": next_cursor, "error": error},
    )
