"""A snapshot of every row Execboard stores, to assert that a refused request changed nothing."""

from __future__ import annotations

from django.apps import apps
from django.contrib.auth import get_user_model

# Bookkeeping that a refused request may touch without changing anything a user sees.
IGNORED_FIELDS = {"last_used_at", "last_login"}


def database_snapshot() -> dict[str, list[str]]:
    models = [
        *apps.get_app_config("projects").get_models(),
        *apps.get_app_config("executions").get_models(),
        get_user_model(),
    ]
    snapshot = {}
    for model in models:
        fields = [f.attname for f in model._meta.concrete_fields if f.attname not in IGNORED_FIELDS]
        rows = model.objects.order_by().values_list(*fields)
        snapshot[model._meta.label] = sorted(repr(row) for row in rows)
    return snapshot
