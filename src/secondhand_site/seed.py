"""Demo data for `secondhand seed`: members and a realistic catalog with drawn photos.

Fast enough for 100,000 items: rows go in with bulk inserts, and the photos, drawn with
Pillow (no downloads), are made once per category and shared by many items.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from secondhand_site.models import Category, Change, Condition, Item, Photo, User, search_key

DEMO_PASSWORD = "demo-secondhand-2026"
DEMO_MEMBERS = [
    ("alice@example.com", "Alice", "Martin"),
    ("bob@example.com", "Bob", "Keller"),
    ("carol@example.com", "Carol", "Nguyen"),
]
BATCH = 2000
PHOTO_VARIANTS = 3

CATALOG: dict[str, tuple[list[str], tuple[int, int]]] = {
    Category.FURNITURE: (["Oak dining table", "Bookshelf", "Armchair", "Bedside table",
                          "Chest of drawers", "Café chair", "Wardrobe", "Coffee table"], (15, 250)),
    Category.KITCHEN: (["Espresso machine", "Cast-iron pan", "Stand mixer", "Teapot",
                        "Set of six plates", "Toaster", "Knife block", "Crêpe pan"], (3, 90)),
    Category.ELECTRONICS: (["Desk lamp", "Bluetooth speaker", "Radio", "Monitor 24\"",
                            "Mechanical keyboard", "Film camera", "Headphones",
                            "Record player"], (5, 180)),
    Category.BOOKS: (["Cookbook", "Atlas", "Novel collection", "Children's encyclopedia",
                      "Vinyl records", "Comic books", "Poetry anthology", "Board game"], (1, 30)),
    Category.CLOTHING: (["Winter coat", "Wool sweater", "Rain jacket", "Leather boots",
                         "Denim jacket", "Silk scarf", "Hiking boots", "Summer dress"], (4, 80)),
    Category.KIDS: (["Wooden train set", "Pushchair", "High chair", "Building blocks",
                     "Balance bike", "Doll's house", "Puzzle set", "Baby carrier"], (3, 120)),
    Category.SPORTS: (["Road bike", "Tennis racket", "Yoga mat", "Camping tent",
                       "Skis", "Kettlebell", "Skateboard", "Sleeping bag"], (5, 300)),
    Category.GARDEN: (["Terracotta pots", "Garden bench", "Lawn mower", "Watering can",
                       "Hedge trimmer", "Bird house", "Wheelbarrow", "Deck chair"], (2, 150)),
    Category.TOOLS: (["Cordless drill", "Socket set", "Workbench", "Spirit level",
                      "Circular saw", "Ladder", "Toolbox", "Sewing machine"], (4, 160)),
    Category.OTHER: (["Picture frame", "Mirror", "Umbrella stand", "Wall clock",
                      "Guitar", "Suitcase", "Rug", "Houseplant"], (2, 90)),
}
ADJECTIVES = ["Vintage", "Sturdy", "Small", "Large", "Handmade", "Classic", "Modern",
              "Compact", "Well-loved", "Retro", "Elegant", "Practical"]
PHRASES = [
    "Works perfectly.", "A few signs of use, nothing serious.", "Collected from a smoke-free home.",
    "Moving house, so it needs a new owner.", "Barely used.", "Original box included.",
    "Pick-up only, near the station.", "Some scratches on one side, see the photos.",
    "Cleaned and ready to go.", "Great for a first flat.",
]
CONDITION_WEIGHTS = [(Condition.NEW, 1), (Condition.LIKE_NEW, 3), (Condition.GOOD, 5),
                     (Condition.FAIR, 2), (Condition.FOR_PARTS, 1)]


def seed_members() -> list[User]:
    from allauth.account.models import EmailAddress

    members = []
    with transaction.atomic():
        for email, first, last in DEMO_MEMBERS:
            user, created = User.objects.get_or_create(
                email=email, defaults={"first_name": first, "last_name": last}
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
            EmailAddress.objects.get_or_create(
                user=user, email=email, defaults={"verified": True, "primary": True}
            )
            members.append(user)
    return members


def _photo_library() -> dict[str, list[dict[str, Any]]]:
    """Draw, process and store a few photos per category, once; items share them."""
    from secondhand_site import photos

    library: dict[str, list[dict[str, Any]]] = {}
    for c_index, category in enumerate(Category):
        library[category] = []
        for variant in range(PHOTO_VARIANTS):
            hue = (c_index * 36 + variant * 110) % 360
            label = Category(category).label
            png = photos.demo_image(label, hue)
            processed = photos.process_upload(SimpleUploadedFile("demo.png", png, "image/png"))
            stem = f"items/demo-{uuid.uuid4().hex}"
            display = default_storage.save(f"{stem}.{processed.extension}",
                                           ContentFile(processed.display))
            thumb = default_storage.save(f"{stem}-thumb.{processed.extension}",
                                         ContentFile(processed.thumb))
            library[category].append({"display": display, "thumb": thumb,
                                      "width": processed.width, "height": processed.height})
    return library


def _item(rng: random.Random, now) -> Item:
    category = rng.choice(list(CATALOG))
    names, (low, high) = CATALOG[category]
    name = f"{rng.choice(ADJECTIVES)} {rng.choice(names).lower()}"
    name = name[0].upper() + name[1:]
    description = " ".join(rng.sample(PHRASES, 3))
    price = Decimal(rng.randint(low * 100, high * 100) // 50 * 50) / 100
    condition = rng.choices([c for c, _ in CONDITION_WEIGHTS],
                            weights=[w for _, w in CONDITION_WEIGHTS])[0]
    created = now - timedelta(minutes=rng.randint(0, 60 * 24 * 60))
    return Item(name=name, description=description, price=price, category=category,
                condition=condition, search_text=search_key(f"{name}\n{description}"),
                created_at=created, updated_at=created)


def seed_items(count: int, *, progress: Callable[[int], AbstractContextManager[Any]] | None = None,
               rng_seed: int | None = None) -> int:
    """Top the catalog up to `count` items; returns how many were added."""
    missing = count - Item.objects.count()
    if missing <= 0:
        return 0
    library = _photo_library()
    rng = random.Random(rng_seed if rng_seed is not None else Item.objects.count())
    now = timezone.now()
    bar = progress(missing) if progress else None
    added = 0
    with bar if bar is not None else _Null() as tick:
        while added < missing:
            size = min(BATCH, missing - added)
            with transaction.atomic():
                items = Item.objects.bulk_create([_item(rng, now) for _ in range(size)])
                if items[0].pk is None:  # databases that don't return ids from bulk inserts
                    items = list(Item.objects.order_by("-pk")[:size])
                Photo.objects.bulk_create([
                    Photo(item_id=item.pk, position=0, alt=item.name,
                          **rng.choice(library[item.category])) for item in items])
                Change.objects.bulk_create([
                    Change(item_id=item.pk, item_name=item.name, action="created",
                           to_status=item.status, detail="demo data") for item in items])
            added += size
            if tick is not None:
                tick.update(size)
    return added


class _Null:
    def __enter__(self):
        return None

    def __exit__(self, *exc) -> None:
        return None


def run(*, items: int, echo: Callable[[str], object] = print,
        progress: Callable[[int], AbstractContextManager[Any]] | None = None) -> None:
    members = seed_members()
    echo(f"Demo members ready ({len(members)}), password {DEMO_PASSWORD!r}: "
         + ", ".join(m.email for m in members))
    added = seed_items(items, progress=progress)
    total = Item.objects.count()
    if added:
        echo(f"Added {added} demo items; the catalog has {total} items.")
    else:
        echo(f"The catalog already has {total} items (asked for {items}); nothing added.")
