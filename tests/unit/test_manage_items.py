"""The owner's item pages under /manage/: who may use them, and what each one does."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from conftest import make_member
from secondhand_site import services
from secondhand_site.models import Booking, Change, Item, Photo, Status

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


# --- Helpers --------------------------------------------------------------------------------


def png(size: tuple[int, int] = (40, 30), colour=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def photo_upload(name: str = "photo.png", size: tuple[int, int] = (40, 30)) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png(size), content_type="image/png")


def make_item(name: str = "Desk lamp", price: str = "10.00", **fields) -> Item:
    return Item.objects.create(name=name, price=Decimal(price), **fields)


def edit_data(item: Item, **changes) -> dict:
    return {"name": item.name, "description": item.description, "price": str(item.price),
            "category": item.category, "condition": item.condition,
            "version": str(item.version), **changes}


def media_files(settings) -> set[str]:
    root = Path(settings.MEDIA_ROOT)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() \
        else set()


def text(response) -> str:
    return response.content.decode()


@pytest.fixture
def item(owner):
    return services.create_item(actor=owner, name="Desk lamp", price=Decimal("10.00"),
                                category="electronics", condition="good")


@pytest.fixture
def item_with_photos(owner):
    """An item with three photos told apart by their width: 40, 50 and 60 pixels."""
    return services.create_item(
        actor=owner, name="Armchair", price=Decimal("45.00"), category="furniture",
        photos=[photo_upload(f"p{w}.png", (w, 30)) for w in (40, 50, 60)])


def widths(item: Item) -> list[int]:
    return list(item.photos.order_by("position").values_list("width", flat=True))


# --- Who may use the manage pages -----------------------------------------------------------

# (url name, method, which arguments, what the owner gets)
VIEWS = [
    ("manage-dashboard", "get", None, 200),
    ("manage-items", "get", None, 200),
    ("manage-item-new", "get", None, 200),
    ("manage-item-new", "post", None, 422),
    ("manage-item-edit", "get", "item", 200),
    ("manage-item-edit", "post", "item", 303),
    ("manage-item-row", "get", "item", 200),
    ("manage-item-delete", "post", "item", 200),
    ("manage-item-sold", "post", "item", 303),
    ("manage-items-bulk", "post", None, 303),
    ("manage-item-history", "get", "item", 200),
    ("manage-items-export", "get", None, 200),
    ("manage-items-import", "get", None, 200),
    ("manage-items-import", "post", None, 422),
    ("manage-photo-add", "post", "item", 303),
    ("manage-photo-move", "post", "photo", 303),
    ("manage-photo-delete", "post", "photo", 303),
]
VIEW_IDS = [f"{method} {name}" for name, method, _, _ in VIEWS]


def call(client, name: str, method: str, args: str | None, item: Item):
    if args == "item":
        url = reverse(name, args=[item.pk])
    elif args == "photo":
        url = reverse(name, args=[item.pk, item.photos.first().pk])
    else:
        url = reverse(name)
    if method == "get":
        return client.get(url)
    data = edit_data(item) if name == "manage-item-edit" else {"direction": "down"}
    return client.post(url, data)


@pytest.mark.parametrize(("name", "method", "args", "expected"), VIEWS, ids=VIEW_IDS)
def test_an_anonymous_visitor_is_sent_to_log_in(client, item_with_photos, name, method, args,
                                                expected):
    before = Change.objects.count()

    response = call(client, name, method, args, item_with_photos)

    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login") + "?next=")
    assert Change.objects.count() == before


@pytest.mark.parametrize(("name", "method", "args", "expected"), VIEWS, ids=VIEW_IDS)
def test_a_member_who_is_not_an_owner_is_refused(alice_client, item_with_photos, name, method,
                                                 args, expected):
    before = Change.objects.count()

    response = call(alice_client, name, method, args, item_with_photos)

    assert response.status_code == 403
    assert "Not allowed" in text(response)
    assert Change.objects.count() == before
    assert Item.objects.get(pk=item_with_photos.pk).status == Status.AVAILABLE


@pytest.mark.parametrize(("name", "method", "args", "expected"), VIEWS, ids=VIEW_IDS)
def test_an_owner_may_use_every_manage_view(owner_client, item_with_photos, name, method, args,
                                            expected):
    response = call(owner_client, name, method, args, item_with_photos)

    assert response.status_code == expected


@pytest.mark.parametrize("name", ["manage-item-delete", "manage-item-sold", "manage-photo-add"])
def test_a_get_never_changes_anything(owner_client, item, name):
    response = owner_client.get(reverse(name, args=[item.pk]))

    assert response.status_code == 405
    assert Item.objects.filter(pk=item.pk, status=Status.AVAILABLE).exists()


# --- Dashboard ----------------------------------------------------------------------------


def test_the_dashboard_counts_items_by_status(owner_client):
    for status in (Status.AVAILABLE, Status.AVAILABLE, Status.BOOKED, Status.SOLD):
        make_item(status=status)
    make_item(status=Status.SOLD, archived=True)

    html = text(owner_client.get(reverse("manage-dashboard")))

    assert '<span class="stat-number">2</span> available' in html
    assert '<span class="stat-number">1</span> booked' in html
    assert '<span class="stat-number">1</span> sold' in html
    assert '<span class="stat-number">1</span> archived' in html


def test_the_dashboard_lists_recent_changes_with_who_made_them(owner_client, owner, alice, item):
    services.book(item=item, member=alice)

    html = text(owner_client.get(reverse("manage-dashboard")))

    assert "Recent changes" in html
    assert "<strong>booked</strong>" in html
    assert "<strong>created</strong>" in html
    assert "by alice@example.com" in html
    assert f"by {owner.email}" in html
    assert reverse("manage-item-history", args=[item.pk]) in html


def test_the_dashboard_of_a_new_site_invites_to_list_the_first_item(owner_client):
    html = text(owner_client.get(reverse("manage-dashboard")))

    assert "Nothing has happened yet." in html


# --- Items table ----------------------------------------------------------------------------


def test_the_items_table_lists_items_with_price_and_holder(owner_client, alice, item):
    services.book(item=item, member=alice)

    html = text(owner_client.get(reverse("manage-items")))

    assert "Desk lamp" in html
    assert "€10.00" in html
    assert "Held by alice@example.com" in html
    assert "Mark sold" in html


def test_the_items_table_hides_archived_items_unless_asked(owner_client):
    make_item("Shown")
    make_item("Put away", archived=True)

    listed = text(owner_client.get(reverse("manage-items")))
    archived = text(owner_client.get(reverse("manage-items"), {"show": "archived"}))

    assert "Shown" in listed and "Put away" not in listed
    assert "Put away" in archived and "Shown" not in archived


def test_the_items_table_searches_and_filters_by_status(owner_client):
    make_item("Crêpe pan")
    make_item("Teapot", status=Status.SOLD)

    assert "Crêpe pan" in text(owner_client.get(reverse("manage-items"), {"q": "CREPE"}))
    sold = text(owner_client.get(reverse("manage-items"), {"show": "sold"}))
    assert "Teapot" in sold and "Crêpe pan" not in sold


def test_the_items_table_says_when_nothing_matches(owner_client, item):
    html = text(owner_client.get(reverse("manage-items"), {"q": "piano"}))

    assert "No items match" in html


# --- New item -------------------------------------------------------------------------------


def new_item_data(**changes) -> dict:
    return {"name": "Oak table", "description": "Seats six.", "price": "120.00",
            "category": "furniture", "condition": "good", **changes}


def test_the_new_item_page_offers_several_photos_at_once(owner_client):
    html = text(owner_client.get(reverse("manage-item-new")))

    assert 'enctype="multipart/form-data"' in html
    assert 'type="file"' in html
    assert "multiple" in html
    assert 'accept="image/jpeg,image/png,image/webp"' in html


def test_a_new_item_with_two_photos_is_listed_with_the_first_as_cover(owner_client, owner):
    response = owner_client.post(reverse("manage-item-new"), new_item_data(
        photos=[photo_upload("first.png", (40, 30)), photo_upload("second.png", (30, 40))]))

    assert response.status_code == 303
    item = Item.objects.get()
    assert item.name == "Oak table"
    assert item.price == Decimal("120.00")
    assert [(p.position, p.width, p.height) for p in item.photos.order_by("position")] == [
        (0, 40, 30), (1, 30, 40)]
    assert Item.objects.with_cover().get().cover_thumb == item.photos.get(position=0).thumb
    change = Change.objects.get(item=item)
    assert (change.action, change.actor) == ("created", owner)


def test_a_new_item_ends_with_a_flash_message_on_the_items_page(owner_client):
    response = owner_client.post(reverse("manage-item-new"), new_item_data(), follow=True)

    assert response.redirect_chain[-1][0] == reverse("manage-items")
    assert "Listed Oak table." in text(response)


@pytest.mark.parametrize(("name", "data", "content_type"), [
    ("drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
     "image/svg+xml"),
    ("notes.png", b"just some text, not a picture", "image/png"),
    ("page.png", b"<html><body>pretending</body></html>", "image/png"),
], ids=["svg", "text named png", "html named png"])
def test_a_bad_upload_is_a_form_error_and_creates_nothing(owner_client, settings, name, data,
                                                          content_type):
    response = owner_client.post(reverse("manage-item-new"), new_item_data(
        photos=[photo_upload("good.png"), SimpleUploadedFile(name, data, content_type)]))

    assert response.status_code == 422
    assert f"{name} is not a JPEG, PNG or WebP image." in text(response)
    assert not Item.objects.exists()
    assert not Photo.objects.exists()
    assert not Change.objects.exists()
    assert media_files(settings) == set()


def test_a_new_item_with_a_negative_price_is_refused_with_a_message(owner_client):
    response = owner_client.post(reverse("manage-item-new"), new_item_data(price="-3"))

    assert response.status_code == 422
    assert "greater than or equal to 0" in text(response)
    assert not Item.objects.exists()


# --- Inline edit ------------------------------------------------------------------------------


def test_an_htmx_edit_turns_the_row_into_a_form(owner_client, item):
    response = owner_client.get(reverse("manage-item-edit", args=[item.pk]), **HX)

    html = text(response)
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith(f'<tr id="item-row-{item.pk}"')
    assert 'name="price"' in html and 'value="10.00"' in html
    assert f'name="version" value="{item.version}"' in html
    assert f'action="{reverse("manage-item-edit", args=[item.pk])}"' in html
    assert "Cancel" in html


def test_saving_an_inline_edit_returns_the_updated_row_and_logs_the_change(owner_client, owner,
                                                                           item):
    response = owner_client.post(reverse("manage-item-edit", args=[item.pk]),
                                 edit_data(item, price="15.00"), **HX)

    html = text(response)
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith(f'<tr id="item-row-{item.pk}"')
    assert "€15.00" in html
    assert 'class="row-form"' not in html
    item.refresh_from_db()
    assert item.price == Decimal("15.00")
    change = Change.objects.filter(item=item).first()
    assert (change.action, change.actor) == ("edited", owner)
    assert "price: 10.00 → 15.00" in change.detail


def test_an_invalid_price_shows_the_error_inside_the_row_form(owner_client, item):
    response = owner_client.post(reverse("manage-item-edit", args=[item.pk]),
                                 edit_data(item, price="-1"), **HX)

    html = text(response)
    assert response.status_code == 422
    assert "<html" not in html
    assert html.lstrip().startswith(f'<tr id="item-row-{item.pk}"')
    assert "Ensure this value is greater than or equal to 0." in html
    item.refresh_from_db()
    assert item.price == Decimal("10.00")
    assert not Change.objects.filter(item=item, action="edited").exists()


def test_a_stale_edit_is_refused_with_a_clear_message_and_overwrites_nothing(owner_client, item):
    colleague = make_member("oscar.owner@example.com", owner=True)
    stale = edit_data(item)  # the form as the first owner loaded it
    other = Client()
    other.force_login(colleague)
    first = other.post(reverse("manage-item-edit", args=[item.pk]),
                       edit_data(item, price="20.00"), **HX)
    assert first.status_code == 200

    response = owner_client.post(reverse("manage-item-edit", args=[item.pk]),
                                 {**stale, "price": "5.00"}, **HX)

    html = text(response)
    assert response.status_code == 409
    assert "Someone else changed this item while you were editing it." in html
    assert "<html" not in html
    assert 'value="20.00"' in html  # the current version, to edit again
    item.refresh_from_db()
    assert item.price == Decimal("20.00")
    assert Change.objects.filter(item=item, action="edited").count() == 1


def test_after_a_conflict_the_refreshed_form_saves(owner_client, owner, item):
    services.update_item(item_id=item.pk, actor=owner, expected_version=item.version,
                         price=Decimal("20.00"))
    conflict = owner_client.post(reverse("manage-item-edit", args=[item.pk]),
                                 edit_data(item, price="5.00"), **HX)
    assert conflict.status_code == 409

    item.refresh_from_db()
    response = owner_client.post(reverse("manage-item-edit", args=[item.pk]),
                                 edit_data(item, price="5.00"), **HX)

    assert response.status_code == 200
    item.refresh_from_db()
    assert item.price == Decimal("5.00")


def test_a_stale_edit_without_htmx_shows_the_edit_page_with_the_message(owner_client, owner,
                                                                         item):
    stale = edit_data(item, price="5.00")
    services.update_item(item_id=item.pk, actor=owner, expected_version=item.version,
                         price=Decimal("20.00"))

    response = owner_client.post(reverse("manage-item-edit", args=[item.pk]), stale)

    assert response.status_code == 409
    assert "<html" in text(response)
    assert "Someone else changed this item" in text(response)


def test_an_edit_without_htmx_redirects_with_a_flash_message(owner_client, item):
    response = owner_client.post(reverse("manage-item-edit", args=[item.pk]),
                                 edit_data(item, name="Brass desk lamp"), follow=True)

    assert response.redirect_chain == [(reverse("manage-items"), 303)]
    assert "Saved Brass desk lamp." in text(response)
    assert Item.objects.get(pk=item.pk).name == "Brass desk lamp"


def test_the_edit_page_without_htmx_is_a_whole_page_with_photos_and_status(owner_client, item):
    html = text(owner_client.get(reverse("manage-item-edit", args=[item.pk])))

    assert "<html" in html
    assert "Edit Desk lamp" in html
    assert "No photos yet." in html
    assert "Mark sold" in html


def test_cancel_returns_the_display_row(owner_client, item):
    response = owner_client.get(reverse("manage-item-row", args=[item.pk]), **HX)

    html = text(response)
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith(f'<tr id="item-row-{item.pk}"')
    assert "Desk lamp" in html and "€10.00" in html
    assert 'class="row-form"' not in html


def test_editing_a_missing_item_is_a_404(owner_client):
    response = owner_client.get(reverse("manage-item-edit", args=[999_999]))

    assert response.status_code == 404


# --- Delete ---------------------------------------------------------------------------------


def test_delete_without_confirmation_asks_first_and_changes_nothing(owner_client, item):
    response = owner_client.post(reverse("manage-item-delete", args=[item.pk]))

    html = text(response)
    assert response.status_code == 200
    assert "Delete Desk lamp?" in html
    assert "deleted for good" in html
    assert 'name="confirm" value="yes"' in html
    assert Item.objects.filter(pk=item.pk, archived=False).exists()


def test_an_item_never_booked_is_deleted_with_its_photo_files(
        owner_client, item_with_photos, settings, django_capture_on_commit_callbacks):
    files = media_files(settings)
    assert len(files) == 6

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("manage-item-delete", args=[item_with_photos.pk]),
                                     {"confirm": "yes"}, follow=True)

    assert "Deleted Armchair." in text(response)
    assert not Item.objects.filter(pk=item_with_photos.pk).exists()
    assert not Photo.objects.exists()
    assert media_files(settings) == set()
    assert Change.objects.filter(action="deleted", detail__contains="Armchair").exists()


def test_an_item_that_was_ever_booked_is_archived_instead(owner_client, alice, item):
    booking = services.book(item=item, member=alice)
    services.cancel(booking=booking, member=alice)

    asked = owner_client.post(reverse("manage-item-delete", args=[item.pk]))
    response = owner_client.post(reverse("manage-item-delete", args=[item.pk]),
                                 {"confirm": "yes"}, follow=True)

    assert "it will be <strong>archived</strong>" in text(asked)
    assert "Archived Desk lamp" in text(response)
    item.refresh_from_db()
    assert item.archived
    assert Booking.objects.filter(item=item).exists()
    assert Change.objects.filter(item=item, action="archived").exists()


def test_deleting_a_booked_item_is_refused_with_a_message(owner_client, alice, item):
    services.book(item=item, member=alice)

    response = owner_client.post(reverse("manage-item-delete", args=[item.pk]),
                                 {"confirm": "yes"}, follow=True)

    assert response.status_code == 200
    assert "is booked; release the hold before archiving it." in text(response)
    item.refresh_from_db()
    assert (item.status, item.archived) == (Status.BOOKED, False)


def test_an_htmx_delete_of_a_booked_item_gets_its_row_back_with_a_409(owner_client, alice,
                                                                       item):
    services.book(item=item, member=alice)

    response = owner_client.post(reverse("manage-item-delete", args=[item.pk]),
                                 {"confirm": "yes"}, **HX)

    html = text(response)
    assert response.status_code == 409
    assert "<html" not in html
    assert f'<tr id="item-row-{item.pk}"' in html
    assert "release the hold before archiving it." in html
    assert Item.objects.filter(pk=item.pk, archived=False).exists()


def test_an_htmx_delete_tells_the_table_to_refresh(owner_client, item):
    response = owner_client.post(reverse("manage-item-delete", args=[item.pk]),
                                 {"confirm": "yes"}, **HX)

    assert response.status_code == 200
    assert response["HX-Trigger"] == "items-changed"
    assert "Deleted Desk lamp." in text(response)


# --- Mark sold ------------------------------------------------------------------------------


def test_marking_a_booked_item_sold_ends_the_hold(owner_client, alice, item):
    booking = services.book(item=item, member=alice)

    response = owner_client.post(reverse("manage-item-sold", args=[item.pk]), follow=True)

    assert "Desk lamp is marked as sold." in text(response)
    item.refresh_from_db()
    booking.refresh_from_db()
    assert item.status == Status.SOLD
    assert booking.state == "sold"


def test_marking_sold_from_the_table_with_htmx_returns_the_row(owner_client, alice, item):
    services.book(item=item, member=alice)

    response = owner_client.post(reverse("manage-item-sold", args=[item.pk]), **HX,
                                 HTTP_HX_TARGET=f"item-row-{item.pk}")

    html = text(response)
    assert response.status_code == 200
    assert "<html" not in html
    assert f'<tr id="item-row-{item.pk}"' in html
    assert "Sold" in html


# --- Bulk actions -----------------------------------------------------------------------------


def bulk(client, action: str, *items: Item, **extra):
    return client.post(reverse("manage-items-bulk"),
                       {"action": action, "ids": [str(i.pk) for i in items], **extra},
                       follow=True)


def test_bulk_mark_sold_marks_every_selected_item(owner_client):
    a, b, untouched = make_item("A"), make_item("B"), make_item("C")

    response = bulk(owner_client, "sold", a, b)

    assert "Updated 2 items." in text(response)
    assert set(Item.objects.filter(status=Status.SOLD).values_list("name", flat=True)) == {"A", "B"}
    untouched.refresh_from_db()
    assert untouched.status == Status.AVAILABLE


def test_bulk_mark_available_brings_sold_items_back(owner_client):
    a, b = make_item("A", status=Status.SOLD), make_item("B", status=Status.SOLD)

    bulk(owner_client, "available", a, b)

    assert Item.objects.filter(status=Status.AVAILABLE).count() == 2
    assert Change.objects.filter(action="status", to_status="available").count() == 2


def test_bulk_archive_archives_every_selected_item(owner_client):
    a, b = make_item("A"), make_item("B", status=Status.SOLD)

    response = bulk(owner_client, "archive", a, b)

    assert "Updated 2 items." in text(response)
    assert Item.objects.filter(archived=True).count() == 2


@pytest.mark.parametrize(("action", "warning"), [
    ("available", "Desk lamp is booked; release the hold instead."),
    ("archive", "Desk lamp is booked; release the hold before archiving it."),
])
def test_a_booked_item_is_refused_by_bulk_available_or_archive_with_a_warning(
        owner_client, alice, item, action, warning):
    services.book(item=item, member=alice)
    other = make_item("Teapot", status=Status.SOLD)

    response = bulk(owner_client, action, item, other)

    html = text(response)
    assert "Updated 1 item." in html
    assert f'<p class="message message-warning">{warning}</p>' in html
    item.refresh_from_db()
    assert (item.status, item.archived) == (Status.BOOKED, False)


def test_bulk_without_a_selection_or_an_action_says_what_is_missing(owner_client, item):
    nothing_chosen = bulk(owner_client, "sold")
    no_action = bulk(owner_client, "", item)

    assert "Select at least one item first." in text(nothing_chosen)
    assert "Choose what to do with the selected items." in text(no_action)
    assert Item.objects.get(pk=item.pk).status == Status.AVAILABLE


def test_bulk_goes_back_to_the_filtered_table(owner_client, item):
    response = owner_client.post(reverse("manage-items-bulk"), {
        "action": "sold", "ids": [item.pk], "next": "/manage/items/?show=sold"})

    assert response.status_code == 303
    assert response.url == "/manage/items/?show=sold"


def test_bulk_never_redirects_to_another_site(owner_client, item):
    response = owner_client.post(reverse("manage-items-bulk"), {
        "action": "sold", "ids": [item.pk], "next": "https://evil.example.com/"})

    assert response.status_code == 303
    assert response.url == reverse("manage-items")


# --- Photos ---------------------------------------------------------------------------------


def move(client, item: Item, position: int, direction: str):
    photo = item.photos.get(position=position)
    return client.post(reverse("manage-photo-move", args=[item.pk, photo.pk]),
                       {"direction": direction})


def test_moving_the_second_photo_up_makes_it_the_cover(owner_client, item_with_photos):
    response = move(owner_client, item_with_photos, 1, "up")

    assert response.status_code == 303
    assert response.url == reverse("manage-item-edit", args=[item_with_photos.pk])
    assert widths(item_with_photos) == [50, 40, 60]
    cover = Item.objects.with_cover().get(pk=item_with_photos.pk).cover_thumb
    assert cover == item_with_photos.photos.get(width=50).thumb
    assert Change.objects.filter(item=item_with_photos, detail="new cover").exists()


def test_moving_a_photo_down_swaps_it_with_the_next(owner_client, item_with_photos):
    move(owner_client, item_with_photos, 0, "down")

    assert widths(item_with_photos) == [50, 40, 60]


def test_moving_the_cover_up_or_the_last_down_changes_nothing(owner_client, item_with_photos):
    move(owner_client, item_with_photos, 0, "up")
    move(owner_client, item_with_photos, 2, "down")

    assert widths(item_with_photos) == [40, 50, 60]


def test_the_edit_page_lists_the_photos_with_the_cover_first(owner_client, item_with_photos):
    html = text(owner_client.get(reverse("manage-item-edit", args=[item_with_photos.pk])))

    assert "<strong>Cover</strong>" in html
    assert "Move up" in html and "Move down" in html and "Remove" in html


def test_removing_the_cover_makes_the_next_photo_the_cover_and_deletes_its_files(
        owner_client, item_with_photos, settings, django_capture_on_commit_callbacks):
    cover = item_with_photos.photos.get(position=0)

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            reverse("manage-photo-delete", args=[item_with_photos.pk, cover.pk]), follow=True)

    assert "Photo removed." in text(response)
    assert widths(item_with_photos) == [50, 60]
    assert list(item_with_photos.photos.values_list("position", flat=True)) == [0, 1]
    files = media_files(settings)
    assert cover.display not in files and cover.thumb not in files
    assert len(files) == 4


def test_adding_photos_puts_them_after_the_others(owner_client, item_with_photos):
    response = owner_client.post(
        reverse("manage-photo-add", args=[item_with_photos.pk]),
        {"photos": [photo_upload("a.png", (70, 30)), photo_upload("b.png", (80, 30))]},
        follow=True)

    assert "Added 2 photos." in text(response)
    assert widths(item_with_photos) == [40, 50, 60, 70, 80]


def test_adding_a_file_that_is_not_a_photo_says_so_and_adds_nothing(owner_client, item):
    response = owner_client.post(
        reverse("manage-photo-add", args=[item.pk]),
        {"photos": [SimpleUploadedFile("notes.png", b"plain text", "image/png")]}, follow=True)

    assert "notes.png is not a JPEG, PNG or WebP image." in text(response)
    assert not item.photos.exists()


def test_a_photo_of_another_item_is_a_404(owner_client, item, item_with_photos):
    photo = item_with_photos.photos.first()

    response = owner_client.post(reverse("manage-photo-delete", args=[item.pk, photo.pk]))

    assert response.status_code == 404
    assert Photo.objects.filter(pk=photo.pk).exists()


# --- History --------------------------------------------------------------------------------


def test_the_history_lists_every_change_with_who_and_when(owner_client, owner, alice, item):
    services.update_item(item_id=item.pk, actor=owner, expected_version=item.version,
                         price=Decimal("12.00"))
    booking = services.book(item=item, member=alice)
    services.cancel(booking=booking, member=alice)

    html = text(owner_client.get(reverse("manage-item-history", args=[item.pk])))

    assert "History of Desk lamp" in html
    for action in ("created", "edited", "booked", "cancelled"):
        assert f"<td>{action}</td>" in html
    assert "price: 10.00 → 12.00" in html
    assert f"<td>{owner.email}</td>" in html
    assert "<td>alice@example.com</td>" in html
    assert "<time datetime=" in html
    assert html.index("<td>cancelled</td>") < html.index("<td>created</td>")  # newest first


# --- CSV --------------------------------------------------------------------------------------


def test_the_csv_export_streams_every_item_under_a_header(owner_client):
    make_item("Desk lamp", "10.00")
    make_item("=cmd|' /C calc'!A0", "1.50", archived=True)

    response = owner_client.get(reverse("manage-items-export"))

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="secondhand-items-')
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == ("id,name,description,price,category,condition,status,archived,"
                        "created_at,updated_at")
    assert len(lines) == 3
    assert ",Desk lamp,,10.00,other,good,available,no," in lines[1]
    assert "'=cmd" in lines[2]


def test_the_import_page_explains_the_columns(owner_client):
    html = text(owner_client.get(reverse("manage-items-import")))

    assert "Import items from CSV" in html
    assert 'type="file"' in html


def test_a_bad_csv_is_reported_by_line_and_column_and_writes_nothing(owner_client, item):
    csv = (b"name,price,condition\n"
           b"Teapot,4.50,good\n"
           b"Kettle,abc,good\n"
           b",3.00,worn out\n")

    response = owner_client.post(reverse("manage-items-import"),
                                 {"file": SimpleUploadedFile("items.csv", csv, "text/csv")})

    html = text(response)
    assert response.status_code == 422
    assert "Nothing was imported." in html
    assert "Line 3, column “price”" in html
    assert "Line 4, column “name”: A name is required." in html
    assert "Line 4, column “condition”" in html
    assert list(Item.objects.values_list("name", flat=True)) == ["Desk lamp"]
    assert Change.objects.count() == 1


def test_a_good_csv_is_imported_and_logged(owner_client, owner, item):
    csv = (f"id,name,price\n"
           f"{item.pk},Desk lamp,11.00\n"
           f",Teapot,4.50\n"
           f",Kettle,8\n").encode()

    response = owner_client.post(reverse("manage-items-import"),
                                 {"file": SimpleUploadedFile("items.csv", csv, "text/csv")},
                                 follow=True)

    assert response.redirect_chain == [(reverse("manage-items"), 303)]
    assert "Imported: 2 new, 1 updated, 0 unchanged." in text(response)
    assert set(Item.objects.values_list("name", "price")) == {
        ("Desk lamp", Decimal("11.00")), ("Teapot", Decimal("4.50")),
        ("Kettle", Decimal("8.00"))}
    assert Change.objects.filter(action="created", actor=owner).count() == 3
    assert Change.objects.filter(action="edited", actor=owner).count() == 1


def test_an_import_without_a_file_asks_for_one(owner_client):
    response = owner_client.post(reverse("manage-items-import"))

    assert response.status_code == 422
    assert "Choose a CSV file to import." in text(response)


def test_an_empty_new_item_post_says_what_is_missing(owner_client):
    response = owner_client.post("/manage/items/new/", {})

    assert response.status_code == 422
    assert b"This field is required" in response.content
    assert not Item.objects.exists()


def test_an_inline_save_says_so(owner_client):
    item = Item.objects.create(name="Lamp", price="10.00")
    response = owner_client.post(f"/manage/items/{item.pk}/edit/", {
        "name": "Lamp", "description": "", "price": "12.00", "category": "other",
        "condition": "good", "version": item.version}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert b"Saved Lamp." in response.content
    assert b'id="messages"' in response.content
