"""The console's error pages (400, 403, 404, 500), each inside the app's layout with a way back.

Django calls these for errors outside /v1/ (the API turns every error into its own JSON shape,
api.middleware) and, with DEBUG=0, instead of any debug page. A signed-in member of an organization
sees the page inside the console, with its top bar and navigation; anyone else sees it in the
sign-in layout. The 500 page tries the console layout too, but falls back to the plain one drawn
without context processors: whatever failed (the database, Redis) may fail again while the
console's layout is drawn, and the error page itself must not fail.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token

from callops.accounts.active_org import resolve_membership
from callops.accounts.decorators import RoleRequired
from callops.accounts.models import Role

log = logging.getLogger(__name__)

CONSOLE = "errors/console.html"
PLAIN = "errors/plain.html"


def _layout(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return PLAIN
    return CONSOLE if resolve_membership(request) is not None else PLAIN


def _page(request, template: str, status: int, **context) -> HttpResponse:
    return render(request, template, {"layout": _layout(request), **context}, status=status)


@requires_csrf_token
def bad_request(request, exception=None):
    return _page(request, "400.html", 400)


@requires_csrf_token
def permission_denied(request, exception=None):
    needed = Role(exception.role).label if isinstance(exception, RoleRequired) else ""
    membership = resolve_membership(request) if getattr(request, "user", None) and request.user.is_authenticated \
        else None
    return _page(request, "403.html", 403, needed_role=needed,
                 own_role=membership.get_role_display() if membership else "")


@requires_csrf_token
def page_not_found(request, exception=None):
    return _page(request, "404.html", 404)


@requires_csrf_token
def server_error(request):
    try:
        return _page(request, "500.html", 500)
    except Exception:  # the console layout failed too (see the module docstring): the plain page needs nothing
        log.exception("the console's 500 page failed; serving the plain one")
        return HttpResponse(loader.get_template("500.html").render({"layout": PLAIN}), status=500)
