"""Booking, live: what one member does shows up in every other open browser at once.

Alice and Bob (the demo members of `secondhand seed`) browse the catalog in browsers of
their own while the owner watches the manage table and a visitor an item page. Nobody
reloads: each page is marked at the start and must still carry the mark at the end.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, Route, expect

DEMO_PASSWORD = "demo-secondhand-2026"
LIVE = 1000  # ms: "every open browser sees it within a second"
POLL_WAIT = 12_000  # ms: the polling fallback asks every 4 s, once the stream has failed

HEART = "Brass desk lamp (live)"
RACE = "Enamel kettle (race)"
POLLED = "Transistor radio (polled)"
SLOW = "Rocking chair (slow answer)"


@dataclass(frozen=True)
class Login:
    email: str
    password: str


ALICE = Login("alice@example.com", DEMO_PASSWORD)
BOB = Login("bob@example.com", DEMO_PASSWORD)


@pytest.fixture(scope="module", autouse=True)
def shop_owner(server) -> Login:
    """The owner; with the demo members and the items these journeys book, made in one
    command (each `secondhand` command takes a while to start)."""
    owner = Login(f"owner-{uuid.uuid4().hex[:8]}@example.com", "owner-secret-2026-e2e")
    code = (
        "from decimal import Decimal\n"
        "from secondhand_site import services\n"
        "from secondhand_site.seed import seed_members\n"
        "from secondhand_site.services.members import create_owner\n"
        "seed_members()\n"
        f"user, _ = create_owner(email={owner.email!r}, password={owner.password!r})\n"
        f"for name in {[HEART, RACE, POLLED, SLOW]!r}:\n"
        "    services.create_item(actor=user, name=name, price=Decimal('12.50'))\n"
    )
    server.cli("manage", "shell", "--no-imports", "-v", "0", "-c", code)
    return owner


# --- Helpers -----------------------------------------------------------------------------


def open_as(context: BrowserContext, log_in: Callable, account: Login | None, path: str) -> Page:
    page = context.new_page()
    if account is not None:
        log_in(page, account)
    page.goto(path)
    return page


def expect_live(page: Page) -> None:
    status = page.locator("#live-status")
    expect(status).to_have_attribute("data-state", "live")
    expect(status).to_have_text("Live")


def mark_document(page: Page) -> None:
    page.evaluate("window.__noReload = 1")


def assert_not_reloaded(*pages: Page) -> None:
    for page in pages:
        assert page.evaluate("window.__noReload === 1"), f"{page.url} was reloaded"


def card(page: Page, name: str) -> Locator:
    return page.get_by_role("article").filter(
        has=page.get_by_role("heading", name=name, exact=True))


def flash(page: Page, text: str) -> Locator:
    return page.get_by_role("status").filter(has_text=text)


def row(page: Page, name: str) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=name, exact=True))


def posting(page: Page, action: str):
    """Wait for the answer to this page's POST to a URL ending in `action`/."""
    return page.expect_response(
        lambda r: r.request.method == "POST" and urlsplit(r.url).path.endswith(f"/{action}/"))


def is_event_stream(url: str) -> bool:
    parts = urlsplit(url)
    return parts.path == "/events/" and "poll=" not in parts.query


def is_events_url(url: str) -> bool:
    return urlsplit(url).path == "/events/"


def refuse(route: Route) -> None:
    route.abort()


def allow_a_refused_stream(page_errors) -> None:
    # The browser logs each refused request, and htmx logs its SSE extension's error
    # event (as "[object Event]") each time the stream fails to connect.
    page_errors.allow(r"^Failed to load resource: net::ERR_FAILED$")
    page_errors.allow(r"^\[object Event\]$")


# --- Journeys ------------------------------------------------------------------------------


def test_a_booking_shows_up_in_every_open_browser_at_once(new_context, log_in, shop_owner):
    name = HEART
    alice = open_as(new_context(), log_in, ALICE, "/")
    bob = open_as(new_context(), log_in, BOB, "/")
    owner = open_as(new_context(), log_in, shop_owner, "/manage/items/")
    visitor = open_as(new_context(), log_in, None, "/")
    card(visitor, name).get_by_role("heading").click()
    expect(visitor.get_by_role("heading", level=1)).to_have_text(name)
    status = visitor.get_by_role("definition").first  # the item page's "Status"
    everyone = (alice, bob, owner, visitor)
    for page in everyone:
        expect_live(page)
        mark_document(page)
    expect(card(bob, name).get_by_role("button", name=f"Book {name}")).to_be_visible()
    expect(status).to_have_text("Available")

    # Alice books: Bob's card says Booked and offers the queue within a second.
    with posting(alice, "book") as booked:
        card(alice, name).get_by_role("button", name=f"Book {name}").click()
    assert booked.value.status == 200
    expect(card(bob, name).get_by_role("button", name=f"Join queue for {name}")).to_be_visible(
        timeout=LIVE)
    expect(card(bob, name)).to_contain_text("Booked")
    expect(card(bob, name).get_by_role("button", name=f"Book {name}")).to_have_count(0)
    expect(bob.get_by_role("status").filter(has_text=f"{name} was booked.")).to_have_count(1)
    expect(card(alice, name)).to_contain_text("Held for you until")
    expect(flash(alice, f"You booked {name}.")).to_be_visible()
    expect(row(owner, name)).to_contain_text(f"Held by {ALICE.email}")
    expect(owner.locator("body")).to_be_focused()  # a live update moves no one's focus
    expect(status).to_have_text("Booked")
    expect(visitor.get_by_role("link", name="Log in to queue")).to_be_visible()

    # Bob queues and learns his place.
    card(bob, name).get_by_role("button", name=f"Join queue for {name}").click()
    expect(card(bob, name)).to_contain_text("you are number 1 in the queue")
    expect(card(bob, name).get_by_role("button", name=f"Leave queue for {name}")).to_be_visible()
    expect(flash(bob, f"You joined the queue for {name}: you are number 1 in line.")
           ).to_be_visible()
    expect(row(owner, name)).to_contain_text("1 waiting")

    # Alice cancels: the item passes to Bob, who sees it is his without reloading.
    with posting(alice, "cancel"):
        card(alice, name).get_by_role("button", name=f"Cancel my booking of {name}").click()
    bobs = card(bob, name)
    expect(bobs.get_by_role("button", name=f"Cancel my booking of {name}")).to_be_visible(
        timeout=LIVE)
    expect(bobs).to_contain_text("Held for you until")
    expect(card(alice, name).get_by_role("button", name=f"Join queue for {name}")).to_be_visible()
    expect(flash(alice, f"Your booking of {name} is cancelled.")).to_be_visible()
    expect(row(owner, name)).to_contain_text(f"Held by {BOB.email}", timeout=LIVE)
    expect(status).to_have_text("Booked")

    # The owner hands it over: sold, for everyone.
    with posting(owner, "sold"):
        row(owner, name).get_by_role("button", name=f"Mark sold {name}").click()
    expect(row(owner, name)).to_contain_text("Sold")
    expect(row(owner, name)).not_to_contain_text("Held by")
    for page in (alice, bob):
        expect(card(page, name).get_by_text("Sold", exact=True).last).to_be_visible(timeout=LIVE)
        expect(card(page, name).get_by_role("button")).to_have_count(0)
    expect(status).to_have_text("Sold", timeout=LIVE)
    expect(visitor.get_by_role("link", name="Log in to queue")).to_have_count(0)

    assert_not_reloaded(*everyone)


def test_a_member_who_loses_the_race_is_told_so_and_sees_the_item_taken(
    new_context, log_in, page_errors
):
    name = RACE
    # Bob's page hears no news at all (stream and polling refused), so it still offers
    # Book after Alice took the item: exactly the moment of a lost race.
    bob_context = new_context()
    bob_context.route(is_events_url, refuse)
    allow_a_refused_stream(page_errors)
    page_errors.allow(r"Failed to load resource: .*\b409\b")  # the lost race's answer
    bob = open_as(bob_context, log_in, BOB, "/")
    alice = open_as(new_context(), log_in, ALICE, "/")
    expect_live(alice)
    expect(card(bob, name).get_by_role("button", name=f"Book {name}")).to_be_visible()

    with posting(alice, "book") as booked:
        card(alice, name).get_by_role("button", name=f"Book {name}").click()
    assert booked.value.status == 200
    expect(card(alice, name)).to_contain_text("Held for you until")
    expect(card(bob, name).get_by_role("button", name=f"Book {name}")).to_be_visible()

    with posting(bob, "book") as lost:
        card(bob, name).get_by_role("button", name=f"Book {name}").click()
    assert lost.value.status == 409
    expect(flash(bob, f"Sorry, {name} was just booked by someone else.")).to_be_visible()
    expect(card(bob, name)).to_contain_text("Booked")
    expect(card(bob, name).get_by_role("button", name=f"Join queue for {name}")).to_be_visible()
    expect(card(bob, name).get_by_role("button", name=f"Book {name}")).to_have_count(0)

    bob.goto("/bookings/")
    expect(bob.get_by_role("main")).not_to_contain_text(name)


def test_an_answer_that_comes_after_the_live_update_still_lands_with_its_message(
    new_context, log_in
):
    name = SLOW
    # Alice's booking is made at once, but its answer reaches her page only after the live
    # update for that same booking has refreshed her card: the answer must still land.
    alice_context = new_context()
    held_back = []
    alice_context.route(lambda url: urlsplit(url).path.endswith("/book/"),
                        lambda route: held_back.append((route, route.fetch())))
    alice = open_as(alice_context, log_in, ALICE, "/")
    expect_live(alice)

    with alice.expect_response(lambda r: urlsplit(r.url).path.endswith("/card/")):
        card(alice, name).get_by_role("button", name=f"Book {name}").click()
    route, answer = held_back.pop()
    route.fulfill(response=answer)

    expect(flash(alice, f"You booked {name}.")).to_be_visible()
    expect(card(alice, name)).to_contain_text("Held for you until")
    expect(card(alice, name).get_by_role("button", name=f"Cancel my booking of {name}")
           ).to_be_visible()


def test_without_the_event_stream_a_page_falls_back_to_polling(new_context, log_in, page_errors):
    name = POLLED
    bob_context = new_context()
    bob_context.route(is_event_stream, refuse)  # the stream only: polling still gets through
    allow_a_refused_stream(page_errors)
    bob = open_as(bob_context, log_in, BOB, "/")
    expect(bob.locator("#live-status")).to_have_attribute("data-state", "polling")
    mark_document(bob)
    alice = open_as(new_context(), log_in, ALICE, "/")
    expect_live(alice)
    expect(card(bob, name).get_by_role("button", name=f"Book {name}")).to_be_visible()

    with posting(alice, "book"):
        card(alice, name).get_by_role("button", name=f"Book {name}").click()

    expect(card(bob, name).get_by_role("button", name=f"Join queue for {name}")).to_be_visible(
        timeout=POLL_WAIT)
    expect(card(bob, name)).to_contain_text("Booked")
    assert_not_reloaded(bob)
