"""No request of any shape gets a 500 (DESIGN.md, "Responses").

Every URL of urls.py gets odd requests as an anonymous visitor, as a member and as an
owner: every method, odd ids, odd query strings, missing and garbage form fields, odd
bodies and uploads, odd htmx targets, requests without a CSRF token or for a host the
site does not serve. A request the site refuses leaves the database as it was. The raw
ASGI /events/ endpoint is driven directly with odd query strings, headers and methods.

The test client re-raises an exception a view lets out, so a 500 shows up as its
traceback: that exception is the bug.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from secondhand_site import live, services
from secondhand_site.models import Booking, Change, Item, Photo, QueueEntry, Status, User
from secondhand_site.photos import MAX_PHOTOS_PER_ITEM

pytestmark = pytest.mark.django_db

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND")
HUGE = "99999999999999999999"  # more than any database integer
ODD_IDS = ("0", "1", HUGE, str(2**63), str(2**63 - 1), str(2**31), "9" * 400)

# Every URL of urls.py; {free} {held} {sold} {archived} are items, {booking} is Bob's
# active hold, {ended} Alice's cancelled booking, {photo} a photo of {free}.
GET_URLS = [
    "/",
    "/items/{free}/",
    "/items/{free}/card/",
    "/items/{free}/panel/",
    "/bookings/",
    "/account/",
    "/account/export/",
    "/account/delete/",
    "/manage/",
    "/manage/items/",
    "/manage/items/new/",
    "/manage/items/export.csv",
    "/manage/items/import/",
    "/manage/items/{free}/row/",
    "/manage/items/{free}/edit/",
    "/manage/items/{free}/history/",
    "/manage/bookings/",
    "/media/items/none.webp",
    "/healthz",
    "/favicon.ico",
    "/accounts/login/",
    "/accounts/signup/",
    "/accounts/logout/",
    "/accounts/email/",
    "/accounts/confirm-email/",
    "/accounts/confirm-email/garbage-key/",
    "/accounts/password/change/",
    "/accounts/password/set/",
    "/accounts/password/reset/",
    "/accounts/password/reset/done/",
    "/accounts/password/reset/key/done/",
    "/accounts/password/reset/key/zz-garbage/",
    f"/accounts/password/reset/key/{'z' * 40}-x/",
    "/accounts/password/reset/key/1-%00/",
    "/accounts/password/reset/key/1-set-password/",
    "/accounts/inactive/",
    "/accounts/reauthenticate/",
    "/accounts/login/code/confirm/",
]
POST_URLS = [
    "/items/{free}/book/",
    "/items/{held}/waitlist/",
    "/items/{held}/waitlist/leave/",
    "/bookings/{booking}/cancel/",
    "/account/delete/",
    "/manage/items/new/",
    "/manage/items/bulk/",
    "/manage/items/import/",
    "/manage/items/{free}/edit/",
    "/manage/items/{free}/delete/",
    "/manage/items/{held}/sold/",
    "/manage/items/{free}/photos/",
    "/manage/items/{free}/photos/{photo}/move/",
    "/manage/items/{free}/photos/{photo}/delete/",
    "/manage/bookings/{booking}/release/",
    "/accounts/login/",
    "/accounts/signup/",
    "/accounts/logout/",
    "/accounts/email/",
    "/accounts/confirm-email/garbage-key/",
    "/accounts/password/change/",
    "/accounts/password/set/",
    "/accounts/password/reset/",
    "/accounts/password/reset/key/zz-garbage/",
    "/accounts/reauthenticate/",
]
ALL_URLS = GET_URLS + [u for u in POST_URLS if u not in GET_URLS]
# The URLs with ids in them (the allauth ones take keys, not ids).
ID_URLS = [u for u in ALL_URLS if "{" in u]
# The state-changing URLs that answer htmx with a fragment chosen by HX-Target.
RESPOND_URLS = [
    "/items/{free}/book/",
    "/items/{held}/waitlist/",
    "/items/{held}/waitlist/leave/",
    "/bookings/{booking}/cancel/",
    "/bookings/{ended}/cancel/",
    "/manage/items/{held}/sold/",
    "/manage/bookings/{booking}/release/",
    "/manage/bookings/{ended}/release/",
]
ODD_TARGETS = ["my-bookings", "manage-bookings", "item-row-5", "item-row-{free}",
               "item-row-", "item-card-abc", "item-card-{held}", "item-card-", "item-panel-x",
               "item-panel-{sold}", "", " ", "\x00", "x" * 5000, "é", "#manage-bookings"]

ODD_QUERIES = [
    "page=" + str(10**30), "page=abc", "page=-1", "page=0", "page=1e999", "page=NaN",
    "page=1&page=2", "page=%00", "q=%00", "q=a%00b", "q=%FF%FE", "q=" + "x" * 20000,
    "q=%E2%80%AE", "q[]=1", "min_price=1e999", "min_price=NaN", "max_price=-0",
    "min_price=Infinity", "max_price=-Infinity", "min_price=" + HUGE, "min_price=-1",
    "min_price=5&max_price=1", "min_price=%00", "min_price=1,5", "sort=evil",
    "sort=-price&sort=name", "status=archived", "status=%00", "category=../../etc",
    "condition=%FF", "photo=" + HUGE, "photo=-5", "photo=" + "9" * 5000, "photo=%00",
    "show=archived", "show=booked", "show=%00", "next=//evil.example/", "next=%00",
    "%FF=%FF", "&&&==", "a=%", "a=%G0", "=", "q=%C0%AF", "ids=abc&ids=1", "action=unknown",
    "key=%00", "email=%00", "redirect_to=javascript:alert(1)",
]

ODD_FORMS: list[dict] = [
    {},
    {"next": "//evil.example/"},
    {"next": "javascript:alert(1)"},
    {"next": "/\r\nSet-Cookie: x=1"},
    {"next": "\x00"},
    {"next": ["/a", "/b"]},
    {"confirm": "yes"},
    {"confirm": ["yes", "no"]},
    {"ids": ["abc", "1", "²", "٣", HUGE, "-1", "1e3", "", " 2", "9" * 5000],
     "action": "sold"},
    {"ids": ["abc", "1"], "action": "unknown"},
    {"ids": "1", "action": ["sold", "archive"]},
    {"ids": HUGE, "action": "archive"},
    {"ids": "²", "action": "available"},
    {"action": "\x00", "ids": "\x00"},
    {"direction": "up"},
    {"direction": ["up", "down"]},
    {"direction": "\x00"},
    {"password": "\x00"},
    {"password": "x" * 100_000},
    {"password": ["a", "b"]},
    {"email": "\x00@example.com", "password": "\x00", "login": "\x00"},
    {"email": "a@" + "x" * 10_000 + ".com", "password1": "x", "password2": "y"},
    {"login": ["a@example.com", "b@example.com"], "password": "x"},
    {"action_remove": "", "email": "nobody@example.com"},
    {"action_primary": "", "email": "\x00"},
    {"action_send": "", "email": HUGE},
    {"oldpassword": "\x00", "password1": "\x00", "password2": "\x00"},
    {"action_add": "", "email": "\x00@example.com"},
    {"action_add": "", "email": "a" * 300 + "@example.com"},  # longer than the column
    {"email": "a" * 300 + "@example.com", "password1": "correct-horse-battery-9",
     "password2": "correct-horse-battery-9"},
    {"first_name": "x" * 500, "last_name": "\x00"},
    {"file": "not a file"},
    {"photos": "not a file"},
    *({"name": "Lamp", "price": price, "category": "other", "condition": "good",
       "version": "1"} for price in ("1e999", "NaN", "-0", "-1", "Infinity", "-Infinity",
                                      HUGE, "0.001", "\x00", "１２", "1,50", "sNaN", "")),
    *({"name": "Lamp", "price": "1", "category": "other", "condition": "good",
       "version": version} for version in ("abc", "-1", "0", HUGE, "1.5", "", "\x00",
                                           "9" * 5000, "1e3")),
    {"name": "\x00", "description": "\x00", "price": "1", "category": "\x00",
     "condition": "\x00", "version": "1"},
    {"name": "x" * 100_000, "description": "y" * 1_000_000, "price": "1",
     "category": "other", "condition": "good"},
    {"name": ["a", "b"], "price": ["1", "2"], "category": ["other", "nope"]},
]

# Bodies that are not what the form parser expects (content type, body).
ODD_BODIES = [
    ("application/x-www-form-urlencoded", b"%FF=%FF&name=%00&price=%FE"),
    ("application/x-www-form-urlencoded", b"a=%&b=%G0&&&==&ids=%C0%AF"),
    ("application/x-www-form-urlencoded", b"\xff\xfe\x00garbage"),
    ("application/x-www-form-urlencoded; charset=utf-16", b"a=b"),
    ("application/x-www-form-urlencoded; charset=nonsense", b"a=b"),
    ("multipart/form-data; boundary=xyz", b"this is not multipart"),
    ("multipart/form-data", b"--xyz\r\n\r\n--xyz--"),
    ("multipart/form-data; boundary=", b""),
    ("multipart/form-data; boundary=xyz",
     b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\n"
     b"name,price\r\n"),  # cut off before its closing boundary
    ("multipart/form-data; boundary=xyz",
     b"--xyz\r\nContent-Disposition: form-data; name=\"\xff\"\r\n\r\nx\r\n--xyz--\r\n"),
    ("application/json", b"{"),
    ("text/plain", b"\x00" * 100),
    ("", b""),
]


# --- The site the requests are sent to -------------------------------------------------------


def png(size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def photo_upload(name: str = "photo.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png(), content_type="image/png")


@dataclass
class Site:
    ids: dict[str, int]
    users: dict[str, User]
    clients: dict[str, Client]

    def url(self, template: str) -> str:
        return template.format(**self.ids)


@pytest.fixture
def site(owner, alice, bob) -> Site:
    def item(name: str, **extra) -> Item:
        return services.create_item(actor=owner, name=name, price=Decimal("10.00"), **extra)

    free = item("Desk lamp", photos=[photo_upload(), photo_upload()])
    held = item("Oak bookshelf", photos=[photo_upload()])
    sold = item("Bicycle")
    archived = item("Old radio")
    booking = services.book(item=held, member=bob)
    ended = services.book(item=sold, member=alice)
    services.cancel(booking=ended, member=alice)
    services.mark_sold(item=sold, actor=owner)
    services.archive_item(item=archived, actor=owner)
    photo = free.photos.order_by("position").last()

    users = {"member": alice, "owner": owner}
    clients = {"anonymous": Client()}
    for persona, user in users.items():
        clients[persona] = Client()
        clients[persona].force_login(user)
    ids = {"free": free.pk, "held": held.pk, "sold": sold.pk, "archived": archived.pk,
           "booking": booking.pk, "ended": ended.pk, "photo": photo.pk,
           "other_photo": held.photos.get().pk}
    return Site(ids=ids, users=users, clients=clients)


def send(client: Client, method: str, path: str, **kwargs):
    """One request; the response, whose status must be below 500. A body given as bytes
    is sent as it is (client.post would encode it again in its content type's charset)."""
    if method == "HEAD":
        response = client.head(path, **kwargs)
    elif method == "GET":
        response = client.get(path, **kwargs)
    elif method == "POST" and not isinstance(kwargs.get("data"), bytes):
        response = client.post(path, **kwargs)
    else:
        response = client.generic(method, path, **kwargs)
    assert response.status_code < 500, \
        f"{method} {path!r} {repr(kwargs)[:300]}: {response.status_code}"
    return response


def snapshot() -> tuple:
    """Everything a refused request must leave as it was."""
    return (
        list(Item.objects.order_by("pk").values_list("pk", "name", "price", "status",
                                                     "archived", "version")),
        list(Booking.objects.order_by("pk").values_list("pk", "state", "member_id")),
        list(QueueEntry.objects.order_by("pk").values_list("pk", "item_id", "member_id")),
        list(Photo.objects.order_by("pk").values_list("pk", "item_id", "position")),
        Change.objects.count(),
    )


def with_odd_id(template: str, odd: str) -> list[str]:
    """The URL with each of its ids, one at a time, replaced by `odd`."""
    out = []
    for name in ("free", "held", "booking", "ended", "photo"):
        if "{" + name + "}" in template:
            out.append(template.replace("{" + name + "}", odd))
    return out


PERSONAS = ("anonymous", "member", "owner")


# --- Every URL, every method, every persona -------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("url", ALL_URLS)
def test_every_method_on_every_url(site, persona, url):
    for method in METHODS:
        send(site.clients[persona], method, site.url(url))


@pytest.mark.parametrize("persona", ("member", "owner"))
@pytest.mark.parametrize("url", ID_URLS)
def test_odd_ids_are_not_found(site, persona, url):
    client = site.clients[persona]
    for odd in ODD_IDS:
        for path in with_odd_id(url, odd):
            for method in ("GET", "POST"):
                response = send(client, method, site.url(path))
                if odd in (HUGE, str(2**63), "9" * 400):
                    refused = (404, 405) if persona == "owner" else (403, 404, 405)
                    assert response.status_code in refused, (method, path)


def test_a_negative_id_is_not_a_url(site):
    for url in ID_URLS:
        for path in with_odd_id(url, "-1"):
            assert send(site.clients["owner"], "GET", site.url(path)).status_code == 404


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("url", GET_URLS)
def test_odd_query_strings(site, persona, url):
    client = site.clients[persona]
    for query in ODD_QUERIES:
        send(client, "GET", f"{site.url(url)}?{query}")
    send(client, "GET", site.url(url), data={"q": "\x00", "page": ["1", "2"]},
         HTTP_HX_REQUEST="true")


@pytest.mark.parametrize("persona", ("member", "owner"))
@pytest.mark.parametrize("url", POST_URLS)
def test_odd_form_fields(site, persona, url):
    client = site.clients[persona]
    for data in ODD_FORMS:
        send(client, "POST", site.url(url), data=data)
        client.force_login(site.users[persona])  # /accounts/logout/ did log them out
    for data in ODD_FORMS[:6]:
        send(client, "POST", site.url(url) + "?next=%00&ids=abc&ids=1&action=unknown",
             data=data, HTTP_HX_REQUEST="true")


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("url", POST_URLS)
def test_odd_bodies(site, persona, url):
    client = site.clients[persona]
    for content_type, body in ODD_BODIES:
        send(client, "POST", site.url(url), data=body, content_type=content_type)


# --- Uploads -------------------------------------------------------------------------------


def odd_files(field: str) -> list[dict]:
    def upload(name: str, data: bytes, content_type: str = "application/octet-stream"):
        return {field: SimpleUploadedFile(name, data, content_type=content_type)}

    return [
        {},  # no file at all
        {field: ""},  # the field, but as text
        upload("notes.txt", b"just some text\n", "text/plain"),
        upload("empty.png", b"", "image/png"),
        upload("../../etc/passwd.png", png()),
        upload("C:\\Windows\\evil.png", png()),
        upload("/absolute/path.csv", b"name,price\nLamp,1\n", "text/csv"),
        upload("x" * 1000 + ".png", png()),
        upload("fake.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png"),
        {field: [SimpleUploadedFile("a.png", png()), SimpleUploadedFile("b.txt", b"x")]},
        {field: [SimpleUploadedFile(f"{n}.png", png()) for n in range(15)]},
    ]


def multipart(fields: dict[str, str], field: str, filename: bytes, data: bytes,
              ) -> tuple[str, bytes]:
    """A form with one file, built by hand: file names the test client will not send."""
    parts = [f'--b\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
             .encode() for name, value in fields.items()]
    parts.append(b'--b\r\nContent-Disposition: form-data; name="' + field.encode()
                 + b'"; filename="' + filename + b'"\r\n'
                 b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n")
    return "multipart/form-data; boundary=b", b"".join(parts) + b"--b--\r\n"


ODD_FILE_NAMES = [b"", b".", b"..", b"/", b"../../x.png", b"\x00.png", b"a\x00b.csv",
                  b"\xff\xfe.png", b"%00.png", b"C:\\evil.png", b"x" * 5000, b"\\\\host\\share"]
ITEM_FIELDS = {"name": "Lamp", "price": "1", "category": "other", "condition": "good"}


@pytest.mark.parametrize("url", ["/manage/items/new/", "/manage/items/{free}/photos/",
                                  "/manage/items/import/"])
def test_odd_uploads(site, url, settings, tmp_path):
    client = site.clients["owner"]
    for field in ("photos", "file"):
        for files in odd_files(field):
            send(client, "POST", site.url(url), data={**ITEM_FIELDS, **files})
        for name in ODD_FILE_NAMES:
            for data in (b"", png(), b"name,price\nLamp,1\n"):
                content_type, body = multipart(ITEM_FIELDS, field, name, data)
                send(client, "POST", site.url(url), data=body, content_type=content_type)
    # Whatever the upload called itself, only re-encoded photos under random names landed,
    # and only in the media folder.
    stored = [p.relative_to(settings.MEDIA_ROOT).as_posix()
              for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]
    assert stored and all(re.fullmatch(r"items/[0-9a-f]{32}(-thumb)?\.(webp|jpg)", name)
                          for name in stored), stored
    assert sorted(p.name for p in tmp_path.iterdir()) == ["media"]


ODD_CSVS = [
    b"",
    b"\xef\xbb\xbf",
    b"id,name,price\n",  # only a header
    b"\xef\xbb\xbfname,price\nLamp,1\n",  # UTF-8 with a BOM
    "name,price\nLamp,1\n".encode("utf-16"),  # UTF-16 with its BOM
    "name,price\nL\u00e4mp,1\n".encode("latin-1"),
    "name,price\nLamp,1\n".encode("utf-32"),
    b"name,price\nLa\x00mp,1\n",
    b"\x00\x00\x00\x00",
    b"\xff\xfe\xfd",
    b"name,price\r\nLamp,1\r",
    b"name,price\rLamp,1\r",
    b'name,price\n"unclosed,1\n',
    b"name,price\nLamp," + b"9" * 5000 + b"\n",
    b"id,name,price\n" + HUGE.encode() + b",Lamp,1\n",
    b"id,name,price\n" + b"9" * 5000 + b",Lamp,1\n",
    "id,name,price\n\u00b2,Lamp,1\n".encode(),  # a digit that int() refuses
    "id,name,price\n\u0663,Lamp,1\n".encode(),  # an Arabic-Indic 3
    "name,price\nLamp,\u0661\u0662\n".encode(),  # Arabic-Indic digits as a price
    "name,price\nLamp,\uff11\n".encode(),  # a full-width 1
    b"name,price\nLamp,NaN\n",
    b"name,price\nLamp,1e999\n",
    b"name,price\nLamp,-0\n",
    b"name,price,status,archived\nLamp,1,booked,maybe\n",
    b"name,price,name\nLamp,1,Lamp\n",
    b",,,\n,,,\n",
    b"name,price\n" + b"x" * 200_000 + b",1\n",  # a cell over the csv module's limit
    b"name,price\n" + b"Lamp,1\n" * 20_001,
    b"name,price\nLamp,1\n" + b"a,b,c,d\n",
    b"=cmd|' /C calc'!A0,price\n",
]


def test_odd_csv_files(site):
    client = site.clients["owner"]
    for number, data in enumerate(ODD_CSVS):
        before = snapshot()
        response = send(client, "POST", "/manage/items/import/",
                        data={"file": SimpleUploadedFile(f"f{number}.csv", data, "text/csv")})
        if response.status_code != 303:  # refused: nothing was written
            assert response.status_code == 422, (number, data[:60])
            assert snapshot() == before, (number, data[:60])


# --- htmx targets ---------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("url", RESPOND_URLS)
def test_odd_htmx_targets(site, persona, url):
    client = site.clients[persona]
    for target in ODD_TARGETS:
        send(client, "POST", site.url(url), HTTP_HX_REQUEST="true",
             HTTP_HX_TARGET=site.url(target) if "{" in target else target)


@pytest.mark.parametrize("url", ["/manage/items/{free}/edit/", "/manage/items/{free}/delete/",
                                 "/manage/items/{held}/delete/"])
def test_odd_htmx_targets_on_the_owners_item_forms(site, url):
    client = site.clients["owner"]
    for target in ODD_TARGETS:
        for data in ({}, {"confirm": "yes"}, ODD_FORMS[-4]):
            send(client, "POST", site.url(url), data=data, HTTP_HX_REQUEST="true",
                 HTTP_HX_TARGET=target)


@pytest.mark.parametrize("target", ["manage-bookings", "item-row-{held}"])
def test_a_member_never_gets_an_owners_fragment(site, target):
    """The owner's fragments list who holds and who queues: a member asking for one by
    HX-Target gets their own view of the item instead."""
    response = send(site.clients["member"], "POST", site.url("/items/{free}/book/"),
                    HTTP_HX_REQUEST="true", HTTP_HX_TARGET=site.url(target))
    assert response.status_code == 200
    assert "bob@example.com" not in response.text
    assert 'id="manage-bookings"' not in response.text
    assert "<tr" not in response.text


# --- Other people's things and things that are gone -----------------------------------------


def test_a_member_cannot_cancel_or_release_someone_elses_booking(site):
    client = site.clients["member"]
    before = snapshot()
    for headers in ({}, {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "my-bookings"}):
        assert send(client, "POST", site.url("/bookings/{booking}/cancel/"),
                    **headers).status_code == 404
        assert send(client, "POST", site.url("/manage/bookings/{booking}/release/"),
                    **headers).status_code == 403
    assert snapshot() == before


def test_booking_what_is_not_for_sale(site):
    client = site.clients["member"]
    before = snapshot()
    assert send(client, "POST", site.url("/items/{archived}/book/")).status_code == 404
    assert send(client, "POST", site.url("/items/{archived}/waitlist/")).status_code == 404
    assert send(client, "POST", f"/items/{HUGE}/book/").status_code == 404
    for url in ("/items/{sold}/book/", "/items/{sold}/waitlist/", "/items/{held}/book/",
                "/items/{free}/waitlist/", "/items/{free}/waitlist/leave/"):
        response = send(client, "POST", site.url(url), HTTP_HX_REQUEST="true")
        assert response.status_code == 409, url
        assert send(client, "POST", site.url(url)).status_code == 303
    assert snapshot() == before


def test_ending_a_booking_that_has_ended_already(site):
    before = snapshot()
    for persona, url in (("owner", "/manage/bookings/{ended}/release/"),
                         ("member", "/bookings/{ended}/cancel/")):
        client = site.clients[persona]
        assert send(client, "POST", site.url(url), HTTP_HX_REQUEST="true").status_code == 409
        assert send(client, "POST", site.url(url)).status_code == 303
    assert snapshot() == before


def test_photos_past_the_limit_of_an_item_are_refused(site):
    """12 photos per item: the form counts the ones the item has already."""
    client = site.clients["owner"]
    url = site.url("/manage/items/{free}/photos/")
    has = Photo.objects.filter(item_id=site.ids["free"]).count()
    uploads = [photo_upload(f"{n}.png") for n in range(MAX_PHOTOS_PER_ITEM - has)]
    assert send(client, "POST", url, data={"photos": uploads}).status_code == 303
    before = snapshot()
    response = send(client, "POST", url, data={"photos": photo_upload()}, follow=True)
    assert "already has 12 photos" in response.text
    assert snapshot() == before


def test_a_photo_of_another_item(site):
    client = site.clients["owner"]
    before = snapshot()
    for action in ("move", "delete"):
        for direction in ("up", "down"):
            path = site.url(f"/manage/items/{{free}}/photos/{{other_photo}}/{action}/")
            response = send(client, "POST", path, data={"direction": direction})
            assert response.status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize("version,status", [("abc", 422), ("-1", 409), (HUGE, 409),
                                            ("1.5", 422), ("9" * 5000, 422)])
def test_an_edit_with_an_odd_version(site, version, status):
    client = site.clients["owner"]
    before = snapshot()
    data = {"name": "Renamed", "price": "3", "category": "other", "condition": "good",
            "version": version}
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        assert send(client, "POST", site.url("/manage/items/{free}/edit/"), data=data,
                    **headers).status_code == status
    assert snapshot() == before


def test_a_host_the_site_does_not_serve_gets_400_in_the_site_look(site):
    for persona in PERSONAS:
        for method, url in (("GET", "/"), ("GET", "/items/{free}/"), ("GET", "/manage/"),
                            ("POST", "/items/{free}/book/"), ("GET", "/nowhere/")):
            response = send(site.clients[persona], method, site.url(url),
                            HTTP_HOST="evil.example")
            assert response.status_code == 400
            assert "Bad request" in response.text
    response = send(site.clients["member"], "GET", "/", HTTP_HOST="bad host\x00:99")
    assert response.status_code == 400


@pytest.mark.parametrize("persona", ("anonymous", "member", "owner"))
def test_a_post_without_a_csrf_token_is_refused(site, persona):
    client = Client(enforce_csrf_checks=True)
    if persona != "anonymous":
        client.force_login(site.users[persona])
    before = snapshot()
    for url in POST_URLS:
        response = send(client, "POST", site.url(url), data={"confirm": "yes"})
        assert response.status_code == 403, url
    assert snapshot() == before


ODD_COOKIES = [
    {"sessionid": "abc\x00defghijklmnop"},  # a NUL, as the cookie's octal escape \\000
    {"sessionid": "x" * 5000},
    {"sessionid": "\xe9\xff"},
    {"sessionid": ""},
    {"csrftoken": "\x00" * 32},
    {"csrftoken": "x" * 5000},
    {"messages": "garbage\x00"},
]


@pytest.mark.parametrize("cookies", ODD_COOKIES)
def test_odd_cookies(site, cookies):
    client = Client()
    for name, value in cookies.items():
        client.cookies[name] = value
    for method, url in (("GET", "/"), ("GET", "/bookings/"), ("GET", "/manage/"),
                        ("POST", "/items/{free}/book/"), ("POST", "/accounts/login/")):
        send(client, method, site.url(url))


def test_oversized_requests_are_refused_with_400(site, settings):
    client = site.clients["owner"]
    before = snapshot()
    body = "&".join(f"ids={n}" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    response = send(client, "POST", "/manage/items/bulk/", data=body.encode(),
                    content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    big = b"name=" + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    response = send(client, "POST", site.url("/manage/items/{free}/edit/"), data=big,
                    content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    files = {"photos": [SimpleUploadedFile(f"{n}.png", b"x")
                        for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1)]}
    response = send(client, "POST", site.url("/manage/items/{free}/photos/"), data=files)
    assert response.status_code == 400
    assert snapshot() == before


def test_a_photo_with_odd_conditional_headers(site):
    photo = Photo.objects.get(pk=site.ids["photo"])
    for since in ("garbage", "", "\x00", "Sat, 01 Jan 99999 00:00:00 GMT",
                  "Mon, 31 Feb 2024 25:61:61 GMT", "-1", HUGE):
        for persona in PERSONAS:
            response = send(site.clients[persona], "GET", f"/media/{photo.display}",
                            HTTP_IF_MODIFIED_SINCE=since, HTTP_RANGE="bytes=99999-1")
            assert response.status_code == 200


def test_an_unknown_url_is_a_404(site):
    for path in ("/nowhere/", "/items/abc/", "/items/%FF/", "/items/%00/", "/%00",
                 "/manage/items/1/photos/abc/move/", "/media/../secret.png",
                 "/media/%00.png", "/media/a%0Ab.png", "/bookings/1/cancel/extra/"):
        assert send(site.clients["owner"], "GET", path).status_code == 404, path


# --- The event stream (raw ASGI, outside Django) --------------------------------------------


def _run(scope: dict, hub: live.Hub, *, seconds: float = 0.0) -> list[dict]:
    """Drive the ASGI endpoint until the client goes away after `seconds`."""
    sent: list[dict] = []

    async def receive():
        await asyncio.sleep(seconds)
        return {"type": "http.disconnect"}

    async def send_message(message):
        sent.append(message)

    asyncio.run(live.events(scope, receive, send_message))
    return sent


def _scope(method: str = "GET", headers: list | None = None, query: bytes = b"") -> dict:
    return {"type": "http", "method": method, "path": "/events/", "headers": headers or [],
            "query_string": query}


@pytest.fixture
def stream_hub(monkeypatch, tmp_path):
    """A started hub reading a change log of ids 1-10, of which it remembers 8-10."""
    path = tmp_path / "changes.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(f"CREATE TABLE {live.TABLE} (id INTEGER PRIMARY KEY, item_id INTEGER, "
                     "item_name TEXT, action TEXT, from_status TEXT, to_status TEXT)")
        conn.executemany(f"INSERT INTO {live.TABLE} VALUES (?, 7, 'Lamp', 'booked', "
                         "'available', 'booked')", [(n,) for n in range(1, 11)])
    monkeypatch.setattr(live, "BUFFER", 3)
    monkeypatch.setattr(live, "HEARTBEAT_SECONDS", 0.02)
    hub = live.Hub()
    hub.started = True
    hub.source = live.SQLiteSource(str(path))
    hub.publish([live.Event(id=n, item=7, name="Lamp", action="booked",
                            from_status="available", to_status="booked")
                 for n in range(1, 11)])
    monkeypatch.setattr(live, "hub", hub)
    yield hub
    hub.source.close()


ODD_POLLS = [b"poll=1&after=abc", b"poll=1&after=-5", b"poll=1&after=-" + HUGE.encode(),
             b"poll=1&after=" + HUGE.encode(), b"poll=1&after=" + b"9" * 5000,
             b"poll=1&after=%00", b"poll=1&after=%FF", b"poll=1&after=1&after=2",
             b"poll=1&after=1.5", b"poll=1&after=", b"poll=%FF&after=\xff",
             b"poll=1&after=%D9%A3", b"poll=1&after=+3", b"poll=1&after=1e3"]


@pytest.mark.parametrize("query", ODD_POLLS)
def test_the_polling_fallback_answers_odd_queries_with_json(stream_hub, query):
    start, body = _run(_scope(query=query), stream_hub)
    assert start["status"] == 200
    answer = json.loads(body["body"])
    assert answer["last"] == 10
    assert all(c["id"] >= 1 for c in answer["changes"])


ODD_LAST_IDS = [
    ([], b"last_event_id=x"),
    ([], b"last_event_id=-5"),
    ([], b"last_event_id=-" + HUGE.encode()),
    ([], b"last_event_id=" + HUGE.encode()),
    ([], b"last_event_id=%00&last_event_id=3"),
    ([(b"last-event-id", b"garbage")], b""),
    ([(b"last-event-id", b"\xff\xfe\x00")], b""),
    ([(b"last-event-id", b"-" + HUGE.encode())], b""),
    ([(b"last-event-id", b"9" * 5000)], b""),
    ([(b"last-event-id", b"")], b"last_event_id=abc"),
    ([(b"last-event-id", b"1"), (b"last-event-id", b"x")], b""),
    ([(b"accept", b"\x00")], b"\xff\xfe=%FF"),
]


@pytest.mark.parametrize("headers,query", ODD_LAST_IDS)
def test_the_stream_answers_odd_last_event_ids(stream_hub, headers, query):
    start, *bodies = _run(_scope(headers=headers, query=query), stream_hub, seconds=0.05)
    assert start["status"] == 200
    text = b"".join(m["body"] for m in bodies).decode()
    assert text.startswith("retry: 2000\n")
    assert stream_hub.subscribers == set()


@pytest.mark.parametrize("method", ["POST", "DELETE", "PUT", "PATCH", "OPTIONS", "get", ""])
def test_the_stream_refuses_other_methods(stream_hub, method):
    start, body = _run(_scope(method=method), stream_hub)
    assert start["status"] == 405
    assert dict(start["headers"])[b"allow"] == b"GET"


def test_the_stream_answers_head_without_a_body(stream_hub):
    start, body = _run(_scope(method="HEAD"), stream_hub)
    assert start["status"] == 200 and body["body"] == b""


def test_nothing_here_gave_items_away(site):
    """The fixture's own sanity: the items are in the states the tests assume."""
    assert Item.objects.get(pk=site.ids["held"]).status == Status.BOOKED
    assert Item.objects.get(pk=site.ids["sold"]).status == Status.SOLD
    assert Item.objects.get(pk=site.ids["archived"]).archived
