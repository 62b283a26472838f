"""Provider circuits: each provider account's recent placement and poll outcomes, and a breaker.

Every create and read an adapter sends (`ProviderAdapter._send`) is recorded here: ok, error (5xx,
refused connection, timeout) or 429, with its latency. The last `PROVIDER_CIRCUIT_WINDOW` outcomes
are kept per account in Redis (a capped list: bounded whatever the traffic, shared by every
worker). When at least `PROVIDER_CIRCUIT_MIN_SAMPLES` of them are there and the share of errors
and 429s reaches `PROVIDER_CIRCUIT_ERROR_RATE`, the circuit opens: routing skips the account for
`PROVIDER_CIRCUIT_COOLDOWN_SECONDS`. Then it half-opens: exactly one placement (the probe) is let
through; the next outcome recorded closes the circuit (and forgets the bad window) or opens it for
another cool-down.

A permanent 4xx (bad number, bad request) says nothing about the provider's health: it counts as
ok. Time is `time.time()` unless a caller passes `now`, so tests move it with their clock. When
Redis cannot be reached the circuit is closed: it protects, it must not stop calls by itself.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.conf import settings

from callops.lib import redisconn

log = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
OK, ERROR, THROTTLED = "ok", "error", "429"
# ProviderError codes that are the provider's (or the network's) failure, not the request's.
ERROR_CODES = frozenset({"provider_unavailable", "connect_error", "timeout", "network_error", "bad_response"})


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def window() -> int:
    return int(_setting("PROVIDER_CIRCUIT_WINDOW", 50))


def min_samples() -> int:
    return int(_setting("PROVIDER_CIRCUIT_MIN_SAMPLES", 20))


def error_rate_threshold() -> float:
    return _setting("PROVIDER_CIRCUIT_ERROR_RATE", 0.5)


def cooldown_seconds() -> float:
    return _setting("PROVIDER_CIRCUIT_COOLDOWN_SECONDS", 60.0)


def _keys(account_id: int) -> tuple[str, str, str]:
    base = f"callops:circuit:{account_id}"
    return f"{base}:outcomes", f"{base}:state", f"{base}:probe"


def outcome_of(exc: Exception | None) -> str:
    """The circuit's word for one request's result (None = it succeeded)."""
    if exc is None:
        return OK
    code = getattr(exc, "code", "")
    if code == "rate_limited" and getattr(exc, "http_status", None) == 429:
        return THROTTLED
    if code in ERROR_CODES:
        return ERROR
    return OK


@dataclass
class Health:
    """What the provider page shows for one account."""

    state: str
    samples: int
    error_rate: float          # errors and 429s, 0..1
    errors: int
    throttled: int
    avg_latency_ms: int | None
    p90_latency_ms: int | None
    open_until: float | None   # epoch seconds, while open
    reason: str

    @property
    def error_percent(self) -> int:
        return round(self.error_rate * 100)


def record(account_id: int, outcome: str, latency_seconds: float, *, now: float | None = None) -> None:
    """Add one request's outcome and open or close the circuit as it says."""
    now = time.time() if now is None else now
    outcomes_key, state_key, probe_key = _keys(account_id)
    try:
        r = redisconn.client()
        pipe = r.pipeline(transaction=False)
        pipe.lpush(outcomes_key, f"{outcome}:{int(latency_seconds * 1000)}")
        pipe.ltrim(outcomes_key, 0, window() - 1)
        pipe.hgetall(state_key)
        pipe.lrange(outcomes_key, 0, -1)
        _, _, state, items = pipe.execute()
        current = _state_of(state, now)
        if current == HALF_OPEN:
            if outcome == OK:
                r.delete(outcomes_key, state_key, probe_key)
            else:
                _open(r, account_id, now, f"the probe after the cool-down failed ({outcome})")
            return
        if current == OPEN:
            return
        errors, throttled = _counts(items)
        if len(items) >= min_samples() and (errors + throttled) / len(items) >= error_rate_threshold():
            _open(r, account_id, now, f"{errors} errors and {throttled} 429s in the last {len(items)} requests")
    except Exception:
        log.warning("Redis unreachable: provider circuit outcome not recorded", exc_info=True)


def _open(r, account_id: int, now: float, reason: str) -> None:
    _, state_key, probe_key = _keys(account_id)
    pipe = r.pipeline(transaction=False)
    pipe.hset(state_key, mapping={"state": OPEN, "opened_at": repr(now), "reason": reason})
    pipe.delete(probe_key)
    pipe.execute()
    log.warning("provider account %s: circuit opened: %s", account_id, reason)


def _decode(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _state_of(state: dict, now: float) -> str:
    state = {_decode(k): _decode(v) for k, v in (state or {}).items()}
    if state.get("state") != OPEN:
        return CLOSED
    if now < float(state.get("opened_at", 0)) + cooldown_seconds():
        return OPEN
    return HALF_OPEN


def _counts(items) -> tuple[int, int]:
    kinds = [_decode(i).split(":", 1)[0] for i in items]
    return kinds.count(ERROR), kinds.count(THROTTLED)


def allow(account_id: int, *, now: float | None = None) -> bool:
    """Whether a placement may go to this account now: closed yes, open no, half-open only for
    the one caller that wins the probe."""
    now = time.time() if now is None else now
    _, state_key, probe_key = _keys(account_id)
    try:
        r = redisconn.client()
        current = _state_of(r.hgetall(state_key), now)
        if current == CLOSED:
            return True
        if current == OPEN:
            return False
        # The probe's right expires after a cool-down, so a probe lost with its worker is retried.
        return bool(r.set(probe_key, repr(now), nx=True, ex=max(1, int(cooldown_seconds()))))
    except Exception:
        log.warning("Redis unreachable: provider circuit treated as closed", exc_info=True)
        return True


def health(account_id: int, *, now: float | None = None) -> Health:
    now = time.time() if now is None else now
    outcomes_key, state_key, _ = _keys(account_id)
    try:
        r = redisconn.client()
        items = r.lrange(outcomes_key, 0, -1)
        raw_state = r.hgetall(state_key)
    except Exception:
        log.warning("Redis unreachable: provider health unknown", exc_info=True)
        items, raw_state = [], {}
    state = {_decode(k): _decode(v) for k, v in (raw_state or {}).items()}
    current = _state_of(raw_state, now)
    errors, throttled = _counts(items)
    latencies = sorted(int(_decode(i).split(":", 1)[1]) for i in items)
    n = len(items)
    return Health(
        state=current, samples=n, error_rate=(errors + throttled) / n if n else 0.0, errors=errors,
        throttled=throttled, avg_latency_ms=round(sum(latencies) / n) if n else None,
        p90_latency_ms=latencies[min(n - 1, int(0.9 * n))] if n else None,
        open_until=float(state["opened_at"]) + cooldown_seconds() if current == OPEN else None,
        reason=state.get("reason", "") if current != CLOSED else "",
    )


def reset(account_id: int) -> None:
    """Close the circuit and forget its window (an operator who fixed the account)."""
    try:
        redisconn.client().delete(*_keys(account_id))
    except Exception:
        log.warning("Redis unreachable: provider circuit not reset", exc_info=True)
