"""Settings come from the environment, each with a safe local default.

Settings are read once per process, so each case imports them in a fresh interpreter.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

READ = """
import json, os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "secondhand_site.settings"
from django.conf import settings
print(json.dumps({name: getattr(settings, name, None) for name in sys.argv[1:]}, default=str))
"""


@pytest.fixture
def read_settings(tmp_path, fresh_env):
    def read(*names: str, **env: str) -> dict:
        result = subprocess.run(
            [sys.executable, "-c", READ, *names],
            env=fresh_env(**env), cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    return read


def test_debug_is_off_by_default(read_settings):
    assert read_settings("DEBUG") == {"DEBUG": False}


@pytest.mark.parametrize(("value", "expected"), [
    ("1", True), ("true", True), ("yes", True), ("0", False), ("no", False), ("", False),
])
def test_secondhand_debug_turns_debug_on(read_settings, value, expected):
    assert read_settings("DEBUG", SECONDHAND_DEBUG=value)["DEBUG"] is expected


def test_the_product_rules_have_defaults(read_settings):
    values = read_settings("HOLD_DAYS", "MAX_ACTIVE_BOOKINGS", "CURRENCY")

    assert values == {"HOLD_DAYS": 7, "MAX_ACTIVE_BOOKINGS": 3, "CURRENCY": "EUR"}


def test_the_product_rules_are_read_from_the_environment(read_settings):
    values = read_settings(
        "HOLD_DAYS", "MAX_ACTIVE_BOOKINGS", "CURRENCY",
        SECONDHAND_HOLD_DAYS="10", SECONDHAND_MAX_ACTIVE_BOOKINGS=" 5 ", SECONDHAND_CURRENCY="chf",
    )

    assert values == {"HOLD_DAYS": 10, "MAX_ACTIVE_BOOKINGS": 5, "CURRENCY": "CHF"}


def test_nonsense_in_the_product_rules_falls_back_to_safe_values(read_settings):
    values = read_settings("HOLD_DAYS", "MAX_ACTIVE_BOOKINGS",
                           SECONDHAND_HOLD_DAYS="a week", SECONDHAND_MAX_ACTIVE_BOOKINGS="0")

    assert values == {"HOLD_DAYS": 7, "MAX_ACTIVE_BOOKINGS": 1}


def test_the_default_database_is_sqlite_in_the_data_folder(read_settings, tmp_path):
    db = read_settings("DATABASES")["DATABASES"]["default"]

    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert Path(db["NAME"]) == (tmp_path / "data" / "secondhand.sqlite3").resolve()
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert db["OPTIONS"]["timeout"] > 0
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]


def test_database_url_switches_to_postgresql_with_pooled_checked_connections(read_settings):
    db = read_settings(
        "DATABASES", DATABASE_URL="postgres://shop:s3cret@db.example.com:5433/secondhand",
    )["DATABASES"]["default"]

    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "secondhand", "shop", "s3cret", "db.example.com", 5433,
    )
    assert db["CONN_MAX_AGE"] > 0
    assert db["CONN_HEALTH_CHECKS"] is True


def test_a_secret_key_is_generated_once_into_the_data_folder(read_settings, tmp_path):
    first = read_settings("SECRET_KEY")["SECRET_KEY"]
    second = read_settings("SECRET_KEY")["SECRET_KEY"]

    key_file = tmp_path / "data" / "secret_key"
    assert len(first) >= 50
    assert first == second
    assert key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_each_data_folder_gets_its_own_secret_key(read_settings, tmp_path):
    one = read_settings("SECRET_KEY", SECONDHAND_DATA_DIR=str(tmp_path / "one"))
    two = read_settings("SECRET_KEY", SECONDHAND_DATA_DIR=str(tmp_path / "two"))

    assert one != two


def test_secret_key_from_the_environment_wins(read_settings, tmp_path):
    values = read_settings("SECRET_KEY", SECRET_KEY="given-by-the-host-" + "x" * 40)

    assert values["SECRET_KEY"] == "given-by-the-host-" + "x" * 40
    assert not (tmp_path / "data" / "secret_key").exists()


@pytest.mark.parametrize(("value", "expected"), [
    (None, "mandatory"), ("optional", "optional"), ("NONE", "none"),
    ("mandatory", "mandatory"), ("sometimes", "mandatory"),
])
def test_email_verification_is_mandatory_unless_asked_otherwise(read_settings, value, expected):
    env = {} if value is None else {"SECONDHAND_EMAIL_VERIFICATION": value}

    values = read_settings("ACCOUNT_EMAIL_VERIFICATION", **env)

    assert values["ACCOUNT_EMAIL_VERIFICATION"] == expected


def test_mail_is_saved_to_the_data_folder_by_default(read_settings, tmp_path):
    values = read_settings("MAILERS", "MAIL_DIR")

    assert values["MAILERS"]["default"]["BACKEND"] == "secondhand_site.emails.FolderEmailBackend"
    assert Path(values["MAIL_DIR"]) == (tmp_path / "data" / "mail").resolve()


def test_email_url_configures_smtp(read_settings):
    mailer = read_settings(
        "MAILERS", EMAIL_URL="smtp://u:p@mail.example.com:587",
    )["MAILERS"]["default"]

    assert mailer["BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    options = mailer["OPTIONS"]
    assert (options["host"], options["port"]) == ("mail.example.com", 587)
    assert (options["username"], options["password"]) == ("u", "p")
    assert options["use_tls"] is True
    assert options["use_ssl"] is False
    assert options["timeout"] > 0


def test_email_url_with_smtps_uses_ssl_and_decodes_the_password(read_settings):
    options = read_settings(
        "MAILERS", EMAIL_URL="smtps://me%40example.com:p%40ss%2Fword@mail.example.com",
    )["MAILERS"]["default"]["OPTIONS"]

    assert options["port"] == 465
    assert options["use_ssl"] is True
    assert options["use_tls"] is False
    assert (options["username"], options["password"]) == ("me@example.com", "p@ss/word")


def test_https_is_off_by_default(read_settings):
    values = read_settings("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
                           "SECURE_HSTS_SECONDS", "SECURE_SSL_REDIRECT")

    assert values == {"SESSION_COOKIE_SECURE": False, "CSRF_COOKIE_SECURE": False,
                      "SECURE_HSTS_SECONDS": 0, "SECURE_SSL_REDIRECT": False}


def test_secondhand_https_turns_on_secure_cookies_hsts_and_redirect(read_settings):
    values = read_settings(
        "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS",
        "SECURE_SSL_REDIRECT", "SECURE_PROXY_SSL_HEADER", "CSRF_TRUSTED_ORIGINS",
        "ACCOUNT_DEFAULT_HTTP_PROTOCOL",
        SECONDHAND_HTTPS="1", SECONDHAND_ALLOWED_HOSTS="shop.example.com",
    )

    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31536000
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["CSRF_TRUSTED_ORIGINS"] == ["https://shop.example.com"]
    assert values["ACCOUNT_DEFAULT_HTTP_PROTOCOL"] == "https"


def test_over_https_only_healthz_answers_plain_http(read_settings, settings, client, db):
    exempt = read_settings("SECURE_REDIRECT_EXEMPT",
                           SECONDHAND_HTTPS="1")["SECURE_REDIRECT_EXEMPT"]
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = exempt
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    plain = client.get("/")
    behind_proxy = client.get("/", headers={"X-Forwarded-Proto": "https"})
    health = client.get("/healthz")

    assert plain.status_code == 301
    assert plain.url == "https://testserver/"
    assert behind_proxy.status_code == 200
    assert health.status_code == 200


def test_allowed_hosts_are_a_comma_separated_list(read_settings):
    values = read_settings("ALLOWED_HOSTS",
                           SECONDHAND_ALLOWED_HOSTS=" a.example.com, b.example.com ,")

    assert values["ALLOWED_HOSTS"] == ["a.example.com", "b.example.com"]


@pytest.mark.django_db
def test_sqlite_runs_with_wal_and_full_synchronous_writes():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite pragmas; this run uses " + connection.vendor)

    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        journal_mode = cursor.fetchone()[0]
        cursor.execute("PRAGMA synchronous")
        synchronous = cursor.fetchone()[0]
        cursor.execute("PRAGMA foreign_keys")
        foreign_keys = cursor.fetchone()[0]

    assert journal_mode == "wal"
    assert synchronous == 2  # FULL
    assert foreign_keys == 1


def test_photos_stay_in_the_data_folder_by_default(read_settings, tmp_path):
    values = read_settings("STORAGES", "MEDIA_ROOT")

    assert values["STORAGES"]["default"]["BACKEND"].endswith("FileSystemStorage")
    assert Path(values["MEDIA_ROOT"]) == (tmp_path / "data" / "media").resolve()


def test_an_s3_bucket_moves_photos_to_s3_compatible_storage(read_settings):
    values = read_settings(
        "STORAGES", "SECURE_CSP",
        SECONDHAND_S3_BUCKET="photos", SECONDHAND_S3_ENDPOINT_URL="https://s3.example.com",
        SECONDHAND_S3_ACCESS_KEY_ID="key", SECONDHAND_S3_SECRET_ACCESS_KEY="secret",
        SECONDHAND_S3_MEDIA_ORIGIN="https://s3.example.com",
    )

    storage = values["STORAGES"]["default"]
    assert storage["BACKEND"] == "storages.backends.s3.S3Storage"
    assert storage["OPTIONS"]["bucket_name"] == "photos"
    assert storage["OPTIONS"]["endpoint_url"] == "https://s3.example.com"
    assert storage["OPTIONS"]["file_overwrite"] is False
    assert "immutable" in storage["OPTIONS"]["object_parameters"]["CacheControl"]
    # The browser may load the photos from there.
    assert "https://s3.example.com" in values["SECURE_CSP"]["img-src"]


def test_s3_storage_builds_photo_urls_in_the_bucket(fresh_env, tmp_path):
    code = """
import os
os.environ["DJANGO_SETTINGS_MODULE"] = "secondhand_site.settings"
import django; django.setup()
from django.core.files.storage import storages
storage = storages["default"]
print(type(storage).__name__, storage.url("items/abc.webp"))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env=fresh_env(SECONDHAND_S3_BUCKET="photos", SECONDHAND_S3_SIGNED_URLS="0",
                      SECONDHAND_S3_ENDPOINT_URL="https://s3.example.com",
                      SECONDHAND_S3_ACCESS_KEY_ID="key", SECONDHAND_S3_SECRET_ACCESS_KEY="x"),
    )
    assert result.returncode == 0, result.stderr
    kind, url = result.stdout.split()
    assert kind == "S3Storage"
    assert url == "https://s3.example.com/photos/items/abc.webp"
