"""django-allauth adapted to the site: a mail server that fails is never a 500."""

from __future__ import annotations

import logging

from allauth.account.adapter import DefaultAccountAdapter
from django.contrib import messages

logger = logging.getLogger("secondhand.mail")


class AccountAdapter(DefaultAccountAdapter):
    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        try:
            super().send_mail(template_prefix, email, context)
        except Exception:  # any transport failure (SMTP down, refused, timeout...)
            logger.exception("Could not send %s mail to %s", template_prefix, email)
            if self.request is not None:
                messages.error(self.request, f"We could not send an email to {email} just now. "
                               "Please try again in a few minutes.")
