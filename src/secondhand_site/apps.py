from __future__ import annotations

from django.apps import AppConfig


class SecondhandConfig(AppConfig):
    name = "secondhand_site"
    label = "secondhand_site"
    verbose_name = "Secondhand"
    default_auto_field = "django.db.models.BigAutoField"
