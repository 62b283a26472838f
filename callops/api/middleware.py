"""Makes every response under /v1/ JSON, whatever produced it (URL resolver, Django, a crash)."""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig

from .base import error_response

log = logging.getLogger(__name__)

# The longest request target (path and query) served. gunicorn refuses a request line over its
# `limit_request_line` with an HTML 414 before Django runs, so the Procfile raises that to its
# maximum (8190) and this smaller cap answers the JSON 414 instead: every over-long URL a client
# is likely to send gets the API's error shape. gunicorn keeps its own bound (rather than 0,
# unlimited) because an unbounded request line is memory any client can make a worker hold.
MAX_REQUEST_TARGET = 4094

# Routes that take a body other than JSON (a CSV upload as multipart/form-data).
MULTIPART_PATHS = frozenset({"/v1/batches"})


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _has_body(request) -> bool:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > 0
    except ValueError:
        return False

_MESSAGES = {
    400: "bad request",
    403: "forbidden",
    404: "no such route: {path}",
    405: "method {method} is not allowed on {path}",
    413: "request body is too large",
    500: "internal server error; the request may be retried",
}


def api_json_errors(get_response):
    def middleware(request):
        if not request.path.startswith("/v1/"):
            return get_response(request)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_response(400, "Content-Length is not a number")
        # Batch uploads (CSV or a JSON list of 100,000 recipients) get their own, larger limit.
        limit = settings.API_MAX_UPLOAD_BYTES if request.path == "/v1/batches" else settings.API_MAX_BODY_BYTES
        if length > limit:
            return error_response(413, f"request body is {length} bytes; the limit is {limit}")
        query = request.META.get("QUERY_STRING", "")
        target = len(request.path_info) + (len(query) + 1 if query else 0)
        if target > MAX_REQUEST_TARGET:
            return error_response(414, f"the URL is {target} characters long; the limit is {MAX_REQUEST_TARGET}")
        if _has_body(request) and not _is_json(request.content_type or ""):
            multipart = request.path in MULTIPART_PATHS and (request.content_type or "") == "multipart/form-data"
            if not multipart:
                sent = request.META.get("CONTENT_TYPE") or "none"
                accepted = "application/json" + (" or multipart/form-data" if request.path in MULTIPART_PATHS else "")
                return error_response(415, f"Content-Type {sent} is not supported; send {accepted}")
        if "\x00" in request.META.get("QUERY_STRING", "") or "%00" in request.META.get("QUERY_STRING", ""):
            # PostgreSQL cannot compare against text holding U+0000; no real query needs it.
            return error_response(400, "query parameters must not contain NUL characters")
        try:
            response = get_response(request)
        except RequestDataTooBig:
            return error_response(413, "request body is too large")
        content_type = response.get("Content-Type", "")
        if response.status_code >= 400 and not content_type.startswith("application/json"):
            template = _MESSAGES.get(response.status_code, "request failed")
            converted = error_response(response.status_code,
                                       template.format(method=request.method, path=request.path))
            if response.has_header("Allow"):
                converted["Allow"] = response["Allow"]
            return converted
        return response

    return middleware
