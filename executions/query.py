"""One query model for the list page, the API and the client (SPEC §3).

URL parameters → ``ListQuery.from_params`` → ``ListQuery.apply(queryset)`` → a keyset page.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Q
from django.utils.dateparse import parse_datetime

from executions.errors import ExecboardError
from executions.models import Execution, ExecutionQuerySet, Phase

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


class QueryError(ExecboardError):
    code = "invalid_query"
    status = 400


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: the last row's sort position."""

    created_at: datetime
    id: str

    def encode(self) -> str:
        raw = json.dumps([self.created_at.isoformat(), self.id]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            created_at, execution_id = json.loads(raw)
            moment = parse_datetime(created_at)
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
            raise QueryError(
                "The cursor is not valid; start again from the first page.", field="cursor"
            ) from exc
        if moment is None or not isinstance(execution_id, str):
            raise QueryError(
                "The cursor is not valid; start again from the first page.", field="cursor"
            )
        return cls(moment, execution_id)


@dataclass(frozen=True)
class ListQuery:
    domain: str | None = None
    phases: tuple[str, ...] = ()
    limit: int = DEFAULT_LIMIT
    cursor: Cursor | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> ListQuery:
        domain = params.get("domain") or None
        if domain is not None and domain not in settings.EXECBOARD_DOMAINS:
            raise QueryError(
                f"Unknown domain {domain!r}; expected one of "
                f"{', '.join(settings.EXECBOARD_DOMAINS)}.",
                field="domain",
            )
        phases = tuple(p for p in (params.get("phase") or "").split(",") if p)
        for phase in phases:
            if phase not in Phase.values:
                raise QueryError(f"Unknown phase {phase!r}.", field="phase")
        raw_limit = params.get("limit") or str(DEFAULT_LIMIT)
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
            raise QueryError(f"limit must be a whole number from 1 to {MAX_LIMIT}.", field="limit")
        cursor = Cursor.decode(params["cursor"]) if params.get("cursor") else None
        return cls(domain=domain, phases=phases, limit=int(raw_limit), cursor=cursor)

    def filter(self, queryset: ExecutionQuerySet) -> ExecutionQuerySet:
        if self.domain:
            queryset = queryset.filter(domain=self.domain)
        if self.phases:
            queryset = queryset.filter(phase__in=self.phases)
        return queryset

    def page(self, queryset: ExecutionQuerySet) -> tuple[list[Execution], Cursor | None]:
        """One keyset page, latest first, and the cursor of the next page (None at the end)."""
        queryset = self.filter(queryset).latest_first()
        if self.cursor:
            queryset = queryset.filter(
                Q(created_at__lt=self.cursor.created_at)
                | Q(created_at=self.cursor.created_at, id__lt=self.cursor.id)
            )
        rows = list(queryset[: self.limit + 1])
        if len(rows) > self.limit:
            last = rows[self.limit - 1]
            return rows[: self.limit], Cursor(last.created_at, last.id)
        return rows, None
