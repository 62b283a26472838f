"""A per-provider-account request budget shared by every worker (a Redis fixed window).

Polls take a token before calling the provider; when the account's budget for the current
window is spent the poll is pushed to the start of the next window instead of being sent.
"""

from __future__ import annotations

import time

import django_rq

WINDOW_SECONDS = 60
_conn = None


def _redis():
    # One client per process: building a Redis client (and its TCP connection) per poll would
    # cost more than the poll itself.
    global _conn
    if _conn is None:
        _conn = django_rq.get_connection("default")
    return _conn


def acquire(account_id: int, limit_per_minute: int, *, now: float | None = None) -> float:
    """Take one request from the account's budget. Returns 0 when allowed, else seconds to wait."""
    allowed, wait = acquire_many(account_id, limit_per_minute, 1, now=now)
    return 0.0 if allowed else wait


def acquire_many(account_id: int, limit_per_minute: int, n: int, *, now: float | None = None) -> tuple[int, float]:
    """Take up to `n` requests in one round trip: (how many were granted, seconds until more)."""
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    key = f"callops:provider-rl:{account_id}:{window}"
    try:
        pipe = _redis().pipeline()
        pipe.incrby(key, n)
        pipe.expire(key, WINDOW_SECONDS * 2)
        count = pipe.execute()[0]
    except Exception:
        # Redis down: polls go ahead; the provider's own 429 still slows us down.
        return n, 0.0
    limit = max(int(limit_per_minute), 1)
    granted = max(0, min(n, limit - (count - n)))
    return granted, (0.0 if granted == n else (window + 1) * WINDOW_SECONDS - now)
