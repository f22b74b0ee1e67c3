"""Settings for Secondhand, driven by environment variables with safe local defaults.

Every variable is listed in the README's configuration table. Nothing here needs a
service beyond the SQLite file in the data folder unless it is asked for.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    value = env_str(name)
    if not value:
        return default
    return value.lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = env_str(name)
    try:
        return int(value) if value else default
    except ValueError:
        return default


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in env_str(name, default).split(",") if part.strip()]


DATA_DIR = Path(env_str("SECONDHAND_DATA_DIR", "secondhand-data")).expanduser().resolve()


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once into the data folder."""
    if key := env_str("SECRET_KEY"):
        return key
    path = DATA_DIR / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        # O_EXCL: when two processes start at once, exactly one key wins.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key


SECRET_KEY = _secret_key()
DEBUG = env_bool("SECONDHAND_DEBUG")
HTTPS = env_bool("SECONDHAND_HTTPS")
ALLOWED_HOSTS = env_list("SECONDHAND_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = [
    f"{'https' if HTTPS else 'http'}://{host}"
    for host in ALLOWED_HOSTS
    if host not in {"*"} and not host.startswith(".")
]

INSTALLED_APPS = [
    "secondhand_site.apps.SecondhandConfig",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "allauth",
    "allauth.account",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "secondhand_site.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "secondhand_site.urls"
WSGI_APPLICATION = "secondhand_site.wsgi.application"
AUTH_USER_MODEL = "secondhand_site.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "secondhand_site.context_processors.site",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    import dj_database_url

    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=600, conn_health_checks=True
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "secondhand.sqlite3",
            "OPTIONS": {
                # IMMEDIATE: a writer takes the lock when its transaction starts, so two
                # writers queue on the busy timeout instead of failing mid-transaction.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=FULL;"
                    "PRAGMA foreign_keys=ON;"
                    "PRAGMA cache_size=-20000;"
                    "PRAGMA mmap_size=134217728;"
                    "PRAGMA temp_store=MEMORY;"
                ),
            },
            # The test database is a real file, so races are tested on WAL as in use.
            "TEST": {"NAME": str(DATA_DIR / "test-secondhand.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_SQLITE = DATABASES["default"]["ENGINE"].endswith("sqlite3")

# A cache every worker process shares, so rate limits hold across workers.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "secondhand_cache",
    }
}

# --- Accounts -----------------------------------------------------------------------

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
EMAIL_VERIFICATION = env_str("SECONDHAND_EMAIL_VERIFICATION", "mandatory").lower()
if EMAIL_VERIFICATION not in {"mandatory", "optional", "none"}:
    EMAIL_VERIFICATION = "mandatory"
ACCOUNT_EMAIL_VERIFICATION = EMAIL_VERIFICATION
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Secondhand] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if HTTPS else "http"
ACCOUNT_ADAPTER = "secondhand_site.adapters.AccountAdapter"
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/"

# --- Email --------------------------------------------------------------------------

DEFAULT_FROM_EMAIL = env_str("SECONDHAND_FROM_EMAIL", "Secondhand <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
MAIL_DIR = DATA_DIR / "mail"
# Notifications go out on a background thread after commit, so a slow mail server never
# holds up a request. Tests send them inline.
MAIL_IN_BACKGROUND = env_bool("SECONDHAND_MAIL_IN_BACKGROUND", True)
# Links in notification mails point here (`serve` sets it from --host/--port if unset).
SITE_URL = env_str("SECONDHAND_SITE_URL", "http://127.0.0.1:8000")


def _mailer() -> dict[str, object]:
    """EMAIL_URL (smtp://user:pass@host:587, smtps://... for SSL) or EMAIL_HOST, else files."""
    url = env_str("EMAIL_URL")
    if url:
        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        ssl = parts.scheme == "smtps" or query.get("ssl") in {"1", "true"}
        options = {
            "host": parts.hostname or "localhost",
            "port": parts.port or (465 if ssl else 587),
            "username": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
            "use_ssl": ssl,
            "use_tls": not ssl and query.get("tls", "1") in {"1", "true"},
        }
    elif env_str("EMAIL_HOST"):
        options = {
            "host": env_str("EMAIL_HOST"),
            "port": env_int("EMAIL_PORT", 587),
            "username": env_str("EMAIL_HOST_USER"),
            "password": env_str("EMAIL_HOST_PASSWORD"),
            "use_tls": env_bool("EMAIL_USE_TLS", True),
            "use_ssl": env_bool("EMAIL_USE_SSL"),
        }
    else:
        return {"BACKEND": "secondhand_site.emails.FolderEmailBackend"}
    return {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {**options, "timeout": 10},
    }


MAILERS = {"default": _mailer()}

# --- Static files and media ------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
S3_BUCKET = env_str("SECONDHAND_S3_BUCKET")
if S3_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env_str("SECONDHAND_S3_ENDPOINT_URL") or None,
            "region_name": env_str("SECONDHAND_S3_REGION") or None,
            "access_key": env_str("SECONDHAND_S3_ACCESS_KEY_ID") or None,
            "secret_key": env_str("SECONDHAND_S3_SECRET_ACCESS_KEY") or None,
            "custom_domain": env_str("SECONDHAND_S3_CUSTOM_DOMAIN") or None,
            "querystring_auth": env_bool("SECONDHAND_S3_SIGNED_URLS", True),
            "file_overwrite": False,
            "object_parameters": {"CacheControl": "public, max-age=31536000, immutable"},
        },
    }
WHITENOISE_MAX_AGE = 31536000 if not DEBUG else 0
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Security -------------------------------------------------------------------------

SESSION_ENGINE = "secondhand_site.sessions"  # the database backend, refusing odd cookie keys
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "secondhand_site.views.system.csrf_failure"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECONDHAND_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

_media_origin = env_list("SECONDHAND_S3_MEDIA_ORIGIN")
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", "blob:", *_media_origin],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# --- The product ---------------------------------------------------------------------------

SITE_NAME = env_str("SECONDHAND_SITE_NAME", "Secondhand")
CURRENCY = env_str("SECONDHAND_CURRENCY", "EUR").upper()
HOLD_DAYS = max(1, env_int("SECONDHAND_HOLD_DAYS", 7))
MAX_ACTIVE_BOOKINGS = max(1, env_int("SECONDHAND_MAX_ACTIVE_BOOKINGS", 3))

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("SECONDHAND_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "stream": sys.stderr,
                             "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"secondhand": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
