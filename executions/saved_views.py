"""Saved views (SPEC §4): a named list query string (filter, grouping, sort) shared in a
project. The query string is validated by the list's own query model before it is kept."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.http import QueryDict

from executions.columns import parse_columns
from executions.errors import ExecboardError
from executions.models import SavedView
from executions.query import ListQuery, QueryError
from projects.models import Project

MAX_NAME_LENGTH = 100
MAX_QUERY_STRING_LENGTH = 8192
# Paging state and one-off form fields are not part of a view.
TRANSIENT_PARAMS = ("cursor", "or_term", "or_value", "move")


def clean_query_string(raw: str) -> str:
    """The list parameters of ``raw`` without paging state; a query the list would refuse is
    refused here too."""
    if not isinstance(raw, str) or len(raw) > MAX_QUERY_STRING_LENGTH:
        raise ExecboardError(
            f"A saved view's query is at most {MAX_QUERY_STRING_LENGTH:,} characters.",
            field="query_string",
        )
    params = QueryDict(raw.lstrip("?"), mutable=True)
    for name in TRANSIENT_PARAMS:
        params.pop(name, None)
    try:
        ListQuery.from_params(params)
        parse_columns(params)
    except QueryError as exc:
        raise ExecboardError(exc.message, field="query_string") from exc
    return params.urlencode()


def saved_view_create(*, project: Project, name: str, query_string: str, by: str) -> SavedView:
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME_LENGTH or any(ord(c) < 32 for c in name):
        raise ExecboardError(
            f"A saved view needs a name of 1 to {MAX_NAME_LENGTH} printable characters.",
            field="name",
        )
    query_string = clean_query_string(query_string)
    try:
        with transaction.atomic():
            return SavedView.objects.create(
                project=project, name=name, query_string=query_string, created_by=by
            )
    except IntegrityError as exc:
        raise ExecboardError(
            f"This project already has a saved view named {name!r}; pick another name.",
            field="name",
            code="conflict",
            status=409,
        ) from exc
