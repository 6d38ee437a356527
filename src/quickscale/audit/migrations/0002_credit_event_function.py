"""On PostgreSQL, a function that writes the event of a ledger entry (used by the ledger entry's
own statement: its ``INSERT`` is planned once per connection, not with every debit)."""

from typing import Any

from django.db import migrations

FUNCTION_SQL = """
CREATE OR REPLACE FUNCTION quickscale_audit_credit_event(
    event jsonb, entry_id bigint, account_id bigint, amount numeric, balance_after numeric,
    places integer
) RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO quickscale_audit_auditevent (
        action, outcome, actor_type, actor_id, actor_repr, api_key_id, ip, user_agent,
        request_id, target_type, target_id, target_repr, changes, metadata
    ) VALUES (
        event->>'action', event->>'outcome', event->>'actor_type', event->>'actor_id',
        event->>'actor_repr', event->>'api_key_id', (event->>'ip')::inet,
        event->>'user_agent', event->>'request_id', event->>'target_type',
        account_id::text, event->>'target_repr',
        jsonb_build_object('balance', jsonb_build_array(
            round(balance_after - amount, places)::text, round(balance_after, places)::text)),
        (event->'metadata') || jsonb_build_object('entry', entry_id)
    );
    RETURN 1;
END
$$;
"""

REVERSE_SQL = """
DROP FUNCTION IF EXISTS quickscale_audit_credit_event(
    jsonb, bigint, bigint, numeric, numeric, integer);
"""


def install(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION_SQL, params=None)


def remove(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REVERSE_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("quickscale_audit", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(install, remove, elidable=False),
    ]
