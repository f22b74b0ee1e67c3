"""The catalog as a visitor meets it: search as you type, filters, sort, pages, history,
the item page's gallery, and the same browsing with JavaScript switched off."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Locator, Page, expect

SEEDED = 30  # more than one page of 24


@pytest.fixture(scope="module", autouse=True)
def catalog(server):
    """A catalog of demo items, the same for every test in this module."""
    server.cli("seed", "--items", str(SEEDED))


def results(page: Page) -> Locator:
    return page.get_by_role("region", name="Items")


def titles(page: Page) -> list[str]:
    return results(page).get_by_role("article").get_by_role("heading", level=2).all_inner_texts()


def prices(page: Page) -> list[Decimal]:
    texts = results(page).get_by_role("article").all_inner_texts()
    return [Decimal(re.search(r"€([\d,]+\.\d\d)", text)[1].replace(",", "")) for text in texts]


def url_with(**params: str) -> re.Pattern[str]:
    """The current URL has all these query parameters (in any order, among others)."""
    def spelled(value: str) -> str:  # a space may be sent as + or %20
        return r"(\+|%20)".join(re.escape(word) for word in value.split(" "))

    look = "".join(rf"(?=.*[?&]{key}={spelled(value)}(&|$))" for key, value in params.items())
    return re.compile(rf"^[^?]*{look}")


def mark_document(page: Page) -> None:
    """Mark this document; `still_same_document` then tells whether it was reloaded."""
    page.evaluate("window.__noReload = 1")


def still_same_document(page: Page) -> bool:
    return page.evaluate("window.__noReload === 1")


def photo(path: Path, color: tuple[int, int, int]) -> Path:
    Image.new("RGB", (640, 480), color).save(path)
    return path


def test_a_visitor_searches_as_they_type_and_the_url_follows(page):
    page.goto("/")
    expect(results(page)).to_contain_text(f"{SEEDED} items")
    name = titles(page)[0]
    mark_document(page)
    grid_requests = []
    page.on("request", lambda r: r.headers.get("hx-request") and grid_requests.append(r.url))

    page.get_by_role("searchbox", name="Search").press_sequentially(name.lower(), delay=30)

    expect(page).to_have_url(url_with(q=name.lower()))
    expect(results(page)).to_contain_text(re.compile(r"^\s*\d+ items? match"))
    found = titles(page)
    assert found and all(title == name for title in found), found
    assert still_same_document(page), "the page reloaded instead of swapping the results"
    # Debounced: one request for the whole word, not one per key (with some slack for a
    # slow machine that pauses between keys).
    assert 1 <= len(grid_requests) <= len(name) // 3, grid_requests


def test_sort_and_filters_follow_in_the_url_and_back_returns_to_the_previous_results(page):
    page.goto("/")
    newest = titles(page)
    mark_document(page)

    page.get_by_label("Sort").select_option(label="Price: low to high")
    expect(page).to_have_url(url_with(sort="price"))
    by_price = titles(page)
    assert prices(page) == sorted(prices(page))
    assert by_price != newest

    page.get_by_label("Condition").select_option(label="Good")
    expect(page).to_have_url(url_with(sort="price", condition="good"))
    good = results(page).get_by_role("article")
    expect(good.first).to_be_visible()
    assert all("· Good" in text for text in good.all_inner_texts()), good.all_inner_texts()
    assert prices(page) == sorted(prices(page))
    assert 0 < len(titles(page)) < len(by_price)
    assert still_same_document(page)

    page.go_back()
    expect(page).to_have_url(url_with(sort="price"))
    expect(page).not_to_have_url(re.compile(r"condition=good"))
    expect(results(page).get_by_role("article").get_by_role("heading")).to_have_text(by_price)
    expect(page.get_by_label("Condition")).to_have_value("")

    page.go_back()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(results(page).get_by_role("article").get_by_role("heading")).to_have_text(newest)
    expect(page.get_by_label("Sort")).to_have_value("newest")


def test_a_category_filter_shows_only_that_category(page):
    page.goto("/")
    first = results(page).get_by_role("article").first
    name = first.get_by_role("heading").inner_text()
    first.get_by_role("heading").click()
    category = page.get_by_role("navigation", name="Breadcrumb").inner_text().split("›")[-1].strip()
    page.go_back()

    page.get_by_label("Category").select_option(label=category)
    expect(page).to_have_url(re.compile(r"[?&]category=\w+"))
    expect(results(page)).to_contain_text(re.compile(r"^\s*\d+ items? match"))
    assert name in titles(page)
    assert len(titles(page)) < SEEDED

    # Each result really is in that category: its page says so.
    results(page).get_by_role("article").last.get_by_role("heading").click()
    expect(page.get_by_role("navigation", name="Breadcrumb")).to_contain_text(category)
    page.go_back()
    expect(page.get_by_label("Category")).to_have_value(re.compile(r"\w+"))


def test_next_shows_the_second_page_in_place(page):
    page.goto("/")
    pages = page.get_by_role("navigation", name="Pages")
    expect(pages).to_contain_text("Page 1 of 2")
    first_page = titles(page)
    assert len(first_page) == 24
    mark_document(page)

    pages.get_by_role("link", name="Next").click()

    expect(page).to_have_url(url_with(page="2"))
    expect(pages).to_contain_text("Page 2 of 2")
    second_page = titles(page)
    assert len(second_page) == SEEDED - 24
    expect(pages.get_by_role("link", name="Previous")).to_be_visible()
    expect(pages.get_by_role("link", name="Next")).to_have_count(0)
    assert still_same_document(page)

    page.go_back()
    expect(pages).to_contain_text("Page 1 of 2")
    expect(results(page).get_by_role("article").get_by_role("heading")).to_have_text(first_page)


def test_a_search_without_results_says_so_and_offers_to_clear_the_filters(page):
    page.goto("/")
    page.get_by_role("searchbox", name="Search").fill("unicorn saddle")
    expect(results(page).get_by_role("heading", name="No items match your search")).to_be_visible()
    expect(results(page)).to_contain_text("unicorn saddle")
    expect(page).to_have_url(url_with(q="unicorn saddle"))

    results(page).get_by_role("link", name="Clear filters").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(results(page)).to_contain_text(f"{SEEDED} items")
    expect(page.get_by_role("searchbox", name="Search")).to_have_value("")


def test_browsing_and_searching_work_without_javascript(new_context):
    page = new_context(java_script_enabled=False).new_page()
    page.goto("/")
    name = titles(page)[0]

    page.get_by_role("searchbox", name="Search").fill(name)
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(url_with(q=name))
    found = titles(page)
    assert found and all(title == name for title in found), found

    # The filters are folded without JavaScript until a filter is in use, then open.
    page.get_by_label("Sort").select_option(label="Price: high to low")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(url_with(q=name, sort="-price"))
    assert prices(page) == sorted(prices(page), reverse=True)

    page.get_by_role("link", name="Clear filters").first.click()
    expect(page).to_have_url(re.compile(r"/$"))
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Next").click()
    expect(page).to_have_url(url_with(page="2"))
    expect(page.get_by_role("navigation", name="Pages")).to_contain_text("Page 2 of 2")

    card = results(page).get_by_role("article").first
    name = card.get_by_role("heading").inner_text()
    card.get_by_role("heading").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(page.get_by_role("img", name=f"{name}, photo 1 of 1")).to_be_visible()
    expect(page.get_by_role("link", name=f"Log in to book {name}")).to_be_visible()


def test_the_item_gallery_is_usable_with_the_keyboard(page, owner, log_in, tmp_path):
    name = "Two-photo walnut sideboard"
    log_in(page, owner)
    page.goto("/manage/items/new/")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Price").fill("80")
    page.get_by_label("Photos").set_input_files([
        photo(tmp_path / "front.png", (200, 60, 40)), photo(tmp_path / "back.png", (40, 90, 200)),
    ])
    page.get_by_role("button", name="List item").click()
    expect(page.get_by_role("status").filter(has_text=f"Listed {name}.")).to_be_visible()

    page.get_by_role("link", name=name, exact=True).click()
    first = page.get_by_role("img", name=f"{name}, photo 1 of 2")
    second = page.get_by_role("img", name=f"{name}, photo 2 of 2")
    expect(first).to_be_visible()
    expect(second).to_be_hidden()
    assert first.evaluate("img => img.complete && img.naturalWidth > 0")

    thumb_1 = page.get_by_role("link", name="Show photo 1 of 2")
    thumb_2 = page.get_by_role("link", name="Show photo 2 of 2")
    thumb_1.focus()
    page.keyboard.press("ArrowRight")
    expect(second).to_be_visible()
    expect(first).to_be_hidden()
    expect(thumb_2).to_be_focused()
    expect(thumb_2).to_have_attribute("aria-current", "true")

    page.keyboard.press("ArrowRight")  # wraps around to the first
    expect(first).to_be_visible()
    expect(thumb_1).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(second).to_be_visible()

    page.keyboard.press("Shift+Tab")
    expect(thumb_1).to_be_focused()
    page.keyboard.press("Enter")
    expect(first).to_be_visible()
    expect(page).not_to_have_url(re.compile(r"photo="))  # shown in place, no navigation
