"""Test set-up shared by the unit and browser suites.

Django's settings read the data folder from the environment when first imported, so it
is pointed at a throw-away folder here, before pytest-django sets Django up.
"""

from __future__ import annotations

import os
import tempfile


def pytest_configure(config) -> None:
    data_dir = os.environ.setdefault("SECONDHAND_DATA_DIR",
                                     tempfile.mkdtemp(prefix="secondhand-test-"))
    # whitenoise looks for the static folder at start-up; the unit tests never fill it.
    os.makedirs(os.path.join(data_dir, "static"), exist_ok=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "secondhand_site.settings")
    # The browser suite drives a real server in a subprocess; the unit suite's
    # test database must never be the one a developer's `secondhand serve` uses.
    import django

    django.setup()
