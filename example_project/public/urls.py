from __future__ import annotations

from django.urls import path

from public import views

app_name = "public"

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
]
