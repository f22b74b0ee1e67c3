"""Server-sent events at ``/events/``, served as raw ASGI (not a Django view).

An open stream costs a coroutine and a few kilobytes: no thread and no database
connection. For now the stream only says hello and sends heartbeats; the change feed
arrives with the booking issue.
"""

from __future__ import annotations

import asyncio

HEARTBEAT_SECONDS = 15.0

HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


async def events(scope, receive, send) -> None:
    if scope["method"] not in {"GET", "HEAD"}:
        await send({"type": "http.response.start", "status": 405,
                    "headers": [(b"allow", b"GET"), (b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"Method not allowed\n"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    if scope["method"] == "HEAD":
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.body", "body": b"retry: 2000\n: connected\n\n",
                "more_body": True})

    disconnected = asyncio.Event()

    async def watch_disconnect() -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected.set()
                return

    watcher = asyncio.create_task(watch_disconnect())
    try:
        while not disconnected.is_set():
            try:
                await asyncio.wait_for(disconnected.wait(), timeout=HEARTBEAT_SECONDS)
            except TimeoutError:
                await send({"type": "http.response.body", "body": b": heartbeat\n\n",
                            "more_body": True})
    except OSError:
        pass
    finally:
        watcher.cancel()
