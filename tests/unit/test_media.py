from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.http import Http404
from django.test import RequestFactory
from django.urls import re_path
from django.utils.http import http_date
from PIL import Image

from secondhand_site.views import media

# A tiny urlconf with the route urls.py is expected to carry, for the through-the-stack test.
urlpatterns = [re_path(r"^media/(?P<path>.+)$", media.serve_media, name="media")]

PHOTO_NAME = "items/0123456789abcdef0123456789abcdef.webp"


@pytest.fixture
def media_root(settings) -> Path:
    root = Path(settings.MEDIA_ROOT)
    (root / "items").mkdir(parents=True)
    return root


@pytest.fixture
def photo_bytes(media_root) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "WEBP")
    (media_root / PHOTO_NAME).write_bytes(out.getvalue())
    return out.getvalue()


@pytest.fixture
def secret(tmp_path) -> Path:
    """A file beside the media folder that must never be served."""
    path = tmp_path / "secret.webp"
    path.write_bytes(b"not for you")
    return path


def get(path: str, method: str = "get", **headers):
    request = getattr(RequestFactory(), method)(f"/media/{path}", headers=headers)
    return media.serve_media(request, path)


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_a_stored_photo_is_served_with_long_caching_and_safe_headers(photo_bytes):
    response = get(PHOTO_NAME)

    assert response.status_code == 200
    assert body(response) == photo_bytes
    assert response["Content-Type"] == "image/webp"
    assert response["Content-Length"] == str(len(photo_bytes))
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == "inline"
    assert "Last-Modified" in response


@pytest.mark.parametrize(("suffix", "content_type"), [
    ("jpg", "image/jpeg"), ("jpeg", "image/jpeg"), ("png", "image/png"), ("WEBP", "image/webp"),
])
def test_each_image_type_gets_its_content_type(media_root, suffix, content_type):
    (media_root / f"items/photo.{suffix}").write_bytes(b"image bytes")

    assert get(f"items/photo.{suffix}")["Content-Type"] == content_type


def test_head_is_answered_too(photo_bytes):
    assert get(PHOTO_NAME, method="head").status_code == 200


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_other_methods_are_not_allowed(photo_bytes, method):
    assert get(PHOTO_NAME, method=method).status_code == 405


def test_an_unchanged_photo_gets_not_modified(photo_bytes, media_root):
    mtime = (media_root / PHOTO_NAME).stat().st_mtime

    response = get(PHOTO_NAME, **{"If-Modified-Since": http_date(mtime + 10)})

    assert response.status_code == 304


def test_a_missing_photo_is_not_found(media_root):
    with pytest.raises(Http404):
        get("items/ffffffffffffffffffffffffffffffff.webp")


@pytest.mark.parametrize("path", [
    "../secret.webp",
    "items/../../secret.webp",
    "./items/../../secret.webp",
    "items/./x.webp",
    "items//x.webp",
    "/etc/passwd.png",
    "items\\..\\..\\secret.webp",
    "..%2fsecret.webp",
    "items/x.webp\x00.png",
    "items/.hidden.webp",
    "items/",
    "items",
    "~/secret.webp",
])
def test_paths_that_try_to_leave_the_media_folder_are_not_found(media_root, secret, path):
    with pytest.raises(Http404):
        get(path)


def test_a_link_pointing_out_of_the_media_folder_is_not_followed(media_root, secret):
    (media_root / "items/link.webp").symlink_to(secret)

    with pytest.raises(Http404):
        get("items/link.webp")


@pytest.mark.parametrize("name", [
    "page.html", "drawing.svg", "notes.txt", "photo.gif", "script.js", "noextension",
])
def test_files_that_are_not_photos_are_not_served(media_root, name):
    (media_root / "items" / name).write_bytes(b"<script>alert(1)</script>")

    with pytest.raises(Http404):
        get(f"items/{name}")


def test_a_photo_named_link_to_another_type_is_not_served(media_root):
    (media_root / "items/page.html").write_bytes(b"<script>alert(1)</script>")
    (media_root / "items/fake.webp").symlink_to(media_root / "items/page.html")

    with pytest.raises(Http404):
        get("items/fake.webp")


def test_a_folder_named_like_a_photo_is_not_found(media_root):
    (media_root / "items/folder.webp").mkdir()

    with pytest.raises(Http404):
        get("items/folder.webp")


@pytest.mark.urls(__name__)
def test_the_route_serves_photos_and_refuses_encoded_traversal(client, photo_bytes, secret):
    response = client.get(f"/media/{PHOTO_NAME}")
    assert response.status_code == 200
    assert response.getvalue() == photo_bytes

    assert client.get("/media/%2e%2e/secret.webp").status_code == 404
    assert client.get("/media/items/%2e%2e/%2e%2e/secret.webp").status_code == 404
    assert client.get("/media/items%5c..%5c..%5csecret.webp").status_code == 404
