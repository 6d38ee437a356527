"""What the ledger announces to the rest of the site, as :mod:`quickscale.core.events` events.

Grants, debits, captures, adjustments and refunds are announced inside the transaction that
writes their entry (so the audit log records them with it); holds, releases, expiries and
bookkeeping entries are left to the ledger's own history.
"""

from __future__ import annotations

from typing import Any

from quickscale.core import events
from quickscale.credits.amounts import display
from quickscale.credits.models import CreditAccount, CreditTransaction

#: Ledger entry kinds announced, and their actions.
ACTIONS = {
    "grant": "credits.granted",
    "debit": "credits.debited",
    "capture": "credits.captured",
    "adjustment": "credits.adjusted",
    "refund": "credits.refunded",
}


def announce_entry(entry: CreditTransaction, account: CreditAccount) -> None:
    """Announce a ledger entry just written to ``account`` (whose totals include it)."""
    action = ACTIONS.get(entry.kind)
    if action is None or not events.listening(CreditAccount):
        return
    actor: Any = entry.actor if entry.actor_id is not None else events.CURRENT
    events.announce(
        CreditAccount,
        action,
        actor=actor,
        # The owner is not loaded on the debit path: the account is named by its owner's id.
        target=events.Target(
            CreditAccount._meta.label_lower,
            str(account.pk),
            f"credits of user {account.owner_id}",
        ),
        changes={"balance": [display(account.balance - entry.amount), display(account.balance)]},
        metadata={
            "entry": entry.pk,
            "owner": account.owner_id,
            "amount": display(entry.amount),
            "reason": entry.reason,
            "reference": entry.reference,
        },
        using=entry._state.db,
    )
