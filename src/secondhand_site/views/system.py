from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    return redirect(static("secondhand/favicon.svg"), permanent=True)


@require_safe
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """200 when the app and its database answer, 503 otherwise."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # any database failure means "not healthy", never a 500
        return HttpResponse("database unavailable\n", status=503, content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "error.html", {"code": 400, "title": "Bad request",
                  "text": "The request could not be understood."}, status=400)


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "error.html", {"code": 403, "title": "Not allowed",
                  "text": "You do not have access to this page."}, status=403)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    # Mostly a form left open across a log-out or log-in elsewhere: say so, in the site look.
    return render(request, "error.html", {"code": 403, "title": "Form expired",
                  "text": "This form was open too long or your session changed. "
                  "Go back, reload the page and try again."}, status=403)


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "error.html", {"code": 404, "title": "Page not found",
                  "text": "There is nothing here. It may have been removed."}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # No context processors or database work here: this page must render when they fail.
    template = loader.get_template("500.html")
    return HttpResponse(template.render(), status=500)
