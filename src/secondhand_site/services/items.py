"""The owner's side of items: create, edit (with a version check), archive, delete,
status changes and photos. Each function is one transaction and writes the change log."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from secondhand_site.models import Item, Photo, Status, User, search_key
from secondhand_site.services.base import DomainError, EditConflict, ItemUnavailable, log_change

EDITABLE_FIELDS = ("name", "description", "price", "category", "condition")
# Actions after which an item has a booking history and may only be archived.
BOOKING_ACTIONS = ("booked", "promoted", "cancelled", "released", "expired", "sold")


# --- Items (the owner's side) --------------------------------------------------------


@transaction.atomic
def create_item(*, actor: User | None, name: str, price: Decimal, description: str = "",
                category: str = "other", condition: str = "good",
                photos: Sequence[Any] = ()) -> Item:
    from secondhand_site import photos as photo_store

    item = Item.objects.create(name=name, description=description, price=price,
                               category=category, condition=condition)
    for position, upload in enumerate(photos):
        photo_store.store_photo(item=item, upload=upload, position=position, alt=name)
    log_change(item=item, actor=actor, action="created", to_status=item.status,
               detail=f"{len(photos)} photo(s)" if photos else "")
    return item


def create_items(*, actor: User | None, rows: Sequence[dict[str, Any]],
                 detail: str = "") -> int:
    """Create many new items at once (a CSV import): bulk inserts of the items and their
    "created" change-log rows, in the caller's transaction. Returns how many."""
    from django.db import connection

    from secondhand_site.models import Change
    from secondhand_site.services.base import NOTIFY_CHANNEL

    now = timezone.now()
    created = 0
    for start in range(0, len(rows), 1000):
        batch = [Item(**row, search_text=search_key(f"{row['name']}\n{row.get('description', '')}"),
                      created_at=now, updated_at=now) for row in rows[start:start + 1000]]
        batch = Item.objects.bulk_create(batch)
        Change.objects.bulk_create([
            Change(item_id=item.pk, item_name=item.name, actor=actor, action="created",
                   to_status=item.status, detail=detail, created_at=now) for item in batch])
        created += len(batch)
    if created and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, "bulk"])
    return created


def update_item(*, item_id: int, actor: User | None, expected_version: int,
                **fields: Any) -> Item:
    """Save an edit made from `expected_version`; EditConflict if the item moved on."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        current = Item.objects.filter(pk=item_id).first()
        if current is None:
            raise EditConflict(None)
        text = {**{f: getattr(current, f) for f in ("name", "description")}, **fields}
        updated = Item.objects.filter(pk=item_id, version=expected_version).update(
            **fields,
            search_text=search_key(f"{text['name']}\n{text['description']}"),
            version=F("version") + 1,
            updated_at=timezone.now(),
        )
        if not updated:
            raise EditConflict(current)
        item = Item.objects.get(pk=item_id)
        changed = [f for f in fields if getattr(current, f) != getattr(item, f)]
        log_change(item=item, actor=actor, action="edited",
                   detail=", ".join(f"{f}: {getattr(current, f)} → {getattr(item, f)}"
                                    for f in changed) or "no change")
    return item


def touch(item: Item, **fields: Any) -> None:
    """Write fields and bump the version in one UPDATE."""
    fields["updated_at"] = timezone.now()
    Item.objects.filter(pk=item.pk).update(version=F("version") + 1, **fields)
    item.refresh_from_db()


def has_booking_history(item: Item) -> bool:
    return (item.status != Status.AVAILABLE or item.bookings.exists()
            or item.changes.filter(action__in=BOOKING_ACTIONS).exists())


@transaction.atomic
def archive_item(*, item: Item, actor: User | None) -> Item:
    item = Item.objects.select_for_update().get(pk=item.pk)
    if item.status == Status.BOOKED:
        raise ItemUnavailable(f"{item.name} is booked; release the hold before archiving it.")
    if not item.archived:
        touch(item, archived=True)
        log_change(item=item, actor=actor, action="archived", from_status=item.status,
                   to_status=item.status)
    return item


@transaction.atomic
def unarchive_item(*, item: Item, actor: User | None) -> Item:
    item = Item.objects.select_for_update().get(pk=item.pk)
    if item.archived:
        touch(item, archived=False)
        log_change(item=item, actor=actor, action="restored", to_status=item.status)
    return item


def delete_item(*, item: Item, actor: User | None) -> str:
    """Delete an item that was never booked; archive one that was. Says which it did."""
    from secondhand_site import photos as photo_store

    with transaction.atomic():
        item = Item.objects.select_for_update().get(pk=item.pk)
        if has_booking_history(item):
            archive_item(item=item, actor=actor)
            return "archived"
        photos = list(item.photos.all())
        log_change(item=None, actor=actor, action="deleted", from_status=item.status,
                   detail=f"#{item.pk} {item.name}")
        item.delete()
        # Files go only once the rows are surely gone.
        transaction.on_commit(lambda: [photo_store.delete_photo_files(p) for p in photos])
    return "deleted"


@transaction.atomic
def mark_available(*, item: Item, actor: User | None) -> Item:
    item = Item.objects.select_for_update().get(pk=item.pk)
    if item.status == Status.BOOKED:
        raise ItemUnavailable(f"{item.name} is booked; release the hold instead.")
    if item.status != Status.AVAILABLE:
        previous = item.status
        touch(item, status=Status.AVAILABLE)
        log_change(item=item, actor=actor, action="status", from_status=previous,
                   to_status=Status.AVAILABLE)
    return item


def _mark_sold(*, item: Item, actor: User | None) -> Item:
    from secondhand_site.services.bookings import mark_sold

    return mark_sold(item=item, actor=actor)


BULK_ACTIONS = {"available": mark_available, "sold": _mark_sold, "archive": archive_item}


def bulk_update(*, items: Iterable[Item], action: str, actor: User | None) -> tuple[int, list[str]]:
    """Apply one action to many items; each item is its own transaction.

    Returns how many changed and a message for each item the rules refused.
    """
    apply = BULK_ACTIONS[action]
    done, refused = 0, []
    for item in items:
        try:
            apply(item=item, actor=actor)
            done += 1
        except DomainError as exc:
            refused.append(str(exc))
    return done, refused


# --- Photos ------------------------------------------------------------------------


@transaction.atomic
def add_photos(*, item: Item, uploads: Sequence[Any], actor: User | None) -> list[Photo]:
    from secondhand_site import photos as photo_store

    start = (item.photos.aggregate(m=Max("position"))["m"] or -1) + 1
    added = [photo_store.store_photo(item=item, upload=u, position=start + i, alt=item.name)
             for i, u in enumerate(uploads)]
    touch(item)
    log_change(item=item, actor=actor, action="photos", detail=f"added {len(added)}")
    return added


def remove_photo(*, photo: Photo, actor: User | None) -> None:
    from secondhand_site import photos as photo_store

    with transaction.atomic():
        item = photo.item
        photo.delete()
        for position, other in enumerate(item.photos.order_by("position", "pk")):
            if other.position != position:
                Photo.objects.filter(pk=other.pk).update(position=position)
        touch(item)
        log_change(item=item, actor=actor, action="photos", detail="removed one")
        transaction.on_commit(lambda: photo_store.delete_photo_files(photo))


@transaction.atomic
def move_photo(*, photo: Photo, offset: int, actor: User | None) -> None:
    """Move a photo earlier (-1) or later (+1); position 0 is the cover."""
    item = photo.item
    order = list(item.photos.order_by("position", "pk"))
    index = next(i for i, p in enumerate(order) if p.pk == photo.pk)
    target = max(0, min(len(order) - 1, index + offset))
    if target == index:
        return
    order.insert(target, order.pop(index))
    for position, other in enumerate(order):
        Photo.objects.filter(pk=other.pk).update(position=position)
    touch(item)
    log_change(item=item, actor=actor, action="photos",
               detail="new cover" if target == 0 else "reordered")
