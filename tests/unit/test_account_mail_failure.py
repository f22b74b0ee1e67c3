"""A mail server that fails is never a 500 for a person signing up or resetting."""

from __future__ import annotations

from django.core.mail.backends.base import BaseEmailBackend

from secondhand_site.models import User


class BrokenBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError("the mail server is down")


def use_broken_mail(settings):
    settings.MAILERS = {"default": {"BACKEND": f"{__name__}.BrokenBackend"}}


def test_signup_still_works_when_the_verification_mail_cannot_be_sent(client, db, settings):
    use_broken_mail(settings)
    response = client.post("/accounts/signup/", {
        "email": "dana@example.com", "password1": "a-long-Passphrase-9",
        "password2": "a-long-Passphrase-9"}, follow=True)

    assert response.status_code == 200
    assert User.objects.filter(email="dana@example.com").exists()
    assert b"could not send an email to dana@example.com" in response.content


def test_password_reset_says_the_mail_could_not_be_sent(client, alice, settings):
    use_broken_mail(settings)
    response = client.post("/accounts/password/reset/", {"email": alice.email}, follow=True)

    assert response.status_code == 200
    assert b"could not send an email" in response.content
