from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, object]:
    return {
        "site_name": settings.SITE_NAME,
        "currency": settings.CURRENCY,
        "hold_days": settings.HOLD_DAYS,
    }
