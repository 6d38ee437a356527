"""Pages anyone can see, signed in or not."""

from __future__ import annotations

from django.views.generic import TemplateView


class HomeView(TemplateView):
    template_name = "public/home.html"
