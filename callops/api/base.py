"""The API object, authentication, rate limiting and the one error shape.

Every error on /v1/ is `{"error": "<human-readable>"}`; validation errors add `fields`.
Views return JsonResponse themselves (django-ninja's response validation is skipped for
HttpResponse objects), and declare their responses for the OpenAPI document.
"""

from __future__ import annotations

import json
import logging
import time

from django.conf import settings
from django.http import JsonResponse
from django.utils import timezone
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer

from callops.accounts.services import authenticate_api_key
from callops.lib import isotime, redisconn
from callops.lib.nul_chars import has_nul

log = logging.getLogger(__name__)
RATE_WINDOW_SECONDS = 60


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, fields: dict | None = None, headers: dict | None = None,
                 extra: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields
        self.headers = headers or {}
        self.extra = extra or {}


def error_response(status: int, message: str, *, fields=None, headers=None, extra=None) -> JsonResponse:
    body = {"error": message}
    if fields:
        body["fields"] = fields
    if extra:
        body.update(extra)
    response = JsonResponse(body, status=status)
    for k, v in (headers or {}).items():
        response[k] = v
    return response


def _count_request(key) -> int | None:
    """This minute's request count for `key`, this request included; None when Redis cannot be
    reached, in which case no limit applies (it protects, it is not billing).

    Only requests made with the key's real secret get here: the prefix is visible to every
    member, and counting guesses under it would let anyone spend a key's budget."""
    window = int(time.time() // RATE_WINDOW_SECONDS)
    name = f"callops:rl:{key.prefix}:{window}"
    try:
        pipe = redisconn.client().pipeline(transaction=False)
        pipe.incr(name)
        pipe.expire(name, RATE_WINDOW_SECONDS + 1)
        return pipe.execute()[0]
    except Exception:
        log.warning("Redis unreachable: API requests are not rate limited", exc_info=True)
        return None


def _check_rate(count: int | None) -> None:
    """Fixed one-minute window per API key, counted in Redis and shared by every web process."""
    limit = settings.API_RATE_LIMIT_PER_MINUTE
    if count is None or count <= limit:
        return  # None: Redis down; serve rather than refuse every request
    now = time.time()
    retry_after = max(1, int((int(now // 60) + 1) * 60 - now) + 1)
    raise ApiError(429, f"rate limit of {limit} requests per minute exceeded for this API key; "
                        f"retry after {retry_after} seconds", headers={"Retry-After": str(retry_after)})


class ApiKeyAuth(HttpBearer):
    """`Authorization: Bearer <key>`; sets request.api_key and request.org."""

    def __call__(self, request):
        header = request.headers.get("Authorization", "")
        if not header:
            raise ApiError(401, "missing API key: send it as 'Authorization: Bearer <key>'")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "malformed Authorization header: expected 'Bearer <key>'")
        return self.authenticate(request, token.strip())

    def authenticate(self, request, token):
        key = authenticate_api_key(token)
        if key is None:
            raise ApiError(401, "invalid or revoked API key")
        _check_rate(_count_request(key))
        request.api_key = key
        request.org = key.organization
        return key


def require_write(request) -> None:
    if not request.api_key.can_write:
        raise ApiError(403, "this API key is read-only; use a read-write key for this request")


def query_datetime(name: str, value):
    """An ISO 8601 query parameter as an aware datetime (naive means UTC), or a 400 naming it."""
    if value in (None, ""):
        return None
    when = isotime.parse(str(value))
    if when is None:
        raise ApiError(400, f"{name} must be an ISO 8601 date-time", fields={name: "is not an ISO 8601 date-time"})
    return when if timezone.is_aware(when) else timezone.make_aware(when, timezone.UTC)


def json_body(request, *, limit: int | None = None) -> dict:
    """The request body as a JSON object, or a 400/413 ApiError."""
    limit = limit or settings.API_MAX_BODY_BYTES
    raw = request.body  # the size was checked by ApiErrorMiddleware before the view ran
    if len(raw) > limit:
        raise ApiError(413, f"request body is larger than {limit} bytes")
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError(400, "request body is not valid JSON")
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object")
    # PostgreSQL cannot store U+0000 in text or JSON; refuse it here rather than fail on write.
    try:
        nul = has_nul(data)
    except RecursionError:
        raise ApiError(400, "request body is nested too deeply")
    if nul:
        raise ApiError(400, "request body contains a NUL character (\\u0000), which is not allowed")
    return data


api = NinjaAPI(
    title="callops API",
    version="2026-11",
    description="One API for outbound AI voice calls across providers. Errors are `{\"error\": \"...\"}`.",
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url=None,
    auth=ApiKeyAuth(),
)


@api.exception_handler(ApiError)
def _api_error(request, exc: ApiError):
    return error_response(exc.status, exc.message, fields=exc.fields, headers=exc.headers, extra=exc.extra)


@api.exception_handler(NinjaValidationError)
def _validation_error(request, exc: NinjaValidationError):
    fields = {}
    for err in exc.errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body")]
        fields[".".join(loc) or "request"] = err.get("msg", "is invalid")
    return error_response(400, "invalid request: " + "; ".join(f"{k}: {v}" for k, v in fields.items()),
                          fields=fields)


@api.exception_handler(AuthenticationError)
def _auth_error(request, exc):
    return error_response(401, "invalid or missing API key")


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    return error_response(exc.status_code, str(exc))


@api.exception_handler(Exception)
def _unexpected(request, exc):
    import logging

    logging.getLogger("callops.api").exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal server error; the request may be retried")
