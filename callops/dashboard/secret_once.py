"""A secret made by a POST is shown by the page that POST redirects to, once.

Post/redirect/get: the POST that creates a key or an endpoint (or rotates a secret) redirects to the
object's own page, so a reload repeats only that GET, which creates nothing. The secret travels in
the session under the object's id, encrypted because the session store is a database table, and the
first GET that reads it removes it: a second visit shows no secret.
"""

from __future__ import annotations

from django.http import HttpRequest

from callops.lib import crypto

SESSION_KEY = "secret_once"


def stash(request: HttpRequest, ref: str, secret: str) -> None:
    pending = dict(request.session.get(SESSION_KEY) or {})
    pending[ref] = crypto.encrypt_text(secret)
    request.session[SESSION_KEY] = pending


def take(request: HttpRequest, ref: str) -> str:
    """The secret stashed for `ref`, or "" if there is none (already shown, or never made here)."""
    pending = dict(request.session.get(SESSION_KEY) or {})
    token = pending.pop(ref, None)
    if token is None:
        return ""
    request.session[SESSION_KEY] = pending
    try:
        return crypto.decrypt_text(token)
    except ValueError:  # the encryption key changed in between: the secret is gone, as after a display
        return ""
