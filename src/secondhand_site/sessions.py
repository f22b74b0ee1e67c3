"""Sessions in the database, as Django's own backend does, refusing keys it never issues.

A cookie may carry anything, a NUL included (the octal escape \\000 decodes to one), and
PostgreSQL answers a NUL in a query with an error, which would be a 500 on every page.
Django's keys are 32 lower-case letters and digits; any other key is simply no session.
"""

from __future__ import annotations

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore


class SessionStore(DatabaseSessionStore):
    def _validate_session_key(self, key: str | None) -> bool:
        return bool(key) and 8 <= len(key) <= 40 and key.isascii() and key.isalnum()
