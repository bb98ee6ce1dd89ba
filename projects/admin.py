from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils import timezone

from executions import labels as label_rules
from executions.errors import ExecboardError
from projects.models import ApiToken, DefaultLabel, Membership, Project


class DefaultLabelForm(forms.ModelForm):
    class Meta:
        model = DefaultLabel
        fields = ["key", "value", "position"]

    def clean_key(self):
        try:
            return label_rules.validate_user_key(self.cleaned_data["key"].strip())
        except ExecboardError as exc:
            raise ValidationError(exc.message) from exc

    def clean_value(self):
        try:
            return label_rules.validate_value(
                self.cleaned_data.get("key", ""), self.cleaned_data.get("value", "")
            )
        except ExecboardError as exc:
            raise ValidationError(exc.message) from exc


class DefaultLabelFormSet(BaseInlineFormSet):
    def clean(self):
        keys = [
            form.cleaned_data["key"]
            for form in self.forms
            if form.cleaned_data.get("key") and not form.cleaned_data.get("DELETE")
        ]
        duplicates = {key for key in keys if keys.count(key) > 1}
        # Before super().clean(), whose unique check would say only "duplicate data for key".
        if duplicates:
            raise ValidationError(f"Each key once; repeated: {', '.join(sorted(duplicates))}.")
        super().clean()
        try:
            label_rules.check_count(keys)
        except ExecboardError as exc:
            raise ValidationError(exc.message) from exc


class ApiTokenForm(forms.ModelForm):
    def clean_production_namespace(self):
        """The namespace becomes the value of the `production` label: same rules."""
        value = self.cleaned_data["production_namespace"].strip()
        try:
            return label_rules.validate_value("production", value)
        except ExecboardError as exc:
            raise ValidationError(exc.message) from exc


class DefaultLabelInline(admin.TabularInline):
    model = DefaultLabel
    form = DefaultLabelForm
    formset = DefaultLabelFormSet
    extra = 1


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "created_at"]
    search_fields = ["slug", "name"]
    inlines = [DefaultLabelInline, MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "project", "role"]
    list_filter = ["role", "project"]
    autocomplete_fields = ["user", "project"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    form = ApiTokenForm
    list_display = [
        "name",
        "user",
        "key_prefix",
        "production_namespace",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]
    list_filter = ["revoked_at"]
    readonly_fields = ["key_prefix", "created_at", "last_used_at"]
    fields = [
        "user",
        "name",
        "production_namespace",
        "projects",
        "expires_at",
        "revoked_at",
        "key_prefix",
        "created_at",
        "last_used_at",
    ]
    autocomplete_fields = ["user"]
    filter_horizontal = ["projects"]
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if not change:
            key = ApiToken.generate_key()
            obj.set_key(key)
            messages.warning(
                request,
                f"The token's key is {key} — copy it now, it is stored hashed and will not be "
                "shown again.",
            )
        super().save_model(request, obj, form, change)

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
