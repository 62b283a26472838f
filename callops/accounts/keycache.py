"""API key authentication without a database query on every request.

Each web process keeps the keys it has verified, keyed by their lookup prefix. A cached key is
trusted only while a generation counter in Redis is unchanged; revoking any key bumps it, so
every process drops its cache on its next request and a revocation still takes effect on the
next request, as the database lookup alone would. The counter is read in the same Redis round
trip as the request's rate-limit count, so a cached request costs no extra round trip at all.

When Redis cannot be reached the cache is not trusted (a revocation could not be seen) and every
request is checked against the database.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from callops.lib import redisconn

from . import services
from .models import ApiKey

log = logging.getLogger(__name__)

GENERATION_KEY = "callops:apikeys:generation"
# Belt and braces: even with an unchanged generation a cached key is re-read this often, so a
# bump that was lost (Redis failed just then) delays a revocation by at most this long.
MAX_AGE_SECONDS = 60.0
MAX_ENTRIES = 10_000
RATE_WINDOW_SECONDS = 60


@dataclass
class _Entry:
    generation: bytes
    key: ApiKey
    cached_at: float


_cache: dict[str, _Entry] = {}
_lock = threading.Lock()


def prefix_of(secret: str) -> str | None:
    """The lookup prefix of a well-formed secret (`ck_<12 hex>_<random>`), else None."""
    if not secret or not secret.startswith(services.KEY_PREFIX):
        return None
    prefix, sep, _ = secret[len(services.KEY_PREFIX):].partition("_")
    return prefix if sep and len(prefix) == 12 else None


def authenticate(secret: str) -> tuple[ApiKey | None, int | None]:
    """The active key for `secret`, and this minute's request count under its prefix (None when
    Redis is unreachable, in which case no limit applies: it protects, it is not billing)."""
    prefix = prefix_of(secret)
    if prefix is None:
        return None, None
    generation, count = _generation_and_count(prefix)
    entry = _cache.get(prefix)
    if (entry is not None and generation is not None and entry.generation == generation
            and time.monotonic() - entry.cached_at < MAX_AGE_SECONDS):
        key = entry.key
        if not hmac.compare_digest(key.digest, services.digest_secret(secret)):
            return None, count
        _touch(key)
        return key, count
    key = services.authenticate_api_key(secret)
    with _lock:
        if key is None:
            _cache.pop(prefix, None)
        elif generation is not None:
            if len(_cache) >= MAX_ENTRIES:
                _cache.clear()
            _cache[prefix] = _Entry(generation, key, time.monotonic())
    return key, count


def _generation_and_count(prefix: str) -> tuple[bytes | None, int | None]:
    window = int(time.time() // RATE_WINDOW_SECONDS)
    name = f"callops:rl:{prefix}:{window}"
    try:
        pipe = redisconn.client().pipeline(transaction=False)
        pipe.get(GENERATION_KEY)
        pipe.incr(name)
        pipe.expire(name, RATE_WINDOW_SECONDS + 1)
        generation, count, _ = pipe.execute()
    except Exception:
        log.warning("Redis unreachable: API keys checked against the database, no rate limit", exc_info=True)
        return None, None
    return generation or b"0", count


def _touch(key: ApiKey) -> None:
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > services.LAST_USED_RESOLUTION:
        key.last_used_at = now
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)


def invalidate() -> None:
    """Make every process re-read its keys: now, and again when the surrounding transaction commits
    (a process that read the key between the two bumps saw it before the change committed)."""
    def bump():
        try:
            redisconn.client().incr(GENERATION_KEY)
        except Exception:
            log.error("could not invalidate cached API keys; they expire within %ss", MAX_AGE_SECONDS,
                      exc_info=True)

    with _lock:
        _cache.clear()
    bump()
    transaction.on_commit(bump)
