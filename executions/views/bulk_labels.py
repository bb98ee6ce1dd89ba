"""The bulk labels page (SPEC §4, §10): add or remove labels on selected executions of a
project, or on everything a list view matches, after a preview of how many would change.

GET shows the form for a selection: ``ids=a&ids=b`` (or ``ids=a,b``) for selected
executions, otherwise the list's own parameters (``q``, ``filters``, ``domain``, ``phase``,
``since``, ``namespace``) for everything they match. The list's other parameters (sort,
grouping, columns) only say where to go back to. POST with ``action=preview`` shows "This
will change N of M executions" and a Confirm form carrying the same selection and changes;
``action=confirm`` applies them and goes back to the list. An htmx request gets the
``#bulk-labels`` fragment (for a dialog); after a confirm, ``HX-Redirect`` to the list.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from executions.bulk_labels import (
    LabelChanges,
    Selection,
    labels_bulk_update,
    parse_keys_text,
    parse_labels_text,
    select_ids,
    select_matching,
)
from executions.errors import ExecboardError
from executions.models import Execution
from projects.access import can_edit, check_access, project_for
from projects.models import Project, Role

TEMPLATE = "executions/bulk_labels.html"
# The list's parameters that select executions, and those that only show them.
FILTER_PARAMS = ("q", "filters", "domain", "phase", "since", "namespace")
VIEW_PARAMS = ("sort_by.key", "sort_by.direction", "limit", "group_by", "columns", "defaults")


class BulkLabelsForm(forms.Form):
    add = forms.CharField(
        required=False,
        strip=False,
        label="Add labels",
        help_text='key:value pairs separated by spaces; a bare key is a tag; "quote" a value '
        "with spaces.",
    )
    remove = forms.CharField(
        required=False, label="Remove keys", help_text="Label keys separated by spaces."
    )

    def clean(self) -> dict:
        data = super().clean()
        try:
            data["changes"] = LabelChanges.validated(
                parse_labels_text(data.get("add") or ""),
                parse_keys_text(data.get("remove") or ""),
            )
        except ExecboardError as error:
            field = error.field if error.field in self.fields else None
            self.add_error(field, error.message)
        return data


@dataclass(frozen=True)
class PageState:
    """The selection (``ids``, or the list's filters when there are none) and the list's
    URL state, as the list page sent them."""

    ids: tuple[str, ...]
    params: QueryDict

    @classmethod
    def from_data(cls, data: QueryDict) -> PageState:
        ids = (i.strip() for value in data.getlist("ids") for i in value.split(","))
        params = QueryDict(mutable=True)
        for name in FILTER_PARAMS + VIEW_PARAMS:
            values = [value for value in data.getlist(name) if value]
            if values:
                params.setlist(name, values)
        return cls(tuple(dict.fromkeys(i for i in ids if i)), params)

    @property
    def filters(self) -> list[tuple[str, str]]:
        """What the list is filtered by, as ``(name, value)``."""
        return [(name, value) for name in FILTER_PARAMS for value in self.params.getlist(name)]

    @property
    def hidden(self) -> list[tuple[str, str]]:
        """The state as form fields, so that each POST carries the same selection."""
        fields = [("ids", ",".join(self.ids))] if self.ids else []
        return fields + [(name, value) for name, values in self.params.lists() for value in values]

    def selection(self, project: Project) -> Selection:
        executions = Execution.objects.in_project(project)
        if self.ids:
            return select_ids(list(self.ids), executions)
        return select_matching(self.params, executions, project.pk)

    def list_url(self, project: Project) -> str:
        url = reverse("executions:list", args=[project.slug])
        return f"{url}?{self.params.urlencode()}" if self.params else url


@require_http_methods(["GET", "POST"])
def bulk_labels(request: HttpRequest, slug: str) -> HttpResponse:
    project = project_for(request.user, slug)
    data = request.POST if request.method == "POST" else request.GET
    state = PageState.from_data(data)
    if not can_edit(request.user, project):
        # Whoever may read the project is told what it takes; a change is refused (403).
        error = f"Changing labels needs the editor role on project {project.slug}."
        status = 403 if request.method == "POST" else 200
        return _render(request, project, state, BulkLabelsForm(), error=error, status=status)
    if request.method == "GET":
        initial = {"add": data.get("add", ""), "remove": data.get("remove", "")}
        return _render(request, project, state, BulkLabelsForm(initial=initial))

    form = BulkLabelsForm(request.POST)
    if not form.is_valid():
        return _render(request, project, state, form, status=400)
    confirm = request.POST.get("action") == "confirm"
    try:
        result = labels_bulk_update(
            selection=state.selection(project),
            changes=form.cleaned_data["changes"],
            by=request.user.get_username(),
            authorize=lambda p: check_access(request.user, p, Role.EDITOR),
            dry_run=not confirm,
        )
    except ExecboardError as error:
        return _render(request, project, state, form, error=error.message, status=error.status)
    if not confirm:
        return _render(
            request, project, state, form, preview=result, changes=form.cleaned_data["changes"]
        )
    if request.htmx:
        return HttpResponse(status=204, headers={"HX-Redirect": state.list_url(project)})
    return redirect(state.list_url(project))


def _render(
    request: HttpRequest,
    project: Project,
    state: PageState,
    form: BulkLabelsForm,
    *,
    status: int = 200,
    **context,
) -> HttpResponse:
    template = TEMPLATE
    if request.htmx and not request.htmx.history_restore_request:
        template += "#bulk-labels"
    context.update(project=project, state=state, form=form, list_url=state.list_url(project))
    return render(request, template, context, status=status)
