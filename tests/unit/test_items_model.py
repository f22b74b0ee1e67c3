"""The item's own rules: price, search text, status properties, querysets, indexes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from secondhand_site import services
from secondhand_site.forms import ItemForm
from secondhand_site.models import Item, Status, search_key

pytestmark = pytest.mark.django_db


def make_item(name: str = "Desk lamp", **fields) -> Item:
    fields.setdefault("price", Decimal("10.00"))
    return Item.objects.create(name=name, **fields)


def form_data(**changes) -> dict:
    return {"name": "Teapot", "description": "", "price": "4.50", "category": "kitchen",
            "condition": "good", **changes}


# --- Price --------------------------------------------------------------------------------


def test_the_database_refuses_a_negative_price_on_an_update_that_skips_validation():
    item = make_item()

    with pytest.raises(IntegrityError), transaction.atomic():
        Item.objects.filter(pk=item.pk).update(price=Decimal("-0.01"))

    item.refresh_from_db()
    assert item.price == Decimal("10.00")


def test_the_database_refuses_a_negative_price_on_a_plain_save():
    item = Item(name="Desk lamp", price=Decimal("-5"))

    with pytest.raises(IntegrityError), transaction.atomic():
        item.save()

    assert not Item.objects.exists()


def test_a_price_of_zero_is_allowed_for_giveaways():
    item = make_item(price=Decimal("0"))

    item.refresh_from_db()
    assert item.price == Decimal("0.00")


def test_the_item_form_refuses_a_negative_price_with_a_message():
    form = ItemForm(data=form_data(price="-1"))

    assert not form.is_valid()
    assert form.errors["price"] == ["Ensure this value is greater than or equal to 0."]


def test_the_item_form_refuses_more_than_two_decimals():
    form = ItemForm(data=form_data(price="12.345"))

    assert not form.is_valid()
    assert "2 decimal places" in form.errors["price"][0]


def test_a_price_is_stored_with_two_decimal_places():
    item = make_item(price=Decimal("12.5"))

    item.refresh_from_db()
    assert item.price == Decimal("12.50")
    assert str(item.price) == "12.50"


# --- Search text ------------------------------------------------------------------------------


def test_search_key_drops_case_and_accents():
    assert search_key("Crème BRÛLÉE") == "creme brulee"


def test_saving_an_item_fills_its_search_text_from_name_and_description():
    item = make_item("Crêpe pan", description="Cast IRON, barely used")

    assert item.search_text == "crepe pan\ncast iron, barely used"


def test_saving_again_after_a_rename_updates_the_search_text():
    item = make_item("Crêpe pan")

    item.name = "Wok"
    item.save()

    item.refresh_from_db()
    assert "wok" in item.search_text
    assert "crepe" not in item.search_text


def test_an_edit_through_the_service_updates_the_search_text(owner):
    item = make_item("Crêpe pan", description="Barely used")

    services.update_item(item_id=item.pk, actor=owner, expected_version=item.version,
                         description="Émaillé")

    item.refresh_from_db()
    assert item.search_text == "crepe pan\nemaille"


# --- Status properties ------------------------------------------------------------------


def test_an_available_item_is_available_and_not_booked():
    item = make_item(status=Status.AVAILABLE)

    assert item.is_available
    assert not item.is_booked


def test_a_booked_item_is_booked_and_not_available():
    item = make_item(status=Status.BOOKED)

    assert item.is_booked
    assert not item.is_available


def test_an_archived_item_is_not_available_even_with_status_available():
    item = make_item(status=Status.AVAILABLE, archived=True)

    assert not item.is_available


def test_a_sold_item_is_neither_available_nor_booked():
    item = make_item(status=Status.SOLD)

    assert not item.is_available
    assert not item.is_booked
    assert item.is_sold


def test_the_database_refuses_an_unknown_status():
    item = make_item()

    with pytest.raises(IntegrityError), transaction.atomic():
        Item.objects.filter(pk=item.pk).update(status="lost")


# --- Querysets --------------------------------------------------------------------------------


@pytest.fixture
def one_of_each():
    return {
        "available": make_item("Available", status=Status.AVAILABLE),
        "booked": make_item("Booked", status=Status.BOOKED),
        "sold": make_item("Sold", status=Status.SOLD),
        "archived": make_item("Archived", status=Status.AVAILABLE, archived=True),
        "archived sold": make_item("Archived sold", status=Status.SOLD, archived=True),
    }


def test_listed_hides_only_archived_items(one_of_each):
    names = set(Item.objects.listed().values_list("name", flat=True))

    assert names == {"Available", "Booked", "Sold"}


def test_for_sale_shows_available_and_booked_items_only(one_of_each):
    names = set(Item.objects.for_sale().values_list("name", flat=True))

    assert names == {"Available", "Booked"}


def test_available_first_puts_available_before_booked_before_sold(one_of_each):
    make_item("Newest booked", status=Status.BOOKED)

    names = list(Item.objects.listed().available_first().values_list("name", flat=True))

    assert names[0] == "Available"
    assert set(names[1:3]) == {"Booked", "Newest booked"}
    assert names[3] == "Sold"


def test_with_cover_annotates_the_first_photo_by_position():
    item = make_item()
    item.photos.create(position=1, display="items/b.webp", thumb="items/b-thumb.webp")
    item.photos.create(position=0, display="items/a.webp", thumb="items/a-thumb.webp")

    annotated = Item.objects.with_cover().get(pk=item.pk)

    assert annotated.cover_thumb == "items/a-thumb.webp"


# --- Indexes --------------------------------------------------------------------------------


def test_the_catalog_filters_and_sorts_have_indexes():
    names = {index.name for index in Item._meta.indexes}

    assert {"item_listing_idx", "item_price_idx", "item_name_idx", "item_category_idx",
            "item_condition_idx"} <= names


def test_the_indexes_exist_in_the_database():
    from django.db import connection

    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Item._meta.db_table)

    assert {"item_listing_idx", "item_price_idx", "item_name_idx"} <= set(constraints)
