"""Settings → Numbers: the organization's caller IDs, a search of numbers for sale, buying one, and
bringing in the numbers a provider account already holds.

The same service functions as /v1/numbers do the work (`callops.providers.numbers`). Everyone in
the organization may list and search; buying charges the provider account, so it needs an admin,
and the page asks for confirmation before the form is sent.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from callops.accounts.decorators import acts_on, org_required
from callops.accounts.models import Role
from callops.providers import numbers
from callops.providers.base import ProviderError

# The page lists the newest numbers; the API pages through all of them.
LIST_LIMIT = 200
SEARCH_LIMIT = 20


@require_http_methods(["GET", "POST"])
@org_required()
@acts_on(post_role=Role.ADMIN)
def numbers_page(request):
    ctx = {"nav": "numbers", "can_buy": request.membership.allows(Role.ADMIN),
           "selling": list(numbers.selling_accounts(request.org)), "results": None, "error": None}
    status = 200
    params = request.POST if request.method == "POST" else request.GET
    ctx["form"] = {k: params.get(k, "") for k in ("provider_account_id", "area_code", "number_type")}
    if request.method == "POST" and request.POST.get("action") == "import":
        try:
            account = numbers.selling_account(request.org, request.POST.get("provider_account_id") or None)
            added = numbers.import_provider_numbers(account, actor=request.user)
        except numbers.NumberError as exc:
            ctx["error"], status = exc.message, exc.status
        except ProviderError as exc:
            ctx["error"], status = f"The provider could not list its numbers: {exc.message}", 502
        else:
            messages.success(request, f"{added} number{'s' if added != 1 else ''} added from {account.name}.")
            return redirect("dashboard:numbers")
    elif request.method == "POST":
        phone = request.POST.get("phone_number", "")
        try:
            account = numbers.selling_account(request.org, request.POST.get("provider_account_id") or None)
            number = numbers.purchase(account, phone, actor=request.user)
        except numbers.NumberError as exc:
            ctx["error"], status = exc.message, exc.status
        except ProviderError as exc:
            ctx["error"], status = f"The provider could not sell the number: {exc.message}", 502
        else:
            messages.success(request, f"{number.e164} bought on {account.name}; it can now be a call's caller ID.")
            return redirect("dashboard:numbers")
    elif "search" in request.GET:
        try:
            account = numbers.selling_account(request.org, request.GET.get("provider_account_id") or None)
            number_type = request.GET.get("number_type", "")
            ctx["results"] = numbers.search_available(
                account, area_code=request.GET.get("area_code", "").strip()[:3],
                number_type=number_type if number_type in ("local", "toll_free") else "", limit=SEARCH_LIMIT)
            ctx["searched_account"] = account
        except numbers.NumberError as exc:
            ctx["error"], status = exc.message, 400
        except ProviderError as exc:
            ctx["error"], status = f"The provider could not search numbers: {exc.message}", 502
    rows = list(numbers.org_numbers(request.org).order_by("-created_at", "-id")[:LIST_LIMIT + 1])
    ctx["numbers"], ctx["more"] = rows[:LIST_LIMIT], len(rows) > LIST_LIMIT
    return render(request, "dashboard/settings/numbers.html", ctx, status=status)
