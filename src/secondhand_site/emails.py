"""Outgoing mail.

Locally every message is saved as a file in ``<data-dir>/mail/`` and announced with one
line on the console, so a person running the site can follow verification and reset
links without an SMTP server. With ``EMAIL_URL`` set, Django's SMTP backend is used.
"""

from __future__ import annotations

import re
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

_LINK = re.compile(r"https?://[^\s<>\"']+")
_SAFE = re.compile(r"[^a-z0-9]+")
_lock = threading.Lock()


def first_link(text: str) -> str | None:
    match = _LINK.search(text)
    return match.group(0) if match else None


def _text_body(message: EmailMessage) -> str:
    body = message.body if isinstance(message.body, str) else ""
    return body


class FolderEmailBackend(BaseEmailBackend):
    """Save each message as an .eml file and print a one-line notice."""

    def __init__(self, *, folder: str | None = None, fail_silently: bool = False,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.fail_silently = fail_silently
        self.folder = Path(folder or settings.MAIL_DIR)

    def send_messages(self, email_messages) -> int:
        if not email_messages:
            return 0
        self.folder.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            try:
                path = self._write(message)
            except OSError:
                if not self.fail_silently:
                    raise
                continue
            link = first_link(_text_body(message))
            notice = f"Mail to {', '.join(message.recipients())}: {message.subject!r} saved to {path}"
            if link:
                notice += f" (link: {link})"
            print(notice, file=sys.stderr, flush=True)
            sent += 1
        return sent

    def _write(self, message: EmailMessage) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
        slug = _SAFE.sub("-", (message.recipients() or ["nobody"])[0].lower()).strip("-")[:40]
        with _lock:
            path = self.folder / f"{stamp}-{slug}.eml"
            n = 1
            while path.exists():
                path = self.folder / f"{stamp}-{slug}-{n}.eml"
                n += 1
            path.write_bytes(message.message().as_bytes(linesep="\n"))
        return path
