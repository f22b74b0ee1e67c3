"""Live updates: the /events/ stream of real servers, and the per-process Hub behind it.

The server tests run two `secondhand serve` instances on one database (one SQLite file,
then one PostgreSQL database): a browser's stream is on instance A, the booking goes
through instance B, so the event has to travel through the database to reach it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from realserver import (
    Client,
    EventStream,
    Server,
    catalog_item_ids,
    server_env,
    set_up_site,
    start_server,
    wait_ready,
    wait_serving,
    watched,
)

from secondhand_site import live

MEMBERS = ["alice@example.com", "bob@example.com"]
# Seconds from a change's acknowledgement to its event on another instance: within a
# second, as pages promise (PostgreSQL's slow safety-net poll alone would miss it).
EVENT_WITHIN = 1.0


@dataclass
class Site:
    a: Server  # where the browser's event stream is
    b: Server  # where the member makes changes
    items: list[int]
    database: str  # a SQLite file or a PostgreSQL URL

    def change_log(self, item: int) -> list[tuple[int, str]]:
        """The change-log rows of one item, (id, action), read from the database itself."""
        query = ("SELECT id, action FROM secondhand_site_change WHERE item_id = {} "
                 "ORDER BY id")
        if self.database.startswith("postgres"):
            import psycopg

            with psycopg.connect(self.database) as conn:
                return conn.execute(query.format("%s"), (item,)).fetchall()
        with contextlib.closing(sqlite3.connect(f"file:{self.database}?mode=ro",
                                                uri=True)) as conn:
            return conn.execute(query.format("?"), (item,)).fetchall()


def _two_instances(request, base: Path, data_a: Path, data_b: Path,
                   **env: str) -> Iterator[Site]:
    """Instance A with two worker processes and instance B with one, on one database."""
    items = set_up_site(server_env(data_a, **env), data_a, emails=MEMBERS, items=3)
    a = start_server("instance A (2 workers)", data_a, base / "a.log",
                     server_env(data_a, **env), workers=2)
    with watched(request, [a]) as servers:
        if data_b == data_a:  # both would write the same static files: one at a time
            wait_serving(a)
        b = start_server("instance B (1 worker)", data_b, base / "b.log",
                         server_env(data_b, **env), workers=1)
        servers.append(b)
        wait_ready(a)
        wait_ready(b)
        assert sorted(catalog_item_ids(b.client())) == sorted(items)
        yield Site(a=a, b=b, items=items,
                   database=env.get("DATABASE_URL") or str(data_a / "secondhand.sqlite3"))


@pytest.fixture(scope="module")
def sqlite_site(request, tmp_path_factory) -> Iterator[Site]:
    base = tmp_path_factory.mktemp("live-sqlite")
    data = base / "data"
    data.mkdir()
    yield from _two_instances(request, base, data, data)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database on 127.0.0.1:5432, dropped afterwards."""
    try:
        import psycopg

        admin = psycopg.connect("host=127.0.0.1 port=5432 user=root dbname=postgres",
                                connect_timeout=3, autocommit=True)
    except Exception as exc:  # psycopg.OperationalError, or no psycopg at all
        pytest.skip(f"PostgreSQL is not reachable on 127.0.0.1:5432 as root ({exc})")
    name = f"secondhand_live_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"postgres://root@127.0.0.1:5432/{name}"
    with psycopg.connect("host=127.0.0.1 port=5432 user=root dbname=postgres",
                         autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def postgres_site(request, tmp_path_factory, postgres_url) -> Iterator[Site]:
    # Two data folders: on PostgreSQL the database is all the instances share.
    base = tmp_path_factory.mktemp("live-postgres")
    (base / "a").mkdir()
    (base / "b").mkdir()
    yield from _two_instances(request, base, base / "a", base / "b", DATABASE_URL=postgres_url)


def _book(client: Client, item: int) -> None:
    response = client.post(f"/items/{item}/book/", htmx=True)
    assert response.status == 200, str(response)
    assert "You booked" in response.text


# --- Over real servers ------------------------------------------------------------------


def _bookings_through_b_reach_a_stream_on_a(site: Site) -> None:
    alice = site.b.client()
    alice.log_in("alice@example.com")
    items = site.items[:2]
    events = []
    with EventStream(site.a.port) as stream:
        stream.wait_open()
        for item in items:
            _book(alice, item)
            # Counted from the booking's acknowledgement: the event usually beats it.
            event = stream.wait_for(lambda e, item=item: e.event == f"item-{item}",
                                    timeout=EVENT_WITHIN)
            change = stream.next(timeout=EVENT_WITHIN)
            # Each change comes twice: for the item's own elements, and for listeners of
            # the whole page, with one id.
            assert (change.event, change.id, change.json) == ("change", event.id, event.json)
            events.append(event)

    for item, event in zip(items, events, strict=True):
        assert event.json["action"] == "booked"
        assert event.json["item"] == item
        assert (event.json["from"], event.json["to"]) == ("available", "booked")
        # The event id is the change-log id of that booking.
        assert site.change_log(item)[-1] == (event.id, "booked")
    assert events[0].id < events[1].id
    ids = [e.id for e in stream.received]
    assert ids == sorted(ids)


def test_bookings_on_one_instance_reach_a_stream_on_another(sqlite_site):
    _bookings_through_b_reach_a_stream_on_a(sqlite_site)


def test_bookings_reach_another_instance_over_postgresql(postgres_site):
    _bookings_through_b_reach_a_stream_on_a(postgres_site)


def _log_change(conn, item: int) -> int:
    """What services.log_change writes on PostgreSQL, in the caller's transaction."""
    [change] = conn.execute(
        "INSERT INTO secondhand_site_change (item_id, item_name, action, from_status, "
        "to_status, detail, created_at) VALUES (%s, 'Test item', 'updated', 'available', "
        "'available', '', now()) RETURNING id", (item,)).fetchone()
    conn.execute("SELECT pg_notify('secondhand_changes', %s)", (str(change),))
    return change


def test_a_change_committed_after_a_later_numbered_one_still_reaches_the_stream(
        postgres_site):
    # On PostgreSQL ids come from a sequence, so two transactions can commit out of id
    # order: the notifier must not take "id > the last one seen" as "everything new".
    import psycopg

    site = postgres_site
    item = site.items[2]
    with EventStream(site.a.port) as stream, \
            psycopg.connect(site.database) as slow, \
            psycopg.connect(site.database, autocommit=True) as fast:
        stream.wait_open()
        earlier = _log_change(slow, item)  # not committed yet
        later = _log_change(fast, item)
        assert later > earlier
        stream.wait_for(lambda e: e.id == later, timeout=EVENT_WITHIN)
        slow.commit()
        late = stream.wait_for(lambda e: e.event == f"item-{item}", timeout=EVENT_WITHIN)
    assert (late.id, late.json["action"]) == (earlier, "updated")


def test_a_stream_that_reconnects_with_last_event_id_gets_what_it_missed(sqlite_site):
    site = sqlite_site
    bob = site.b.client()
    bob.log_in("bob@example.com")
    item = site.items[2]
    with EventStream(site.a.port) as stream:
        stream.wait_open()
        _book(bob, item)
        booked = stream.wait_for(lambda e: e.event == f"item-{item}", timeout=EVENT_WITHIN)
        stream.wait_for(lambda e: e.event == "change" and e.id == booked.id,
                        timeout=EVENT_WITHIN)
    last = booked.id

    # While no stream is open, Bob cancels: the item is available again.
    page = bob.get("/bookings/")
    booking = re.search(r'action="/bookings/(\d+)/cancel/"', page.text)
    assert booking, f"No cancel form on /bookings/:\n{page.text}"
    response = bob.post(f"/bookings/{booking[1]}/cancel/", htmx=True)
    assert response.status == 200, str(response)
    missed = [row for row in site.change_log(item) if row[0] > last]
    assert [action for _, action in missed] == ["cancelled", "available"]
    # Long enough for every process of A to have noticed (and sent to no one) those
    # changes, so only the replay can bring them to the new stream.
    time.sleep(10 * live.SQLITE_POLL_SECONDS)

    with EventStream(site.a.port, last_event_id=last) as stream:
        stream.wait_open()
        first = stream.take(4, timeout=EVENT_WITHIN)
    assert [(e.id, e.event, e.json["action"]) for e in first] == [
        (missed[0][0], f"item-{item}", "cancelled"), (missed[0][0], "change", "cancelled"),
        (missed[1][0], f"item-{item}", "available"), (missed[1][0], "change", "available"),
    ]

    # The polling fallback lists the same changes, on either instance.
    for server in (site.a, site.b):
        body = server.client().get(f"/events/?poll=1&after={last}").json()
        assert body["resync"] is False
        assert body["last"] >= missed[-1][0]
        assert [(c["id"], c["item"], c["action"]) for c in body["changes"]] == [
            (missed[0][0], item, "cancelled"), (missed[1][0], item, "available")]


def test_the_stream_is_an_uncached_uncompressed_event_stream(sqlite_site):
    with EventStream(sqlite_site.a.port, headers={"Accept-Encoding": "gzip, br"}) as stream:
        stream.wait_open()
        headers = stream.response.headers
        assert stream.response.status == 200
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["cache-control"] == "no-cache"
    assert "content-encoding" not in headers
    assert stream.retry == 2000  # browsers reconnect after 2 s


def test_the_stream_refuses_a_post(sqlite_site):
    response = sqlite_site.a.client().request("POST", "/events/")
    assert response.status == 405
    assert response.headers["allow"] == "GET"


# --- The hub, in this process -------------------------------------------------------------


def _event(n: int, item: int | None = 7) -> live.Event:
    return live.Event(id=n, item=item, name="Lamp", action="booked", from_status="available",
                      to_status="booked")


def _drain(queue: asyncio.Queue) -> list[bytes | None]:
    out = []
    while not queue.empty():
        out.append(queue.get_nowait())
    return out


def test_the_hub_hands_each_change_to_every_subscriber():
    async def scenario():
        hub = live.Hub()
        first, second = hub.subscribe(), hub.subscribe()
        hub.publish([_event(1), _event(2, item=None)])
        hub.publish([_event(2)])  # seen already: not sent twice
        return _drain(first.queue), _drain(second.queue), hub

    first, second, hub = asyncio.run(scenario())
    assert first == second == [_event(1).encode(), _event(2, item=None).encode()]
    assert first[0].decode().startswith("id: 1\nevent: item-7\ndata: {")
    assert "event: item-" not in first[1].decode()  # a change of no item: only `change`
    assert hub.last_id == 2


def test_the_hub_still_sends_a_change_that_commits_after_a_later_numbered_one():
    async def scenario():
        hub = live.Hub()
        subscriber = hub.subscribe()
        hub.publish([_event(1)])
        hub.publish([_event(3)])  # 2 is still in a transaction that has not committed
        gaps = hub.pending_gaps()
        hub.publish([_event(2)])  # now it has
        hub.publish([_event(2), _event(3)])  # read again: nothing new
        return gaps, hub.pending_gaps(), _drain(subscriber.queue)

    gaps, later, sent = asyncio.run(scenario())
    assert (gaps, later) == ([2], [])
    assert sent == [_event(1).encode(), _event(3).encode(), _event(2).encode()]


def test_a_subscriber_that_cannot_keep_up_is_dropped_and_the_others_still_get_events(
        monkeypatch):
    monkeypatch.setattr(live, "SUBSCRIBER_QUEUE", 2)

    async def scenario():
        hub = live.Hub()
        slow, fast = hub.subscribe(), hub.subscribe()
        hub.publish([_event(1), _event(2)])
        _drain(fast.queue)  # the fast one reads as they come
        hub.publish([_event(3)])  # the slow one's queue is full
        hub.publish([_event(4)])
        return hub, slow, fast

    hub, slow, fast = asyncio.run(scenario())
    assert slow.dropped and not fast.dropped
    assert hub.subscribers == {fast}
    slow_got = _drain(slow.queue)
    assert slow_got[-1] is None  # the end sentinel: its stream closes, the browser reconnects
    assert _event(4).encode() not in slow_got
    assert _drain(fast.queue) == [_event(3).encode(), _event(4).encode()]


def _change_log_file(path: Path, ids: range) -> None:
    """A stand-in for the site's database: just the change log, in WAL mode."""
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"CREATE TABLE IF NOT EXISTS {live.TABLE} (id INTEGER PRIMARY KEY, "
                     "item_id INTEGER, item_name TEXT, action TEXT, from_status TEXT, "
                     "to_status TEXT)")
        conn.executemany(f"INSERT INTO {live.TABLE} VALUES (?, 7, 'Lamp', 'booked', "
                         "'available', 'booked')", [(n,) for n in ids])


def test_missed_replays_from_memory_then_from_the_database_then_asks_for_a_resync(
        monkeypatch, tmp_path):
    database = tmp_path / "changes.sqlite3"
    _change_log_file(database, range(1, 11))
    monkeypatch.setattr(live, "BUFFER", 3)
    monkeypatch.setattr(live, "REPLAY_LIMIT", 5)

    async def scenario():
        hub = live.Hub()
        hub.source = live.SQLiteSource(str(database))
        hub.publish([_event(n) for n in range(1, 11)])  # memory keeps 8, 9, 10
        try:
            return {after: await hub.missed(after) for after in (10, 12, 8, 7, 5, 4, 3)}
        finally:
            hub.source.close()

    missed = asyncio.run(scenario())
    ids = {after: None if got is None else [e.id for e in got] for after, got in missed.items()}
    assert ids[10] == ids[12] == []
    assert ids[8] == [9, 10]
    assert ids[7] == [8, 9, 10]
    assert ids[5] == [6, 7, 8, 9, 10]  # from the database, within the replay limit
    assert ids[4] is None  # six missed: too many, the page re-fetches everything instead
    assert ids[3] is None
    assert missed[5][0] == _event(6)


def test_the_sqlite_notifier_publishes_rows_committed_by_another_connection(
        monkeypatch, tmp_path):
    database = tmp_path / "changes.sqlite3"
    _change_log_file(database, range(1, 4))
    monkeypatch.setattr(live, "SQLITE_POLL_SECONDS", 0.01)

    async def scenario():
        hub = live.Hub()
        hub.source = live.SQLiteSource(str(database))
        hub.last_id = hub.source.latest_id()
        subscriber = hub.subscribe()
        task = asyncio.create_task(hub._poll_sqlite())
        try:
            await asyncio.sleep(0.05)
            assert subscriber.queue.empty()  # what was there before is not news
            await asyncio.to_thread(_change_log_file, database, range(4, 6))
            return [await asyncio.wait_for(subscriber.queue.get(), 2) for _ in range(2)]
        finally:
            task.cancel()
            hub.source.close()

    assert asyncio.run(scenario()) == [_event(4).encode(), _event(5).encode()]


def _run_stream(scope: dict, hub: live.Hub, *, seconds: float,
                before=None) -> list[dict]:
    """Drive the ASGI endpoint until the client goes away after `seconds`."""
    sent: list[dict] = []

    async def receive():
        await asyncio.sleep(seconds)
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    async def scenario():
        if before:
            before(hub)
        await live.events(scope, receive, send)

    asyncio.run(scenario())
    return sent


def _scope(method: str = "GET", headers: list | None = None, query: bytes = b"") -> dict:
    return {"type": "http", "method": method, "path": "/events/", "headers": headers or [],
            "query_string": query}


def test_an_idle_stream_gets_heartbeats_and_ends_when_the_client_leaves(monkeypatch):
    monkeypatch.setattr(live, "HEARTBEAT_SECONDS", 0.05)
    hub = live.Hub()
    hub.started = True  # no database behind it: nothing happens, so it only beats
    monkeypatch.setattr(live, "hub", hub)
    sent = _run_stream(_scope(), hub, seconds=0.3)

    start, *bodies = sent
    assert start["status"] == 200
    assert dict(start["headers"])[b"cache-control"] == b"no-cache"
    text = b"".join(m["body"] for m in bodies).decode()
    assert text.startswith("retry: 2000\n: connected\n\n")
    assert text.count(": heartbeat\n\n") >= 2
    assert hub.subscribers == set()  # the stream let go of its queue


def test_a_reconnecting_stream_gets_missed_events_before_new_ones(monkeypatch):
    hub = live.Hub()
    hub.started = True
    hub.publish([_event(n) for n in range(1, 4)])
    monkeypatch.setattr(live, "hub", hub)

    async def later_change():
        await asyncio.sleep(0.05)
        hub.publish([_event(4)])

    def schedule(hub):
        asyncio.get_running_loop().create_task(later_change())

    sent = _run_stream(_scope(headers=[(b"last-event-id", b"1")]), hub, seconds=0.2,
                       before=schedule)
    text = b"".join(m.get("body", b"") for m in sent[1:]).decode()
    assert re.findall(r"^id: (\d+)$", text, re.M) == ["2", "2", "3", "3", "4", "4"]


def test_the_polling_fallback_lists_changes_after_an_id(monkeypatch):
    hub = live.Hub()
    hub.started = True
    hub.publish([_event(n) for n in range(1, 4)])
    monkeypatch.setattr(live, "hub", hub)
    sent = _run_stream(_scope(query=b"poll=1&after=1"), hub, seconds=0)
    assert dict(sent[0]["headers"])[b"content-type"] == b"application/json"
    body = json.loads(sent[1]["body"])
    assert body["last"] == 3 and body["resync"] is False
    assert [c["id"] for c in body["changes"]] == [2, 3]


def test_polling_from_an_empty_change_log_still_gets_the_first_change(monkeypatch):
    hub = live.Hub()
    hub.started = True
    monkeypatch.setattr(live, "hub", hub)
    first = json.loads(_run_stream(_scope(query=b"poll=1"), hub, seconds=0)[1]["body"])
    assert first == {"last": 0, "resync": False, "changes": []}
    hub.publish([_event(1)])
    body = json.loads(_run_stream(_scope(query=b"poll=1&after=0"), hub, seconds=0)[1]["body"])
    assert [c["id"] for c in body["changes"]] == [1]


def test_the_stream_answers_503_while_live_updates_cannot_start(monkeypatch):
    hub = live.Hub()

    async def cannot_start(**kwargs):
        raise OSError("database out of reach")

    monkeypatch.setattr(hub, "start", cannot_start)
    monkeypatch.setattr(live, "hub", hub)
    sent = _run_stream(_scope(), hub, seconds=0)

    assert sent[0]["status"] == 503
    assert dict(sent[0]["headers"])[b"retry-after"] == b"5"
    assert hub.started is False
