"""The catalog at `/`: search, filters, sort, pages, htmx fragments, empty states, queries."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from secondhand_site import services
from secondhand_site.models import Category, Condition, Item, Photo, Status
from secondhand_site.views.catalog import PAGE_SIZE

pytestmark = pytest.mark.django_db

CATALOG = reverse("catalog")
HX = {"HTTP_HX_REQUEST": "true"}


def make_item(name: str, *, price: str = "10.00", age_minutes: int = 0, **fields) -> Item:
    created = timezone.now() - timedelta(minutes=age_minutes)
    return Item.objects.create(name=name, price=Decimal(price), created_at=created,
                               updated_at=created, **fields)


class _Titles(HTMLParser):
    """The card titles of a catalog page, in the order a person reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.titles: list[str] = []
        self._inside = False

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "h2" and "card-title" in (dict(attrs).get("class") or "").split():
            self._inside = True
            self.titles.append("")

    def handle_endtag(self, tag) -> None:
        if tag == "h2":
            self._inside = False

    def handle_data(self, data) -> None:
        if self._inside:
            self.titles[-1] += data


def names(response) -> list[str]:
    assert response.status_code == 200
    parser = _Titles()
    parser.feed(response.content.decode())
    return [t.strip() for t in parser.titles]


def get(client, **params):
    return client.get(CATALOG, params)


# --- What the default catalog shows ------------------------------------------------------


def test_available_items_come_first_then_booked_ones(client):
    make_item("Old available", age_minutes=30)
    make_item("New booked", status=Status.BOOKED, age_minutes=1)
    make_item("New available", age_minutes=5)

    assert names(get(client)) == ["New available", "Old available", "New booked"]


def test_sold_and_archived_items_are_hidden_by_default(client):
    make_item("On offer")
    make_item("Gone already", status=Status.SOLD)
    make_item("Put away", archived=True)

    assert names(get(client)) == ["On offer"]


def test_the_status_filter_sold_shows_sold_items_but_not_archived_ones(client):
    make_item("On offer")
    make_item("Gone already", status=Status.SOLD)
    make_item("Sold and put away", status=Status.SOLD, archived=True)

    assert names(get(client, status="sold")) == ["Gone already"]


def test_the_status_filter_available_hides_booked_items(client):
    make_item("On offer")
    make_item("Taken", status=Status.BOOKED)

    assert names(get(client, status="available")) == ["On offer"]


def test_a_card_shows_price_condition_and_status(client):
    make_item("Armchair", price="45.5", condition=Condition.LIKE_NEW)

    response = get(client)

    assert "€45.50" in response.content.decode()
    assert "Like new" in response.content.decode()
    assert "Available" in response.content.decode()


# --- Search -------------------------------------------------------------------------------


@pytest.fixture
def kitchen_things():
    make_item("Crème brûlée dishes")
    make_item("Crêpe pan")
    make_item("Table", description="Goes with the desk LAMP")
    make_item("Desk lamp")


def test_search_ignores_accents_in_the_item_name(client, kitchen_things):
    assert names(get(client, q="creme")) == ["Crème brûlée dishes"]
    assert names(get(client, q="crepe")) == ["Crêpe pan"]


def test_search_ignores_accents_in_the_query(client, kitchen_things):
    assert names(get(client, q="Crêpe")) == ["Crêpe pan"]


def test_search_ignores_case_and_looks_in_the_description(client, kitchen_things):
    assert set(names(get(client, q="LAMP"))) == {"Table", "Desk lamp"}


def test_search_needs_every_word(client, kitchen_things):
    assert names(get(client, q="desk lamp table")) == ["Table"]


def test_search_says_how_many_items_match(client, kitchen_things):
    response = get(client, q="lamp")

    assert "2 items match" in response.content.decode()


# --- Filters ----------------------------------------------------------------------------------


@pytest.fixture
def assorted():
    make_item("Pan", price="5.00", category=Category.KITCHEN, condition=Condition.GOOD)
    make_item("Kettle", price="25.00", category=Category.KITCHEN, condition=Condition.NEW)
    make_item("Sofa", price="150.00", category=Category.FURNITURE, condition=Condition.FAIR)
    make_item("Radio", price="15.00", category=Category.ELECTRONICS, condition=Condition.GOOD)


def test_the_category_filter_shows_that_category_only(client, assorted):
    assert set(names(get(client, category="kitchen"))) == {"Pan", "Kettle"}


def test_the_condition_filter_shows_that_condition_only(client, assorted):
    assert set(names(get(client, condition="good"))) == {"Pan", "Radio"}


def test_the_price_range_includes_both_ends(client, assorted):
    assert set(names(get(client, min_price="5", max_price="25"))) == {"Pan", "Kettle", "Radio"}


def test_min_price_alone_and_max_price_alone_filter(client, assorted):
    assert names(get(client, min_price="100")) == ["Sofa"]
    assert names(get(client, max_price="5")) == ["Pan"]


def test_filters_combine(client, assorted):
    assert names(get(client, category="kitchen", max_price="10")) == ["Pan"]


# --- Bad filter values ------------------------------------------------------------------


def test_a_min_price_that_is_not_a_number_is_reported_and_the_other_filters_still_apply(
        client, assorted):
    response = get(client, min_price="abc", category="kitchen")

    assert set(names(response)) == {"Pan", "Kettle"}
    assert "Enter a number." in response.content.decode()


def test_a_max_price_below_the_min_price_is_reported_and_the_min_price_still_applies(
        client, assorted):
    response = get(client, min_price="20", max_price="10")

    assert set(names(response)) == {"Kettle", "Sofa"}
    assert "The max price is below the min price." in response.content.decode()


def test_a_bad_value_is_reported_inside_the_htmx_results_too(client, assorted):
    response = client.get(CATALOG, {"min_price": "20", "max_price": "10"}, **HX)

    html = response.content.decode()
    assert "<html" not in html
    assert "Max price: The max price is below the min price." in html
    assert set(names(response)) == {"Kettle", "Sofa"}


def test_a_good_htmx_search_shows_no_error_box(client, assorted):
    response = client.get(CATALOG, {"min_price": "10"}, **HX)

    assert "form-errors" not in response.content.decode()


def test_an_unknown_category_is_reported_and_ignored(client, assorted):
    response = get(client, category="spaceships", condition="good")

    assert set(names(response)) == {"Pan", "Radio"}
    assert "Select a valid choice." in response.content.decode()


def test_an_unknown_sort_is_reported_and_newest_is_used(client):
    make_item("Older", age_minutes=10)
    make_item("Newer")

    response = get(client, sort="cheapest-first")

    assert names(response) == ["Newer", "Older"]
    assert "Select a valid choice." in response.content.decode()


def test_a_negative_min_price_is_reported(client, assorted):
    response = get(client, min_price="-5")

    assert len(names(response)) == 4
    assert "greater than or equal to 0" in response.content.decode()


# --- Sort -------------------------------------------------------------------------------


@pytest.fixture
def three_items():
    make_item("Banjo", price="30.00", age_minutes=20)
    make_item("apron", price="5.00", age_minutes=10)
    make_item("Cello", price="300.00", age_minutes=30)


def test_newest_first_is_the_default_sort(client, three_items):
    assert names(get(client)) == ["apron", "Banjo", "Cello"]
    assert names(get(client, sort="newest")) == ["apron", "Banjo", "Cello"]


def test_sort_by_price_low_to_high(client, three_items):
    assert names(get(client, sort="price")) == ["apron", "Banjo", "Cello"]


def test_sort_by_price_high_to_low(client, three_items):
    assert names(get(client, sort="-price")) == ["Cello", "Banjo", "apron"]


def test_sort_by_name(client, three_items):
    make_item("Accordion", price="80.00")

    sorted_names = names(get(client, sort="name"))

    assert sorted_names.index("Accordion") < sorted_names.index("Banjo")
    assert sorted_names.index("Banjo") < sorted_names.index("Cello")


def test_a_sort_still_keeps_available_items_before_booked_ones(client, three_items):
    make_item("Zither", price="1.00", status=Status.BOOKED)

    assert names(get(client, sort="price"))[-1] == "Zither"


# --- Pages ------------------------------------------------------------------------------


@pytest.fixture
def many_items():
    for n in range(PAGE_SIZE + 6):
        make_item(f"Item {n:02d}", age_minutes=n)


def test_the_first_page_holds_a_full_page_and_links_to_the_next(client, many_items):
    response = get(client)

    assert len(names(response)) == PAGE_SIZE
    assert "Page 1 of 2" in response.content.decode()
    assert 'href="/?page=2"' in response.content.decode()


def test_page_two_holds_the_rest(client, many_items):
    response = get(client, page="2")

    assert names(response) == [f"Item {n:02d}" for n in range(PAGE_SIZE, PAGE_SIZE + 6)]
    assert "Page 2 of 2" in response.content.decode()


def test_a_page_past_the_end_shows_the_last_page(client, many_items):
    response = get(client, page="999")

    assert len(names(response)) == 6
    assert "Page 2 of 2" in response.content.decode()


def test_a_page_that_is_not_a_number_shows_the_first_page(client, many_items):
    response = get(client, page="abc")

    assert names(response)[0] == "Item 00"
    assert "Page 1 of 2" in response.content.decode()


def test_page_links_keep_the_filters(client, many_items):
    response = get(client, q="item", sort="name")

    assert 'href="/?page=2&amp;q=item&amp;sort=name"' in response.content.decode()


# --- Full page and htmx fragment --------------------------------------------------------


def test_an_htmx_request_gets_only_the_results(client):
    make_item("Desk lamp")

    response = client.get(CATALOG, {"q": "lamp"}, **HX)

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="results"' in html
    assert "Desk lamp" in html
    assert "<form" not in html.split('id="results"')[0]


def test_an_htmx_history_restore_gets_the_whole_page(client):
    response = client.get(CATALOG, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")

    assert "<html" in response.content.decode()


def test_the_full_page_has_a_filter_form_that_works_with_and_without_htmx(client):
    make_item("Desk lamp")

    html = get(client).content.decode()

    assert "<html" in html
    assert 'action="/"' in html
    assert 'method="get"' in html
    assert 'hx-get="/"' in html
    assert 'hx-push-url="true"' in html
    assert 'hx-target="#results"' in html
    assert 'name="q"' in html


def test_pagination_links_have_a_real_href_and_an_htmx_get(client, many_items):
    html = get(client).content.decode()

    assert 'href="/?page=2"' in html
    assert 'hx-get="/?page=2"' in html


def test_the_filter_form_keeps_what_was_asked(client):
    html = get(client, q="lamp", max_price="20").content.decode()

    assert 'value="lamp"' in html
    assert 'value="20"' in html


# --- Empty states -------------------------------------------------------------------------


def test_a_search_with_no_match_says_so_and_offers_to_clear_the_filters(client):
    make_item("Desk lamp")

    response = get(client, q="piano")

    html = response.content.decode()
    assert response.status_code == 200
    assert "No items match" in html
    assert "piano" in html
    assert 'href="/">Clear filters</a>' in html


def test_an_empty_catalog_says_no_items_yet(client):
    html = get(client).content.decode()

    assert "No items yet" in html
    assert "No items match" not in html


def test_an_empty_catalog_offers_the_owner_to_list_the_first_item(owner_client):
    html = get(owner_client).content.decode()

    assert "List the first item" in html


def test_only_sold_items_still_show_no_items_yet_by_default(client):
    make_item("Gone", status=Status.SOLD)

    assert "No items yet" in get(client).content.decode()


# --- Queries ------------------------------------------------------------------------------


def fill_catalog(count: int, *, photos: bool = True) -> None:
    for n in range(count):
        item = make_item(f"Thing {n}", status=Status.BOOKED if n % 5 == 4 else Status.AVAILABLE,
                         category=Category.OTHER)
        if photos:
            for position in range(2):
                Photo.objects.create(item=item, position=position,
                                     display=f"items/{n}-{position}.webp",
                                     thumb=f"items/{n}-{position}-thumb.webp")


def queries_for(client, **params) -> int:
    client.get(CATALOG, params)  # warm up: sessions, content types, caches
    with CaptureQueriesContext(connection) as captured:
        response = client.get(CATALOG, params)
    assert response.status_code == 200
    return len(captured)


@pytest.fixture(params=["anonymous", "member"])
def visitor(request, client):
    """The catalog seen by a visitor and by a logged-in member."""
    return request.getfixturevalue("alice_client") if request.param == "member" else client


@pytest.mark.parametrize("photos", [True, False], ids=["with photos", "without photos"])
def test_the_catalog_makes_as_few_queries_for_sixty_items_as_for_three(
        visitor, django_assert_max_num_queries, photos):
    fill_catalog(3, photos=photos)
    small = queries_for(visitor)

    fill_catalog(57, photos=photos)
    with django_assert_max_num_queries(small):
        response = visitor.get(CATALOG)

    assert len(names(response)) == PAGE_SIZE


def hold_and_queue(alice, bob) -> None:
    """Alice holds one item and waits for one Bob holds: her own state on the page."""
    services.book(item=Item.objects.filter(status=Status.AVAILABLE).first(), member=alice)
    taken = Item.objects.filter(status=Status.AVAILABLE).first()
    services.book(item=taken, member=bob)
    services.join_queue(item=taken, member=alice)


def test_a_member_sees_the_catalog_in_as_few_queries_for_many_items_as_for_three(
        alice_client, alice, bob, django_assert_max_num_queries):
    fill_catalog(3)
    hold_and_queue(alice, bob)
    small = queries_for(alice_client, status="booked")

    fill_catalog(147)  # a full page of booked items
    hold_and_queue(alice, bob)
    with django_assert_max_num_queries(small):
        response = alice_client.get(CATALOG, {"status": "booked"})

    html = response.content.decode()
    assert len(names(response)) == PAGE_SIZE
    assert "Held for you" in html
    assert "number 1</strong> in the queue" in html


def test_an_htmx_page_of_results_makes_as_few_queries_as_a_small_one(
        client, django_assert_max_num_queries):
    fill_catalog(3)
    client.get(CATALOG, {"page": "2"}, **HX)
    with CaptureQueriesContext(connection) as captured:
        client.get(CATALOG, {"page": "2"}, **HX)
    small = len(captured)

    fill_catalog(57)
    with django_assert_max_num_queries(small):
        response = client.get(CATALOG, {"page": "2"}, **HX)

    assert len(names(response)) == PAGE_SIZE
