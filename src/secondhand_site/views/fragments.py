"""The pieces of pages that change when an item does.

A state-changing request from htmx names the element it wants back (HX-Target); a live
update re-fetches an element the same way. Either way the viewer gets that element
rendered for them, with the controls they may use.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme

from secondhand_site import services
from secondhand_site.models import Item
from secondhand_site.views.auth import is_owner


def with_viewer(items, user):
    """Attach each item's state for this viewer as `item.viewer`."""
    items = list(items)
    states = services.viewer_states(items, user)
    empty = services.ViewerState()
    for item in items:
        item.viewer = states.get(item.pk, empty)
    return items


def card_item(pk: int, user) -> Item:
    return with_viewer(Item.objects.with_cover().filter(pk=pk), user)[0]


def render_target(request: HttpRequest, item: Item, target: str) -> str:
    """The HTML of the element `target` showing `item`, for this viewer."""
    if ((target == "manage-bookings" or target.startswith("item-row-"))
            and not is_owner(request.user)):
        # The owner's fragments name who holds and who queues: a member who asks for one
        # (HX-Target is the client's to set) gets their own view of the item instead.
        target = f"item-panel-{item.pk}"
    if target == "my-bookings":
        from secondhand_site.views.bookings import my_bookings_context

        return render_to_string("bookings.html#my-bookings", my_bookings_context(request),
                                request=request)
    if target == "manage-bookings":
        from secondhand_site.views.manage_bookings import manage_bookings_context

        return render_to_string("manage/bookings.html#manage-bookings",
                                manage_bookings_context(), request=request)
    if target.startswith("item-row-"):
        row = Item.objects.with_cover().with_holder().get(pk=item.pk)
        return render_to_string("manage/items.html#item-row", {"item": row}, request=request)
    if target.startswith("item-card-"):
        return render_to_string("catalog.html#item-card",
                                {"item": card_item(item.pk, request.user)}, request=request)
    panel_item = with_viewer([Item.objects.get(pk=item.pk)], request.user)[0]
    return render_to_string("item.html#item-panel", {"item": panel_item}, request=request)


def respond(request: HttpRequest, item: Item, *, text: str, ok: bool = True,
            status: int | None = None) -> HttpResponse:
    """Answer a state-changing request: the refreshed element for htmx (200, or 409 when
    the change was refused), else a redirect back with a flash message."""
    (messages.success if ok else messages.error)(request, text)
    if request.htmx:
        target = request.htmx.target or f"item-panel-{item.pk}"
        html = render_target(request, item, target)
        html += render_to_string("messages.html", request=request)
        return HttpResponse(html, status=status or (200 if ok else 409))
    return see_other(safe_next(request, item.get_absolute_url()))


def see_other(url: str) -> HttpResponse:
    """Post/redirect/get with 303, so the browser follows with a GET."""
    response = redirect(url)
    response.status_code = 303
    return response


def safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default
