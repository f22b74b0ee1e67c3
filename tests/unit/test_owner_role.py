"""The owner role: only owners reach /manage/ and see the way there."""

from __future__ import annotations

from html.parser import HTMLParser


class NavLinks(HTMLParser):
    """The text of each link inside the main navigation."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.in_link = False
        self.links: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "nav" and attrs.get("aria-label") == "Main":
            self.depth = 1
        elif tag == "nav" and self.depth:
            self.depth += 1
        if self.depth and tag == "a":
            self.in_link = True
            self.links.append((attrs.get("href", ""), ""))

    def handle_endtag(self, tag):
        if tag == "nav" and self.depth:
            self.depth -= 1
        if tag == "a":
            self.in_link = False

    def handle_data(self, data):
        if self.in_link:
            href, text = self.links[-1]
            self.links[-1] = (href, text + data)


def nav_links(response) -> dict[str, str]:
    parser = NavLinks()
    parser.feed(response.content.decode())
    return {text.strip(): href for href, text in parser.links}


def test_manage_sends_a_visitor_to_log_in_and_back(client, db):
    response = client.get("/manage/")

    assert response.status_code == 302
    assert response.url == "/accounts/login/?next=/manage/"


def test_manage_refuses_a_member_in_the_site_look(alice_client):
    response = alice_client.get("/manage/")

    assert response.status_code == 403
    assert b'class="site-header"' in response.content
    assert b"Not allowed" in response.content


def test_manage_opens_for_an_owner(owner_client):
    response = owner_client.get("/manage/")

    assert response.status_code == 200
    assert b"<title>Manage" in response.content


def test_an_owner_who_was_deactivated_is_not_let_in(client, owner):
    owner.is_active = False
    owner.save()
    client.force_login(owner)

    assert client.get("/manage/").status_code != 200


def test_the_nav_shows_manage_to_an_owner(owner_client):
    links = nav_links(owner_client.get("/"))

    assert links["Manage"] == "/manage/"


def test_the_nav_hides_manage_from_a_member(alice_client):
    links = nav_links(alice_client.get("/"))

    assert "Account" in links
    assert "Manage" not in links


def test_the_nav_hides_manage_from_a_visitor(client, db):
    links = nav_links(client.get("/"))

    assert "Log in" in links
    assert "Manage" not in links
