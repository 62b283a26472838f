"""A call's normalised cost: `billing_amount_milli_cents` with `billing_currency`.

The provider's own figure wins (CallingBox's billing_amount_milli_cents, Bolna's total_cost,
Dograh's cost_info): adapters put it in a report's `billing_amount_milli_cents`. A call that ends
without one is priced from its provider account's price table (callops.providers.prices) and
marked `billing_estimated`; a provider figure arriving later (Bolna's `completed` after
`call-disconnected`) replaces the estimate. `apply_status` calls `settle` after each report, in
the report's transaction.
"""

from __future__ import annotations

from typing import Any

from callops.providers import prices

from .models import TERMINAL, Call

# The currency each provider bills in: all of them in US dollars today.
PROVIDER_CURRENCY = {"callingbox": "USD", "bolna": "USD", "dograh": "USD", "polyai": "USD", "trillet": "USD",
                     "sandbox": "USD"}


def settle(call: Call, details: dict[str, Any], *, accepted: bool) -> None:
    """Bring the call's cost up to date after a report with `details` was recorded.

    `accepted`: the report's fields were written (a status change); otherwise the report was
    ignored and only filled blanks, so a provider figure must replace an estimate here.
    """
    reported = details.get("billing_amount_milli_cents")
    if reported is not None:
        currency = PROVIDER_CURRENCY.get(call.provider, "USD")
        # An accepted report already wrote its figure; an ignored one filled it only if blank. Either
        # way the provider's figure replaces an estimate, never another figure of the provider's
        # (a late duplicate may carry an older one).
        if call.billing_amount_milli_cents != reported and not call.billing_estimated and not accepted:
            return
        if (call.billing_amount_milli_cents, call.billing_currency, call.billing_estimated) != (
                reported, currency, False):
            _write(call, int(reported), currency, estimated=False)
        return
    if call.status not in TERMINAL or (call.billing_amount_milli_cents is not None and not call.billing_estimated):
        return
    account = call.provider_account
    connected = call.billed_duration_seconds if call.billed_duration_seconds is not None else (
        call.duration_seconds or 0)
    amount = prices.estimate(account, connected)
    if amount is not None and (amount != call.billing_amount_milli_cents or not call.billing_estimated):
        _write(call, amount, account.price_currency, estimated=True)


def _write(call: Call, amount: int, currency: str, *, estimated: bool) -> None:
    Call.objects.filter(pk=call.pk).update(billing_amount_milli_cents=amount, billing_currency=currency,
                                           billing_estimated=estimated)
    call.billing_amount_milli_cents, call.billing_currency, call.billing_estimated = amount, currency, estimated
