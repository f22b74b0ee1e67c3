"""Booking and cancelling with JavaScript switched off: plain forms, redirects, messages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect


@dataclass(frozen=True)
class Login:
    email: str
    password: str


CAROL = Login("carol@example.com", "demo-secondhand-2026")  # a demo member of `seed`
ITEM = "Oak rocking horse"


@pytest.fixture(scope="module", autouse=True)
def catalog(server):
    """The demo members and one item, made in one command (`seed --items 1` would draw
    the whole demo photo library first)."""
    code = (
        "from decimal import Decimal\n"
        "from secondhand_site import services\n"
        "from secondhand_site.seed import seed_members\n"
        "seed_members()\n"
        f"services.create_item(actor=None, name={ITEM!r}, price=Decimal('35'),"
        " category='kids', condition='good')\n"
    )
    server.cli("manage", "shell", "--no-imports", "-v", "0", "-c", code)


def flash(page: Page, text: str):
    return page.get_by_role("status").filter(has_text=text)


def posting(page: Page, action: str):
    return page.expect_response(
        lambda r: r.request.method == "POST" and urlsplit(r.url).path.endswith(f"/{action}/"))


def test_a_member_books_and_cancels_without_javascript(new_context, log_in):
    page = new_context(java_script_enabled=False).new_page()
    log_in(page, CAROL)
    page.goto("/")
    name = ITEM
    page.get_by_role("article").get_by_role("heading", name=name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    item_url = page.url
    status = page.get_by_role("definition").first
    expect(status).to_have_text("Available")

    with posting(page, "book") as booked:
        page.get_by_role("button", name=f"Book {name}").click()
    assert booked.value.status == 303
    expect(page).to_have_url(item_url)
    expect(flash(page, re.compile(rf"You booked {re.escape(name)}\. It is held for you until"))
           ).to_be_visible()
    expect(status).to_have_text("Booked")
    expect(page.get_by_role("main")).to_contain_text("Held for you until")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="My bookings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My bookings")
    holds = page.get_by_role("region", name=re.compile(r"^Holding now"))
    expect(holds).to_contain_text("1 of at most 3")
    held = holds.get_by_role("listitem").filter(has_text=name)
    expect(held).to_contain_text("Held until")

    with posting(page, "cancel") as cancelled:
        held.get_by_role("button", name=f"Cancel my booking of {name}").click()
    assert cancelled.value.status == 303
    expect(page).to_have_url(re.compile(r"/bookings/$"))
    expect(flash(page, f"Your booking of {name} is cancelled.")).to_be_visible()
    expect(holds).to_contain_text("You hold nothing at the moment.")
    expect(page.get_by_role("region", name="Past bookings")).to_contain_text(name)

    page.goto(item_url)
    expect(status).to_have_text("Available")
    expect(page.get_by_role("button", name=f"Book {name}")).to_be_visible()
    page.goto("/")
    expect(page.get_by_role("article").filter(has_text=name)).to_contain_text("Available")
