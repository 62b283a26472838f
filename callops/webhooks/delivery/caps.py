"""Per-destination in-flight caps (slots held in Redis) and cool-downs for stalled hosts.

A destination is an endpoint (`e<id>`, capped by its `max_in_flight`) or, for per-call and agent
webhook URLs, a host (`h<host:port>`, capped by WEBHOOK_MAX_IN_FLIGHT_PER_HOST). A worker that
claims deliveries holds one slot per destination it will send to, for the length of its lease;
it sends that destination's rows one after another and frees the slot when done. The check and
the take happen in one Lua script, so two workers claiming at the same moment cannot both see a
free slot. A killed worker's slot expires with its lease, like its database claim.

A host that timed out is put on a cool-down (WEBHOOK_STALLED_HOST_COOLDOWN_SECONDS, 60 s by
default) shared by every worker: its due deliveries wait instead of each holding a worker for the
full deadline. Manual re-sends of a single delivery ignore the cool-down (a person asked now).

Redis is an accelerator here, never the source of truth: when it cannot be reached, `acquire`
returns None and the caller falls back to counting live database leases, and cool-downs are kept
in this process only.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings

from callops.lib import redisconn

log = logging.getLogger(__name__)

PREFIX = "callops:wh:"

# KEYS: n slot keys, then n cool-down keys. ARGV: token, now (ms), lease end (ms), ttl (ms), then
# per destination its cap and whether a cool-down applies (1/0).
# Returns per destination one of the states below.
_ACQUIRE = """
local n = #KEYS / 2
local token, now, until_ms, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {}
for i = 1, n do
  local slot, cool = KEYS[i], KEYS[n + i]
  local cap, check_cool = tonumber(ARGV[3 + 2 * i]), ARGV[4 + 2 * i]
  local cooling = redis.call('EXISTS', cool) == 1
  if cooling and check_cool == '1' then
    out[i] = 2
  else
    redis.call('ZREMRANGEBYSCORE', slot, '-inf', now)
    if redis.call('ZSCORE', slot, token) or redis.call('ZCARD', slot) < cap then
      redis.call('ZADD', slot, until_ms, token)
      redis.call('PEXPIRE', slot, ttl)
      if cooling then out[i] = 3 else out[i] = 1 end
    else
      out[i] = 0
    end
  end
end
return out
"""
# Destination states from acquire (and the database fallback).
FULL, TAKEN, COOLING, TAKEN_COOLING = 0, 1, 2, 3  # TAKEN_COOLING: only single manual re-sends may go

_local_cool: dict[str, float] = {}  # host -> monotonic end, used only while Redis is unreachable


def per_host_cap() -> int:
    return settings.WEBHOOK_MAX_IN_FLIGHT_PER_HOST


def cooldown_seconds() -> float:
    return settings.WEBHOOK_STALLED_HOST_COOLDOWN_SECONDS


def _slot_key(dest: str) -> str:
    return f"{PREFIX}slots:{dest}"


def _cool_key(host: str) -> str:
    return f"{PREFIX}cool:{host}"


def acquire(token: str, wanted: dict[str, tuple[int, str, bool]], lease_seconds: float) -> dict[str, int] | None:
    """Try to take a slot for each destination: {dest: (cap, host, respect_cooldown)}.

    Returns {dest: TAKEN | FULL | COOLING | TAKEN_COOLING}, or None when Redis is unreachable. A
    destination whose cool-down is waived (a single manual re-send is among its rows) but which is
    cooling comes back TAKEN_COOLING: the re-send goes, its automatic rows still wait.
    """
    if not wanted:
        return {}
    dests = list(wanted)
    now_ms = int(time.time() * 1000)
    lease_ms = int(lease_seconds * 1000)
    args = [token, now_ms, now_ms + lease_ms, lease_ms * 2]
    for dest in dests:
        cap, _host, cool = wanted[dest]
        args += [max(1, int(cap or 1)), "1" if cool else "0"]
    keys = [_slot_key(d) for d in dests] + [_cool_key(wanted[d][1]) for d in dests]
    try:
        result = redisconn.script(_ACQUIRE)(keys=keys, args=args)
    except Exception:
        log.warning("webhook slots: Redis unreachable, falling back to database lease counts", exc_info=True)
        return None
    return {dest: int(r) for dest, r in zip(dests, result, strict=True)}


def release(token: str, dests) -> None:
    dests = list(dests)
    if not dests:
        return
    try:
        pipe = redisconn.client().pipeline(transaction=False)
        for dest in dests:
            pipe.zrem(_slot_key(dest), token)
        pipe.execute()
    except Exception:  # the slot expires with the lease
        log.warning("webhook slots: could not release %d slot(s)", len(dests), exc_info=True)


def cool_down(host: str) -> None:
    """Make every worker skip `host` for the cool-down period (it just timed out)."""
    seconds = cooldown_seconds()
    if seconds <= 0 or not host:
        return
    _local_cool[host] = time.monotonic() + seconds
    try:
        redisconn.client().set(_cool_key(host), 1, px=int(seconds * 1000))
    except Exception:
        log.warning("webhook slots: could not store the cool-down of %s", host, exc_info=True)


def cooling_locally(host: str) -> bool:
    """The in-process view of cool-downs (what we use while Redis is unreachable)."""
    end = _local_cool.get(host)
    if end is None:
        return False
    if end <= time.monotonic():
        _local_cool.pop(host, None)
        return False
    return True


def reset_local() -> None:
    _local_cool.clear()
