"""Accounts, as a person meets them: sign up, verify, log in and out, reset, roles."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

PASSWORD_FIELD = re.compile(r"^Password:?$")


def nav(page: Page):
    return page.get_by_role("navigation", name="Main")


def expect_logged_in(page: Page) -> None:
    expect(nav(page).get_by_role("link", name="Account")).to_be_visible()
    expect(nav(page).get_by_role("button", name="Log out")).to_be_visible()
    expect(nav(page).get_by_role("link", name="Log in")).to_have_count(0)


def expect_manage_page(page: Page) -> None:
    expect(page).to_have_url(re.compile(r"/manage/$"))
    expect(page).to_have_title(re.compile(r"^Manage\b"))
    expect(nav(page).get_by_role("link", name="Manage")).to_have_attribute("aria-current", "page")


def expect_logged_out(page: Page) -> None:
    expect(nav(page).get_by_role("link", name="Log in")).to_be_visible()
    expect(nav(page).get_by_role("button", name="Log out")).to_have_count(0)


def fill_login(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label(PASSWORD_FIELD).fill(password)
    page.get_by_role("main").get_by_role("button", name="Sign In").click()


def test_a_new_member_signs_up_verifies_the_email_and_logs_in_and_out(page, server, new_email):
    address = new_email("newcomer")
    page.goto("/")
    nav(page).get_by_role("link", name="Sign up").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign Up")
    page.get_by_label("Email").fill(address)
    page.get_by_label(PASSWORD_FIELD).fill("a-fresh-secret-2026")
    page.get_by_label("Password (again)").fill("a-fresh-secret-2026")
    page.get_by_role("main").get_by_role("button", name="Sign Up").click()
    expect(page.get_by_role("heading", name="Verify Your Email Address")).to_be_visible()
    expect_logged_out(page)

    mail = server.latest_mail(address)
    assert mail.link.startswith(server.url)
    page.goto(mail.link)
    expect(page.get_by_role("heading", name="Confirm Email Address")).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text(address)
    page.get_by_role("button", name="Confirm").click()
    expect_logged_in(page)

    nav(page).get_by_role("button", name="Log out").click()
    expect_logged_out(page)

    nav(page).get_by_role("link", name="Log in").click()
    fill_login(page, address, "a-fresh-secret-2026")
    expect_logged_in(page)
    nav(page).get_by_role("link", name="Account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My account")
    expect(page.get_by_role("main")).to_contain_text(address)
    expect(page.get_by_role("main")).to_contain_text("verified")


def test_a_wrong_password_is_refused_with_a_message(page, member):
    page.goto("/accounts/login/")
    fill_login(page, member.email, "not-the-password-1")
    expect(page.get_by_role("alert")).to_contain_text("not correct")
    expect_logged_out(page)


def test_the_owner_logs_in_and_finds_the_manage_pages(page, owner, log_in):
    log_in(page, owner)
    nav(page).get_by_role("link", name="Manage").click()
    expect_manage_page(page)


def test_a_member_sees_no_manage_link_and_is_not_allowed_there(page, member, log_in):
    log_in(page, member)
    expect(nav(page).get_by_role("link", name="Manage")).to_have_count(0)
    response = page.goto("/manage/")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")


def test_a_visitor_is_asked_to_log_in_for_manage_and_then_taken_there(page, owner):
    page.goto("/manage/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/manage/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign In")
    fill_login(page, owner.email, owner.password)
    expect_manage_page(page)


def test_a_member_resets_a_forgotten_password_by_mail(page, server, member):
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Password Reset")
    page.get_by_label("Email").fill(member.email)
    page.get_by_role("button", name="Reset My Password").click()
    expect(page.get_by_role("main")).to_contain_text("We have sent you an email")

    page.goto(server.latest_mail(member.email, subject="password").link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Change Password")
    page.get_by_label(re.compile(r"^New Password:?$")).fill("a-brand-new-secret-77")
    page.get_by_label("New Password (again)").fill("a-brand-new-secret-77")
    page.get_by_role("button", name="Change Password").click()
    expect(page.get_by_role("main")).to_contain_text("Your password is now changed.")

    page.goto("/accounts/login/")
    fill_login(page, member.email, member.password)
    expect(page.get_by_role("alert")).to_contain_text("not correct")
    fill_login(page, member.email, "a-brand-new-secret-77")
    expect_logged_in(page)


ANONYMOUS_PAGES = [
    ("/", 200, "Catalog"),
    ("/accounts/login/", 200, "Sign In"),
    ("/accounts/signup/", 200, "Sign Up"),
    ("/accounts/password/reset/", 200, "Password Reset"),
    ("/no-such-page/", 404, "Page not found"),
]
OWNER_PAGES = [
    ("/account/", 200, "My account"),
    ("/account/delete/", 200, "Delete my account"),
    ("/accounts/email/", 200, None),
    ("/accounts/password/change/", 200, None),
    ("/manage/", 200, None),
]


@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_every_page_so_far_is_clean_and_fits_the_screen(
    screen, request, owner, log_in, page_errors
):
    page: Page = request.getfixturevalue("phone_page" if screen == "phone" else "page")
    page.goto("/")
    assert page.evaluate("innerWidth") == (390 if screen == "phone" else 1280)

    def visit(path: str, status: int, heading: str | None) -> None:
        response = page.goto(path)
        assert response is not None and response.status == status, path
        if heading:
            expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        expect(page.get_by_role("link", name="Skip to content")).to_be_attached()
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on the {screen}"
        page_errors.assert_clean(path)

    for path, status, heading in ANONYMOUS_PAGES:
        visit(path, status, heading)
    log_in(page, owner)
    for path, status, heading in OWNER_PAGES:
        visit(path, status, heading)


@pytest.mark.parametrize("path", ["/", "/accounts/login/"])
def test_the_first_tab_goes_to_skip_to_content(page, path):
    page.goto(path)
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.get_by_role("main")).to_be_focused()


def test_the_error_watch_catches_an_inline_style_under_the_site_csp(page, server, page_errors):
    # The site's own page and headers, with one inline style slipped in: the site's CSP
    # must block it and the watch must see it, or the clean-page checks prove nothing.
    def add_inline_style(route):
        response = route.fetch()
        body = response.text().replace("<main", '<main style="color: red"', 1)
        route.fulfill(response=response, body=body)

    page.route(server.url + "accounts/login/", add_inline_style)  # this exact URL only
    page.goto("/accounts/login/")
    page.wait_for_function("window.__cspViolations.length > 0")
    assert [v["directive"] for v in page_errors.csp_violations] == ["style-src-attr"]
    page.unroute_all(behavior="ignoreErrors")
    page_errors.clear()


def test_the_error_watch_catches_console_errors_and_uncaught_exceptions(page, page_errors):
    page.goto("/accounts/login/")
    page.evaluate("console.error('something broke')")
    page.evaluate("setTimeout(() => { throw new Error('nobody caught this') })")
    for _ in range(50):  # the exception is reported a moment later
        if page_errors.page_exceptions:
            break
        page.wait_for_timeout(100)
    problems = "\n".join(page_errors.problems())
    assert "Console error on" in problems and "something broke" in problems
    assert "Uncaught exception on" in problems and "nobody caught this" in problems
    page_errors.clear()
