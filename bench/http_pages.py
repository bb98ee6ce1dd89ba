"""The list page over HTTP against gunicorn, as a user's browser gets it.

The in-process measure of ``bench.queries`` is the server's time inside Django. Here the same
page queries (Q1-Q8 as the project page ``/p/<slug>/`` runs them) go to a gunicorn with 2
workers over a persistent loopback connection, signed in with a session cookie and with
``Accept-Encoding: gzip, br``; each is timed ``calls`` times after ``WARMUP`` calls (wall time
from sending the request to the last byte of the body). Besides the time, every case records
the bytes of the body as received (before decompression: what crosses the wire) and
decompressed, its ``Content-Encoding``, the HTTP status, the SQL statements of one in-process
call of the same URL, and the machine's load average before and after.

Variants (issue 12's targets): every page query with three field columns chosen
(``columns=``: a metadata key, an input and a label), the metadata sort on a filter of at
most 20,000 executions and unfiltered on the whole project, and bulk labels (``POST
/api/v1/executions/bulk-labels/``) on about 10,000 executions, for real and as a dry run.
Requests the server does not understand yet (400, 404) are recorded with their status and
the run goes on, so the harness can measure a page before and after those features land.
"""

from __future__ import annotations

import gzip
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit

from bench.queries import PAGE, PROJECT, Q8_PAGE, QUERIES, percentile

WARMUP = 3
WORKERS = 2
ACCEPT_ENCODING = "gzip, br"
PAGE_TARGET_P95 = 50.0  # ms, issue 12: Q1-Q8, grouped and with 3 field columns too
WIRE_TARGET = 60_000  # bytes on the wire per 50-row page
META_SORT_TARGET_P95 = 200.0  # ms, on a filter matching at most 20,000 executions
BULK_TARGET_SECONDS = 10.0
STATEMENTS_TARGET = 8
# Keys the workload carries (bench/generate.py): accuracy on succeeded executions only, so
# the metadata sort meets missing values; every execution has a learning rate and a model.
META_KEY = "accuracy"
INPUT_KEY = "learning_rate"
LABEL_KEY = "model"
BASE_COLUMNS = "name,workflow,phase,started,duration,launched_by,release,labels"
COLUMNS = f"{BASE_COLUMNS},meta.{META_KEY},input.{INPUT_KEY},label.{LABEL_KEY}"
# A page slower than this on its last warm-up call gets SLOW_CALLS timed calls instead of
# ``calls``: enough to say what an unfiltered metadata sort costs without waiting minutes.
SLOW_SECONDS = 2.0
SLOW_CALLS = 5
REQUEST_TIMEOUT = 180.0
# Bulk labels: six of the thirty teams within the project, about 10,000 executions at 1M.
BULK_TEAMS = tuple(f"team-{i:02d}" for i in range(6))
BULK_KEY = "bench-bulk"
GUNICORN_TIMEOUT = 30.0  # seconds, gunicorn's default worker timeout, which `make serve` keeps
# A note the page may show for a sort it cannot do exactly or fast; recorded when present.
NOTE_PATTERN = re.compile(
    r"[^<>]{0,160}\b(approximat\w*|slow sort|sorted (?:only|among)|too many to sort)\b[^<>]{0,160}",
    re.IGNORECASE,
)


@dataclass
class Case:
    id: str
    text: str
    path: str
    params: dict[str, str]
    target_p95: float | None = None
    wire_target: int | None = None
    matching: int | None = None  # executions the filter matches, counted in SQL
    # Text the answer must contain to show what was asked (the chosen columns' keys): a
    # page that ignores ``columns=`` answers 200 too, and is not measuring the variant.
    expect: tuple[str, ...] = ()
    error: str | None = None  # the case could not be prepared (recorded, not measured)


@dataclass
class HttpTiming:
    status: int  # HTTP status of the last call; 0 when no answer came (see error)
    calls: int = 0
    p50: float | None = None  # ms, wall time of the request as the client sees it
    p95: float | None = None
    wire_bytes: int | None = None  # body as received, before decompression
    body_bytes: int | None = None  # body decompressed
    content_encoding: str | None = None
    statements: int | None = None  # of one in-process call of the same URL
    sql_ms: float | None = None
    load_before: tuple[float, float, float] | None = None
    load_after: tuple[float, float, float] | None = None
    note: str | None = None  # the page's own note on an approximate or slow sort
    missing: list[str] | None = None  # of the case's ``expect``: not in the answer
    error: str | None = None


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    raw: bytes
    seconds: float

    @property
    def encoding(self) -> str:
        return self.headers.get("content-encoding", "").strip().lower()

    def body(self) -> bytes | None:
        """The body decompressed; None when this Python cannot decode its encoding."""
        if self.encoding in ("", "identity"):
            return self.raw
        if self.encoding == "gzip":
            return gzip.decompress(self.raw)
        if self.encoding == "deflate":
            return zlib.decompress(self.raw)
        if self.encoding == "br":
            try:
                import brotli
            except ImportError:
                try:
                    import brotlicffi as brotli
                except ImportError:
                    return None
            return brotli.decompress(self.raw)
        return None


class Connection:
    """One persistent HTTP/1.1 connection; http.client leaves the body compressed."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.headers = headers
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None, headers=None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT)
        all_headers = {**self.headers, **(headers or {})}
        started = time.perf_counter()
        try:
            self.conn.request(method, path, body=body, headers=all_headers)
            response = self.conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            self.close()  # the next request opens a new connection
            raise
        seconds = time.perf_counter() - started
        if response.will_close:
            self.close()
        return Response(
            response.status, {k.lower(): v for k, v in response.getheaders()}, raw, seconds
        )

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def url(path: str, params: dict[str, str]) -> str:
    return f"{path}?{urlencode(params)}" if params else path


def page_cases(api_client, token: str) -> list[Case]:
    """Q1-Q8 as the page runs them, each again with three field columns, plus the
    metadata sorts and a 200-row page (statements independent of page size)."""
    from executions.models import Execution, Label
    from projects.models import Project

    headers = {"HTTP_AUTHORIZATION": f"Token {token}"}
    cases: list[Case] = []
    for query in QUERIES:
        if query.autocomplete:
            continue
        params = dict(query.params)
        error = None
        if query.id == "Q8":
            try:
                params["cursor"] = _cursor_of_page(
                    api_client, {"project": PROJECT, **query.params}, Q8_PAGE, headers
                )
            except LookupError:
                continue  # fewer than 21 pages at this N, as in the in-process table
            except RuntimeError as exc:
                error = str(exc)
        cases.append(
            Case(query.id, query.text, PAGE, params, PAGE_TARGET_P95, WIRE_TARGET, error=error)
        )
        cases.append(
            Case(
                f"{query.id}+cols",
                f"{query.text}; columns meta.{META_KEY}, input.{INPUT_KEY}, label.{LABEL_KEY}",
                PAGE,
                {**params, "columns": COLUMNS},
                PAGE_TARGET_P95,
                WIRE_TARGET,
                expect=(META_KEY, INPUT_KEY),
                error=error,
            )
        )
    cases.append(Case("Q1 200 rows", "latest 200", PAGE, {"limit": "200"}))

    project = Project.objects.get(slug=PROJECT)
    team = Label.objects.filter(project=project, key="team", value="team-07").count()
    development = Execution.objects.filter(project=project, domain="development").count()
    everything = Execution.objects.filter(project=project).count()
    sort = {"sort_by.key": f"meta.{META_KEY}", "sort_by.direction": "DESCENDING"}
    cases += [
        Case(
            "S1",
            f"team:team-07, by meta.{META_KEY} descending",
            PAGE,
            {"q": "team:team-07", **sort},
            META_SORT_TARGET_P95,
            matching=team,
        ),
        Case(
            "S2",
            f"domain development, by meta.{META_KEY} descending",
            PAGE,
            {"domain": "development", **sort},
            META_SORT_TARGET_P95,
            matching=development,
        ),
        Case(
            "S3",
            f"whole project, by meta.{META_KEY} descending (unfiltered)",
            PAGE,
            dict(sort),
            matching=everything,
        ),
    ]
    return cases


def _cursor_of_page(client, params: dict[str, str], page: int, headers: dict) -> str:
    """Follow the API's `next` from page 1 to the cursor that starts ``page``: LookupError
    when there are fewer pages, RuntimeError when the API fails."""
    cursor = ""
    for _ in range(page - 1):
        query = {**params, "cursor": cursor} if cursor else params
        response = client.get("/api/v1/executions/", query, **headers)
        if response.status_code != 200:
            raise RuntimeError(f"cursor of page {page}: the API answered {response.status_code}")
        cursor = response.json()["next"]
        if not cursor:
            raise LookupError(f"fewer than {page} pages for {params}")
    return cursor


def page_note(body: bytes | None) -> str | None:
    if not body:
        return None
    match = NOTE_PATTERN.search(body.decode("utf-8", "replace"))
    return " ".join(match.group(0).split()) if match else None


def _statements(page_client, path: str) -> tuple[int | None, float | None, str | None]:
    """SQL statements of one in-process call of ``path`` (after one warm call) and their
    time; an error text instead when that call does not answer 200."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    page_client.get(path)
    with CaptureQueriesContext(connection) as captured:
        response = page_client.get(path)
    if response.status_code != 200:
        return None, None, f"in-process call answered {response.status_code}"
    return len(captured), sum(float(query["time"]) for query in captured) * 1000, None


def measure_case(conn: Connection, case: Case, calls: int, page_client) -> HttpTiming:
    path = url(case.path, case.params)
    if case.error:
        return HttpTiming(status=0, error=case.error)
    timing = HttpTiming(status=0, load_before=os.getloadavg())
    samples: list[float] = []
    last = None
    try:
        for attempt in range(WARMUP + calls):
            last = conn.request("GET", path)
            if last.status != 200:
                break
            if attempt == WARMUP - 1 and last.seconds > SLOW_SECONDS:
                calls = min(calls, SLOW_CALLS)  # even warm, this page takes seconds
            if attempt >= WARMUP:
                samples.append(last.seconds * 1000)
            if len(samples) >= calls:
                break
    except (OSError, http.client.HTTPException) as exc:
        timing.error = f"{type(exc).__name__}: {exc}"
    timing.load_after = os.getloadavg()
    if last is None:
        return timing
    timing.status = last.status
    timing.content_encoding = last.encoding or None
    timing.wire_bytes = len(last.raw)
    body = last.body()
    timing.body_bytes = None if body is None else len(body)
    if last.status != 200:
        text = (body or last.raw)[:300].decode("utf-8", "replace")
        timing.error = timing.error or f"{last.status}: {' '.join(text.split())}"
        return timing
    timing.note = page_note(body)
    if case.expect and body is not None:
        text = body.decode("utf-8", "replace")
        timing.missing = [item for item in case.expect if item not in text] or None
    if samples:
        timing.calls = len(samples)
        timing.p50 = statistics.median(samples)
        timing.p95 = percentile(samples, 0.95)
    timing.statements, timing.sql_ms, timing.error = _statements(page_client, path)
    return timing


def measure_pages(conn: Connection, cases: list[Case], calls: int, page_client) -> list[dict]:
    rows = []
    for case in cases:
        timing = measure_case(conn, case, calls, page_client)
        rows.append(
            {
                "id": case.id,
                "query": case.text,
                "url": url(case.path, case.params),
                "target_p95": case.target_p95,
                "wire_target": case.wire_target,
                "matching": case.matching,
                **timing.__dict__,
            }
        )
        shown = f"{timing.p50:.1f}/{timing.p95:.1f} ms" if timing.p50 is not None else "—"
        print(
            f"  {case.id}: HTTP {timing.status} {shown}, {timing.wire_bytes or 0:,} bytes "
            f"on the wire, {timing.body_bytes or 0:,} decompressed"
            + (f" ({timing.error})" if timing.error else ""),
            flush=True,
        )
    return rows


def bulk_selection(project_slug: str = PROJECT) -> tuple[dict, int]:
    """The bulk-labels selection (the list's own parameters) and how many it matches."""
    from executions.models import Label
    from projects.models import Project

    project = Project.objects.get(slug=project_slug)
    matching = Label.objects.filter(project=project, key="team", value__in=BULK_TEAMS).count()
    q = " or ".join(f"team:{team}" for team in BULK_TEAMS)
    return {"project": project_slug, "q": q}, matching


def _print_bulk(name: str, shown: dict) -> None:
    print(
        f"  bulk {name}: HTTP {shown['status']}"
        + (f" {shown['seconds']:.2f} s" if "seconds" in shown else "")
        + (f" matched {shown.get('matched')}, changed {shown.get('changed')}")
        + (f" ({shown['error'][:120]})" if shown.get("error") else ""),
        flush=True,
    )


def _bulk_call(conn: Connection, body: dict) -> dict:
    load_before = os.getloadavg()
    try:
        response = conn.request(
            "POST",
            "/api/v1/executions/bulk-labels/",
            body=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
    except (OSError, http.client.HTTPException) as exc:
        return {"status": 0, "error": f"{type(exc).__name__}: {exc}", "load_before": load_before}
    result = {
        "status": response.status,
        "seconds": response.seconds,
        # gunicorn kills a worker after its --timeout (30 s by default, as `make serve`
        # runs it) and answers 500 itself: the request did not finish, it was not refused.
        "worker_timeout": response.status == 500 and response.seconds >= GUNICORN_TIMEOUT,
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }
    body_bytes = response.body() or b""
    try:
        answer = json.loads(body_bytes)
    except ValueError:
        answer = None
    if response.status == 200 and isinstance(answer, dict):
        result.update({k: answer.get(k) for k in ("matched", "changed", "dry_run")})
    else:
        result["error"] = " ".join(body_bytes[:300].decode("utf-8", "replace").split())
    return result


def _quiet_database(limit: float = 300.0) -> float:
    """Wait until no other session of this database runs a statement (a request gunicorn
    killed leaves its statement running in PostgreSQL, holding its row locks, until the
    statement ends); returns the seconds waited."""
    from django.db import connection

    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state <> 'idle'"
            )
            if cursor.fetchone()[0] == 0:
                break
        time.sleep(0.5)
    return time.perf_counter() - started


def _bulk_in_process(token: str, body: dict) -> dict:
    """The same bulk-labels request through Django in this process: no worker timeout, so
    it says what a request that gunicorn killed would have taken."""
    from django.test import Client, override_settings

    from bench.run import SERVER_ENV

    waited = _quiet_database()
    load_before = os.getloadavg()
    # The server's label cap (the workload's 21 labels and one more), whatever this
    # process was started with.
    with override_settings(EXECBOARD_MAX_LABELS=int(SERVER_ENV["EXECBOARD_MAX_LABELS"])):
        started = time.perf_counter()
        response = Client(raise_request_exception=False).post(
            "/api/v1/executions/bulk-labels/",
            data=json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {token}",
        )
    result = {
        "status": response.status_code,
        "seconds": time.perf_counter() - started,
        "waited_for_database": waited,
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }
    try:
        answer = json.loads(response.content)
    except ValueError:
        answer = None
    if response.status_code == 200 and isinstance(answer, dict):
        result.update({k: answer.get(k) for k in ("matched", "changed", "dry_run")})
    else:
        result["error"] = " ".join(response.content[:300].decode("utf-8", "replace").split())
    return result


def measure_bulk_labels(conn: Connection, token: str) -> dict:
    """A dry run, the real change (a value unique to this run) and its removal, each timed
    end to end over HTTP; a call that gunicorn's worker timeout killed is repeated in
    process (``<name>_in_process``) to say what it costs. The label and its history entries
    are removed afterwards either way."""
    from django.db import connection

    from executions.models import Change, Execution, Label

    selection, matching = bulk_selection()
    value = f"run-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    print(f"  bulk labels on {matching:,} executions ({selection['q']})", flush=True)
    results = {"selection": selection, "matching": matching, "target_seconds": BULK_TARGET_SECONDS}
    try:
        for name, body in (
            ("dry_run", {**selection, "add": {BULK_KEY: value}, "dry_run": True}),
            ("add", {**selection, "add": {BULK_KEY: value}}),
            ("remove", {**selection, "remove": [BULK_KEY]}),
        ):
            results[name] = _bulk_call(conn, body)
            _print_bulk(name, results[name])
            if results[name].get("worker_timeout"):
                results[f"{name}_in_process"] = _bulk_in_process(token, body)
                _print_bulk(f"{name} in process", results[f"{name}_in_process"])
    finally:
        # Whatever the endpoint did, leave the workload as loaded.
        _quiet_database()
        ids = list(
            Label.objects.filter(key=BULK_KEY).values_list("execution_id", flat=True).distinct()
        )
        if ids:
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE executions_execution SET labels = labels - %s WHERE id = ANY(%s)",
                    [BULK_KEY, ids],
                )
            Label.objects.filter(key=BULK_KEY).delete()
        Change.objects.filter(key=BULK_KEY).delete()
        results["left_behind_cleaned"] = len(ids)
        assert not Execution.objects.filter(labels__has_key=BULK_KEY).exists()
    return results


def run_http(n: int, token: str, user, calls: int, *, bulk: bool = True) -> dict:
    """Start gunicorn (2 workers) on the loaded database and measure the list page and
    bulk labels over HTTP."""
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from bench.ingest import ROOT, gunicorn
    from bench.run import SERVER_ENV, database_url

    # Server errors are recorded as statuses, not raised in this process.
    api_client = Client(raise_request_exception=False)
    page_client = Client(raise_request_exception=False)
    page_client.force_login(user)  # a real session row: gunicorn reads the same database
    session = page_client.cookies[settings.SESSION_COOKIE_NAME].value
    cases = page_cases(api_client, token)
    env = {**SERVER_ENV, "DATABASE_URL": database_url(), "SECRET_KEY": settings.SECRET_KEY}
    results: dict = {
        "gunicorn_workers": WORKERS,
        "calls": calls,
        "warmup": WARMUP,
        "accept_encoding": ACCEPT_ENCODING,
        "load_average_start": os.getloadavg(),
    }
    # gunicorn runs with DEBUG off, so its pages name static files through the manifest
    # that collectstatic writes under the same settings (this process may run with DEBUG on).
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
    )
    connection.close()  # not held open while gunicorn works
    with gunicorn(env, WORKERS) as base:
        pages = Connection(
            base,
            {
                "Cookie": f"{settings.SESSION_COOKIE_NAME}={session}",
                "Accept-Encoding": ACCEPT_ENCODING,
            },
        )
        results["pages"] = measure_pages(pages, cases, calls, page_client)
        pages.close()
        if bulk:
            api = Connection(
                base, {"Authorization": f"Token {token}", "Accept-Encoding": ACCEPT_ENCODING}
            )
            results["bulk_labels"] = measure_bulk_labels(api, token)
            api.close()
    results["load_average_end"] = os.getloadavg()
    return results


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _bytes(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _load(value) -> str:
    return "—" if not value else f"{value[0]:.2f}"


def _met(row: dict) -> str:
    """Against the case's own targets (time, bytes) and the statements per page; "—" for
    a case without a time target (it is there to say what something costs)."""
    if row.get("target_p95") is None:
        return "—"
    checks = []
    if row.get("target_p95") is not None and row.get("p95") is not None:
        checks.append(row["p95"] <= row["target_p95"])
    if row.get("wire_target") is not None and row.get("wire_bytes") is not None:
        checks.append(row["status"] == 200 and row["wire_bytes"] <= row["wire_target"])
    if row.get("statements") is not None:
        checks.append(row["statements"] <= STATEMENTS_TARGET)
    if row.get("status") != 200:
        return "—"
    return "—" if not checks else ("yes" if all(checks) else "no")


def _bulk_error(call: dict) -> str:
    if call.get("worker_timeout"):
        return f"gunicorn's {GUNICORN_TIMEOUT:.0f} s worker timeout killed the request"
    text = call.get("error") or ""
    if call.get("waited_for_database", 0) >= 1:
        text = (
            f"in process, after waiting {call['waited_for_database']:.0f} s for the killed "
            f"request's statement to end. {text}"
        )
    elif "waited_for_database" in call:
        text = f"in process (no worker timeout). {text}"
    return text.strip()


def markdown(http: dict) -> str:
    lines = [
        f"### List page over HTTP (gunicorn, {http['gunicorn_workers']} workers, "
        f"`Accept-Encoding: {http['accept_encoding']}`, {http['calls']} calls after "
        f"{http['warmup']} warm-ups)",
        "",
        "Load average (1, 5, 15 min) at the start: "
        + ", ".join(f"{v:.2f}" for v in http["load_average_start"])
        + "; at the end: "
        + ", ".join(f"{v:.2f}" for v in http["load_average_end"]),
        "",
        f"Targets: p95 ≤ {PAGE_TARGET_P95:.0f} ms and ≤ {WIRE_TARGET:,} bytes on the wire for "
        f"Q1-Q8 with and without columns; p95 ≤ {META_SORT_TARGET_P95:.0f} ms for the metadata "
        f"sort on ≤ 20,000 (S1, S2); ≤ {STATEMENTS_TARGET} SQL statements per page. "
        "Statements and SQL ms: one in-process call of the same URL.",
        "",
        "| case | query | HTTP | p50 ms | p95 ms | target p95 | bytes on the wire "
        "| decompressed | encoding | statements (SQL ms) | matching | load 1 min before / after "
        "| met | note or error |",
        "|---|---|:-:|---:|---:|---:|---:|---:|:-:|---:|---:|---:|:-:|---|",
    ]
    for row in http["pages"]:
        statements = (
            "—" if row["statements"] is None else f"{row['statements']} ({row['sql_ms']:.1f})"
        )
        remark = row.get("error") or row.get("note") or ""
        if row.get("missing"):
            remark = f"answer lacks {', '.join(row['missing'])} " + remark
        if row.get("calls") and row["calls"] < http["calls"]:
            remark = f"{row['calls']} calls (slow) " + remark
        lines.append(
            f"| {row['id']} | {row['query']} | {row['status']} | {_ms(row['p50'])} "
            f"| {_ms(row['p95'])} | {_ms(row['target_p95'])} | {_bytes(row['wire_bytes'])} "
            f"| {_bytes(row['body_bytes'])} | {row['content_encoding'] or 'none'} "
            f"| {statements} | {_bytes(row['matching'])} "
            f"| {_load(row['load_before'])} / {_load(row['load_after'])} | {_met(row)} "
            f"| {remark.replace('|', '¦')[:160]} |"
        )
    bulk = http.get("bulk_labels")
    if bulk:
        lines += [
            "",
            f"Bulk labels (`POST /api/v1/executions/bulk-labels/`, token auth) on "
            f"`{bulk['selection']['q']}` in {bulk['selection']['project']}: "
            f"{bulk['matching']:,} executions match; target ≤ {bulk['target_seconds']:.0f} s.",
            "",
            "| call | HTTP | seconds | matched | changed | load 1 min before / after "
            "| met | error |",
            "|---|:-:|---:|---:|---:|---:|:-:|---|",
        ]
        for name in ("dry_run", "add", "add_in_process", "remove", "remove_in_process"):
            call = bulk.get(name)
            if not call:
                continue
            seconds = call.get("seconds")
            met = (
                "—"
                if call["status"] != 200 or seconds is None
                else ("yes" if seconds <= bulk["target_seconds"] else "no")
            )
            lines.append(
                f"| {name} | {call['status']} | {'—' if seconds is None else f'{seconds:.2f}'} "
                f"| {_bytes(call.get('matched'))} | {_bytes(call.get('changed'))} "
                f"| {_load(call.get('load_before'))} / {_load(call.get('load_after'))} | {met} "
                f"| {_bulk_error(call).replace('|', '¦')[:160]} |"
            )
    return "\n".join(lines) + "\n"
