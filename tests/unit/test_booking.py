"""Booking rules: one hold per item, decided by the database; limits; cancel and release."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from conftest import make_member
from secondhand_site import services
from secondhand_site.models import Booking, BookingState, Change, Item, QueueEntry, Status


def make_item(name: str = "Oak bookshelf", price: str = "25.00") -> Item:
    return services.create_item(actor=None, name=name, price=Decimal(price))


@pytest.fixture
def item(db):
    return make_item()


def fresh(item: Item) -> Item:
    return Item.objects.get(pk=item.pk)


def test_booking_makes_the_item_booked_for_everyone(item, alice):
    booking = services.book(item=item, member=alice)

    assert fresh(item).status == Status.BOOKED
    assert booking.member == alice
    assert booking.is_active
    assert list(Booking.objects.active().filter(item=item)) == [booking]


def test_booking_sets_the_hold_period(item, alice, settings):
    settings.HOLD_DAYS = 5
    now = timezone.now()

    booking = services.book(item=item, member=alice, now=now)

    assert booking.created_at == now
    assert booking.expires_at == now + timezone.timedelta(days=5)


def test_booking_writes_who_booked_and_the_status_change(item, alice):
    services.book(item=item, member=alice)

    change = Change.objects.filter(item=item).first()
    assert change.action == "booked"
    assert change.actor == alice
    assert (change.from_status, change.to_status) == (Status.AVAILABLE, Status.BOOKED)


def test_booking_bumps_the_item_version(item, alice):
    services.book(item=item, member=alice)

    assert fresh(item).version == item.version + 1


def test_it_refuses_a_second_booking_and_changes_nothing(item, alice, bob):
    first = services.book(item=item, member=alice)
    changes = Change.objects.count()
    version = fresh(item).version

    with pytest.raises(services.ItemUnavailable, match="Oak bookshelf"):
        services.book(item=item, member=bob)

    assert list(Booking.objects.filter(item=item)) == [first]
    assert Change.objects.count() == changes
    assert fresh(item).version == version
    assert fresh(item).status == Status.BOOKED


def test_a_member_cannot_book_the_same_item_twice(item, alice):
    services.book(item=item, member=alice)

    with pytest.raises(services.ItemUnavailable, match="You hold Oak bookshelf already"):
        services.book(item=item, member=alice)
    assert Booking.objects.filter(item=item).count() == 1


def test_a_member_holds_at_most_the_limit(alice, settings):
    settings.MAX_ACTIVE_BOOKINGS = 2
    first, second, third = make_item("Lamp"), make_item("Kettle"), make_item("Rug")
    services.book(item=first, member=alice)
    services.book(item=second, member=alice)

    with pytest.raises(services.HoldLimitReached, match="2 items"):
        services.book(item=third, member=alice)

    assert fresh(third).status == Status.AVAILABLE
    assert Booking.objects.active().filter(member=alice).count() == 2


def test_the_limit_counts_only_active_holds(alice, settings):
    settings.MAX_ACTIVE_BOOKINGS = 2
    first, second, third = make_item("Lamp"), make_item("Kettle"), make_item("Rug")
    services.book(item=first, member=alice)
    held = services.book(item=second, member=alice)
    services.cancel(booking=held, member=alice)

    assert services.book(item=third, member=alice).is_active


def test_an_unverified_member_cannot_book_when_verification_is_mandatory(item, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    carol = make_member("carol@example.com", verified=False)

    with pytest.raises(services.NotVerified, match="Confirm your email"):
        services.book(item=item, member=carol)

    assert fresh(item).status == Status.AVAILABLE
    assert not Booking.objects.exists()


def test_an_unverified_member_can_book_when_verification_is_optional(item, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"
    carol = make_member("carol@example.com", verified=False)

    assert services.book(item=item, member=carol).is_active


def test_an_inactive_account_cannot_book(item):
    dora = make_member("dora@example.com", is_active=False)

    with pytest.raises(services.NotAllowed):
        services.book(item=item, member=dora)


def test_cancel_by_the_holder_makes_the_item_available_again(item, alice):
    booking = services.book(item=item, member=alice)

    assert services.cancel(booking=booking, member=alice) is None

    booking.refresh_from_db()
    assert booking.state == BookingState.CANCELLED
    assert booking.ended_at is not None
    assert fresh(item).status == Status.AVAILABLE
    assert [c.action for c in Change.objects.filter(item=item)][:2] == ["available", "cancelled"]
    cancelled = Change.objects.get(item=item, action="cancelled")
    assert cancelled.actor == alice


def test_cancel_hands_the_item_to_the_first_in_the_queue(item, alice, bob):
    booking = services.book(item=item, member=alice)
    services.join_queue(item=item, member=bob)

    successor = services.cancel(booking=booking, member=alice)

    assert successor.member == bob
    assert successor.from_queue
    assert fresh(item).status == Status.BOOKED
    assert not QueueEntry.objects.filter(item=item).exists()


def test_after_cancelling_someone_else_can_book(item, alice, bob):
    booking = services.book(item=item, member=alice)
    services.cancel(booking=booking, member=alice)

    assert services.book(item=item, member=bob).member == bob


def test_someone_else_cannot_cancel_a_booking(item, alice, bob):
    booking = services.book(item=item, member=alice)

    with pytest.raises(services.NotAllowed):
        services.cancel(booking=booking, member=bob)

    booking.refresh_from_db()
    assert booking.is_active
    assert fresh(item).status == Status.BOOKED


def test_cancelling_twice_is_refused(item, alice):
    booking = services.book(item=item, member=alice)
    services.cancel(booking=booking, member=alice)
    changes = Change.objects.count()

    with pytest.raises(services.DomainError, match="already ended"):
        services.cancel(booking=booking, member=alice)

    assert Change.objects.count() == changes
    assert fresh(item).status == Status.AVAILABLE


def test_cancelling_a_stale_copy_of_an_ended_booking_is_refused(item, alice, bob):
    booking = services.book(item=item, member=alice)
    stale = Booking.objects.get(pk=booking.pk)
    services.cancel(booking=booking, member=alice)
    services.book(item=item, member=bob)

    with pytest.raises(services.DomainError):
        services.cancel(booking=stale, member=alice)

    assert Booking.objects.active().get(item=item).member == bob
    assert fresh(item).status == Status.BOOKED


def test_the_owner_releases_a_hold(item, owner, alice):
    booking = services.book(item=item, member=alice)

    assert services.release(booking=booking, actor=owner) is None

    booking.refresh_from_db()
    assert booking.state == BookingState.RELEASED
    assert fresh(item).status == Status.AVAILABLE
    released = Change.objects.get(item=item, action="released")
    assert released.actor == owner
    assert "alice@example.com" in released.detail


def test_releasing_twice_is_refused(item, owner, alice):
    booking = services.book(item=item, member=alice)
    services.release(booking=booking, actor=owner)

    with pytest.raises(services.DomainError, match="already ended"):
        services.release(booking=booking, actor=owner)


def test_the_database_itself_refuses_a_second_active_booking(item, alice, bob):
    later = timezone.now() + timezone.timedelta(days=7)
    Booking.objects.create(item=item, member=alice, expires_at=later)

    with pytest.raises(IntegrityError), transaction.atomic():
        Booking.objects.create(item=item, member=bob, expires_at=later)

    assert Booking.objects.filter(item=item).count() == 1


def test_the_database_allows_many_ended_bookings_of_one_item(item, alice, bob):
    later = timezone.now() + timezone.timedelta(days=7)
    Booking.objects.create(item=item, member=alice, expires_at=later, state=BookingState.CANCELLED)
    Booking.objects.create(item=item, member=bob, expires_at=later, state=BookingState.EXPIRED)
    Booking.objects.create(item=item, member=alice, expires_at=later)

    assert Booking.objects.filter(item=item).count() == 3


def test_a_sold_item_cannot_be_booked(item, owner, alice):
    services.mark_sold(item=item, actor=owner)

    with pytest.raises(services.ItemUnavailable):
        services.book(item=item, member=alice)

    assert fresh(item).status == Status.SOLD
    assert not Booking.objects.exists()


def test_an_archived_item_cannot_be_booked(item, owner, alice):
    services.archive_item(item=item, actor=owner)

    with pytest.raises(services.ItemUnavailable):
        services.book(item=item, member=alice)

    assert fresh(item).status == Status.AVAILABLE
    assert not Booking.objects.exists()


def test_the_refusal_for_a_sold_item_says_so(item, owner, alice):
    services.mark_sold(item=item, actor=owner)

    with pytest.raises(services.ItemUnavailable, match="no longer available"):
        services.book(item=item, member=alice)

