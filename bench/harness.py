"""What the benchmark needs around the app: servers in subprocesses, /proc readings, a
small HTTP client with cookies, and a load generator (wrk, else Python threads).

Everything talks to 127.0.0.1 only, and every loop is bounded in count and in time.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
STARTUP_TIMEOUT = 90.0
STOP_TIMEOUT = 10.0

# Settings that would point the app somewhere other than its throw-away SQLite folder.
_FOREIGN_ENV = re.compile(
    r"^(SECONDHAND_.*|DATABASE_URL|EMAIL_.*|SECRET_KEY|PORT|WEB_CONCURRENCY"
    r"|DJANGO_SETTINGS_MODULE)$"
)
# Lines in a server's output that mean something went wrong while it was measured.
_TROUBLE = re.compile(r"\bERROR\b|\bCRITICAL\b|WORKER TIMEOUT|Internal Server Error|"
                      r"SIGKILL|out of memory")


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not _FOREIGN_ENV.match(k)}
    env["SECONDHAND_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# --- /proc ---------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2:].split()  # fields from the 3rd on (state, ppid, ...)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                parents.setdefault(int(_stat_fields(int(entry.name))[1]), []).append(
                    int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def status_kb_and_threads(pid: int) -> tuple[int, int]:
    """(VmRSS in kB, thread count) from /proc/<pid>/status."""
    rss = threads = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
        elif line.startswith("Threads:"):
            threads = int(line.split()[1])
    return rss, threads


# --- Servers -------------------------------------------------------------------------------


class Server:
    """A server command in a subprocess (its own session), ready once /healthz says 200."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path,
                 port: int) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.log_path, self.port = log_path, port
        self.proc: subprocess.Popen | None = None
        self.seen: set[int] = set()  # every descendant ever seen, to be sure they end

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        log = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        finally:
            log.close()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} at start: "
                                   f"{self.log_tail()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    self.pids()
                    return
                conn.close()
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer /healthz in {STARTUP_TIMEOUT:.0f} s")

    def pids(self) -> list[int]:
        """The server process and all its descendants (gunicorn's master and workers)."""
        assert self.proc is not None
        found = [self.proc.pid, *descendants(self.proc.pid)]
        self.seen.update(found)
        return found

    def workers(self) -> list[int]:
        assert self.proc is not None
        return [pid for pid in self.pids() if pid != self.proc.pid] or [self.proc.pid]

    def cpu_seconds(self) -> float:
        total = 0.0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                total += cpu_seconds(pid)
        return total

    def stop(self) -> None:
        """Ctrl-C first (a clean stop), then a kill; then any descendant still running.

        SIGINT goes to the server's whole process group, as Ctrl-C in a terminal does: the
        group is the session this class started, so it holds nothing but this server."""
        if self.proc is None:
            return
        with contextlib.suppress(Exception):
            self.pids()
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(STOP_TIMEOUT)
        for pid in self.seen - {self.proc.pid}:
            with contextlib.suppress(OSError):
                if os.getsid(pid) == self.proc.pid:  # still one of ours, not a reused pid
                    os.kill(pid, signal.SIGKILL)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 8) -> str:
        return " | ".join(self.log_text().strip().splitlines()[-lines:])

    def trouble(self) -> list[str]:
        """Error lines, and each traceback as its last line (the exception and message)."""
        lines, found, i = self.log_text().splitlines(), [], 0
        while i < len(lines):
            if lines[i].startswith("Traceback"):
                i += 1
                while i < len(lines) and (not lines[i].strip() or lines[i][0].isspace()):
                    i += 1
                found.append(lines[i].strip() if i < len(lines) else "a traceback, cut off")
            elif _TROUBLE.search(lines[i]):
                found.append(lines[i].strip())
            i += 1
        return found


# --- HTTP with cookies ---------------------------------------------------------------------


class Session:
    """One keep-alive connection to the site with a cookie jar; reconnects when idle."""

    IDLE = 2.0  # the server closes idle keep-alive connections after 5 s

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.conn: http.client.HTTPConnection | None = None
        self.used = 0.0

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method: str, path: str, *, form: dict[str, str] | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, str, float]:
        """(status, body, seconds from sending to the whole body read)."""
        if self.conn is None or time.monotonic() - self.used > self.IDLE:
            self.close()
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        all_headers = {"Host": f"{HOST}:{self.port}", **(headers or {})}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None or method == "POST":
            body = urlencode(form or {}).encode()
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        self.conn.request(method, path, body=body, headers=all_headers)
        response = self.conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        elapsed = time.perf_counter() - started
        self.used = time.monotonic()
        for header in response.headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                self.cookies[name] = morsel.value
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return response.status, text, elapsed

    def log_in(self, email: str, password: str) -> None:
        status, html, _ = self.request("GET", "/accounts/login/")
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        if status != 200 or not match:
            raise RuntimeError(f"login page answered {status} without a CSRF token")
        status, _, _ = self.request("POST", "/accounts/login/", form={
            "csrfmiddlewaretoken": match.group(1), "login": email, "password": password})
        if status not in (301, 302, 303) or "sessionid" not in self.cookies:
            raise RuntimeError(f"logging in as {email} answered {status}, no session")

    def htmx_post(self, path: str) -> tuple[int, str, float]:
        return self.request("POST", path, headers={
            "X-CSRFToken": self.cookies.get("csrftoken", ""), "HX-Request": "true"})


# --- Load ------------------------------------------------------------------------------------


@dataclass
class Load:
    tool: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    bad: int = 0  # non-2xx/3xx responses
    errors: int = 0  # socket errors and timeouts
    cpu_seconds: float | None = None  # the server's, during the run

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_request(self) -> float | None:
        if self.cpu_seconds is None or not self.requests:
            return None
        return self.cpu_seconds / self.requests * 1000


def combine(rounds: list[Load]) -> Load:
    """Several runs against one server as one: totals, the mean p50 and the worst p99."""
    cpu = [r.cpu_seconds for r in rounds]
    return Load(tool=rounds[0].tool, requests=sum(r.requests for r in rounds),
                seconds=sum(r.seconds for r in rounds),
                p50_ms=sum(r.p50_ms for r in rounds) / len(rounds),
                p99_ms=max(r.p99_ms for r in rounds), bad=sum(r.bad for r in rounds),
                errors=sum(r.errors for r in rounds),
                cpu_seconds=None if None in cpu else sum(cpu))


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(min(rank, len(ordered))) - 1]


def have_wrk() -> bool:
    return os.environ.get("BENCH_LOAD", "wrk") != "python" and shutil.which("wrk") is not None


def load(url: str, *, threads: int = 2, connections: int = 16, seconds: int = 5,
         server: Server | None = None) -> Load:
    before = server.cpu_seconds() if server else None
    result = (_wrk if have_wrk() else _python_load)(url, threads, connections, seconds)
    if server is not None and before is not None:
        result.cpu_seconds = server.cpu_seconds() - before
    return result


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


def _wrk(url: str, threads: int, connections: int, seconds: int) -> Load:
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
         "--latency", url],
        capture_output=True, text=True, timeout=seconds + 30, check=False).stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    if not (total and p50 and p99):
        raise RuntimeError(f"could not read wrk's output: {out.strip()[-300:]!r}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return Load(tool="wrk", requests=int(total.group(1)),
                seconds=_ms(total.group(2) + total.group(3)) / 1000,
                p50_ms=_ms(p50.group(1)), p99_ms=_ms(p99.group(1)),
                bad=int(bad.group(1)) if bad else 0,
                errors=sum(int(n) for n in errors.groups()) if errors else 0)


def _python_load(url: str, threads: int, connections: int, seconds: int) -> Load:
    """wrk's job with one thread per connection and http.client (the GIL makes it slower)."""
    match = re.fullmatch(r"http://([^/:]+):(\d+)(/.*)", url)
    host, port, path = match.group(1), int(match.group(2)), match.group(3)
    latencies: list[float] = []
    counts = {"bad": 0, "errors": 0}
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=10)
        mine, bad, errors = [], 0, 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers={"Host": f"{host}:{port}"})
                response = conn.getresponse()
                response.read()
                mine.append((time.perf_counter() - started) * 1000)
                bad += not 200 <= response.status < 400
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                time.sleep(0.01)
        conn.close()
        with lock:
            latencies.extend(mine)
            counts["bad"] += bad
            counts["errors"] += errors

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(seconds + 15)
    elapsed = time.perf_counter() - started
    if not latencies:
        raise RuntimeError(f"no response from {url} in {seconds} s")
    return Load(tool="python", requests=len(latencies), seconds=elapsed,
                p50_ms=percentile(latencies, 50), p99_ms=percentile(latencies, 99),
                bad=counts["bad"], errors=counts["errors"])


def warm_up(port: int, paths: list[str], rounds: int = 5) -> None:
    """A few requests first, so templates, imports and caches are in place."""
    session = Session(port)
    try:
        for _ in range(rounds):
            for path in paths:
                session.request("GET", path)
    finally:
        session.close()


def run_timed(argv: list[str], env: dict[str, str], log_path: Path,
              timeout: float) -> tuple[float, float]:
    """Run a command to its end: (wall seconds, CPU seconds of it and its children)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with log_path.open("ab") as log:
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"{' '.join(argv[-3:])} took over {timeout:.0f} s") from None
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if code != 0:
        tail = " | ".join(log_path.read_text(errors="replace").strip().splitlines()[-5:])
        raise RuntimeError(f"exit {code}: {tail}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def secondhand(*args: str) -> list[str]:
    return [sys.executable, "-m", "secondhand_site", *args]
