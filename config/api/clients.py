"""Who is calling: the client's IP address, as every public endpoint (OTP, SNS webhook, sign-up forms) reads it."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The caller's address: X-Forwarded-For's first hop only behind a trusted proxy (SESAME_BEHIND_PROXY); None
    for a unix socket or a forged header."""
    candidate = str(request.META.get("REMOTE_ADDR") or "")
    if settings.SECURE_PROXY_SSL_HEADER and request.META.get("HTTP_X_FORWARDED_FOR"):
        candidate = str(request.META["HTTP_X_FORWARDED_FOR"]).split(",")[0].strip()
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None
