"""The test URLs with the API's ``handler404``, as a host with views of its own under ``/api/``
sets it."""

from __future__ import annotations

from tests.urls import urlpatterns

__all__ = ["handler404", "urlpatterns"]

handler404 = "quickscale.api.views.page_not_found"
