"""Item photos: check an upload, re-encode it in two sizes, store it, delete it.

An upload is never trusted: not its name, not its content type, not its bytes. Pillow
decodes it (JPEG, PNG and WebP only), the pixels are turned upright and copied into a
fresh image, and only that is encoded and stored, under a random name. So no metadata
(EXIF, GPS position, camera serial, comments) and no hidden payload reach the site.
"""

from __future__ import annotations

import colorsys
import contextlib
import io
import logging
import math
import random
import struct
import uuid
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from django import forms
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from PIL import Image, ImageDraw, ImageFile, ImageFont, ImageOps, features

if TYPE_CHECKING:
    from secondhand_site.models import Item, Photo

logger = logging.getLogger("secondhand.photos")

MAX_UPLOAD_BYTES = 15 * 1024 * 1024
MAX_PIXELS = 40_000_000
DISPLAY_SIZE = 1600
THUMB_SIZE = 480
MAX_PHOTOS_PER_ITEM = 12
ACCEPT = "image/jpeg,image/png,image/webp"
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")
# What Pillow may report for those: a phone's JPEG with a depth map or a second view
# attached is opened by the JPEG plugin as "MPO"; its first frame is the photo.
DETECTED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP"}
WEBP_QUALITY = 82
JPEG_QUALITY = 85

# Pillow refuses anything over twice this while reading the header and warns above it;
# `_open` refuses everything over MAX_PIXELS itself, before a single pixel is decoded.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# A truncated upload must fail, not come out with a grey band (Pillow's default too).
ImageFile.LOAD_TRUNCATED_IMAGES = False

HAS_WEBP = features.check("webp")


class PhotoError(ValueError):
    """An upload that is not a usable photo; str() is a message for the person who sent it."""


class Upload(Protocol):
    name: str | None

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class ProcessedPhoto:
    display: bytes
    thumb: bytes
    width: int
    height: int
    content_type: str

    @property
    def extension(self) -> str:
        return "webp" if self.content_type == "image/webp" else "jpg"


def _label(upload: object) -> str:
    """The file's own name (no folders) for messages, or a generic phrase."""
    name = getattr(upload, "name", None)
    if not isinstance(name, str):
        return "The file"
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip()
    if len(name) > 80:
        name = name[:60] + "…" + name[-15:]
    return name or "The file"


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.3g} MB"


def _read(upload: Upload, label: str) -> bytes:
    """At most MAX_UPLOAD_BYTES from the start of the upload, which is left rewound."""
    size = getattr(upload, "size", None)
    if isinstance(size, int) and size > MAX_UPLOAD_BYTES:
        raise PhotoError(
            f"{label} is too large ({_megabytes(size)}); "
            f"the limit is {_megabytes(MAX_UPLOAD_BYTES)} per photo."
        )
    _rewind(upload)
    try:
        data = upload.read(MAX_UPLOAD_BYTES + 1)
    except (OSError, ValueError) as exc:
        raise PhotoError(f"{label} could not be read; please try again.") from exc
    finally:
        _rewind(upload)
    if not isinstance(data, bytes | bytearray):
        raise PhotoError(f"{label} is not a JPEG, PNG or WebP image.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise PhotoError(
            f"{label} is too large; the limit is {_megabytes(MAX_UPLOAD_BYTES)} per photo."
        )
    if not data:
        raise PhotoError(f"{label} is empty.")
    return bytes(data)


def _rewind(upload: object) -> None:
    seek = getattr(upload, "seek", None)
    if seek is not None:
        with contextlib.suppress(OSError, ValueError):
            seek(0)


def _open(data: bytes, label: str) -> Image.Image:
    """Open from the header only, refusing other formats and oversized images."""
    try:
        img = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_many_pixels(label) from exc
    except Image.UnidentifiedImageError as exc:
        raise PhotoError(f"{label} is not a JPEG, PNG or WebP image.") from exc
    width, height = img.size
    if width < 1 or height < 1:
        raise PhotoError(f"{label} is damaged or incomplete and could not be read.")
    if width * height > MAX_PIXELS:
        raise _too_many_pixels(label, width, height)
    if img.format not in DETECTED_FORMATS:  # formats= already ensures it; belt and braces
        raise PhotoError(f"{label} is not a JPEG, PNG or WebP image.")
    return img


def _too_many_pixels(label: str, width: int = 0, height: int = 0) -> PhotoError:
    size = f" ({width} × {height} pixels)" if width and height else ""
    return PhotoError(
        f"{label} is too large{size}; photos may have at most "
        f"{MAX_PIXELS // 1_000_000} million pixels."
    )


# What Pillow raises on hostile or broken input, beyond its documented OSError.
_DECODE_ERRORS = (
    OSError, SyntaxError, ValueError, TypeError, IndexError, KeyError, EOFError,
    ZeroDivisionError, struct.error, zlib.error,
)


def _guarded(label: str, step):
    """Run a decoding step; any failure becomes a PhotoError naming the file."""
    try:
        return step()
    except PhotoError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_many_pixels(label) from exc
    except MemoryError as exc:
        raise _too_many_pixels(label) from exc
    except _DECODE_ERRORS as exc:
        raise PhotoError(f"{label} is damaged or incomplete and could not be read.") from exc
    except Exception as exc:
        # A decoder bug on a crafted file must still be a refusal, never a server error.
        logger.warning("Unexpected error decoding %s", label, exc_info=True)
        raise PhotoError(f"{label} could not be read as an image.") from exc


def check_upload(upload: Upload) -> None:
    """The cheap checks: size, and a JPEG/PNG/WebP header of an acceptable size.

    Decodes no pixels, so it suits form validation; process_upload does the full work.
    Raises PhotoError.
    """
    label = _label(upload)
    data = _read(upload, label)
    _guarded(label, lambda: _open(data, label))


def process_upload(upload: Upload) -> ProcessedPhoto:
    """Decode an upload and re-encode it, upright and without metadata, in two sizes.

    Raises PhotoError, and nothing else, for anything that is not a usable photo.
    """
    label = _label(upload)
    data = _read(upload, label)

    def decode() -> Image.Image:
        # verify() checks the structure (PNG checksums...) but leaves the image unusable,
        # so it is opened again and fully decoded: a truncated file fails in load().
        _open(data, label).verify()
        img = _open(data, label)
        if img.format in ("JPEG", "MPO"):
            # Decode a big JPEG at 1/2, 1/4 or 1/8 scale, never below the display size.
            img.draft(None, _fit(img.size, DISPLAY_SIZE))
        img.seek(0)  # animated images: the first frame
        img.load()
        return _flatten(ImageOps.exif_transpose(img))

    img = _guarded(label, decode)
    display = img.copy()
    display.thumbnail((DISPLAY_SIZE, DISPLAY_SIZE), Image.Resampling.LANCZOS)
    thumb = display.copy()
    thumb.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.LANCZOS)
    content_type = "image/webp" if HAS_WEBP else "image/jpeg"
    return ProcessedPhoto(
        display=_encode(display),
        thumb=_encode(thumb),
        width=display.width,
        height=display.height,
        content_type=content_type,
    )


def _fit(size: tuple[int, int], longest: int) -> tuple[int, int]:
    """`size` scaled down (never up) so its longest side is at most `longest`."""
    width, height = size
    scale = min(1.0, longest / max(width, height))
    return max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))


def _flatten(img: Image.Image) -> Image.Image:
    """Plain 8-bit RGB pixels in a brand-new image: transparency onto white, no metadata."""
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        img = img.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    elif img.mode == "F":
        img = img.convert("L")
    if img.mode in ("P", "PA", "LA", "La", "RGBa") or "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(img, mask=img.getchannel("A"))
        img = background
    elif img.mode != "RGB":
        img = img.convert("RGB")
    # convert() and exif_transpose() carry .info (EXIF, ICC, XMP, comments) along; a
    # fresh image made from the bytes alone cannot.
    return Image.frombytes("RGB", img.size, img.tobytes())


def _encode(img: Image.Image) -> bytes:
    out = io.BytesIO()
    if HAS_WEBP:
        img.save(out, "WEBP", quality=WEBP_QUALITY, method=4)
    else:
        img.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return out.getvalue()


def store_photo(*, item: Item, upload: Upload, position: int, alt: str = "") -> Photo:
    """Process an upload, save both sizes under a random name and create its Photo row.

    Raises PhotoError for a bad upload. If the row cannot be created, the saved files
    are deleted again. (If a surrounding transaction rolls back later, the files stay:
    harmless orphans under random names.)
    """
    from secondhand_site.models import Photo

    processed = process_upload(upload)
    stem = f"items/{uuid.uuid4().hex}"
    saved: list[str] = []
    try:
        display = default_storage.save(
            f"{stem}.{processed.extension}", ContentFile(processed.display)
        )
        saved.append(display)
        thumb = default_storage.save(
            f"{stem}-thumb.{processed.extension}", ContentFile(processed.thumb)
        )
        saved.append(thumb)
        with transaction.atomic():
            return Photo.objects.create(
                item=item,
                position=position,
                display=display,
                thumb=thumb,
                width=processed.width,
                height=processed.height,
                alt=(alt or "").strip()[: Photo._meta.get_field("alt").max_length],
            )
    except BaseException:
        for name in saved:
            _delete_file(name)
        raise


def delete_photo_files(photo: Photo) -> None:
    """Delete a photo's two files, unless another Photo row still uses them.

    Call it once the row's deletion is certain, e.g. from transaction.on_commit().
    A file that cannot be deleted is logged, never raised: it is only cleanup.
    """
    from secondhand_site.models import Photo

    for name in {photo.display, photo.thumb}:
        if not name:
            continue
        others = Photo.objects.filter(Q(display=name) | Q(thumb=name))
        if photo.pk is not None:
            others = others.exclude(pk=photo.pk)
        if not others.exists():
            _delete_file(name)


def _delete_file(name: str) -> None:
    try:
        default_storage.delete(name)
    except Exception:  # any storage backend's failure; a stray file is not worth a 500
        logger.warning("Could not delete media file %s", name, exc_info=True)


# --- Form field ----------------------------------------------------------------------


class MultiplePhotoInput(forms.ClearableFileInput):
    allow_multiple_selected = True

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__({"accept": ACCEPT, **(attrs or {})})


class MultiplePhotoField(forms.FileField):
    """Several photos in one <input type=file multiple>; cleans to a list of uploads.

    Each file gets the cheap checks (size, format, pixel count) and every bad file is
    reported by name. `max_photos` may be lowered for an item that already has photos.
    """

    widget = MultiplePhotoInput

    def __init__(self, *args, max_photos: int = MAX_PHOTOS_PER_ITEM, **kwargs) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", (
            f"JPEG, PNG or WebP, up to {_megabytes(MAX_UPLOAD_BYTES)} each and "
            f"{MAX_PHOTOS_PER_ITEM} per item. The first photo is the cover."
        ))
        super().__init__(*args, **kwargs)
        self.max_photos = max_photos

    def clean(self, data, initial=None) -> list:
        if data is forms.widgets.FILE_INPUT_CONTRADICTION:
            raise forms.ValidationError(
                self.error_messages["contradiction"], code="contradiction"
            )
        items = data if isinstance(data, list | tuple) else [data]
        uploads = [u for u in items if u and hasattr(u, "read")]
        if not uploads:
            if self.required:
                raise forms.ValidationError(self.error_messages["required"], code="required")
            return []
        if len(uploads) > self.max_photos:
            raise forms.ValidationError(self._too_many(len(uploads)), code="too_many_photos")
        errors = []
        for upload in uploads:
            try:
                check_upload(upload)
            except PhotoError as exc:
                errors.append(forms.ValidationError(str(exc), code="invalid_photo"))
        if errors:
            raise forms.ValidationError(errors)
        return uploads

    def _too_many(self, chosen: int) -> str:
        limit = max(0, self.max_photos)
        if limit >= MAX_PHOTOS_PER_ITEM:
            return (f"An item can have at most {MAX_PHOTOS_PER_ITEM} photos; "
                    f"you chose {chosen}.")
        if limit == 0:
            return (f"This item already has {MAX_PHOTOS_PER_ITEM} photos, the most allowed; "
                    "remove one before adding another.")
        return (f"An item can have at most {MAX_PHOTOS_PER_ITEM} photos; you can add "
                f"{limit} more, and you chose {chosen}.")

    def has_changed(self, initial, data) -> bool:
        return bool(data) and not self.disabled


# --- Demo pictures -------------------------------------------------------------------


def demo_image(text: str, hue: int, size: tuple[int, int] = (1200, 900)) -> bytes:
    """A simple illustrative picture (PNG bytes): a gradient, soft shapes, the text.

    Pillow only, no downloads; the same text and hue always give the same picture.
    """
    width, height = size
    h = (hue % 360) / 360

    def colour(shift: float, sat: float, val: float) -> tuple[int, int, int]:
        r, g, b = colorsys.hsv_to_rgb((h + shift) % 1.0, sat, val)
        return round(r * 255), round(g * 255), round(b * 255)

    top = Image.new("RGB", size, colour(0.0, 0.45, 0.95))
    bottom = Image.new("RGB", size, colour(0.08, 0.65, 0.70))
    mask = Image.linear_gradient("L").resize(size)
    img = Image.composite(bottom, top, mask)

    rng = random.Random(f"{text}|{hue}")
    shapes = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(shapes)
    unit = min(width, height)
    for _ in range(6):
        r = rng.randint(unit // 10, unit // 3)
        x, y = rng.randint(0, width), rng.randint(0, height)
        fill = (*colour(rng.uniform(-0.12, 0.12), 0.35, 1.0), rng.randint(50, 110))
        if rng.random() < 0.6:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
        else:
            draw.rounded_rectangle((x - r, y - r // 2, x + r, y + r // 2),
                                   radius=r // 4, fill=fill)
    img.paste(shapes, mask=shapes)

    lines = _wrap(text.strip() or "?", 18)
    body = "\n".join(lines)
    font_size = max(12, min(unit // 5, int(height * 0.6 / len(lines))))
    draw = ImageDraw.Draw(img)
    while True:
        font = ImageFont.load_default(size=font_size)
        box = draw.multiline_textbbox((0, 0), body, font=font, align="center")
        if (box[2] - box[0] <= width * 0.85 and box[3] - box[1] <= height * 0.7) \
                or font_size <= 12:
            break
        font_size = int(font_size * 0.9)
    center = (width / 2, height / 2)
    offset = max(2, font_size // 25)
    draw.multiline_text((center[0] + offset, center[1] + offset), body, font=font,
                        anchor="mm", align="center", fill=colour(0.05, 0.7, 0.35))
    draw.multiline_text(center, body, font=font, anchor="mm", align="center",
                        fill=(255, 255, 255))

    out = io.BytesIO()
    img.save(out, "PNG", optimize=True)
    return out.getvalue()


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines[:3] or [text]


__all__ = [
    "DISPLAY_SIZE", "MAX_PHOTOS_PER_ITEM", "MAX_PIXELS", "MAX_UPLOAD_BYTES", "THUMB_SIZE",
    "MultiplePhotoField", "MultiplePhotoInput", "PhotoError", "ProcessedPhoto",
    "check_upload", "delete_photo_files", "demo_image", "process_upload", "store_photo",
]
