"""Holds end by themselves: expiry with a frozen clock, reminders, reads, `secondhand sweep`.

The clock is frozen by passing `now=` to the services; pages read the real clock, so a
hold that should look overdue to them is booked in the past.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from click.testing import CliRunner
from django.core import mail
from django.db import connection
from django.utils import timezone

from secondhand_site import services
from secondhand_site.cli import cli
from secondhand_site.models import Booking, BookingState, Change, Item, Status

T0 = timezone.now().replace(microsecond=0) - timedelta(days=30)


@pytest.fixture(autouse=True)
def _seven_day_holds(settings):
    settings.HOLD_DAYS = 7


def make_item(name: str = "Oak bookshelf") -> Item:
    return services.create_item(actor=None, name=name, price=Decimal("25.00"))


@pytest.fixture
def item(db):
    return make_item()


def fresh(item: Item) -> Item:
    return Item.objects.get(pk=item.pk)


def after_the_hold(minutes: int = 1):
    return T0 + timedelta(days=7, minutes=minutes)


def test_an_overdue_hold_expires_and_the_item_is_available_again(item, alice):
    booking = services.book(item=item, member=alice, now=T0)

    assert services.expire_due(now=after_the_hold()) == 1

    booking.refresh_from_db()
    assert booking.state == BookingState.EXPIRED
    assert booking.ended_at == after_the_hold()
    assert fresh(item).status == Status.AVAILABLE
    expired = Change.objects.get(item=item, action="expired")
    assert expired.actor is None
    assert expired.from_status == Status.BOOKED
    assert "alice@example.com" in expired.detail


def test_an_overdue_hold_passes_to_the_queue_with_a_fresh_hold(item, alice, bob):
    services.book(item=item, member=alice, now=T0)
    services.join_queue(item=item, member=bob, now=T0 + timedelta(days=1))
    then = after_the_hold()

    services.expire_due(now=then)

    successor = Booking.objects.active().get(item=item)
    assert successor.member == bob
    assert successor.expires_at == then + timedelta(days=7)
    assert fresh(item).status == Status.BOOKED
    promoted = Change.objects.filter(item=item).first()
    assert (promoted.action, promoted.actor) == ("promoted", None)


def test_a_hold_that_is_not_yet_due_is_left_alone(item, alice):
    booking = services.book(item=item, member=alice, now=T0)
    changes = Change.objects.count()

    assert services.expire_due(now=after_the_hold(minutes=-1)) == 0

    booking.refresh_from_db()
    assert booking.is_active
    assert fresh(item).status == Status.BOOKED
    assert Change.objects.count() == changes


def test_the_hold_ends_exactly_at_its_time(item, alice):
    services.book(item=item, member=alice, now=T0)

    assert services.expire_due(now=T0 + timedelta(days=7)) == 1


def test_running_expiry_twice_ends_a_hold_once(item, alice):
    services.book(item=item, member=alice, now=T0)

    assert services.expire_due(now=after_the_hold()) == 1
    assert services.expire_due(now=after_the_hold(minutes=2)) == 0

    assert Change.objects.filter(action="expired").count() == 1
    assert Change.objects.filter(action="available").count() == 1


def test_expiry_tells_the_member(item, alice, django_capture_on_commit_callbacks):
    services.book(item=item, member=alice, now=T0)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        services.expire_due(now=after_the_hold())

    assert [m.subject for m in mail.outbox] == ["[Secondhand] Your hold on Oak bookshelf has ended"]


def test_booking_an_item_whose_hold_ran_out_ends_the_old_hold_first(item, alice, bob):
    old = services.book(item=item, member=alice, now=T0)

    new = services.book(item=item, member=bob, now=after_the_hold())

    old.refresh_from_db()
    assert old.state == BookingState.EXPIRED
    assert new.is_active and new.member == bob


def test_a_reminder_goes_out_once_a_day_before_the_hold_ends(
        item, alice, django_capture_on_commit_callbacks):
    services.book(item=item, member=alice, now=T0)
    mail.outbox.clear()
    a_day_before = T0 + timedelta(days=6, minutes=1)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.send_reminders(now=T0 + timedelta(days=5)) == 0
        assert services.send_reminders(now=a_day_before) == 1
        assert services.send_reminders(now=a_day_before + timedelta(hours=1)) == 0
        services.expire_due(now=a_day_before + timedelta(hours=2))

    assert [m.subject for m in mail.outbox] == [
        "[Secondhand] Your hold on Oak bookshelf ends tomorrow"]
    assert mail.outbox[0].to == ["alice@example.com"]
    assert Booking.objects.get(item=item).reminded_at == a_day_before


def test_no_reminder_for_a_hold_that_already_ended(item, alice):
    booking = services.book(item=item, member=alice, now=T0)
    services.cancel(booking=booking, member=alice, now=T0 + timedelta(days=1))

    assert services.send_reminders(now=T0 + timedelta(days=6, hours=1)) == 0


# --- Reads never show an overdue hold as active -------------------------------------------


@pytest.fixture
def overdue(item, alice, settings):
    """Alice's hold on the item, whose time ran out an hour ago by the real clock."""
    services.book(item=item, member=alice,
                  now=timezone.now() - timedelta(days=settings.HOLD_DAYS, hours=1))
    return item


def test_the_catalog_never_shows_an_overdue_hold(overdue, client):
    response = client.get("/")

    assert response.status_code == 200
    assert "Log in to book" in response.text
    assert fresh(overdue).status == Status.AVAILABLE
    assert Booking.objects.get(item=overdue).state == BookingState.EXPIRED


def test_the_item_page_never_shows_an_overdue_hold(overdue, bob, client):
    client.force_login(bob)

    response = client.get(f"/items/{overdue.pk}/")

    assert "Join queue" not in response.text
    assert ">Book<" in response.text
    assert Booking.objects.get(item=overdue).state == BookingState.EXPIRED


def test_my_bookings_never_show_an_overdue_hold(overdue, alice, client):
    client.force_login(alice)

    response = client.get("/bookings/")

    assert "Held until" not in response.text
    assert "Expired" in response.text


# --- Several sweepers at once ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_sweepers_at_once_end_a_hold_once(alice):
    item = make_item()
    services.book(item=item, member=alice, now=T0)
    barrier = threading.Barrier(2)
    ended: list[int] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            barrier.wait()
            ended.append(services.expire_due(now=after_the_hold()))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(ended) == [0, 1]
    assert Change.objects.filter(action="expired").count() == 1
    assert fresh(item).status == Status.AVAILABLE


# --- `secondhand sweep` ------------------------------------------------------------------------


def test_the_sweep_command_ends_overdue_holds_and_says_how_many(alice, bob, settings):
    long_ago = timezone.now() - timedelta(days=settings.HOLD_DAYS, hours=1)
    services.book(item=make_item("Lamp"), member=alice, now=long_ago)
    services.book(item=make_item("Kettle"), member=bob, now=long_ago)
    current = services.book(item=make_item("Rug"), member=alice)

    result = CliRunner().invoke(cli, ["sweep"])

    assert result.exit_code == 0, result.output
    assert "Ended 2 overdue holds." in result.output
    assert Booking.objects.filter(state=BookingState.EXPIRED).count() == 2
    current.refresh_from_db()
    assert current.is_active


def test_the_sweep_command_with_nothing_to_do(db):
    result = CliRunner().invoke(cli, ["sweep"])

    assert result.exit_code == 0, result.output
    assert "Ended 0 overdue holds." in result.output
