"""Every app, with a host app's services (tests.hostapp) to run."""

from tests.projects.base import *  # noqa: F403
from tests.projects.base import DJANGO_APPS, KEY_MIDDLEWARE
from tests.settings import QUICKSCALE_APPS

INSTALLED_APPS = [*DJANGO_APPS, *QUICKSCALE_APPS, "tests.hostapp"]
# quickscale.api needs the key middleware (quickscale_api.E007).
MIDDLEWARE = KEY_MIDDLEWARE
