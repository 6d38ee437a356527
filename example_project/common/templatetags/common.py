"""``{% load common %}``: the navigation of the site's areas."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

register = template.Library()


@register.simple_tag(takes_context=True)
def nav_item(context: template.Context, url_name: str, label: str) -> str:
    """One link of an area's navigation, marked as the current page when it is (or when the
    current page is below it, e.g. a run below "Runs")."""
    try:
        url = reverse(url_name)
    except NoReverseMatch:
        return ""
    request = context.get("request")
    path = getattr(request, "path", "")
    home = url.rstrip("/").count("/") <= 1  # an area's own root is current only on itself
    current = path == url or (not home and path.startswith(url))
    return format_html(
        '<li><a href="{}"{}>{}</a></li>', url, ' aria-current="page"' if current else "", label
    )


@register.simple_tag
def project_info() -> Any:
    """The project (name, features) for a page rendered without the context processors (the
    500 and 503 pages, which must not touch the database): settings only."""
    from common.context_processors import current_project

    return current_project()
