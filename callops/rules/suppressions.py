"""The suppression (do-not-call) list of an organization: add, remove, import, check.

Numbers are stored in E.164 so every spelling of a number ("+1 (415) 555-0123", "14155550123"
with a region) finds the same row. Every change is written to the audit log.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import phonenumbers
from django.db import IntegrityError, transaction

from callops.accounts.models import Organization
from callops.accounts.services import Actor, audit

from .models import CallingPolicy, Suppression, SuppressionSource

if TYPE_CHECKING:
    from django.contrib.auth.models import User

MAX_IMPORT_ROWS = 10_000


class SuppressionError(ValueError):
    """Bad input for the suppression list, in words the user can act on."""


def to_e164(value: str, *, default_region: str | None = None) -> str:
    """The E.164 form of `value`, or SuppressionError saying what is wrong with it."""
    raw = (value or "").strip() if isinstance(value, str) else ""
    if not raw:
        raise SuppressionError("a phone number is required, e.g. +14155550123")
    try:
        parsed = phonenumbers.parse(raw, default_region if not raw.startswith("+") else None)
    except phonenumbers.NumberParseException:
        raise SuppressionError(f"{raw!r} is not a phone number; write it with + and the country code") from None
    if not phonenumbers.is_possible_number(parsed):
        raise SuppressionError(f"{raw!r} is not a possible phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _label(actor: Actor) -> str:
    if getattr(actor, "pk", None):
        return actor.get_username()  # type: ignore[union-attr]
    return str(actor) if actor else "system"


def find(org: Organization, number: str) -> Suppression | None:
    """The organization's suppression of `number` (any spelling), or None."""
    try:
        e164 = to_e164(number)
    except SuppressionError:
        return None
    return Suppression.objects.filter(organization=org, number=e164).first()


def add(org: Organization, number: str, *, reason: str = "", source: str = SuppressionSource.MANUAL,
        actor: Actor = None, call_public_id: uuid.UUID | None = None,
        default_region: str | None = None) -> tuple[Suppression, bool]:
    """Suppress `number`; (row, created). Adding a number already on the list keeps the first row."""
    e164 = to_e164(number, default_region=default_region)
    user = cast("User | None", actor if getattr(actor, "pk", None) else None)  # only a saved user has a row
    try:
        with transaction.atomic():
            row = Suppression.objects.create(
                organization=org, number=e164, reason=(reason or "").strip()[:200], source=source,
                added_by=user, added_by_label=_label(actor)[:200], call_public_id=call_public_id)
    except IntegrityError:
        # Same number added twice (or by two requests at once): the list holds it once.
        return Suppression.objects.get(organization=org, number=e164), False
    audit(org, "suppression.added", actor=actor, target=e164,
          detail={"reason": row.reason, "source": source,
                  "call_id": str(call_public_id) if call_public_id else None})
    return row, True


def remove(row: Suppression, *, actor: Actor = None) -> None:
    audit(row.organization, "suppression.removed", actor=actor, target=row.number,
          detail={"reason": row.reason, "source": row.source})
    row.delete()


def describe(row: Suppression) -> str:
    """The refusal message every call path shows: "+1… is on the suppression list (reason)"."""
    return f"{row.number} is on the suppression list ({row.reason or row.get_source_display().lower()})"


def opt_out_detection_on(org: Organization) -> bool:
    policy = CallingPolicy.objects.filter(organization=org).only("opt_out_detection").first()
    return policy.opt_out_detection if policy else True


def set_opt_out_detection(org: Organization, enabled: bool, *, actor: Actor = None) -> CallingPolicy:
    policy, _ = CallingPolicy.objects.get_or_create(organization=org)
    if policy.opt_out_detection != enabled:
        policy.opt_out_detection = enabled
        policy.save(update_fields=["opt_out_detection"])
        audit(org, "calling_policy.opt_out_detection", actor=actor, detail={"enabled": enabled})
    return policy


@dataclass
class ImportRow:
    line: int
    raw: str
    number: str = ""
    reason: str = ""
    error: str = ""


@dataclass
class ImportPreview:
    rows: list[ImportRow] = field(default_factory=list)

    @property
    def accepted(self) -> list[ImportRow]:
        return [r for r in self.rows if not r.error]

    @property
    def rejected(self) -> list[ImportRow]:
        return [r for r in self.rows if r.error]


def preview_import(org: Organization, text: str, *, default_region: str | None = None) -> ImportPreview:
    """Read a CSV (a `number` column, optional `reason`; or numbers one a line) without writing.

    The first step of the two-step import: the page shows which rows will be added and why the
    others will not, and the second step (`apply_import`) adds exactly the accepted rows.
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise SuppressionError("the file is empty; give one number a line, or a CSV with a number column")
    reader = csv.reader(io.StringIO("\n".join(lines)))
    all_rows = list(reader)
    header = [c.strip().lower() for c in all_rows[0]]
    has_header = any(h in ("number", "phone", "phone_number", "to_number") for h in header)
    num_col = next((i for i, h in enumerate(header) if h in ("number", "phone", "phone_number", "to_number")), 0)
    reason_col = header.index("reason") if has_header and "reason" in header else (1 if not has_header else None)
    body = all_rows[1:] if has_header else all_rows
    if len(body) > MAX_IMPORT_ROWS:
        raise SuppressionError(f"the file has {len(body)} rows; import at most {MAX_IMPORT_ROWS} at a time")
    existing = set(Suppression.objects.filter(organization=org).values_list("number", flat=True))
    seen: set[str] = set()
    preview = ImportPreview()
    for i, cells in enumerate(body, start=2 if has_header else 1):
        raw = cells[num_col].strip() if num_col < len(cells) else ""
        row = ImportRow(line=i, raw=raw)
        if reason_col is not None and reason_col < len(cells):
            row.reason = cells[reason_col].strip()[:200]
        try:
            row.number = to_e164(raw, default_region=default_region)
        except SuppressionError as exc:
            row.error = str(exc)
        else:
            if row.number in existing:
                row.error = f"{row.number} is already on the suppression list"
            elif row.number in seen:
                row.error = f"{row.number} appears earlier in the file"
            seen.add(row.number)
        preview.rows.append(row)
    return preview


def apply_import(org: Organization, preview: ImportPreview, *, actor: Actor = None) -> int:
    """Add the accepted rows of a preview; the number added."""
    added = 0
    for row in preview.accepted:
        _, created = add(org, row.number, reason=row.reason, source=SuppressionSource.IMPORT, actor=actor)
        added += created
    audit(org, "suppression.imported", actor=actor, detail={"added": added, "rejected": len(preview.rejected)})
    return added


def refusals(org: Organization) -> dict[str, str]:
    """E.164 -> refusal message for every suppressed number of `org` (a batch screens its rows
    against this once instead of asking per row)."""
    return {row.number: describe(row) for row in
            Suppression.objects.filter(organization=org).only("number", "reason", "source")}
