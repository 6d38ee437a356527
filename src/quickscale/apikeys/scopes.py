"""The scopes people can give a key, with the words the keys page and the command use.

A scope is ``<resource>:read`` or ``<resource>:write``; ``write`` implies ``read``. Keys may
hold other well-formed scopes (a host's own endpoints can require them), but these are the ones
the ``/api/v1`` endpoints check and the ones the keys page offers.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

SCOPES = {
    "credits:read": _("See the credit balance and transactions."),
    "services:read": _("List the services and their prices."),
    "services:write": _("Run services, spending credits."),
    "runs:read": _("See past runs and their results."),
    "usage:read": _("See usage per service and per day."),
}
