"""Checking a batch's recipients: E.164 normalisation with a default country, de-duplication,
and each number's time zone(s) for the calling window. `Screening` is the one pass over a list
that both the preview and the import make, so they count and refuse alike.

Pure (no database). Phone numbers already in E.164 form skip the slow generic parser (the common
case for exported lists).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import phonenumbers
from phonenumbers.phonenumberutil import _is_number_matching_desc

from callops.calls.validation import _PHONE_REASONS
from callops.lib.number_zones import MAX_ZONES, TZ_FIELD_CHARS, zones_for_number

from .recipient_lists import E164, CsvError, Row

# MAX_ZONES and TZ_FIELD_CHARS (callops.lib.number_zones) say which numbers are tied to a place;
# re-exported here, where the batch code has always read them.
__all__ = ["MAX_ZONES", "TZ_FIELD_CHARS", "Recipient", "Rejection", "Screening", "Validator", "recipient_zone"]
# The most rows one batch can hold; a longer list is refused as a whole.
MAX_ROWS = 500_000


@dataclass
class Recipient:
    number: int
    phone: str  # E.164
    context: dict
    tz: str


@dataclass
class Rejection:
    number: int
    phone: str
    reason: str
    raw: dict


_PUNCT = str.maketrans("", "", " -().\u00a0")


class Validator:
    """Validates rows: E.164 normalisation with a default region, duplicates, and the number's zone.

    Stateful (it remembers numbers seen) so it must see a batch's rows exactly once, in order.
    """

    def __init__(self, default_region: str | None = None, suppressed: Mapping[str, str] | None = None):
        self.default_region = (default_region or "").upper() or None
        # E.164 -> refusal message of the organization's suppression list: such rows are rejected
        # in the preview with the reason, before anyone is dialed.
        self.suppressed = suppressed or {}
        self.seen: set[str] = set()
        self.valid = 0
        self.rejected = 0
        self.duplicates = 0
        # (country code, first digits) -> region whose metadata validated a number there; spares
        # region_code_for_number's walk over the +1 region list for every row.
        self._region_hint: dict[tuple[int, str], str | None] = {}

    def check(self, row: Row) -> Recipient | Rejection:
        phone = row.phone
        if row.problem:
            self.rejected += 1
            return Rejection(row.number, phone[:200], row.problem[:300], row.raw)
        if not phone:
            self.rejected += 1
            return Rejection(row.number, "", "phone number is missing", row.raw)
        try:
            e164, parsed = self._normalize(phone)
        except ValueError as exc:
            self.rejected += 1
            return Rejection(row.number, phone[:200], str(exc)[:300], row.raw)
        if e164 in self.seen:
            self.rejected += 1
            self.duplicates += 1
            return Rejection(row.number, phone[:200], f"duplicate of an earlier row ({e164})", row.raw)
        self.seen.add(e164)
        if e164 in self.suppressed:
            self.rejected += 1
            return Rejection(row.number, phone[:200], self.suppressed[e164][:300], row.raw)
        self.valid += 1
        return Recipient(row.number, e164, row.context, recipient_zone(parsed))

    def _normalize(self, raw: str):
        compact = raw.translate(_PUNCT)
        if E164.fullmatch(compact):
            parsed = self._fast_parse(compact)
            if parsed is not None:
                return compact, parsed
        if not raw.startswith("+") and self.default_region is None:
            raise ValueError(f"{raw!r} must start with + and the country code, or set a default country")
        try:
            parsed = phonenumbers.parse(raw, self.default_region)
        except phonenumbers.NumberParseException as exc:
            raise ValueError(f"{raw!r} is not a phone number ({exc._msg.rstrip('.').lower()})") from None
        return self._validate(raw, parsed), parsed

    def _fast_parse(self, compact: str):
        digits = compact[1:]
        for k in (1, 2, 3):
            cc = int(digits[:k])
            if cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
                nsn = digits[k:]
                if nsn.startswith("0"):
                    return None  # leading-zero national numbers need the full parser
                parsed = phonenumbers.PhoneNumber(country_code=cc, national_number=int(nsn))
                self._validate(compact, parsed)
                return parsed
        return None

    def _validate(self, raw: str, parsed) -> str:
        reason = phonenumbers.is_possible_number_with_reason(parsed)
        if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
            raise ValueError(f"{raw!r} {_PHONE_REASONS.get(reason, 'is not a possible number')}")
        nsn = str(parsed.national_number)
        key = (parsed.country_code, nsn[:4])
        hint = self._region_hint.get(key)
        if hint is None or not _valid_for_region(nsn, hint):
            if not phonenumbers.is_valid_number(parsed):
                region = phonenumbers.region_code_for_number(parsed) or \
                    phonenumbers.region_code_for_country_code(parsed.country_code)
                raise ValueError(f"{raw!r} is not a valid number in {region}")
            self._region_hint[key] = phonenumbers.region_code_for_number(parsed)
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def recipient_zone(parsed) -> str:
    """The number's IANA zone(s), ";"-joined; "" (the batch's default zone) when the number is not
    tied to a place. The same derivation every call's calling hours use (callops.lib.number_zones)."""
    return zones_for_number(parsed)


_TYPE_DESCS = ("fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "personal_number", "voip",
               "pager", "uan", "voicemail")


def _valid_for_region(nsn: str, region: str) -> bool:
    """phonenumbers.is_valid_number_for_region for a number whose country code matches `region`,
    checking the common types (fixed line, mobile) first: validity only needs one match, and
    the library's own order (premium, toll free, ... first) costs ~10 regex matches per number.
    Only used as a fast accept; a False falls back to the library's full check."""
    md = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if md is None or not _is_number_matching_desc(nsn, md.general_desc):
        return False
    return any(_is_number_matching_desc(nsn, getattr(md, d)) for d in _TYPE_DESCS if getattr(md, d) is not None)


def validate(rows: Iterable[Row], validator: Validator) -> Iterator[Recipient | Rejection]:
    for row in rows:
        yield validator.check(row)


class Screening:
    """One pass over a list's rows: each row's verdict (Recipient or Rejection) in file order, with
    the counts kept as it goes. The preview and the import both read a list through this, so they
    agree on every count and refuse the same oversized lists (CsvError past MAX_ROWS)."""

    def __init__(self, rows: Iterable[Row], default_region: str | None = "",
                 suppressed: Mapping[str, str] | None = None):
        self.validator = Validator(default_region, suppressed)
        self.rows = rows
        self.total = 0

    def __iter__(self) -> Iterator[Recipient | Rejection]:
        for result in validate(self.rows, self.validator):
            self.total += 1
            if self.total > MAX_ROWS:
                raise CsvError(f"a batch holds at most {MAX_ROWS} rows")
            yield result

    def counts(self) -> dict:
        v = self.validator
        return {"total_rows": self.total, "valid": v.valid, "rejected": v.rejected, "duplicates": v.duplicates}
