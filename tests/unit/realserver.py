"""Real `secondhand serve` processes for the live-update and race tests, and the small
HTTP and server-sent-events clients that talk to them.

These tests use the site the way browsers and operators do: HTTP over a socket and the
command line in a subprocess. They never open the Django test database.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest

HOST = "127.0.0.1"
PASSWORD = "live-and-race-2026"
STARTUP_TIMEOUT = 90.0
STOP_TIMEOUT = 10.0
LOG_TAIL = 60

# Variables that would point a server somewhere other than the test's own data.
_FOREIGN_ENV = re.compile(
    r"^(SECONDHAND_.*|DATABASE_URL|EMAIL_.*|SECRET_KEY|PORT|WEB_CONCURRENCY"
    r"|DJANGO_SETTINGS_MODULE)$"
)

# Run by `secondhand manage shell -c`: bring the database up to date (as every command
# that touches it does), then add verified members and photo-less items. The members
# share one password hash, computed once: hashing is the slow part of making accounts.
_SETUP = """
import json
from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from secondhand_site import services
from secondhand_site.models import User

call_command("migrate", interactive=False, verbosity=0)
call_command("createcachetable", verbosity=0)
hashed = make_password({password!r})
for email in {emails!r}:
    user = User.objects.create_user(email=email)
    user.password = hashed
    user.save(update_fields=["password"])
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
ids = [services.create_item(actor=None, name=f"Test item {{n}}", price=10 + n).pk
       for n in range({items})]
print(json.dumps(ids))
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not _FOREIGN_ENV.match(key)}
    return {**env, "SECONDHAND_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1", **extra}


def cli(env: dict[str, str], data_dir: Path, *args: str, timeout: float = 120) -> str:
    """`secondhand --data-dir DIR ARGS...`; its stdout, or the test fails with its output."""
    command = [sys.executable, "-m", "secondhand_site", "--data-dir", str(data_dir), *args]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout,
                            stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        pytest.fail(f"`secondhand {' '.join(args)[:200]}` exited with {result.returncode}:\n"
                    f"{result.stdout}{result.stderr}", pytrace=False)
    return result.stdout


def shell(env: dict[str, str], data_dir: Path, code: str) -> str:
    return cli(env, data_dir, "manage", "shell", "--no-imports", "-v", "0", "-c", code)


def set_up_site(env: dict[str, str], data_dir: Path, *, emails: Iterable[str],
                items: int) -> list[int]:
    """Migrate, add verified members (password PASSWORD) and items; the items' ids."""
    code = _SETUP.format(password=PASSWORD, emails=list(emails), items=items)
    return json.loads(shell(env, data_dir, code).strip().splitlines()[-1])


# --- Servers ----------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self) -> str:
        return "\n".join(self.log_text().splitlines()[-LOG_TAIL:])

    def client(self) -> Client:
        return Client(self.port)


def start_server(name: str, data_dir: Path, log_path: Path, env: dict[str, str], *,
                 workers: int) -> Server:
    """Start `secondhand serve` in its own process group; see wait_ready()."""
    port = free_port()
    command = [sys.executable, "-m", "secondhand_site", "--data-dir", str(data_dir),
               "serve", "--port", str(port), "--workers", str(workers), "--access-log"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, cwd=data_dir, stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    return Server(name=name, port=port, log_path=log_path, process=process)


def _wait(server: Server, ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not ready():
        if server.process.poll() is not None:
            pytest.fail(f"{server.name} exited with {server.process.returncode} before "
                        f"{what}:\n{server.log_text()}", pytrace=False)
        if time.monotonic() > deadline:
            stop_servers([server])
            pytest.fail(f"{server.name} did not get to {what} within {STARTUP_TIMEOUT:g} s:\n"
                        f"{server.log_text()}", pytrace=False)
        time.sleep(0.1)


def wait_serving(server: Server) -> None:
    """Until the server has migrated and collected its static files (it says so)."""
    _wait(server, lambda: "Serving on" in server.log_text(), "printing its URL")


def wait_ready(server: Server) -> None:
    """Until GET /healthz answers 200."""

    def healthy() -> bool:
        try:
            return Client(server.port).get("/healthz", timeout=2).status == 200
        except OSError:
            return False

    _wait(server, healthy, "answering /healthz")


def stop_servers(servers: Iterable[Server]) -> list[str]:
    """Ctrl-C every server at once (SIGINT to its process group), kill those that don't
    stop within STOP_TIMEOUT; a description of each that did not stop cleanly."""
    servers = [s for s in servers if s.process.poll() is None]
    for server in servers:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGINT)
    deadline = time.monotonic() + STOP_TIMEOUT
    problems = []
    for server in servers:
        try:
            server.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()
            problems.append(f"{server.name} did not stop within {STOP_TIMEOUT:g} s of Ctrl-C")
            continue
        if server.process.returncode != 0:
            problems.append(f"{server.name} exited with {server.process.returncode} on Ctrl-C")
    return problems


class _LogsOnFailure:
    """A pytest plugin: a failed test's report shows the end of its servers' output."""

    name = "secondhand-realserver-logs"

    def __init__(self) -> None:
        self.watched: dict[str, list[Server]] = {}

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        if report.failed:
            for prefix, servers in self.watched.items():
                if item.nodeid == prefix or item.nodeid.startswith(prefix + "::"):
                    for server in servers:
                        report.sections.append(
                            (f"{server.name} ({server.log_path})", server.log_tail()))
        return report


@contextlib.contextmanager
def watched(request: pytest.FixtureRequest, servers: list[Server]) -> Iterator[list[Server]]:
    """Show these servers' output with any failure of the requesting scope's tests; at
    the end stop them, and fail when one does not stop cleanly on Ctrl-C."""
    plugins = request.config.pluginmanager
    plugin = plugins.get_plugin(_LogsOnFailure.name)
    if plugin is None:
        plugin = _LogsOnFailure()
        plugins.register(plugin, _LogsOnFailure.name)
    # Kept after the servers stop: a test's report is made after its `with` block ends.
    plugin.watched[request.node.nodeid] = servers
    try:
        yield servers
    finally:
        problems = stop_servers(servers)
        if problems:
            logs = "\n".join(f"--- {s.name}:\n{s.log_tail()}" for s in servers)
            pytest.fail("; ".join(problems) + "\n" + logs, pytrace=False)


# --- HTTP ---------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    text: str

    def json(self):
        return json.loads(self.text)

    def __str__(self) -> str:
        return f"{self.status} {self.text[:2000]}"


class Client:
    """One browser's cookies, a connection per request; never follows redirects."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, *, form: dict[str, str] | None = None,
                headers: dict[str, str] | None = None, timeout: float = 60) -> Response:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return Response(response.status, response.headers, data.decode(errors="replace"))

    def get(self, path: str, **kwargs) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, form: dict[str, str] | None = None, *, htmx: bool = False,
             timeout: float = 60) -> Response:
        """A form post with the CSRF token, as the page's form (or htmx) sends it."""
        headers = {"X-CSRFToken": self.cookies.get("csrftoken", "")}
        if htmx:
            headers["HX-Request"] = "true"
        return self.request("POST", path, form=form or {}, headers=headers, timeout=timeout)

    def log_in(self, email: str, password: str = PASSWORD) -> None:
        self.get("/accounts/login/")
        assert "csrftoken" in self.cookies, "The login page set no CSRF cookie"
        response = self.post("/accounts/login/", {
            "login": email, "password": password,
            "csrfmiddlewaretoken": self.cookies["csrftoken"]})
        assert response.status == 302 and "sessionid" in self.cookies, (
            f"Logging in as {email} failed: {response}")


def catalog_item_ids(client: Client) -> list[int]:
    page = client.get("/")
    assert page.status == 200, str(page)
    return [int(n) for n in re.findall(r'id="item-card-(\d+)"', page.text)]


# --- Server-sent events ---------------------------------------------------------------------


@dataclass(frozen=True)
class SSEEvent:
    id: int | None
    event: str
    data: str

    @property
    def json(self):
        return json.loads(self.data)


class EventStream:
    """GET /events/ and parse the stream on a thread of its own as it arrives."""

    def __init__(self, port: int, *, last_event_id: int | None = None,
                 headers: dict[str, str] | None = None) -> None:
        sent = {"Accept": "text/event-stream", **(headers or {})}
        if last_event_id is not None:
            sent["Last-Event-ID"] = str(last_event_id)
        self.conn = http.client.HTTPConnection(HOST, port, timeout=10)
        self.conn.request("GET", "/events/", headers=sent)
        self.sock = self.conn.sock
        self.response = self.conn.getresponse()
        self.sock.settimeout(60)
        self.events: queue.Queue[SSEEvent | None] = queue.Queue()
        self.received: list[SSEEvent] = []
        self.comments: list[str] = []
        self.retry: int | None = None
        self.opened = threading.Event()
        self.ended = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            while line := self.response.readline():
                line = line.decode().rstrip("\r\n")
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                    if line[1:].strip() == "connected":
                        self.opened.set()
                elif line:
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")
                else:
                    if "retry" in fields:
                        self.retry = int(fields["retry"])
                    if "data" in fields:
                        raw_id = fields.get("id")
                        self.events.put(SSEEvent(id=int(raw_id) if raw_id else None,
                                                 event=fields.get("event", "message"),
                                                 data=fields["data"]))
                    fields = {}
        except (OSError, ValueError, http.client.HTTPException):
            pass
        finally:
            self.ended.set()
            self.events.put(None)

    def wait_open(self, timeout: float = 5) -> None:
        assert self.opened.wait(timeout), f"The stream did not open within {timeout} s"

    def next(self, timeout: float) -> SSEEvent:
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"No event within {timeout} s; so far: {self.received}") from None
        if event is None:
            self.events.put(None)
            raise AssertionError(f"The stream ended; it sent: {self.received}")
        self.received.append(event)
        return event

    def wait_for(self, matches: Callable[[SSEEvent], bool], timeout: float) -> SSEEvent:
        """The first event (from here on) that matches, waiting up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"No matching event within {timeout} s; "
                                     f"received: {self.received}")
            event = self.next(remaining)
            if matches(event):
                return event

    def take(self, count: int, timeout: float) -> list[SSEEvent]:
        deadline = time.monotonic() + timeout
        return [self.next(max(0.01, deadline - time.monotonic())) for _ in range(count)]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.reader.join(5)
        self.response.close()
        self.conn.close()
