"""Every app with pages, without quickscale.core (whose layout they extend)."""

from tests.projects.base import *  # noqa: F403
from tests.projects.base import DJANGO_APPS, KEY_MIDDLEWARE

INSTALLED_APPS = [
    *DJANGO_APPS,
    "quickscale.credits",
    "quickscale.services",
    "quickscale.apikeys",
    "quickscale.billing",
    "quickscale.audit",
    "quickscale.api",
]
# quickscale.api needs the key middleware (quickscale_api.E007).
MIDDLEWARE = KEY_MIDDLEWARE
