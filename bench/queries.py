"""Q1-Q9 of the workload, measured through the real API endpoint and the real list page.

Each request goes through Django's full stack in-process (the test client: middleware,
authentication, view, serializer or template); the time is the server's, warm, over
``calls`` repetitions after a few warm-up calls. The SQL statements of one more call are
captured to count them and to explain the slowest with ``EXPLAIN (ANALYZE, BUFFERS)``.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

PROJECT = "project-07"
API = "/api/v1/executions/"
PAGE = f"/p/{PROJECT}/"
WARMUP = 3
Q8_PAGE = 21


@dataclass(frozen=True)
class Query:
    id: str
    scope: str
    text: str
    params: dict[str, str]
    one_project: bool = False
    # The workload's reference figures at 1M and the API target (ms): (floor, MLflow, target).
    floor_1m: float | None = None
    mlflow_1m: float | None = None
    target_p95: float | None = None
    autocomplete: bool = False

    def api_params(self) -> dict[str, str]:
        return {"project": PROJECT, **self.params} if self.one_project else dict(self.params)


QUERIES = (
    Query("Q1", "one project", "latest 50", {}, True, 2.2, 301, 20),
    Query(
        "Q2", "one project", "team:team-07, latest 50", {"q": "team:team-07"}, True, 2.5, 1732, 20
    ),
    Query(
        "Q3",
        "all projects",
        "team:team-07 and model:model-07",
        {"q": "team:team-07 and model:model-07"},
        False,
        8.8,
        1842,
        35,
    ),
    Query(
        "Q4",
        "all projects",
        "team:team-07 or team:team-12",
        {"q": "team:team-07 or team:team-12"},
        False,
        1.8,
        4938,
        20,
    ),
    Query(
        "Q5",
        "all projects",
        "model:model-07, phase SUCCEEDED or FAILED, longest first",
        {
            "q": "model:model-07",
            "filters": "value_in(phase,SUCCEEDED;FAILED)",
            "sort_by.key": "duration",
        },
        False,
        7.1,
        3730,
        30,
    ),
    Query(
        "Q6",
        "one project",
        "count per experiment (group by)",
        {"group_by": "experiment"},
        True,
        12.9,
        58124,
        45,
    ),
    Query("Q7", "all projects", "has label release", {"q": "release"}, False, 4.4, 408, 25),
    Query(
        "Q8",
        "all projects",
        f"team:team-07, page {Q8_PAGE} by cursor",
        {"q": "team:team-07"},
        False,
        2.2,
        1651,
        20,
    ),
    Query(
        "Q9",
        "one project",
        "autocomplete: model values starting model-1",
        {"key": "model", "prefix": "model-1"},
        True,
        None,
        None,
        15,
        autocomplete=True,
    ),
)


@dataclass
class Timing:
    status: int  # HTTP status; 0 when the query cannot be measured at this N
    p50: float | None = None  # ms
    p95: float | None = None
    statements: int | None = None
    sql_ms: float | None = None  # the statements' own time, in one captured call
    rows: int | None = None
    count: int | None = None
    count_is_estimate: bool | None = None
    error: str | None = None
    sql: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        data = dict(self.__dict__)
        data.pop("sql")
        return data


def percentile(samples: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _measure(call: Callable[[], object], calls: int) -> tuple[list[float], object]:
    response = None
    for _ in range(WARMUP):
        response = call()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        response = call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples, response


def _timed(client: Client, path: str, params: dict[str, str], calls: int, **headers) -> Timing:
    def call():
        return client.get(path, params, **headers)

    first = call()
    if first.status_code != 200:
        return Timing(status=first.status_code, error=_error_text(first))
    samples, response = _measure(call, calls)
    with CaptureQueriesContext(connection) as captured:
        call()
    timing = Timing(
        status=response.status_code,
        p50=statistics.median(samples),
        p95=percentile(samples, 0.95),
        statements=len(captured),
        sql_ms=sum(float(query["time"]) for query in captured) * 1000,
        sql=[query["sql"] for query in captured],
    )
    if response.get("Content-Type", "").startswith("application/json"):
        body = response.json()
        if isinstance(body, dict) and "results" in body:
            timing.rows = len(body["results"])
            timing.count = body.get("count")
            timing.count_is_estimate = body.get("count_is_estimate")
    return timing


def _error_text(response) -> str:
    if response.get("Content-Type", "").startswith("application/json"):
        error = response.json().get("error", {})
        return f"{response.status_code} {error.get('code', '')}: {error.get('message', '')}"
    return f"{response.status_code} {response.content[:200]!r}"


def _cursor_of_page(client: Client, params: dict[str, str], page: int, headers: dict) -> str:
    """Follow `next` from page 1 to the cursor that starts ``page``."""
    cursor = ""
    for _ in range(page - 1):
        query = {**params, "cursor": cursor} if cursor else params
        response = client.get(API, query, **headers)
        cursor = response.json()["next"] if response.status_code == 200 else None
        if not cursor:
            raise LookupError(f"fewer than {page} pages for {params}")
    return cursor


def measure_query(
    query: Query, api_client: Client, page_client: Client, calls: int, headers: dict
) -> tuple[Timing, Timing | None]:
    """(API timing, page timing); autocomplete has one endpoint, reported as the API's."""
    if query.autocomplete:
        # Autocomplete is the list page's endpoint (an HTML fragment for the expression box).
        path = reverse("executions:label-suggestions", args=[PROJECT])
        return _timed(page_client, path, query.params, calls), None

    params = query.api_params()
    # The list page is a project's page: its all-projects queries run in PROJECT.
    page_params = dict(query.params)
    page_error = None
    if query.id == "Q8":
        try:
            params["cursor"] = _cursor_of_page(api_client, params, Q8_PAGE, headers)
        except LookupError as exc:
            return Timing(status=0, error=str(exc)), None
        try:
            page_params["cursor"] = _cursor_of_page(
                api_client, {"project": PROJECT, **query.params}, Q8_PAGE, headers
            )
        except LookupError as exc:
            page_error = Timing(status=0, error=str(exc))
    api = _timed(api_client, API, params, calls, **headers)
    page = page_error or _timed(page_client, PAGE, page_params, calls)
    return api, page


def explain(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())
