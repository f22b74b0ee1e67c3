"""Secondhand: a community second-hand platform (one Django project, one app)."""

__version__ = "0.1.0"
