from __future__ import annotations

from django.urls import path

from tests.projects.asyncapp import views

urlpatterns = [
    path("users/<int:user_id>/runs", views.run_and_debit),
    path("users/<int:user_id>/balance", views.balance),
]
