"""Makes every response under /v1/ JSON, whatever produced it (URL resolver, Django, a crash)."""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig

from .base import error_response

log = logging.getLogger(__name__)

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
