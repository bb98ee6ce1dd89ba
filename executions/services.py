"""Writes that touch several models, each atomic: a rejected call changes nothing."""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.db.models import prefetch_related_objects
from django.utils import timezone
from psycopg import sql

from executions import labels as label_rules
from executions.errors import Conflict, ExecboardError, NotFound
from executions.models import Change, Execution, Label, Mode, Step
from projects.models import Project

MAX_DESCRIPTION_BYTES = 256 * 1024
MAX_JSON_BYTES = 64 * 1024
MAX_BULK = 1000
# Any id an execution can have; anything else names no execution and is not looked up.
EXECUTION_ID_RE = re.compile(r"[a-z0-9]{1,16}\Z")
MODES = frozenset(Mode.values)


def utf8_size(text: str, field_name: str) -> int:
    """The size of ``text`` in UTF-8, refusing what PostgreSQL cannot store: the NUL
    character and unpaired surrogates (which JSON's ``\\ud800`` escapes can smuggle in)."""
    if "\x00" in text:
        raise ExecboardError(
            f"{field_name} cannot contain the NUL character (U+0000).", field=field_name
        )
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise ExecboardError(
            f"{field_name} contains an unpaired surrogate (U+{ord(exc.object[exc.start]):04X}), "
            "which is not valid Unicode.",
            field=field_name,
        ) from exc


def validate_description(text: Any) -> str:
    if text is None:
        return ""
    if not isinstance(text, str):
        raise ExecboardError("The description must be a string of Markdown.", field="description")
    size = utf8_size(text, "description")
    if size > MAX_DESCRIPTION_BYTES:
        raise ExecboardError(
            f"The description is {size:,} bytes; at most {MAX_DESCRIPTION_BYTES:,} (256 KiB) "
            "are allowed.",
            field="description",
            code="too_large",
            status=413,
        )
    return text


def validate_json_object(value: Any, field_name: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ExecboardError(f"{field_name} must be a JSON object.", field=field_name)
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ExecboardError(
            f"{field_name} must hold only JSON values (no NaN or Infinity).", field=field_name
        ) from exc
    if _has_nul(value):  # PostgreSQL's jsonb cannot store it
        raise ExecboardError(
            f"{field_name} cannot contain the NUL character (U+0000).", field=field_name
        )
    size = utf8_size(text, field_name)
    if size > MAX_JSON_BYTES:
        raise ExecboardError(
            f"{field_name} is {size:,} bytes of JSON; at most {MAX_JSON_BYTES:,} (64 KiB) "
            "are allowed.",
            field=field_name,
            code="too_large",
            status=413,
        )
    return value


def _has_nul(value: Any) -> bool:
    """Whether a NUL character is in any key or string of a JSON value (walked iteratively:
    the parser bounds the depth, not the recursion limit)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _validate_short_text(value: Any, field_name: str, *, required: bool, max_length: int) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ExecboardError(f"{field_name} must be a string.", field=field_name)
    value = value.strip()
    if required and not value:
        raise ExecboardError(f"{field_name} is required.", field=field_name)
    if len(value) > max_length:
        raise ExecboardError(
            f"{field_name} is at most {max_length} characters long.", field=field_name
        )
    if any(ord(c) < 32 for c in value):
        raise ExecboardError(f"{field_name} cannot contain control characters.", field=field_name)
    utf8_size(value, field_name)
    return value


def namespace_label(*, launched_by: str, production_namespace: str = "") -> tuple[str, str]:
    if production_namespace:
        return "production", production_namespace
    return "user", launched_by


@dataclass
class ExecutionSpec:
    """A validated, not yet saved execution with its effective labels."""

    execution: Execution
    labels: dict[str, str] = field(default_factory=dict)


def prepare_execution(
    *,
    project: Project,
    domain: Any,
    workflow: Any,
    launched_by: str,
    production_namespace: str = "",
    workflow_version: Any = "",
    labels: Mapping[str, str] | None = None,
    description: Any = "",
    user_metadata: Any = None,
    inputs: Any = None,
    parent: Any = None,
    mode: Any = None,
    parents: Mapping[str, Execution] | None = None,
) -> ExecutionSpec:
    """Validate everything an execution needs, touching nothing; raise on the first problem.
    ``parents``, when given, holds every execution the parent may be, fetched beforehand
    (``_parents_named``): then nothing here queries the database."""
    if domain not in settings.EXECBOARD_DOMAINS:
        raise ExecboardError(
            f"Unknown domain {domain!r}; expected one of {', '.join(settings.EXECBOARD_DOMAINS)}.",
            field="domain",
        )
    workflow = _validate_short_text(workflow, "workflow", required=True, max_length=255)
    workflow_version = _validate_short_text(
        workflow_version, "workflow_version", required=False, max_length=255
    )
    launch_labels = label_rules.validate_labels({} if labels is None else labels)
    effective = label_rules.effective_labels(project.default_labels_dict(), launch_labels)
    label_rules.check_count(effective)
    key, value = namespace_label(launched_by=launched_by, production_namespace=production_namespace)
    effective[key] = label_rules.validate_value(key, value)

    parent_execution = None
    if parent not in (None, ""):
        if not isinstance(parent, str):
            raise ExecboardError("parent must be an execution id.", field="parent")
        if parents is not None:
            parent_execution = parents.get(parent)
            if parent_execution is not None and parent_execution.project_id != project.pk:
                parent_execution = None
        elif EXECUTION_ID_RE.match(parent):
            parent_execution = Execution.objects.filter(pk=parent, project=project).first()
        if parent_execution is None:
            raise ExecboardError(
                f"No execution {parent!r} in project {project.slug} to be the parent.",
                field="parent",
            )
    if mode in (None, ""):
        mode = Mode.CHILD if parent_execution else Mode.MANUAL
    if mode not in MODES:
        raise ExecboardError(
            f"Unknown mode {mode!r}; expected one of {', '.join(Mode.values)}.", field="mode"
        )
    execution = Execution(
        project=project,
        domain=domain,
        workflow=workflow,
        workflow_version=workflow_version,
        inputs=validate_json_object(inputs, "inputs"),
        launched_by=launched_by,
        mode=mode,
        parent=parent_execution,
        description=validate_description(description),
        user_metadata=validate_json_object(user_metadata, "user_metadata"),
        labels=effective,
        created_at=timezone.now(),
    )
    return ExecutionSpec(execution, effective)


def _label_rows(execution: Execution, labels: Mapping[str, str]) -> list[Label]:
    return [
        Label(
            execution=execution,
            key=key,
            value=value,
            project_id=execution.project_id,
            created_at=execution.created_at,
        )
        for key, value in labels.items()
    ]


def _insert(specs: Sequence[ExecutionSpec]) -> list[Execution]:
    """``bulk_create`` of the executions and their labels (databases other than PostgreSQL)."""
    executions = [spec.execution for spec in specs]
    Execution.objects.bulk_create(executions)
    Label.objects.bulk_create(
        [row for spec in specs for row in _label_rows(spec.execution, spec.labels)]
    )
    return executions


def _execution_values(execution: Execution) -> list[Any]:
    """Every concrete field's database value, prepared as ``bulk_create`` would (``pre_save``,
    then the database value)."""
    # The connection itself, not the proxy: ``connection`` looks itself up on every use.
    db = connections[DEFAULT_DB_ALIAS]
    return [
        field.get_db_prep_save(field.pre_save(execution, True), db)
        for field in Execution._meta.concrete_fields
    ]


def _mark_saved(execution: Execution) -> None:
    execution._state.adding = False
    execution._state.db = connection.alias


def _copy_executions(executions: Sequence[Execution]) -> None:
    """``bulk_create`` by ``COPY``, the instances marked as saved."""
    _copy(
        Execution,
        tuple(field.column for field in Execution._meta.concrete_fields),
        (_execution_values(execution) for execution in executions),
    )
    for execution in executions:
        _mark_saved(execution)


# COPY's text format gives these characters a meaning; escaped, they are data. Label text
# rarely has any (keys cannot, values cannot but for the backslash), so an execution's labels
# are searched at once and escaped only when one is there.
COPY_TEXT_SPECIAL = re.compile(r"[\\\t\n\r]")
COPY_TEXT_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
# Label rows are written sorted by (key, value) in batches of this many executions:
# consecutive rows then go to neighbouring pages of the label indexes, which made
# PostgreSQL's part of a bulk request about 10 % cheaper than rows in execution order.
LABEL_BATCH = 100
LABEL_COLUMNS = ("execution_id", "key", "value", "project_id", "created_at")
# The columns of a label line in the bulk COPY: key and value first (see ``_label_lines``).
LABEL_COPY_COLUMNS = ("key", "value", "execution_id", "project_id", "created_at")


def _label_lines(specs: Sequence[ExecutionSpec]) -> str:
    """The label rows of ``specs`` in COPY's text format, written here: psycopg's
    ``write_row``, adapting value by value, cost as much as PostgreSQL's own parsing of the
    21,000 rows of a bulk request (BENCHMARKS.md, I1). A line starts with the key and the
    value, so that sorting the lines sorts the rows by (key, value)."""
    lines = []
    for spec in specs:
        execution = spec.execution
        created = execution.created_at.isoformat()
        tail = f"\t{execution.id}\t{execution.project_id}\t{created}\n"
        labels = spec.labels.items()
        if COPY_TEXT_SPECIAL.search("".join(itertools.chain.from_iterable(labels))):
            labels = [
                (key.translate(COPY_TEXT_ESCAPES), value.translate(COPY_TEXT_ESCAPES))
                for key, value in labels
            ]
        lines.extend(f"{key}\t{value}{tail}" for key, value in labels)
    lines.sort()
    return "".join(lines)


def _copy(model, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    """Write many rows with one ``COPY`` (PostgreSQL): for a bulk request of 1,000
    executions with 21 labels each, building the instances and binding an ``INSERT …
    UNNEST`` (arrays escaped client-side) took four times as long as the database's own
    work (BENCHMARKS.md, I1). Inside the caller's transaction: all or nothing still."""
    with connection.cursor() as cursor, cursor.cursor.copy(_copy_statement(model, columns)) as copy:
        for row in rows:
            copy.write_row(row)


def _copy_statement(model, columns: Sequence[str]) -> sql.Composed:
    return sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(model._meta.db_table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )


@functools.cache
def _insert_one_statement() -> str:
    """An execution and its labels in one ``INSERT`` (PostgreSQL): the execution's values,
    then its id, project and time once and the label keys and values as two arrays."""
    quote = connection.ops.quote_name
    fields = Execution._meta.concrete_fields
    return (
        f"WITH execution AS (INSERT INTO {quote(Execution._meta.db_table)} "
        f"({', '.join(quote(field.column) for field in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})) "
        f"INSERT INTO {quote(Label._meta.db_table)} ({', '.join(map(quote, LABEL_COLUMNS))}) "
        "SELECT %s, label.key, label.value, %s, %s "
        "FROM unnest(%s::text[], %s::text[]) AS label (key, value)"
    )


def execution_create(**kwargs: Any) -> Execution:
    """Create one execution with its effective labels (see ``prepare_execution``). On
    PostgreSQL the execution and its labels are one statement, atomic by itself: no
    transaction to begin and commit around two inserts, which is a third of the statements of
    a create (BENCHMARKS.md, I2)."""
    spec = prepare_execution(**kwargs)
    execution = spec.execution
    if connection.vendor != "postgresql":
        with transaction.atomic():
            return _insert([spec])[0]
    params = [
        *_execution_values(execution),
        execution.id,
        execution.project_id,
        execution.created_at,
        list(spec.labels),
        list(spec.labels.values()),
    ]
    with connection.cursor() as cursor:
        cursor.execute(_insert_one_statement(), params)
    _mark_saved(execution)
    return execution


@transaction.atomic
def executions_create_bulk(
    *,
    items: Sequence[Mapping[str, Any]],
    resolve_project,
    launched_by: str,
    production_namespace: str = "",
) -> list[Execution]:
    """Create up to 1,000 executions, all or nothing. ``resolve_project(slug)`` returns the
    project or raises an ``ExecboardError``; it is called once per distinct project. An error
    names the failing index in its field and message.

    Projects and parents are all looked up first, so that validating the executions needs
    the database no more: on PostgreSQL their label rows go to a ``COPY`` as each batch is
    validated, and the database writes them while the next batch is validated (an error
    cancels the ``COPY`` and the transaction)."""
    if not isinstance(items, list) or not items:
        raise ExecboardError("executions must be a non-empty list.", field="executions")
    if len(items) > MAX_BULK:
        raise ExecboardError(
            f"At most {MAX_BULK} executions per request; got {len(items)}.",
            field="executions",
            code="too_many",
            status=413,
        )
    projects = _projects_named(items, resolve_project)
    parents = _parents_named(items)
    specs = []
    with _label_writer() as write_labels:
        for index, item in enumerate(items):
            try:
                if not isinstance(item, Mapping):
                    raise ExecboardError("Each execution must be a JSON object.")
                unknown = set(item) - CREATE_FIELDS
                if unknown:
                    raise ExecboardError(f"Unknown field(s): {', '.join(sorted(unknown))}.")
                slug = item.get("project")
                if not isinstance(slug, str) or not slug:
                    raise ExecboardError("project is required.", field="project")
                project = projects[slug]
                if isinstance(project, ExecboardError):
                    raise project
                fields = {k: v for k, v in item.items() if k != "project"}
                spec = prepare_execution(
                    project=project,
                    launched_by=launched_by,
                    production_namespace=production_namespace,
                    parents=parents,
                    **fields,
                )
            except ExecboardError as error:
                inner = f".{error.field}" if error.field else ""
                error.field = f"executions[{index}]{inner}"
                error.message = f"Execution {index}: {error.message}"
                raise
            specs.append(spec)
            write_labels(spec)
    executions = [spec.execution for spec in specs]
    if connection.vendor == "postgresql":
        _copy_executions(executions)
    else:
        _insert(specs)
    return executions


def _projects_named(items: Sequence[Any], resolve_project) -> dict[str, Project | ExecboardError]:
    """Each project the items name, or the error that resolving it raised: kept to be raised
    at the first item that names it, so that an earlier item's error still comes first."""
    projects: dict[str, Project | ExecboardError] = {}
    for item in items:
        slug = item.get("project") if isinstance(item, Mapping) else None
        if isinstance(slug, str) and slug and slug not in projects:
            try:
                projects[slug] = resolve_project(slug)
            except ExecboardError as error:
                projects[slug] = error
            else:
                # prefetch: the defaults are read once per project, not once per execution.
                prefetch_related_objects([projects[slug]], "default_labels")
    return projects


def _parents_named(items: Sequence[Any]) -> dict[str, Execution]:
    """The executions the items name as their parent, in one query."""
    ids = {
        item["parent"]
        for item in items
        if isinstance(item, Mapping)
        and isinstance(item.get("parent"), str)
        and EXECUTION_ID_RE.match(item["parent"])
    }
    return Execution.objects.in_bulk(ids) if ids else {}


@contextmanager
def _label_writer() -> Iterator[Callable[[ExecutionSpec], None]]:
    """On PostgreSQL, a ``COPY`` of label rows that the caller feeds execution by execution,
    written in batches of ``LABEL_BATCH``; elsewhere nothing (``_insert`` writes them)."""
    if connection.vendor != "postgresql":
        yield lambda spec: None
        return
    statement = _copy_statement(Label, LABEL_COPY_COLUMNS)
    batch: list[ExecutionSpec] = []
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:

        def write(spec: ExecutionSpec) -> None:
            batch.append(spec)
            if len(batch) == LABEL_BATCH:
                copy.write(_label_lines(batch))
                batch.clear()

        yield write
        if batch:
            copy.write(_label_lines(batch))


CREATE_FIELDS = frozenset(
    {
        "project",
        "domain",
        "workflow",
        "workflow_version",
        "labels",
        "description",
        "user_metadata",
        "inputs",
        "parent",
        "mode",
    }
)


def labels_update(
    *,
    execution_id: str,
    by: str,
    set_labels: Mapping[str, str] | None = None,
    remove: Sequence[str] = (),
) -> Execution:
    """Add, change or remove labels after the run, with a history entry per change.

    Namespace labels cannot be set or removed; the count rule holds after the change."""
    set_labels = label_rules.validate_labels(set_labels or {})
    for key in remove:
        label_rules.validate_user_key(key)
    with transaction.atomic():
        execution = Execution.objects.select_for_update().get(pk=execution_id)
        current = dict(execution.labels)
        missing = [key for key in remove if key not in current]
        if missing:
            raise NotFound(f"The execution has no label {missing[0]!r} to remove.", field="labels")
        updated = dict(current)
        for key in remove:
            del updated[key]
        updated.update(set_labels)
        label_rules.check_count(updated)

        changes = []
        for key in remove:
            changes.append((key, current[key], None))
        for key, value in set_labels.items():
            if current.get(key) != value:
                changes.append((key, current.get(key), value))
        if not changes:
            return execution

        removed_keys = [key for key, _, new in changes if new is None]
        written = {key: new for key, _, new in changes if new is not None}
        Label.objects.filter(execution=execution, key__in=removed_keys + list(written)).delete()
        Label.objects.bulk_create(_label_rows(execution, written))
        execution.labels = updated
        execution.save(update_fields=["labels"])
        now = timezone.now()
        Change.objects.bulk_create(Change.of_labels(execution.pk, by=by, at=now, changes=changes))
    return execution


def description_update(
    *, execution_id: str, text: Any, expected_version: int, by: str
) -> Execution:
    """Save a description if nobody saved one since ``expected_version`` (optimistic
    concurrency); otherwise raise a 409 carrying the current text and version."""
    text = validate_description(text)
    with transaction.atomic():
        execution = Execution.objects.select_for_update().get(pk=execution_id)
        if execution.description_version != expected_version:
            raise Conflict(
                "The description was changed by someone else since you started editing "
                f"(version {execution.description_version}, you edited version "
                f"{expected_version}).",
                field="description_version",
                code="description_conflict",
                extra={
                    "description": execution.description,
                    "description_version": execution.description_version,
                },
            )
        if text == execution.description:
            return execution
        Change.objects.create(
            execution=execution,
            by=by,
            field=Change.Field.DESCRIPTION,
            old=execution.description,
            new=text,
        )
        execution.description = text
        execution.description_version += 1
        execution.save(update_fields=["description", "description_version"])
    return execution


def step_create(
    *,
    execution_id: str,
    name: Any,
    parent: int | None = None,
    options: Any = None,
    user_metadata: Any = None,
) -> Step:
    """Create a step; a repeated name gets ``_1``, ``_2``, … appended (as in Ray)."""
    name = _validate_short_text(name, "name", required=True, max_length=200)
    options = validate_json_object(options, "options")
    user_metadata = validate_json_object(user_metadata, "user_metadata")
    with transaction.atomic():
        execution = Execution.objects.select_for_update().get(pk=execution_id)
        parent_step = None
        if parent is not None:
            parent_step = execution.steps.filter(pk=parent).first()
            if parent_step is None:
                raise ExecboardError("No such parent step in this execution.", field="parent")
        taken = set(execution.steps.filter(name__startswith=name).values_list("name", flat=True))
        final = name
        n = 0
        while final in taken:
            n += 1
            final = f"{name}_{n}"
        try:
            return Step.objects.create(
                execution=execution,
                name=final,
                parent=parent_step,
                options=options,
                user_metadata=user_metadata,
            )
        except IntegrityError as exc:  # pragma: no cover - the row lock makes this unreachable
            raise Conflict("A step with this name was created concurrently.") from exc


def step_update(*, step: Step, options: Any = None, user_metadata: Any = None) -> Step:
    fields = []
    if options is not None:
        step.options = validate_json_object(options, "options")
        fields.append("options")
    if user_metadata is not None:
        step.user_metadata = validate_json_object(user_metadata, "user_metadata")
        fields.append("user_metadata")
    if fields:
        step.save(update_fields=fields)
    return step
