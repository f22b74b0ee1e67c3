"""Run gunicorn from Python, so `secondhand serve` and the Procfile run the same code."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from uvicorn_worker import UvicornWorker


class SecondhandServer(BaseApplication):
    def __init__(self, options: dict[str, object]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)

    def load(self):
        from secondhand_site.asgi import application

        return application


def run(*, host: str, port: int, workers: int, access_log: bool = False) -> None:
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    SecondhandServer({
        "bind": [bind],
        "workers": workers,
        "worker_class": "secondhand_site.server.SecondhandWorker",
        # Long-lived event streams must not hold up a restart or Ctrl-C for long.
        "graceful_timeout": 8,
        "timeout": 60,
        "keepalive": 5,
        "accesslog": "-" if access_log else None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "secondhand",
        # Trust X-Forwarded-* from the host's proxy (free hosts terminate TLS for us).
        "forwarded_allow_ips": "*",
    }).run()


class SecondhandWorker(UvicornWorker):
    """Uvicorn's gunicorn worker, made to stop promptly with event streams open.

    Uvicorn waits for open responses to finish before it stops, and an event stream
    never finishes: so when the server starts to stop, the open streams are ended (the
    browsers reconnect to another worker or, after a restart, to the new one).
    """

    CONFIG_KWARGS = {"loop": "auto", "http": "auto", "timeout_graceful_shutdown": 5}

    async def _serve(self) -> None:
        from uvicorn.server import Server

        self.config.app = self.wsgi
        server = Server(config=self.config)
        # gunicorn's master asks workers to stop quickly with SIGQUIT (on its own
        # SIGINT); uvicorn only listens for SIGINT and SIGTERM, so pass it on.
        asyncio.get_running_loop().add_signal_handler(
            signal.SIGQUIT, setattr, server, "should_exit", True)
        watcher = asyncio.create_task(_end_streams_when_stopping(server))
        try:
            await server.serve(sockets=self.sockets)
        finally:
            watcher.cancel()
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)

    def run(self) -> None:
        # Ctrl-C reaches every process of the group; uvicorn re-raises it once it has
        # stopped cleanly. That is a normal stop, not a crash worth logging.
        with contextlib.suppress(KeyboardInterrupt):
            super().run()

    def init_signals(self) -> None:
        super().init_signals()
        signal.signal(signal.SIGINT, signal.default_int_handler)


async def _end_streams_when_stopping(server) -> None:
    from secondhand_site import live

    while not server.should_exit:
        await asyncio.sleep(0.1)
    live.hub.end_streams()
