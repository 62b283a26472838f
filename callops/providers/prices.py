"""A provider account's price table: what a call costs when the provider reports no cost.

estimate = price per call + price per connected minute x minutes, in milli-cents (1/1000 of a
cent, the unit CallingBox bills in) of the table's currency. `minute` rounding bills every started
minute (most carriers); `second` prorates the per-minute price, rounded half up to the milli-cent.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .models import PriceRounding, ProviderAccount

MAX_PRICE = 100_000_000  # $1,000 in milli-cents: far beyond any per-call or per-minute price
CURRENCY = re.compile(r"^[A-Z]{3}$")
FIELDS = ("price_currency", "price_per_call_milli_cents", "price_per_minute_milli_cents", "price_rounding")


def estimate(account: ProviderAccount, connected_seconds: int) -> int | None:
    """The table's cost of a call connected for `connected_seconds`; None without a table."""
    if not account.has_price_table:
        return None
    per_call = account.price_per_call_milli_cents or 0
    per_minute = account.price_per_minute_milli_cents or 0
    seconds = max(0, int(connected_seconds))
    if account.price_rounding == PriceRounding.SECOND:
        talk = (Decimal(per_minute) * seconds / 60).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        return per_call + int(talk)
    return per_call + per_minute * math.ceil(seconds / 60)


def clean(data: Any, errors: dict[str, str]) -> dict[str, Any]:
    """The price-table fields of an account form; problems go into `errors` by field."""
    out: dict[str, Any] = {}
    currency = str(data.get("price_currency") or "USD").strip().upper()
    if not CURRENCY.match(currency):
        errors["price_currency"] = "a three-letter ISO 4217 code such as USD"
    out["price_currency"] = currency
    for name in ("price_per_call_milli_cents", "price_per_minute_milli_cents"):
        raw = str(data.get(name) if data.get(name) is not None else "").strip()
        if raw == "":
            out[name] = None
            continue
        try:
            value = int(raw)
            if not 0 <= value <= MAX_PRICE:
                raise ValueError
            out[name] = value
        except ValueError:
            errors[name] = f"a whole number of milli-cents from 0 to {MAX_PRICE}, or blank"
    rounding = str(data.get("price_rounding") or PriceRounding.MINUTE)
    if rounding not in PriceRounding.values:
        errors["price_rounding"] = "per started minute or per second"
    out["price_rounding"] = rounding
    return out
