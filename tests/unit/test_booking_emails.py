"""Booking mail: sent only after the change commits, never undoing or blocking it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction

from conftest import make_member
from secondhand_site import services
from secondhand_site.models import Booking, BookingState, Change, Item, Status


class ExplodingBackend(BaseEmailBackend):
    """A mail transport that is down."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("the mail server is down")


class Rollback(Exception):
    pass


@pytest.fixture
def item(db):
    return services.create_item(actor=None, name="Oak bookshelf", price=Decimal("25.00"))


@pytest.fixture
def owners(owner):
    return [owner, make_member("oscar.owner@example.com", owner=True)]


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run the on-commit callbacks of what happens inside, as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def to(address: str) -> list:
    return [m for m in mail.outbox if address in m.to]


def html_of(message) -> str:
    [(content, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return content


def test_booking_tells_the_member_and_every_owner(item, alice, owners, commit, settings):
    settings.SITE_URL = "https://secondhand.example.org"
    with commit():
        services.book(item=item, member=alice)

    link = f"https://secondhand.example.org/items/{item.pk}/"
    [to_alice] = to("alice@example.com")
    assert to_alice.subject == "[Secondhand] You booked Oak bookshelf"
    assert link in to_alice.body
    assert "https://secondhand.example.org/bookings/" in to_alice.body
    assert f'href="{link}"' in html_of(to_alice)
    for owner in owners:
        [to_owner] = to(owner.email)
        assert to_owner.subject == "[Secondhand] New booking: Oak bookshelf"
        assert "alice@example.com" in to_owner.body
        assert link in to_owner.body
        assert f'href="{link}"' in html_of(to_owner)
    assert len(mail.outbox) == 3


def test_nothing_is_sent_before_the_commit(item, alice, owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.book(item=item, member=alice)

        assert mail.outbox == []
    assert len(callbacks) == 2


def test_a_rolled_back_booking_sends_nothing(item, alice, owner, commit):
    with commit(), pytest.raises(Rollback), transaction.atomic():
        services.book(item=item, member=alice)
        raise Rollback

    assert mail.outbox == []
    assert not Booking.objects.exists()
    assert Item.objects.get(pk=item.pk).status == Status.AVAILABLE


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_booking_sends_nothing_with_real_transactions(alice, owner):
    item = services.create_item(actor=None, name="Oak bookshelf", price=Decimal("25.00"))

    with pytest.raises(Rollback), transaction.atomic():
        services.book(item=item, member=alice)
        raise Rollback

    assert mail.outbox == []
    assert not Booking.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_committed_booking_sends_with_real_transactions(alice, owner):
    item = services.create_item(actor=None, name="Oak bookshelf", price=Decimal("25.00"))

    services.book(item=item, member=alice)

    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com",
                                                     "olivia.owner@example.com"]


@pytest.mark.django_db(transaction=True)
def test_a_failing_mail_transport_does_not_undo_or_fail_the_booking(alice, owner, settings):
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.ExplodingBackend"}}
    item = services.create_item(actor=None, name="Oak bookshelf", price=Decimal("25.00"))

    booking = services.book(item=item, member=alice)

    assert Booking.objects.get(pk=booking.pk).is_active
    assert Item.objects.get(pk=item.pk).status == Status.BOOKED
    assert Change.objects.filter(item=item, action="booked").exists()


def test_a_failing_mail_transport_is_logged(item, alice, settings, commit, caplog):
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.ExplodingBackend"}}

    with commit():
        services.book(item=item, member=alice)

    assert "Could not send mail" in caplog.text
    assert Booking.objects.active().filter(item=item).exists()


def test_a_failing_mail_transport_does_not_fail_a_cancel(item, alice, settings, commit):
    booking = services.book(item=item, member=alice)
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.ExplodingBackend"}}

    with commit():
        services.cancel(booking=booking, member=alice)

    assert Booking.objects.get(pk=booking.pk).state == BookingState.CANCELLED


def test_cancel_tells_the_member_and_the_owners(item, alice, owners, commit):
    booking = services.book(item=item, member=alice)

    with commit():
        services.cancel(booking=booking, member=alice)

    assert [m.subject for m in to("alice@example.com")] == [
        "[Secondhand] Your booking of Oak bookshelf is cancelled"]
    for owner in owners:
        assert [m.subject for m in to(owner.email)] == [
            "[Secondhand] Booking cancelled: Oak bookshelf"]


def test_release_tells_the_member(item, owner, alice, commit):
    booking = services.book(item=item, member=alice)

    with commit():
        services.release(booking=booking, actor=owner)

    [message] = mail.outbox
    assert message.to == ["alice@example.com"]
    assert message.subject == "[Secondhand] Your hold on Oak bookshelf was ended by the owner"
    assert f"/items/{item.pk}/" in message.body
    assert f"/items/{item.pk}/" in html_of(message)


def test_the_promoted_member_gets_a_link_to_the_item(item, alice, bob, commit):
    booking = services.book(item=item, member=alice)
    services.join_queue(item=item, member=bob)

    with commit():
        services.cancel(booking=booking, member=alice)

    [message] = to("bob@example.com")
    assert "is yours to collect" in message.subject
    assert f"/items/{item.pk}/" in message.body


def test_an_inactive_owner_is_not_told(item, alice, owner, commit):
    owner.is_active = False
    owner.save()

    with commit():
        services.book(item=item, member=alice)

    assert to(owner.email) == []
