"""A batch's settings: schedule, calling window, pacing, retries, circuit breaker and mode.

`clean_settings` validates them from a flat dict (the API's JSON, flattened, or the dashboard's
form) before anything is written, listing every problem at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from callops.calls.validation import ValidationFailed, parse_when
from callops.providers.registry import adapter_class
from callops.rules import policy as calling_policy

from . import provider_mode
from .models import Batch

# The outcomes a recipient may be called again after.
RETRYABLE = ("no_answer", "busy", "failed")


@dataclass
class BatchSettings:
    name: str = ""
    start_at: datetime | None = None
    default_region: str = ""
    default_timezone: str = "UTC"
    window_start_hour: int | None = None
    window_end_hour: int | None = None
    window_days: list | None = None
    max_concurrency: int = 10
    calls_per_minute: int = 60
    max_attempts: int = 1
    retry_intervals: list | None = None
    retry_on: list | None = None
    breaker_threshold: float | None = None
    breaker_min_calls: int = 20
    breaker_window_seconds: int = 300
    mode: str = Batch.Mode.FANOUT

    def as_fields(self) -> dict:
        return {
            "name": self.name, "start_at": self.start_at, "default_region": self.default_region,
            "default_timezone": self.default_timezone, "window_start_hour": self.window_start_hour,
            "window_end_hour": self.window_end_hour, "window_days": self.window_days or [],
            "max_concurrency": self.max_concurrency, "calls_per_minute": self.calls_per_minute,
            "max_attempts": self.max_attempts, "retry_intervals": self.retry_intervals or [],
            "retry_on": self.retry_on if self.retry_on is not None else list(RETRYABLE),
            "breaker_threshold": self.breaker_threshold, "breaker_min_calls": self.breaker_min_calls,
            "breaker_window_seconds": self.breaker_window_seconds, "mode": self.mode,
        }


def _int(data, key, errors, *, lo, hi, default):
    value = data.get(key, default)
    if value is None or value == "":
        return default
    try:
        if isinstance(value, bool) or float(value) != int(float(value)):
            raise ValueError
        value = int(float(value))
    except (TypeError, ValueError):
        errors[key] = "must be a whole number"
        return default
    if not lo <= value <= hi:
        errors[key] = f"must be between {lo} and {hi}"
    return value


def clean_settings(data: dict, *, agent=None, org=None, now: datetime | None = None) -> BatchSettings:
    """Validate batch settings from a flat dict (API JSON or form); ValidationFailed lists every problem.

    With `org`, a calling window must lie within the organization's calling hours.

    Nested API objects (`window`, `retry`, `circuit_breaker`) are flattened by the caller.
    """
    errors: dict[str, str] = {}
    s = BatchSettings()
    s.name = str(data.get("name") or "").strip()[:200]
    if data.get("start_at"):
        try:
            s.start_at = parse_when(data["start_at"], now=now)
        except ValueError as exc:
            errors["start_at"] = str(exc).replace("scheduled_at", "start_at")
    region = str(data.get("default_country") or data.get("default_region") or "").strip().upper()
    if region:
        if region not in phonenumbers.SUPPORTED_REGIONS:
            errors["default_country"] = f"{region!r} is not a two-letter country code such as US or GB"
        s.default_region = region
    tzname = str(data.get("timezone") or data.get("default_timezone") or "UTC").strip()
    try:
        ZoneInfo(tzname)
        s.default_timezone = tzname
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = f"{tzname!r} is not an IANA time zone such as Europe/London"
    s.window_start_hour = _int(data, "window_start_hour", errors, lo=0, hi=23, default=None)
    s.window_end_hour = _int(data, "window_end_hour", errors, lo=1, hi=24, default=None)
    bad_hours = [f"the {which} hour {errors[key]}" for key, which in (("window_start_hour", "start"),
                                                                       ("window_end_hour", "end")) if key in errors]
    if bad_hours:
        # Said first and alone: "give both hours" would be wrong about a window whose hour is given
        # but out of range ("From hour 25").
        errors["window"] = "; ".join(bad_hours) + " (a day's hours run from 0 to 24)"
    elif (s.window_start_hour is None) != (s.window_end_hour is None):
        errors["window"] = "give both the start and the end hour of the calling window, or neither"
    elif s.window_start_hour is not None and s.window_start_hour >= (s.window_end_hour or 0):
        errors["window"] = "the calling window must end after it starts (hours 0-24, same day)"
    elif org is not None and (outside := calling_policy.batch_window_problem(org, s.window_start_hour,
                                                                             s.window_end_hour)):
        errors["window"] = outside
    days = data.get("window_days") or []
    if isinstance(days, str):
        days = [d for d in days.replace(" ", "").split(",") if d]
    try:
        s.window_days = sorted({int(d) for d in days})
        if any(not 1 <= d <= 7 for d in s.window_days):
            raise ValueError
    except (TypeError, ValueError):
        errors["window_days"] = "must be ISO weekdays, 1 (Monday) to 7 (Sunday)"
    s.max_concurrency = _int(data, "max_concurrency", errors, lo=1, hi=1000, default=10)
    s.calls_per_minute = _int(data, "calls_per_minute", errors, lo=1, hi=100_000, default=60)
    s.max_attempts = _int(data, "max_attempts", errors, lo=1, hi=10, default=1)
    intervals = data.get("retry_intervals")
    if isinstance(intervals, str):
        intervals = [v for v in intervals.replace(" ", "").split(",") if v]
    try:
        s.retry_intervals = [int(v) for v in (intervals or [])] or [300]
        if any(not 0 <= v <= 7 * 86400 for v in s.retry_intervals):
            raise ValueError
    except (TypeError, ValueError):
        errors["retry_intervals"] = "must be seconds between attempts, 0 to 604800 each"
    retry_on = data.get("retry_on")
    if isinstance(retry_on, str):
        retry_on = [v for v in retry_on.replace(" ", "").split(",") if v]
    if retry_on is not None:
        if not isinstance(retry_on, list) or any(v not in RETRYABLE for v in retry_on):
            errors["retry_on"] = "must list outcomes among no_answer, busy, failed"
        else:
            s.retry_on = sorted(set(retry_on))
    threshold = data.get("breaker_threshold")
    if threshold not in (None, ""):
        try:
            s.breaker_threshold = float(threshold)
            if not 0 < s.breaker_threshold <= 1:
                raise ValueError
        except (TypeError, ValueError):
            errors["breaker_threshold"] = "must be a failure rate above 0 and at most 1 (0.5 = 50%)"
    s.breaker_min_calls = _int(data, "breaker_min_calls", errors, lo=1, hi=100_000, default=20)
    s.breaker_window_seconds = _int(data, "breaker_window_seconds", errors, lo=10, hi=86400, default=300)
    mode = str(data.get("mode") or Batch.Mode.FANOUT)
    if mode not in Batch.Mode.values:
        errors["mode"] = "must be fanout or provider"
    elif mode == Batch.Mode.PROVIDER and agent is not None:
        if not supports_provider_batches(agent):
            errors["mode"] = f"{agent.provider} has no batch API; use mode fanout"
        else:
            for key, message in provider_mode.unsupported_settings(data, agent.provider).items():
                errors.setdefault(key, message)
    s.mode = mode
    if errors:
        raise ValidationFailed(errors, "invalid batch settings: " + "; ".join(f"{k} {v}" for k, v in errors.items()))
    return s


def supports_provider_batches(agent) -> bool:
    """Whether the agent's provider has a batch API callops can hand a whole list to."""
    try:
        return bool(getattr(adapter_class(agent.provider_account.kind), "supports_batches", False))
    except (KeyError, LookupError, ValueError):
        return False
