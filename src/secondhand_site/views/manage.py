"""The owner's pages under /manage/: dashboard, item table with inline edit, photos,
bulk actions, CSV export and import, and each item's history."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django.views.decorators.vary import vary_on_headers

from secondhand_site import services
from secondhand_site.forms import AddPhotosForm, ItemForm, NewItemForm
from secondhand_site.models import Change, Item, Photo, Status, search_key
from secondhand_site.photos import MAX_PHOTOS_PER_ITEM, PhotoError
from secondhand_site.views.auth import owner_required
from secondhand_site.views.bookings import sweeps_overdue_holds
from secondhand_site.views.fragments import safe_next, see_other

ROWS_PER_PAGE = 50


def _back(to: str, *args, **kwargs) -> HttpResponse:
    """Post/redirect/get with 303 (the URL contract), to a URL or a URL name."""
    return see_other(resolve_url(to, *args, **kwargs))


@require_safe
@owner_required
@sweeps_overdue_holds
def dashboard(request: HttpRequest) -> HttpResponse:
    counts = Item.objects.aggregate(
        available=Count("pk", filter=Q(status=Status.AVAILABLE, archived=False)),
        booked=Count("pk", filter=Q(status=Status.BOOKED, archived=False)),
        sold=Count("pk", filter=Q(status=Status.SOLD, archived=False)),
        archived=Count("pk", filter=Q(archived=True)),
    )
    recent = Change.objects.select_related("actor", "item")[:15]
    return render(request, "manage/dashboard.html", {"counts": counts, "recent": recent})


def _table_items(request: HttpRequest):
    items = Item.objects.with_cover().with_holder()
    show = request.GET.get("show", "")
    if show == "archived":
        items = items.filter(archived=True)
    elif show in Status.values:
        items = items.filter(archived=False, status=show)
    else:
        items = items.filter(archived=False)
    # PostgreSQL refuses a NUL in any text it is given; no item's text holds one anyway.
    for word in search_key(request.GET.get("q", "").replace("\x00", "")).split()[:8]:
        items = items.filter(search_text__contains=word)
    return items.order_by("-updated_at", "-pk"), show


@require_safe
@owner_required
@sweeps_overdue_holds
def items(request: HttpRequest) -> HttpResponse:
    rows, show = _table_items(request)
    page = Paginator(rows, ROWS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "manage/items.html", {
        "page": page, "show": show, "q": request.GET.get("q", ""),
        "statuses": Status.choices,
    })


def _row(request: HttpRequest, item: Item, status: int = 200) -> HttpResponse:
    item = Item.objects.with_cover().with_holder().get(pk=item.pk)
    return render(request, "manage/items.html#item-row", {"item": item}, status=status)


@require_safe
@owner_required
@sweeps_overdue_holds
def item_row(request: HttpRequest, pk: int) -> HttpResponse:
    return _row(request, get_object_or_404(Item, pk=pk))


@require_http_methods(["GET", "HEAD", "POST"])
@vary_on_headers("HX-Request")  # a page or a fragment from one URL
@owner_required
def item_edit(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(Item, pk=pk)
    form = ItemForm(request.POST if request.method == "POST" else None, instance=item)
    status, conflict = 200, None
    if request.method == "POST":
        if form.is_valid():
            fields = {f: form.cleaned_data[f] for f in services.EDITABLE_FIELDS}
            expected = form.cleaned_data.get("version") or item.version
            try:
                saved = services.update_item(item_id=item.pk, actor=request.user,
                                             expected_version=expected, **fields)
            except services.EditConflict as exc:
                conflict = str(exc)
                if exc.item is None:
                    messages.error(request, conflict)
                    return _back("manage-items")
                item = exc.item
                form = ItemForm(instance=item)  # show the current version to edit again
                status = 409
            else:
                messages.success(request, f"Saved {saved.name}.")
                if request.htmx:
                    return _with_messages(request, _row(request, saved))
                return _back("manage-items")
        else:
            status = 422
    template = "manage/items.html#item-row-form" if request.htmx else "manage/item_edit.html"
    return render(request, template, {
        "item": item, "form": form, "conflict": conflict,
        "photos": item.photos.all(), "photo_form": AddPhotosForm(),
    }, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@owner_required
def item_new(request: HttpRequest) -> HttpResponse:
    posted = request.method == "POST"
    form = NewItemForm(request.POST if posted else None, request.FILES if posted else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            item = services.create_item(
                actor=request.user, photos=data.get("photos") or [],
                **{f: data[f] for f in services.EDITABLE_FIELDS})
        except PhotoError as exc:
            form.add_error("photos", str(exc))
        else:
            messages.success(request, f"Listed {item.name}.")
            return _back("manage-items")
    return render(request, "manage/item_new.html", {"form": form},
                  status=422 if form.errors else 200)


@require_POST
@owner_required
def item_delete(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(Item, pk=pk)
    if request.POST.get("confirm") != "yes":
        return render(request, "manage/item_delete.html", {
            "item": item, "will_archive": services.has_booking_history(item)})
    try:
        outcome = services.delete_item(item=item, actor=request.user)
    except services.DomainError as exc:  # booked: the hold must end first
        messages.error(request, str(exc))
        if request.htmx:
            return _with_messages(request, _row(request, item, status=409))
        return _back("manage-items")
    text = (f"Archived {item.name}: it has a booking history, so it is kept out of sight."
            if outcome == "archived" else f"Deleted {item.name}.")
    if request.htmx:
        response = HttpResponse("")
        response["HX-Trigger"] = "items-changed"
        messages.success(request, text)
        return _with_messages(request, response)
    messages.success(request, text)
    return _back("manage-items")


def _with_messages(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Append the pending flash messages as an out-of-band swap of the messages box."""
    from django.template.loader import render_to_string

    response.write(render_to_string("messages.html", request=request))
    return response


def _item_ids(values: list[str]) -> list[int]:
    """The ids among posted values. Anything else is ignored: words, digits int() refuses
    ("²"), and numbers past any database id (SQLite cannot even compare with those)."""
    return [int(v) for v in values if v.isascii() and v.isdigit() and len(v) <= 18]


@require_POST
@owner_required
def bulk(request: HttpRequest) -> HttpResponse:
    action = request.POST.get("action", "")
    ids = _item_ids(request.POST.getlist("ids"))
    if action not in services.BULK_ACTIONS:
        messages.error(request, "Choose what to do with the selected items.")
    elif not ids:
        messages.error(request, "Select at least one item first.")
    else:
        chosen = Item.objects.filter(pk__in=ids)
        done, refused = services.bulk_update(items=chosen, action=action, actor=request.user)
        messages.success(request, f"Updated {done} item{'s' if done != 1 else ''}.")
        for text in refused:
            messages.warning(request, text)
    return see_other(safe_next(request, reverse("manage-items")))


@require_safe
@owner_required
def item_history(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(Item, pk=pk)
    changes = item.changes.select_related("actor").order_by("-pk")
    return render(request, "manage/item_history.html", {"item": item, "changes": changes})


@require_POST
@owner_required
def photo_add(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(Item, pk=pk)
    form = AddPhotosForm(request.POST, request.FILES)
    form.fields["photos"].max_photos = MAX_PHOTOS_PER_ITEM - item.photos.count()
    if form.is_valid():
        try:
            added = services.add_photos(item=item, uploads=form.cleaned_data["photos"],
                                        actor=request.user)
        except PhotoError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Added {len(added)} photo{'s' if len(added) != 1 else ''}.")
    else:
        for error in form.errors.get("photos", []):
            messages.error(request, error)
    return _back("manage-item-edit", pk=item.pk)


def _item_photo(pk: int, photo_pk: int) -> Photo:
    """A photo of this item, else 404. The item is looked up first: a foreign-key lookup
    with an id past the database's range is an error on SQLite, not an empty result."""
    item = get_object_or_404(Item, pk=pk)
    return get_object_or_404(item.photos.select_related("item"), pk=photo_pk)


@require_POST
@owner_required
def photo_move(request: HttpRequest, pk: int, photo_pk: int) -> HttpResponse:
    photo = _item_photo(pk, photo_pk)
    offset = -1 if request.POST.get("direction") == "up" else 1
    services.move_photo(photo=photo, offset=offset, actor=request.user)
    return _back("manage-item-edit", pk=pk)


@require_POST
@owner_required
def photo_delete(request: HttpRequest, pk: int, photo_pk: int) -> HttpResponse:
    photo = _item_photo(pk, photo_pk)
    services.remove_photo(photo=photo, actor=request.user)
    messages.success(request, "Photo removed.")
    return _back("manage-item-edit", pk=pk)


@require_safe
@owner_required
def export_csv(request: HttpRequest) -> StreamingHttpResponse:
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    from secondhand_site import csv_io

    response = StreamingHttpResponse(csv_io.iter_export_rows(Item.objects.all()),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="secondhand-items-{stamp}.csv"'
    return response


@require_http_methods(["GET", "HEAD", "POST"])
@owner_required
def import_csv(request: HttpRequest) -> HttpResponse:
    result, status = None, 200
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            messages.error(request, "Choose a CSV file to import.")
            status = 422
        else:
            from secondhand_site import csv_io

            # The file itself: import_items reads no more than its size limit.
            result = csv_io.import_items(upload, actor=request.user)
            if result.ok:
                messages.success(request, f"Imported: {result.created} new, {result.updated} "
                                          f"updated, {result.unchanged} unchanged.")
                return _back("manage-items")
            status = 422
    return render(request, "manage/import.html", {"result": result}, status=status)
