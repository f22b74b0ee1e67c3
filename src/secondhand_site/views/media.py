"""Item photos from the local media folder, for `secondhand serve` without S3.

Only what photos.store_photo writes is served: image files under MEDIA_ROOT with plain
names. Those names are random and never reused, so browsers may cache them for good.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponseNotModified
from django.utils.http import http_date
from django.views.decorators.http import require_safe
from django.views.static import was_modified_since

CONTENT_TYPES = {
    ".webp": "image/webp",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
}
# Folders and file names of letters, digits, "-", "_" and "."; never starting with a
# dot. That alone rules out "..", hidden files, absolute paths, backslashes and NUL.
SAFE_PATH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)*")


@require_safe
def serve_media(request: HttpRequest, path: str) -> FileResponse | HttpResponseNotModified:
    """One photo from MEDIA_ROOT; 404 for anything else."""
    file_path = media_file(path)
    if file_path is None:
        raise Http404("No such photo.")
    try:
        handle = file_path.open("rb")
        stat = file_path.stat()
    except OSError:
        raise Http404("No such photo.") from None
    if not was_modified_since(request.headers.get("If-Modified-Since"), stat.st_mtime):
        handle.close()
        return HttpResponseNotModified()
    response = FileResponse(handle, content_type=CONTENT_TYPES[file_path.suffix.lower()])
    response["Last-Modified"] = http_date(stat.st_mtime)
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline"
    return response


def media_file(path: str) -> Path | None:
    """The image file `path` names inside MEDIA_ROOT, or None if it is not one."""
    if not SAFE_PATH.fullmatch(path):
        return None
    if Path(path).suffix.lower() not in CONTENT_TYPES:
        return None
    root = Path(settings.MEDIA_ROOT).resolve()
    try:
        # resolve() follows symbolic links, so a link pointing out of the folder fails here.
        target = (root / path).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not target.is_relative_to(root) or not target.is_file():
        return None
    if target.suffix.lower() not in CONTENT_TYPES:  # a link to a file of another type
        return None
    return target
