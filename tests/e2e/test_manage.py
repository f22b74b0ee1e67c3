"""The owner's item pages as the owner uses them: list an item with a photo, edit it in
its table row, archive it with a bulk action, delete one after a confirmation."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Locator, Page, expect

PASSWORD = "owner-secret-2026-e2e"


@dataclass(frozen=True)
class Login:
    email: str
    password: str


@pytest.fixture(scope="module")
def shop_owner(server) -> Login:
    """One owner for the whole module (made once: each `secondhand` command takes a while)."""
    account = Login(f"owner-{uuid.uuid4().hex[:8]}@example.com", PASSWORD)
    server.cli("create-owner", "--email", account.email, "--password", account.password)
    return account


@pytest.fixture
def owner_page(page: Page, shop_owner: Login, log_in) -> Page:
    log_in(page, shop_owner)
    return page


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:6]}"


def flash(page: Page, text: str) -> Locator:
    return page.get_by_role("status").filter(has_text=text)


def row(page: Page, name: str) -> Locator:
    """The manage table's row for this item (while it is not being edited)."""
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=name, exact=True))


def editing_row(page: Page) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("button", name="Save"))


def list_item(page: Page, name: str, price: str, photos: list[Path] = ()) -> None:
    page.goto("/manage/items/new/")
    expect(page.get_by_role("heading", level=1)).to_have_text("List a new item")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Description").fill("Solid, clean, collected from a smoke-free home.")
    page.get_by_label("Price").fill(price)
    page.get_by_label("Category").select_option(label="Furniture")
    page.get_by_label("Condition").select_option(label="Like new")
    if photos:
        page.get_by_label("Photos").set_input_files(photos)
    page.get_by_role("button", name="List item").click()
    expect(page).to_have_url(re.compile(r"/manage/items/$"))
    expect(flash(page, f"Listed {name}.")).to_be_visible()


def mark_document(page: Page) -> None:
    page.evaluate("window.__noReload = 1")


def still_same_document(page: Page) -> bool:
    return page.evaluate("window.__noReload === 1")


def loaded(image: Locator) -> bool:
    return image.evaluate("img => img.complete && img.naturalWidth > 0")


def test_the_owner_lists_an_item_with_a_photo(owner_page, tmp_path):
    page = owner_page
    name = unique("Oak bookshelf")
    picture = tmp_path / "bookshelf.jpg"
    Image.new("RGB", (800, 600), (140, 90, 40)).save(picture, "JPEG")

    list_item(page, name, "45.50", [picture])

    listed = row(page, name)
    expect(listed).to_contain_text("€45.50")
    expect(listed).to_contain_text("Furniture")
    expect(listed).to_contain_text("Like new")
    expect(listed).to_contain_text("Available")
    assert loaded(listed.locator("img"))  # decorative (alt=""), so no img role

    page.goto("/")
    card = page.get_by_role("article").filter(has=page.get_by_role("heading", name=name))
    expect(card).to_contain_text("€45.50 · Like new")
    expect(card).to_contain_text("Available")
    assert loaded(card.locator("img"))
    card.get_by_role("heading").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    photo = page.get_by_role("img", name=f"{name}, photo 1 of 1")
    expect(photo).to_be_visible()
    assert loaded(photo)


def test_the_owner_edits_a_price_in_its_row_without_a_reload(owner_page):
    page = owner_page
    name = unique("Rattan armchair")
    list_item(page, name, "30")
    mark_document(page)

    row(page, name).get_by_role("link", name=f"Edit {name}").click()
    form = editing_row(page)
    expect(form.get_by_label("Name")).to_have_value(name)
    expect(form.get_by_label("Name")).to_be_focused()
    form.get_by_label("Price").fill("27.50")
    form.get_by_role("button", name="Save").click()

    expect(editing_row(page)).to_have_count(0)
    expect(row(page, name)).to_contain_text("€27.50")
    expect(row(page, name).get_by_role("link", name=f"Edit {name}")).to_be_focused()
    assert still_same_document(page), "the page reloaded instead of swapping the row"

    page.reload()
    expect(row(page, name)).to_contain_text("€27.50")


def test_a_bad_price_is_explained_in_the_row_and_escape_cancels_the_edit(owner_page, page_errors):
    # Refused edits are answered 422 with the row's form, which the browser logs.
    page_errors.allow(r"Failed to load resource: .*\b422\b")
    page = owner_page
    name = unique("Pine bench")
    list_item(page, name, "60")
    mark_document(page)

    row(page, name).get_by_role("link", name=f"Edit {name}").click()
    form = editing_row(page)
    expect(form.get_by_label("Name")).to_be_focused()
    form.get_by_label("Price").fill("-5")
    form.get_by_role("button", name="Save").click()

    error = editing_row(page).get_by_role("alert")
    expect(error).to_contain_text("greater than or equal to 0")
    price = editing_row(page).get_by_label("Price")
    expect(price).to_be_focused()
    expect(price).to_have_value("-5")

    price.press("Escape")
    expect(editing_row(page)).to_have_count(0)
    expect(row(page, name)).to_contain_text("€60.00")
    assert still_same_document(page)

    page.reload()
    expect(row(page, name)).to_contain_text("€60.00")


def test_archiving_with_a_bulk_action_takes_the_item_out_of_the_catalog(owner_page):
    page = owner_page
    name = unique("Chest of drawers")
    keep = unique("Bedside table")
    list_item(page, name, "75")
    list_item(page, keep, "20")

    page.get_by_role("checkbox", name=f"Select {name}").check()
    page.get_by_label("With selected items").select_option(label="Archive")
    page.get_by_role("button", name="Apply").click()

    expect(flash(page, "Updated 1 item.")).to_be_visible()
    expect(row(page, name)).to_have_count(0)
    expect(row(page, keep)).to_be_visible()
    page.get_by_label("Show", exact=True).select_option(label="Archived")
    page.get_by_role("button", name="Show").click()
    expect(row(page, name)).to_contain_text("archived")

    page.goto("/")
    expect(page.get_by_role("heading", name=keep)).to_be_visible()
    expect(page.get_by_role("heading", name=name)).to_have_count(0)
    page.get_by_role("searchbox", name="Search").fill(name)
    expect(page.get_by_role("heading", name="No items match your search")).to_be_visible()


def test_an_item_never_booked_is_deleted_after_a_confirmation(owner_page):
    page = owner_page
    name = unique("Wobbly stool")
    list_item(page, name, "5")

    row(page, name).get_by_role("link", name=name, exact=True).click()
    page.get_by_role("link", name="Edit this item").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Edit {name}")
    page.get_by_role("button", name="Delete…").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Delete {name}?")
    expect(page.get_by_role("main")).to_contain_text("never been booked")
    expect(page.get_by_role("main")).to_contain_text("deleted for good")
    page.get_by_role("button", name="Delete it").click()

    expect(page).to_have_url(re.compile(r"/manage/items/$"))
    expect(flash(page, f"Deleted {name}.")).to_be_visible()
    expect(row(page, name)).to_have_count(0)
    page.get_by_label("Show", exact=True).select_option(label="Archived")
    page.get_by_role("button", name="Show").click()
    expect(row(page, name)).to_have_count(0)
