"""`secondhand seed --items N`: demo members and a catalog of items with drawn photos."""

from __future__ import annotations

from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from click.testing import CliRunner

from secondhand_site.cli import cli
from secondhand_site.models import Change, Item, Photo, User
from secondhand_site.seed import DEMO_MEMBERS, DEMO_PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def small_pictures(monkeypatch):
    """Draw one small picture per category instead of three large ones: the same code
    path, a few seconds less per test. One test below keeps the real pictures."""
    from secondhand_site import photos

    draw = photos.demo_image
    monkeypatch.setattr("secondhand_site.seed.PHOTO_VARIANTS", 1)
    monkeypatch.setattr(photos, "demo_image", lambda text, hue: draw(text, hue, (160, 120)))


@pytest.fixture
def seed_with_real_pictures(tmp_path):
    runner = CliRunner()

    def run(items: int):
        result = runner.invoke(cli, ["--data-dir", str(tmp_path / "data"), "seed",
                                     "--items", str(items)])
        assert result.exit_code == 0, result.output
        return result

    return run


@pytest.fixture
def seed(seed_with_real_pictures, small_pictures):
    return seed_with_real_pictures


def test_it_creates_the_items_asked_for_each_with_a_cover_photo(seed_with_real_pictures,
                                                                settings):
    result = seed_with_real_pictures(30)

    assert Item.objects.count() == 30
    assert "Added 30 demo items; the catalog has 30 items." in result.output
    assert not Item.objects.filter(photos__isnull=True).exists()
    assert Photo.objects.filter(position=0).values("item").distinct().count() == 30
    cover = Photo.objects.first()
    assert (Path(settings.MEDIA_ROOT) / cover.display).is_file()
    assert (Path(settings.MEDIA_ROOT) / cover.thumb).is_file()
    assert (cover.width, cover.height) == (1200, 900)


def test_the_items_are_spread_over_categories_and_conditions_with_real_prices(seed):
    seed(30)

    assert Item.objects.values("category").distinct().count() >= 4
    assert Item.objects.values("condition").distinct().count() >= 3
    assert not Item.objects.filter(price__lte=0).exists()
    assert Item.objects.filter(status="available", archived=False).count() == 30


def test_the_items_are_searchable_and_logged(seed):
    seed(30)

    item = Item.objects.first()
    assert item.search_text == f"{item.name}\n{item.description}".casefold()
    assert Change.objects.filter(action="created").count() == 30


def test_it_creates_the_demo_members_with_verified_addresses(seed):
    result = seed(5)

    for email, first_name, _ in DEMO_MEMBERS:
        member = User.objects.get(email=email)
        assert member.first_name == first_name
        assert member.check_password(DEMO_PASSWORD)
        assert not member.is_owner
        assert EmailAddress.objects.get(email=email).verified
        assert email in result.output


def test_running_it_again_adds_nothing(seed):
    seed(30)
    photos = Photo.objects.count()

    again = seed(30)

    assert "The catalog already has 30 items (asked for 30); nothing added." in again.output
    assert Item.objects.count() == 30
    assert Photo.objects.count() == photos
    assert User.objects.count() == len(DEMO_MEMBERS)


def test_a_larger_number_tops_the_catalog_up(seed):
    seed(10)

    result = seed(25)

    assert "Added 15 demo items; the catalog has 25 items." in result.output
    assert Item.objects.count() == 25


def test_the_catalog_shows_the_seeded_items_with_their_cover(seed, client):
    seed(3)

    html = client.get("/").content.decode()

    assert "3 items" in html
    assert html.count('class="card-photo"') == 3
    assert "No photo" not in html
