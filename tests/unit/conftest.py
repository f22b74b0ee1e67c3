from __future__ import annotations

import os

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
    # Mail goes out on commit, inline, so a test sees it as soon as its transaction ends.
    settings.MAIL_IN_BACKGROUND = False


PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def fresh_env(tmp_path):
    """Build the environment of a new install for a subprocess: none of this suite's
    settings (data folder, database, mail) leak in; the data folder is under tmp_path."""

    def build(**extra: str) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items()
            if not k.startswith(("SECONDHAND_", "EMAIL_"))
            and k not in {"DATABASE_URL", "SECRET_KEY", "DJANGO_SETTINGS_MODULE", "PORT"}
        }
        return {"SECONDHAND_DATA_DIR": str(tmp_path / "data"), **env, **extra}

    return build


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
def password():
    """The password every persona logs in with."""
    return PASSWORD


@pytest.fixture
def carol_unverified(db):
    """A member who signed up but never followed the verification link."""
    return make_member("carol@example.com", verified=False, first_name="Carol")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client
