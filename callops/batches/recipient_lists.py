"""Reading a batch's recipient list: CSV decoding, the header and phone column, pasted lists and
JSON recipients, and writing rejected rows back out as CSV.

Everything here is pure (no database): `read_csv` turns an uploaded file into rows; checking
them is `callops.batches.recipient_validation`, storing them `callops.batches.services`.
Built to stream: a 100,000-row file is never held in memory as a whole.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

# Header names recognised as "the phone column" when the caller does not name one.
PHONE_COLUMN_GUESSES = ("phone", "phone_number", "phonenumber", "number", "to", "to_number", "mobile",
                        "contact_number", "msisdn", "telephone", "tel", "cell")
MAX_CONTEXT_VALUE = 1000
SNIFF_BYTES = 64 * 1024


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

    __slots__ = ("number", "phone", "context", "problem", "_raw", "_values", "_columns")

    def __init__(self, number: int, phone: str, context: dict, raw: dict | None = None, *,
                 values: list | None = None, columns: list | None = None, problem: str = ""):
        self.number = number  # 1-based data row number (the header is row 0)
        self.phone = phone
        self.context = context
        self.problem = problem  # why the row cannot be used whatever its number (it is rejected)
        self._raw, self._values, self._columns = raw, values, columns

    @property
    def raw(self) -> dict:
        if self._raw is None:
            values = self._values or []
            self._raw = {c: (values[i] if i < len(values) else "") for i, c in enumerate(self._columns or []) if c}
        return self._raw


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
    if _looks_binary(sample):
        raise CsvError("this file is not a CSV (it holds binary data, like a spreadsheet or an image): save the "
                       "list as CSV, comma-separated values, and upload that")
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


def _unprintable(ch: str) -> bool:
    # Control characters other than line breaks and tabs, undecodable bytes (U+FFFD), surrogates
    # and unassigned code points: text never has them, every binary format does.
    return ch not in "\t\r\n" and (ch == "\ufffd" or unicodedata.category(ch) in ("Cc", "Cs", "Cn"))


def _looks_binary(sample: str) -> bool:
    """A binary file (XLSX, PDF, an image) decodes to text too, Latin-1 decoding anything: its first
    line, read as a header, would be garbage shown back to the user. One such character in the
    header, or many in the sample (a few are a damaged row, rejected on its own), means the file
    is not a CSV."""
    header = sample.split("\n", 1)[0]
    head = sample[:4096]
    return any(_unprintable(ch) for ch in header) or sum(map(_unprintable, head)) > max(16, len(head) // 20)


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
                      columns=columns, problem=_extra_values(values, columns))
    except csv.Error as exc:
        raise CsvError(f"the file is not valid CSV after data row {number}: {exc}") from None


def _extra_values(values: list[str], columns: list[str]) -> str:
    """Why a row with more values than the header has columns is refused, or "".

    Such a row usually lost or gained a comma, so its values no longer sit under their columns:
    using it would call with shifted data (an "appointment" holding someone's note). Trailing
    empty cells (a spreadsheet's stray commas) are not values.
    """
    end = len(values)
    while end > len(columns) and not values[end - 1].strip():
        end -= 1
    if end <= len(columns):
        return ""
    extra = [v.strip()[:40] for v in values[len(columns):end]]
    shown = ", ".join(f"“{v}”" for v in extra[:3]) + (", …" if len(extra) > 3 else "")
    return (f"the row has {end} values but the header names {len(columns)} columns (extra: {shown}); "
            "fix the row's commas or add a column for them")


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


# A number already in E.164 form: no punctuation, a country code, 7 to 15 digits.
E164 = re.compile(r"\+[1-9]\d{6,14}")


def rejections_csv(rejections: Iterable, columns: list[str]) -> Iterator[str]:
    """CSV lines of rejected rows (recipient_validation.Rejection objects or stored BatchRejection
    values() dicts): row number, reason, then the row as uploaded."""
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
        number, reason, raw = (r["row_number"], r["reason"], r["row"]) if isinstance(r, dict) else \
            (r.number, r.reason, r.raw)
        writer.writerow([number, reason, *[safe_cell(raw.get(c, "")) for c in columns]])
        yield flush()


def safe_cell(value) -> str:
    # A cell starting with = + - @ is a formula to spreadsheet software (CSV injection).
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not E164.fullmatch(text) else text
