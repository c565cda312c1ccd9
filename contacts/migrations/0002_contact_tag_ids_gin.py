from django.db import migrations

# GIN makes `tag_ids @> '{a,b}'` and `tag_ids && '{c}'` index scans. PostgreSQL only: SQLite (the embedded
# default) stores tag_ids as JSON text and scans it, which is fine at demo sizes.
CREATE = "CREATE INDEX IF NOT EXISTS contact_tag_ids_gin ON contacts_contact USING gin (tag_ids)"
DROP = "DROP INDEX IF EXISTS contact_tag_ids_gin"


def _on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("contacts", "0001_initial")]

    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP), elidable=False)]
