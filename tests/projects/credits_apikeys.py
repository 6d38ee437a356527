"""The quickstart's combination (docs/quickstart.md): credits and API keys, with core for the
keys page's layout."""

from tests.projects.base import *  # noqa: F403
from tests.projects.base import DJANGO_APPS, KEY_MIDDLEWARE

INSTALLED_APPS = [
    *DJANGO_APPS,
    "quickscale.core",
    "quickscale.credits",
    "quickscale.apikeys",
]
# The API key middleware, as the apps' docs install it.
MIDDLEWARE = KEY_MIDDLEWARE
