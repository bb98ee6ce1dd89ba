"""The benchmark workload (../shared/bench/WORKLOAD.md), generated and loaded fast.

``Workload(n, seed)`` yields the same N executions on every machine (a fixed seed, Python's
Mersenne Twister); ``load(n)`` streams them with PostgreSQL ``COPY`` into Execboard's own
tables -- ``executions_execution`` (with its ``labels`` jsonb copy) and ``executions_label``
(one row per label with the execution's ``project_id`` and ``created_at``) -- exactly as the
services would have written them, namespace label ``user:<launched_by>`` included.

Loading is TRUNCATE + ``COPY ... FREEZE`` into tables stripped of their secondary indexes and
foreign keys, then the indexes and constraints are rebuilt from their own definitions (so the
loader follows whatever the migrations define) and the tables analysed. The two COPY streams
run on two connections so that two server processes parse rows while Python generates them.

    python -m bench.generate 100000          # DATABASE_URL names the database
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import string
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

SEED = 20260101
PROJECTS = 20
USERS = 200
TEAMS = 30
MODELS = 50
DATASETS = 100
FILLER_KEYS = tuple(f"extra-{i:02d}" for i in range(1, 15))
DOMAINS = (("development", 30), ("staging", 20), ("production", 50))
PHASES = (
    ("SUCCEEDED", 70),
    ("FAILED", 15),
    ("RUNNING", 10),
    ("ABORTED", 3),
    ("QUEUED", 1),
    ("TIMED_OUT", 1),
)
WORKFLOWS = ("train.wf", "evaluate.wf", "preprocess.wf", "deploy.wf", "sweep.wf", "report.wf")
START = datetime(2025, 1, 1, tzinfo=UTC)
YEAR = timedelta(days=365)
MEDIAN_DURATION = 300.0
MAX_DURATION = 7 * 24 * 3600.0
EXPERIMENT_SIZE = 50  # mean executions per experiment: about N/50 experiments
GROUP_SIZE = 20  # mean executions per group: about N/20 groups, nested in experiments
RELEASE_SHARE = 0.02
# Field columns (SPEC §10: `input.<key>`, `meta.<key>`): every execution has the same three
# inputs (parameters); finished executions carry `loss` and `epochs` in `user_metadata`, and
# succeeded ones also `accuracy`, so a metadata sort meets missing values as well as numbers.
# Drawn from their own random stream (FIELDS_SEED_OFFSET), so adding them left every label,
# id, phase and time of the workload as it was.
FIELDS_SEED_OFFSET = 0x5EED
LEARNING_RATES = (0.0001, 0.0003, 0.001, 0.003, 0.01)
BATCH_SIZES = (16, 32, 64, 128, 256)
OPTIMIZERS = ("adam", "adamw", "sgd", "lion")
WORKLOAD_VERSION = 2  # 2: inputs and user_metadata added; part of the loaded marker

# Execution ids are a bijection of the row number (unique by construction, random-looking):
# i * A + B modulo 36**10, with A coprime to 36.
ID_ALPHABET = string.ascii_lowercase + string.digits
ID_SPACE = 36**10
ID_MULTIPLIER = 2_259_630_184_213_715  # about 36**10 / golden ratio
ID_OFFSET = 1_234_567_890_123
# Filler values are slices of one random text, which is much faster than drawing each
# character and as incompressible for the indexes. Only letters and digits: nothing that
# COPY's text format or JSON would need to escape.
FILLER_ALPHABET = string.ascii_letters + string.digits
FILLER_POOL_BITS = 20

EXECUTION_COLUMNS = (
    "id",
    "project_id",
    "domain",
    "workflow",
    "workflow_version",
    "inputs",
    "phase",
    "phase_occurred_at",
    "created_at",
    "started_at",
    "ended_at",
    "duration",
    "launched_by",
    "mode",
    "parent_id",
    "description",
    "description_version",
    "user_metadata",
    "error",
    "labels",
)
LABEL_COLUMNS = ("execution_id", "key", "value", "project_id", "created_at")
TABLES = ("executions_execution", "executions_label")


def execution_id(row: int) -> str:
    number = (row * ID_MULTIPLIER + ID_OFFSET) % ID_SPACE
    chars = []
    for _ in range(10):
        number, digit = divmod(number, 36)
        chars.append(ID_ALPHABET[digit])
    return "".join(chars)


def _cumulative(weights: tuple[tuple[str, int], ...]) -> tuple[list[str], list[int]]:
    names, totals, total = [], [], 0
    for name, weight in weights:
        total += weight
        names.append(name)
        totals.append(total)
    return names, totals


@dataclass(slots=True)
class GeneratedExecution:
    row: int
    id: str
    project: int  # 0 … PROJECTS-1: project-00 … project-19
    domain: str
    workflow: str
    phase: str
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    duration: float | None
    launched_by: str
    labels: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, object] = field(default_factory=dict)
    user_metadata: dict[str, object] = field(default_factory=dict)

    @property
    def phase_occurred_at(self) -> datetime:
        return self.ended_at or self.started_at or self.created_at


@dataclass(slots=True)
class _ProjectState:
    """Experiments and groups run in sequence inside each project, so each experiment
    belongs to one project and each group to one experiment."""

    experiments: int = 0
    experiment_left: int = 0
    groups: int = 0
    group_left: int = 0


class Workload:
    """The N executions of the benchmark, the same for the same (n, seed)."""

    def __init__(self, n: int, seed: int = SEED) -> None:
        self.n = n
        self.seed = seed

    def __iter__(self) -> Iterator[GeneratedExecution]:
        rng = random.Random(self.seed)
        fields_rng = random.Random(self.seed + FIELDS_SEED_OFFSET)
        pool = "".join(rng.choices(FILLER_ALPHABET, k=(1 << FILLER_POOL_BITS) + 64))
        domains, domain_totals = _cumulative(DOMAINS)
        phases, phase_totals = _cumulative(PHASES)
        states = [_ProjectState() for _ in range(PROJECTS)]
        step = YEAR / self.n
        log_median = math.log(MEDIAN_DURATION)
        for row in range(self.n):
            project = rng.randrange(PROJECTS)
            state = states[project]
            if state.experiment_left == 0:
                state.experiments += 1
                state.experiment_left = rng.randint(1, 2 * EXPERIMENT_SIZE - 1)
                state.group_left = 0
            if state.group_left == 0:
                state.groups += 1
                state.group_left = rng.randint(1, 2 * GROUP_SIZE - 1)
            state.experiment_left -= 1
            state.group_left -= 1
            experiment = f"exp-{project:02d}-{state.experiments:05d}"

            created_at = START + step * row
            phase = rng.choices(phases, cum_weights=phase_totals)[0]
            started_at = ended_at = duration = None
            if phase != "QUEUED":
                started_at = created_at + timedelta(seconds=rng.random() * 30)
                if phase != "RUNNING":
                    duration = min(rng.lognormvariate(log_median, 1.5), MAX_DURATION)
                    duration = round(duration, 3)
                    ended_at = started_at + timedelta(seconds=duration)
            launched_by = f"user-{rng.randrange(USERS):03d}"

            labels = {
                "team": f"team-{rng.randrange(TEAMS):02d}",
                "experiment": experiment,
                "group": f"{experiment}-g{state.groups:05d}",
                "model": f"model-{rng.randrange(MODELS):02d}",
                "dataset": f"dataset-{rng.randrange(DATASETS):03d}",
            }
            if rng.random() < RELEASE_SHARE:
                labels["release"] = f"v{rng.randrange(4)}.{rng.randrange(20)}.{rng.randrange(50)}"
            else:
                labels["build_ref"] = f"{rng.getrandbits(48):012x}"
            for key in FILLER_KEYS:
                start = rng.getrandbits(FILLER_POOL_BITS)
                labels[key] = pool[start : start + rng.randint(16, 64)]
            labels["user"] = launched_by  # the namespace label every execution carries

            inputs = {
                "learning_rate": fields_rng.choice(LEARNING_RATES),
                "batch_size": fields_rng.choice(BATCH_SIZES),
                "optimizer": fields_rng.choice(OPTIMIZERS),
            }
            metadata: dict[str, object] = {}
            if duration is not None:
                metadata["loss"] = round(fields_rng.lognormvariate(-1.0, 0.8), 4)
                metadata["epochs"] = fields_rng.randint(1, 100)
                if phase == "SUCCEEDED":
                    metadata["accuracy"] = round(fields_rng.uniform(0.5, 0.99), 4)

            yield GeneratedExecution(
                row=row,
                id=execution_id(row),
                project=project,
                domain=rng.choices(domains, cum_weights=domain_totals)[0],
                workflow=WORKFLOWS[rng.randrange(len(WORKFLOWS))],
                phase=phase,
                created_at=created_at,
                started_at=started_at,
                ended_at=ended_at,
                duration=duration,
                launched_by=launched_by,
                labels=labels,
                inputs=inputs,
                user_metadata=metadata,
            )


def _ts(moment: datetime | None) -> str:
    return moment.isoformat() if moment else r"\N"


def copy_lines(execution: GeneratedExecution, project_id: int) -> tuple[str, str]:
    """The execution's line and its labels' lines in COPY text format."""
    created = execution.created_at.isoformat()
    labels_json = "{" + ", ".join(f'"{k}": "{v}"' for k, v in execution.labels.items()) + "}"
    execution_line = "\t".join(
        (
            execution.id,
            str(project_id),
            execution.domain,
            execution.workflow,
            "",
            json.dumps(execution.inputs),
            execution.phase,
            _ts(execution.phase_occurred_at),
            created,
            _ts(execution.started_at),
            _ts(execution.ended_at),
            r"\N" if execution.duration is None else repr(execution.duration),
            execution.launched_by,
            "MANUAL",
            r"\N",
            "",
            "0",
            json.dumps(execution.user_metadata),
            "",
            labels_json,
        )
    )
    tail = f"\t{project_id}\t{created}\n"
    label_lines = "".join(
        f"{execution.id}\t{key}\t{value}{tail}" for key, value in execution.labels.items()
    )
    return execution_line + "\n", label_lines


@dataclass
class LoadReport:
    n: int
    seed: int
    copy_seconds: float = 0.0
    index_seconds: float = 0.0
    analyze_seconds: float = 0.0

    @property
    def total_seconds(self) -> float:
        return self.copy_seconds + self.index_seconds + self.analyze_seconds


@dataclass
class _Schema:
    """What the loader removes before COPY and rebuilds after, taken from the catalog."""

    drops: list[str] = field(default_factory=list)
    unique_indexes: list[str] = field(default_factory=list)
    attach: list[str] = field(default_factory=list)
    indexes: list[str] = field(default_factory=list)
    foreign_keys: list[str] = field(default_factory=list)


def _schema(cursor) -> _Schema:
    """Every index and foreign key of the two tables except the executions primary key
    (other tables reference it). A primary or unique constraint is rebuilt as a unique index
    and then attached, which lets its build take the same locks as the other indexes."""
    schema = _Schema()
    cursor.execute(
        """
        SELECT c.conrelid::regclass::text, c.conname, c.contype,
               pg_get_constraintdef(c.oid), pg_get_indexdef(c.conindid)
        FROM pg_constraint c
        WHERE c.conrelid = ANY(%s::regclass[]) AND c.contype IN ('p', 'u', 'f')
          AND NOT (c.conrelid = 'executions_execution'::regclass AND c.contype = 'p')
        ORDER BY c.conname
        """,
        [list(TABLES)],
    )
    for table, name, kind, definition, index_definition in cursor.fetchall():
        schema.drops.append(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        if kind == "f":
            schema.foreign_keys.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        else:
            schema.unique_indexes.append(index_definition)
            constraint = "PRIMARY KEY" if kind == "p" else "UNIQUE"
            schema.attach.append(
                f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {constraint} USING INDEX "{name}"'
            )
    cursor.execute(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid = ANY(%s::regclass[])
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        ORDER BY 1
        """,
        [list(TABLES)],
    )
    for name, definition in cursor.fetchall():
        schema.drops.append(f'DROP INDEX "{name}"')
        schema.indexes.append(definition)
    return schema


def _project_ids() -> list[int]:
    from projects.models import Project

    ids = []
    for index in range(PROJECTS):
        slug = f"project-{index:02d}"
        project, _ = Project.objects.get_or_create(slug=slug, defaults={"name": f"Project {index}"})
        ids.append(project.pk)
    return ids


def connection_params() -> dict[str, str]:
    """psycopg connection parameters of Django's default database."""
    from django.db import connection

    settings = connection.settings_dict
    params = {
        "dbname": settings["NAME"],
        "user": settings["USER"],
        "password": settings["PASSWORD"],
        "host": settings["HOST"],
        "port": str(settings["PORT"] or ""),
    }
    return {key: value for key, value in params.items() if value}


def load(n: int, seed: int = SEED, *, log=print, batch: int = 2000) -> LoadReport:
    """Replace all executions with the workload's N and rebuild indexes and statistics."""
    import psycopg
    from django.db import connection

    if connection.vendor != "postgresql":
        raise RuntimeError("The benchmark loader needs PostgreSQL (set DATABASE_URL).")
    connection.close()  # nothing of Django's may hold a lock on the tables being rebuilt
    project_ids = _project_ids()
    connection.close()
    report = LoadReport(n=n, seed=seed)
    params = connection_params()
    with (
        psycopg.connect(**params) as executions_conn,
        psycopg.connect(**params) as labels_conn,
    ):
        for conn in (executions_conn, labels_conn):
            conn.execute("SET maintenance_work_mem = '1GB'")
            conn.execute("SET synchronous_commit = off")
        schema = _schema(executions_conn.cursor())
        for statement in schema.drops:
            executions_conn.execute(statement)
        executions_conn.commit()

        started = time.perf_counter()
        # TRUNCATE and COPY in one transaction allow FREEZE: rows are written frozen and
        # all-visible, so index-only scans need no VACUUM first.
        executions_conn.execute("TRUNCATE executions_execution CASCADE")
        labels_conn.execute("TRUNCATE executions_label")
        executions_sql = (
            f"COPY executions_execution ({', '.join(EXECUTION_COLUMNS)}) FROM STDIN (FREEZE)"
        )
        labels_sql = f"COPY executions_label ({', '.join(LABEL_COLUMNS)}) FROM STDIN (FREEZE)"
        with (
            executions_conn.cursor().copy(executions_sql) as executions_copy,
            labels_conn.cursor().copy(labels_sql) as labels_copy,
        ):
            execution_chunk: list[str] = []
            label_chunk: list[str] = []
            for execution in Workload(n, seed):
                execution_line, label_lines = copy_lines(execution, project_ids[execution.project])
                execution_chunk.append(execution_line)
                label_chunk.append(label_lines)
                if len(execution_chunk) == batch:
                    executions_copy.write("".join(execution_chunk))
                    labels_copy.write("".join(label_chunk))
                    execution_chunk.clear()
                    label_chunk.clear()
                    if (execution.row + 1) % (batch * 50) == 0:
                        log(f"  {execution.row + 1:,} executions copied")
            executions_copy.write("".join(execution_chunk))
            labels_copy.write("".join(label_chunk))
        executions_conn.commit()
        labels_conn.commit()
        report.copy_seconds = time.perf_counter() - started
        log(f"COPY of {n:,} executions: {report.copy_seconds:.1f} s")

        started = time.perf_counter()
        executions_conn.autocommit = True
        for statement in [*schema.unique_indexes, *schema.indexes]:
            began = time.perf_counter()
            executions_conn.execute(statement)
            log(f"  {time.perf_counter() - began:6.1f} s  {statement}")
        for statement in [*schema.attach, *schema.foreign_keys]:
            executions_conn.execute(statement)
        report.index_seconds = time.perf_counter() - started
        log(f"Indexes and constraints: {report.index_seconds:.1f} s")

        started = time.perf_counter()
        for table in TABLES:
            executions_conn.execute(f"VACUUM (ANALYZE) {table}")
        executions_conn.execute(f"COMMENT ON TABLE executions_execution IS '{marker(n, seed)}'")
        report.analyze_seconds = time.perf_counter() - started
        log(f"VACUUM ANALYZE: {report.analyze_seconds:.1f} s")
    return report


def marker(n: int, seed: int) -> str:
    """Recorded on the executions table after a complete load, so a later run can tell
    whether the database already holds this workload."""
    return f"execboard bench n={n} seed={seed} workload={WORKLOAD_VERSION}"


def loaded_marker() -> str | None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT obj_description('executions_execution'::regclass, 'pg_class')")
        return cursor.fetchone()[0]


def is_loaded(n: int, seed: int) -> bool:
    """Whether the database holds this workload: the marker of a complete load, and the rows
    (a test database's flush truncates the tables but leaves the table's comment)."""
    from django.db import connection

    if loaded_marker() != marker(n, seed):
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM (SELECT 1 FROM executions_execution LIMIT %s) t", [n])
        return cursor.fetchone()[0] == n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, help="number of executions")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    report = load(args.n, args.seed)
    print(f"Loaded {args.n:,} executions in {report.total_seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
