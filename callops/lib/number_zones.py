"""A phone number's local time zone(s), read from its number range, and the zones a calling
window is read in.

Shared by batches (each recipient's zone is stored on its row) and the calling rules (every call's
local calling hours), so a number is "local" in exactly the same zones everywhere.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as pn_timezone

# A number that maps to more zones than this is not tied to a place (toll-free +1 800 maps to 42
# zones, a national mobile range to a whole country): its calling window is read in a fallback
# zone instead (the batch's default zone, or the organization's). Up to this many (an area code on
# a zone border) the window must be open in each of them.
MAX_ZONES = 3
# BatchRecipient.tz holds at most this many characters; a zone list is never cut to fit (a cut
# name is no zone at all), it falls back to the default zone instead.
TZ_FIELD_CHARS = 200


def zones_for_number(parsed: phonenumbers.PhoneNumber) -> str:
    """The number's IANA zone(s), ";"-joined; "" (the fallback zone) when the number is not tied
    to a place: no known zone, or more than MAX_ZONES of them."""
    zones = [z for z in pn_timezone.time_zones_for_geographical_number(parsed) if z != pn_timezone.UNKNOWN_TIMEZONE]
    if not zones or len(zones) > MAX_ZONES:
        return ""
    joined = ";".join(zones)
    return joined if len(joined) <= TZ_FIELD_CHARS else ""


def zones_for_e164(e164: str) -> str:
    """zones_for_number for an E.164 string; "" when it does not parse."""
    try:
        return zones_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return ""


def zone(name: str, default: str | None = "UTC") -> ZoneInfo | None:
    """ZoneInfo(name), else ZoneInfo(default) (None when default is None too)."""
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo(default) if default else None


def window_zones(zones: str, fallback: str) -> list[ZoneInfo]:
    """The zones a number's window is read in: its own (at most MAX_ZONES of them), else the
    fallback zone. Lists stored before that limit existed may be long or cut; those, and any
    name that is not a zone, also fall back."""
    names = [z for z in zones.split(";") if z]
    default = zone(fallback) or ZoneInfo("UTC")
    if not names or len(names) > MAX_ZONES:
        return [default]
    found = [z for z in (zone(n, None) for n in names) if z is not None]
    return found or [default]
