"""The reader's timezone, for day boundaries and schedule inputs.

app.js stores the browser's IANA zone in the `tz` cookie; anything missing or unknown falls back
to UTC so a bad cookie can never break a page.
"""

import zoneinfo
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from urllib.parse import unquote

from django.utils import timezone

COOKIE = "tz"


def user_tz(request):
    """The zone posted by a form (hidden `tz` input), else the cookie, else UTC."""
    name = unquote(request.POST.get(COOKIE) or request.COOKIES.get(COOKIE) or "").strip()
    if name and len(name) < 64:
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    return UTC


def start_of_day(tz, day) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def today(tz):
    return timezone.now().astimezone(tz).date()


def day_range(tz, first, last):
    """Aware [start, end) covering the local days first..last inclusive."""
    return start_of_day(tz, first), start_of_day(tz, last + timedelta(days=1))


@lru_cache(maxsize=1)
def tz_choices() -> list[str]:
    """IANA zone names for a select: "Region/City" names plus UTC, without the legacy aliases
    (US/Eastern, Etc/GMT+5, ...) that would double the list and confuse (Etc/GMT+5 is UTC-5)."""
    names = {n for n in zoneinfo.available_timezones()
             if "/" in n and not n.startswith(("Etc/", "SystemV/", "US/", "Brazil/", "Canada/", "Chile/", "Mexico/"))}
    return ["UTC", *sorted(names)]
