"""Bulk labels (SPEC §10): add or remove labels on every selected execution, all or nothing.

A selection is either executions named by id or everything a list query matches (the list's
own parameters, read by ``ListQuery.from_params``). ``labels_bulk_update`` fetches the
matched executions once, locking their rows, works out in Python which of them change and
whether each keeps to the label rules, then writes set-wise: the statements it sends do not
grow with the selection (on PostgreSQL one statement each for the label rows deleted, the
label rows written, the ``labels`` copies and the history; elsewhere batches of ``BATCH``).
Every execution whose labels change gets a history entry per changed key, as
``services.labels_update`` writes them; one where nothing would change is neither counted as
changed nor given history. Relabelling 10,000 executions of twenty labels took 3.5 s at best
and about 8 s typically on a shared two-core machine kept busy by other work (PostgreSQL),
most of it the database updating the execution and label indexes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from executions import labels as label_rules
from executions.errors import ExecboardError, NotFound
from executions.models import Change, Execution, Label
from executions.planner import Plan
from executions.query import ListQuery
from executions.services import EXECUTION_ID_RE, utf8_size
from projects.models import Project

# The list's parameters that say which executions match (not how they are shown).
SELECTION_PARAMS = ("project", "domain", "q", "filters", "phase", "namespace", "since")
# Rows per statement where the database takes no arrays (SQLite's variable limit).
BATCH = 500

# One `key:value` of the text form: a bare key is a tag; a value with spaces is quoted, as
# in the list's expressions (`name:"lr sweep 3"`).
_LABEL_TOKEN = re.compile(r'([^\s:"]+)(?::(?:"((?:[^"\\]|\\.)*)"|((?!")\S*)))?(?=\s|\Z)')


class BulkLabelsError(ExecboardError):
    code = "invalid_bulk_labels"
    status = 400


# Changes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelChanges:
    """Validated labels to add (or change) and keys to remove; build with ``validated``."""

    add: dict[str, str]
    remove: tuple[str, ...]

    @classmethod
    def validated(cls, add: Any = None, remove: Any = None) -> LabelChanges:
        """Raise a 400 naming what is wrong: label syntax, a namespace key, nothing to do,
        or one key both added and removed."""
        try:
            add = label_rules.validate_labels({} if add is None else add)
        except label_rules.LabelError as error:
            raise label_rules.LabelError(error.message, field="add") from None
        if remove is None:
            remove = []
        if not isinstance(remove, list | tuple) or not all(isinstance(k, str) for k in remove):
            raise label_rules.LabelError("remove must be a list of label keys.", field="remove")
        for key in remove:
            try:
                label_rules.validate_user_key(key)
            except label_rules.LabelError as error:
                raise label_rules.LabelError(error.message, field="remove") from None
        remove = tuple(dict.fromkeys(remove))
        if not add and not remove:
            raise BulkLabelsError(
                "Nothing to do: give labels to add or label keys to remove.", field="add"
            )
        both = [key for key in remove if key in add]
        if both:
            raise BulkLabelsError(
                f"The label key {both[0]!r} is both added and removed; choose one.",
                field="remove",
            )
        return cls(add=add, remove=remove)

    def applied_to(self, labels: Mapping[str, str]) -> tuple[dict[str, str], list[tuple]]:
        """``labels`` after the changes, and each change as ``(key, old, new)`` (``old`` is
        None for a label added, ``new`` None for one removed): nothing for a key removed
        that is not there or a label that already has the value."""
        updated = dict(labels)
        changes = []
        for key in self.remove:
            if key in updated:
                changes.append((key, updated.pop(key), None))
        for key, value in self.add.items():
            if labels.get(key) != value:
                changes.append((key, labels.get(key), value))
            updated[key] = value
        return updated, changes


def parse_labels_text(text: str) -> dict[str, str]:
    """``k:v k2:v2 tag name:"two words"`` → ``{"k": "v", "k2": "v2", "tag": "", ...}``; each
    label checked by the label rules (``labels.parse_label``)."""
    labels: dict[str, str] = {}
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            return labels
        match = _LABEL_TOKEN.match(text, position)
        if match is None:
            raise label_rules.LabelError(
                f"Cannot read a label at character {position + 1}: write key:value, a bare "
                'key, or key:"a value with spaces".',
                field="add",
            )
        key, quoted, bare = match.groups()
        value = bare if quoted is None else re.sub(r"\\(.)", r"\1", quoted)
        try:
            key, value = label_rules.parse_label(key if value is None else f"{key}:{value}")
        except label_rules.LabelError as error:
            raise label_rules.LabelError(error.message, field="add") from None
        labels[key] = value
        position = match.end()


def parse_keys_text(text: str) -> list[str]:
    """Label keys separated by spaces or commas."""
    return [key for key in re.split(r"[\s,]+", text) if key]


# Selections --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """The executions to relabel: ``executions`` (not yet read), and the ids that must all
    be among them when the selection names executions."""

    executions: QuerySet
    ids: frozenset[str] | None = None


def select_ids(ids: Any, readable: QuerySet) -> Selection:
    """Executions named by id, among ``readable`` (the ones the caller may read: any other
    id is "not found", as everywhere)."""
    if isinstance(ids, str):
        ids = [ids]
    if not isinstance(ids, list | tuple) or not ids or not all(isinstance(i, str) for i in ids):
        raise BulkLabelsError("ids must be a non-empty list of execution ids.", field="ids")
    wanted = frozenset(ids)
    limit = settings.EXECBOARD_BULK_LIMIT
    if len(wanted) > limit:
        raise _over_limit(limit)
    # An id no execution can have is not looked up (NUL and the like would upset the database).
    lookup = [i for i in wanted if EXECUTION_ID_RE.match(i)]
    if connections[readable.db].vendor == "postgresql":
        # One array, not a placeholder per id: PostgreSQL takes at most 65,535 of those.
        return Selection(
            readable.filter(pk__in=RawSQL("SELECT unnest(%s::text[])", (lookup,))), wanted
        )
    return Selection(readable.filter(pk__in=lookup), wanted)


def select_matching(
    params: Mapping[str, Any],
    executions: QuerySet,
    project_id: int | None = None,
    *,
    projects: QuerySet | None = None,
) -> Selection:
    """Everything the list query of ``params`` matches among ``executions``, scoped to one
    project (``project_id``) or to ``projects``, as the list itself is."""
    query = ListQuery.from_params(selection_params(params))
    # The plain plan (every term through the label rows): no order to walk, nothing to guess.
    return Selection(query.filter(executions, Plan(project_id=project_id, projects=projects)))


def selection_params(params: Mapping[str, Any]) -> dict[str, str]:
    """The list parameters of a selection as text, refusing what is not text (a JSON body
    may send anything) and what the database could not compare (NUL, lone surrogates)."""
    text = {}
    for name in SELECTION_PARAMS:
        value = params.get(name)
        if value is None:
            continue
        if name == "phase" and isinstance(value, list | tuple):
            if not all(isinstance(item, str) for item in value):
                raise BulkLabelsError("phase must be a list of phase names.", field="phase")
            value = ",".join(value)
        if not isinstance(value, str):
            raise BulkLabelsError(f"{name} must be a string.", field=name)
        utf8_size(value, name)
        if value:
            text[name] = value
    return text


# The update --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BulkResult:
    matched: int
    changed: int
    dry_run: bool


@dataclass(frozen=True)
class _Relabelled:
    """One execution that changes: its new labels and its changes ``(key, old, new)``."""

    id: str
    project_id: int
    created_at: datetime
    labels: dict[str, str]
    changes: list[tuple]


def labels_bulk_update(
    *,
    selection: Selection,
    changes: LabelChanges,
    by: str,
    authorize: Callable[[Project], None],
    dry_run: bool = False,
) -> BulkResult:
    """Apply ``changes`` to every execution of ``selection``, all or nothing.

    Refused before anything changes: more than ``EXECBOARD_BULK_LIMIT`` executions (400),
    an id of the selection not found (404), a project ``authorize`` refuses (it raises, for
    each project with a matched execution), an execution that would break the label count
    rule (400 naming it). With ``dry_run`` nothing is written and no row is locked."""
    limit = settings.EXECBOARD_BULK_LIMIT
    with transaction.atomic():
        executions = Execution.objects.filter(pk__in=selection.executions.values("pk"))
        if not dry_run:
            # Locked in id order, so that two bulk updates cannot deadlock.
            executions = executions.select_for_update(of=("self",))
        rows = list(
            executions.order_by("pk").values_list("pk", "project_id", "created_at", "labels")[
                : limit + 1
            ]
        )
        if len(rows) > limit:
            raise _over_limit(limit)
        if selection.ids is not None and len(rows) < len(selection.ids):
            missing = sorted(selection.ids - {row[0] for row in rows})
            raise NotFound(f"No execution {missing[0]!r}.", field="ids")
        for project in Project.objects.filter(pk__in={row[1] for row in rows}):
            authorize(project)
        relabelled = _relabelled(rows, changes)
        if relabelled and not dry_run:
            _write(relabelled, changes, by)
    return BulkResult(matched=len(rows), changed=len(relabelled), dry_run=dry_run)


def _over_limit(limit: int) -> BulkLabelsError:
    return BulkLabelsError(
        f"The selection has more than {limit:,} executions, the most one bulk change may "
        "relabel; narrow it down.",
        code="too_many",
    )


def _relabelled(rows: Iterable[tuple], changes: LabelChanges) -> list[_Relabelled]:
    """The executions of ``rows`` that change, each checked against the label count rule."""
    relabelled = []
    for execution_id, project_id, created_at, labels in rows:
        updated, changed = changes.applied_to(labels)
        if not changed:
            continue
        try:
            label_rules.check_count(updated)
        except label_rules.LabelError as error:
            raise BulkLabelsError(
                f"Execution {execution_id}: {error.message}",
                field="add",
                code=label_rules.LabelError.code,
                extra={"execution": execution_id},
            ) from None
        relabelled.append(_Relabelled(execution_id, project_id, created_at, updated, changed))
    return relabelled


def _write(relabelled: Sequence[_Relabelled], changes: LabelChanges, by: str) -> None:
    """Each changed execution's label rows of the keys added or removed are replaced by its
    rows of the keys added (some rewritten with the value they had: simpler than telling
    them apart, and the same rows), its ``labels`` copy rewritten, its changes recorded."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        _write_postgresql(relabelled, changes, by, now)
        return
    ids = [item.id for item in relabelled]
    keys = [*changes.add, *changes.remove]
    for start in range(0, len(ids), BATCH):
        Label.objects.filter(execution_id__in=ids[start : start + BATCH], key__in=keys).delete()
    Label.objects.bulk_create(
        (
            Label(
                execution_id=item.id,
                key=key,
                value=value,
                project_id=item.project_id,
                created_at=item.created_at,
            )
            for item in relabelled
            for key, value in changes.add.items()
        ),
        batch_size=BATCH,
    )
    Execution.objects.bulk_update(
        [Execution(pk=item.id, labels=item.labels) for item in relabelled],
        ["labels"],
        batch_size=BATCH,
    )
    Change.objects.bulk_create(
        (
            change
            for item in relabelled
            for change in Change.of_labels(item.id, by=by, at=now, changes=item.changes)
        ),
        batch_size=BATCH,
    )


def _write_postgresql(
    relabelled: Sequence[_Relabelled], changes: LabelChanges, by: str, now: datetime
) -> None:
    """The same four writes as one statement each, whatever the number of executions. The
    executions go as one array of ids (a placeholder each would pass PostgreSQL's 65,535 at
    10,000 executions); the history, the new label rows and the ``labels`` copies are made
    by the database from the locked execution rows and the changes, which is what
    ``LabelChanges.applied_to`` computes (shipping 10,000 rewritten JSON objects and 30,000
    history rows cost more than the database's own work)."""
    quote = connection.ops.quote_name
    executions, labels = quote(Execution._meta.db_table), quote(Label._meta.db_table)
    ids = [item.id for item in relabelled]
    keys = [*changes.remove, *changes.add]
    with connection.cursor() as cursor:
        # First, while the labels are the old ones: a history entry per key whose value
        # changes (a key removed has the new value NULL), in the order applied_to gives.
        cursor.execute(
            f"INSERT INTO {quote(Change._meta.db_table)} "
            '(execution_id, at, "by", field, key, old, new) '
            "SELECT execution.id, %s, %s, %s, change.key, execution.labels ->> change.key, "
            f"change.new FROM {executions} AS execution, "
            "unnest(%s::text[], %s::text[]) WITH ORDINALITY AS change (key, new, position) "
            "WHERE execution.id = ANY(%s) "
            "AND execution.labels ->> change.key IS DISTINCT FROM change.new "
            "ORDER BY execution.id, change.position",
            [
                now,
                by,
                Change.Field.LABEL,
                keys,
                [None] * len(changes.remove) + list(changes.add.values()),
                ids,
            ],
        )
        cursor.execute(
            f"DELETE FROM {labels} WHERE execution_id = ANY(%s) AND key = ANY(%s)", [ids, keys]
        )
        if changes.add:
            # In the label index's order, so that consecutive rows go to neighbouring pages.
            cursor.execute(
                f"INSERT INTO {labels} (execution_id, key, value, project_id, created_at) "
                "SELECT execution.id, new.key, new.value, execution.project_id, "
                f"execution.created_at FROM {executions} AS execution, "
                "unnest(%s::text[], %s::text[]) AS new (key, value) "
                "WHERE execution.id = ANY(%s) "
                "ORDER BY execution.project_id, new.key, new.value, execution.created_at DESC",
                [list(changes.add), list(changes.add.values()), ids],
            )
        # The GIN index takes the new labels into its pending list and leaves merging them to
        # (auto)vacuum: at the default 4 MB the list is merged several times within this
        # statement, which was most of its time at 10,000 executions.
        cursor.execute("SET LOCAL gin_pending_list_limit = '64MB'")
        cursor.execute(
            f"UPDATE {executions} SET labels = (labels - %s::text[]) || %s::jsonb "
            "WHERE id = ANY(%s)",
            [list(changes.remove), json.dumps(changes.add), ids],
        )
