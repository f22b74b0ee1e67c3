"""Booking, queues, holds that end by themselves, and the sale.

The database decides every race: booking is a conditional UPDATE on the item's status
whose row count says who won, and a conditional unique constraint allows one active
booking per item. `select_for_update()` is only an extra on PostgreSQL; on SQLite every
write transaction is IMMEDIATE, so writers queue up whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from secondhand_site import emails
from secondhand_site.models import Booking, BookingState, Item, QueueEntry, Status, User
from secondhand_site.services.base import (
    DomainError,
    ItemUnavailable,
    NotAllowed,
    log_change,
    retry_on_conflict,
)


class NotVerified(DomainError):
    pass


class HoldLimitReached(DomainError):
    pass


class QueueRefused(DomainError):
    pass


def hold_period() -> timedelta:
    return timedelta(days=settings.HOLD_DAYS)


def is_verified(member: User) -> bool:
    if settings.ACCOUNT_EMAIL_VERIFICATION != "mandatory":
        return True
    return member.emailaddress_set.filter(verified=True).exists()


def _require_member(member: User) -> None:
    if not member.is_authenticated or not member.is_active:
        raise NotAllowed("Log in to do that.")
    if not is_verified(member):
        raise NotVerified("Confirm your email address first: follow the link in the mail we sent.")


def _lock_member(member: User) -> None:
    # Serialises one member's own bookings on PostgreSQL (the hold limit must hold under
    # concurrent requests); SQLite's IMMEDIATE transactions do that already.
    list(User.objects.select_for_update().filter(pk=member.pk).values_list("pk"))


def _set_item(item_id: int, now: datetime, **fields) -> int:
    return Item.objects.filter(pk=item_id).update(version=F("version") + 1, updated_at=now,
                                                 **fields)


# --- Booking and cancelling ------------------------------------------------------------


@retry_on_conflict
def book(*, item: Item, member: User, now: datetime | None = None) -> Booking:
    """Book an available item for `member`. Raises ItemUnavailable if someone was faster."""
    now = now or timezone.now()
    _require_member(member)
    with transaction.atomic():
        _lock_member(member)
        _expire_item_if_due(item.pk, now)
        if Booking.objects.active().filter(member=member).count() >= settings.MAX_ACTIVE_BOOKINGS:
            limit = settings.MAX_ACTIVE_BOOKINGS
            raise HoldLimitReached(
                f"You already hold {limit} item{'s' if limit != 1 else ''}, the most one "
                "member may hold at once. Cancel one of your bookings first.")
        won = Item.objects.filter(pk=item.pk, status=Status.AVAILABLE, archived=False).update(
            status=Status.BOOKED, version=F("version") + 1, updated_at=now)
        if not won:
            raise _unavailable(item.pk, member)
        try:
            with transaction.atomic():
                booking = Booking.objects.create(item_id=item.pk, member=member,
                                                 created_at=now, expires_at=now + hold_period())
        except IntegrityError:  # the constraint is the last word on one active booking
            raise ItemUnavailable(f"Sorry, {item.name} was just booked by someone else.") from None
        QueueEntry.objects.filter(item_id=item.pk, member=member).delete()
        item = Item.objects.get(pk=item.pk)
        log_change(item=item, actor=member, action="booked", from_status=Status.AVAILABLE,
                   to_status=Status.BOOKED,
                   detail=f"held until {booking.expires_at:%Y-%m-%d %H:%M}")
        emails.notify_booking("booked", booking)
        emails.notify_owners("owner_booked", booking)
    return booking


def _unavailable(item_id: int, member: User) -> ItemUnavailable:
    """Why booking lost: a second click, someone was faster, or the item is gone."""
    item = Item.objects.get(pk=item_id)
    if item.status == Status.BOOKED and not item.archived:
        if Booking.objects.active().filter(item=item, member=member).exists():
            return ItemUnavailable(f"You hold {item.name} already.")
        return ItemUnavailable(f"Sorry, {item.name} was just booked by someone else.")
    return ItemUnavailable(f"Sorry, {item.name} is no longer available.")


def _end(booking: Booking, *, state: str, now: datetime, **conditions) -> bool:
    """End an active booking; False if it had already ended (someone else did it)."""
    return bool(Booking.objects.filter(pk=booking.pk, state=BookingState.ACTIVE, **conditions)
                .update(state=state, ended_at=now))


@retry_on_conflict
def cancel(*, booking: Booking, member: User, now: datetime | None = None) -> Booking | None:
    """The member gives up their hold. Returns the next member's booking, if any."""
    now = now or timezone.now()
    if booking.member_id != member.pk:
        raise NotAllowed("That is not your booking.")
    with transaction.atomic():
        if not _end(booking, state=BookingState.CANCELLED, now=now, member=member):
            raise DomainError("This booking has already ended.")
        booking.refresh_from_db()
        log_change(item=booking.item, actor=member, action="cancelled",
                   from_status=Status.BOOKED, detail="by the member")
        emails.notify_booking("cancelled", booking)
        emails.notify_owners("owner_cancelled", booking)
        return _hand_over(booking.item, actor=member, now=now)


@retry_on_conflict
def release(*, booking: Booking, actor: User, now: datetime | None = None) -> Booking | None:
    """The owner ends a hold. Returns the next member's booking, if any."""
    now = now or timezone.now()
    with transaction.atomic():
        if not _end(booking, state=BookingState.RELEASED, now=now):
            raise DomainError("This booking has already ended.")
        booking.refresh_from_db()
        log_change(item=booking.item, actor=actor, action="released",
                   from_status=Status.BOOKED, detail=f"hold of {_who(booking)} ended by the owner")
        emails.notify_booking("released", booking)
        return _hand_over(booking.item, actor=actor, now=now)


def _who(booking: Booking) -> str:
    return booking.member.email if booking.member else "a deleted member"


def _hand_over(item: Item, *, actor: User | None, now: datetime) -> Booking | None:
    """Give a freed item to the first member in its queue who may hold it, or make it
    available again. Runs inside the transaction that ended the previous hold."""
    item = Item.objects.get(pk=item.pk)
    for entry in QueueEntry.objects.filter(item=item).select_related("member"):
        member = entry.member
        if not member.is_active or not is_verified(member):
            entry.delete()
            continue
        # Counted under the member's lock, as book() does: a booking of theirs in flight
        # (PostgreSQL) is waited for and counted, so the hand-over never exceeds the limit.
        _lock_member(member)
        if Booking.objects.active().filter(member=member).count() >= settings.MAX_ACTIVE_BOOKINGS:
            continue  # keeps their place; the next in line gets it this time
        entry.delete()
        booking = Booking.objects.create(item=item, member=member, from_queue=True,
                                         created_at=now, expires_at=now + hold_period())
        _set_item(item.pk, now)
        log_change(item=item, actor=actor, action="promoted", from_status=Status.BOOKED,
                   to_status=Status.BOOKED, detail=f"{member.email} is next in line and holds it")
        emails.notify_booking("promoted", booking)
        return booking
    _set_item(item.pk, now, status=Status.AVAILABLE)
    log_change(item=item, actor=actor, action="available", from_status=Status.BOOKED,
               to_status=Status.AVAILABLE)
    for entry in QueueEntry.objects.filter(item=item).select_related("member"):
        emails.notify_member("available_again", entry.member, item)
        entry.delete()
    return None


# --- Expiry ----------------------------------------------------------------------------


def expire_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """End every hold whose time is up. Safe to run in several processes at once: each
    hold is ended by a conditional UPDATE, so exactly one of them does it."""
    now = now or timezone.now()
    ended = 0
    due = Booking.objects.overdue(now).order_by("expires_at").values_list("pk", flat=True)
    for pk in due[:limit]:
        ended += _expire_one(pk, now)
    send_reminders(now=now)
    return ended


@retry_on_conflict
def _expire_one(pk: int, now: datetime) -> int:
    with transaction.atomic():
        booking = Booking.objects.filter(pk=pk).select_related("item", "member").first()
        if booking is None or not _end(booking, state=BookingState.EXPIRED, now=now,
                                       expires_at__lte=now):
            return 0
        log_change(item=booking.item, actor=None, action="expired", from_status=Status.BOOKED,
                   detail=f"hold of {_who(booking)} ran out")
        emails.notify_booking("expired", booking)
        _hand_over(booking.item, actor=None, now=now)
    return 1


def _expire_item_if_due(item_id: int, now: datetime) -> None:
    overdue = Booking.objects.overdue(now).filter(item_id=item_id).values_list("pk", flat=True)
    for pk in overdue:
        _expire_one(pk, now)


def sweep_if_due(*, now: datetime | None = None) -> None:
    """Called before pages show booking state, so an overdue hold never looks active,
    even between two runs of the periodic sweep."""
    now = now or timezone.now()
    if Booking.objects.overdue(now).exists():
        expire_due(now=now)


def send_reminders(*, now: datetime | None = None) -> int:
    """Remind each holder once, a day before their hold ends."""
    now = now or timezone.now()
    due = Booking.objects.active().filter(reminded_at__isnull=True,
                                          expires_at__lte=now + timedelta(days=1),
                                          expires_at__gt=now)
    sent = 0
    for booking in due.select_related("item", "member"):
        with transaction.atomic():
            if Booking.objects.filter(pk=booking.pk, reminded_at__isnull=True).update(
                    reminded_at=now):
                emails.notify_booking("reminder", booking)
                sent += 1
    return sent


# --- Queues -----------------------------------------------------------------------------


@retry_on_conflict
def join_queue(*, item: Item, member: User, now: datetime | None = None) -> int:
    """Queue for a booked item; returns the member's place in line (1 = next)."""
    _require_member(member)
    with transaction.atomic():
        _expire_item_if_due(item.pk, now or timezone.now())
        # Joins of one item take turns (the row lock on PostgreSQL, IMMEDIATE transactions
        # on SQLite) and read the clock only once it is their turn, so the line is in the
        # order of the joins and the place each member is told is the place they have.
        item = Item.objects.select_for_update().get(pk=item.pk)
        now = now or timezone.now()
        if item.archived or item.status == Status.SOLD:
            raise ItemUnavailable(f"{item.name} is no longer available.")
        if item.status == Status.AVAILABLE:
            raise QueueRefused(f"{item.name} is available: book it instead of queueing.")
        if Booking.objects.active().filter(item=item, member=member).exists():
            raise QueueRefused("You hold this item already.")
        try:
            with transaction.atomic():
                QueueEntry.objects.create(item=item, member=member, created_at=now)
        except IntegrityError:
            raise QueueRefused("You are in the queue for this item already.") from None
        log_change(item=item, actor=member, action="queued", from_status=item.status,
                   to_status=item.status)
        return queue_place(item=item, member=member)


@retry_on_conflict
def leave_queue(*, item: Item, member: User) -> None:
    with transaction.atomic():
        deleted, _ = QueueEntry.objects.filter(item=item, member=member).delete()
        if not deleted:
            raise QueueRefused("You are not in the queue for this item.")
        log_change(item=item, actor=member, action="unqueued", from_status=item.status,
                   to_status=item.status)


def queue_place(*, item: Item, member: User) -> int | None:
    entry = QueueEntry.objects.filter(item=item, member=member).first()
    return _places([entry])[item.pk] if entry else None


def _places(entries) -> dict[int, int]:
    """Place in line (1 = next) of each given entry, in one query."""
    entries = list(entries)
    if not entries:
        return {}
    line: dict[int, list[int]] = {}
    for item_id, pk in QueueEntry.objects.filter(item_id__in={e.item_id for e in entries}
                                                 ).order_by("created_at", "pk"
                                                 ).values_list("item_id", "pk"):
        line.setdefault(item_id, []).append(pk)
    return {e.item_id: line[e.item_id].index(e.pk) + 1 for e in entries}


# --- The sale ------------------------------------------------------------------------------


@retry_on_conflict
def mark_sold(*, item: Item, actor: User | None, now: datetime | None = None) -> Item:
    """The owner handed the item over: the hold ends as a sale and the queue is told."""
    now = now or timezone.now()
    with transaction.atomic():
        item = Item.objects.select_for_update().get(pk=item.pk)
        if item.status == Status.SOLD:
            return item
        previous = item.status
        holder = Booking.objects.active().filter(item=item).select_related("member").first()
        if holder is not None:
            _end(holder, state=BookingState.SOLD, now=now)
            holder.refresh_from_db()
            emails.notify_booking("sold", holder)
        _set_item(item.pk, now, status=Status.SOLD)
        item.refresh_from_db()
        for entry in QueueEntry.objects.filter(item=item).select_related("member"):
            emails.notify_member("gone", entry.member, item)
            entry.delete()
        log_change(item=item, actor=actor, action="sold", from_status=previous,
                   to_status=Status.SOLD,
                   detail=f"handed over to {_who(holder)}" if holder else "")
    return item


# --- Reading what a member sees --------------------------------------------------------------


@dataclass(frozen=True)
class ViewerState:
    """What one viewer may do with one item."""

    holds: bool = False
    booking_id: int | None = None
    expires_at: datetime | None = None
    queue_place: int | None = None
    queue_length: int = 0


def viewer_states(items, member: User | None) -> dict[int, ViewerState]:
    """Each item's state for this viewer, in a constant number of queries."""
    ids = [item.pk for item in items]
    if not ids or member is None or not member.is_authenticated:
        return {}
    from django.db.models import Count

    held = {b.item_id: b for b in Booking.objects.active().filter(item_id__in=ids, member=member)}
    mine = {e.item_id: e for e in QueueEntry.objects.filter(item_id__in=ids, member=member)}
    lengths = dict(QueueEntry.objects.filter(item_id__in=ids).values_list("item_id")
                   .annotate(n=Count("pk")).values_list("item_id", "n"))
    places = _places(mine.values())
    return {
        item_id: ViewerState(
            holds=item_id in held,
            booking_id=held[item_id].pk if item_id in held else None,
            expires_at=held[item_id].expires_at if item_id in held else None,
            queue_place=places.get(item_id),
            queue_length=lengths.get(item_id, 0),
        )
        for item_id in ids
    }
