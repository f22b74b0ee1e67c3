"""Secondhand's benchmark: `make bench` (or `.venv/bin/python bench/run.py`).

Starts real servers on 127.0.0.1 with a throw-away data folder, measures pages, the
ASGI-vs-a2wsgi claim of DESIGN.md, idle event streams, booking and seeding, and prints
one plain-text table (also written to bench/results/latest.md). bench/README.md says
what each number means. A section that fails prints "failed: <reason>" and the run goes on.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import platform
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import harness
import sse
from harness import Load, Server, Session, percentile, secondhand

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "latest.md"

PAGE_ITEMS = 2_000
SEED_ITEMS = 20_000
PROJECT_ITEMS = 100_000
STREAMS = 500
PAIRS = 200
LOAD = {"threads": 2, "connections": 16, "seconds": 5}
COMPARE_LOAD = {**LOAD, "seconds": 3}
COMPARE_PAGES = ["/", "/healthz"]
MEMBER = ("alice@example.com", "demo-secondhand-2026")
BOOKING_TIME_LIMIT = 90.0  # seconds for all the book+cancel pairs, at most


@dataclass
class Run:
    """What the sections share: the data folder, logs, and what they found out."""

    tmp: Path
    data: Path
    logs: Path
    item_ids: list[int] = field(default_factory=list)
    seed_small: tuple[float, float] | None = None  # (wall, cpu) seconds for PAGE_ITEMS
    troubles: list[str] = field(default_factory=list)
    servers: list[Server] = field(default_factory=list)  # all stopped at the end, whatever
    live: Server | None = None


# --- Formatting ------------------------------------------------------------------------------


def table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        parts = [str(c).ljust(widths[0]) if i == 0 else str(c).rjust(widths[i])
                 for i, c in enumerate(cells)]
        return "  ".join(parts).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def num(value: float | None, digits: int = 1) -> str:
    return "---" if value is None else f"{value:,.{digits}f}"


def load_row(label: str, result: Load) -> list[str]:
    flags = []
    if result.bad:
        flags.append(f"{result.bad} non-2xx")
    if result.errors:
        flags.append(f"{result.errors} socket errors")
    return [label, num(result.rps), num(result.p50_ms), num(result.p99_ms),
            num(result.cpu_ms_per_request, 2), str(result.requests), ", ".join(flags) or "ok"]


LOAD_HEADERS = ["", "req/s", "p50 ms", "p99 ms", "CPU s/1000 req", "requests", "errors"]


# --- Servers -----------------------------------------------------------------------------------


def serve(run: Run, name: str) -> Server:
    port = harness.free_port()
    argv = secondhand("--data-dir", str(run.data), "serve", "--workers", "1", "--port", str(port))
    return register(run, Server(name, argv, harness.clean_env(run.data),
                                run.logs / f"{name}.log", port))


def register(run: Run, server: Server) -> Server:
    run.servers.append(server)
    return server


def uvicorn(run: Run, name: str, app: str, *, factory: bool, lifespan: str) -> Server:
    port = harness.free_port()
    argv = [sys.executable, "-m", "uvicorn", app, "--host", harness.HOST, "--port", str(port),
            "--lifespan", lifespan, "--no-access-log", "--log-level", "warning",
            "--timeout-keep-alive", "5"]
    if factory:
        argv.append("--factory")
    env = harness.clean_env(run.data, DJANGO_SETTINGS_MODULE="secondhand_site.settings")
    return register(run, Server(name, argv, env, run.logs / f"{name}.log", port))


def note_trouble(run: Run, server: Server) -> None:
    lines = server.trouble()
    if lines:
        counts = Counter(re.sub(r"^\[[^]]*\] \[\d+\] ", "", line) for line in lines)
        run.troubles.append(f"{server.name}: {len(lines)} error(s) in its output")
        run.troubles += [f"    {n}x {text[:140]}" for text, n in counts.most_common(4)]


def url(server: Server, path: str) -> str:
    return f"http://{harness.HOST}:{server.port}{path}"


# --- 1. Pages ----------------------------------------------------------------------------------


def pages(run: Run) -> list[str]:
    run.seed_small = harness.run_timed(
        secondhand("--data-dir", str(run.data), "seed", "--items", str(PAGE_ITEMS)),
        harness.clean_env(run.data), run.logs / "seed-small.log", timeout=240)
    server = serve(run, "serve-pages")
    with server:
        _, html, _ = _get(server.port, "/")
        run.item_ids = sorted({int(n) for n in re.findall(r'href="/items/(\d+)/"', html)})
        if len(run.item_ids) < 3:
            raise RuntimeError(f"the catalog page lists {len(run.item_ids)} items, not 3+")
        paths = ["/", "/?q=lamp&sort=price", f"/items/{run.item_ids[0]}/", "/healthz"]
        harness.warm_up(server.port, paths)
        rows = [load_row(path, harness.load(url(server, path), server=server, **LOAD))
                for path in paths]
    tool = "wrk" if harness.have_wrk() else "Python threads (fallback)"
    return [f"secondhand serve --workers 1, {PAGE_ITEMS:,} items; {tool} "
            f"{LOAD['threads']} threads, {LOAD['connections']} connections, {LOAD['seconds']} s "
            "per page;", "CPU = user+system time of the server's processes during the run.", "",
            *table(LOAD_HEADERS, rows)]


def _get(port: int, path: str) -> tuple[int, str, float]:
    session = Session(port)
    try:
        status, html, seconds = session.request("GET", path)
    finally:
        session.close()
    if status != 200:
        raise RuntimeError(f"GET {path} answered {status}")
    return status, html, seconds


# --- 2. ASGI-native vs a2wsgi --------------------------------------------------------------------


def asgi_claim(run: Run) -> list[str]:
    """Three servers up at once (idle but one), measured in turns A B C C B A, so that a
    machine getting busier or quieter during the run does not favour one of them."""
    servers = {
        "serve": serve(run, "serve-asgi-compare"),
        "native": uvicorn(run, "uvicorn-django-asgi", "django.core.asgi:get_asgi_application",
                          factory=True, lifespan="off"),
        "control": uvicorn(run, "uvicorn-our-asgi", "secondhand_site.asgi:application",
                           factory=False, lifespan="on"),
    }
    rounds: dict[tuple[str, str], list[Load]] = {}
    try:
        for server in servers.values():
            server.start()
            harness.warm_up(server.port, COMPARE_PAGES)
        order = list(servers)
        for page in COMPARE_PAGES:
            for name in order + order[::-1]:
                server = servers[name]
                rounds.setdefault((page, name), []).append(
                    harness.load(url(server, page), server=server, **COMPARE_LOAD))
    finally:
        for server in servers.values():
            server.stop()
    labels = {
        "serve": "A serve: gunicorn+uvicorn, a2wsgi",
        "control": "B uvicorn, asgi.py, a2wsgi",
        "native": "C uvicorn, Django ASGIHandler",
    }
    rows, verdicts = [], []
    for page in COMPARE_PAGES:
        got = {name: harness.combine(rounds[(page, name)]) for name in servers}
        rows += [load_row(f"{page:<8} {labels[name]}", got[name])
                 for name in ("serve", "control", "native")]
        ours, native, control = got["serve"], got["native"], got["control"]
        if ours.cpu_ms_per_request and native.cpu_ms_per_request:
            verdicts.append(
                f"=> {page}: ASGI-native costs "
                f"{native.cpu_ms_per_request / ours.cpu_ms_per_request:.2f}x the CPU of our path "
                f"(C/A; C/B {native.cpu_ms_per_request / control.cpu_ms_per_request:.2f}x); "
                f"our path serves {ours.rps / native.rps:.2f}x its requests/s.")
    return ["A = secondhand serve --workers 1 (our path); B = the same asgi.py under plain",
            "uvicorn (control: our path without gunicorn); C = uvicorn running Django's",
            "get_asgi_application() (ASGI-native). Same settings and data folder, one process",
            f"each, all up at once; {COMPARE_LOAD['seconds']} s wrk turns per page in the order "
            "A B C C B A;", "p50 = mean of the two turns, p99 = the worse turn.", "",
            *table(LOAD_HEADERS, rows), "", *verdicts]


# --- 3. Live updates and 4. booking ------------------------------------------------------------


def live_server(run: Run) -> Server:
    """One secondhand serve for sections 3 and 4, started by whichever needs it first."""
    if run.live is None or run.live.proc is None or run.live.proc.poll() is not None:
        if len(run.item_ids) < 3:
            raise RuntimeError("needs item ids from section 1")
        run.live = serve(run, "serve-live")
        run.live.start()
    return run.live


def live(run: Run) -> list[str]:
    return asyncio.run(_live(run, live_server(run)))


def booking(run: Run) -> list[str]:
    return _booking(run, live_server(run))


async def _live(run: Run, server: Server) -> list[str]:
    workers = server.workers()
    harness.warm_up(server.port, ["/healthz", "/"], rounds=3)
    warm = await sse.open_streams(server.port, 10)
    for stream in warm:
        stream.close()
    await asyncio.sleep(1.0)
    before = {pid: harness.status_kb_and_threads(pid) for pid in workers}

    opened = time.perf_counter()
    streams = await sse.open_streams(server.port, STREAMS, timeout=60)
    open_seconds = time.perf_counter() - opened
    try:
        await asyncio.sleep(1.5)
        after = {pid: harness.status_kb_and_threads(pid) for pid in workers}
        rss_growth = sum(after[p][0] - before[p][0] for p in workers)
        threads_before = sum(before[p][1] for p in workers)
        threads_after = sum(after[p][1] for p in workers)

        session = Session(server.port)
        await asyncio.to_thread(session.log_in, *MEMBER)
        item = run.item_ids[1]
        answer: dict[str, object] = {}

        def book() -> None:
            status, _, seconds = session.htmx_post(f"/items/{item}/book/")
            answer.update(status=status, seconds=seconds)

        started, arrivals = await sse.delivery(streams, f"event: item-{item}\n".encode(), book)
        session.close()
    finally:
        for stream in streams:
            stream.close()
        await asyncio.sleep(0.2)

    if answer.get("status") != 200:
        raise RuntimeError(f"booking item {item} answered {answer.get('status')}, not 200")
    got = [(t - started) * 1000 for t in arrivals if t is not None]
    missing = len(arrivals) - len(got)
    flat = "flat" if threads_after == threads_before else \
        f"GREW by {threads_after - threads_before}"
    rows = [
        ["idle streams open", f"{len(streams)}", f"opened in {open_seconds:.2f} s"],
        ["worker RSS growth", f"{rss_growth / len(streams):.1f} kB/stream",
         f"{sum(before[p][0] for p in workers) / 1024:.1f} -> "
         f"{sum(after[p][0] for p in workers) / 1024:.1f} MB"],
        ["worker threads", f"{threads_before} -> {threads_after}", flat],
        ["book POST (HX-Request) answered", f"{answer['seconds'] * 1000:.1f} ms", "status 200"],
        ["streams that got event: item-<id>", f"{len(got)} of {len(arrivals)}",
         f"{missing} missing after 15 s" if missing else "all"],
    ]
    if got:
        rows += [
            ["delivery first (from POST sent)", f"{min(got):.1f} ms", ""],
            ["delivery p50", f"{percentile(got, 50):.1f} ms", ""],
            ["delivery p99", f"{percentile(got, 99):.1f} ms", ""],
            ["delivery max", f"{max(got):.1f} ms", ""],
        ]
    return [f"{STREAMS} idle /events/ streams on secondhand serve --workers 1 "
            f"(worker pid {', '.join(map(str, workers))}),", "then one booking by a member", "",
            *table(["", "value", "notes"], rows)]


def _booking(run: Run, server: Server) -> list[str]:
    session = Session(server.port)
    session.log_in(*MEMBER)
    item = run.item_ids[2]
    books, cancels, problems = [], [], []
    deadline = time.monotonic() + BOOKING_TIME_LIMIT
    try:
        for _ in range(PAIRS):
            if time.monotonic() > deadline:
                problems.append(f"stopped at the {BOOKING_TIME_LIMIT:.0f} s limit")
                break
            status, html, seconds = session.htmx_post(f"/items/{item}/book/")
            found = re.search(r'action="/bookings/(\d+)/cancel/"', html)
            if status != 200 or not found:
                problems.append(f"book answered {status}" + ("" if found else ", no cancel form"))
                break
            books.append(seconds * 1000)
            status, _, seconds = session.htmx_post(f"/bookings/{found.group(1)}/cancel/")
            if status != 200:
                problems.append(f"cancel answered {status}")
                break
            cancels.append(seconds * 1000)
    finally:
        session.close()
    if not books:
        raise RuntimeError("; ".join(problems) or "no booking made")
    rows = [["book   POST /items/<id>/book/", str(len(books)), num(percentile(books, 50)),
             num(percentile(books, 99)), num(max(books))]]
    if cancels:
        rows.append(["cancel POST /bookings/<n>/cancel/", str(len(cancels)),
                     num(percentile(cancels, 50)), num(percentile(cancels, 99)),
                     num(max(cancels))])
    lines = [f"{PAIRS} sequential book + cancel pairs by one member, htmx requests,",
             "one keep-alive connection (SQLite WAL, synchronous=FULL)", "",
             *table(["", "done", "p50 ms", "p99 ms", "max ms"], rows)]
    if problems:
        lines.append(f"problems: {'; '.join(problems)}")
    return lines


# --- 5. Seeding ---------------------------------------------------------------------------------


def seeding(run: Run) -> list[str]:
    folder = run.tmp / "seed-big"
    wall, cpu = harness.run_timed(
        secondhand("--data-dir", str(folder), "seed", "--items", str(SEED_ITEMS)),
        harness.clean_env(folder), run.logs / "seed-big.log", timeout=300)
    rows = [[f"seed --items {SEED_ITEMS:,} (fresh folder)", num(wall), num(cpu),
             f"{SEED_ITEMS / wall:,.0f}"]]
    if run.seed_small:
        small_wall, small_cpu = run.seed_small
        rows.insert(0, [f"seed --items {PAGE_ITEMS:,} (fresh folder, section 1)",
                        num(small_wall), num(small_cpu), f"{PAGE_ITEMS / small_wall:,.0f}"])
        # Two sizes give the fixed cost (start, migrations, photos) and the cost per item.
        per_item = (wall - small_wall) / (SEED_ITEMS - PAGE_ITEMS)
        cpu_per_item = (cpu - small_cpu) / (SEED_ITEMS - PAGE_ITEMS)
        if cpu_per_item > 0:
            caveat = ""
            if per_item < cpu_per_item:
                # Seeding is one thread: an item cannot take less wall time than CPU time.
                # A busy machine slowed the small seed more; fit the wall time to CPU's rate.
                per_item = cpu_per_item
                caveat = " (wall per item below CPU per item, machine noise: CPU rate used)"
            fixed = max(0.0, wall - per_item * SEED_ITEMS)
            cpu_fixed = max(0.0, cpu - cpu_per_item * SEED_ITEMS)
            projected = fixed + per_item * PROJECT_ITEMS
            rows.append([f"projected --items {PROJECT_ITEMS:,} (linear fit)", num(projected),
                         num(cpu_fixed + cpu_per_item * PROJECT_ITEMS),
                         f"{PROJECT_ITEMS / projected:,.0f}"])
            note = (f"fixed cost {fixed:.1f} s wall ({cpu_fixed:.1f} s CPU), then "
                    f"{1 / per_item:,.0f} items/s wall ({1 / cpu_per_item:,.0f} per CPU "
                    f"second){caveat}")
        else:  # noise larger than the difference: no fit
            rows.append(_same_rate(wall, cpu))
            note = "the two sizes were too close to fit; projected at the larger seed's rate"
    else:
        rows.append(_same_rate(wall, cpu))
        note = "projected at the larger seed's rate (no small seed to fit against)"
    return ["`secondhand seed` as a subprocess, wall clock and its CPU time", "",
            *table(["", "wall s", "CPU s", "items/s"], rows), "", f"=> {note}"]


def _same_rate(wall: float, cpu: float) -> list[str]:
    scale = PROJECT_ITEMS / SEED_ITEMS
    return [f"projected --items {PROJECT_ITEMS:,} (same rate)", num(wall * scale),
            num(cpu * scale), f"{SEED_ITEMS / wall:,.0f}"]


# --- The run -----------------------------------------------------------------------------------


def failed(exc: BaseException) -> list[str]:
    reason = str(exc).strip() or type(exc).__name__
    if os.environ.get("BENCH_DEBUG"):
        traceback.print_exception(exc)
    return [f"failed: {reason}"]


def section(title: str, body: Callable[[], list[str]]) -> list[str]:
    started = time.perf_counter()
    print(f"... {title}", file=sys.stderr, flush=True)
    try:
        lines = body()
    except Exception as exc:
        lines = failed(exc)
    return [title, *lines, f"({time.perf_counter() - started:.0f} s)", ""]


def header() -> list[str]:
    commit = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                            capture_output=True, text=True, check=False).stdout.strip()
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True,
                         check=False).stdout.split(" [")[0] if shutil.which("wrk") else "none"
    load1, load5, _ = os.getloadavg()
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return [f"Secondhand benchmark, {now}, commit {commit or '?'}",
            f"machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), "
            f"{platform.machine()}, Linux {platform.release()}, load average {load1:.1f} / "
            f"{load5:.1f} (1/5 min) at start",
            f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
            f"load tool {wrk if harness.have_wrk() else 'Python threads'}", ""]


def main() -> int:
    def stop(signum, frame):  # a SIGTERM stops as cleanly as Ctrl-C: servers end too
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    began = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="secondhand-bench-"))
    run = Run(tmp=tmp, data=tmp / "data", logs=tmp / "logs")
    run.logs.mkdir()
    lines = header()
    try:
        lines += section("1. Page throughput", lambda: pages(run))
        lines += section("2. Django's own ASGI handler vs our a2wsgi path", lambda: asgi_claim(run))
        lines += section("3. Live updates: idle event streams and delivery", lambda: live(run))
        lines += section("4. Booking latency", lambda: booking(run))
        if run.live is not None:
            run.live.stop()
        lines += section("5. Seeding speed", lambda: seeding(run))
    finally:
        for server in run.servers:
            try:
                server.stop()
            except Exception as exc:  # keep stopping the others
                print(f"could not stop {server.name}: {exc}", file=sys.stderr)
        for server in run.servers:
            note_trouble(run, server)
        if os.environ.get("BENCH_KEEP"):
            print(f"(kept {tmp})", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    lines += ["Server output: " + ("no error lines" if not run.troubles else "error lines!"),
              *(f"  {t}" for t in run.troubles), "",
              f"total {time.perf_counter() - began:.0f} s, load average "
              f"{os.getloadavg()[0]:.1f} (1 min) at the end"]
    text = "\n".join(lines).rstrip() + "\n"
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(f"```text\n{text}```\n")
    print(f"(written to {RESULTS.relative_to(ROOT)})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
