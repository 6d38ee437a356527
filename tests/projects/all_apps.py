from tests.projects.base import *  # noqa: F403
from tests.projects.base import DJANGO_APPS
from tests.settings import QUICKSCALE_APPS

INSTALLED_APPS = [*DJANGO_APPS, *QUICKSCALE_APPS]
# quickscale.api needs the key middleware (quickscale_api.E007).
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "quickscale.apikeys.middleware.APIKeyAuthenticationMiddleware",
]
