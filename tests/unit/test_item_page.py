"""The item page at `/items/<id>/`: facts, gallery, booking controls, and its 404."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from secondhand_site.models import Category, Condition, Item, Photo, Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def lamp():
    return Item.objects.create(
        name="Brass desk lamp", price=Decimal("12.5"), category=Category.ELECTRONICS,
        condition=Condition.LIKE_NEW,
        description="Warm light, new cable.\n\nPick-up near the station.")


@pytest.fixture
def three_photos(lamp):
    return [Photo.objects.create(item=lamp, position=n, display=f"items/lamp-{n}.webp",
                                 thumb=f"items/lamp-{n}-thumb.webp", width=800, height=600)
            for n in range(3)]


def page(client, item, **params):
    return client.get(reverse("item-detail", args=[item.pk]), params)


def main_images(html: str) -> list[tuple[str, bool]]:
    """(file shown, hidden?) for each large image of the gallery, in order."""
    figure = html.split('class="gallery-main"', 1)[1].split("</figure>", 1)[0]
    return [(src, " hidden" in tag)
            for tag, src in re.findall(r'(<img src="([^"]+)"[^>]*>)', figure)]


def test_it_shows_the_name_price_condition_status_category_and_description(client, lamp):
    response = page(client, lamp)

    html = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Brass desk lamp</h1>" in html
    assert "€12.50" in html
    assert "Like new" in html
    assert "Available" in html
    assert "Electronics" in html
    assert "<p>Warm light, new cable.</p>" in html
    assert "<p>Pick-up near the station.</p>" in html


def test_the_price_is_shown_in_the_configured_currency(client, lamp, settings):
    settings.CURRENCY = "GBP"

    assert "£12.50" in page(client, lamp).content.decode()


def test_a_booked_item_says_it_is_booked(client, lamp):
    Item.objects.filter(pk=lamp.pk).update(status=Status.BOOKED)

    assert "Booked" in page(client, lamp).content.decode()


def test_a_sold_item_page_still_shows_and_says_sold(client, lamp):
    Item.objects.filter(pk=lamp.pk).update(status=Status.SOLD)

    response = page(client, lamp)

    assert response.status_code == 200
    assert "Sold" in response.content.decode()


# --- Gallery ------------------------------------------------------------------------------


def test_every_photo_is_in_the_gallery_with_the_cover_shown_first(client, lamp, three_photos):
    html = page(client, lamp).content.decode()

    assert main_images(html) == [("/media/items/lamp-0.webp", False),
                                 ("/media/items/lamp-1.webp", True),
                                 ("/media/items/lamp-2.webp", True)]


def test_each_thumbnail_links_to_its_photo(client, lamp, three_photos):
    html = page(client, lamp).content.decode()

    for n in range(3):
        assert f'href="?photo={n}"' in html
        assert f"Show photo {n + 1} of 3" in html
        assert f'src="/media/items/lamp-{n}-thumb.webp"' in html


def test_the_chosen_photo_is_the_one_shown(client, lamp, three_photos):
    html = page(client, lamp, photo="2").content.decode()

    assert [hidden for _, hidden in main_images(html)] == [True, True, False]
    assert re.search(r'href="\?photo=2"[^>]*aria-current="true"', html)


def test_a_photo_number_out_of_range_or_not_a_number_falls_back_to_a_real_photo(
        client, lamp, three_photos):
    past_the_end = page(client, lamp, photo="99").content.decode()
    nonsense = page(client, lamp, photo="abc").content.decode()

    assert [hidden for _, hidden in main_images(past_the_end)] == [True, True, False]
    assert [hidden for _, hidden in main_images(nonsense)] == [False, True, True]


def test_photos_are_described_for_screen_readers(client, lamp, three_photos):
    html = page(client, lamp).content.decode()

    assert 'alt="Brass desk lamp, photo 1 of 3"' in html


def test_an_item_without_photos_says_so(client, lamp):
    response = page(client, lamp)

    assert response.status_code == 200
    assert "No photo" in response.content.decode()


# --- Booking controls --------------------------------------------------------------------


def test_the_booking_controls_area_is_there_and_asks_a_visitor_to_log_in(client, lamp):
    html = page(client, lamp).content.decode()

    assert f'id="item-panel-{lamp.pk}"' in html
    assert "Log in to book" in html


def test_a_member_gets_a_book_button_that_posts_to_the_book_url(alice_client, lamp):
    html = page(alice_client, lamp).content.decode()

    book = reverse("item-book", args=[lamp.pk])
    assert f'action="{book}"' in html
    assert f'hx-post="{book}"' in html


def test_the_owner_gets_a_link_to_edit_the_item(owner_client, lamp):
    html = page(owner_client, lamp).content.decode()

    assert reverse("manage-item-edit", args=[lamp.pk]) in html
    assert "Edit this item" in html


def test_a_member_gets_no_edit_link(alice_client, lamp):
    assert "Edit this item" not in page(alice_client, lamp).content.decode()


# --- Not found --------------------------------------------------------------------------


def test_a_missing_item_is_a_404_in_the_site_look(client):
    response = client.get(reverse("item-detail", args=[999_999]))

    html = response.content.decode()
    assert response.status_code == 404
    assert "<html" in html
    assert "Page not found" in html
    assert "Back to the catalog" in html


def test_an_archived_item_is_a_404(client, lamp):
    Item.objects.filter(pk=lamp.pk).update(archived=True)

    response = page(client, lamp)

    assert response.status_code == 404
    assert "Page not found" in response.content.decode()
    assert "Brass desk lamp" not in response.content.decode()
