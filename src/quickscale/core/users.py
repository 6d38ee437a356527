"""Finding users the way operators name them, whatever the host's user model.

Shared by the apps' management commands and admin pages, so ``credits grant ada@example.com``
and ``apikeys create ada@example.com`` accept the same names.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.management.base import CommandError

USER_HELP = "The user: an id, an email address or a username."


def find_user(text: str) -> Any:
    """The user whose id, ``USERNAME_FIELD`` or email (in that order) is ``text``, or a
    ``CommandError`` that says why there is none."""
    user_model = get_user_model()
    try:
        pk = user_model._meta.pk.to_python(text)
    except (ValidationError, ValueError, TypeError):
        pk = None
    if pk is not None and (user := user_model._default_manager.filter(pk=pk).first()):
        return user
    by_name = {user_model.USERNAME_FIELD: text}
    if user := user_model._default_manager.filter(**by_name).first():
        return user
    email = user_model.get_email_field_name()
    if any(field.name == email for field in user_model._meta.get_fields()):
        users = list(user_model._default_manager.filter(**{f"{email}__iexact": text})[:2])
        if len(users) > 1:
            raise CommandError(f"Several users have the email {text!r}: give the user id instead.")
        if users:
            return users[0]
    raise CommandError(f"No user has the id, email or username {text!r}.")


def owner_search_fields(prefix: str, lookup: str = "") -> list[str]:
    """Admin search fields for the owner's email and ``USERNAME_FIELD``, whatever the user
    model."""
    user_model = get_user_model()
    names: list[str] = []
    for name in (user_model.get_email_field_name(), user_model.USERNAME_FIELD):
        try:
            user_model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if name not in names:
            names.append(name)
    return [f"{lookup}{prefix}__{name}" for name in names]
