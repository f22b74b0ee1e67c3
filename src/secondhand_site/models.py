from __future__ import annotations

import unicodedata
from decimal import Decimal

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.files.storage import default_storage
from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra.update(is_staff=True, is_superuser=True, is_owner=True)
        return self._create(email, password, **extra)


class User(AbstractUser):
    """A member of the site; owners also list and manage items.

    Logged in by email; there is no username.
    """

    username = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)
    is_owner = models.BooleanField(
        default=False, help_text="Owners list items and manage bookings under /manage/."
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email


def search_key(text: str) -> str:
    """Lower-case, accent-free text, so search ignores case and accents on every database."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


class Category(models.TextChoices):
    FURNITURE = "furniture", "Furniture"
    KITCHEN = "kitchen", "Kitchen & dining"
    ELECTRONICS = "electronics", "Electronics"
    BOOKS = "books", "Books & media"
    CLOTHING = "clothing", "Clothing"
    KIDS = "kids", "Kids & toys"
    SPORTS = "sports", "Sports & outdoors"
    GARDEN = "garden", "Garden"
    TOOLS = "tools", "Tools & DIY"
    OTHER = "other", "Other"


class Condition(models.TextChoices):
    NEW = "new", "New"
    LIKE_NEW = "like_new", "Like new"
    GOOD = "good", "Good"
    FAIR = "fair", "Fair"
    FOR_PARTS = "for_parts", "For parts"


class Status(models.TextChoices):
    AVAILABLE = "available", "Available"
    BOOKED = "booked", "Booked"
    SOLD = "sold", "Sold"


class ItemQuerySet(models.QuerySet["Item"]):
    def listed(self) -> ItemQuerySet:
        """Items the public may see: not archived."""
        return self.filter(archived=False)

    def for_sale(self) -> ItemQuerySet:
        """The default catalog: available and booked items, sold and archived hidden."""
        return self.listed().filter(status__in=[Status.AVAILABLE, Status.BOOKED])

    def with_cover(self) -> ItemQuerySet:
        """Annotate the cover photo's thumbnail and display names without a query per item."""
        covers = Photo.objects.filter(item=models.OuterRef("pk")).order_by("position", "pk")
        return self.annotate(
            cover_thumb=models.Subquery(covers.values("thumb")[:1]),
            cover_alt=models.Subquery(covers.values("alt")[:1]),
        )

    def with_holder(self) -> ItemQuerySet:
        """Annotate who holds each item and until when, without a query per item."""
        holds = Booking.objects.filter(item=models.OuterRef("pk"), state=BookingState.ACTIVE)
        return self.annotate(
            holder_email=models.Subquery(holds.values("member__email")[:1]),
            hold_until=models.Subquery(holds.values("expires_at")[:1]),
            queue_length=models.Subquery(
                QueueEntry.objects.filter(item=models.OuterRef("pk")).order_by()
                .values("item").annotate(n=models.Count("pk")).values("n")[:1]),
        )

    def available_first(self) -> ItemQuerySet:
        return self.alias(
            status_rank=models.Case(
                models.When(status=Status.AVAILABLE, then=0),
                models.When(status=Status.BOOKED, then=1),
                default=2,
            )
        ).order_by("status_rank")


class Item(models.Model):
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, max_length=5000)
    price = models.DecimalField(
        max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    category = models.CharField(max_length=20, choices=Category.choices, default=Category.OTHER)
    condition = models.CharField(max_length=20, choices=Condition.choices, default=Condition.GOOD)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.AVAILABLE)
    archived = models.BooleanField(default=False)
    # Bumped on every change; an edit carries the version it started from, so two owners
    # editing one item cannot silently overwrite each other.
    version = models.PositiveIntegerField(default=1)
    # Derived from name and description by save() and services; what search looks in.
    search_text = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = ItemQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["archived", "status", "-created_at"], name="item_listing_idx"),
            models.Index(fields=["archived", "status", "price"], name="item_price_idx"),
            models.Index(fields=["archived", "status", "name"], name="item_name_idx"),
            models.Index(fields=["category", "archived", "status"], name="item_category_idx"),
            models.Index(fields=["condition", "archived", "status"], name="item_condition_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gte=0),
                                   name="item_price_not_negative"),
            models.CheckConstraint(
                condition=models.Q(status__in=Status.values), name="item_status_known"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.search_text = search_key(f"{self.name}\n{self.description}")
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("item-detail", args=[self.pk])

    @property
    def is_available(self) -> bool:
        return self.status == Status.AVAILABLE and not self.archived

    @property
    def is_booked(self) -> bool:
        return self.status == Status.BOOKED

    @property
    def is_sold(self) -> bool:
        return self.status == Status.SOLD


class Photo(models.Model):
    """One photo of an item, stored re-encoded in two sizes; position 0 is the cover."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="photos")
    position = models.PositiveIntegerField(default=0)
    display = models.CharField(max_length=255)
    thumb = models.CharField(max_length=255)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    alt = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "pk"]
        indexes = [models.Index(fields=["item", "position"], name="photo_order_idx")]

    def __str__(self) -> str:
        return self.display

    @property
    def display_url(self) -> str:
        return default_storage.url(self.display)

    @property
    def thumb_url(self) -> str:
        return default_storage.url(self.thumb)


class Change(models.Model):
    """The change log: every change of an item or booking, who made it and when.

    Its id is the server-sent event id; it feeds live updates and the history page.
    """

    item = models.ForeignKey(Item, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="changes")
    item_name = models.CharField(max_length=120, blank=True)
    actor = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+")
    action = models.CharField(max_length=30)
    from_status = models.CharField(max_length=10, blank=True)
    to_status = models.CharField(max_length=10, blank=True)
    detail = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"{self.action} {self.item_name}"


class BookingState(models.TextChoices):
    ACTIVE = "active", "Active"
    CANCELLED = "cancelled", "Cancelled"
    RELEASED = "released", "Released by the owner"
    EXPIRED = "expired", "Expired"
    SOLD = "sold", "Sold"


class BookingQuerySet(models.QuerySet["Booking"]):
    def active(self) -> BookingQuerySet:
        return self.filter(state=BookingState.ACTIVE)

    def overdue(self, now) -> BookingQuerySet:
        return self.active().filter(expires_at__lte=now)


class Booking(models.Model):
    """A member's hold on an item. At most one active booking per item, enforced by
    the database itself."""

    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="bookings")
    # SET_NULL: a deleted account leaves the history, anonymised.
    member = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="bookings")
    state = models.CharField(max_length=10, choices=BookingState.choices,
                             default=BookingState.ACTIVE)
    from_queue = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)

    objects = BookingQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["item"], condition=models.Q(state="active"),
                name="one_active_booking_per_item",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "state"], name="booking_member_idx"),
            models.Index(fields=["state", "expires_at"], name="booking_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.member} holds {self.item}"

    @property
    def is_active(self) -> bool:
        return self.state == BookingState.ACTIVE


class QueueEntry(models.Model):
    """A member waiting in line for a booked item; the earliest is first."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="queue")
    member = models.ForeignKey(User, on_delete=models.CASCADE, related_name="queue_entries")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["item", "member"], name="queue_once_per_member"),
        ]
        indexes = [models.Index(fields=["item", "created_at"], name="queue_order_idx")]

    def __str__(self) -> str:
        return f"{self.member} waits for {self.item}"
