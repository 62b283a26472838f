"""When and where a conversation happened: the anchor for "tomorrow" and "next Tuesday", and the
country in which a number said without its country code is read.

The sandbox's scripted callee and the rules extractor both use this, so a relative date the
callee said resolves to the same day for both.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from django.utils import timezone


def call_zone(call) -> tzinfo:
    """The callee's zone when the call's context names one (`"timezone": "America/New_York"`), else UTC."""
    name = (getattr(call, "context", None) or {}).get("timezone") if isinstance(
        getattr(call, "context", None), dict) else None
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return UTC


def call_time(call) -> datetime:
    """The moment the conversation took place, in the callee's zone."""
    moment = (getattr(call, "answered_at", None) or getattr(call, "started_at", None)
              or getattr(call, "created_at", None) or timezone.now())
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(call_zone(call))


def as_call_time(moment: datetime | None, zone: tzinfo = UTC) -> datetime:
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone)


def region_for(call) -> str:
    """Numbers said without a country code are read in the callee's country: from their phone
    number, else from the zone in the call's context, else US."""
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(call.to_number, None))
        if region and region != "ZZ":
            return region
    except (phonenumbers.NumberParseException, TypeError, AttributeError):
        pass
    return _zone_country(getattr(call_zone(call), "key", "UTC"))


def _zone_country(zone: str) -> str:
    import pytz  # its copy of zone.tab maps a zone to its country

    for country, zones in pytz.country_timezones.items():
        if zone in zones:
            return country
    return "US"
