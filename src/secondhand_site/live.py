"""Live updates: server-sent events at ``/events/``, served as raw ASGI (not a Django view).

Every state change writes a row to the change log (``Change``) in its own transaction.
Each server process runs one ``Hub``: a notifier that notices new rows (SQLite: polls
``PRAGMA data_version`` every 75 ms on one connection of its own; PostgreSQL: LISTEN/NOTIFY,
with a slow poll as a safety net) and fans them out to in-memory subscriber queues. An
open stream is a coroutine and a bounded queue: no thread, no database connection. So
this works across worker processes and across instances sharing one database.

Each change is sent as two events with the change-log id as event id: ``item-<id>`` (the
page elements showing that item re-fetch themselves) and ``change`` (for announcements
and pages that list many items). A client that reconnects with ``Last-Event-ID`` gets what
it missed; when that is too much, a ``resync`` event tells the page to re-fetch everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import sqlite3
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

logger = logging.getLogger("secondhand.live")

HEARTBEAT_SECONDS = 15.0
SQLITE_POLL_SECONDS = 0.075
PG_SAFETY_POLL_SECONDS = 2.0
SUBSCRIBER_QUEUE = 256  # events a slow client may lag behind before it is dropped
BUFFER = 2000  # recent changes kept in memory for clients that reconnect
REPLAY_LIMIT = 1000  # beyond this many missed changes a client is told to resync
# PostgreSQL hands out ids when rows are inserted, not when they commit: a skipped id may
# belong to a transaction still running. Look for it this long before giving up.
GAP_SECONDS = 10.0
MAX_GAPS = 1000
SWEEP_SECONDS = 30.0
CHANNEL = "secondhand_changes"
TABLE = "secondhand_site_change"
COLUMNS = "id, item_id, item_name, action, from_status, to_status"

STREAM_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


@dataclass(frozen=True)
class Event:
    id: int
    item: int | None
    name: str
    action: str
    from_status: str
    to_status: str

    @classmethod
    def from_row(cls, row: tuple) -> Event:
        return cls(id=row[0], item=row[1], name=row[2] or "", action=row[3],
                   from_status=row[4] or "", to_status=row[5] or "")

    def encode(self) -> bytes:
        data = json.dumps({"id": self.id, "item": self.item, "name": self.name,
                           "action": self.action, "from": self.from_status,
                           "to": self.to_status}, separators=(",", ":"))
        text = f"id: {self.id}\nevent: change\ndata: {data}\n\n"
        if self.item is not None:
            text = f"id: {self.id}\nevent: item-{self.item}\ndata: {data}\n\n" + text
        return text.encode()


RESYNC = b"event: resync\ndata: {}\n\n"


@dataclass(eq=False)
class Subscriber:
    queue: asyncio.Queue[bytes | None] = field(
        default_factory=lambda: asyncio.Queue(maxsize=SUBSCRIBER_QUEUE))
    dropped: bool = False


# --- Where changes come from -----------------------------------------------------------


class SQLiteSource:
    """Reads the change log from the SQLite file with the standard library's driver."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.conn: sqlite3.Connection | None = None
        self.version: int | None = None

    def _connect(self) -> sqlite3.Connection:
        if self.conn is None:
            self.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True,
                                        check_same_thread=False, timeout=5)
        return self.conn

    def changed(self) -> bool:
        version = self._connect().execute("PRAGMA data_version").fetchone()[0]
        changed, self.version = version != self.version, version
        return changed

    def latest_id(self) -> int:
        return self._connect().execute(f"SELECT COALESCE(MAX(id), 0) FROM {TABLE}").fetchone()[0]

    def since(self, last_id: int, limit: int) -> list[Event]:
        rows = self._connect().execute(
            f"SELECT {COLUMNS} FROM {TABLE} WHERE id > ? ORDER BY id LIMIT ?", (last_id, limit)
        ).fetchall()
        return [Event.from_row(r) for r in rows]

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Hub:
    """One per process: notices new change-log rows and hands them to every stream."""

    def __init__(self) -> None:
        self.subscribers: set[Subscriber] = set()
        self.recent: deque[Event] = deque(maxlen=BUFFER)
        self.last_id = 0
        self.gaps: dict[int, float] = {}  # skipped ids -> when to stop looking for them
        self.started = False
        self.tasks: list[asyncio.Task] = []
        self.source: Any = None

    # Lifecycle

    async def start(self, *, sweep: bool = True) -> None:
        if self.started:
            return
        from django.conf import settings

        db = settings.DATABASES["default"]
        if db["ENGINE"].endswith("sqlite3"):
            self.source = SQLiteSource(str(db["NAME"]))
            self.last_id = await asyncio.to_thread(self.source.latest_id)
            self.tasks.append(asyncio.create_task(self._poll_sqlite(), name="live-sqlite"))
        else:
            self.source = PostgresSource(db)
            self.last_id = await self.source.latest_id()
            self.tasks.append(asyncio.create_task(self._listen_postgres(), name="live-pg"))
        if sweep:
            self.tasks.append(asyncio.create_task(sweep_forever(), name="sweep"))
        self.started = True

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks.clear()
        self.end_streams()
        if self.source is not None:
            result = self.source.close()
            if asyncio.iscoroutine(result):
                await result
        self.started = False

    def end_streams(self) -> None:
        """End every open stream now (the server is stopping; browsers reconnect)."""
        for subscriber in list(self.subscribers):
            self._end(subscriber)

    # Fan-out

    def subscribe(self) -> Subscriber:
        subscriber = Subscriber()
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    def publish(self, events: list[Event]) -> None:
        for event in events:
            if self.gaps.pop(event.id, None) is None:  # not a late commit
                if event.id <= self.last_id:  # sent already
                    continue
                if self.last_id and event.id > self.last_id + 1:
                    self._note_gaps(self.last_id + 1, event.id)
            self.recent.append(event)
            self.last_id = max(self.last_id, event.id)
            payload = event.encode()
            for subscriber in list(self.subscribers):
                try:
                    subscriber.queue.put_nowait(payload)
                except asyncio.QueueFull:
                    # A client that cannot keep up is dropped; it reconnects and catches up.
                    subscriber.dropped = True
                    self._end(subscriber)

    def _note_gaps(self, first: int, stop: int) -> None:
        deadline = time.monotonic() + GAP_SECONDS
        for missing in range(max(first, stop - MAX_GAPS), stop):
            self.gaps[missing] = deadline
        while len(self.gaps) > MAX_GAPS:
            del self.gaps[next(iter(self.gaps))]

    def pending_gaps(self) -> list[int]:
        """Skipped ids still worth looking for (a rolled-back insert leaves one forever)."""
        now = time.monotonic()
        self.gaps = {i: deadline for i, deadline in self.gaps.items() if deadline > now}
        return sorted(self.gaps)

    def _end(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        with contextlib.suppress(asyncio.QueueEmpty):
            while subscriber.queue.full():
                subscriber.queue.get_nowait()
        subscriber.queue.put_nowait(None)

    async def missed(self, last_id: int) -> list[Event] | None:
        """Changes after `last_id`, or None when there are too many (resync instead)."""
        if last_id >= self.last_id:
            return []
        if self.recent and self.recent[0].id <= last_id + 1:
            return [e for e in self.recent if e.id > last_id]
        events = await self._fetch_since(last_id, REPLAY_LIMIT + 1)
        return None if len(events) > REPLAY_LIMIT else events

    async def _fetch_since(self, last_id: int, limit: int) -> list[Event]:
        if isinstance(self.source, SQLiteSource):
            return await asyncio.to_thread(SQLiteSource(self.source.path).since, last_id, limit)
        return await self.source.since(last_id, limit)

    # Notifiers

    async def _poll_sqlite(self) -> None:
        source = self.source
        while True:
            try:
                if source.changed():
                    events = source.since(self.last_id, 500)
                    while events:
                        self.publish(events)
                        events = source.since(self.last_id, 500) if len(events) == 500 else []
            except sqlite3.Error:
                logger.warning("Live updates: could not read the change log", exc_info=True)
                source.close()
                await asyncio.sleep(1)
            await asyncio.sleep(SQLITE_POLL_SECONDS)

    async def _listen_postgres(self) -> None:
        while True:
            try:
                await self.source.listen(self)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("Live updates: lost the PostgreSQL listener; reconnecting",
                               exc_info=True)
                await asyncio.sleep(1)


class PostgresSource:
    """LISTEN on the change channel; every notification (or a slow poll) reads new rows."""

    def __init__(self, db: dict) -> None:
        self.params = {
            "dbname": db.get("NAME"), "user": db.get("USER") or None,
            "password": db.get("PASSWORD") or None, "host": db.get("HOST") or None,
            "port": db.get("PORT") or None,
        }
        self.params = {k: v for k, v in self.params.items() if v}
        if sslmode := db.get("OPTIONS", {}).get("sslmode"):
            self.params["sslmode"] = sslmode
        self.reader = None

    async def _connect(self):
        import psycopg

        return await psycopg.AsyncConnection.connect(autocommit=True, **self.params)

    async def latest_id(self) -> int:
        async with await self._connect() as conn:
            cur = await conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {TABLE}")
            return (await cur.fetchone())[0]

    async def _query(self, where: str, params: tuple) -> list[Event]:
        if self.reader is None or self.reader.closed:
            self.reader = await self._connect()
        cur = await self.reader.execute(f"SELECT {COLUMNS} FROM {TABLE} WHERE {where}", params)
        return [Event.from_row(r) for r in await cur.fetchall()]

    async def since(self, last_id: int, limit: int) -> list[Event]:
        return await self._query("id > %s ORDER BY id LIMIT %s", (last_id, limit))

    async def listen(self, hub: Hub) -> None:
        async with await self._connect() as conn:
            await conn.execute(f"LISTEN {CHANNEL}")
            while True:
                events = await self.since(hub.last_id, 500)
                while events:
                    hub.publish(events)
                    events = await self.since(hub.last_id, 500) if len(events) == 500 else []
                # Rows with skipped ids that have committed since (their NOTIFY woke us).
                if gaps := hub.pending_gaps():
                    hub.publish(await self._query("id = ANY(%s) ORDER BY id", (gaps,)))
                # Wake on the next notification, or after a while anyway (a safety net).
                async for _ in conn.notifies(timeout=PG_SAFETY_POLL_SECONDS, stop_after=1):
                    pass

    async def close(self) -> None:
        if self.reader is not None:
            await self.reader.close()


hub = Hub()


# --- Expiry, in the server process itself ------------------------------------------------


def _sweep_once() -> int:
    from django.db import close_old_connections, connection

    from secondhand_site import services

    close_old_connections()
    try:
        return services.expire_due()
    finally:
        connection.close()


async def sweep_forever() -> None:
    """End overdue holds and send reminders every ~30 s. Several processes may do this at
    once: each hold is ended by a conditional UPDATE, so exactly one of them ends it."""
    await asyncio.sleep(random.uniform(1, 5))
    while True:
        try:
            ended = await asyncio.to_thread(_sweep_once)
            if ended:
                logger.info("Ended %d overdue hold(s)", ended)
        except Exception:
            logger.exception("The sweep of overdue holds failed; trying again later")
        await asyncio.sleep(SWEEP_SECONDS + random.uniform(-3, 3))


# --- The ASGI endpoint -------------------------------------------------------------------


def _last_event_id(scope) -> int:
    headers = dict(scope.get("headers") or [])
    query = parse_qs((scope.get("query_string") or b"").decode("latin-1"))
    raw = headers.get(b"last-event-id", b"").decode("latin-1") or (query.get("last_event_id")
                                                                      or [""])[0]
    try:
        return max(0, int(raw))
    except ValueError:
        return -1  # none given


async def _plain(send, status: int, body: bytes, content_type: bytes = b"text/plain",
                 extra: list | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), (b"cache-control", b"no-cache"),
                            *(extra or [])]})
    await send({"type": "http.response.body", "body": body})


async def events(scope, receive, send) -> None:
    if scope["method"] not in {"GET", "HEAD"}:
        await _plain(send, 405, b"Method not allowed\n", extra=[(b"allow", b"GET")])
        return
    if not hub.started:
        try:
            await hub.start()
        except Exception:
            logger.warning("Live updates are unavailable (database out of reach?)",
                           exc_info=True)
            await hub.stop()
            await _plain(send, 503, b"Live updates are unavailable; retrying shortly.\n",
                         extra=[(b"retry-after", b"5")])
            return
    query = parse_qs((scope.get("query_string") or b"").decode("latin-1"))
    if "poll" in query:
        await _poll(send, query)
        return
    await send({"type": "http.response.start", "status": 200, "headers": STREAM_HEADERS})
    if scope["method"] == "HEAD":
        await send({"type": "http.response.body", "body": b""})
        return

    subscriber = hub.subscribe()
    try:
        opening = b"retry: 2000\n: connected\n\n"
        last = _last_event_id(scope)
        if last >= 0:
            missed = await hub.missed(last)
            opening += RESYNC if missed is None else b"".join(e.encode() for e in missed)
        await send({"type": "http.response.body", "body": opening, "more_body": True})
        await _stream(subscriber, receive, send)
    except OSError:
        pass
    finally:
        hub.unsubscribe(subscriber)


async def _stream(subscriber: Subscriber, receive, send) -> None:
    disconnected = asyncio.Event()

    async def watch_disconnect() -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected.set()
                subscriber.queue.put_nowait(None) if not subscriber.queue.full() else None
                return

    watcher = asyncio.create_task(watch_disconnect())
    try:
        while not disconnected.is_set():
            try:
                payload = await asyncio.wait_for(subscriber.queue.get(), HEARTBEAT_SECONDS)
            except TimeoutError:
                payload = b": heartbeat\n\n"
            if payload is None:
                break
            # Send what else is queued in the same write.
            while not subscriber.queue.empty():
                more = subscriber.queue.get_nowait()
                if more is None:
                    disconnected.set()
                    break
                payload += more
            await send({"type": "http.response.body", "body": payload, "more_body": True})
        if not disconnected.is_set():
            await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        watcher.cancel()


async def _poll(send, query: dict) -> None:
    """The fallback for browsers whose event stream cannot connect: changes as JSON."""
    # Without `after` the client only learns where the log stands; with it (0 included,
    # for a site whose log was empty) it gets what came since.
    try:
        # Below 0 means "from the start"; SQLite cannot even compare with a huge negative.
        after = max(0, int(query["after"][0])) if "after" in query else None
    except ValueError:
        after = None
    missed = await hub.missed(after) if after is not None else []
    body = {"last": hub.last_id, "resync": missed is None,
            "changes": [{"id": e.id, "item": e.item, "name": e.name, "action": e.action,
                         "to": e.to_status} for e in (missed or [])]}
    await _plain(send, 200, json.dumps(body).encode(), b"application/json")
