"""The test project served by uvicorn in ``tests/services/test_async_asgi.py``: the suite's
apps (so its database is the suite's test database), with the ``async def`` views of
``tests.projects.asyncapp`` and no middleware.

Run with ``DJANGO_SETTINGS_MODULE=tests.projects.asgi_project`` and
``uvicorn --factory django.core.asgi:get_asgi_application``.
"""

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS as SUITE_APPS

INSTALLED_APPS = [*SUITE_APPS, "tests.projects.asyncapp"]
ROOT_URLCONF = "tests.projects.asyncapp.urls"
MIDDLEWARE: list[str] = []
ALLOWED_HOSTS = ["127.0.0.1"]
