"""Browser journeys against the real `secondhand serve`, driven with Playwright.

Each test module gets its own server: the real command line in a subprocess, on a
free port, with a throw-away data folder. Tests talk to it only as a person or an
operator would: through the browser, the `secondhand` command and the saved mail.
They never open the Django database: Playwright's sync API keeps an asyncio loop
running in this thread, and Django refuses database work while one runs.

Fixtures for journeys (see each one's docstring):

    server        the running site: .url, .data_dir, .cli(...), .latest_mail(...),
                  .create_member(...), .log_text()
    new_email     new_email("alice") -> a unique address for this test
    owner         an owner account made with `secondhand create-owner` (an Account)
    member        a verified member account (an Account)
    log_in        log_in(page, account): through the login form, checks the header
    page_errors   console errors, uncaught exceptions and CSP violations; checked
                  after every test, .allow(regex) for an expected console error
    phone_page    a page in its own context with a 390 px wide phone viewport

`page`, `context` and `new_context` are pytest-playwright's, pointed at the server
(relative URLs work: `page.goto("/accounts/login/")`) and watched by page_errors.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, BrowserType, Page, expect

E2E_DIR = Path(__file__).parent

# Flags for a Chromium that is not Playwright's own build: no sandbox (containers, root),
# and none of the background traffic that makes a test run slow or flaky offline.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SYSTEM_CHROMIUMS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

PASSWORD = "correct-horse-battery-9"
PHONE_VIEWPORT = {"width": 390, "height": 844}
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
SERVER_LOG_LINES = 40

# Environment variables that would point the server somewhere other than its own
# throw-away SQLite file and mail folder, or change the defaults the journeys expect.
_FOREIGN_ENV = re.compile(
    r"^(SECONDHAND_.*|DATABASE_URL|EMAIL_.*|SECRET_KEY|PORT|WEB_CONCURRENCY"
    r"|DJANGO_SETTINGS_MODULE)$"
)
_LINK = re.compile(r"https?://[^\s<>\"']+")


# --- Collection ------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    # pytest-playwright's own base_url fallback trips a pytest 9 deprecation; not ours.
    config.addinivalue_line(
        "filterwarnings",
        "ignore:Session-scoped fixtures defined as instance methods"
        ":pytest.PytestRemovedIn10Warning",
    )


def pytest_itemcollected(item: pytest.Item) -> None:
    # Every test in this folder, as it is collected: before `-m` selects by marker.
    item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the browser tests after every other test.

    Playwright's session-wide fixtures leave an asyncio loop marked as running in the
    main thread until the session ends, and Django then refuses database access. So
    unit tests that use the database must all run before the first browser test.
    """
    others = [item for item in items if E2E_DIR not in Path(item.path).parents]
    browser_tests = [item for item in items if E2E_DIR in Path(item.path).parents]
    items[:] = others + browser_tests


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """On a failure, show the end of the server's output beside the test's."""
    report = yield
    server = getattr(item, "funcargs", {}).get("server")
    if report.failed and isinstance(server, Server):
        lines = server.log_text().splitlines()[-SERVER_LOG_LINES:]
        report.sections.append((f"secondhand serve ({server.log_path})", "\n".join(lines)))
    return report


# --- The server ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    """One saved message from `<data-dir>/mail/`."""

    path: Path
    to: tuple[str, ...]
    subject: str
    body: str  # the text/plain part

    @property
    def links(self) -> list[str]:
        return _LINK.findall(self.body)

    @property
    def link(self) -> str:
        """The first http(s) link in the body; fails the test when there is none."""
        links = self.links
        assert links, f"No link in the mail {self.subject!r} to {', '.join(self.to)}:\n{self.body}"
        return links[0]


@dataclass(frozen=True)
class Account:
    email: str
    password: str = PASSWORD


@dataclass
class Server:
    """A running `secondhand serve`, its data folder and the command line beside it."""

    url: str  # base URL with a trailing slash: http://127.0.0.1:PORT/
    data_dir: Path
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    def cli(self, *args: str, input: str | None = None, check: bool = True,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run `secondhand --data-dir <this server's folder> ARGS...` and return the result.

        With check (the default) a non-zero exit fails the test with the command's output.
        """
        command = [sys.executable, "-m", "secondhand_site", "--data-dir", str(self.data_dir),
                   *args]
        result = subprocess.run(
            command, env=self.env, input=input, capture_output=True, text=True,
            timeout=timeout, stdin=None if input is not None else subprocess.DEVNULL,
        )
        if check and result.returncode != 0:
            pytest.fail(f"`secondhand {' '.join(args)}` exited with {result.returncode}:\n"
                        f"{result.stdout}{result.stderr}", pytrace=False)
        return result

    def create_member(self, email: str, password: str = PASSWORD, *,
                      verified: bool = True) -> Account:
        """A plain member account with a (by default verified) email, made in one go."""
        code = (
            "from allauth.account.models import EmailAddress\n"
            "from secondhand_site.models import User\n"
            f"user = User.objects.create_user(email={email!r}, password={password!r})\n"
            "EmailAddress.objects.create(user=user, email=user.email, primary=True,"
            f" verified={verified!r})\n"
        )
        self.cli("manage", "shell", "--no-imports", "-v", "0", "-c", code)
        return Account(email, password)

    def mails(self, to: str | None = None) -> list[Mail]:
        """Saved messages, oldest first; only those to `to` when given."""
        found = []
        for path in sorted(self.mail_dir.glob("*.eml")):
            mail = _read_mail(path)
            if to is None or to.lower() in (address.lower() for address in mail.to):
                found.append(mail)
        return found

    def latest_mail(self, to: str, *, subject: str | None = None, after: Mail | None = None,
                    timeout: float = 10.0) -> Mail:
        """The newest message to `to`, waiting up to `timeout` seconds for one to arrive.

        subject: only messages whose subject contains this (any case).
        after: only messages saved after this one (for "the next mail").
        """
        deadline = time.monotonic() + timeout
        while True:
            candidates = [
                mail for mail in self.mails(to)
                if (subject is None or subject.lower() in mail.subject.lower())
                and (after is None or mail.path.name > after.path.name)
            ]
            if candidates:
                return candidates[-1]
            if time.monotonic() > deadline:
                saved = "\n".join(f"  {m.path.name}: {m.subject!r} to {', '.join(m.to)}"
                                  for m in self.mails()) or "  (none)"
                pytest.fail(f"No mail to {to}"
                            f"{f' about {subject!r}' if subject else ''} within {timeout:g} s."
                            f" Saved mail:\n{saved}", pytrace=False)
            time.sleep(0.1)

    def log_text(self) -> str:
        """What the server printed so far (stdout and stderr together)."""
        return self.log_path.read_text(errors="replace")


def _read_mail(path: Path) -> Mail:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    body_part = message.get_body(preferencelist=("plain",))
    body = body_part.get_content() if body_part is not None else ""
    to = tuple(address.addr_spec for address in message["To"].addresses) if message["To"] else ()
    return Mail(path=path, to=to, subject=str(message["Subject"] or ""), body=body)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(data_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not _FOREIGN_ENV.match(key)}
    env["SECONDHAND_DATA_DIR"] = str(data_dir)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _start_server(data_dir: Path, log_path: Path) -> Server:
    env = _server_env(data_dir)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    command = [sys.executable, "-m", "secondhand_site", "--data-dir", str(data_dir),
               "serve", "--port", str(port), "--workers", "1"]
    with log_path.open("wb") as log:
        # A session of its own, so stopping it can signal the workers too, as Ctrl-C does.
        process = subprocess.Popen(command, env=env, cwd=data_dir, stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = Server(url=url, data_dir=data_dir, log_path=log_path, env=env, process=process)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not _answers(url + "healthz"):
        if process.poll() is not None:
            pytest.fail(f"`secondhand serve` exited with {process.returncode} before answering."
                        f"\n{server.log_text()}", pytrace=False)
        if time.monotonic() > deadline:
            _stop_server(server)
            pytest.fail(f"`secondhand serve` did not answer {url}healthz within "
                        f"{STARTUP_TIMEOUT:g} s.\n{server.log_text()}", pytrace=False)
        time.sleep(0.1)
    return server


def _stop_server(server: Server) -> bool:
    """Ctrl-C the server; True when it stopped in time (it is killed otherwise)."""
    process = server.process
    if process.poll() is not None:
        return True
    try:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(STOP_TIMEOUT)
        return True
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return False
    except ProcessLookupError:
        process.wait()
        return True


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The real `secondhand serve --workers 1` on a free port, one per test module.

    Its output is kept in `<tmp>/server.log` (see server.log_text()). At the end it is
    stopped with Ctrl-C (SIGINT to its process group, as a terminal sends it) and must
    exit cleanly within 10 seconds.
    """
    base = tmp_path_factory.mktemp("secondhand-e2e")
    data_dir = base / "data"
    data_dir.mkdir()
    server = _start_server(data_dir, base / "server.log")
    yield server
    stopped = _stop_server(server)
    if not stopped:
        pytest.fail(f"`secondhand serve` did not stop within {STOP_TIMEOUT:g} s of Ctrl-C."
                    f"\n{server.log_text()}", pytrace=False)
    if server.process.returncode != 0 or "Stopped." not in server.log_text():
        pytest.fail(f"`secondhand serve` did not stop cleanly on Ctrl-C "
                    f"(exit status {server.process.returncode})."
                    f"\n{server.log_text()}", pytrace=False)


# --- People -------------------------------------------------------------------------------


@pytest.fixture
def new_email(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """new_email("alice") -> "alice-3f9c1a2b@example.com", unique across tests and servers."""

    def make(name: str = "member") -> str:
        return f"{name}-{uuid.uuid4().hex[:8]}@example.com"

    return make


@pytest.fixture
def owner(server: Server, new_email: Callable[[str], str]) -> Account:
    """An owner account, made as an operator would: `secondhand create-owner`."""
    account = Account(new_email("owner"))
    server.cli("create-owner", "--email", account.email, "--password", account.password)
    return account


@pytest.fixture
def member(server: Server, new_email: Callable[[str], str]) -> Account:
    """A member with a verified email (made directly, without the signup journey)."""
    return server.create_member(new_email("member"))


@pytest.fixture
def log_in() -> Callable[[Page, Account], None]:
    """log_in(page, account): log in through the login form and wait for the header."""

    def log_in(page: Page, account: Account) -> None:
        page.goto("/accounts/login/")
        page.get_by_label("Email").fill(account.email)
        page.get_by_label(re.compile(r"^Password:?$")).fill(account.password)
        page.get_by_role("main").get_by_role("button", name="Sign In").click()
        expect(page.get_by_role("button", name="Log out")).to_be_visible()

    return log_in


# --- The browser ----------------------------------------------------------------------------


def _system_chromium() -> str | None:
    for name in SYSTEM_CHROMIUMS:
        if path := shutil.which(name):
            return path
    return None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict, browser_type: BrowserType,
                             browser_name: str) -> dict:
    """pytest-playwright's launch options, plus a fallback for a machine without its browsers.

    Chromium: Playwright's own build when installed, else the system's Chromium; the
    flags in CHROMIUM_ARGS always. Firefox and WebKit: skipped when not installed.
    """
    options = dict(browser_type_launch_args)
    own_build = not options.get("channel") and not options.get("executable_path")
    if own_build and not Path(browser_type.executable_path).exists():
        if browser_name != "chromium":
            pytest.skip(f"Playwright's {browser_name} is not installed here "
                        f"(`python -m playwright install {browser_name}` adds it)")
        system = _system_chromium()
        if system is None:
            pytest.fail("No Chromium for the browser tests: neither Playwright's own "
                        "(`python -m playwright install chromium`) nor a system one "
                        "(`make browser` installs one).", pytrace=False)
        options["executable_path"] = system
    if browser_name == "chromium":
        given = list(options.get("args") or [])
        options["args"] = given + [arg for arg in CHROMIUM_ARGS if arg not in given]
    return options


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    # The base URL is the module's server, set in new_context below.
    return {key: value for key, value in browser_context_args.items() if key != "base_url"}


_WATCH_SCRIPT = """
(() => {
  const doc = Math.random().toString(36).slice(2);
  const seen = (window.__cspViolations = []);
  document.addEventListener("securitypolicyviolation", (event) => {
    const violation = {
      doc, n: seen.length, page: String(location.href),
      directive: event.effectiveDirective || event.violatedDirective,
      blocked: event.blockedURI, source: event.sourceFile, line: event.lineNumber,
      sample: event.sample, disposition: event.disposition,
    };
    seen.push(violation);
    try { window.__secondhandReportViolation(violation); } catch (error) {}
  }, true);
})();
"""


@dataclass
class PageErrors:
    """Console errors, uncaught exceptions and CSP violations seen in a test's browsers.

    Every context made by `new_context` (and so `context` and `page`) is watched.
    After the test, any of them fails it; a test can check sooner with `assert_clean()`.
    A document answered with an error status (a 404 page, say) makes the browser log
    "Failed to load resource"; that is expected and not counted. Other console errors
    a test provokes on purpose can be allowed with `allow(regex)`.
    """

    console_errors: list[dict] = field(default_factory=list)
    page_exceptions: list[dict] = field(default_factory=list)
    csp_violations: list[dict] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)
    _contexts: list[BrowserContext] = field(default_factory=list, repr=False)
    _error_documents: set[str] = field(default_factory=set, repr=False)
    _seen_violations: set[tuple] = field(default_factory=set, repr=False)

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def watch(self, context: BrowserContext) -> None:
        self._contexts.append(context)
        context.expose_binding("__secondhandReportViolation",
                               lambda source, violation: self._add_violation(violation))
        context.add_init_script(_WATCH_SCRIPT)
        context.on("console", self._on_console)
        context.on("weberror", lambda error: self.page_exceptions.append(
            {"page": error.page.url if error.page else None, "error": str(error.error)}))
        context.on("response", self._on_response)

    def _on_console(self, message) -> None:
        if message.type == "error":
            self.console_errors.append({"page": message.page.url if message.page else None,
                                        "text": message.text,
                                        "url": message.location.get("url")})

    def _on_response(self, response) -> None:
        request = response.request
        if response.status >= 400 and request.resource_type == "document":
            self._error_documents.add(response.url)

    def _add_violation(self, violation: dict) -> None:
        # Each one arrives twice, reported at once and read back by collect(): count it once.
        key = (violation.get("doc"), violation.get("n"))
        if key not in self._seen_violations:
            self._seen_violations.add(key)
            self.csp_violations.append(violation)

    def collect(self) -> None:
        """Gather violations the open pages recorded but have not reported yet."""
        for context in self._contexts:
            for page in context.pages:
                if page.is_closed():
                    continue
                try:
                    found = page.evaluate("window.__cspViolations || []")
                except Exception:  # a page mid-navigation or crashed: its events came already
                    continue
                for violation in found:
                    self._add_violation(violation)

    def problems(self) -> list[str]:
        self.collect()
        lines = [f"CSP violation on {v['page']}: {v['directive']} blocked {v['blocked']!r}"
                 f" ({v.get('source') or 'inline'}:{v.get('line')}; {v.get('sample') or ''})"
                 for v in self.csp_violations]
        for error in self.console_errors:
            if error["text"].startswith("Failed to load resource") and (
                    error["url"] in self._error_documents):
                continue
            if any(pattern.search(error["text"]) for pattern in self.allowed):
                continue
            lines.append(f"Console error on {error['page']}: {error['text']}"
                         f" (from {error['url'] or 'the page'})")
        lines += [f"Uncaught exception on {e['page']}: {e['error']}"
                  for e in self.page_exceptions]
        return lines

    def assert_clean(self, where: str = "") -> None:
        problems = self.problems()
        assert not problems, (f"{where}: " if where else "") + "\n".join(problems)

    def clear(self) -> None:
        self.collect()
        self.console_errors.clear()
        self.page_exceptions.clear()
        self.csp_violations.clear()


@pytest.fixture
def page_errors() -> PageErrors:
    """What went wrong in the browser during this test; see PageErrors."""
    return PageErrors()


@pytest.fixture
def new_context(new_context: Callable[..., BrowserContext], server: Server,
                page_errors: PageErrors) -> Iterator[Callable[..., BrowserContext]]:
    """pytest-playwright's new_context, with the server as base URL and errors watched."""

    def make(**kwargs) -> BrowserContext:
        kwargs.setdefault("base_url", server.url)
        context = new_context(**kwargs)
        page_errors.watch(context)
        return context

    yield make
    problems = page_errors.problems()
    if problems:
        pytest.fail("The browser reported problems:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def phone_page(new_context: Callable[..., BrowserContext]) -> Page:
    """A page in a context of its own with a phone's viewport (390 x 844)."""
    return new_context(viewport=PHONE_VIEWPORT).new_page()

