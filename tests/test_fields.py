"""The one definition of an execution's fields and of a duration's text (STYLE.md rule 14),
and the readers that must follow it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.test import APIRequestFactory

from execboard import cli
from execboard.fields import (
    ADMIN_LIST_COLUMNS,
    CLI_CSV_COLUMNS,
    CLI_TABLE_COLUMNS,
    EXECUTION_FIELDS,
    EXPORT_COLUMNS,
    SORT_KEYS,
    format_duration,
)
from executions import query
from executions.admin import ExecutionAdmin
from executions.api.serializers import ExecutionJson, ExecutionSerializer
from executions.templatetags.execution_detail import duration
from tests.factories import make_execution

ROOT = Path(__file__).resolve().parent.parent


def test_the_serializers_keys_are_the_execution_fields_in_order(project):
    execution = make_execution(project, labels={"name": "bert"})
    request = APIRequestFactory().get("/")
    assert tuple(ExecutionJson(request)(execution)) == EXECUTION_FIELDS
    assert tuple(ExecutionSerializer(execution, context={"request": request}).data) == (
        EXECUTION_FIELDS
    )


def test_the_serializer_declares_the_execution_fields_for_the_schema():
    assert tuple(ExecutionSerializer.Meta.fields) == EXECUTION_FIELDS


def test_every_reader_names_only_execution_fields():
    # The export calls the display name "name" (a column the export has always had).
    assert set(EXPORT_COLUMNS) - {"name"} <= set(EXECUTION_FIELDS)
    assert set(CLI_CSV_COLUMNS) <= set(EXECUTION_FIELDS)
    assert {field for _, field in CLI_TABLE_COLUMNS} <= set(EXECUTION_FIELDS)
    assert set(ADMIN_LIST_COLUMNS) <= set(EXECUTION_FIELDS)


def test_the_admin_lists_and_shows_the_execution_fields():
    assert ExecutionAdmin.list_display == list(ADMIN_LIST_COLUMNS)
    shown = set()
    for _, options in ExecutionAdmin.fieldsets:
        for entry in options["fields"]:
            shown.update(entry if isinstance(entry, tuple) else [entry])
    # Computed in the API (display_name, url) or shown another way (labels as text, the
    # duration as text).
    assert set(EXECUTION_FIELDS) - shown == {"display_name", "url", "labels", "duration"}
    assert {"labels_text", "namespace_labels", "duration_text"} <= shown
    assert set(ExecutionAdmin.readonly_fields) <= shown


def test_the_cli_and_the_query_know_the_same_sort_keys():
    assert cli.SORT_KEYS is SORT_KEYS
    assert query.SORT_KEYS == SORT_KEYS


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, ""),
        (0, "0.0s"),
        (4.25, "4.2s"),
        (9.94, "9.9s"),
        (9.99, "10s"),
        (10, "10s"),
        (42, "42s"),
        (59.4, "59s"),
        (59.9, "1m 00s"),
        (60, "1m 00s"),
        (187, "3m 07s"),
        (3599, "59m 59s"),
        (3600, "1h 00m"),
        (7500, "2h 05m"),
        (86399, "23h 59m"),
        (86400, "1d 0h"),
        (3 * 86400 + 4 * 3600 + 59 * 60, "3d 4h"),
    ],
)
def test_a_duration_reads_in_at_most_two_units_and_never_spills_past_a_boundary(seconds, text):
    assert format_duration(seconds) == text


def test_the_detail_page_shows_a_dash_where_there_is_no_duration():
    assert duration(None) == "—"
    assert duration(187) == "3m 07s"


def test_the_fields_module_imports_without_django():
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
        "sys.modules['django'] = None; "  # any import of Django now fails
        "import execboard.fields as f; "
        "assert f.format_duration(187) == '3m 07s'; "
        "assert 'rest_framework' not in sys.modules"
    )
    result = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
