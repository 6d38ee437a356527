"""Every app in a project without django.contrib.admin: every module still imports."""

from tests.projects.base import *  # noqa: F403
from tests.projects.base import DJANGO_BASE_APPS, KEY_MIDDLEWARE
from tests.settings import QUICKSCALE_APPS

INSTALLED_APPS = [*DJANGO_BASE_APPS, *QUICKSCALE_APPS, "tests.hostapp"]
# quickscale.api needs the key middleware (quickscale_api.E007).
MIDDLEWARE = KEY_MIDDLEWARE
