"""Many idle server-sent-event streams on raw asyncio sockets, and when a change reaches them."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from harness import HOST


@dataclass(eq=False)
class Stream:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    marker: bytes | None = None  # what to wait for, e.g. b"event: item-12\n"
    got_at: float | None = None  # perf_counter() when the marker arrived
    tail: bytes = b""
    task: asyncio.Task | None = None

    async def read(self) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while chunk := await self.reader.read(65536):
                now = time.perf_counter()
                seen = self.tail + chunk
                if not self.connected.is_set():
                    if not seen.startswith(b"HTTP/1.1 200"):
                        return  # refused: connected never gets set
                    if b": connected\n" in seen:
                        self.connected.set()
                if self.marker and self.got_at is None and self.marker in seen:
                    self.got_at = now
                self.tail = seen[-256:]

    def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        self.writer.close()


async def open_streams(port: int, count: int, *, timeout: float = 30.0,
                       at_once: int = 50) -> list[Stream]:
    """Open `count` streams to /events/ and wait until each has its opening comment."""
    gate = asyncio.Semaphore(at_once)
    request = (f"GET /events/ HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
               "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n").encode()

    async def one() -> Stream:
        async with gate:
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(request)
            await writer.drain()
            stream = Stream(reader, writer)
            stream.task = asyncio.create_task(stream.read())
            await stream.connected.wait()
            return stream

    tasks = [asyncio.create_task(one()) for _ in range(count)]
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    streams = [t.result() for t in done if not t.cancelled() and t.exception() is None]
    if len(streams) < count:
        errors = {repr(t.exception()) for t in done if not t.cancelled() and t.exception()}
        for stream in streams:
            stream.close()
        raise RuntimeError(f"only {len(streams)} of {count} streams connected in "
                           f"{timeout:.0f} s {sorted(errors)[:2]}")
    return streams


async def delivery(streams: list[Stream], marker: bytes, act: Callable[[], object],
                   *, timeout: float = 15.0) -> tuple[float, list[float | None]]:
    """Run `act` (blocking, in a thread) and time when each stream sees `marker`.

    Returns (the perf_counter() just before `act` started, each stream's arrival time)."""
    for stream in streams:
        stream.marker, stream.got_at = marker, None
    started = time.perf_counter()
    await asyncio.to_thread(act)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(s.got_at is None for s in streams):
        await asyncio.sleep(0.01)
    return started, [s.got_at for s in streams]
