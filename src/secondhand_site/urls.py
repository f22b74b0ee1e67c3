from __future__ import annotations

from django.urls import include, path

from secondhand_site.views import account, catalog, manage, system

urlpatterns = [
    path("", catalog.catalog, name="catalog"),
    path("account/", account.account, name="account"),
    path("account/export/", account.export_data, name="account-export"),
    path("account/delete/", account.delete_account, name="account-delete"),
    path("accounts/", include("allauth.urls")),
    path("manage/", manage.dashboard, name="manage-dashboard"),
    path("healthz", system.healthz, name="healthz"),
]

handler400 = "secondhand_site.views.system.bad_request"
handler403 = "secondhand_site.views.system.permission_denied"
handler404 = "secondhand_site.views.system.page_not_found"
handler500 = "secondhand_site.views.system.server_error"
