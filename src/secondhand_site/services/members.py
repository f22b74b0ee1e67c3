"""Members' accounts: export, deletion, and owner accounts from the command line."""

from __future__ import annotations

import contextlib
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
        "bookings": [
            {"item": b.item.name, "item_id": b.item_id, "state": b.state,
             "booked_at": b.created_at.isoformat(), "hold_until": b.expires_at.isoformat(),
             "ended_at": b.ended_at.isoformat() if b.ended_at else None,
             "from_queue": b.from_queue}
            for b in member.bookings.select_related("item").order_by("created_at")
        ],
        "queue_places": [
            {"item": e.item.name, "item_id": e.item_id, "joined_at": e.created_at.isoformat()}
            for e in member.queue_entries.select_related("item").order_by("created_at")
        ],
    }


def delete_member(*, member: User) -> None:
    """Delete a member. Their holds end first (passing items on to the next in line);
    the booking history and change log stay, no longer pointing at the person."""
    from secondhand_site.models import Booking
    from secondhand_site.services import bookings
    from secondhand_site.services.base import DomainError

    for booking in Booking.objects.active().filter(member=member).select_related("item"):
        # A hold that ended meanwhile (the sweeper, the owner) has been passed on already.
        with contextlib.suppress(DomainError):
            bookings.cancel(booking=booking, member=member)
    with transaction.atomic():
        member.queue_entries.all().delete()
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
