"""Members' booking actions and their bookings page."""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST, require_safe
from django.views.decorators.vary import vary_on_headers

from secondhand_site import services
from secondhand_site.models import Booking, BookingState, Item, QueueEntry
from secondhand_site.views.fragments import render_target, respond


def sweeps_overdue_holds(view):
    """Before showing booking state, end holds whose time is up (one indexed query when
    there are none), so a page never shows an overdue hold as active."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        services.sweep_if_due()
        return view(request, *args, **kwargs)

    return wrapper


def _listed_item(pk: int) -> Item:
    return get_object_or_404(Item.objects.listed(), pk=pk)


@require_POST
@login_required
def item_book(request: HttpRequest, pk: int) -> HttpResponse:
    item = _listed_item(pk)
    try:
        booking = services.book(item=item, member=request.user)
    except services.DomainError as exc:
        return respond(request, item, text=str(exc), ok=False)
    return respond(request, item, text=f"You booked {item.name}. It is held for you until "
                                       f"{booking.expires_at:%A %-d %B}.")


@require_POST
@login_required
def item_waitlist(request: HttpRequest, pk: int) -> HttpResponse:
    item = _listed_item(pk)
    try:
        place = services.join_queue(item=item, member=request.user)
    except services.DomainError as exc:
        return respond(request, item, text=str(exc), ok=False)
    return respond(request, item, text=f"You joined the queue for {item.name}: "
                                       f"you are number {place} in line.")


@require_POST
@login_required
def item_waitlist_leave(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(Item, pk=pk)
    try:
        services.leave_queue(item=item, member=request.user)
    except services.DomainError as exc:
        return respond(request, item, text=str(exc), ok=False)
    return respond(request, item, text=f"You left the queue for {item.name}.")


@require_POST
@login_required
def booking_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    booking = get_object_or_404(Booking.objects.select_related("item"), pk=pk)
    if booking.member_id != request.user.pk:
        raise Http404  # someone else's booking: not even its existence is shown
    try:
        services.cancel(booking=booking, member=request.user)
    except services.DomainError as exc:
        return respond(request, booking.item, text=str(exc), ok=False)
    return respond(request, booking.item, text=f"Your booking of {booking.item.name} is cancelled.")


def my_bookings_context(request: HttpRequest) -> dict:
    member = request.user
    holds = list(Booking.objects.active().filter(member=member).select_related("item")
                 .order_by("expires_at"))
    entries = list(QueueEntry.objects.filter(member=member).select_related("item"))
    places = services.viewer_states([e.item for e in entries], member)
    for entry in entries:
        entry.place = places[entry.item_id].queue_place
        entry.length = places[entry.item_id].queue_length
    past = (Booking.objects.filter(member=member).exclude(state=BookingState.ACTIVE)
            .select_related("item").order_by("-ended_at", "-pk")[:50])
    item_ids = sorted({b.item_id for b in holds} | {e.item_id for e in entries})
    return {"holds": holds, "entries": entries, "past": past, "item_ids": item_ids,
            "max_holds": settings.MAX_ACTIVE_BOOKINGS}


@require_safe
@vary_on_headers("HX-Request")  # a page or a fragment from one URL
@login_required
@sweeps_overdue_holds
def my_bookings(request: HttpRequest) -> HttpResponse:
    template = "bookings.html#my-bookings" if request.htmx else "bookings.html"
    return render(request, template, my_bookings_context(request))


@require_safe
@sweeps_overdue_holds
def item_card(request: HttpRequest, pk: int) -> HttpResponse:
    """One catalog card, as this viewer sees it (live updates re-fetch it)."""
    item = get_object_or_404(Item.objects.listed(), pk=pk)
    return HttpResponse(render_target(request, item, f"item-card-{pk}"))


@require_safe
@sweeps_overdue_holds
def item_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The item page's status and booking controls, as this viewer sees them."""
    item = get_object_or_404(Item.objects.listed(), pk=pk)
    return HttpResponse(render_target(request, item, f"item-panel-{pk}"))

