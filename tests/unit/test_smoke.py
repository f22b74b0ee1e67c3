from __future__ import annotations


def test_the_catalog_renders_for_a_visitor(client, db):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Catalog" in response.content
