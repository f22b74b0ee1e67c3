"""Every state change of the platform, each one transaction that writes the change log.

Views parse input, call one function here and render; the rules live here.
"""

from secondhand_site.services.base import (
    NOTIFY_CHANNEL,
    DomainError,
    EditConflict,
    ItemUnavailable,
    NotAllowed,
    log_change,
)
from secondhand_site.services.bookings import (
    HoldLimitReached,
    NotVerified,
    QueueRefused,
    ViewerState,
    book,
    cancel,
    expire_due,
    hold_period,
    is_verified,
    join_queue,
    leave_queue,
    mark_sold,
    queue_place,
    release,
    send_reminders,
    sweep_if_due,
    viewer_states,
)
from secondhand_site.services.items import (
    BOOKING_ACTIONS,
    BULK_ACTIONS,
    EDITABLE_FIELDS,
    add_photos,
    archive_item,
    bulk_update,
    create_item,
    create_items,
    delete_item,
    has_booking_history,
    mark_available,
    move_photo,
    remove_photo,
    touch,
    unarchive_item,
    update_item,
)
from secondhand_site.services.members import create_owner, delete_member, export_member_data

__all__ = [
    "BOOKING_ACTIONS", "BULK_ACTIONS", "EDITABLE_FIELDS", "NOTIFY_CHANNEL", "DomainError",
    "EditConflict", "HoldLimitReached", "ItemUnavailable", "NotAllowed", "NotVerified",
    "QueueRefused", "ViewerState", "add_photos", "archive_item", "book", "bulk_update",
    "cancel", "create_item", "create_items", "create_owner", "delete_item", "delete_member",
    "expire_due",
    "export_member_data", "has_booking_history", "hold_period", "is_verified", "join_queue",
    "leave_queue", "log_change", "mark_available", "mark_sold", "move_photo", "queue_place",
    "release", "remove_photo", "send_reminders", "sweep_if_due", "touch", "unarchive_item",
    "update_item", "viewer_states",
]
