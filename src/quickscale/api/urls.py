"""The API's addresses. Include them at ``api/``, where the API key middleware looks::

path("api/", include("quickscale.api.urls")),
"""

from __future__ import annotations

from django.urls import path, re_path

from quickscale.api import views

app_name = "quickscale_api"

urlpatterns = [
    path("v1/credits/balance", views.balance, name="balance"),
    path("v1/credits/transactions", views.transactions, name="transactions"),
    path("v1/services", views.services, name="services"),
    path("v1/services/<slug:slug>/runs", views.create_run, name="create-run"),
    path("v1/runs", views.run_list, name="runs"),
    path("v1/runs/<str:run_id>", views.run_detail, name="run"),
    path("v1/usage", views.usage, name="usage"),
    path("v1/openapi.json", views.openapi_document, name="openapi"),
    path("docs/", views.docs, name="docs"),
    # Every other address of the API is a JSON 404. Other addresses under the prefix are left
    # to the host's own views, included after these; set ``handler404`` to
    # ``quickscale.api.views.page_not_found`` for a JSON 404 there too.
    re_path(r"^(?P<path>v1/[\s\S]*|v1|)$", views.not_found),
]
