"""Demo data for `secondhand seed`."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from secondhand_site.models import User

DEMO_PASSWORD = "demo-secondhand-2026"
DEMO_MEMBERS = [
    ("alice@example.com", "Alice", "Martin"),
    ("bob@example.com", "Bob", "Keller"),
    ("carol@example.com", "Carol", "Nguyen"),
]


def seed_members() -> list[User]:
    from allauth.account.models import EmailAddress

    members = []
    with transaction.atomic():
        for email, first, last in DEMO_MEMBERS:
            user, created = User.objects.get_or_create(
                email=email, defaults={"first_name": first, "last_name": last}
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
            EmailAddress.objects.get_or_create(
                user=user, email=email, defaults={"verified": True, "primary": True}
            )
            members.append(user)
    return members


def run(*, items: int, echo: Callable[[str], object] = print) -> None:
    members = seed_members()
    echo(f"Demo members ready ({len(members)}), password {DEMO_PASSWORD!r}: "
         + ", ".join(m.email for m in members))
