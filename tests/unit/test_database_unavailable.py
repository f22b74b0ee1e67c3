from __future__ import annotations

from django.db import OperationalError

from secondhand_site.views import catalog


def test_a_database_out_of_reach_gives_a_try_again_page_not_a_server_error(
        client, db, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(catalog, "filtered_items", unreachable)
    response = client.get("/")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert b"Back in a moment" in response.content


def test_other_errors_are_not_disguised(client, db, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(catalog, "filtered_items", broken)
    client.raise_request_exception = False
    assert client.get("/").status_code == 500
