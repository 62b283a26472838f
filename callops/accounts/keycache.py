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


def authenticate(secret: str) -> tuple[ApiKey | None, int | None]:
    """The active key for `secret`, and this minute's request count for it (None when Redis is
    unreachable, in which case no limit applies: it protects, it is not billing).

    Only requests made with the key's real secret are counted: the prefix is visible to every
    member, and counting guesses under it would let anyone spend a key's budget."""
    prefix = services.key_prefix(secret)
    if prefix is None:
        return None, None
    entry = _cache.get(prefix)
    if entry is not None and not hmac.compare_digest(entry.key.digest, services.digest_secret(secret)):
        return None, None  # a key's digest never changes, so a mismatch needs no database to refuse
    generation, count = _read(prefix, count=entry is not None)
    if (entry is not None and generation is not None and entry.generation == generation
            and time.monotonic() - entry.cached_at < MAX_AGE_SECONDS):
        services.touch_last_used(entry.key)
        return entry.key, count
    key = services.authenticate_api_key(secret)
    with _lock:
        if key is None:
            _cache.pop(prefix, None)
        elif generation is not None:
            if len(_cache) >= MAX_ENTRIES:
                _cache.clear()
            _cache[prefix] = _Entry(generation, key, time.monotonic())
    if key is not None and entry is None and generation is not None:
        count = _read(prefix, count=True)[1]  # first sight of this key here: a second round trip
    return key, count


def _read(prefix: str, *, count: bool) -> tuple[bytes | None, int | None]:
    """(the generation, this minute's count after counting this request if `count`), one round trip."""
    window = int(time.time() // RATE_WINDOW_SECONDS)
    name = f"callops:rl:{prefix}:{window}"
    try:
        pipe = redisconn.client().pipeline(transaction=False)
        pipe.get(GENERATION_KEY)
        if count:
            pipe.incr(name)
            pipe.expire(name, RATE_WINDOW_SECONDS + 1)
        values = pipe.execute()
    except Exception:
        log.warning("Redis unreachable: API keys checked against the database, no rate limit", exc_info=True)
        return None, None
    return values[0] or b"0", (values[1] if count else None)


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


def forget_deleted(sender, instance, **kwargs) -> None:
    invalidate()
