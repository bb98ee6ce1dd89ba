"""Migration operations that only some databases run."""

from __future__ import annotations

from django.db import migrations


class AddIndexOnPostgres(migrations.AddIndex):
    """An index only PostgreSQL can build (GIN); other databases keep it in the migration
    state, so the models and migrations agree, but create nothing."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
