"""HTTP client for Execboard's REST API (SPEC §5): one generic ``request`` and typed methods."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

import requests

from execboard import __version__
from execboard.config import Config
from execboard.errors import ApiError, ConfigError, ServerUnreachable

T = TypeVar("T")

MAX_BACKOFF_SECONDS = 30.0


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def new_event_id() -> str:
    """A fresh idempotency key: the server accepts an event with a given id once."""
    return uuid.uuid4().hex


def _segment(value: str) -> str:
    return quote(str(value), safe="")


class Client:
    """``Client()`` reads ``EXECBOARD_URL`` and ``EXECBOARD_TOKEN``; ``Client(url=..., token=...)``
    overrides them. Every method raises ``ExecboardError`` subclasses, never ``requests``'."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        url: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.config = config or Config.load(url=url, token=token)
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {self.config.token}"
        self.session.headers["User-Agent"] = f"execboard/{__version__}"
        self._me: dict[str, str] | None = None

    @property
    def url(self) -> str:
        return self.config.url

    def close(self) -> None:
        """Close the kept-alive connections now. (``Session.close`` only drops urllib3's pools
        and leaves their sockets to the garbage collector, which waits as long as a traceback
        holds a response.)"""
        for adapter in self.session.adapters.values():
            pools = adapter.poolmanager.pools
            for key in pools.keys():  # noqa: SIM118 (the container refuses iteration)
                pools[key].close()
        self.session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Call ``/api/v1/<path>`` and return the decoded JSON (None for an empty body)."""
        url = f"{self.config.url}/api/v1/{path.lstrip('/')}"
        try:
            response = self.session.request(
                method, url, json=json, params=params, headers=headers, timeout=self.timeout
            )
        except requests.Timeout as exc:
            raise ServerUnreachable(
                f"Execboard at {self.config.url} did not answer within {self.timeout:g}s."
            ) from exc
        except requests.ConnectionError as exc:
            raise ServerUnreachable(f"Cannot reach Execboard at {self.config.url}.") from exc
        except requests.exceptions.InvalidURL as exc:
            raise ConfigError(f"Invalid Execboard URL {self.config.url!r}: {exc}") from exc
        # Closing hands the connection back to the pool even when an error is raised (the
        # traceback would otherwise keep the response, and its connection, checked out).
        with response:
            if response.status_code >= 400:
                raise _api_error(response)
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError as exc:
                raise ApiError(
                    f"{method} {url} answered {response.status_code} with a body that is not "
                    "JSON; is EXECBOARD_URL the address of an Execboard server?",
                    status=response.status_code,
                ) from exc

    # Who am I

    def me(self) -> dict[str, str]:
        """``{"username", "namespace"}`` of the token's user (cached)."""
        if self._me is None:
            self._me = self.request("GET", "me/")
        return self._me

    # Executions

    def create_execution(
        self,
        *,
        project: str,
        domain: str,
        workflow: str,
        labels: Mapping[str, str] | None = None,
        description: str = "",
        user_metadata: Mapping[str, Any] | None = None,
        inputs: Mapping[str, Any] | None = None,
        parent: str | None = None,
        workflow_version: str = "",
    ) -> dict[str, Any]:
        body = {
            "project": project,
            "domain": domain,
            "workflow": workflow,
            "workflow_version": workflow_version,
            "labels": dict(labels or {}),
            "description": description,
            "user_metadata": dict(user_metadata or {}),
            "inputs": dict(inputs or {}),
            "parent": parent,
        }
        return self.request("POST", "executions/", json=body)

    def get_execution(self, execution_id: str) -> dict[str, Any]:
        return self.request("GET", f"executions/{_segment(execution_id)}/")

    def list_executions(
        self,
        *,
        project: str,
        domain: str | None = None,
        q: str | None = None,
        filters: str | None = None,
        sort_key: str | None = None,
        ascending: bool = False,
        namespace: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """One page: ``{"results", "next", "count", "count_is_estimate"}``."""
        params: dict[str, Any] = {"project": project}
        optional = {
            "domain": domain,
            "q": q,
            "filters": filters,
            "sort_by.key": sort_key,
            "namespace": namespace,
            "limit": limit,
            "cursor": cursor,
        }
        params.update({key: value for key, value in optional.items() if value not in (None, "")})
        if ascending:
            params["sort_by.direction"] = "ASCENDING"
        return self.request("GET", "executions/", params=params)

    def iter_executions(
        self, *, limit: int, page_size: int = 1000, **query: Any
    ) -> Iterator[dict[str, Any]]:
        """Up to ``limit`` executions, following the cursor across pages."""
        cursor = None
        remaining = limit
        while remaining > 0:
            page = self.list_executions(limit=min(remaining, page_size), cursor=cursor, **query)
            yield from page["results"][:remaining]
            remaining -= len(page["results"])
            cursor = page["next"]
            if not cursor or not page["results"]:
                return

    def set_labels(self, execution_id: str, labels: Mapping[str, str]) -> dict[str, Any]:
        return self.request(
            "PUT", f"executions/{_segment(execution_id)}/labels/", json={"labels": dict(labels)}
        )

    def remove_label(self, execution_id: str, key: str) -> dict[str, Any]:
        return self.request(
            "DELETE", f"executions/{_segment(execution_id)}/labels/{quote(key, safe='/')}/"
        )

    def update_description(self, execution_id: str, text: str, *, version: int) -> dict[str, Any]:
        """Save a description edited from ``version``; a concurrent edit is a 409 ApiError."""
        return self.request(
            "PATCH",
            f"executions/{_segment(execution_id)}/",
            json={"description": text, "description_version": version},
        )

    def history(self, execution_id: str) -> list[dict[str, Any]]:
        return self.request("GET", f"executions/{_segment(execution_id)}/history/")

    # Events, steps, metadata

    def post_event(
        self,
        execution_id: str,
        phase: str,
        *,
        message: str = "",
        step: str | None = None,
        occurred_at: str | None = None,
        event_id: str | None = None,
    ) -> dict[str, Any]:
        """Report a phase. The event always carries an ``event_id``, so sending it again (after a
        lost response) is acknowledged without effect."""
        body = {
            "phase": phase,
            "occurred_at": occurred_at or now_iso(),
            "event_id": event_id or new_event_id(),
            "message": message,
            "step": step,
        }
        return self.request("POST", f"executions/{_segment(execution_id)}/events/", json=body)

    def events(self, execution_id: str) -> list[dict[str, Any]]:
        return self.request("GET", f"executions/{_segment(execution_id)}/events/")

    def create_step(
        self,
        execution_id: str,
        name: str,
        *,
        parent: str | None = None,
        options: Mapping[str, Any] | None = None,
        user_metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Create a step; the answer carries its final name (``load_1`` if ``load`` exists)."""
        body = {
            "name": name,
            "parent": parent,
            "options": dict(options or {}),
            "user_metadata": dict(user_metadata or {}),
        }
        return self.request("POST", f"executions/{_segment(execution_id)}/steps/", json=body)

    def update_step(
        self, execution_id: str, name: str, *, user_metadata: Mapping[str, Any]
    ) -> dict[str, Any]:
        return self.request(
            "PATCH",
            f"executions/{_segment(execution_id)}/steps/{_segment(name)}/",
            json={"user_metadata": dict(user_metadata)},
        )

    def get_metadata(self, execution_id: str, name: str | None = None) -> dict[str, Any]:
        """Ray's shape: ``status``, ``stats``, ``user_metadata``, ``steps`` (or one step's)."""
        params = {"name": name} if name else None
        return self.request("GET", f"executions/{_segment(execution_id)}/metadata/", params=params)


def with_retry(
    call: Callable[[], T],
    *,
    retry_for: float,
    on_retry: Callable[[Exception, float], None] | None = None,
) -> T:
    """Call until it succeeds, retrying for ``retry_for`` seconds with exponential backoff while
    the server is unreachable, failing (5xx) or throttling (429, honouring Retry-After).
    Other errors are raised at once."""
    deadline = time.monotonic() + retry_for
    delay = 1.0
    while True:
        try:
            return call()
        except (ServerUnreachable, ApiError) as error:
            if isinstance(error, ApiError) and not error.is_transient:
                raise
            left = deadline - time.monotonic()
            if left <= 0:
                raise
            asked = error.retry_after if isinstance(error, ApiError) else None
            wait = min(max(delay, asked or 0.0), left)
            if on_retry is not None:
                on_retry(error, wait)
            time.sleep(wait)
            delay = min(delay * 2, MAX_BACKOFF_SECONDS)


def _api_error(response: requests.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    retry_after = _seconds(response.headers.get("Retry-After"))
    if isinstance(error, dict) and error.get("message"):
        details = {k: v for k, v in error.items() if k not in ("code", "message", "field")}
        return ApiError(
            str(error["message"]),
            status=response.status_code,
            code=str(error.get("code") or "error"),
            field=error.get("field"),
            details=details,
            retry_after=retry_after,
        )
    return ApiError(
        f"Execboard answered {response.status_code} {response.reason or ''}".rstrip() + ".",
        status=response.status_code,
        retry_after=retry_after,
    )


def _seconds(header: str | None) -> float | None:
    try:
        return max(float(header), 0.0) if header else None
    except ValueError:
        return None
