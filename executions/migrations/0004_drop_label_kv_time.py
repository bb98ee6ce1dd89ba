"""Drop the label index that did not lead with the project, ``(key, value, created_at DESC)
INCLUDE (execution)``.

At 1M executions it took 1.9 KB of the 8.9 KB per execution (BENCHMARKS.md). Lists across
projects now read ``label_project_kv_time`` once per project, and labels that many
executions carry are tested on the execution's ``labels`` copy while an execution index is
walked (executions/query.py); the benchmark's queries are as fast without it.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('executions', '0003_database_without_jit'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='label',
            name='label_kv_time',
        ),
    ]
