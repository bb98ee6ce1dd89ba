"""Render time of the list page's rows: 50 rows of the workload's shape (20 labels each,
about 1,000 label chips) through the template that renders them, in-process, warm.

    DJANGO_SETTINGS_MODULE=config.settings python -m bench.templates [--rows 50] [--runs 200]

It needs no database: the rows are built in memory and prepared as the view prepares them.
``--dtl FILE`` renders the ``rows`` partial of a Django template file instead, compiled once
as the cached loader keeps it: the same rows written in the Django template language, as they
were before they moved to Jinja2 (BENCHMARKS.md)::

    git show e46d43f:templates/executions/execution_list.html > /tmp/rows.html
    python -m bench.templates --dtl /tmp/rows.html
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import UTC, datetime, timedelta


def _rows(n: int):
    from executions.models import Execution

    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(n):
        labels = {
            "team": f"team-{i % 30:02d}",
            "experiment": f"exp-{i // 50}",
            "group": f"grp-{i // 20}",
            "model": f"model-{i % 50:02d}",
            "dataset": f"dataset-{i % 100:03d}",
            "build_ref": f"ref-{i:08x}",
            "user": "anne",
            **{f"filler-{k:02d}": f"value-{(i * 31 + k) % 997:04d}-{'x' * 24}" for k in range(13)},
        }
        row = Execution(
            id=f"e{i:09d}",
            workflow="train.wf",
            workflow_version="v3",
            phase="SUCCEEDED",
            created_at=start + timedelta(minutes=i),
            started_at=start + timedelta(minutes=i),
            duration=300.0 + i,
            launched_by="anne",
            labels=labels,
        )
        row.release_badge = None
        row.child_list = []
        rows.append(row)
    return rows


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.http import QueryDict
    from django.template import Context, engines
    from django.template.loader import render_to_string
    from django.test import RequestFactory

    from executions.views import list as list_view

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--dtl", metavar="FILE", help="a Django template with a rows partial")
    args = parser.parse_args()

    request = RequestFactory().get("/p/project-07/", QueryDict("q=team:team-07"))
    request.htmx = None
    state = list_view.ListState.from_request(request)
    rows = _rows(args.rows)
    list_view._prepare_rows(rows, state, state.query.expression, "project-07", {})
    chips = sum(len(row.chips) for row in rows)
    context = {"executions": rows, "columns": state.columns, "next_url": None, "more_id": "more"}
    if args.dtl:
        name = f"{args.dtl}#rows (Django template language)"
        with open(args.dtl) as source:
            rows_partial = (
                engines["django"].from_string(source.read()).template.extra_data["partials"]["rows"]
            )

        def render() -> str:
            return rows_partial.render(Context(context))
    else:
        name = f"{list_view.ROWS_TEMPLATE} (Jinja2)"

        def render() -> str:
            return render_to_string(list_view.ROWS_TEMPLATE, context, using="jinja2")

    for _ in range(10):
        html = render()
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        render()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[int(len(times) * 0.95) - 1]
    print(
        f"{name}: {args.rows} rows, {chips} chips, {len(html):,} bytes; "
        f"median {statistics.median(times):.2f} ms, p95 {p95:.2f} ms; "
        f"load average {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
