from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpResponseRedirect

from execboard.fields import ADMIN_LIST_COLUMNS, EXECUTION_FIELDS, format_duration
from executions import labels as label_rules
from executions import services
from executions.errors import ExecboardError
from executions.models import Change, Event, Execution, Release, Step


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class StepInline(ReadOnlyInline):
    model = Step
    fields = ["name", "parent", "phase", "started_at", "ended_at"]


class EventInline(ReadOnlyInline):
    model = Event
    fields = ["phase", "occurred_at", "received_at", "event_id", "message", "applied"]


class ChangeInline(ReadOnlyInline):
    model = Change
    fields = ["at", "by", "field", "key", "old", "new"]


def _user_labels(execution: Execution) -> dict[str, str]:
    """The labels people may edit: all but the namespace labels."""
    return {
        key: value
        for key, value in execution.labels.items()
        if key not in label_rules.NAMESPACE_KEYS
    }


# Execution fields the admin does not show as read-only values: computed ones (the display
# name, the URL), the labels (edited as text beside the namespace labels) and the description
# and its version (the form's fields).
_NOT_READ_ONLY = {"display_name", "url", "labels", "description", "description_version"}


def _fingerprint(labels: dict[str, str]) -> str:
    return json.dumps(labels, sort_keys=True, separators=(",", ":"))


class ExecutionAdminForm(forms.ModelForm):
    """The description and the labels, edited as text; saving goes through the services, so
    the same rules hold as in the page and the API and every change lands in the history."""

    labels_text = forms.CharField(
        label="Labels",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 60}),
        help_text="One key:value per line (a bare key is a tag). The namespace labels "
        "(user, production) are set by Execboard and are not listed here.",
    )
    # What the editor saw when the page opened: a save must not undo a change that someone
    # else made in the meantime (the description by its version, the labels by their value).
    description_version = forms.IntegerField(widget=forms.HiddenInput)
    labels_seen = forms.CharField(widget=forms.HiddenInput, required=False, strip=False)

    class Meta:
        model = Execution
        fields = ["description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 14, "cols": 90})}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["description"].strip = False
        labels = _user_labels(self.instance)
        self.fields["labels_text"].initial = "\n".join(
            label_rules.format_label(key, value) for key, value in labels.items()
        )
        self.fields["labels_seen"].initial = _fingerprint(labels)
        self.fields["description_version"].initial = self.instance.description_version
        self.description_changed = False
        self.labels_to_set: dict[str, str] = {}
        self.labels_to_remove: list[str] = []

    def clean_description(self) -> str:
        # Browsers send a textarea's line breaks as CRLF; the stored text uses LF.
        text = (self.cleaned_data["description"] or "").replace("\r\n", "\n")
        try:
            return services.validate_description(text)
        except ExecboardError as error:
            raise forms.ValidationError(error.message) from error

    def clean_labels_text(self) -> dict[str, str]:
        labels: dict[str, str] = {}
        for number, line in enumerate(self.cleaned_data["labels_text"].splitlines(), start=1):
            if not line.strip():
                continue
            try:
                key, value = label_rules.parse_label(line.strip())
                label_rules.validate_user_key(key)
            except label_rules.LabelError as error:
                raise forms.ValidationError(f"Line {number}: {error.message}") from error
            if key in labels:
                raise forms.ValidationError(f"Line {number}: the key {key!r} is given twice.")
            labels[key] = value
        try:
            label_rules.check_count(labels)
        except label_rules.LabelError as error:
            raise forms.ValidationError(error.message) from error
        return labels

    def clean(self) -> dict:
        """Work out what changed (before the instance takes the submitted values)."""
        data = super().clean()
        execution = self.instance
        if "description" in data and data["description"] != execution.description:
            if data.get("description_version") != execution.description_version:
                raise forms.ValidationError(
                    "Someone changed the description since you opened this page; nothing was "
                    "saved. Copy your text, reload the page and apply your change again."
                )
            self.description_changed = True
        current = _user_labels(execution)
        wanted = data.get("labels_text")
        if wanted is not None and wanted != current:
            if data.get("labels_seen") != _fingerprint(current):
                raise forms.ValidationError(
                    "Someone changed the labels since you opened this page; nothing was saved. "
                    "Reload the page and apply your change again."
                )
            self.labels_to_set = {k: v for k, v in wanted.items() if current.get(k) != v}
            self.labels_to_remove = [key for key in current if key not in wanted]
        return data


@admin.register(Execution)
class ExecutionAdmin(admin.ModelAdmin):
    """Executions are written by their workflows (API); in the admin only the description
    and the labels can be changed, through the same services as the page and the API."""

    form = ExecutionAdminForm
    list_display = list(ADMIN_LIST_COLUMNS)
    list_filter = ["phase", "domain", "project"]
    search_fields = ["id", "workflow", "launched_by"]
    list_select_related = ["project"]
    show_full_result_count = False
    inlines = [StepInline, EventInline, ChangeInline]
    # The execution's fields in the API's order, the duration as text.
    readonly_fields = [
        "duration_text" if name == "duration" else name
        for name in EXECUTION_FIELDS
        if name not in _NOT_READ_ONLY
    ] + ["namespace_labels"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("id", "project", "domain"),
                    ("workflow", "workflow_version"),
                    ("phase", "mode", "launched_by"),
                    ("created_at", "started_at", "ended_at", "duration_text"),
                    "parent",
                    "error",
                ]
            },
        ),
        (
            "Description and labels",
            {
                "fields": [
                    "description",
                    "description_version",
                    "labels_text",
                    "labels_seen",
                    "namespace_labels",
                ]
            },
        ),
        ("Data", {"fields": ["inputs", "user_metadata"], "classes": ["collapse"]}),
    ]

    @admin.display(description="Duration")
    def duration_text(self, obj: Execution) -> str:
        return format_duration(obj.duration) or self.get_empty_value_display()

    @admin.display(description="Namespace labels")
    def namespace_labels(self, obj: Execution) -> str:
        return ", ".join(
            label_rules.format_label(key, value)
            for key, value in obj.labels.items()
            if key in label_rules.NAMESPACE_KEYS
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """Write through the services (never ``obj.save()``), all or nothing."""
        by = request.user.get_username()
        try:
            with transaction.atomic():
                if form.description_changed:
                    services.description_update(
                        execution_id=obj.pk,
                        text=form.cleaned_data["description"],
                        expected_version=form.cleaned_data["description_version"],
                        by=by,
                    )
                if form.labels_to_set or form.labels_to_remove:
                    services.labels_update(
                        execution_id=obj.pk,
                        by=by,
                        set_labels=form.labels_to_set,
                        remove=form.labels_to_remove,
                    )
        except ExecboardError as error:
            # Someone wrote in between the form's checks and this save: nothing was changed.
            request._execboard_admin_error = error
            self.message_user(request, f"Nothing was saved: {error.message}", messages.ERROR)

    def response_change(self, request, obj):
        if getattr(request, "_execboard_admin_error", None) is not None:
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)


@admin.register(Release)
class ReleaseAdmin(admin.ModelAdmin):
    list_display = ["artifact", "version", "project", "execution", "created_by", "created_at"]
    list_filter = ["project"]
    readonly_fields = ["project", "artifact", "version", "execution", "created_by", "created_at"]

    def has_add_permission(self, request):
        return False
