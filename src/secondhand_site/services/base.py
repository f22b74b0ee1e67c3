"""What every service shares: the domain errors and the change log."""

from __future__ import annotations

from django.db import connection

from secondhand_site.models import Change, Item, User

# PostgreSQL: every change-log row is announced on this channel, delivered on commit.
NOTIFY_CHANNEL = "secondhand_changes"


class DomainError(Exception):
    """A rule of the platform refused the change; str() is the message for a person."""


class EditConflict(DomainError):
    def __init__(self, item: Item | None) -> None:
        self.item = item
        super().__init__(
            "Someone else changed this item while you were editing it. "
            "The current version is shown; make your change again."
            if item is not None else "This item no longer exists."
        )


class ItemUnavailable(DomainError):
    pass


class NotAllowed(DomainError):
    """The thing belongs to someone else (a view answers 403 or 404)."""


def log_change(*, item: Item | None, actor: User | None, action: str,
               from_status: str = "", to_status: str = "", detail: str = "") -> Change:
    change = Change.objects.create(
        item=item, item_name=item.name if item else "", actor=actor, action=action,
        from_status=from_status, to_status=to_status, detail=detail[:500],
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, str(change.pk)])
    return change


# PostgreSQL aborts one of two transactions that wait on each other (deadlock) or that
# cannot be serialised; both are safe to run again from the start.
RETRYABLE_PGCODES = {"40P01", "40001"}


def retry_on_conflict(func):
    """Run a service again (up to three times) when the database aborted it for a
    deadlock, so a rare clash of two bookings is never an error for the member."""
    import functools
    import time

    from django.db import OperationalError, transaction

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        for attempt in range(3):
            try:
                return func(*args, **kwargs)
            except OperationalError as exc:
                code = getattr(getattr(exc, "__cause__", None), "sqlstate", None)
                if (code not in RETRYABLE_PGCODES or attempt == 2
                        or transaction.get_connection().in_atomic_block):
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    return wrapper
