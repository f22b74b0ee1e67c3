from __future__ import annotations

from django.urls import include, path, re_path

from secondhand_site.views import (
    account,
    bookings,
    catalog,
    manage,
    manage_bookings,
    media,
    system,
)

urlpatterns = [
    path("", catalog.catalog, name="catalog"),
    path("items/<int:pk>/", catalog.item_detail, name="item-detail"),
    path("items/<int:pk>/card/", bookings.item_card, name="item-card"),
    path("items/<int:pk>/panel/", bookings.item_panel, name="item-panel"),
    path("items/<int:pk>/book/", bookings.item_book, name="item-book"),
    path("items/<int:pk>/waitlist/", bookings.item_waitlist, name="item-waitlist"),
    path("items/<int:pk>/waitlist/leave/", bookings.item_waitlist_leave,
         name="item-waitlist-leave"),
    path("bookings/", bookings.my_bookings, name="my-bookings"),
    path("bookings/<int:pk>/cancel/", bookings.booking_cancel, name="booking-cancel"),
    path("account/", account.account, name="account"),
    path("account/export/", account.export_data, name="account-export"),
    path("account/delete/", account.delete_account, name="account-delete"),
    path("accounts/", include("allauth.urls")),
    path("manage/", manage.dashboard, name="manage-dashboard"),
    path("manage/items/", manage.items, name="manage-items"),
    path("manage/items/new/", manage.item_new, name="manage-item-new"),
    path("manage/items/bulk/", manage.bulk, name="manage-items-bulk"),
    path("manage/items/export.csv", manage.export_csv, name="manage-items-export"),
    path("manage/items/import/", manage.import_csv, name="manage-items-import"),
    path("manage/items/<int:pk>/row/", manage.item_row, name="manage-item-row"),
    path("manage/items/<int:pk>/edit/", manage.item_edit, name="manage-item-edit"),
    path("manage/items/<int:pk>/delete/", manage.item_delete, name="manage-item-delete"),
    path("manage/items/<int:pk>/sold/", manage_bookings.item_sold, name="manage-item-sold"),
    path("manage/items/<int:pk>/history/", manage.item_history, name="manage-item-history"),
    path("manage/items/<int:pk>/photos/", manage.photo_add, name="manage-photo-add"),
    path("manage/items/<int:pk>/photos/<int:photo_pk>/move/", manage.photo_move,
         name="manage-photo-move"),
    path("manage/items/<int:pk>/photos/<int:photo_pk>/delete/", manage.photo_delete,
         name="manage-photo-delete"),
    path("manage/bookings/", manage_bookings.bookings, name="manage-bookings"),
    path("manage/bookings/<int:pk>/release/", manage_bookings.booking_release,
         name="manage-booking-release"),
    re_path(r"^media/(?P<path>.+)$", media.serve_media, name="media"),
    path("healthz", system.healthz, name="healthz"),
    path("favicon.ico", system.favicon),
]

handler400 = "secondhand_site.views.system.bad_request"
handler403 = "secondhand_site.views.system.permission_denied"
handler404 = "secondhand_site.views.system.page_not_found"
handler500 = "secondhand_site.views.system.server_error"
