"""The execution page and its htmx fragments: the description and labels edited in place.

Every edit works as a plain form too: without JavaScript "Edit" opens the page in edit mode,
the form posts, and a success redirects back; with htmx the same URLs answer with a named
fragment of the page's template (``{% partialdef %}``). Errors keep what the user typed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from executions import labels as label_rules
from executions import services
from executions.errors import Conflict, ExecboardError, NotFound
from executions.markdown import render_markdown
from executions.models import Change, Execution
from executions.query import LabelTerm, to_text
from executions.textdiff import DiffLine, line_diff
from executions.timeline import build_timeline, step_tree
from projects.access import can_edit, project_for
from projects.models import Project, Role

TEMPLATE = "executions/execution_detail.html"
EVENTS_SHOWN = 200
CHILDREN_SHOWN = 50
HISTORY_SHOWN = 50
# Label suggestions come from the labels of the project's latest executions.
SUGGESTION_SAMPLE = 200
SUGGESTIONS_SHOWN = 40


class DescriptionForm(forms.Form):
    description = forms.CharField(required=False, strip=False, widget=forms.Textarea)
    description_version = forms.IntegerField(min_value=0, widget=forms.HiddenInput)

    def clean_description(self) -> str:
        # Browsers send a textarea's line breaks as CRLF; the stored text uses LF.
        return self.cleaned_data["description"].replace("\r\n", "\n")


class LabelForm(forms.Form):
    """``label`` (``key:value``) adds or changes a label; ``key`` + ``value`` changes one."""

    label = forms.CharField(required=False, strip=False)
    key = forms.CharField(required=False)
    value = forms.CharField(required=False, strip=False)

    def clean(self) -> dict:
        data = super().clean()
        text = data.get("label") or ""
        if not text.strip() and data.get("key"):
            text = label_rules.format_label(data["key"], data.get("value") or "")
        if not text.strip():
            raise forms.ValidationError("Write a label as key:value (or a bare key for a tag).")
        try:
            key, value = label_rules.parse_label(text.strip())
        except label_rules.LabelError as error:
            raise forms.ValidationError(error.message) from error
        # "stage: eval" means the value "eval": spaces around the colon are layout.
        data["parsed"] = (key, value.strip())
        return data


@dataclass(frozen=True)
class LabelChip:
    key: str
    value: str
    filter_url: str
    is_default: bool
    is_namespace: bool

    @property
    def text(self) -> str:
        return label_rules.format_label(self.key, self.value)


def filter_term(key: str, value: str) -> str:
    """The list page's query for one label, in the shared expression grammar: ``key:value``
    (quoted when needed), or a bare ``key`` for a tag."""
    return to_text(LabelTerm(key, value or None))


def _list_url(project: Project, q: str) -> str:
    return f"{reverse('executions:list', args=[project.slug])}?{urlencode({'q': q})}"


def _execution_for(
    request: HttpRequest, slug: str, execution_id: str, role: str = Role.VIEWER
) -> tuple[Project, Execution]:
    """The project and the execution, or 404 (403 when the user may read but not ``role``)."""
    project = project_for(request.user, slug, role)
    # select_related: the header links to the parent (one query, not two).
    execution = (
        Execution.objects.select_related("parent").filter(project=project, pk=execution_id).first()
    )
    if execution is None:
        raise Http404("No such execution.")
    execution.project = project
    return project, execution


def _detail_url(execution: Execution, anchor: str = "") -> str:
    return execution.get_absolute_url() + (f"#{anchor}" if anchor else "")


def _label_chips(project: Project, execution: Execution) -> list[LabelChip]:
    defaults = project.default_labels_dict()
    return [
        LabelChip(
            key=key,
            value=value,
            filter_url=_list_url(project, filter_term(key, value)),
            is_default=defaults.get(key) == value and key not in label_rules.NAMESPACE_KEYS,
            is_namespace=key in label_rules.NAMESPACE_KEYS,
        )
        for key, value in sorted(
            execution.labels.items(),
            key=lambda item: (item[0] in label_rules.NAMESPACE_KEYS, item[0]),
        )
    ]


def _label_suggestions(project: Project) -> list[str]:
    """``key:value`` pairs most used among the project's latest executions (one query)."""
    recent = Execution.objects.in_project(project).latest_first().values_list("labels", flat=True)
    counts = Counter(
        label_rules.format_label(key, value)
        for labels in recent[:SUGGESTION_SAMPLE]
        for key, value in labels.items()
        if key not in label_rules.NAMESPACE_KEYS
    )
    return [text for text, _ in counts.most_common(SUGGESTIONS_SHOWN)]


@dataclass(frozen=True)
class HistoryEntry:
    change: Change

    @property
    def diff(self) -> list[DiffLine]:
        return line_diff(self.change.old, self.change.new)


def _history(execution: Execution) -> dict:
    changes = list(execution.changes.all()[: HISTORY_SHOWN + 1])
    return {
        "history": [HistoryEntry(change) for change in changes[:HISTORY_SHOWN]],
        "history_truncated": len(changes) > HISTORY_SHOWN,
        "history_api_url": reverse("api-execution-history", args=[execution.pk]),
    }


def _base_context(request: HttpRequest, project: Project, execution: Execution) -> dict:
    return {
        "project": project,
        "execution": execution,
        "can_edit": can_edit(request.user, project),
    }


def _description_context(request: HttpRequest, project: Project, execution: Execution) -> dict:
    context = _base_context(request, project, execution)
    context["description_html"] = render_markdown(execution.description)
    return context


def _labels_context(
    request: HttpRequest,
    project: Project,
    execution: Execution,
    *,
    label_form: LabelForm | None = None,
    editing_label: str | None = None,
    label_error: str | None = None,
) -> dict:
    context = _base_context(request, project, execution)
    chips = _label_chips(project, execution)
    context.update(
        label_chips=chips,
        label_count=sum(1 for chip in chips if not chip.is_namespace),
        label_form=label_form,
        editing_label=editing_label,
        label_error=label_error,
        label_suggestions=_label_suggestions(project) if context["can_edit"] else [],
        max_labels=settings.EXECBOARD_MAX_LABELS,
    )
    return context


def _page_context(request: HttpRequest, project: Project, execution: Execution, **state) -> dict:
    """Everything the page shows, in a fixed number of queries whatever the number of steps,
    events, labels, children and changes."""
    context = _labels_context(
        request,
        project,
        execution,
        label_form=state.pop("label_form", None),
        editing_label=state.pop("editing_label", None),
        label_error=state.pop("label_error", None),
    )
    steps = list(execution.steps.all())
    step_names = {step.pk: step.name for step in steps}
    events = list(execution.events.order_by("-occurred_at", "-id")[: EVENTS_SHOWN + 1])
    for event in events:
        event.step_name = step_names.get(event.step_id, "")
    children = list(execution.children.order_by("-created_at", "-id")[: CHILDREN_SHOWN + 1])
    until = execution.ended_at if execution.is_terminal and execution.ended_at else timezone.now()
    context.update(
        step_rows=step_tree(steps),
        description_html=render_markdown(execution.description),
        timeline=build_timeline(steps, until=until) if steps else None,
        events=events[:EVENTS_SHOWN],
        events_truncated=len(events) > EVENTS_SHOWN,
        events_api_url=reverse("api-execution-events", args=[execution.pk]),
        children=children[:CHILDREN_SHOWN],
        children_truncated=len(children) > CHILDREN_SHOWN,
        children_url=_list_url(project, f"@parent:{execution.pk}"),
        **_history(execution),
        **state,
    )
    return context


def _is_fragment(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


@require_GET
def execution_detail(request: HttpRequest, slug: str, execution_id: str) -> HttpResponse:
    project, execution = _execution_for(request, slug, execution_id)
    return render(request, TEMPLATE, _page_context(request, project, execution))


# Description -----------------------------------------------------------------------------


@require_GET
def description(request: HttpRequest, slug: str, execution_id: str) -> HttpResponse:
    """The rendered description: what Cancel swaps back in place of the form."""
    project, execution = _execution_for(request, slug, execution_id)
    if not _is_fragment(request):
        return redirect(_detail_url(execution, "description"))
    return render(
        request, f"{TEMPLATE}#description-view", _description_context(request, project, execution)
    )


def _render_editor(
    request: HttpRequest,
    project: Project,
    execution: Execution,
    form: DescriptionForm,
    *,
    fragment: str = "description-edit",
    status: int = 200,
    **state,
) -> HttpResponse:
    """The description form: a fragment for htmx, otherwise the whole page in edit mode.
    The preview shows the text being edited, rendered by the same function as the page."""
    if "preview_html" not in state:
        state["preview_html"] = render_markdown(form["description"].value() or "")
    if _is_fragment(request):
        context = _base_context(request, project, execution)
        context.update(description_form=form, **state)
        return render(request, f"{TEMPLATE}#{fragment}", context, status=status)
    context = _page_context(
        request, project, execution, editing_description=True, description_form=form, **state
    )
    return render(request, TEMPLATE, context, status=status)


def _last_description_change(execution: Execution) -> Change | None:
    return execution.changes.filter(field=Change.Field.DESCRIPTION).first()


@require_http_methods(["GET", "POST"])
def description_edit(request: HttpRequest, slug: str, execution_id: str) -> HttpResponse:
    project, execution = _execution_for(request, slug, execution_id, Role.EDITOR)
    if request.method == "GET":
        form = DescriptionForm(
            initial={
                "description": execution.description,
                "description_version": execution.description_version,
            }
        )
        return _render_editor(request, project, execution, form)

    form = DescriptionForm(request.POST)
    if not form.is_valid():
        return _render_editor(request, project, execution, form, status=400)
    text = form.cleaned_data["description"]
    if request.POST.get("action") == "preview":
        try:
            preview, preview_error = render_markdown(services.validate_description(text)), None
        except ExecboardError as error:
            preview, preview_error = None, error.message
        return _render_editor(
            request,
            project,
            execution,
            form,
            fragment="description-preview",
            preview_html=preview,
            preview_error=preview_error,
        )
    try:
        execution = services.description_update(
            execution_id=execution.pk,
            text=text,
            expected_version=form.cleaned_data["description_version"],
            by=request.user.get_username(),
        )
    except Conflict as conflict:
        # Keep the user's text; the form now carries the current version, so saving again
        # is a deliberate overwrite by someone who has seen the other text.
        current_version = conflict.extra["description_version"]
        theirs = conflict.extra["description"]
        retry = DescriptionForm(
            initial={"description": text, "description_version": current_version}
        )
        return _render_editor(
            request,
            project,
            execution,
            retry,
            status=409,
            conflict={
                "message": conflict.message,
                "text": theirs,
                "html": render_markdown(theirs),
                "version": current_version,
                "change": _last_description_change(execution),
                "diff": line_diff(theirs, text),
            },
        )
    except ExecboardError as error:
        form.add_error("description", error.message)
        return _render_editor(
            request,
            project,
            execution,
            form,
            status=error.status,
            preview_html=None,
            preview_error=error.message,
        )
    execution.project = project
    if not _is_fragment(request):
        return redirect(_detail_url(execution, "description"))
    context = _description_context(request, project, execution)
    context.update(_history(execution))
    return render(request, f"{TEMPLATE}#description-saved", context)


# Labels ----------------------------------------------------------------------------------


def _render_labels(
    request: HttpRequest,
    project: Project,
    execution: Execution,
    *,
    status: int = 200,
    fragment: str = "labels",
    **state,
) -> HttpResponse:
    if _is_fragment(request):
        context = _labels_context(request, project, execution, **state)
        if fragment == "labels-saved":
            context.update(_history(execution))
        return render(request, f"{TEMPLATE}#{fragment}", context, status=status)
    return render(
        request, TEMPLATE, _page_context(request, project, execution, **state), status=status
    )


@require_http_methods(["GET", "POST"])
def labels(request: HttpRequest, slug: str, execution_id: str) -> HttpResponse:
    """GET: the labels section (``?edit=<key>`` opens one label's value for editing).
    POST: add a label, or change the value of one."""
    project, execution = _execution_for(request, slug, execution_id, Role.EDITOR)
    if request.method == "GET":
        editing = request.GET.get("edit")
        if editing is not None and editing not in execution.labels:
            editing = None
        return _render_labels(request, project, execution, editing_label=editing)

    form = LabelForm(request.POST)
    editing = request.POST.get("key") or None
    if form.is_valid():
        key, value = form.cleaned_data["parsed"]
        try:
            execution = services.labels_update(
                execution_id=execution.pk, by=request.user.get_username(), set_labels={key: value}
            )
        except ExecboardError as error:
            form.add_error(None, error.message)
    if not form.is_valid():
        return _render_labels(
            request, project, execution, status=400, label_form=form, editing_label=editing
        )
    execution.project = project
    if not _is_fragment(request):
        return redirect(_detail_url(execution, "labels"))
    return _render_labels(request, project, execution, fragment="labels-saved")


@require_POST
def label_remove(request: HttpRequest, slug: str, execution_id: str) -> HttpResponse:
    project, execution = _execution_for(request, slug, execution_id, Role.EDITOR)
    key = request.POST.get("key", "")
    try:
        execution = services.labels_update(
            execution_id=execution.pk, by=request.user.get_username(), remove=[key]
        )
    except ExecboardError as error:
        # A label that is already gone was removed by someone else: a conflict for the page.
        status = 409 if isinstance(error, NotFound) else error.status
        return _render_labels(request, project, execution, status=status, label_error=error.message)
    execution.project = project
    if not _is_fragment(request):
        return redirect(_detail_url(execution, "labels"))
    return _render_labels(request, project, execution, fragment="labels-saved")
