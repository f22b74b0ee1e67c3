"""A member's own account page: details, data export and deletion."""

from __future__ import annotations

import json

from allauth.account.models import EmailAddress
from django.contrib.auth import SESSION_KEY

from secondhand_site.models import User


def test_the_account_page_sends_a_visitor_to_log_in(client, db):
    response = client.get("/account/")

    assert response.status_code == 302
    assert response.url == "/accounts/login/?next=/account/"


def test_the_account_page_shows_the_members_email(alice_client, alice):
    response = alice_client.get("/account/")

    assert response.status_code == 200
    assert b"alice@example.com" in response.content
    assert b"verified" in response.content
    assert b"Member" in response.content


def test_the_account_page_changes_nothing_by_post(alice_client):
    assert alice_client.post("/account/").status_code == 405


def test_the_export_is_a_json_attachment_of_my_data_only(alice_client, alice, bob):
    EmailAddress.objects.create(user=alice, email="alice.work@example.com", verified=False)

    response = alice_client.get("/account/export/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    data = json.loads(response.content)
    assert data["account"]["email"] == "alice@example.com"
    assert sorted(e["email"] for e in data["email_addresses"]) == [
        "alice.work@example.com", "alice@example.com",
    ]
    assert b"bob" not in response.content.lower()


def test_the_export_sends_a_visitor_to_log_in(client, db):
    response = client.get("/account/export/")

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_deleting_asks_for_confirmation_first(alice_client, alice):
    response = alice_client.get("/account/delete/")

    assert response.status_code == 200
    assert b'type="password"' in response.content
    assert b"alice@example.com" in response.content
    assert User.objects.filter(pk=alice.pk).exists()


def test_a_wrong_password_deletes_nothing(alice_client, alice):
    response = alice_client.post("/account/delete/", {"password": "not-my-password"})

    assert response.status_code == 200
    assert b"That is not your password. Nothing was deleted." in response.content
    assert User.objects.filter(pk=alice.pk).exists()
    assert alice_client.session.get(SESSION_KEY) == str(alice.pk)


def test_the_right_password_deletes_the_account_and_logs_out(alice_client, alice, bob,
                                                             password):
    response = alice_client.post("/account/delete/", {"password": password})

    assert response.status_code == 302
    assert response.url == "/"
    assert not User.objects.filter(pk=alice.pk).exists()
    assert not EmailAddress.objects.filter(email="alice@example.com").exists()
    assert User.objects.filter(pk=bob.pk).exists()
    assert alice_client.session.get(SESSION_KEY) is None

    page = alice_client.get(response.url)
    assert b"Your account has been deleted" in page.content
    assert alice_client.get("/account/").status_code == 302


def test_deleting_sends_a_visitor_to_log_in(client, db):
    response = client.post("/account/delete/", {"password": "whatever"})

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
