from __future__ import annotations

import io
import re
import struct
import zlib
from pathlib import Path

import pytest
from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError
from django.utils.datastructures import MultiValueDict
from PIL import ExifTags, Image

from secondhand_site import photos
from secondhand_site.models import Item, Photo
from secondhand_site.photos import (
    DISPLAY_SIZE,
    MAX_PHOTOS_PER_ITEM,
    MAX_UPLOAD_BYTES,
    THUMB_SIZE,
    MultiplePhotoField,
    PhotoError,
    delete_photo_files,
    demo_image,
    process_upload,
    store_photo,
)

RED, BLUE = (220, 20, 20), (20, 20, 220)


def image_bytes(fmt: str, size=(400, 300), mode="RGB", colour=RED, **save) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, colour).save(out, fmt, **save)
    return out.getvalue()


def upload(name: str, data: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def sideways_jpeg_with_gps() -> bytes:
    """Stored 400x200, red left half and blue right; EXIF says turn it 90° clockwise."""
    img = Image.new("RGB", (400, 200), RED)
    img.paste(BLUE, (200, 0, 400, 200))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "PhoneMaker"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 22.0, 1.0)
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif, quality=95)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny, valid-looking PNG whose header claims width x height pixels."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body)
        )
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def opened(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def is_reddish(pixel) -> bool:
    r, g, b = pixel[:3]
    return r > 150 and b < 100


def is_bluish(pixel) -> bool:
    r, g, b = pixel[:3]
    return b > 150 and r < 100


@pytest.fixture
def item(db):
    return Item.objects.create(name="Lamp", price="10.00")


@pytest.fixture
def media_root(settings) -> Path:
    return Path(settings.MEDIA_ROOT)


# --- process_upload ----------------------------------------------------------------


def test_a_sideways_phone_photo_comes_out_upright_without_any_exif():
    data = sideways_jpeg_with_gps()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # sanity

    result = process_upload(upload("phone.jpg", data))

    assert (result.width, result.height) == (200, 400)
    display = opened(result.display)
    assert display.size == (200, 400)
    assert is_reddish(display.getpixel((100, 50)))
    assert is_bluish(display.getpixel((100, 350)))
    for out in (result.display, result.thumb):
        img = opened(out)
        assert len(img.getexif()) == 0
        assert not {"exif", "xmp", "icc_profile", "comment"} & set(img.info)
        assert b"PhoneMaker" not in out


def test_the_output_is_webp():
    result = process_upload(upload("lamp.jpg", image_bytes("JPEG")))

    assert result.content_type == "image/webp"
    assert opened(result.display).format == "WEBP"
    assert opened(result.thumb).format == "WEBP"


def test_a_png_with_transparency_is_flattened_onto_white():
    img = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    img.paste((20, 20, 220, 255), (0, 0, 150, 200))
    out = io.BytesIO()
    img.save(out, "PNG")

    result = process_upload(upload("logo.png", out.getvalue(), "image/png"))

    display = opened(result.display)
    assert display.mode == "RGB"
    assert is_bluish(display.getpixel((50, 100)))
    assert min(display.getpixel((250, 100))) > 240


def test_a_palette_png_and_a_16_bit_grey_png_are_accepted():
    palette = process_upload(upload("p.png", image_bytes("PNG", mode="P", colour=3)))
    grey = process_upload(upload("g.png", image_bytes("PNG", mode="I;16", colour=40000)))

    assert (palette.width, palette.height) == (400, 300)
    assert 140 < opened(grey.display).getpixel((10, 10))[0] < 170


def test_a_webp_is_accepted():
    result = process_upload(upload("chair.webp", image_bytes("WEBP"), "image/webp"))

    assert (result.width, result.height) == (400, 300)
    assert is_reddish(opened(result.display).getpixel((200, 150)))


def test_an_animated_image_keeps_its_first_frame():
    frames = [Image.new("RGB", (200, 100), RED), Image.new("RGB", (200, 100), BLUE)]
    out = io.BytesIO()
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:], duration=100)

    result = process_upload(upload("anim.webp", out.getvalue()))

    assert is_reddish(opened(result.display).getpixel((100, 50)))


def test_a_camera_jpeg_with_a_second_view_attached_is_accepted():
    out = io.BytesIO()
    Image.new("RGB", (300, 200), RED).save(
        out, "MPO", save_all=True, append_images=[Image.new("RGB", (300, 200), BLUE)]
    )

    result = process_upload(upload("camera.jpg", out.getvalue()))

    assert is_reddish(opened(result.display).getpixel((150, 100)))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_display_and_thumbnail_sizes_are_capped_keeping_the_shape(fmt):
    result = process_upload(upload("big", image_bytes(fmt, size=(3000, 2250))))

    assert (result.width, result.height) == (DISPLAY_SIZE, 1200)
    assert opened(result.display).size == (DISPLAY_SIZE, 1200)
    assert opened(result.thumb).size == (THUMB_SIZE, 360)


def test_a_small_photo_is_not_enlarged():
    result = process_upload(upload("small.png", image_bytes("PNG", size=(120, 90))))

    assert opened(result.display).size == (120, 90)
    assert opened(result.thumb).size == (120, 90)


def test_a_plain_file_object_is_accepted_too():
    data = io.BytesIO(image_bytes("PNG"))
    data.name = "lamp.png"

    assert process_upload(data).width == 400


def bad_uploads():
    jpeg = image_bytes("JPEG", size=(800, 600))
    return {
        "svg": ("holiday.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>'),
        "html named png": ("x.png", b"<!doctype html><html><script>alert(1)</script></html>"),
        "truncated jpeg": ("cut.jpg", jpeg[: len(jpeg) // 2]),
        "empty": ("nothing.jpg", b""),
        "gif": ("party.gif", image_bytes("GIF")),
        "bmp": ("old.bmp", image_bytes("BMP")),
        "tiff": ("scan.tiff", image_bytes("TIFF")),
        "png header only": ("header.png", image_bytes("PNG")[:40]),
        "bomb": ("bomb.png", png_claiming(20_000, 20_000)),
    }


@pytest.mark.parametrize("case", list(bad_uploads()))
def test_a_bad_upload_is_refused_with_a_message_naming_the_file(case):
    name, data = bad_uploads()[case]

    with pytest.raises(PhotoError) as refused:
        process_upload(upload(name, data, "image/png"))

    assert name in str(refused.value)
    assert str(refused.value).endswith(".")


def test_the_messages_say_what_is_wrong():
    def message(name, data):
        with pytest.raises(PhotoError) as refused:
            process_upload(upload(name, data))
        return str(refused.value)

    assert message("holiday.svg", b"<svg/>") == "holiday.svg is not a JPEG, PNG or WebP image."
    assert message("nothing.jpg", b"") == "nothing.jpg is empty."
    assert "damaged or incomplete" in message("cut.jpg", image_bytes("JPEG")[:300])
    assert message("bomb.png", png_claiming(20_000, 20_000)) == (
        "bomb.png is too large; photos may have at most 40 million pixels."
    )


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_an_image_just_over_the_pixel_limit_is_refused_before_decoding():
    # Pillow only warns here (between 1x and 2x its limit); the check must still refuse.
    with pytest.raises(PhotoError, match=r"too large \(8000 × 6000 pixels\)"):
        process_upload(upload("huge.png", png_claiming(8000, 6000)))


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_real_tiny_png_of_huge_dimensions_is_refused():
    out = io.BytesIO()
    Image.new("1", (7000, 7000)).save(out, "PNG")
    assert len(out.getvalue()) < 20_000

    with pytest.raises(PhotoError, match=r"bomb.png is too large \(7000 × 7000 pixels\)"):
        process_upload(upload("bomb.png", out.getvalue()))


def test_a_file_over_the_size_limit_is_refused_without_reading_it_all():
    big = upload("huge.jpg", b"\xff" * (MAX_UPLOAD_BYTES + 1))

    with pytest.raises(PhotoError, match=r"^huge\.jpg is too large \(15 MB\); the limit is 15 MB"):
        process_upload(big)


def test_a_file_object_without_a_size_is_still_capped():
    data = io.BytesIO(image_bytes("PNG") + b"\0" * MAX_UPLOAD_BYTES)
    data.name = "padded.png"

    with pytest.raises(PhotoError, match="padded.png is too large"):
        process_upload(data)


def test_the_message_names_the_file_without_its_folders():
    with pytest.raises(PhotoError) as refused:
        process_upload(upload("../../etc/evil.svg", b"<svg/>"))

    assert str(refused.value).startswith("evil.svg ")


def test_an_unexpected_decoder_failure_is_still_a_photo_error(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("decoder bug")

    monkeypatch.setattr(photos.ImageOps, "exif_transpose", broken)

    with pytest.raises(PhotoError, match="lamp.jpg could not be read"):
        process_upload(upload("lamp.jpg", image_bytes("JPEG")))


# --- store_photo and delete_photo_files ---------------------------------------------


def test_stored_files_get_random_names_under_items_and_the_row_points_at_them(
    item, media_root
):
    photo = store_photo(item=item, upload=upload("lamp.jpg", image_bytes("JPEG")),
                        position=0, alt="  A brass lamp  ")

    match = re.fullmatch(r"items/([0-9a-f]{32})\.webp", photo.display)
    assert match
    assert photo.thumb == f"items/{match[1]}-thumb.webp"
    assert (media_root / photo.display).is_file()
    assert (media_root / photo.thumb).is_file()
    photo.refresh_from_db()
    assert photo.item == item
    assert (photo.position, photo.width, photo.height) == (0, 400, 300)
    assert photo.alt == "A brass lamp"
    assert opened((media_root / photo.thumb).read_bytes()).format == "WEBP"


def test_two_uploads_of_one_file_get_different_names(item):
    data = image_bytes("PNG")
    first = store_photo(item=item, upload=upload("a.png", data), position=0)
    second = store_photo(item=item, upload=upload("a.png", data), position=1)

    assert first.display != second.display
    assert item.photos.count() == 2


def test_a_path_in_the_uploaded_name_never_reaches_the_stored_name(item, media_root, tmp_path):
    photo = store_photo(item=item, upload=upload("../../evil.png", image_bytes("PNG")),
                        position=0)

    assert "evil" not in photo.display and "evil" not in photo.thumb
    assert ".." not in photo.display
    assert not list(tmp_path.rglob("evil*"))
    assert sorted(p.name for p in (media_root / "items").iterdir()) == sorted(
        [Path(photo.display).name, Path(photo.thumb).name]
    )


def test_a_refused_upload_stores_nothing(item, media_root):
    with pytest.raises(PhotoError):
        store_photo(item=item, upload=upload("x.png", b"<html>"), position=0)

    assert not Photo.objects.exists()
    assert not (media_root / "items").exists()


def test_the_files_are_removed_when_the_row_cannot_be_created(item, media_root, monkeypatch):
    def refuse(**kwargs):
        raise IntegrityError("database said no")

    monkeypatch.setattr(Photo.objects, "create", refuse)

    with pytest.raises(IntegrityError):
        store_photo(item=item, upload=upload("lamp.png", image_bytes("PNG")), position=0)

    assert list((media_root / "items").iterdir()) == []


def test_deleting_a_photos_files_removes_both(item, media_root):
    photo = store_photo(item=item, upload=upload("lamp.png", image_bytes("PNG")), position=0)
    photo.delete()

    delete_photo_files(photo)

    assert not (media_root / photo.display).exists()
    assert not (media_root / photo.thumb).exists()


def test_files_another_photo_still_uses_are_kept(item, media_root):
    photo = store_photo(item=item, upload=upload("lamp.png", image_bytes("PNG")), position=0)
    other_item = Item.objects.create(name="Other lamp", price="12.00")
    shared = Photo.objects.create(item=other_item, display=photo.display, thumb=photo.thumb,
                                  width=photo.width, height=photo.height)

    delete_photo_files(photo)
    photo.delete()

    assert (media_root / photo.display).is_file()
    assert (media_root / photo.thumb).is_file()

    delete_photo_files(shared)

    assert not (media_root / photo.display).exists()
    assert not (media_root / photo.thumb).exists()


def test_deleting_files_that_are_already_gone_is_harmless(item):
    photo = Photo.objects.create(item=item, display="items/gone.webp", thumb="items/gone-t.webp")

    delete_photo_files(photo)


# --- MultiplePhotoField -------------------------------------------------------------


class PhotosForm(forms.Form):
    photos = MultiplePhotoField()


def bound(*uploads) -> PhotosForm:
    return PhotosForm(data={}, files=MultiValueDict({"photos": list(uploads)}))


def test_the_field_cleans_to_a_list_of_the_uploads():
    first = upload("a.jpg", image_bytes("JPEG"))
    second = upload("b.webp", image_bytes("WEBP"))
    form = bound(first, second)

    assert form.is_valid(), form.errors
    assert form.cleaned_data["photos"] == [first, second]


def test_no_photos_is_fine_by_default_and_an_error_when_required():
    form = bound()
    assert form.is_valid()
    assert form.cleaned_data["photos"] == []

    class RequiredForm(forms.Form):
        photos = MultiplePhotoField(required=True)

    form = RequiredForm(data={}, files=MultiValueDict())
    assert not form.is_valid()
    assert "photos" in form.errors


def test_the_field_reports_each_bad_file_by_name():
    form = bound(
        upload("good.jpg", image_bytes("JPEG")),
        upload("holiday.svg", b"<svg/>", "image/svg+xml"),
        upload("blank.png", b""),
        upload("party.gif", image_bytes("GIF")),
    )

    assert not form.is_valid()
    assert form.errors["photos"] == [
        "holiday.svg is not a JPEG, PNG or WebP image.",
        "blank.png is empty.",
        "party.gif is not a JPEG, PNG or WebP image.",
    ]


def test_the_field_enforces_the_photo_count_limit():
    data = image_bytes("PNG", size=(20, 20))
    form = bound(*[upload(f"{n}.png", data) for n in range(MAX_PHOTOS_PER_ITEM + 1)])

    assert not form.is_valid()
    assert form.errors["photos"] == [
        f"An item can have at most {MAX_PHOTOS_PER_ITEM} photos; "
        f"you chose {MAX_PHOTOS_PER_ITEM + 1}."
    ]
    assert bound(*[upload(f"{n}.png", data) for n in range(MAX_PHOTOS_PER_ITEM)]).is_valid()


def test_the_limit_can_count_the_photos_an_item_already_has():
    form = bound(upload("a.png", image_bytes("PNG")), upload("b.png", image_bytes("PNG")))
    form.fields["photos"].max_photos = 1

    assert not form.is_valid()
    assert "you can add 1 more, and you chose 2" in form.errors["photos"][0]


def test_a_checked_upload_can_still_be_stored(item):
    form = bound(upload("lamp.jpg", image_bytes("JPEG")))
    assert form.is_valid()

    photo = store_photo(item=item, upload=form.cleaned_data["photos"][0], position=0)

    assert photo.width == 400


def test_the_widget_lets_people_pick_several_images():
    html = str(PhotosForm()["photos"])

    assert 'type="file"' in html
    assert "multiple" in html
    assert 'accept="image/jpeg,image/png,image/webp"' in html


# --- demo_image ---------------------------------------------------------------------


def test_a_demo_image_is_a_png_of_the_asked_size_that_photos_accept():
    data = demo_image("Oak bookshelf", hue=30, size=(600, 450))

    img = opened(data)
    assert (img.format, img.size) == ("PNG", (600, 450))
    assert process_upload(upload("demo.png", data)).width == 600


def test_demo_images_differ_by_hue_and_repeat_for_the_same_input():
    assert demo_image("Kettle", 200) == demo_image("Kettle", 200)
    assert demo_image("Kettle", 200) != demo_image("Kettle", 20)
    assert opened(demo_image("A very long name for a small kettle with a whistle", 90)).size \
        == (1200, 900)
