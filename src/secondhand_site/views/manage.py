from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from secondhand_site.views.auth import owner_required


@require_safe
@owner_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "manage/dashboard.html")
