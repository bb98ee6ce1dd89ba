"""Run the benchmark: load the workload if the database does not hold it yet, then measure
Q1-Q9 (API and page), I1 and I2 (HTTP, gunicorn) and the size per execution.

    python -m bench.run 100000        # or: make bench N=100000
    python -m bench.run 1000000 --only-http   # or: make bench-http N=1000000
    python -m bench.run 1000000 --load-only   # load (when not loaded yet) and stop

``--only-http`` measures the list page (Q1-Q8, with three field columns, the metadata sorts)
and bulk labels over HTTP against gunicorn (``bench/http_pages.py``) on the database already
loaded, and refuses to run on a database that holds another N; ``--http-pages`` adds the same
to a full run.

DATABASE_URL names the database (default postgres://postgres@127.0.0.1:5432/execboard_bench);
it is created and migrated when missing. Results go to bench/results/ (JSON, Markdown, plans)
and the Markdown table is printed. Loading 1M takes minutes; a loaded database is kept and
reused as long as it holds the same N and seed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/execboard_bench"
BENCH_USER = "bench"
# Settings of the measured server: production-like (DEBUG off) over plain HTTP, 24 labels
# allowed (the workload carries 20 plus the namespace label), and no per-token write
# throttle, which would cap I2 at EXECBOARD_WRITE_RATE rather than measure it.
SERVER_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "execboard-bench-not-secret",
    "SECURE_SSL_REDIRECT": "0",
    "SECURE_COOKIES": "0",
    "EXECBOARD_MAX_LABELS": "24",
    "EXECBOARD_WRITE_RATE": "",
    "DJANGO_SETTINGS_MODULE": "config.settings",
}
TARGETS = {"I1": 2000, "I2": 100, "bytes": 7500}  # the API and page targets are per query


def ensure_database(url: str) -> None:
    """Create the database named by ``url`` if it does not exist."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(url)
    name = params["dbname"]
    with psycopg.connect(**{**params, "dbname": "postgres"}, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def database_url() -> str:
    """The URL of Django's database (the test database under pytest)."""
    from django.db import connection

    settings = connection.settings_dict
    credentials = quote(settings["USER"] or "", safe="")
    if settings["PASSWORD"]:
        credentials += ":" + quote(settings["PASSWORD"], safe="")
    port = f":{settings['PORT']}" if settings["PORT"] else ""
    host = settings["HOST"] or "localhost"
    return f"postgres://{credentials}@{host}{port}/{quote(settings['NAME'], safe='')}"


def bench_user():
    """A superuser (reads every project) and a fresh API token for it."""
    from django.contrib.auth import get_user_model

    from projects.models import ApiToken, Project

    user, _ = get_user_model().objects.get_or_create(
        username=BENCH_USER, defaults={"is_superuser": True, "is_staff": True}
    )
    ApiToken.objects.filter(user=user).delete()
    _, key = ApiToken.issue(user=user, name="bench")
    Project.objects.get_or_create(slug="bench-ingest", defaults={"name": "Bench ingestion"})
    return user, key


def database_sizes() -> dict:
    """Bytes of each table of executions and labels: heap, TOAST, each index."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM executions_execution")
        executions = cursor.fetchone()[0]
        cursor.execute(
            """
            SELECT t.relname, 'heap', pg_relation_size(t.oid) FROM pg_class t
            WHERE t.relname IN ('executions_execution', 'executions_label')
            UNION ALL
            SELECT t.relname, 'TOAST and maps',
                   pg_table_size(t.oid) - pg_relation_size(t.oid) FROM pg_class t
            WHERE t.relname IN ('executions_execution', 'executions_label')
            UNION ALL
            SELECT t.relname, i.relname, pg_relation_size(i.oid)
            FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid
            JOIN pg_class i ON i.oid = x.indexrelid
            WHERE t.relname IN ('executions_execution', 'executions_label')
            ORDER BY 3 DESC
            """
        )
        parts = [
            {"table": table, "part": part, "bytes": size} for table, part, size in cursor.fetchall()
        ]
        cursor.execute("SELECT pg_database_size(current_database())")
        database = cursor.fetchone()[0]
    total = sum(part["bytes"] for part in parts)
    return {
        "executions": executions,
        "parts": parts,
        "tables_bytes": total,
        "database_bytes": database,
        "bytes_per_execution": total / executions if executions else None,
        "database_bytes_per_execution": database / executions if executions else None,
    }


def measure_queries(
    token: str, user, calls: int, only: frozenset[str] | None = None
) -> tuple[list[dict], list[str]]:
    """Measure Q1-Q9, or only the query ids in ``only``."""
    from django.test import Client

    from bench.queries import QUERIES, explain, measure_query

    headers = {"HTTP_AUTHORIZATION": f"Token {token}"}
    page_client = Client()
    page_client.force_login(user)
    rows, plans = [], []
    for query in QUERIES:
        if only is not None and query.id not in only:
            continue
        api, page = measure_query(query, Client(), page_client, calls, headers)
        rows.append(
            {
                "id": query.id,
                "scope": query.scope,
                "query": query.text,
                "target_p95": query.target_p95,
                "floor_1m": query.floor_1m,
                "mlflow_1m": query.mlflow_1m,
                "api": api.as_dict(),
                "page": page.as_dict() if page else None,
            }
        )
        print(f"  {query.id}: API {_ms(api.p50)}/{_ms(api.p95)} ms", flush=True)
        for where, timing in (("API", api), ("page", page)):
            for sql in timing.sql if timing else ():
                if "executions_" in sql and sql.lstrip().upper().startswith("SELECT"):
                    plans.append(f"### {query.id} {where}\n\n```sql\n{sql}\n```\n\n```\n")
                    plans[-1] += explain(sql) + "\n```\n"
    return rows, plans


def measure_ingestion(token: str, n: int, seed: int) -> dict:
    from django.conf import settings
    from django.db import connection

    from bench.ingest import INGEST_PROJECT, bulk, gunicorn, lifecycle
    from executions.models import Execution

    # Enough to measure at the real sizes; a token amount for smoke runs.
    batches, lifecycles = (10, 600) if n >= 100_000 else (1, 20)
    clients, workers = 6, 4
    # The same secret as this process: tokens are bound to a keyed digest of the password.
    env = {**SERVER_ENV, "DATABASE_URL": database_url(), "SECRET_KEY": settings.SECRET_KEY}
    try:
        with gunicorn(env, workers) as base:
            i1 = bulk(base, token, batches, seed + 1)
            print(f"  I1: {i1.per_second:,.0f} executions/s", flush=True)
            i2 = lifecycle(base, token, lifecycles, clients, seed + 2)
            print(f"  I2: {i2.per_second:,.0f} executions/s", flush=True)
    finally:
        Execution.objects.filter(project__slug=INGEST_PROJECT).delete()
        with connection.cursor() as cursor:
            for table in ("executions_execution", "executions_label", "executions_event"):
                cursor.execute(f"VACUUM (ANALYZE) {table}")
    return {
        "I1": {**asdict(i1), "per_second": i1.per_second, "batch": 1000},
        "I2": {
            **asdict(i2),
            "per_second": i2.per_second,
            "clients": clients,
            "gunicorn_workers": workers,
        },
    }


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _statements(timing: dict) -> str:
    if timing.get("statements") is None:
        return "—"
    return f"{timing['statements']} ({timing['sql_ms']:.1f})"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def markdown(results: dict) -> str:
    n = results["n"]
    lines = [
        f"## N = {n:,} ({results['date']}, {results['machine']})",
        "",
        "Load average of the machine (1, 5, 15 min) when measuring: "
        + ", ".join(f"{value:.1f}" for value in results["load_average"]),
        "",
        f"Load: {results['load']}",
        "",
    ]
    if results.get("queries") is not None:
        lines += _queries_markdown(results)
    ingestion = results.get("ingestion")
    if ingestion:
        i1, i2 = ingestion["I1"], ingestion["I2"]
        lines += [
            "",
            f"I1 bulk API: **{i1['per_second']:,.0f} executions/s** ({i1['executions']:,} in "
            f"{i1['requests']} requests of 1,000 x 20 labels; target ≥ {TARGETS['I1']:,}). "
            f"I2 create + RUNNING + SUCCEEDED: **{i2['per_second']:,.0f} executions/s** "
            f"({i2['executions']:,} by {i2['clients']} concurrent clients, gunicorn with "
            f"{i2['gunicorn_workers']} workers; target ≥ {TARGETS['I2']:,}).",
        ]
    if results.get("size"):
        lines += _size_markdown(results["size"])
    if results.get("http"):
        from bench.http_pages import markdown as http_markdown

        lines += ["", http_markdown(results["http"])]
    return "\n".join(lines).rstrip("\n") + "\n"


def _queries_markdown(results: dict) -> list[str]:
    lines = [
        "| query | scope | API p50 | API p95 | API target p95 | API SQL statements (ms) "
        "| page p50 | page p95 | page SQL statements (ms) | rows | count | floor 1M | MLflow 1M |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["queries"]:
        api, page = row["api"], row["page"] or {}
        count = _num(api.get("count"))
        if api.get("count_is_estimate"):
            count = f"≈{count}"
        if api.get("error"):
            count = api["error"]
        lines.append(
            f"| {row['id']} | {row['scope']}: {row['query']} | {_ms(api.get('p50'))} "
            f"| {_ms(api.get('p95'))} | {_num(row['target_p95'])} | {_statements(api)} "
            f"| {_ms(page.get('p50'))} | {_ms(page.get('p95'))} | {_statements(page)} "
            f"| {_num(api.get('rows'))} | {count} | {_ms(row['floor_1m'])} "
            f"| {_num(row['mlflow_1m'])} |"
        )
    return lines


def _size_markdown(size: dict) -> list[str]:
    lines = [
        "",
        f"Size: **{size['bytes_per_execution']:,.0f} bytes per execution** in the execution "
        f"and label tables with their indexes ({size['tables_bytes'] / 2**30:.2f} GiB; whole "
        f"database {size['database_bytes_per_execution']:,.0f} bytes per execution; "
        f"target ≤ {TARGETS['bytes']:,}).",
        "",
        "| table | part | MiB | bytes per execution |",
        "|---|---|---:|---:|",
    ]
    for part in size["parts"]:
        lines.append(
            f"| {part['table']} | {part['part']} | {part['bytes'] / 2**20:,.1f} "
            f"| {part['bytes'] / max(size['executions'], 1):,.0f} |"
        )
    return lines


def ensure_loaded(n: int, seed: int, *, reload: bool = False) -> str:
    """Load the workload unless the database holds it already; says what it did."""
    from bench.generate import is_loaded, load

    if not reload and is_loaded(n, seed):
        print(f"{n:,} executions already loaded", flush=True)
        return "already loaded"
    print(f"Loading {n:,} executions…", flush=True)
    report = load(n, seed)
    note = (
        f"COPY {report.copy_seconds:.0f} s, indexes and constraints "
        f"{report.index_seconds:.0f} s, VACUUM ANALYZE {report.analyze_seconds:.0f} s"
    )
    print(f"Loaded in {report.total_seconds:.0f} s ({note})", flush=True)
    return note


def run(
    n: int,
    seed: int,
    *,
    calls: int = 30,
    ingest: bool = True,
    reload: bool = False,
    only: frozenset[str] | None = None,
    http: bool = False,
    only_http: bool = False,
    http_calls: int = 30,
    bulk_labels: bool = True,
) -> dict:
    """Load (when needed) and measure (every query, or the ids in ``only``); returns the
    results that ``markdown`` formats. ``http`` adds the list page over HTTP against
    gunicorn (``bench.http_pages``); ``only_http`` measures that alone."""
    if only_http and not reload:
        from bench.generate import is_loaded, loaded_marker

        if not is_loaded(n, seed):
            # Never a silent reload (minutes, and it replaces whatever N is loaded).
            raise SystemExit(
                f"--only-http measures a loaded database, and this one does not hold "
                f"{n:,} executions of seed {seed} (it holds: {loaded_marker() or 'nothing'}). "
                "Load it first: python -m bench.run N --load-only"
            )
    load_note = ensure_loaded(n, seed, reload=reload)
    user, token = bench_user()
    results = {
        "n": n,
        "seed": seed,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "load_average": os.getloadavg(),
        "load": load_note,
        "plans": [],
    }
    if not only_http:
        print("Measuring queries…", flush=True)
        results["queries"], results["plans"] = measure_queries(token, user, calls, only)
        # Measured before ingestion, whose deleted rows would leave free space behind.
        results["size"] = database_sizes()
    if http or only_http:
        from bench.http_pages import run_http

        print("Measuring the list page over HTTP…", flush=True)
        results["http"] = run_http(n, token, user, http_calls, bulk=bulk_labels)
    if ingest and not only_http:
        print("Measuring ingestion…", flush=True)
        results["ingestion"] = measure_ingestion(token, n, seed)
    return results


def machine() -> str:
    from django.db import connection

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or platform.machine(),
    )
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0].split()[0]
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores {cpu}, {memory:.0f} GiB RAM, PostgreSQL {server}, "
        f"Python {platform.python_version()}"
    )


def write_results(results: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    kind = "-http" if results.get("queries") is None else ""
    stem = RESULTS / f"n{results['n']}{kind}-{time.strftime('%Y%m%dT%H%M%S')}"
    plans = results.pop("plans")
    stem.with_suffix(".json").write_text(json.dumps(results, indent=2))
    stem.with_suffix(".md").write_text(markdown(results))
    if plans:
        Path(f"{stem}-plans.md").write_text("\n".join(plans))
    return stem


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, help="number of executions")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--calls", type=int, default=30, help="timed calls per query (≥ 20)")
    parser.add_argument("--reload", action="store_true", help="load even if already loaded")
    parser.add_argument("--no-ingest", action="store_true", help="skip I1 and I2")
    parser.add_argument(
        "--http-pages",
        action="store_true",
        help="also measure the list page (Q1-Q8 and variants) and bulk labels over HTTP "
        "against gunicorn",
    )
    parser.add_argument(
        "--only-http",
        action="store_true",
        help="measure only the list page and bulk labels over HTTP (no in-process queries, "
        "no ingestion, no size); reuses the loaded database",
    )
    parser.add_argument("--http-calls", type=int, default=30, help="timed calls per page over HTTP")
    parser.add_argument(
        "--no-bulk-labels", action="store_true", help="skip bulk labels in the HTTP part"
    )
    parser.add_argument(
        "--load-only",
        action="store_true",
        help="load the workload (when not loaded yet, or with --reload) and measure nothing",
    )
    parser.add_argument(
        "--queries",
        default=None,
        help="measure only these query ids, comma-separated (Q1,Q6); empty for none",
    )
    args = parser.parse_args(argv)

    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.update(SERVER_ENV)
    ensure_database(os.environ["DATABASE_URL"])

    import django

    django.setup()
    from django.core.management import call_command

    from bench.generate import SEED

    call_command("migrate", verbosity=0)
    seed = SEED if args.seed is None else args.seed
    if args.load_only:
        ensure_loaded(args.n, seed, reload=args.reload)
        return 0
    call_command("collectstatic", verbosity=0, interactive=False)
    results = run(
        args.n,
        seed,
        calls=args.calls,
        ingest=not args.no_ingest,
        reload=args.reload,
        http=args.http_pages,
        only_http=args.only_http,
        http_calls=args.http_calls,
        bulk_labels=not args.no_bulk_labels,
        only=None
        if args.queries is None
        else frozenset(q.strip().upper() for q in args.queries.split(",") if q.strip()),
    )
    stem = write_results(results)
    print()
    print(markdown(results))
    plans = f" and {stem.name}-plans.md" if Path(f"{stem}-plans.md").exists() else ""
    print(f"Results in {stem}.json, {stem.name}.md{plans}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
