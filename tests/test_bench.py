"""The benchmark harness (bench/) at a tiny N, so that it never rots. Nothing here is timed:
the tests check that the workload is what WORKLOAD.md says and that every measurement runs."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from django.db import connection

from bench.generate import FILLER_KEYS, ID_ALPHABET, Workload, execution_id
from executions.models import Execution, Label

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the benchmark loads with PostgreSQL COPY and measures PostgreSQL plans",
)


def test_the_workload_is_the_same_for_the_same_seed_and_differs_for_another():
    first = [(e.id, e.labels, e.phase, e.duration) for e in Workload(200, seed=1)]
    again = [(e.id, e.labels, e.phase, e.duration) for e in Workload(200, seed=1)]
    other = [(e.id, e.labels, e.phase, e.duration) for e in Workload(200, seed=2)]
    assert first == again
    assert first != other


def test_execution_ids_are_unique_short_and_url_safe():
    ids = [execution_id(row) for row in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 10 and set(i) <= set(ID_ALPHABET) for i in ids)


def test_every_execution_carries_twenty_labels_and_its_namespace_label():
    for execution in Workload(500):
        labels = execution.labels
        assert len(labels) == 21
        assert labels["user"] == execution.launched_by
        assert ("release" in labels) != ("build_ref" in labels)
        assert set(FILLER_KEYS) <= set(labels)
        assert all(16 <= len(labels[key]) <= 64 for key in FILLER_KEYS)


def test_experiments_stay_in_one_project_and_groups_in_one_experiment():
    project_of, experiment_of = {}, {}
    for execution in Workload(3000):
        experiment, group = execution.labels["experiment"], execution.labels["group"]
        assert project_of.setdefault(experiment, execution.project) == execution.project
        assert experiment_of.setdefault(group, experiment) == experiment
    assert 3000 / 100 < len(project_of) < 3000 / 25
    assert 3000 / 40 < len(experiment_of) < 3000 / 10


def test_phases_follow_the_workload_shares_and_only_finished_executions_have_durations():
    executions = list(Workload(5000))
    phases = Counter(e.phase for e in executions)
    assert 0.65 < phases["SUCCEEDED"] / 5000 < 0.75
    assert 0.12 < phases["FAILED"] / 5000 < 0.18
    for execution in executions:
        finished = execution.phase not in ("RUNNING", "QUEUED")
        assert (execution.duration is not None) == finished
        assert (execution.started_at is None) == (execution.phase == "QUEUED")
    created = [e.created_at for e in executions]
    assert created == sorted(created)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_loader_writes_executions_labels_and_rebuilds_every_index():
    from bench.generate import load, loaded_marker, marker

    def indexes():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes "
                "WHERE tablename IN ('executions_execution', 'executions_label') ORDER BY 1"
            )
            return cursor.fetchall()

    before = indexes()
    load(300, seed=7, log=lambda *_: None)

    assert indexes() == before
    assert loaded_marker() == marker(300, 7)
    assert Execution.objects.count() == 300
    assert Label.objects.count() == 300 * 21
    execution = Execution.objects.get(pk=execution_id(42))
    rows = {row.key: row.value for row in Label.objects.filter(execution=execution)}
    assert rows == execution.labels
    assert set(
        Label.objects.filter(execution=execution).values_list("project_id", "created_at")
    ) == {(execution.project_id, execution.created_at)}


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_runner_measures_every_query_ingestion_and_size():
    from bench.run import markdown, run

    results = run(600, seed=7, calls=2, ingest=True)

    by_id = {row["id"]: row for row in results["queries"]}
    assert set(by_id) == {f"Q{i}" for i in range(1, 10)}
    latest = by_id["Q1"]["api"]
    in_project = Execution.objects.filter(project__slug="project-07").count()
    assert latest["status"] == 200
    assert latest["rows"] == min(50, in_project)
    assert latest["statements"] >= 1
    assert by_id["Q1"]["page"]["status"] == 200
    assert results["size"]["executions"] == 600
    assert results["size"]["bytes_per_execution"] > 0
    assert results["ingestion"]["I1"]["executions"] == 1000
    assert results["ingestion"]["I2"]["executions"] > 0
    assert not Execution.objects.filter(project__slug="bench-ingest").exists()
    table = markdown({**results, "plans": None})
    assert "| Q1 |" in table and "I1 bulk API" in table
    assert json.dumps({k: v for k, v in results.items() if k != "plans"})


def test_the_workload_carries_inputs_and_metadata_for_field_columns():
    for execution in Workload(500):
        assert set(execution.inputs) == {"learning_rate", "batch_size", "optimizer"}
        finished = execution.duration is not None
        assert ("loss" in execution.user_metadata) == finished
        assert ("accuracy" in execution.user_metadata) == (execution.phase == "SUCCEEDED")


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_runner_measures_the_list_page_and_bulk_labels_over_http():
    from bench.http_pages import BULK_KEY
    from bench.run import ensure_loaded, markdown, run
    from executions.models import Change

    ensure_loaded(600, seed=7)
    # --only-http measures the loaded database and never loads another N in its place.
    with pytest.raises(SystemExit, match="does not hold 601"):
        run(601, seed=7, ingest=False, only_http=True)
    assert Execution.objects.count() == 600

    results = run(600, seed=7, calls=2, ingest=False, only_http=True, http_calls=2)

    assert "queries" not in results and "size" not in results
    http = results["http"]
    by_id = {row["id"]: row for row in http["pages"]}
    # Q8 needs 21 pages, which 600 executions do not have.
    assert {"Q1", "Q1+cols", "Q6", "Q6+cols", "Q7", "S1", "S2", "S3"} <= set(by_id)
    latest = by_id["Q1"]
    assert latest["status"] == 200
    assert latest["calls"] == 2 and latest["p50"] > 0
    assert latest["wire_bytes"] > 0
    assert latest["body_bytes"] is None or latest["body_bytes"] >= latest["wire_bytes"]
    assert 1 <= latest["statements"] <= 20
    assert latest["load_before"] and latest["load_after"]
    # Variants the server may not know yet are recorded with their status, not raised.
    assert all(isinstance(row["status"], int) for row in http["pages"])
    assert by_id["S1"]["matching"] > 0
    bulk = http["bulk_labels"]
    assert {"dry_run", "add", "remove"} <= set(bulk)
    assert all(isinstance(bulk[name]["status"], int) for name in ("dry_run", "add", "remove"))
    # Whatever the endpoint did, the workload is left as loaded.
    assert not Execution.objects.filter(labels__has_key=BULK_KEY).exists()
    assert not Label.objects.filter(key=BULK_KEY).exists()
    assert not Change.objects.filter(key=BULK_KEY).exists()
    # A bulk call that gunicorn's worker timeout kills is repeated in process.
    from bench.http_pages import _bulk_in_process, bulk_selection
    from bench.run import bench_user

    _, token = bench_user()
    selection, matching = bulk_selection()
    dry = _bulk_in_process(token, {**selection, "add": {BULK_KEY: "x"}, "dry_run": True})
    assert dry["status"] == 200, dry.get("error")
    assert dry["matched"] == matching == bulk["matching"]
    assert not Label.objects.filter(key=BULK_KEY).exists()
    table = markdown({**results, "plans": None})
    assert "List page over HTTP" in table and "| Q1 |" in table and "| dry_run |" in table
    assert json.dumps({k: v for k, v in results.items() if k != "plans"})
