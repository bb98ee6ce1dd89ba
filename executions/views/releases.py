"""Release pages: the project registry (``gto show``), an artifact's versions and history
(``gto history``), stage changes behind a confirmation, and "Release this execution".

Everything works as plain links and forms; with htmx the stage confirmation opens in place
and the release form swaps the execution page's releases panel."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from executions import releases
from executions.errors import ExecboardError
from executions.models import Execution, Phase, Release
from projects.access import can_edit, project_for
from projects.models import Project, Role

PANEL_TEMPLATE = "executions/partials/_releases.html"
# Offered in the stage box next to the stages the project already uses.
USUAL_STAGES = ("dev", "staging", "prod")


def artifact_url(project: Project, artifact: str) -> str:
    return reverse("executions:artifact", args=[project.slug, artifact])


def stage_suggestions(names: list[str]) -> list[str]:
    return names + [stage for stage in USUAL_STAGES if stage not in names]


def release_panel_context(
    execution: Execution, user, *, values: dict | None = None, error: str | None = None
) -> dict:
    """What the execution page's releases panel shows: the execution's releases with their
    stages and, for editors of a succeeded execution, the release form with next versions."""
    project = execution.project
    editable = can_edit(user, project)
    context = {
        "project": project,
        "execution": execution,
        "releases": [
            {"release": release, "stages": stages, "url": artifact_url(project, release.artifact)}
            for release, stages in releases.releases_of_execution(execution)
        ],
        "can_release": editable and execution.phase == Phase.SUCCEEDED,
        "can_edit": editable,
        "error": error,
    }
    if context["can_release"]:
        values = dict(values or {})
        values.setdefault("artifact", releases.artifact_from_workflow(execution.workflow))
        try:
            artifact = releases.validate_artifact(values["artifact"])
            suggestions = releases.suggested_versions(project=project, artifact=artifact)
        except ExecboardError:
            suggestions = {}
        context.update(
            values=values,
            suggestions=suggestions,
            stage_suggestions=stage_suggestions(releases.project_stage_names(project)),
        )
    return context


@require_safe
def registry(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(request.user, slug)
    states = releases.registry(project)
    stages = releases.stage_names(states)
    rows = [
        {
            "state": state,
            "url": artifact_url(project, state.artifact),
            "cells": [state.stages.get(stage) for stage in stages],
        }
        for state in states
    ]
    return render(
        request,
        "executions/registry.html",
        {"project": project, "rows": rows, "stages": stages},
    )


@require_safe
def artifact_page(request: HttpRequest, slug: str, artifact: str) -> HttpResponse:
    project = project_for(request.user, slug)
    try:
        detail = releases.artifact_detail(project, artifact)
    except ExecboardError as error:
        raise Http404(error.message) from error
    versions = [
        {"release": release, "stages": detail.state.stages_of(release)}
        for release in detail.state.releases
    ]
    return render(
        request,
        "executions/artifact.html",
        {
            "project": project,
            "detail": detail,
            "versions": versions,
            "can_edit": can_edit(request.user, project),
            "stage_suggestions": stage_suggestions(releases.project_stage_names(project)),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def stage_change(request: HttpRequest, slug: str, release_id: int) -> HttpResponse:
    """GET asks to confirm assigning (or unassigning) a stage; POST does it."""
    project = project_for(request.user, slug, Role.EDITOR)
    release = Release.objects.filter(project=project, pk=release_id).first()
    if release is None:
        raise Http404("No such release.")
    data = request.POST if request.method == "POST" else request.GET
    action = "unassign" if data.get("action") == "unassign" else "assign"
    stage = data.get("stage", "")
    error = None
    status = 200
    try:
        stage = releases.validate_stage(stage)
        if request.method == "POST":
            change = releases.stage_assign if action == "assign" else releases.stage_unassign
            change(release=release, stage=stage, by=request.user.get_username())
            return redirect(artifact_url(project, release.artifact))
    except ExecboardError as exc:
        error, status = exc.message, exc.status
    current = releases.artifact_detail(project, release.artifact).state.stages.get(stage)
    template = "executions/stage_confirm.html"
    if request.htmx:
        template += "#confirm"
    return render(
        request,
        template,
        {
            "project": project,
            "release": release,
            "action": action,
            "stage": stage,
            "current": current,
            "error": error,
            "back": artifact_url(project, release.artifact),
        },
        status=status,
    )


@login_required
@require_POST
def execution_release(request: HttpRequest, slug: str, execution_id: str) -> HttpResponse:
    """Release the execution from its page; errors come back with what was typed."""
    project = project_for(request.user, slug, Role.EDITOR)
    execution = Execution.objects.filter(project=project, pk=execution_id).first()
    if execution is None:
        raise Http404("No such execution.")
    values = {
        key: request.POST.get(key, "") for key in ("artifact", "version", "bump", "stage", "note")
    }
    try:
        releases.release_create(
            project=project,
            execution=execution,
            by=request.user.get_username(),
            artifact=values["artifact"],
            version=values["version"].strip(),
            # A typed version wins over the bump menu, which always has a choice.
            bump=None if values["version"].strip() else values["bump"],
            note=values["note"],
            stage=values["stage"],
        )
    except ExecboardError as exc:
        context = release_panel_context(execution, request.user, values=values, error=exc.message)
        template = PANEL_TEMPLATE if request.htmx else "executions/execution_release.html"
        return render(request, template, context, status=exc.status)
    if request.htmx:
        return render(request, PANEL_TEMPLATE, release_panel_context(execution, request.user))
    return redirect(execution.get_absolute_url() + "#releases")
