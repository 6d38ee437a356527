from tests.projects.base import *  # noqa: F403
from tests.projects.base import DJANGO_APPS
from tests.settings import QUICKSCALE_APPS

INSTALLED_APPS = [*DJANGO_APPS, *QUICKSCALE_APPS]
