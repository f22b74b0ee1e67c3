"""The one ASGI entry point that ``secondhand serve`` runs.

``/events/`` is a raw ASGI server-sent-events handler (``live.py``): an idle stream
holds no thread. Everything else is Django's WSGI app run through a2wsgi, which costs
far less CPU per request than Django's own ASGI handler.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "secondhand_site.settings")

from a2wsgi import WSGIMiddleware  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

from secondhand_site import live  # noqa: E402

# Threads per process for the Django side; event streams need none.
django_app = WSGIMiddleware(get_wsgi_application(),
                            workers=int(os.environ.get("SECONDHAND_THREADS", "8")))


async def lifespan(scope, receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await live.hub.start()
            except Exception:
                # Pages still work without live updates; /events/ tries again per request.
                live.logger.warning("Live updates could not start yet", exc_info=True)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await live.hub.stop()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def application(scope, receive, send) -> None:
    if scope["type"] == "http" and scope["path"] == "/events/":
        await live.events(scope, receive, send)
    elif scope["type"] == "lifespan":
        await lifespan(scope, receive, send)
    else:
        await django_app(scope, receive, send)
