"""/healthz: is the database reachable, is Redis reachable. JSON, no auth, no secrets."""

import time

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from callops.lib import redisconn


def _check(fn) -> dict:
    started = time.perf_counter()
    try:
        fn()
    except Exception as exc:  # any failure means "not reachable"; the class name says which
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


def _db():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _redis():
    redisconn.client().ping()


@never_cache
@require_GET
def healthz(request):
    checks = {"database": _check(_db), "redis": _check(_redis)}
    ok = all(c["ok"] for c in checks.values())
    return JsonResponse({"status": "ok" if ok else "degraded", **checks}, status=200 if ok else 503)
