"""An organization's caller IDs across its provider accounts: listing, searching, buying.

Every write to `PhoneNumber` is here. The API (`/v1/numbers`) and the dashboard's Numbers section
call these functions; adapters only translate the provider's number routes.

Agents' `from_number` values are caller IDs the organization already uses, so they are listed
too. They are stored as `PhoneNumber` rows (`source=agent`) rather than merged in at read time:
one row kind gives every number a stable public id (the inbound route and the cursor need one)
and one keyset order. Agents are written from several places (the dashboard's service, the
admin, fixtures), so instead of a hook in each, `sync_agent_caller_ids` adds the missing rows
before every listing: one indexed query when nothing is new, and an insert that ignores
conflicts when something is, so two concurrent listings cannot make duplicates. Such a row is
listed only while an active agent on its account still calls from it; it is never deleted, so
a caller ID given back to an agent comes back with the same id.

Numbers a provider account already holds (bought in the provider's console, or by a purchase
whose answer was lost) are imported on request (`import_provider_numbers`, `source=provider`),
never on a listing: a list must not wait on a provider. A purchase the provider refuses as
already owned imports them, so a retried purchase finds its number.
"""

from __future__ import annotations

from dataclasses import asdict

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from callops.accounts.services import audit
from callops.accounts.tenancy import parse_public_id, scoped
from callops.lib import isotime

from .base import AvailableNumber, ProviderError
from .models import NumberSource, PhoneNumber, ProviderAccount
from .registry import ADAPTERS, adapter_class, adapter_for


class NumberError(Exception):
    """Bad input for a number operation; `field` names the parameter at fault."""

    def __init__(self, message: str, *, status: int = 400, field: str = ""):
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field


def sync_agent_caller_ids(org) -> int:
    """Give every active agent's `from_number` a `PhoneNumber` row on its account; returns how
    many rows were added."""
    # Read through the accounts' reverse relation: the calls app imports this one, so importing
    # its Agent model here would make the two import each other. One filter() call, so both
    # conditions hold for the same agent.
    pairs = set(scoped(ProviderAccount, org).filter(is_active=True, agents__is_active=True, agents__from_number__gt="")
                .values_list("id", "agents__from_number"))
    if not pairs:
        return 0
    have = set(PhoneNumber.objects.filter(organization=org, e164__in={e164 for _, e164 in pairs})
               .values_list("provider_account_id", "e164"))
    missing = sorted(pairs - have)
    if not missing:
        return 0
    now = timezone.now()
    PhoneNumber.objects.bulk_create(
        [PhoneNumber(organization=org, provider_account_id=account_id, e164=e164, source=NumberSource.AGENT,
                     number_type="unknown", friendly_name="Agent caller ID", purchased_at=now, created_at=now)
         for account_id, e164 in missing],
        ignore_conflicts=True)
    return len(missing)


def org_numbers(org):
    """The organization's usable caller IDs: numbers on its active provider accounts; an agent's
    caller ID while an active agent on that account still calls from it."""
    sync_agent_caller_ids(org)
    in_use = ProviderAccount.objects.filter(pk=OuterRef("provider_account_id"), agents__is_active=True,
                                            agents__from_number=OuterRef("e164"))
    return (scoped(PhoneNumber, org).filter(provider_account__is_active=True)
            .filter(~Q(source=NumberSource.AGENT) | Exists(in_use)).select_related("provider_account"))


def get_number(org, number_id) -> PhoneNumber | None:
    pid = parse_public_id(number_id)
    return org_numbers(org).filter(public_id=pid).first() if pid else None


def selling_accounts(org):
    """The organization's active accounts whose provider sells numbers, oldest first."""
    kinds = [kind for kind, cls in ADAPTERS.items() if cls.sells_numbers]
    return scoped(ProviderAccount, org).filter(is_active=True, kind__in=kinds).order_by("created_at", "id")


def selling_account(org, provider_account_id: str | None) -> ProviderAccount:
    """The account a search or purchase goes to: the one named, else the organization's only
    account that sells numbers. NumberError (naming `provider_account_id`) otherwise."""
    accounts = selling_accounts(org)
    if provider_account_id:
        pid = parse_public_id(provider_account_id)
        account = scoped(ProviderAccount, org).filter(public_id=pid, is_active=True).first() if pid else None
        if account is None:
            raise NumberError(f"no provider account {provider_account_id} in this organization",
                              field="provider_account_id")
        if not adapter_class(account.kind).sells_numbers:
            raise NumberError(f"provider account {provider_account_id} ({account.get_kind_display()}) does not sell "
                              "numbers", field="provider_account_id")
        return account
    found = list(accounts[:2])
    if not found:
        raise NumberError("none of this organization's provider accounts sells numbers (CallingBox and the sandbox "
                          "do); add one first", field="provider_account_id")
    if len(found) > 1:
        raise NumberError("this organization has several provider accounts that sell numbers: pass "
                          "provider_account_id to choose one", field="provider_account_id")
    return found[0]


def _owned_on(account) -> frozenset[str]:
    return frozenset(PhoneNumber.objects.filter(provider_account=account).values_list("e164", flat=True))


def search_available(account, *, country_code: str = "US", area_code: str = "", number_type: str = "",
                     limit: int = 10) -> list[AvailableNumber]:
    """Numbers for sale on `account` (ProviderError when the provider fails)."""
    owned = _owned_on(account)
    found = adapter_for(account).search_numbers(country_code=country_code, area_code=area_code,
                                                number_type=number_type, limit=limit, exclude=owned)
    # A provider may offer a number this account already holds in callops (bought elsewhere and
    # already used as an agent's caller ID): it is not for sale to this account.
    return [n for n in found if n.phone_number not in owned][:limit]


def purchase(account, phone_number: str, *, actor=None, ip=None, actor_label: str = "") -> PhoneNumber:
    """Buy `phone_number` on `account` and store it. The provider is asked first; the row is
    written only once it said yes. NumberError 409 when the account already has the number."""
    owned = _owned_on(account)
    if phone_number in owned:
        raise NumberError(f"{phone_number} is already one of this organization's numbers on {account.name}",
                          status=409, field="phone_number")
    adapter = adapter_for(account)
    try:
        bought = adapter.purchase_number(phone_number, owned=owned)
    except ProviderError as exc:
        if exc.http_status != 409:
            raise
        # The provider says the account holds it already (an earlier purchase whose answer was
        # lost, or one made in the provider's console): bring the account's numbers in.
        try:
            import_provider_numbers(account, adapter=adapter)
        except ProviderError:
            raise exc from None
        if PhoneNumber.objects.filter(provider_account=account, e164=phone_number).exists():
            raise NumberError(f"{phone_number} already belongs to {account.name} at the provider; it is now listed "
                              "among this organization's numbers", status=409, field="phone_number") from None
        raise
    values = {k: v for k, v in asdict(bought).items() if k != "e164" and v is not None}
    values.setdefault("purchased_at", timezone.now())
    try:
        with transaction.atomic():
            number, _ = PhoneNumber.objects.update_or_create(
                provider_account=account, e164=bought.e164,
                defaults={**values, "organization": account.organization, "source": NumberSource.PURCHASED},
                create_defaults={**values, "organization": account.organization, "source": NumberSource.PURCHASED,
                                 "created_at": timezone.now()})
            audit(account.organization, "number.purchased", actor=actor, ip=ip, target=bought.e164,
                  detail={"number": str(number.public_id), "provider_account": str(account.public_id),
                          **({"by": actor_label} if actor_label else {})})
    except IntegrityError:
        raise NumberError(f"{bought.e164} is already one of this organization's numbers", status=409,
                          field="phone_number") from None
    return number


def import_provider_numbers(account, *, adapter=None, actor=None) -> int:
    """Store the numbers `account` holds at its provider that callops does not know yet; fills in
    the provider's id on rows that lack it. Returns how many rows were added."""
    held = (adapter or adapter_for(account)).list_numbers()
    known = {n.e164: n for n in PhoneNumber.objects.filter(provider_account=account)}
    added = 0
    for found in held:
        row = known.get(found.e164)
        if row is not None:
            if found.provider_number_id and not row.provider_number_id:
                PhoneNumber.objects.filter(pk=row.pk).update(provider_number_id=found.provider_number_id)
            continue
        values = {k: v for k, v in asdict(found).items() if k != "e164" and v is not None}
        now = timezone.now()
        _, created = PhoneNumber.objects.get_or_create(
            provider_account=account, e164=found.e164,
            defaults={"purchased_at": now, **values, "organization": account.organization,
                      "source": NumberSource.PROVIDER, "created_at": now})
        added += created
    if added:
        audit(account.organization, "number.imported", actor=actor, target=account.name,
              detail={"provider_account": str(account.public_id), "added": added})
    return added


def number_to_dict(number: PhoneNumber) -> dict:
    """The CallingBox SDK's `PhoneNumber` shape, plus the account it is on. callops places
    outbound calls only, so the inbound fields are always off."""
    return {
        "id": str(number.public_id), "object": "phone_number", "e164": number.e164,
        "friendly_name": number.friendly_name or None, "country_code": number.country_code,
        "number_type": number.number_type, "status": number.status,
        "monthly_cost_cents": number.monthly_cost_cents,
        "purchased_at": isotime.format(number.purchased_at),
        "provider": number.provider_account.kind, "provider_account_id": str(number.provider_account.public_id),
        "source": number.source,
        "inbound_enabled": False, "inbound_prompt": None, "inbound_returns": None, "inbound_webhook_url": None,
        "inbound_language": None, "inbound_tools": None, "inbound_voicemail_action": "hangup",
        "created_at": isotime.format(number.created_at),
    }


__all__ = ["NumberError", "ProviderError", "get_number", "import_provider_numbers", "number_to_dict", "org_numbers",
           "purchase", "search_available", "selling_account", "selling_accounts", "sync_agent_caller_ids"]
