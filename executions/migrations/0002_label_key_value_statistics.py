"""Teach PostgreSQL's planner that a label's value depends on its key.

Without it the planner multiplies the selectivities of ``key = 'team'`` and
``value = 'team-07'`` as if independent, and at 1M executions expects 1,539 rows where there
are 33,395 (BENCHMARKS.md): it then picks nested loops sized for a few rows and counts
exactly what it should estimate. A multivariate MCV list on (key, value) gives estimates
within a few per cent for the common labels; 1,000 entries hold every team, model, dataset
and user value of the benchmark. The table is analysed at once (a sample of 300,000 rows, a
few seconds): autovacuum would wait for a tenth of it to change. Other databases have nothing
to do here.
"""

from django.db import migrations

CREATE = """
CREATE STATISTICS IF NOT EXISTS label_key_value (mcv) ON key, value FROM executions_label;
ALTER STATISTICS label_key_value SET STATISTICS 1000;
ANALYZE executions_label;
"""
DROP = "DROP STATISTICS IF EXISTS label_key_value;"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("executions", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
