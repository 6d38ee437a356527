"""Errors of ``quickscale.billing``, each with a stable ``code``."""

from __future__ import annotations

from quickscale.core.errors import ConfigurationError, QuickScaleError


class BillingError(QuickScaleError):
    """Base class of the billing errors a caller can cause."""

    code = "billing_error"


class BillingDisabled(ConfigurationError):
    """Billing was used while its Stripe settings are incomplete; the message names the missing
    ones."""

    code = "billing_not_configured"


class InvalidStripeId(BillingError):
    """A value given as a Stripe id cannot be one (a NUL byte, non-ASCII, spaces, too long);
    nothing was looked up. ``details["field"]`` names what was given."""

    code = "invalid_stripe_id"
    status = 400


class PriceUnavailable(BillingError):
    """The price is unknown, archived, or sells no credits."""

    code = "price_unavailable"
    status = 404


class SubscriptionConflict(BillingError):
    """The operation does not fit the user's subscription (a second plan, no plan to change,
    the plan already chosen)."""

    code = "subscription_conflict"
    status = 409


class StripeUnavailable(BillingError):
    """Stripe could not be reached or refused the request; nothing was changed here."""

    code = "stripe_unavailable"
    status = 502


class UnknownStripeObject(BillingError):
    """A Stripe object refers to a customer or price this site cannot place (e.g. a customer
    made outside it)."""

    code = "unknown_stripe_object"
    status = 422


class RefundRefused(BillingError):
    """A refund that cannot be made (the payment is not refundable, or the amount is more
    than what is left to refund); nothing was changed. ``code`` says which."""

    code = "refund_refused"
    status = 409


class SandboxError(BillingError):
    """The payment sandbox cannot do what was asked: it is not active, or the object does not
    allow it (a subscription that has ended does not renew)."""

    code = "sandbox_error"
    status = 409


class DeliveryRefused(SandboxError):
    """The webhook endpoint answered an event of the payment sandbox with an error. The change
    stays made in the sandbox; the message says how to deliver the event again."""

    code = "sandbox_delivery_refused"
    status = 502
