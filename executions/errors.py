"""Domain errors with a machine code, a human message and an HTTP status.

Services raise these; the API turns them into `{"error": {"code", "message", "field"}}` and
pages show the message next to the form that caused it."""

from __future__ import annotations

from typing import Any


class ExecboardError(Exception):
    code = "invalid"
    status = 400

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        status: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code
        if status:
            self.status = status
        self.extra = extra or {}

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message, "field": self.field}
        body.update(self.extra)
        return body


class Conflict(ExecboardError):
    code = "conflict"
    status = 409


class NotFound(ExecboardError):
    code = "not_found"
    status = 404
