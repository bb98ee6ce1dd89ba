from __future__ import annotations

from django.contrib import admin

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


@admin.register(Execution)
class ExecutionAdmin(admin.ModelAdmin):
    """Executions are written by their workflows (API); the admin only shows them."""

    list_display = ["id", "project", "domain", "workflow", "phase", "created_at", "launched_by"]
    list_filter = ["phase", "domain", "project"]
    search_fields = ["id", "workflow", "launched_by"]
    list_select_related = ["project"]
    show_full_result_count = False
    inlines = [StepInline, EventInline, ChangeInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Release)
class ReleaseAdmin(admin.ModelAdmin):
    list_display = ["artifact", "version", "project", "execution", "created_by", "created_at"]
    list_filter = ["project"]
    readonly_fields = ["project", "artifact", "version", "execution", "created_by", "created_at"]

    def has_add_permission(self, request):
        return False
