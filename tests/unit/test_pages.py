"""Every HTML page: the security policy, the htmx set-up, the site look, the error pages."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from django.contrib.staticfiles import finders
from django.test import Client, RequestFactory

from secondhand_site.views import system


class Page(HTMLParser):
    """What a page is made of, as far as these tests care."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline_scripts: list[str] = []
        self._in_script = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline_scripts.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]

    def one(self, tag: str, **match: str) -> dict[str, str | None]:
        found = [a for a in self.all(tag) if all(a.get(k) == v for k, v in match.items())]
        assert len(found) == 1, f"expected one <{tag} {match}>, found {len(found)}"
        return found[0]


def anonymous(client):
    return client


PAGES = [
    ("/", anonymous),
    ("/accounts/login/", anonymous),
    ("/accounts/signup/", anonymous),
    ("/accounts/password/reset/", anonymous),
    ("/no-such-page/", anonymous),
    ("/account/", "alice_client"),
    ("/account/delete/", "alice_client"),
    ("/accounts/email/", "alice_client"),
    ("/accounts/password/change/", "alice_client"),
    ("/accounts/logout/", "alice_client"),
    ("/manage/", "owner_client"),
    ("/manage/", "alice_client"),  # 403
]


@pytest.fixture(params=PAGES, ids=[f"{path} {getattr(who, '__name__', who)}"
                                     for path, who in PAGES])
def html_page(request, client, db):
    path, who = request.param
    client = anonymous(client) if who is anonymous else request.getfixturevalue(who)
    response = client.get(path)
    assert response.status_code in {200, 403, 404}, (path, response.status_code)
    return response


def test_every_page_has_a_strict_content_security_policy(html_page):
    policy = html_page["Content-Security-Policy"]

    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy


def test_no_page_has_inline_scripts_styles_or_handlers(html_page):
    parsed = Page(html_page.content.decode())

    assert parsed.inline_scripts == []
    for tag, attrs in parsed.tags:
        assert "style" not in attrs, f"style= on <{tag}>"
        handlers = [name for name in attrs if name.startswith(("on", "hx-on"))]
        assert handlers == [], f"{handlers} on <{tag}>"
    assert parsed.all("style") == []


def test_every_page_sends_the_csrf_token_with_htmx_requests(html_page):
    body = Page(html_page.content.decode()).one("body")

    headers = json.loads(body["hx-headers"])
    assert len(headers["X-CSRFToken"]) >= 32


def test_every_page_loads_htmx_and_its_sse_extension_from_static_files(html_page):
    sources = [attrs["src"] for attrs in Page(html_page.content.decode()).all("script")]

    assert "/static/django_htmx/htmx-2.min.js" in sources
    assert "/static/django_htmx/ext/hx-sse-2.min.js" in sources
    for src in sources:
        assert src.startswith("/static/"), f"{src} is not served by the site itself"


def test_every_page_runs_htmx_without_eval(html_page):
    meta = Page(html_page.content.decode()).one("meta", name="htmx-config")

    config = json.loads(meta["content"])
    assert config["allowEval"] is False
    assert config["selfRequestsOnly"] is True


def test_every_page_starts_with_a_skip_link_to_the_main_content(html_page):
    parsed = Page(html_page.content.decode())

    first_link = parsed.all("a")[0]
    assert first_link["href"] == "#main"
    assert parsed.one("main", id="main")


def test_the_scripts_the_pages_load_exist():
    for path in ("django_htmx/htmx-2.min.js", "django_htmx/ext/hx-sse-2.min.js",
                 "secondhand/site.js", "secondhand/site.css"):
        assert finders.find(path), path


def test_the_csrf_token_in_hx_headers_is_accepted_for_a_post(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    token = json.loads(Page(client.get("/").content.decode()).one("body")["hx-headers"])[
        "X-CSRFToken"]

    refused = client.post("/accounts/logout/")
    accepted = client.post("/accounts/logout/", headers={"X-CSRFToken": token})

    assert refused.status_code == 403
    assert accepted.status_code == 302


def test_a_form_posted_without_its_token_is_refused_in_the_site_look(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    response = client.post("/accounts/logout/")

    assert response.status_code == 403
    assert b'class="site-header"' in response.content
    assert b"Form expired" in response.content
    assert Page(response.content.decode()).all("style") == []
    assert client.session.get("_auth_user_id") == str(alice.pk)


def test_healthz_answers_ok(client, db):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.content.decode().strip() == "ok"
    assert response["Content-Type"].startswith("text/plain")


def test_a_missing_page_is_a_404_in_the_site_look(client, db):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert b'class="site-header"' in response.content
    assert b"Page not found" in response.content


def test_the_500_page_is_plain_and_needs_no_context(db):
    request = RequestFactory().get("/")

    response = system.server_error(request)

    assert response.status_code == 500
    assert b"Something went wrong" in response.content
    assert b"site-header" not in response.content
