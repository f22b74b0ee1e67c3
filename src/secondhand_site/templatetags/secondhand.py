from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template
from django.conf import settings
from django.utils.http import urlencode

register = template.Library()

SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹"}


@register.filter
def money(value) -> str:
    """12.5 -> '€12.50' (or '12.50 CHF' for a currency without a known symbol)."""
    try:
        amount = Decimal(value).quantize(Decimal("0.01"))
    except (InvalidOperation, TypeError, ValueError):
        return ""
    text = f"{amount:,.2f}"
    symbol = SYMBOLS.get(settings.CURRENCY)
    return f"{symbol}{text}" if symbol else f"{text} {settings.CURRENCY}"


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current query string with some parameters replaced (None or '' removes one)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    return "?" + urlencode(sorted(params.lists()), doseq=True) if params else "?"


@register.filter
def media_url(name: str) -> str:
    """The URL of a stored file, wherever the storage keeps it (local folder or S3)."""
    from django.core.files.storage import default_storage

    return default_storage.url(name) if name else ""
