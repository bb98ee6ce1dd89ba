"""An execution's fields as the API and the export present them, and how a duration reads.

The one definition (STYLE.md rule 14): the API's serializer, the export, the admin, the CLI and
the pages read their field names, columns and duration text from here. Plain Python so that
the client and CLI (``execboard``, which needs only ``requests``) can import it without Django.
"""

from __future__ import annotations

# SPEC §5's execution object, in the order the API writes it.
EXECUTION_FIELDS = (
    "id",
    "project",
    "domain",
    "workflow",
    "workflow_version",
    "phase",
    "created_at",
    "started_at",
    "ended_at",
    "duration",
    "launched_by",
    "mode",
    "parent",
    "display_name",
    "labels",
    "description",
    "description_version",
    "user_metadata",
    "inputs",
    "error",
    "url",
)

# The list page's CSV and JSON export. Its ``name`` column is the display name.
EXPORT_COLUMNS = (
    "id",
    "name",
    "project",
    "domain",
    "workflow",
    "workflow_version",
    "phase",
    "created_at",
    "started_at",
    "ended_at",
    "duration",
    "launched_by",
    "mode",
    "parent",
    "labels",
)

# ``execboard get executions``: the table's (header, field) pairs and the CSV's columns.
CLI_TABLE_COLUMNS = (
    ("ID", "id"),
    ("NAME", "display_name"),
    ("WORKFLOW", "workflow"),
    ("PHASE", "phase"),
    ("STARTED", "started_at"),
    ("DURATION", "duration"),
    ("BY", "launched_by"),
    ("LABELS", "labels"),
)
CLI_CSV_COLUMNS = (
    "id",
    "display_name",
    "project",
    "domain",
    "workflow",
    "phase",
    "created_at",
    "started_at",
    "ended_at",
    "duration",
    "launched_by",
    "labels",
    "url",
)

# The admin's change list.
ADMIN_LIST_COLUMNS = ("id", "project", "domain", "workflow", "phase", "created_at", "launched_by")

# The keys a list sorts by (``sort_by.key`` on the page and the API, ``--sort`` in the CLI).
SORT_KEYS = ("created_at", "started_at", "ended_at", "duration", "phase", "name", "workflow")


def format_duration(seconds: float | None) -> str:
    """Two units at most, short enough for a table cell: ``4.2s``, ``42s``, ``3m 07s``,
    ``2h 05m``, ``3d 4h``; ``""`` for no duration (each reader chooses its placeholder).

    The value is rounded to what is shown before the unit is chosen, so 9.99 reads ``10s``
    and 59.9 reads ``1m 00s`` (not ``10.0s`` and ``60s``)."""
    if seconds is None:
        return ""
    tenths = round(seconds, 1)
    if tenths < 10:
        return f"{tenths:.1f}s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"
