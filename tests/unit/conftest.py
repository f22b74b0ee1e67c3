from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MAIL_DIR = tmp_path / "mail"
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}


PASSWORD = "correct-horse-battery-9"


def make_member(email: str, *, owner: bool = False, verified: bool = True, **extra):
    from allauth.account.models import EmailAddress

    from secondhand_site.models import User

    user = User.objects.create_user(email=email, password=PASSWORD, is_owner=owner, **extra)
    EmailAddress.objects.create(user=user, email=email, verified=verified, primary=True)
    return user


@pytest.fixture
def owner(db):
    return make_member("olivia.owner@example.com", owner=True, first_name="Olivia")


@pytest.fixture
def alice(db):
    return make_member("alice@example.com", first_name="Alice")


@pytest.fixture
def bob(db):
    return make_member("bob@example.com", first_name="Bob")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client
