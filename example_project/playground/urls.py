from __future__ import annotations

from django.urls import path

from playground import views

app_name = "playground"

urlpatterns = [
    path("", views.catalog, name="catalog"),
    path("<slug:slug>/", views.service, name="service"),
]
