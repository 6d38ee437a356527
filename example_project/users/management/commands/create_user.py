"""``manage.py create_user``: a user who can log in at once, for a deployment's first staff
member, a demo or a test (``createsuperuser`` makes only superusers and verifies no address)."""

from __future__ import annotations

import getpass
from typing import Any

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.db import transaction


class Command(BaseCommand):
    help = (
        "Create a user with an email address and a password, optionally staff. The address is "
        "verified unless --unverified is given, so the user can log in where verification is "
        "mandatory."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", help="The user's email address (their login).")
        parser.add_argument(
            "--password",
            help="The password; without it the command asks for one (twice).",
        )
        parser.add_argument("--staff", action="store_true", help="May open the staff pages.")
        parser.add_argument("--superuser", action="store_true", help="Staff with every permission.")
        parser.add_argument(
            "--unverified",
            action="store_true",
            help="Leave the address unverified (the user is asked to confirm it).",
        )

    def handle(
        self,
        *args: Any,
        email: str,
        password: str | None,
        staff: bool,
        superuser: bool,
        unverified: bool,
        **options: Any,
    ) -> None:
        model = get_user_model()
        manager = model._default_manager
        email = manager.normalize_email(email.strip())
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"{email!r} is not an email address.") from None
        if manager.filter(email__iexact=email).exists():
            raise CommandError(f"A user with the address {email} exists already.")
        if password is None:
            password = self._ask_password()
        candidate = model(email=email)
        try:
            password_validation.validate_password(password, candidate)
        except ValidationError as error:
            raise CommandError("The password is refused: " + " ".join(error.messages)) from None
        with transaction.atomic():
            if superuser:
                user = manager.create_superuser(email, password)
            else:
                user = manager.create_user(email, password, is_staff=staff)
            EmailAddress.objects.create(
                user=user, email=email, primary=True, verified=not unverified
            )
        role = "superuser" if superuser else "staff member" if staff else "user"
        self.stdout.write(f"Created the {role} {email} (id {user.pk}).")

    def _ask_password(self) -> str:
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise CommandError("The passwords do not match.")
        return first
