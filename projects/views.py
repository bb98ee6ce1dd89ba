from __future__ import annotations

from django.db.models import Count
from django.shortcuts import render
from django.views.decorators.http import require_safe

from executions.models import Execution
from projects.models import Project


@require_safe
def project_list(request):
    projects = list(Project.objects.visible_to(request.user))
    # One grouped query for every project's counts by phase, not one per project.
    counts: dict[int, dict[str, int]] = {}
    rows = (
        Execution.objects.filter(project__in=projects)
        .values("project_id", "phase")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        counts.setdefault(row["project_id"], {})[row["phase"]] = row["n"]
    for project in projects:
        project.phase_counts = sorted(counts.get(project.pk, {}).items())
        project.total = sum(n for _, n in project.phase_counts)
    return render(request, "projects/project_list.html", {"projects": projects})
