"""Client configuration from the environment (``EXECBOARD_URL``, ``EXECBOARD_TOKEN``) or flags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from execboard.errors import ConfigError

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_RETRY_SECONDS = 300.0

URL_VAR = "EXECBOARD_URL"
TOKEN_VAR = "EXECBOARD_TOKEN"
RETRY_VAR = "EXECBOARD_RETRY_SECONDS"
# Set by `execboard run` for the command it runs, so the command's steps join that execution.
EXECUTION_ID_VAR = "EXECBOARD_EXECUTION_ID"
EXECUTION_URL_VAR = "EXECBOARD_EXECUTION_URL"


@dataclass(frozen=True)
class Config:
    url: str
    token: str
    # How long a final event is retried while the server is unreachable.
    retry_seconds: float = DEFAULT_RETRY_SECONDS

    @classmethod
    def load(
        cls,
        *,
        url: str | None = None,
        token: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Config:
        """Flags win over the environment; a missing token is a clear error."""
        environ = os.environ if environ is None else environ
        url = (url or environ.get(URL_VAR) or DEFAULT_URL).strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(
                f"The Execboard URL must start with http:// or https://, got {url!r} "
                f"(set {URL_VAR} or pass --url)."
            )
        token = (token or environ.get(TOKEN_VAR) or "").strip()
        if not token:
            raise ConfigError(
                f"No API token: set {TOKEN_VAR} or pass --token. An operator issues one with "
                "`manage.py create_token USERNAME`."
            )
        raw_retry = environ.get(RETRY_VAR, "")
        try:
            retry_seconds = float(raw_retry) if raw_retry else DEFAULT_RETRY_SECONDS
        except ValueError as exc:
            raise ConfigError(
                f"{RETRY_VAR} must be a number of seconds, got {raw_retry!r}."
            ) from exc
        return cls(url=url, token=token, retry_seconds=max(retry_seconds, 0.0))
