"""Dashboard pages (htmx)."""

from django.shortcuts import render

from callops.accounts.decorators import org_required


@org_required()
def overview(request):
    return render(request, "dashboard/overview.html", {})
