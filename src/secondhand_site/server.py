"""Run gunicorn from Python, so `secondhand serve` and the Procfile run the same code."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication


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
        "worker_class": "uvicorn_worker.UvicornWorker",
        # Long-lived event streams must not hold up a restart or Ctrl-C for long.
        "graceful_timeout": 3,
        "timeout": 60,
        "keepalive": 5,
        "accesslog": "-" if access_log else None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "secondhand",
        # Trust X-Forwarded-* from the host's proxy (free hosts terminate TLS for us).
        "forwarded_allow_ips": "*",
    }).run()
