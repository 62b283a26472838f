from django.contrib import admin
from django.urls import include, path

from callops import healthz
from callops.accounts import views as account_views
from callops.api.reference import api_reference
from callops.api.urls import api

# Errors outside /v1/ get the console's own pages, in its layout, even with DEBUG=0 (see error_views).
handler400 = "callops.dashboard.error_views.bad_request"
handler403 = "callops.dashboard.error_views.permission_denied"
handler404 = "callops.dashboard.error_views.page_not_found"
handler500 = "callops.dashboard.error_views.server_error"

urlpatterns = [
    path("healthz", healthz.healthz, name="healthz"),
    path("login/", account_views.login_view, name="login"),
    path("logout/", account_views.logout_view, name="logout"),
    path("orgs/switch/", account_views.switch_org_view, name="switch_org"),
    path("orgs/none/", account_views.no_organization, name="no_organization"),
    path("admin/rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
    path("v1/", api.urls),
    path("docs/api/", api_reference, name="api_reference"),
    path("callbacks/", include("callops.calls.callback_urls")),
    path("", include("callops.dashboard.urls")),
]

