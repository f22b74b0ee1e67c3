"""The owner's view of holds and queues: release a hold, mark an item sold."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe
from django.views.decorators.vary import vary_on_headers

from secondhand_site import services
from secondhand_site.models import Booking, Item, QueueEntry
from secondhand_site.views.auth import owner_required
from secondhand_site.views.bookings import sweeps_overdue_holds
from secondhand_site.views.fragments import respond


def manage_bookings_context() -> dict:
    now = timezone.now()
    holds = list(Booking.objects.active().select_related("item", "member").order_by("expires_at"))
    queues: dict[int, list[QueueEntry]] = {}
    for entry in QueueEntry.objects.select_related("member", "item").order_by("created_at", "pk"):
        queues.setdefault(entry.item_id, []).append(entry)
    for hold in holds:
        hold.queue = queues.pop(hold.item_id, [])
        hold.overdue = hold.expires_at <= now
    return {"holds": holds, "overdue": [h for h in holds if h.overdue],
            "orphan_queues": list(queues.values()), "now": now}


@require_safe
@vary_on_headers("HX-Request")  # a page or a fragment from one URL
@owner_required
@sweeps_overdue_holds
def bookings(request: HttpRequest) -> HttpResponse:
    template = "manage/bookings.html#manage-bookings" if request.htmx else "manage/bookings.html"
    return render(request, template, manage_bookings_context())


@require_POST
@owner_required
def booking_release(request: HttpRequest, pk: int) -> HttpResponse:
    booking = get_object_or_404(Booking.objects.select_related("item", "member"), pk=pk)
    try:
        successor = services.release(booking=booking, actor=request.user)
    except services.DomainError as exc:
        return respond(request, booking.item, text=str(exc), ok=False)
    then = (f" It passed to {successor.member.email}, next in line." if successor
            else " It is available again.")
    return respond(request, booking.item, text=f"Released the hold on {booking.item.name}.{then}")


@require_POST
@owner_required
def item_sold(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(Item, pk=pk)
    item = services.mark_sold(item=item, actor=request.user)
    return respond(request, item, text=f"{item.name} is marked as sold.")
