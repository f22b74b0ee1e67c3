"""The owner role is checked here and only here."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied


def is_owner(user) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_owner)


def owner_required(view):
    """Anonymous visitors are sent to log in; members who are not owners get 403."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_owner(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper
