"""Outgoing mail.

Locally every message is saved as a file in ``<data-dir>/mail/`` and announced with one
line on the console, so a person running the site can follow verification and reset
links without an SMTP server. With ``EMAIL_URL`` set, Django's SMTP backend is used.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction

_LINK = re.compile(r"https?://[^\s<>\"']+")
_SAFE = re.compile(r"[^a-z0-9]+")
_lock = threading.Lock()
logger = logging.getLogger("secondhand.mail")


def first_link(text: str) -> str | None:
    match = _LINK.search(text)
    return match.group(0) if match else None


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
            link = first_link(message.body if isinstance(message.body, str) else "")
            recipients = ", ".join(message.recipients())
            notice = f"Mail to {recipients}: {message.subject!r} saved to {path}"
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
            # Written aside and renamed, so a reader (a person, a test) never sees half a mail.
            partial = path.with_name(f".{path.name}.partial")
            partial.write_bytes(message.message().as_bytes())
            partial.replace(path)
        return path


# --- Notifications ------------------------------------------------------------------
#
# Each message is sent after the transaction that caused it commits (none after a
# rollback), on a background thread by default, and a failure is only logged: mail never
# blocks or undoes a booking.

SUBJECTS = {
    "booked": "You booked {item}",
    "cancelled": "Your booking of {item} is cancelled",
    "released": "Your hold on {item} was ended by the owner",
    "reminder": "Your hold on {item} ends tomorrow",
    "expired": "Your hold on {item} has ended",
    "promoted": "Good news: {item} is yours to collect",
    "sold": "{item} is marked as handed over to you",
    "gone": "{item} has been sold",
    "available_again": "{item} is available again",
    "owner_booked": "New booking: {item}",
    "owner_cancelled": "Booking cancelled: {item}",
}

_executor = None
_executor_lock = threading.Lock()
logger = logging.getLogger("secondhand.mail")


def site_url(path: str = "/") -> str:
    return settings.SITE_URL.rstrip("/") + path


def _render(kind: str, context: dict) -> EmailMultiAlternatives:
    from django.template.loader import render_to_string

    context = {**context, "site_name": settings.SITE_NAME, "site_url": site_url("/"),
               "kind": kind}
    subject = SUBJECTS[kind].format(item=context["item"].name)
    text = render_to_string(f"emails/{kind}.txt", context)
    html = render_to_string("emails/base.html", {**context, "text": text, "subject": subject})
    message = EmailMultiAlternatives(subject=f"[{settings.SITE_NAME}] {subject}", body=text,
                                     from_email=settings.DEFAULT_FROM_EMAIL, to=[context["to"]])
    message.attach_alternative(html, "text/html")
    return message


def _deliver(message: EmailMultiAlternatives) -> None:
    try:
        message.send()
    except Exception:  # any transport failure: logged, never raised into a booking
        logger.exception("Could not send mail %r to %s", message.subject, message.to)


def _send_after_commit(kind: str, context: dict) -> None:
    if not context.get("to"):
        return

    def send() -> None:
        try:
            message = _render(kind, context)
        except Exception:
            logger.exception("Could not render mail %s", kind)
            return
        if settings.MAIL_IN_BACKGROUND:
            _pool().submit(_deliver, message)
        else:
            _deliver(message)

    transaction.on_commit(send)


def _pool():
    global _executor
    with _executor_lock:
        if _executor is None:
            from concurrent.futures import ThreadPoolExecutor

            _executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mail")
        return _executor


def notify_booking(kind: str, booking) -> None:
    """Tell the member of a booking what happened to it."""
    if booking.member is None:
        return
    _send_after_commit(kind, {
        "to": booking.member.email, "member": booking.member, "booking": booking,
        "item": booking.item, "item_url": site_url(booking.item.get_absolute_url()),
        "bookings_url": site_url("/bookings/"),
    })


def notify_member(kind: str, member, item) -> None:
    _send_after_commit(kind, {
        "to": member.email, "member": member, "item": item,
        "item_url": site_url(item.get_absolute_url()), "bookings_url": site_url("/bookings/"),
    })


def notify_owners(kind: str, booking) -> None:
    from secondhand_site.models import User

    for owner in User.objects.filter(is_owner=True, is_active=True):
        _send_after_commit(kind, {
            "to": owner.email, "member": booking.member, "booking": booking,
            "item": booking.item, "owner": owner,
            "item_url": site_url(booking.item.get_absolute_url()),
            "manage_url": site_url("/manage/bookings/"),
        })
