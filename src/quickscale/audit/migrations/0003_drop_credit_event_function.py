"""Credit events are now recorded like every other event (one INSERT by ``record()``, in the
ledger entry's transaction), so the function of 0002 is dropped."""

from typing import Any

from django.db import migrations

DROP_SQL = """
DROP FUNCTION IF EXISTS quickscale_audit_credit_event(
    jsonb, bigint, bigint, numeric, numeric, integer);
"""


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("quickscale_audit", "0002_credit_event_function"),
    ]

    operations = [
        # Going back re-creates nothing: nothing calls the function any more.
        migrations.RunPython(drop, migrations.RunPython.noop, elidable=True),
    ]
