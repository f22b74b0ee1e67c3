"""Queues for booked items: places in line, the hand-over when a hold ends, the sale."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from conftest import make_member
from secondhand_site import services
from secondhand_site.models import Booking, BookingState, Change, Item, QueueEntry, Status


def make_item(name: str = "Oak bookshelf") -> Item:
    return services.create_item(actor=None, name=name, price=Decimal("25.00"))


@pytest.fixture
def item(db):
    return make_item()


@pytest.fixture
def booked(item, alice):
    """The item, held by Alice."""
    services.book(item=item, member=alice)
    return item


@pytest.fixture
def carol(db):
    return make_member("carol@example.com")


@pytest.fixture
def dave(db):
    return make_member("dave@example.com")


def fresh(item: Item) -> Item:
    return Item.objects.get(pk=item.pk)


def hold_of(item: Item) -> Booking:
    return Booking.objects.active().get(item=item)


def subjects_to(address: str) -> list[str]:
    return [m.subject for m in mail.outbox if address in m.to]


def test_members_queue_in_the_order_they_come(booked, bob, carol, dave):
    assert services.join_queue(item=booked, member=bob) == 1
    assert services.join_queue(item=booked, member=carol) == 2
    assert services.join_queue(item=booked, member=dave) == 3

    assert services.queue_place(item=booked, member=carol) == 2


def test_joining_writes_the_change_log(booked, bob):
    services.join_queue(item=booked, member=bob)

    change = Change.objects.filter(item=booked).first()
    assert (change.action, change.actor) == ("queued", bob)


def test_places_move_up_when_someone_leaves(booked, bob, carol, dave):
    for member in (bob, carol, dave):
        services.join_queue(item=booked, member=member)

    services.leave_queue(item=booked, member=bob)

    assert services.queue_place(item=booked, member=bob) is None
    assert services.queue_place(item=booked, member=carol) == 1
    assert services.queue_place(item=booked, member=dave) == 2
    assert Change.objects.filter(item=booked).first().action == "unqueued"


def test_leaving_a_queue_you_are_not_in_is_refused(booked, bob):
    with pytest.raises(services.QueueRefused):
        services.leave_queue(item=booked, member=bob)


def test_the_holder_cannot_queue_for_their_own_item(booked, alice):
    with pytest.raises(services.QueueRefused, match="hold this item"):
        services.join_queue(item=booked, member=alice)

    assert not QueueEntry.objects.exists()


def test_nobody_queues_twice(booked, bob):
    services.join_queue(item=booked, member=bob)

    with pytest.raises(services.QueueRefused, match="already"):
        services.join_queue(item=booked, member=bob)

    assert QueueEntry.objects.filter(item=booked).count() == 1


def test_queueing_for_an_available_item_is_refused(item, bob):
    with pytest.raises(services.QueueRefused, match="book it instead"):
        services.join_queue(item=item, member=bob)

    assert not QueueEntry.objects.exists()


def test_queueing_for_a_sold_item_is_refused(booked, owner, bob):
    services.mark_sold(item=booked, actor=owner)

    with pytest.raises(services.ItemUnavailable):
        services.join_queue(item=booked, member=bob)


def test_an_unverified_member_cannot_queue(booked):
    erin = make_member("erin@example.com", verified=False)

    with pytest.raises(services.NotVerified):
        services.join_queue(item=booked, member=erin)


def test_cancel_hands_the_item_to_the_first_in_line_with_a_fresh_hold(
        item, alice, bob, carol, settings):
    settings.HOLD_DAYS = 7
    t0 = timezone.now() - timedelta(days=3)
    held = services.book(item=item, member=alice, now=t0)
    services.join_queue(item=item, member=bob, now=t0 + timedelta(hours=1))
    services.join_queue(item=item, member=carol, now=t0 + timedelta(hours=2))
    now = t0 + timedelta(days=3)

    successor = services.cancel(booking=held, member=alice, now=now)

    assert successor == hold_of(item)
    assert successor.member == bob
    assert successor.from_queue
    assert successor.created_at == now
    assert successor.expires_at == now + timedelta(days=7)
    assert fresh(item).status == Status.BOOKED
    assert services.queue_place(item=item, member=bob) is None
    assert services.queue_place(item=item, member=carol) == 1
    promoted = Change.objects.filter(item=item).first()
    assert promoted.action == "promoted"
    assert "bob@example.com" in promoted.detail


def test_the_first_in_line_is_told_by_email(booked, alice, bob, django_capture_on_commit_callbacks):
    services.join_queue(item=booked, member=bob)
    with django_capture_on_commit_callbacks(execute=True):
        services.cancel(booking=hold_of(booked), member=alice)

    assert subjects_to("bob@example.com") == [
        "[Secondhand] Good news: Oak bookshelf is yours to collect"]


def test_release_hands_over_too(booked, owner, bob):
    services.join_queue(item=booked, member=bob)

    successor = services.release(booking=hold_of(booked), actor=owner)

    assert successor.member == bob
    assert Change.objects.filter(item=booked).first().actor == owner


def test_a_member_at_their_hold_limit_is_skipped_and_keeps_their_place(
        booked, alice, bob, carol, settings):
    settings.MAX_ACTIVE_BOOKINGS = 1
    services.join_queue(item=booked, member=bob)
    services.join_queue(item=booked, member=carol)
    services.book(item=make_item("Lamp"), member=bob)  # bob now holds his one allowed item

    successor = services.cancel(booking=hold_of(booked), member=alice)

    assert successor.member == carol
    assert services.queue_place(item=booked, member=bob) == 1


def test_when_nobody_in_line_may_take_it_it_becomes_available_and_the_queue_is_told(
        booked, alice, bob, settings, django_capture_on_commit_callbacks):
    settings.MAX_ACTIVE_BOOKINGS = 1
    services.join_queue(item=booked, member=bob)
    services.book(item=make_item("Lamp"), member=bob)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.cancel(booking=hold_of(booked), member=alice) is None

    assert fresh(booked).status == Status.AVAILABLE
    assert not QueueEntry.objects.filter(item=booked).exists()
    assert subjects_to("bob@example.com") == ["[Secondhand] Oak bookshelf is available again"]
    available = Change.objects.filter(item=booked).first()
    assert (available.action, available.from_status, available.to_status) == (
        "available", Status.BOOKED, Status.AVAILABLE)


def test_members_who_may_no_longer_book_leave_the_line(booked, alice, bob, carol):
    services.join_queue(item=booked, member=bob)
    services.join_queue(item=booked, member=carol)
    bob.is_active = False
    bob.save()

    successor = services.cancel(booking=hold_of(booked), member=alice)

    assert successor.member == carol
    assert not QueueEntry.objects.filter(item=booked).exists()


def test_mark_sold_ends_the_hold_as_a_sale_and_tells_the_queue(
        booked, owner, alice, bob, carol, django_capture_on_commit_callbacks):
    services.join_queue(item=booked, member=bob)
    services.join_queue(item=booked, member=carol)
    held = hold_of(booked)

    with django_capture_on_commit_callbacks(execute=True):
        services.mark_sold(item=booked, actor=owner)

    held.refresh_from_db()
    assert held.state == BookingState.SOLD
    assert held.ended_at is not None
    assert fresh(booked).status == Status.SOLD
    assert not QueueEntry.objects.filter(item=booked).exists()
    assert not Booking.objects.active().exists()
    assert subjects_to("bob@example.com") == ["[Secondhand] Oak bookshelf has been sold"]
    assert subjects_to("carol@example.com") == ["[Secondhand] Oak bookshelf has been sold"]
    assert subjects_to("alice@example.com") == [
        "[Secondhand] Oak bookshelf is marked as handed over to you"]
    sold = Change.objects.filter(item=booked).first()
    assert (sold.action, sold.actor, sold.from_status, sold.to_status) == (
        "sold", owner, Status.BOOKED, Status.SOLD)
    assert "alice@example.com" in sold.detail


def test_mark_sold_on_an_available_item(item, owner):
    services.mark_sold(item=item, actor=owner)

    assert fresh(item).status == Status.SOLD
    assert not Booking.objects.exists()


def test_mark_sold_twice_changes_nothing_more(booked, owner):
    services.mark_sold(item=booked, actor=owner)
    changes = Change.objects.count()

    services.mark_sold(item=booked, actor=owner)

    assert Change.objects.count() == changes


def test_each_viewer_sees_their_own_state(booked, alice, bob, carol):
    services.join_queue(item=booked, member=bob)
    services.join_queue(item=booked, member=carol)

    for_alice = services.viewer_states([booked], alice)[booked.pk]
    for_carol = services.viewer_states([booked], carol)[booked.pk]

    assert for_alice.holds and for_alice.booking_id == hold_of(booked).pk
    assert for_alice.queue_place is None
    assert not for_carol.holds
    assert (for_carol.queue_place, for_carol.queue_length) == (2, 2)
    assert services.viewer_states([booked], None) == {}
