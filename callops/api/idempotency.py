"""Idempotency-Key support for POST routes, Stripe-style.

The same key and body within 24 hours returns the first response and never repeats the action;
the same key with another body is a 409. The record is inserted before the work starts, so a
concurrent retry with the same key waits its turn instead of placing a second call.
"""

import hashlib
import json
from datetime import timedelta
from functools import wraps

from django.db import IntegrityError, transaction
from django.http import JsonResponse
from django.utils import timezone

from callops.calls.models import IdempotencyRecord

from .base import ApiError

# Longer than any request can run (the provider request is bounded well under this).
STALLED = timedelta(minutes=2)
MAX_KEY = 255


def _fingerprint(request) -> str:
    if request.content_type == "multipart/form-data":
        return _multipart_fingerprint(request)
    try:
        body = json.dumps(json.loads(request.body or b"{}"), sort_keys=True, separators=(",", ":"))
    except (ValueError, RecursionError):  # the view answers 400 for such a body; hash it as sent
        body = request.body.decode("utf-8", "replace")
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _multipart_fingerprint(request) -> str:
    """A multipart body by its fields and file contents: clients pick a new boundary on every send,
    so the raw bytes of a faithful retry differ."""
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    try:
        for name in sorted(request.POST):
            digest.update(json.dumps([name, request.POST.getlist(name)]).encode())
        for name in sorted(request.FILES):
            for upload in request.FILES.getlist(name):
                digest.update(f"file {name} {upload.name}\n".encode())
                for chunk in upload.chunks():
                    digest.update(chunk)
                upload.seek(0)  # the view reads it next
    except Exception:  # a malformed body: the view answers 400 for it; hash what was sent
        return hashlib.sha256(f"{request.method} {request.path}\nmalformed".encode()).hexdigest()
    return digest.hexdigest()


def idempotent(view):
    """Wrap a POST view that returns a JsonResponse."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return view(request, *args, **kwargs)
        key = key.strip()
        if not key or len(key) > MAX_KEY:
            raise ApiError(400, f"Idempotency-Key must be 1 to {MAX_KEY} characters",
                           fields={"Idempotency-Key": "is empty or too long"})
        fingerprint = _fingerprint(request)
        org = request.org
        record, created = _claim(org, key, fingerprint, request.path)
        if not created:
            return _replay(record, fingerprint, request.path, key)
        try:
            response = view(request, *args, **kwargs)
        except ApiError as exc:
            # Every answer is kept, 502 included: a 502 means a call row exists and the provider
            # was asked, so a retry with the same key must see that answer, never dial again.
            _store(record, exc.status, {"error": exc.message, **({"fields": exc.fields} if exc.fields else {}),
                                        **exc.extra})
            raise
        except Exception:
            # An unexpected error may have happened after the provider was asked: keep the key
            # (as Stripe does) with the 500 answer rather than risk a second call on retry.
            _store(record, 500, {"error": "internal server error; the outcome of this request is unknown, "
                                          "check GET /v1/calls before retrying with a new key"})
            raise
        _store(record, response.status_code, json.loads(response.content))
        return response

    return wrapper


def _claim(org, key, fingerprint, path) -> tuple[IdempotencyRecord, bool]:
    IdempotencyRecord.objects.filter(organization=org, key=key, created_at__lt=timezone.now() - IdempotencyRecord.TTL).delete()
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(organization=org, key=key, request_hash=fingerprint, path=path)
            return record, True
    except IntegrityError:
        return IdempotencyRecord.objects.get(organization=org, key=key), False


def _store(record, status, body) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk).update(response_status=status, response_body=body)


def _replay(record, fingerprint, path, key):
    if record.request_hash != fingerprint or record.path != path:
        raise ApiError(409, f"Idempotency-Key {key!r} was already used with a different request; "
                            "use a new key for a new request")
    if record.response_status is None:
        if timezone.now() - record.created_at > STALLED:
            # The process handling the first request died mid-way; what it did is unknown.
            raise ApiError(409, f"the request with Idempotency-Key {key!r} was interrupted and its outcome is "
                                "unknown; check GET /v1/calls, then use a new key")
        raise ApiError(409, f"a request with Idempotency-Key {key!r} is still being processed; retry shortly")
    response = JsonResponse(record.response_body, status=record.response_status)
    response["Idempotent-Replayed"] = "true"
    return response
