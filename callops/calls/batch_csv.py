"""Reading a batch's recipients: CSV decoding, column mapping, phone validation and de-duplication.

Everything here is pure (no database): `read_csv` turns an uploaded file into rows, `Validator`
turns rows into valid recipients and rejections. `callops.calls.batches` stores the results.
Built to stream: a 100,000-row file is never held in memory as a whole, and phone numbers
already in E.164 form skip the slow generic parser (the common case for exported lists).
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import phonenumbers
from phonenumbers import timezone as pn_timezone
from phonenumbers.phonenumberutil import _is_number_matching_desc

# Header names recognised as "the phone column" when the caller does not name one.
PHONE_COLUMN_GUESSES = ("phone", "phone_number", "phonenumber", "number", "to", "to_number", "mobile",
                        "contact_number", "msisdn", "telephone", "tel", "cell")
MAX_CONTEXT_VALUE = 1000
SNIFF_BYTES = 64 * 1024
# A number that maps to more zones than this is not tied to a place (toll-free +1 800 maps to 42
# zones, a national mobile range to a whole country): its calling window is read in the batch's
# default zone instead. Up to this many (an area code on a zone border) the window must be open
# in each of them.
MAX_ZONES = 3
# BatchRecipient.tz holds at most this many characters; a zone list is never cut to fit (a cut
# name is no zone at all), it falls back to the batch's default zone instead.
TZ_FIELD_CHARS = 200


class CsvError(ValueError):
    """The file as a whole cannot be used (empty, undecodable, no phone column, ...).

    `columns` is the file's header when the problem is the choice of phone column, so a form can
    offer the real columns to choose from.
    """

    def __init__(self, message: str, *, columns: list[str] | None = None):
        super().__init__(message)
        self.columns = columns


class Row:
    """One input row; `raw` (the row as uploaded) is built only when a rejection needs it."""

    __slots__ = ("number", "phone", "context", "_raw", "_values", "_columns")

    def __init__(self, number: int, phone: str, context: dict, raw: dict | None = None, *,
                 values: list | None = None, columns: list | None = None):
        self.number = number  # 1-based data row number (the header is row 0)
        self.phone = phone
        self.context = context
        self._raw, self._values, self._columns = raw, values, columns

    @property
    def raw(self) -> dict:
        if self._raw is None:
            values = self._values or []
            self._raw = {c: (values[i] if i < len(values) else "") for i, c in enumerate(self._columns or []) if c}
        return self._raw


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


@dataclass
class CsvTable:
    """A decoded CSV: its header, the phone column chosen, and a one-pass row iterator."""

    columns: list[str]
    phone_column: str
    encoding: str
    rows: Iterator[Row] = field(repr=False)


def detect_encoding(fileobj) -> str:
    """The file's encoding: BOM first, then UTF-16 by NUL bytes, then UTF-8, else Latin-1.

    Reads the whole stream once (decoding is cheap next to validation) because a UTF-8 error may
    sit on the last line; Latin-1 decodes any byte string, so it is the last resort.
    """
    fileobj.seek(0)
    head = fileobj.read(SNIFF_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif head and head.count(b"\x00") > len(head) // 4:
        # UTF-16 without a BOM: ASCII text has a NUL in every other byte.
        encoding = "utf-16-le" if head[1:2] == b"\x00" else "utf-16-be"
    else:
        decoder = codecs.getincrementaldecoder("utf-8")()
        encoding = "utf-8"
        chunk = head
        try:
            while chunk:
                decoder.decode(chunk)
                chunk = fileobj.read(1024 * 1024)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            encoding = "latin-1"
    fileobj.seek(0)
    return encoding


def _clean_header(names: list[str]) -> list[str]:
    cleaned = [(n or "").strip() for n in names]
    seen = set()
    for n in cleaned:
        if n and n.lower() in seen:
            raise CsvError(f"the header has the column {n!r} twice; column names must be unique")
        seen.add(n.lower())
    return cleaned


def pick_phone_column(columns: list[str], wanted: str | None) -> str:
    if wanted:
        for c in columns:
            if c.lower() == wanted.strip().lower():
                return c
        raise CsvError(f"phone column {wanted!r} is not in the file; its columns are: "
                       + ", ".join(repr(c) for c in columns if c), columns=columns)
    by_lower = {c.lower().replace(" ", "_").replace("-", "_"): c for c in columns if c}
    for guess in PHONE_COLUMN_GUESSES:
        if guess in by_lower:
            return by_lower[guess]
    raise CsvError("no phone column found: name it with phone_column (the file's columns are: "
                   + ", ".join(repr(c) for c in columns if c) + ")", columns=columns)


def read_csv(fileobj, *, phone_column: str | None = None) -> CsvTable:
    """Open an uploaded CSV (a binary, seekable file) for one streaming pass over its rows."""
    encoding = detect_encoding(fileobj)
    # UTF-8 was verified above and Latin-1 decodes anything; a broken UTF-16 file (odd length, lone
    # surrogates) gets replacement characters, and the rows they land in are rejected with a reason.
    text = io.TextIOWrapper(fileobj, encoding=encoding, newline="", errors="replace")
    sample = text.read(SNIFF_BYTES)
    if not sample.strip():
        raise CsvError("the file is empty")
    try:
        dialect = csv.Sniffer().sniff(sample.splitlines()[0] if "\n" in sample else sample, delimiters=",;\t|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(_chain(sample, text), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise CsvError("the file is empty") from None
    except csv.Error as exc:
        raise CsvError(f"the file is not valid CSV: {exc}") from None
    columns = _clean_header(header)
    if not any(columns):
        raise CsvError("the first line must be a header naming the columns")
    phone = pick_phone_column(columns, phone_column)
    return CsvTable(columns=columns, phone_column=phone, encoding=encoding, rows=_rows(reader, columns, phone))


def read_pasted(text: str, *, phone_column: str | None = None) -> CsvTable:
    """A pasted list: either a CSV with a header, or bare phone numbers one per line."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise CsvError("the list is empty")
    first = lines[0].strip()
    if re.search(r"[A-Za-z]", first) and not _looks_like_phone(first):
        return read_csv(io.BytesIO(text.encode("utf-8")), phone_column=phone_column)
    columns = ["phone"]
    if phone_column and phone_column.strip().lower() != "phone":
        raise CsvError(f"phone column {phone_column!r} is not in the list; a list without a header has one "
                       "column, 'phone'", columns=columns)
    rows = (Row(i, ln.strip().split(",")[0].strip(), {}, {"phone": ln.strip()}) for i, ln in enumerate(lines, 1))
    return CsvTable(columns=columns, phone_column="phone", encoding="utf-8", rows=rows)


def _looks_like_phone(text: str) -> bool:
    return bool(re.fullmatch(r"[+\d\s().\-ext]{6,}", text.split(",")[0].strip(), re.I))


def _chain(sample: str, rest) -> Iterator[str]:
    # csv.reader wants lines; the sniffed sample is put back in front of the rest of the stream.
    # NUL cannot be stored in PostgreSQL text: like undecodable bytes it becomes U+FFFD, so the row
    # it sits in is rejected with a reason (or keeps a visible mark) instead of failing the import.
    head = io.StringIO(sample + rest.readline()) if not sample.endswith(("\n", "\r")) else io.StringIO(sample)
    for line in itertools.chain(head, rest):
        yield line.replace("\x00", "\ufffd") if "\x00" in line else line


def _rows(reader, columns: list[str], phone_column: str) -> Iterator[Row]:
    idx = columns.index(phone_column)
    names = [(i, c) for i, c in enumerate(columns) if c and i != idx]
    number = 0
    try:
        for values in reader:
            if not values or not any(v.strip() for v in values):
                continue  # blank lines are not rows
            number += 1
            context = {c: v[:MAX_CONTEXT_VALUE] for c, v in ((c, values[i].strip()) for i, c in names
                                                              if i < len(values)) if v}
            yield Row(number, values[idx].strip() if idx < len(values) else "", context, values=values,
                      columns=columns)
    except csv.Error as exc:
        raise CsvError(f"the file is not valid CSV after data row {number}: {exc}") from None


def rows_from_json(items) -> Iterator[Row]:
    """API recipients: `[{"phone": "+1...", "context": {...}}]`; other keys also become context."""
    for number, item in enumerate(items, 1):
        if isinstance(item, str):
            yield Row(number, item.strip(), {}, {"phone": item})
            continue
        if not isinstance(item, dict):
            yield Row(number, "", {}, {"value": str(item)[:200]})
            continue
        phone = item.get("phone", item.get("to", ""))
        context = {k: v for k, v in item.items() if k not in ("phone", "to", "context")}
        if isinstance(item.get("context"), dict):
            context.update(item["context"])
        yield Row(number, str(phone).strip() if phone is not None else "", context,
                  {k: v for k, v in item.items() if k != "context"})


_E164 = re.compile(r"\+[1-9]\d{6,14}")
_PUNCT = str.maketrans("", "", " -().\u00a0")


class Validator:
    """Validates rows: E.164 normalisation with a default region, duplicates, and the number's zone.

    Stateful (it remembers numbers seen) so it must see a batch's rows exactly once, in order.
    """

    def __init__(self, default_region: str | None = None):
        self.default_region = (default_region or "").upper() or None
        self.seen: set[str] = set()
        self.valid = 0
        self.rejected = 0
        self.duplicates = 0
        # (country code, first digits) -> region whose metadata validated a number there; spares
        # region_code_for_number's walk over the +1 region list for every row.
        self._region_hint: dict[tuple[int, str], str] = {}

    def check(self, row: Row) -> Recipient | Rejection:
        phone = row.phone
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
        self.valid += 1
        return Recipient(row.number, e164, row.context, recipient_zone(parsed))

    def _normalize(self, raw: str):
        compact = raw.translate(_PUNCT)
        if _E164.fullmatch(compact):
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
            from .validation import _PHONE_REASONS

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
    tied to a place: no known zone, or more than MAX_ZONES of them."""
    zones = [z for z in pn_timezone.time_zones_for_geographical_number(parsed) if z != pn_timezone.UNKNOWN_TIMEZONE]
    if not zones or len(zones) > MAX_ZONES:
        return ""
    joined = ";".join(zones)
    return joined if len(joined) <= TZ_FIELD_CHARS else ""


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


def rejections_csv(rejections: Iterable[Rejection | dict], columns: list[str]) -> Iterator[str]:
    """CSV lines of rejected rows: row number, reason, then the row as uploaded."""
    buf = io.StringIO()
    writer = csv.writer(buf)

    def flush():
        value = buf.getvalue()
        buf.seek(0)
        buf.truncate()
        return value

    writer.writerow(["row", "reason", *columns])
    yield flush()
    for r in rejections:
        number, reason, raw = (r.number, r.reason, r.raw) if isinstance(r, Rejection) else \
            (r["row_number"], r["reason"], r["row"])
        writer.writerow([number, reason, *[_safe(raw.get(c, "")) for c in columns]])
        yield flush()


def _safe(value) -> str:
    # A cell starting with = + - @ is a formula to spreadsheet software (CSV injection).
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _E164.fullmatch(text) else text
