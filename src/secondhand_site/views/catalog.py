from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers

from secondhand_site.forms import SORTS, CatalogFilterForm
from secondhand_site.models import Item, search_key
from secondhand_site.views.bookings import sweeps_overdue_holds
from secondhand_site.views.fragments import with_viewer

PAGE_SIZE = 24


def filtered_items(form: CatalogFilterForm):
    status = form.value("status")
    items = Item.objects.listed().filter(status=status) if status else Item.objects.for_sale()
    for word in search_key(form.value("q") or "").split()[:8]:
        items = items.filter(search_text__contains=word)
    for field in ("category", "condition"):
        if value := form.value(field):
            items = items.filter(**{field: value})
    if (low := form.value("min_price")) is not None:
        items = items.filter(price__gte=low)
    if (high := form.value("max_price")) is not None:
        items = items.filter(price__lte=high)
    order = SORTS[form.value("sort") or "newest"][1]
    return items.available_first().order_by("status_rank", *order)


@require_safe
@vary_on_headers("HX-Request")  # the same URL is a page or a fragment: keep caches apart
@sweeps_overdue_holds
def catalog(request: HttpRequest) -> HttpResponse:
    form = CatalogFilterForm(request.GET)
    items = filtered_items(form).with_cover()
    page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = with_viewer(page.object_list, request.user)
    context = {"form": form, "page": page, "is_home": not request.GET}
    fragment = request.htmx and not request.htmx.history_restore_request
    return render(request, "catalog.html#results" if fragment else "catalog.html", context)


@require_safe
@sweeps_overdue_holds
def item_detail(request: HttpRequest, pk: int) -> HttpResponse:
    item = with_viewer([get_object_or_404(Item.objects.listed(), pk=pk)], request.user)[0]
    photos = list(item.photos.all())
    try:
        current = max(0, min(len(photos) - 1, int(request.GET.get("photo", 0))))
    except ValueError:
        current = 0
    return render(request, "item.html", {"item": item, "photos": photos, "current": current})
