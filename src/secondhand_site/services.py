"""Every state change of the platform, each in one transaction.

Views parse input, call one function here and render; the rules live here.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from secondhand_site.models import User


def export_member_data(*, member: User) -> dict[str, Any]:
    """Everything the platform holds about one member, as plain data."""
    return {
        "exported_at": timezone.now().isoformat(),
        "account": {
            "email": member.email,
            "first_name": member.first_name,
            "last_name": member.last_name,
            "date_joined": member.date_joined.isoformat(),
            "last_login": member.last_login.isoformat() if member.last_login else None,
            "is_owner": member.is_owner,
        },
        "email_addresses": [
            {"email": e.email, "verified": e.verified, "primary": e.primary}
            for e in member.emailaddress_set.order_by("email")
        ],
    }


@transaction.atomic
def delete_member(*, member: User) -> None:
    """Delete a member. History rows that must stay lose their link to the person."""
    member.delete()


def create_owner(*, email: str, password: str | None) -> tuple[User, bool]:
    """Create an owner account with a verified email, or promote an existing account.

    Raises ValidationError when the password is too weak.
    """
    from allauth.account.models import EmailAddress
    from django.contrib.auth.password_validation import validate_password

    email = email.strip().lower()
    with transaction.atomic():
        user = User.objects.filter(email__iexact=email).first()
        created = user is None
        if created:
            user = User(email=email)
        if password:
            validate_password(password, user)
            user.set_password(password)
        user.is_owner = True
        user.is_active = True
        user.save()
        EmailAddress.objects.update_or_create(
            user=user, email__iexact=email,
            defaults={"email": email, "verified": True, "primary": True},
        )
    return user, created
