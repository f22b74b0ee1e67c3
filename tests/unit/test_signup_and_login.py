"""Accounts through django-allauth: sign up, verify, log in and out, reset and change."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core import mail

from secondhand_site.models import User

NEW_PASSWORD = "a-much-newer-secret-42"


def link_in(message) -> str:
    """The path of the first link in a mail body, ready for the test client."""
    match = re.search(r"https?://\S+", message.body)
    assert match, f"no link in {message.body!r}"
    return urlsplit(match.group(0)).path


def logged_in_user_id(client):
    return client.session.get(SESSION_KEY)


def sign_up(client, email="dora@example.com", password=NEW_PASSWORD):
    return client.post("/accounts/signup/", {
        "email": email, "password1": password, "password2": password,
    })


def test_rate_limits_are_left_on():
    assert getattr(settings, "ACCOUNT_RATE_LIMITS", None) is not False
    from allauth.account import app_settings

    assert app_settings.RATE_LIMITS.get("login_failed")
    assert app_settings.RATE_LIMITS.get("signup")


def test_it_blocks_login_after_repeated_wrong_passwords(client, alice, password):
    for _ in range(5):
        first = client.post("/accounts/login/", {"login": alice.email, "password": "wrong-guess"})
        assert b"Too many failed login attempts" not in first.content

    response = client.post("/accounts/login/", {"login": alice.email, "password": password})

    assert b"Too many failed login attempts" in response.content
    assert logged_in_user_id(client) is None


def test_signing_up_sends_a_verification_email(client, db):
    response = sign_up(client)

    assert response.status_code == 302
    assert response.url == "/accounts/confirm-email/"
    user = User.objects.get(email="dora@example.com")
    assert not user.is_owner
    assert not EmailAddress.objects.get(user=user).verified
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["dora@example.com"]
    assert "/accounts/confirm-email/" in mail.outbox[0].body


def test_the_signup_page_asks_for_email_and_password_but_no_username(client, db):
    response = client.get("/accounts/signup/")

    assert response.status_code == 200
    assert b'name="email"' in response.content
    assert b'name="password1"' in response.content
    assert b'name="username"' not in response.content


def test_it_refuses_a_second_signup_with_the_same_email(client, alice):
    sign_up(client, email="alice@example.com")

    assert User.objects.filter(email="alice@example.com").count() == 1


def test_following_the_link_in_the_mail_verifies_the_address(client, db):
    sign_up(client)
    path = link_in(mail.outbox[0])

    page = client.get(path)
    assert page.status_code == 200
    assert b"<form" in page.content
    # Showing the page confirms nothing: mail scanners follow links too.
    assert not EmailAddress.objects.get(email="dora@example.com").verified

    response = client.post(path)

    assert response.status_code == 302
    assert EmailAddress.objects.get(email="dora@example.com").verified
    assert logged_in_user_id(client) == str(User.objects.get(email="dora@example.com").pk)


def test_an_unverified_member_cannot_log_in(client, carol_unverified, password):
    assert settings.ACCOUNT_EMAIL_VERIFICATION == "mandatory"

    response = client.post("/accounts/login/", {"login": carol_unverified.email,
                                                "password": password})

    assert response.status_code == 302
    assert response.url == "/accounts/confirm-email/"
    assert logged_in_user_id(client) is None
    assert b"Verify Your Email Address" in client.get(response.url).content
    # A fresh link is sent, in case the first mail was lost.
    assert [m.to for m in mail.outbox] == [[carol_unverified.email]]
    assert client.get("/account/").status_code == 302


def test_a_verified_member_logs_in_by_email(client, alice, password):
    response = client.post("/accounts/login/", {"login": "ALICE@example.com",
                                                "password": password})

    assert response.status_code == 302
    assert response.url == settings.LOGIN_REDIRECT_URL
    assert logged_in_user_id(client) == str(alice.pk)


def test_a_wrong_password_does_not_log_in(client, alice):
    response = client.post("/accounts/login/", {"login": alice.email, "password": "nope-nope"})

    assert response.status_code == 200
    assert logged_in_user_id(client) is None
    assert b"not correct" in response.content


def test_logout_by_get_only_asks_for_confirmation(alice_client, alice):
    response = alice_client.get("/accounts/logout/")

    assert response.status_code == 200
    assert b'method="post"' in response.content
    assert logged_in_user_id(alice_client) == str(alice.pk)


def test_logout_by_post_logs_out(alice_client):
    response = alice_client.post("/accounts/logout/")

    assert response.status_code == 302
    assert logged_in_user_id(alice_client) is None


def test_a_member_resets_a_forgotten_password_end_to_end(client, alice, password):
    response = client.post("/accounts/password/reset/", {"email": alice.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [alice.email]

    # The key in the link is swapped for a session token before the form shows.
    page = client.get(link_in(mail.outbox[0]), follow=True)
    assert page.status_code == 200
    assert b'name="password1"' in page.content
    form_path = page.redirect_chain[-1][0]

    response = client.post(form_path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302

    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert not alice.check_password(password)
    client.logout()
    client.post("/accounts/login/", {"login": alice.email, "password": NEW_PASSWORD})
    assert logged_in_user_id(client) == str(alice.pk)


def test_a_used_reset_link_does_not_work_twice(client, alice):
    client.post("/accounts/password/reset/", {"email": alice.email})
    link = link_in(mail.outbox[0])
    page = client.get(link, follow=True)
    client.post(page.redirect_chain[-1][0], {"password1": NEW_PASSWORD,
                                             "password2": NEW_PASSWORD})

    again = client.get(link, follow=True)

    assert b'name="password1"' not in again.content


def test_a_reset_request_for_an_unknown_address_reveals_nothing(client, db):
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})

    assert response.status_code == 302
    assert response.url == "/accounts/password/reset/done/"
    assert not any("/accounts/password/reset/key/" in m.body for m in mail.outbox)


def test_a_member_changes_their_password(alice_client, alice, password):
    response = alice_client.post("/accounts/password/change/", {
        "oldpassword": password, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD,
    })

    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)


def test_changing_the_password_needs_the_old_one(alice_client, alice, password):
    response = alice_client.post("/accounts/password/change/", {
        "oldpassword": "not-my-password", "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
    })

    assert response.status_code == 200
    alice.refresh_from_db()
    assert alice.check_password(password)


def test_the_email_change_page_is_reachable_for_a_member(alice_client, alice):
    response = alice_client.get("/accounts/email/")

    assert response.status_code == 200
    assert alice.email.encode() in response.content


@pytest.mark.parametrize("path", ["/accounts/email/", "/accounts/password/change/"])
def test_account_pages_send_a_visitor_to_log_in(client, db, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
