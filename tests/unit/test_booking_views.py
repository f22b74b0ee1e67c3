"""Booking over HTTP: plain form posts get 303 and a flash message, htmx gets fragments,
a lost race gets 409, someone else's things are not found, owners manage holds."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import dateformat, timezone

from secondhand_site import services
from secondhand_site.models import Booking, BookingState, Item, QueueEntry, Status, User


@pytest.fixture
def item(db):
    return services.create_item(actor=None, name="Oak bookshelf", price=Decimal("25.00"))


@pytest.fixture
def bob_client(bob):
    client = Client()
    client.force_login(bob)
    return client


@pytest.fixture
def held_by_bob(item, bob):
    services.book(item=item, member=bob)
    return item


def htmx(target: str) -> dict[str, str]:
    return {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": target}


def status_of(item: Item) -> str:
    return Item.objects.get(pk=item.pk).status


def flashed(client, response) -> str:
    """The page the redirect leads to, where the flash message shows."""
    assert response.status_code == 303
    return client.get(response["Location"]).text


def as_attribute(moment) -> str:
    return dateformat.format(timezone.localtime(moment), "c")


def is_fragment(response) -> bool:
    return "<html" not in response.text and "<body" not in response.text


# --- Booking -------------------------------------------------------------------------------


def test_booking_without_javascript_redirects_back_with_a_message(alice_client, alice, item):
    response = alice_client.post(f"/items/{item.pk}/book/")

    assert response.status_code == 303
    assert response["Location"] == f"/items/{item.pk}/"
    assert "You booked Oak bookshelf. It is held for you until" in flashed(alice_client, response)
    assert Booking.objects.active().get(item=item).member == alice


def test_booking_returns_to_a_local_next_page_only(alice_client, item):
    response = alice_client.post(f"/items/{item.pk}/book/", {"next": "/?q=oak"})
    assert response["Location"] == "/?q=oak"


def test_booking_never_redirects_off_site(alice_client, item):
    response = alice_client.post(f"/items/{item.pk}/book/", {"next": "https://evil.example/"})
    assert response["Location"] == f"/items/{item.pk}/"


def test_booking_with_htmx_returns_the_refreshed_card_and_the_message(alice_client, item):
    response = alice_client.post(f"/items/{item.pk}/book/", **htmx(f"item-card-{item.pk}"))

    assert response.status_code == 200
    assert is_fragment(response)
    assert f'id="item-card-{item.pk}"' in response.text
    assert "Cancel my booking" in response.text
    assert "Held for you until" in response.text
    assert 'id="messages"' in response.text
    assert 'hx-swap-oob="true"' in response.text
    assert "You booked Oak bookshelf" in response.text
    assert status_of(item) == Status.BOOKED


def test_booking_from_the_item_page_returns_the_panel(alice_client, item):
    response = alice_client.post(f"/items/{item.pk}/book/", **htmx(f"item-panel-{item.pk}"))

    assert response.status_code == 200
    assert f'id="item-panel-{item.pk}"' in response.text
    assert "Cancel my booking" in response.text


def test_the_message_is_shown_once(alice_client, item):
    alice_client.post(f"/items/{item.pk}/book/", **htmx(f"item-card-{item.pk}"))

    assert "You booked" not in alice_client.get("/").text


def test_losing_the_race_with_htmx_gives_409_and_the_card_as_it_is_now(
        alice_client, held_by_bob):
    item = held_by_bob

    response = alice_client.post(f"/items/{item.pk}/book/", **htmx(f"item-card-{item.pk}"))

    assert response.status_code == 409
    assert is_fragment(response)
    assert f'id="item-card-{item.pk}"' in response.text
    assert "Booked" in response.text
    assert "Join queue" in response.text
    assert "Book<" not in response.text
    assert "Sorry, Oak bookshelf was just booked by someone else." in response.text
    assert Booking.objects.active().get(item=item).member.email == "bob@example.com"


def test_losing_the_race_without_javascript_redirects_with_the_message(
        alice_client, held_by_bob):
    response = alice_client.post(f"/items/{held_by_bob.pk}/book/")

    page = flashed(alice_client, response)
    assert "Sorry, Oak bookshelf was just booked by someone else." in page
    assert Booking.objects.filter(item=held_by_bob).count() == 1


def test_a_second_click_on_book_is_a_409_that_says_the_item_is_yours(alice_client, item):
    alice_client.post(f"/items/{item.pk}/book/", **htmx(f"item-card-{item.pk}"))

    response = alice_client.post(f"/items/{item.pk}/book/", **htmx(f"item-card-{item.pk}"))

    assert response.status_code == 409
    assert "You hold Oak bookshelf already." in response.text
    assert "Cancel my booking" in response.text
    assert Booking.objects.filter(item=item).count() == 1


def test_the_hold_limit_is_a_clear_409(alice_client, alice, item, settings):
    settings.MAX_ACTIVE_BOOKINGS = 1
    services.book(item=services.create_item(actor=None, name="Lamp", price=Decimal("5")),
                  member=alice)

    response = alice_client.post(f"/items/{item.pk}/book/", **htmx(f"item-card-{item.pk}"))

    assert response.status_code == 409
    assert "You already hold 1 item, the most" in response.text
    assert status_of(item) == Status.AVAILABLE


def test_an_unverified_member_is_told_to_confirm_first(client, carol_unverified, item, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    client.force_login(carol_unverified)

    response = client.post(f"/items/{item.pk}/book/", **htmx(f"item-card-{item.pk}"))

    assert response.status_code == 409
    assert "Confirm your email address first" in response.text
    assert status_of(item) == Status.AVAILABLE


def test_anonymous_visitors_are_sent_to_log_in(client, item):
    response = client.post(f"/items/{item.pk}/book/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert status_of(item) == Status.AVAILABLE


def test_booking_an_unknown_or_archived_item_is_not_found(alice_client, item, owner):
    assert alice_client.post("/items/999999/book/").status_code == 404
    services.archive_item(item=item, actor=owner)
    assert alice_client.post(f"/items/{item.pk}/book/").status_code == 404


def test_booking_a_sold_item_says_it_is_gone(alice_client, item, owner):
    services.mark_sold(item=item, actor=owner)

    response = alice_client.post(f"/items/{item.pk}/book/", **htmx(f"item-card-{item.pk}"))

    assert response.status_code == 409
    assert "no longer available" in response.text
    assert "Sold" in response.text


@pytest.mark.parametrize("url", [
    "/items/{item}/book/", "/items/{item}/waitlist/", "/items/{item}/waitlist/leave/",
    "/bookings/{booking}/cancel/", "/manage/bookings/{booking}/release/",
    "/manage/items/{item}/sold/",
])
def test_actions_refuse_get(owner_client, item, alice, url):
    booking = services.book(item=item, member=alice)

    response = owner_client.get(url.format(item=item.pk, booking=booking.pk))

    assert response.status_code == 405
    assert Booking.objects.get(pk=booking.pk).is_active
    assert status_of(item) == Status.BOOKED


# --- The queue -------------------------------------------------------------------------------


def test_joining_the_queue_without_javascript(alice_client, alice, held_by_bob):
    response = alice_client.post(f"/items/{held_by_bob.pk}/waitlist/")

    assert "you are number 1 in line" in flashed(alice_client, response)
    assert QueueEntry.objects.filter(item=held_by_bob, member=alice).exists()


def test_joining_the_queue_with_htmx_shows_the_place(alice_client, held_by_bob):
    pk = held_by_bob.pk
    response = alice_client.post(f"/items/{pk}/waitlist/", **htmx(f"item-card-{pk}"))

    assert response.status_code == 200
    assert "number 1</strong> in the queue" in response.text
    assert "Leave queue" in response.text


def test_joining_the_queue_for_an_available_item_is_refused(alice_client, item):
    response = alice_client.post(f"/items/{item.pk}/waitlist/", **htmx(f"item-card-{item.pk}"))

    assert response.status_code == 409
    assert "book it instead" in response.text
    assert ">Book<" in response.text or "Book<span" in response.text
    assert not QueueEntry.objects.exists()


def test_leaving_the_queue(alice_client, alice, held_by_bob):
    services.join_queue(item=held_by_bob, member=alice)
    pk = held_by_bob.pk

    response = alice_client.post(f"/items/{pk}/waitlist/leave/", **htmx(f"item-card-{pk}"))

    assert response.status_code == 200
    assert "You left the queue for Oak bookshelf." in response.text
    assert "Join queue" in response.text
    assert not QueueEntry.objects.exists()


def test_leaving_a_queue_you_are_not_in_is_a_409(alice_client, held_by_bob):
    pk = held_by_bob.pk
    response = alice_client.post(f"/items/{pk}/waitlist/leave/", **htmx(f"item-card-{pk}"))

    assert response.status_code == 409
    assert "not in the queue" in response.text


# --- My bookings -------------------------------------------------------------------------------


def test_my_bookings_show_holds_queue_places_and_the_past(alice_client, alice, bob, item):
    services.book(item=item, member=alice)
    lamp = services.create_item(actor=None, name="Brass lamp", price=Decimal("9"))
    services.book(item=lamp, member=bob)
    services.join_queue(item=lamp, member=alice)
    kettle = services.create_item(actor=None, name="Old kettle", price=Decimal("3"))
    services.cancel(booking=services.book(item=kettle, member=alice), member=alice)

    page = alice_client.get("/bookings/").text

    assert "Oak bookshelf" in page
    assert "Held until" in page
    assert "You are number 1 of 1 in line." in page
    assert "Brass lamp" in page
    assert "Past bookings" in page
    assert "Old kettle" in page
    assert "Cancelled" in page


def test_my_bookings_show_nothing_of_other_members(alice_client, held_by_bob):
    page = alice_client.get("/bookings/").text

    assert "Oak bookshelf" not in page
    assert "You hold nothing at the moment." in page


def test_my_bookings_need_a_login(client):
    response = client.get("/bookings/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_my_bookings_with_htmx_is_the_fragment(alice_client, alice, item):
    services.book(item=item, member=alice)

    response = alice_client.get("/bookings/", HTTP_HX_REQUEST="true")

    assert is_fragment(response)
    assert 'id="my-bookings"' in response.text


def test_cancelling_my_booking_without_javascript(alice_client, alice, item):
    booking = services.book(item=item, member=alice)

    response = alice_client.post(f"/bookings/{booking.pk}/cancel/", {"next": "/bookings/"})

    assert response["Location"] == "/bookings/"
    assert "Your booking of Oak bookshelf is cancelled." in flashed(alice_client, response)
    assert status_of(item) == Status.AVAILABLE


def test_cancelling_my_booking_from_my_bookings_with_htmx(alice_client, alice, item):
    booking = services.book(item=item, member=alice)

    response = alice_client.post(f"/bookings/{booking.pk}/cancel/", **htmx("my-bookings"))

    assert response.status_code == 200
    assert 'id="my-bookings"' in response.text
    assert "You hold nothing at the moment." in response.text
    assert "Your booking of Oak bookshelf is cancelled." in response.text


def test_cancelling_twice_is_a_409(alice_client, alice, item):
    booking = services.book(item=item, member=alice)
    services.cancel(booking=booking, member=alice)

    response = alice_client.post(f"/bookings/{booking.pk}/cancel/",
                                 **htmx(f"item-card-{item.pk}"))

    assert response.status_code == 409
    assert "already ended" in response.text


def test_someone_elses_booking_cannot_be_cancelled_and_is_not_even_found(
        alice_client, held_by_bob):
    booking = Booking.objects.get(item=held_by_bob)

    response = alice_client.post(f"/bookings/{booking.pk}/cancel/")

    assert response.status_code == 404
    assert Booking.objects.get(pk=booking.pk).is_active
    assert status_of(held_by_bob) == Status.BOOKED


def test_unknown_bookings_are_not_found(alice_client):
    assert alice_client.post("/bookings/999999/cancel/").status_code == 404


def test_unknown_holds_and_items_are_not_found_for_the_owner(owner_client):
    assert owner_client.post("/manage/bookings/999999/release/").status_code == 404
    assert owner_client.post("/manage/items/999999/sold/").status_code == 404


# --- Fragments per viewer ---------------------------------------------------------------------


@pytest.mark.parametrize("fragment", ["card", "panel"])
def test_each_viewer_gets_their_own_controls(fragment, client, alice, bob, item):
    booking = services.book(item=item, member=alice)
    url = f"/items/{item.pk}/{fragment}/"

    client.force_login(alice)
    for_alice = client.get(url)
    client.force_login(bob)
    for_bob = client.get(url)
    client.logout()
    for_anyone = client.get(url)

    assert is_fragment(for_alice)
    assert f'id="item-{fragment}-{item.pk}"' in for_alice.text
    assert "Cancel my booking" in for_alice.text
    assert f"/bookings/{booking.pk}/cancel/" in for_alice.text
    assert "Join queue" in for_bob.text
    assert "Cancel my booking" not in for_bob.text
    assert "Log in" in for_anyone.text
    assert "Join queue" not in for_anyone.text


def test_the_card_of_an_available_item_offers_to_book(alice_client, item):
    response = alice_client.get(f"/items/{item.pk}/card/")

    assert f'action="/items/{item.pk}/book/"' in response.text


def test_fragments_of_archived_items_are_not_found(client, item, owner):
    services.archive_item(item=item, actor=owner)

    assert client.get(f"/items/{item.pk}/card/").status_code == 404
    assert client.get(f"/items/{item.pk}/panel/").status_code == 404


# --- The owner's view -------------------------------------------------------------------------


def test_the_owner_sees_holds_with_who_since_until_and_the_queue(owner_client, alice, bob, item):
    booking = services.book(item=item, member=alice)
    services.join_queue(item=item, member=bob)

    page = owner_client.get("/manage/bookings/").text

    assert "Oak bookshelf" in page
    assert "alice@example.com" in page
    assert f'datetime="{as_attribute(booking.created_at)}"' in page
    assert f'datetime="{as_attribute(booking.expires_at)}"' in page
    assert "bob@example.com" in page
    assert "Release" in page
    assert "Mark sold" in page


def test_members_may_not_manage_bookings(alice_client):
    assert alice_client.get("/manage/bookings/").status_code == 403


def test_anonymous_visitors_are_sent_to_log_in_to_manage(client):
    response = client.get("/manage/bookings/")

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_releasing_a_hold_without_javascript(owner_client, alice, item):
    booking = services.book(item=item, member=alice)

    response = owner_client.post(f"/manage/bookings/{booking.pk}/release/",
                                 {"next": "/manage/bookings/"})

    assert response["Location"] == "/manage/bookings/"
    page = flashed(owner_client, response)
    assert "Released the hold on Oak bookshelf. It is available again." in page
    assert Booking.objects.get(pk=booking.pk).state == BookingState.RELEASED


def test_releasing_a_hold_with_htmx_passes_it_on(owner_client, alice, bob, item):
    booking = services.book(item=item, member=alice)
    services.join_queue(item=item, member=bob)

    response = owner_client.post(f"/manage/bookings/{booking.pk}/release/",
                                 **htmx("manage-bookings"))

    assert response.status_code == 200
    assert is_fragment(response)
    assert 'id="manage-bookings"' in response.text
    assert "It passed to bob@example.com, next in line." in response.text
    assert Booking.objects.active().get(item=item).member == bob


def test_releasing_an_ended_hold_is_a_409(owner_client, alice, item):
    booking = services.book(item=item, member=alice)
    services.cancel(booking=booking, member=alice)

    response = owner_client.post(f"/manage/bookings/{booking.pk}/release/",
                                 **htmx("manage-bookings"))

    assert response.status_code == 409
    assert "already ended" in response.text


def test_members_may_not_release(alice_client, held_by_bob):
    booking = Booking.objects.get(item=held_by_bob)

    assert alice_client.post(f"/manage/bookings/{booking.pk}/release/").status_code == 403
    assert Booking.objects.get(pk=booking.pk).is_active


def test_marking_sold_without_javascript(owner_client, alice, item):
    services.book(item=item, member=alice)

    response = owner_client.post(f"/manage/items/{item.pk}/sold/")

    assert "Oak bookshelf is marked as sold." in flashed(owner_client, response)
    assert status_of(item) == Status.SOLD
    assert Booking.objects.get(item=item).state == BookingState.SOLD


def test_marking_sold_with_htmx(owner_client, alice, item):
    services.book(item=item, member=alice)

    response = owner_client.post(f"/manage/items/{item.pk}/sold/", **htmx("manage-bookings"))

    assert response.status_code == 200
    assert 'id="manage-bookings"' in response.text
    assert "No active holds" in response.text
    assert status_of(item) == Status.SOLD


def test_members_may_not_mark_sold(alice_client, item):
    assert alice_client.post(f"/manage/items/{item.pk}/sold/").status_code == 403
    assert status_of(item) == Status.AVAILABLE


def test_the_manage_item_table_shows_who_holds_each_item(owner_client, alice, bob, item):
    services.book(item=item, member=alice)
    services.join_queue(item=item, member=bob)

    page = owner_client.get("/manage/items/").text

    assert "Held by alice@example.com" in page
    assert "1 waiting" in page


# --- Accounts ------------------------------------------------------------------------------------


def test_deleting_an_account_passes_its_holds_on_and_keeps_the_history(
        alice_client, alice, bob, item, password):
    booking = services.book(item=item, member=alice)
    services.join_queue(item=item, member=bob)

    response = alice_client.post("/account/delete/", {"password": password})

    assert response.status_code == 302
    old = Booking.objects.get(pk=booking.pk)
    assert old.member is None
    assert old.state == BookingState.CANCELLED
    assert Booking.objects.active().get(item=item).member == bob
    assert status_of(item) == Status.BOOKED


def test_deleting_an_account_frees_its_holds(alice_client, alice, item, password):
    services.book(item=item, member=alice)

    alice_client.post("/account/delete/", {"password": password})

    assert status_of(item) == Status.AVAILABLE
    assert Booking.objects.get(item=item).member is None


def test_deleting_an_account_leaves_its_queues(alice_client, alice, held_by_bob, password):
    services.join_queue(item=held_by_bob, member=alice)

    alice_client.post("/account/delete/", {"password": password})

    assert not QueueEntry.objects.exists()


def test_the_data_export_includes_bookings_and_queue_places(alice_client, alice, bob, item):
    services.book(item=item, member=alice)
    lamp = services.create_item(actor=None, name="Brass lamp", price=Decimal("9"))
    services.book(item=lamp, member=bob)
    services.join_queue(item=lamp, member=alice)

    data = json.loads(alice_client.get("/account/export/").content)

    [booking] = data["bookings"]
    assert booking["item"] == "Oak bookshelf"
    assert booking["item_id"] == item.pk
    assert booking["state"] == "active"
    assert booking["hold_until"]
    assert [e["item"] for e in data["queue_places"]] == ["Brass lamp"]


def test_deleting_an_account_whose_hold_ends_meanwhile_still_deletes_it(
        alice, item, monkeypatch):
    booking = services.book(item=item, member=alice)
    cancel = services.bookings.cancel

    def sweeper_was_faster(**kwargs):
        services.expire_due(now=booking.expires_at)
        return cancel(**kwargs)

    monkeypatch.setattr(services.bookings, "cancel", sweeper_was_faster)

    services.delete_member(member=alice)

    assert not User.objects.filter(email="alice@example.com").exists()
    old = Booking.objects.get(pk=booking.pk)
    assert (old.state, old.member) == (BookingState.EXPIRED, None)
