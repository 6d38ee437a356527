"""The Stripe customer of each user.

A user gets one Stripe customer, made on their first checkout with the user's id in its
metadata; the link is stored in :class:`~quickscale.billing.models.Customer`. A Stripe object
naming a customer we have no row for (the row was lost, or the customer was made elsewhere) is
placed through that metadata, and refused when it has none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from quickscale.billing import locks
from quickscale.billing.client import get_client
from quickscale.billing.exceptions import UnknownStripeObject
from quickscale.billing.models import Customer
from quickscale.billing.objects import as_data
from quickscale.billing.signals import billing_event

if TYPE_CHECKING:
    from stripe.params import CustomerCreateParams

#: Metadata key naming the user, on customers, checkout sessions and subscriptions we create.
USER_KEY = "quickscale_user_id"


def user_by_id(value: Any) -> Any:
    """The user whose primary key is ``value`` (as metadata holds it, a string), or None."""
    if value in (None, ""):
        return None
    user_model = get_user_model()
    try:
        pk = user_model._meta.pk.to_python(value)
    except ValidationError:
        return None
    return user_model._default_manager.filter(pk=pk).first()


def customer_of(user: Any) -> Customer | None:
    """The user's Stripe customer, or ``None`` before their first checkout."""
    return Customer.objects.filter(user=user).first()


def get_or_create_customer(user: Any) -> Customer:
    """The user's Stripe customer, created in Stripe (and linked here) the first time.

    Concurrent first checkouts of one user send the same idempotency key, so Stripe makes one
    customer for them and the unique link here keeps one row.
    """
    existing = customer_of(user)
    if existing is not None:
        return existing
    email = getattr(user, user.get_email_field_name(), "") or ""
    params: CustomerCreateParams = {"metadata": {USER_KEY: str(user.pk)}}
    if email:
        params["email"] = email
    created = as_data(
        get_client().v1.customers.create(
            params=params, options={"idempotency_key": f"quickscale-customer-{user.pk}"}
        )
    )
    return _link(user, created["id"])


def _link(user: Any, stripe_id: str) -> Customer:
    try:
        with transaction.atomic():
            customer = Customer.objects.create(user=user, stripe_id=stripe_id)
            billing_event.send(
                sender=Customer,
                action="billing.customer.created",
                user=user,
                target=customer,
                metadata={"customer": stripe_id},
            )
            return customer
    except IntegrityError:
        found = Customer.objects.filter(user=user).first()
        if found is None or found.stripe_id != stripe_id:
            raise
        return found


def user_for_customer(stripe_id: str) -> Any:
    """The user a Stripe customer belongs to, linking it from the customer's metadata when
    there is no row yet. Raises ``UnknownStripeObject`` for a customer that names no user."""
    found = Customer.objects.select_related("user").filter(stripe_id=stripe_id).first()
    if found is not None:
        return found.user
    with transaction.atomic():
        locks.lock(stripe_id)
        found = Customer.objects.select_related("user").filter(stripe_id=stripe_id).first()
        if found is not None:
            return found.user
        data = as_data(get_client().v1.customers.retrieve(stripe_id))
        user = user_by_id((data.get("metadata") or {}).get(USER_KEY))
        if user is None:
            raise UnknownStripeObject(
                f"Stripe customer {stripe_id} belongs to no user of this site "
                f"(its metadata has no valid {USER_KEY}).",
                details={"customer": stripe_id},
            )
        other = customer_of(user)
        if other is not None:
            raise UnknownStripeObject(
                f"Stripe customer {stripe_id} names user {user.pk}, who is linked to "
                f"{other.stripe_id} already.",
                details={"customer": stripe_id, "linked": other.stripe_id},
            )
        return _link(user, stripe_id).user
