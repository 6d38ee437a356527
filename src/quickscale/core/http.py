"""One JSON error shape for every quickscale endpoint, and the client address.

``{"error": {"code": "...", "message": "...", "details": ...}}``, with the status of the
error's class. Views never build error bodies themselves.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse

from quickscale.core.errors import QuickScaleError


def error_response(
    error: QuickScaleError, *, status: int | None = None, headers: dict[str, str] | None = None
) -> JsonResponse:
    """The JSON response for ``error``: its body, its class's status unless ``status`` is
    given, ``Cache-Control: no-store`` and any extra ``headers``."""
    response = JsonResponse(error.as_dict(), status=status or error.status)
    response["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: the TCP peer, or, when the peer is a trusted proxy
    (``QUICKSCALE_CORE_TRUSTED_PROXIES``), the nearest untrusted address in X-Forwarded-For.
    An untrusted peer's X-Forwarded-For is ignored, so it cannot be spoofed."""
    peer = _address(request.META.get("REMOTE_ADDR"))
    if peer is None:
        return None
    trusted = [
        ipaddress.ip_network(n, strict=False) for n in settings.QUICKSCALE_CORE_TRUSTED_PROXIES
    ]
    if not any(peer in network for network in trusted):
        return str(peer)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for hop in reversed([part.strip() for part in forwarded.split(",") if part.strip()]):
        address = _address(hop)
        if address is None:
            return str(peer)  # a malformed chain: believe only what we saw
        if not any(address in network for network in trusted):
            return str(address)
    return str(peer)


def _address(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(str(value).strip())
    except ValueError:
        return None
