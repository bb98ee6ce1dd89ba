"""Turn PostgreSQL's JIT compilation off for Execboard's database.

JIT pays off for long analytical queries; for a web page it is pure latency. At 1M
executions the grouped list page's query crossed the planner's JIT threshold and spent
848 ms of its 1,355 ms compiling (BENCHMARKS.md). A database-level setting, so every
connection gets it; where the role may not alter the database, the migration says so and
carries on (set ``jit = off`` in postgresql.conf instead). Other databases have no JIT.
"""

from django.db import migrations

SET = """
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I SET jit = off', current_database());
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'Could not turn JIT off for this database; set jit = off in postgresql.conf';
END
$$;
"""
RESET = """
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I RESET jit', current_database());
EXCEPTION WHEN insufficient_privilege THEN
    NULL;
END
$$;
"""


def jit_off(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SET, params=None)  # no placeholders: %I is format()'s


def jit_default(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(RESET, params=None)


class Migration(migrations.Migration):
    dependencies = [("executions", "0002_label_key_value_statistics")]

    operations = [migrations.RunPython(jit_off, jit_default, elidable=False)]
