"""What can go wrong talking to Execboard, as exceptions with a message fit for a person.

The CLI prints ``str(error)`` and exits non-zero; no traceback for any of these."""

from __future__ import annotations

from typing import Any


class ExecboardError(Exception):
    """Base of every error the client raises on purpose."""


class ConfigError(ExecboardError):
    """The client is not configured: no token, or a URL that is not http(s)."""


class ServerUnreachable(ExecboardError):
    """No answer from the server: refused, reset, timed out, or DNS failed."""


class ApiError(ExecboardError):
    """The server answered with an error (``{"error": {"code", "message", "field"}}``)."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str = "error",
        field: str | None = None,
        details: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.field = field
        self.details = details or {}
        self.retry_after = retry_after

    @property
    def is_transient(self) -> bool:
        """A 5xx or 429 (throttled): the same request may succeed later."""
        return self.status >= 500 or self.status == 429


class NamespaceError(ExecboardError):
    """The execution exists but lies outside the current namespace (Metaflow's rule)."""
