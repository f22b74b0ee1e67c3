from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from secondhand_site import services
from secondhand_site.forms import DeleteAccountForm


@require_safe
@login_required
def account(request: HttpRequest) -> HttpResponse:
    return render(request, "account/overview.html", {
        "emails": request.user.emailaddress_set.order_by("-primary", "email"),
    })


@require_safe
@login_required
@never_cache
def export_data(request: HttpRequest) -> HttpResponse:
    data = services.export_member_data(member=request.user)
    response = HttpResponse(
        json.dumps(data, indent=2, default=str), content_type="application/json"
    )
    response["Content-Disposition"] = 'attachment; filename="secondhand-my-data.json"'
    return response


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def delete_account(request: HttpRequest) -> HttpResponse:
    form = DeleteAccountForm(request.user, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        user = request.user
        logout(request)
        services.delete_member(member=user)
        messages.success(request, "Your account has been deleted. Thank you for being part of it.")
        return redirect("catalog")
    return render(request, "account/delete.html", {"form": form})
