"""The Sites framework's record of this site, kept equal to ``SITE_NAME`` and ``SITE_DOMAIN``.

django-allauth puts the site's name in the subject of every email ("[QuickScale] Please confirm
your email address") and its domain in their links, so a fresh database must not say
"example.com".
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.sites.models import Site


def sync_site(**kwargs: Any) -> None:
    """Write the configured name and domain to the current site (after every ``migrate``)."""
    Site.objects.update_or_create(
        pk=settings.SITE_ID,
        defaults={"name": settings.SITE_NAME, "domain": settings.SITE_DOMAIN},
    )
