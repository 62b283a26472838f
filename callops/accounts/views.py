"""Sign in, sign out, and switching the organization a user acts in."""

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from .active_org import switch_org

login_view = auth_views.LoginView.as_view(template_name="accounts/login.html", redirect_authenticated_user=True)
logout_view = auth_views.LogoutView.as_view()


@require_POST
@login_required
def switch_org_view(request):
    switch_org(request, request.POST.get("org", ""))
    nxt = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        nxt = "/"
    # Object pages belong to the old org and would 404; go to the same section's index instead.
    return redirect(nxt if nxt.count("/") <= 2 else "/")


@login_required
def no_organization(request):
    return render(request, "accounts/no_organization.html")
