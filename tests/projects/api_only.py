"""The API and the apps it needs, with a host app's services (tests.hostapp) to run."""

from tests.projects.base import *  # noqa: F403
from tests.projects.base import DJANGO_APPS, KEY_MIDDLEWARE

INSTALLED_APPS = [
    *DJANGO_APPS,
    "quickscale.core",
    "quickscale.credits",
    "quickscale.services",
    "quickscale.apikeys",
    "quickscale.api",
    "tests.hostapp",
]
# quickscale.api needs the key middleware (quickscale_api.E007).
MIDDLEWARE = KEY_MIDDLEWARE
