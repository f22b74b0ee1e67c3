"""Races tested as races: threads behind a barrier, each on its own database connection,
on the SQLite file the suite uses (WAL, IMMEDIATE transactions) and, when DATABASE_URL
points at PostgreSQL, there. Then the database is asked what happened."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection

from conftest import make_member
from secondhand_site import services
from secondhand_site.models import Booking, Item, QueueEntry, Status

pytestmark = pytest.mark.django_db(transaction=True)


def race(jobs: list[Callable[[], object]]) -> list[object]:
    """Run every job at once, each in its own thread with its own connection; return what
    each returned or raised, in order."""
    barrier = threading.Barrier(len(jobs), timeout=30)
    outcomes: list[object] = [None] * len(jobs)

    def run(i: int) -> None:
        try:
            barrier.wait()
            outcomes[i] = jobs[i]()
        except BaseException as exc:  # noqa: BLE001 - every outcome is asserted on
            outcomes[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"
    return outcomes


def make_item(name: str = "Oak bookshelf") -> Item:
    return services.create_item(actor=None, name=name, price=Decimal("25.00"))


def test_the_race_runs_on_a_real_database_file_or_postgresql():
    if connection.vendor == "sqlite":
        name = str(connection.settings_dict["NAME"])
        assert "memory" not in name and name != ""
        assert Path(name).is_file()
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal"
    else:
        assert connection.vendor == "postgresql"


def test_twenty_members_booking_one_item_at_once_give_one_hold_and_nineteen_refusals():
    item = make_item()
    members = [make_member(f"member{i}@example.com") for i in range(20)]

    outcomes = race([lambda m=m: services.book(item=item, member=m) for m in members])

    bookings = [o for o in outcomes if isinstance(o, Booking)]
    refusals = [o for o in outcomes if isinstance(o, services.ItemUnavailable)]
    others = [o for o in outcomes if o not in bookings and o not in refusals]
    assert others == []
    assert len(bookings) == 1
    assert len(refusals) == 19
    assert all("just booked by someone else" in str(r) for r in refusals)
    [winner] = bookings
    assert list(Booking.objects.active().filter(item=item)) == [winner]
    assert Booking.objects.filter(item=item).count() == 1
    assert Item.objects.get(pk=item.pk).status == Status.BOOKED
    assert item.changes.filter(action="booked").count() == 1


def test_one_member_booking_five_items_at_once_gets_only_the_limit(settings):
    settings.MAX_ACTIVE_BOOKINGS = 3
    member = make_member("eager@example.com")
    items = [make_item(f"Item {i}") for i in range(5)]

    outcomes = race([lambda i=i: services.book(item=i, member=member) for i in items])

    bookings = [o for o in outcomes if isinstance(o, Booking)]
    refused = [o for o in outcomes if isinstance(o, services.HoldLimitReached)]
    assert len(bookings) == 3, outcomes
    assert len(refused) == 2, outcomes
    assert Booking.objects.active().filter(member=member).count() == 3
    assert Item.objects.filter(status=Status.BOOKED).count() == 3
    assert Item.objects.filter(status=Status.AVAILABLE).count() == 2


def test_ten_members_joining_a_queue_at_once_get_distinct_places_in_order():
    item = make_item()
    services.book(item=item, member=make_member("holder@example.com"))
    members = [make_member(f"waiter{i}@example.com") for i in range(10)]

    outcomes = race([lambda m=m: services.join_queue(item=item, member=m) for m in members])

    assert sorted(outcomes) == list(range(1, 11)), outcomes
    assert QueueEntry.objects.filter(item=item).count() == 10
    # The place each was told is the place each has.
    for member, place in zip(members, outcomes, strict=True):
        assert services.queue_place(item=item, member=member) == place


def test_a_hand_over_respects_a_hold_limit_reached_meanwhile(settings, monkeypatch):
    """Alice cancels while Carol, first in line, books her last allowed item: Carol must
    not end up over the limit, whichever commits first."""
    settings.MAX_ACTIVE_BOOKINGS = 2
    alice, carol = make_member("alice@example.com"), make_member("carol@example.com")
    wanted, other, last = make_item("Wanted"), make_item("Other"), make_item("Last")
    held = services.book(item=wanted, member=alice)
    services.book(item=other, member=carol)
    services.join_queue(item=wanted, member=carol)
    booked_last = threading.Event()
    log_change = services.bookings.log_change

    def slow_log_change(**kwargs):
        change = log_change(**kwargs)
        if kwargs["action"] == "booked" and kwargs["item"].pk == last.pk:
            # Carol's booking is written but not committed: give Alice's cancel time to
            # reach Carol in the queue before it commits.
            booked_last.set()
            time.sleep(0.5)
        return change

    monkeypatch.setattr(services.bookings, "log_change", slow_log_change)

    def cancel_once_carol_is_booking():
        assert booked_last.wait(10)
        return services.cancel(booking=held, member=alice)

    outcomes = race([lambda: services.book(item=last, member=carol),
                     cancel_once_carol_is_booking])

    assert not any(isinstance(o, BaseException) for o in outcomes), outcomes
    assert Booking.objects.active().filter(member=carol).count() == 2
    assert Item.objects.get(pk=wanted.pk).status == Status.AVAILABLE
