"""A per-provider-account request budget shared by every worker, kept in Redis.

Every request an adapter sends (placement, status read, cancel, batch upload and reads, the
connection test) first takes a token here, so all workers together stay under the provider's
documented limit. The budget is a sliding 60-second log (a sorted set of request times): unlike a
fixed per-minute counter it never lets through twice the limit across a minute boundary, which
is exactly what a provider's own limiter would answer with 429s.

A provider 429 pauses the whole account for its Retry-After, for every worker at once: while the
pause key lives, `acquire_many` grants nothing and says how long to wait.

Redis down: requests go ahead (fail open); the provider's own 429 still slows us down.
"""

from __future__ import annotations

import time

from callops.lib import redisconn

WINDOW_SECONDS = 60

# KEYS: request log, pause flag, sequence. ARGV: now (s), window (s), limit, n.
# Returns {granted, seconds until the next token (string: Lua would truncate a float)}.
_ACQUIRE = """
local pause = redis.call('PTTL', KEYS[2])
if pause > 0 then return {0, tostring(pause / 1000)} end
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local limit, n = tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
local granted = math.max(0, math.min(n, limit - used))
if granted > 0 then
  local last = redis.call('INCRBY', KEYS[3], granted)
  for i = last - granted + 1, last do redis.call('ZADD', KEYS[1], now, i) end
  local ttl = math.ceil(window * 1000) + 1000
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[3], ttl)
end
local wait = 0
if granted < n then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if oldest[2] then wait = math.max(0.001, tonumber(oldest[2]) + window - now) else wait = window end
end
return {granted, tostring(wait)}
"""

# KEYS: pause flag. ARGV: milliseconds. Only ever lengthens a pause.
_PAUSE = """
local ms = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) < ms then redis.call('SET', KEYS[1], '1', 'PX', ms) end
return 1
"""


def _keys(account_id: int, bucket: str) -> list[str]:
    base = f"callops:provider-rl:{account_id}"
    return [f"{base}:{bucket}", f"{base}:pause", f"{base}:{bucket}:seq"]


def acquire(account_id: int, limit_per_minute: int, *, bucket: str = "default", now: float | None = None) -> float:
    """Take one request from the account's budget. Returns 0 when allowed, else seconds to wait."""
    allowed, wait = acquire_many(account_id, limit_per_minute, 1, bucket=bucket, now=now)
    return 0.0 if allowed else wait


def acquire_many(account_id: int, limit_per_minute: int, n: int, *, bucket: str = "default",
                 now: float | None = None) -> tuple[int, float]:
    """Take up to `n` requests in one round trip: (how many were granted, seconds until more)."""
    if n <= 0:
        return 0, 0.0
    now = time.time() if now is None else now
    try:
        granted, wait = redisconn.script(_ACQUIRE)(
            keys=_keys(account_id, bucket), args=[repr(now), WINDOW_SECONDS, max(int(limit_per_minute), 1), n])
    except Exception:
        return n, 0.0
    return int(granted), float(wait)


def pause(account_id: int, seconds: float) -> None:
    """Stop every worker from sending to this account for `seconds` (a provider 429)."""
    if seconds <= 0:
        return
    try:
        redisconn.script(_PAUSE)(keys=[_keys(account_id, "default")[1]], args=[max(1, int(seconds * 1000))])
    except Exception:
        pass


def paused_for(account_id: int) -> float:
    """Seconds left on the account's pause (0 when it is not paused or Redis is down)."""
    try:
        ms = redisconn.client().pttl(_keys(account_id, "default")[1])
    except Exception:
        return 0.0
    return max(0.0, ms / 1000) if ms and ms > 0 else 0.0
