"""Accessibility: every page works with a keyboard and a screen reader, and at phone width.

The page checks run in the browser on the rendered page (what a screen reader is given),
one page after another in one logged-in browser, so the whole module stays quick. The
journeys use only the keyboard: Tab, Enter, Escape and typing, never a click.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from playwright.sync_api import Locator, Page, expect

DEMO_PASSWORD = "demo-secondhand-2026"
MAX_TABS = 80  # presses of Tab to reach a control before the journey counts as failed

KEYBOARD = "Oak step stool (keyboard)"
LIVE = "Copper saucepan (live)"
EDIT = "Pine bookshelf (edit)"
HELD = "Walnut side table (held)"
QUEUED = "Brass mirror (queued)"
# One word, no hyphen to break at: the narrowest screens must still wrap it.
LONG_EMAIL = "someonewitharatherlongaddressfornarrowscreens@alongcommunitydomain.example.com"


@dataclass(frozen=True)
class Login:
    email: str
    password: str = DEMO_PASSWORD


ALICE = Login("alice@example.com")
BOB = Login("bob@example.com")


@dataclass(frozen=True)
class Shop:
    owner: Login
    ids: dict[str, int]


@pytest.fixture(scope="module")
def shop(server) -> Shop:
    """Demo items with photos, the demo members, an owner who holds one item and queues
    for another, and a member with a long address in a queue (the tables must still fit
    a phone): made in one command, since each `secondhand` command takes a while."""
    owner = Login(f"owner-{uuid.uuid4().hex[:8]}@example.com", "owner-secret-2026-a11y")
    code = (
        "import json\n"
        "from decimal import Decimal\n"
        "from allauth.account.models import EmailAddress\n"
        "from secondhand_site import services\n"
        "from secondhand_site.models import User\n"
        "from secondhand_site.seed import seed_items, seed_members\n"
        "from secondhand_site.services.members import create_owner\n"
        "seed_items(6)\n"
        "alice, bob, carol = seed_members()\n"
        f"owner, _ = create_owner(email={owner.email!r}, password={owner.password!r})\n"
        f"far = User.objects.create_user(email={LONG_EMAIL!r}, password='far-away-2026-x')\n"
        "EmailAddress.objects.create(user=far, email=far.email, primary=True, verified=True)\n"
        "items = {}\n"
        f"for name in {[HELD, QUEUED, EDIT, LIVE, KEYBOARD]!r}:\n"
        "    items[name] = services.create_item(actor=owner, name=name, price=Decimal('24.00'),"
        " description='Solid and sound.\\nCollect near the station.')\n"
        "ids = {name: item.pk for name, item in items.items()}\n"
        f"services.book(item=items[{HELD!r}], member=owner)\n"
        f"services.join_queue(item=items[{HELD!r}], member=far)\n"
        f"services.book(item=items[{QUEUED!r}], member=carol)\n"
        f"services.join_queue(item=items[{QUEUED!r}], member=owner)\n"
        "print(json.dumps(ids))\n"
    )
    result = server.cli("manage", "shell", "--no-imports", "-v", "0", "-c", code)
    ids = json.loads(result.stdout.strip().splitlines()[-1])
    return Shop(owner=owner, ids=ids)


@pytest.fixture
def open_as(new_context, log_in) -> Callable[..., Page]:
    """open_as(account or None, path, **context_options) -> a page in a new browser."""

    def open_as(account: Login | None, path: str = "/", **options) -> Page:
        page = new_context(**options).new_page()
        if account is not None:
            log_in(page, account)
        page.goto(path)
        return page

    return open_as


def visitor_pages(shop: Shop) -> list[str]:
    return ["/", f"/items/{shop.ids[KEYBOARD]}/", "/accounts/login/", "/accounts/signup/",
            "/accounts/password/reset/"]


def owner_pages(shop: Shop) -> list[str]:
    """Every page of a logged-in member, and the owner's pages on top."""
    edit = shop.ids[EDIT]
    return [
        "/", f"/items/{shop.ids[HELD]}/", f"/items/{shop.ids[QUEUED]}/", "/bookings/",
        "/account/", "/account/delete/", "/accounts/password/change/", "/accounts/email/",
        "/manage/", "/manage/items/", "/manage/items/new/", f"/manage/items/{edit}/edit/",
        f"/manage/items/{edit}/history/", "/manage/items/import/", "/manage/bookings/",
    ]


# --- What is checked on a page ---------------------------------------------------------

# Problems a screen reader user would meet on this page, as sentences; none is the goal.
AUDIT = """
() => {
  const problems = [];
  const describe = (el) => el.outerHTML.slice(0, 140);
  const text = (el) => (el.textContent || "").replace(/\\s+/g, " ").trim();
  if (!document.documentElement.lang) problems.push("no lang attribute on <html>");
  const h1s = document.querySelectorAll("h1");
  if (h1s.length !== 1) problems.push(`${h1s.length} h1 headings`);
  const mains = document.querySelectorAll("main, [role=main]");
  if (mains.length !== 1 || mains[0].id !== "main") problems.push("not exactly one main#main");
  const skip = document.querySelector("a[href]");
  if (!skip || skip.getAttribute("href") !== "#main") problems.push("no skip link first");
  const seen = new Map();
  document.querySelectorAll("[id]").forEach((el) => seen.set(el.id, (seen.get(el.id) || 0) + 1));
  for (const [id, n] of seen) if (n > 1) problems.push(`id "${id}" used ${n} times`);
  document.querySelectorAll("[aria-describedby], [aria-labelledby]").forEach((el) => {
    for (const attr of ["aria-describedby", "aria-labelledby"]) {
      for (const id of (el.getAttribute(attr) || "").split(/\\s+/).filter(Boolean)) {
        if (!document.getElementById(id)) {
          problems.push(`${attr} points at no "${id}": ${describe(el)}`);
        }
      }
    }
  });
  const named = (el) => el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
  document.querySelectorAll("input:not([type=hidden]), select, textarea").forEach((el) => {
    if (!(el.labels.length || named(el))) {
      problems.push("unlabelled field: " + describe(el));
    }
  });
  document.querySelectorAll("a[href], button, summary").forEach((el) => {
    const images = Array.from(el.querySelectorAll("img")).map((img) => img.alt).join("");
    if (!(text(el) || named(el) || images.trim())) {
      problems.push("control without a name: " + describe(el));
    }
  });
  document.querySelectorAll("img").forEach((img) => {
    if (!img.hasAttribute("alt")) problems.push("image without alt: " + describe(img));
  });
  const live = document.getElementById("live-announcer");
  if (!live || live.getAttribute("aria-live") !== "polite") problems.push("no #live-announcer");
  const messages = document.getElementById("messages");
  if (!messages || messages.getAttribute("role") !== "status") problems.push("no #messages status");
  return problems;
}
"""

# How the page fits a phone: sideways scrolling, and buttons too small to tap.
FIT = """
() => {
  const problems = [];
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth) {
    const wide = Array.from(document.querySelectorAll("body *"))
      .filter((el) => el.getBoundingClientRect().right > root.clientWidth + 0.5)
      .slice(0, 3).map((el) => el.tagName.toLowerCase() + "." + el.className);
    problems.push(`scrolls sideways: ${root.scrollWidth} > ${root.clientWidth} px`
                  + ` (${wide.join(", ")})`);
  }
  // Nor a part of it: on a phone, tables stack instead of scrolling in a box.
  document.querySelectorAll("main *").forEach((el) => {
    const overflow = getComputedStyle(el).overflowX;
    if ((overflow === "auto" || overflow === "scroll") && el.scrollWidth > el.clientWidth + 1) {
      problems.push(`${el.tagName.toLowerCase()}.${el.className} scrolls sideways inside`);
    }
  });
  document.querySelectorAll("main .button, main button, .site-nav .button").forEach((el) => {
    const box = el.getBoundingClientRect();
    if (box.width && box.height < 40) {
      const label = el.textContent.replace(/\\s+/g, " ").trim();
      problems.push(`${Math.round(box.height)} px tall: ${label}`);
    }
  });
  return problems;
}
"""

# The outline a focused element shows, as "style width".
OUTLINE = """
() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  return [el.tagName.toLowerCase(), style.outlineStyle, parseFloat(style.outlineWidth) || 0];
}
"""

# WCAG contrast ratios, computed from the colours the browser actually uses.
_COLOURS = """
  const parse = (c) => {
    const m = c.match(/rgba?\\(([\\d.]+)[ ,]+([\\d.]+)[ ,]+([\\d.]+)(?:[ ,/]+([\\d.]+%?))?\\)/);
    if (!m) throw new Error("unreadable colour " + c);
    const alpha = m[4] === undefined ? 1 : (m[4].endsWith("%") ? parseFloat(m[4]) / 100 : +m[4]);
    return [+m[1], +m[2], +m[3], alpha];
  };
  const luminance = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const ratio = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  // The first opaque background behind an element (none of ours is see-through).
  const behind = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const c = getComputedStyle(node).backgroundColor;
      if (parse(c)[3] >= 0.99) return c;
    }
    return "rgb(255, 255, 255)";
  };
"""

# An element's text against its background: {ratio, colour, background}, or null.
TEXT_CONTRAST = "(selector) => {" + _COLOURS + """
  const el = document.querySelector(selector);
  if (!el) return null;
  const colour = getComputedStyle(el).color, background = behind(el);
  return { ratio: ratio(parse(colour), parse(background)), colour, background };
}"""

# The focused element's ring against what is around it (3:1 for a non-text colour).
RING_CONTRAST = "() => {" + _COLOURS + """
  const el = document.activeElement;
  const colour = getComputedStyle(el).outlineColor, background = behind(el.parentElement);
  return { ratio: ratio(parse(colour), parse(background)), colour, background };
}"""


def audit(page: Page) -> list[str]:
    return page.evaluate(AUDIT)


def focused(page: Page) -> str:
    """What has the focus, as "tag: text" (for failure messages)."""
    return page.evaluate("""() => { const el = document.activeElement;
        const name = el.getAttribute("aria-label") || el.textContent || el.value || "";
        return el.tagName.toLowerCase() + ": " + name.replace(/\\s+/g, " ").trim(); }""")


def assert_focus_is_visible(page: Page) -> None:
    tag, style, width = page.evaluate(OUTLINE)
    assert style != "none" and width >= 2, f"{focused(page)} shows no focus ring ({style} {width})"


def tab_to(page: Page, control: Locator, *, check_ring: bool = False) -> int:
    """Press Tab until `control` has the focus; returns how many presses it took.

    check_ring: every element passed on the way shows a focus ring.
    """
    for presses in range(1, MAX_TABS + 1):
        page.keyboard.press("Tab")
        if check_ring:
            assert_focus_is_visible(page)
        if control.evaluate("el => el === document.activeElement"):
            return presses
    pytest.fail(f"{MAX_TABS} presses of Tab did not reach the control; ended on {focused(page)}")


def expect_focus_kept(page: Page) -> None:
    assert page.evaluate("document.activeElement && document.activeElement !== document.body"), \
        "the focus was lost to <body>"


# --- Every page -----------------------------------------------------------------------------


def check_pages(page: Page, paths: list[str]) -> dict[str, list[str]]:
    found = {}
    for path in paths:
        response = page.goto(path)
        assert response is not None and response.ok, f"{path}: {response and response.status}"
        problems = audit(page)
        # The skip link is the first Tab stop and takes the keyboard into <main>.
        page.keyboard.press("Tab")
        if focused(page) != "a: Skip to content":
            problems.append(f"first Tab stop is {focused(page)}")
        page.keyboard.press("Enter")
        if page.evaluate("document.activeElement.id") != "main":
            problems.append(f"the skip link leaves the focus on {focused(page)}")
        if problems:
            found[path] = problems
    return found


def test_every_page_has_one_h1_a_main_landmark_named_controls_and_unique_ids(open_as, shop):
    visitor = open_as(None)
    problems = check_pages(visitor, visitor_pages(shop))

    owner = open_as(shop.owner)
    problems |= check_pages(owner, owner_pages(shop))

    # A form sent back with its errors: each error is tied to its field, ids stay unique.
    owner.goto("/manage/items/new/")
    owner.get_by_role("button", name="List item").press("Enter")
    expect(owner.get_by_role("textbox", name="Name")).to_have_attribute("aria-invalid", "true")
    if errors := audit(owner):
        problems["/manage/items/new/ with errors"] = errors
    # And the item table with a row open in the inline editor.
    owner.goto("/manage/items/")
    owner.get_by_role("link", name=f"Edit {EDIT}").press("Enter")
    expect(owner.get_by_role("button", name="Save")).to_be_visible()
    if errors := audit(owner):
        problems["/manage/items/ editing a row"] = errors

    assert not problems, json.dumps(problems, indent=2)


def test_every_page_fits_a_phone_without_sideways_scrolling_and_with_big_buttons(
        open_as, shop):
    phone = {"viewport": {"width": 390, "height": 844}}
    problems: dict[str, list[str]] = {}
    visitor = open_as(None, **phone)
    owner = open_as(shop.owner, **phone)
    for page, paths in ((visitor, visitor_pages(shop)), (owner, owner_pages(shop))):
        for path in paths:
            page.goto(path)
            if found := page.evaluate(FIT):
                problems[path] = found

    owner.goto("/")
    owner.get_by_text("Filters and sort").press("Enter")  # folded on phones
    expect(owner.get_by_label("Sort")).to_be_visible()
    if found := owner.evaluate(FIT):
        problems["/ with the filters open"] = found
    owner.goto("/manage/items/")
    owner.get_by_role("link", name=f"Edit {EDIT}").press("Enter")
    expect(owner.get_by_role("button", name="Save")).to_be_visible()
    if found := owner.evaluate(FIT):
        problems["/manage/items/ editing a row"] = found

    assert not problems, json.dumps(problems, indent=2)


# --- Keyboard journeys ------------------------------------------------------------------------


def test_tab_from_the_top_reaches_the_search_box_with_a_visible_ring_and_typing_filters(
        open_as, shop):
    page = open_as(None)
    search = page.get_by_role("searchbox", name="Search")
    presses = tab_to(page, search, check_ring=True)
    assert presses <= 8, f"{presses} presses of Tab to the search box"

    page.keyboard.type("step stool", delay=20)

    results = page.get_by_role("region", name="Items")
    expect(results).to_contain_text(re.compile(r"^\s*1 item matches"))
    expect(results.get_by_role("heading", level=2)).to_have_text([KEYBOARD])
    expect(search).to_be_focused()
    # The new count is said aloud, without taking the focus out of the search box.
    expect(page.locator("#live-announcer")).to_have_text("1 item matches.")


def test_a_member_books_and_cancels_with_the_keyboard_and_the_focus_stays_in_place(
        open_as, shop):
    page = open_as(ALICE)
    messages = page.get_by_role("status").and_(page.locator("#messages"))
    tab_to(page, page.get_by_role("button", name=f"Book {KEYBOARD}"), check_ring=True)

    page.keyboard.press("Enter")

    expect(messages).to_contain_text(f"You booked {KEYBOARD}.")
    cancel = page.get_by_role("button", name=f"Cancel my booking of {KEYBOARD}")
    expect(cancel).to_be_focused()  # the card was replaced; the focus is where Book was
    assert_focus_is_visible(page)

    page.keyboard.press("Enter")

    expect(messages).to_contain_text(f"Your booking of {KEYBOARD} is cancelled.")
    expect(page.get_by_role("button", name=f"Book {KEYBOARD}")).to_be_focused()

    # The same from the item page, then a cancel from My bookings, whose list is replaced.
    page.goto(f"/items/{shop.ids[KEYBOARD]}/")
    tab_to(page, page.get_by_role("button", name=f"Book {KEYBOARD}"))
    page.keyboard.press("Enter")
    expect(messages).to_contain_text(f"You booked {KEYBOARD}.")
    expect(page.get_by_role("button", name=f"Cancel my booking of {KEYBOARD}")).to_be_focused()

    page.goto("/bookings/")
    tab_to(page, page.get_by_role("button", name=f"Cancel my booking of {KEYBOARD}"))
    page.keyboard.press("Enter")
    expect(messages).to_contain_text(f"Your booking of {KEYBOARD} is cancelled.")
    expect(page.get_by_role("region", name=re.compile("^Holding now"))).to_contain_text(
        "You hold nothing")
    expect_focus_kept(page)
    assert page.evaluate("document.getElementById('my-bookings').contains(document.activeElement)")


def test_the_owner_edits_a_row_in_place_with_enter_and_escape(open_as, shop):
    page = open_as(shop.owner, "/manage/items/")
    renamed = EDIT.replace("(edit)", "(edited)")
    tab_to(page, page.get_by_role("link", name=f"Edit {EDIT}"), check_ring=True)

    page.keyboard.press("Enter")
    name = page.get_by_role("textbox", name="Name")
    expect(name).to_be_focused()
    assert_focus_is_visible(page)
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type(renamed)
    page.keyboard.press("Enter")

    edit = page.get_by_role("link", name=f"Edit {renamed}")
    expect(edit).to_be_focused()
    expect(page.get_by_role("row").filter(has_text=renamed)).to_contain_text("€24.00")

    page.keyboard.press("Enter")
    expect(name).to_be_focused()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("Never saved")
    page.keyboard.press("Escape")

    expect(page.get_by_role("button", name="Save")).to_have_count(0)
    expect(edit).to_be_focused()
    expect(page.get_by_role("link", name="Never saved")).to_have_count(0)


# --- Live announcements -------------------------------------------------------------------------


def test_a_booking_by_someone_else_is_announced_and_ones_own_goes_to_the_flash_region(
        open_as, shop):
    bob = open_as(BOB)
    alice = open_as(ALICE)
    for page in (bob, alice):
        expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    announcer = bob.locator("#live-announcer")
    expect(announcer).to_have_attribute("role", "status")
    alice.evaluate("window.__messages = document.getElementById('messages')")

    alice.get_by_role("button", name=f"Book {LIVE}").press("Enter")

    expect(announcer).to_have_text(f"{LIVE} was booked.")
    expect(bob.get_by_role("button", name=f"Join queue for {LIVE}")).to_be_visible()
    flash = alice.get_by_role("status").filter(has_text=f"You booked {LIVE}.")
    expect(flash).to_have_id("messages")
    # The region was filled, not replaced: a replaced live region is not read out.
    assert alice.evaluate("document.getElementById('messages') === window.__messages")
    # Alice hears her booking once, from the flash message, not again from the stream.
    alice.wait_for_timeout(500)
    expect(alice.locator("#live-announcer")).not_to_contain_text(LIVE)


# --- Colour and motion ----------------------------------------------------------------------------

# (page, element, what it is); each needs 4.5:1 against what is behind it.
KEY_ELEMENTS = [
    ("/", "body", "body text"),
    ("/", "h1", "heading"),
    ("/", ".site-nav a", "header link"),
    ("/", ".site-nav .button", "Sign up button"),
    ("/", ".result-count", "muted text"),
    ("/", ".filter-actions .button:not(.button-secondary)", "primary button"),
    ("/", ".filter-actions .button-secondary", "secondary button"),
    ("/", ".card-title", "card title"),
    ("/", ".card-meta", "card details"),
    ("/", ".status-badge-available", "available badge"),
    ("/", ".status-badge-booked", "booked badge"),
    ("/", ".card-actions .button", "card button"),
    ("/", ".site-footer p", "footer"),
    ("item", ".breadcrumbs a", "link"),
    ("item", ".facts dt", "fact label"),
    ("item", ".booking-box .muted", "booking note"),
    ("/accounts/login/", "input[type=email]", "field text"),
    ("/accounts/login/", "label", "field label"),
]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_and_buttons_have_aa_contrast(open_as, shop, scheme):
    page = open_as(None, color_scheme=scheme)
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") == (scheme == "dark")
    failures = []
    current = None
    for path, selector, what in KEY_ELEMENTS:
        path = f"/items/{shop.ids[EDIT]}/" if path == "item" else path  # never booked
        if path != current:
            page.goto(path)
            current = path
        found = page.evaluate(TEXT_CONTRAST, selector)
        assert found is not None, f"{selector} not found on {path}"
        if found["ratio"] < 4.5:
            failures.append(f"{what} ({selector} on {path}): {found['ratio']:.2f}:1, "
                            f"{found['colour']} on {found['background']}")
    # The focus ring on the header, and on the login form's panel, fields and buttons.
    for path, stops in (("/", 5), ("/accounts/login/", 10)):
        page.goto(path)
        for _ in range(stops):
            page.keyboard.press("Tab")
            ring = page.evaluate(RING_CONTRAST)
            if ring["ratio"] < 3:
                failures.append(f"focus ring of {focused(page)} on {path}: {ring['ratio']:.2f}:1,"
                                f" {ring['colour']} on {ring['background']}")
    assert not failures, "\n".join(failures)


def test_no_transition_or_animation_moves_for_people_who_ask_for_less_motion(open_as, shop):
    moving = """() => Array.from(document.querySelectorAll("*")).filter((el) => {
        const s = getComputedStyle(el);
        const long = (v) => v.split(",").some((d) => parseFloat(d) > 0);
        return long(s.transitionDuration)
          || (s.animationName !== "none" && long(s.animationDuration));
      }).map((el) => el.tagName.toLowerCase() + "." + el.className)"""
    page = open_as(None, "/")
    assert page.evaluate(moving), "nothing moves at all: the check below would prove nothing"

    calm = open_as(None, "/", reduced_motion="reduce")
    expect(calm.get_by_role("article").first).to_be_visible()
    assert calm.evaluate(moving) == []
