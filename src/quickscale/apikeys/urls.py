"""The keys page; include it where signed-in people manage their account, e.g.
``path("users/api-keys/", include("quickscale.apikeys.urls"))``."""

from __future__ import annotations

from django.urls import path

from quickscale.apikeys import views

app_name = "quickscale_apikeys"

urlpatterns = [
    path("", views.key_list, name="list"),
    path("create/", views.create, name="create"),
    path("<str:key_id>/roll/", views.roll, name="roll"),
    path("<str:key_id>/revoke/", views.revoke, name="revoke"),
]
