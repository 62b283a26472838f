"""Routing a placement across providers: fallback agents, circuits, and weighted profiles.

`place(call)` asks the call's agent's provider to dial, and when the provider refuses in a way
that proves nobody was dialed, moves the call (same row, same `id`) to the agent's next fallback
agent and asks again. What proves it:

- the request never reached the provider (connection refused, DNS, TLS): `connect_error`;
- the provider answered 5xx, or 429, or our own budget for the account stayed spent past its
  bounded wait (`rate_limited`, raised before anything is sent);
- the provider refused for money (402, `balance_low`, quota exceeded) or the account (401, 403,
  or the account switched off in callops);
- the account's circuit is open (callops.providers.circuits): nothing is sent at all.

Never after a timeout or a dropped connection once the request was sent: the provider may have
dialed. Then the provider is asked whether it has the call (the adapters' `find_placement`, the
look-up the interrupted-placement sweep uses) and the call is adopted if so; if it is not listed,
or the provider cannot tell, the call fails without a second dial, because a create the provider
is still processing need not be listed yet.

Each step is a line on the call's timeline and an entry of `Call.routing`. Only the process
holding the call's dial claim runs this, and every write is conditional on that claim.

Before each provider request, one committed write points the row at the agent and account about
to be asked and appends a `sending` entry for the attempt. A worker killed while the request is
out leaves exactly that on the row, so the interrupted-placement sweep asks the provider that was
asked (adopting the call there, or proving it absent) and settles the entry
(`settle_interrupted`). If that write finds the claim gone (the sweep gave it up and someone else
placed the call), nothing is sent: `ClaimLost`.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from callops.lib.isotime import format as iso
from callops.providers import circuits
from callops.providers.base import PlacementUnknown, ProviderAdapter, ProviderError
from callops.providers.registry import adapter_for

from .models import Agent, Call, CallEvent, CallStatus, EventSource
from .routing_models import AgentFallback, RoutingProfile

if TYPE_CHECKING:
    from callops.providers.base import Placement

log = logging.getLogger(__name__)

# Codes after which the provider may have dialed: never fail over, look the call up instead.
MAY_HAVE_DIALED = frozenset({"timeout", "network_error", "response_too_large", "bad_response"})
# A call's routing list is bounded: background retries append a round each time.
MAX_ROUTING_ENTRIES = 30
MAX_FALLBACKS = 5


# The outcome of an attempt whose request is out (or was, when the process placing it stopped).
SENDING = "sending"


class ClaimLost(Exception):
    """This process no longer holds the call's dial claim: another placement owns the row."""


class RoutingFailed(Exception):
    """No agent placed the call; `error` is the last refusal (what the call fails with)."""

    def __init__(self, error: ProviderError, *, all_transient: bool):
        super().__init__(error.message)
        self.error = error
        # Every refusal was one a later try can get past (5xx, 429, refused connection, open circuit).
        self.all_transient = all_transient


@dataclass
class Routed:
    placement: Placement
    adapter: ProviderAdapter
    routing: list[dict[str, Any]]   # Call.routing as it is to be written with the provider's id


def refusal_kind(exc: ProviderError) -> str | None:
    """The routing outcome of a refusal that proves nobody was dialed; None for any other error."""
    if exc.code == "connect_error":
        return "connection_refused"
    if exc.code == "rate_limited":
        return "rate_limited"
    if exc.http_status is not None and exc.http_status >= 500:
        return "provider_unavailable"
    if exc.http_status == 402 or exc.code in ("insufficient_funds", "balance_low", "quota_exceeded"):
        return "balance_low"
    if exc.http_status in (401, 403):
        return "account_refused"
    return None


TRANSIENT_OUTCOMES = frozenset({"connection_refused", "rate_limited", "provider_unavailable", "circuit_open"})


def chain(agent: Agent) -> list[Agent]:
    """The agent, then its active fallback agents in order."""
    fallbacks = [link.fallback for link in AgentFallback.objects.filter(agent=agent, fallback__is_active=True)
                 .select_related("fallback__provider_account").order_by("position")]
    return [agent, *fallbacks]


def _entry(agent: Agent, outcome: str, **extra) -> dict[str, Any]:
    return {"agent_id": str(agent.public_id), "agent": agent.name, "provider": agent.provider_account.kind,
            "provider_account": agent.provider_account.name, "outcome": outcome, "at": iso(timezone.now()),
            **{k: v for k, v in extra.items() if v not in (None, "")}}


def _move_to(call: Call, agent: Agent, primary: Agent, original: tuple[str, str],
             routing: list[dict[str, Any]] | None = None) -> bool:
    """Point the claimed row at `agent` (and, given, write `routing` with it); False when the claim
    is no longer ours. Values the row took from the primary agent (its caller ID and instructions,
    `original` as created) follow the agent; the caller's own stay."""
    from_number, instructions = original
    call.agent, call.provider_account = agent, agent.provider_account
    call.provider = agent.provider_account.kind
    call.from_number = agent.from_number if from_number == primary.from_number else from_number
    call.instructions = (agent.instructions or instructions) if instructions == primary.instructions \
        else instructions
    extra: dict[str, Any] = {}
    if routing is not None:
        call.routing = extra["routing"] = routing[-MAX_ROUTING_ENTRIES:]
    return bool(Call.objects.filter(pk=call.pk, dial_claimed_at=call.dial_claimed_at).update(
        agent=agent, provider_account=agent.provider_account, provider=call.provider,
        from_number=call.from_number, instructions=call.instructions, updated_at=timezone.now(), **extra))


def _begin_attempt(call: Call, agent: Agent, primary: Agent, original: tuple[str, str],
                   routing: list[dict[str, Any]]) -> None:
    """Commit, before the request leaves, which agent and account are asked (the row's agent and
    provider_account) and a `sending` entry for it. Outside a transaction (the worker and the API
    place calls in autocommit) so a worker killed mid-request leaves it for recovery to read."""
    routing.append(_entry(agent, SENDING))
    if not _move_to(call, agent, primary, original, routing):
        log.error("call %s: dial claim lost before asking %s; not sent", call.pk, agent.provider_account.name)
        raise ClaimLost(call.pk)


def _note(call: Call, note: str, *, payload=None) -> None:
    CallEvent.objects.create(call=call, source=EventSource.SYSTEM, kind=CallEvent.Kind.NOTE,
                             from_status=call.status, note=note[:300], payload=payload)


def _save_routing(call: Call, routing: list[dict[str, Any]]) -> None:
    call.routing = routing[-MAX_ROUTING_ENTRIES:]
    Call.objects.filter(pk=call.pk, dial_claimed_at=call.dial_claimed_at).update(routing=call.routing)


def place(call: Call, *, retry_transient: bool = False) -> Routed:
    """Place a claimed call along its agent's chain; Routed, or RoutingFailed with the last refusal.

    With `retry_transient` (the background path) a call every agent refused for a passing reason
    is handed back on its first agent, so the retry starts from the top of the chain.
    """
    primary = call.agent
    original = (call.from_number, call.instructions)
    agents = chain(primary)
    routing = list(call.routing or [])
    last: ProviderError | None = None
    all_transient = True
    for position, agent in enumerate(agents):
        account = agent.provider_account
        skipped = None
        if not account.is_active:
            skipped = ProviderError(f"the provider account {account.name} is disabled", permanent=True,
                                    code="account_disabled")
        elif not circuits.allow(account.pk):
            skipped = ProviderError(f"the circuit of provider account {account.name} is open (recent requests "
                                    "mostly failed); it is not sent calls until its cool-down ends",
                                    permanent=False, code="circuit_open")
        if skipped is not None:
            if agent.pk != call.agent_id and not _move_to(call, agent, primary, original):
                raise ClaimLost(call.pk)
            outcome, error = skipped.code, skipped
        else:
            adapter = adapter_for(account)
            _begin_attempt(call, agent, primary, original, routing)
            try:
                placement = adapter.place_call(call)
            except ProviderError as exc:
                routing.pop()  # the `sending` entry: this attempt's outcome replaces it
                outcome, error = refusal_kind(exc) or "", exc
                if not outcome:
                    return _stop(call, agent, adapter, exc, routing)
            else:
                routing[-1] = _entry(agent, "placed")
                if len(routing) > 1 or position:
                    _note(call, f"routing: placed on {agent.name} ({account.get_kind_display()})")
                return Routed(placement, adapter, routing[-MAX_ROUTING_ENTRIES:])
        last = error
        all_transient = all_transient and outcome in TRANSIENT_OUTCOMES
        routing.append(_entry(agent, outcome, error_code=error.code, error_message=error.message[:300]))
        following = agents[position + 1] if position + 1 < len(agents) else None
        then = f"; trying {following.name}" if following else ""
        _note(call, f"routing: {agent.name} ({account.get_kind_display()}) refused: {outcome}{then}",
              payload={"error_code": error.code, "error_message": error.message[:300]})
        _save_routing(call, routing)
    assert last is not None  # the chain holds at least the call's own agent
    if retry_transient and all_transient and call.agent_id != primary.pk:
        _move_to(call, primary, primary, original)
    raise RoutingFailed(last, all_transient=all_transient)


def _stop(call: Call, agent: Agent, adapter: ProviderAdapter, exc: ProviderError,
          routing: list[dict[str, Any]]) -> Routed:
    """An error that does not prove nobody was dialed: look the call up, or fail with no second dial."""
    if exc.code in MAY_HAVE_DIALED:
        found = None
        if adapter.finds_placements:
            try:
                found = adapter.find_placement(call, since=call.dial_claimed_at)
            except (PlacementUnknown, ProviderError) as lookup:
                log.info("call %s: placement lookup after %s failed: %s", call.pk, exc.code, lookup)
        if found is not None:
            routing.append(_entry(agent, "placed", note=f"found at the provider after {exc.code}"))
            _note(call, f"routing: {agent.name} answered {exc.code}; the provider has the call, so it is kept "
                        "(no second dial)")
            return Routed(found, adapter, routing[-MAX_ROUTING_ENTRIES:])
        routing.append(_entry(agent, exc.code, error_code=exc.code, error_message=exc.message[:300]))
        _note(call, f"routing: {agent.name} answered {exc.code} after the request was sent; the provider may "
                    "have dialed, so no other agent is tried")
    else:
        routing.append(_entry(agent, exc.code, error_code=exc.code, error_message=exc.message[:300]))
    _save_routing(call, routing)
    raise RoutingFailed(exc, all_transient=False)


# Failures a provider reports after accepting a create that still prove nobody was dialed: Bolna
# queues the call, then ends it `balance-low` when the wallet cannot pay for the dial.
REFUSED_AFTER_ACCEPT = frozenset({"balance_low"})


def refused_after_accept(call: Call, *, error_code: str, error_message: str, raw_status: str,
                         payload=None) -> CallEvent | None:
    """Move a queued call whose provider reported `error_code` (in REFUSED_AFTER_ACCEPT) before
    dialing to its agent's first fallback: the provider's id is dropped, the claim released and
    the call due now, so the placement sweep dials it there (along that agent's chain). The
    timeline note is returned; None, changing nothing, when there is no fallback or the row moved
    on meanwhile (the write is conditional on the status and the provider id read here)."""
    agent = call.agent
    fallbacks = fallbacks_of(agent)
    if call.status != CallStatus.QUEUED or not call.provider_call_id or not fallbacks:
        return None
    following = fallbacks[0]
    entries = [dict(e) for e in (call.routing or [])]
    if entries and entries[-1].get("outcome") == "placed" and entries[-1].get("agent_id") == str(agent.public_id):
        entries.pop()  # accepted, then refused: one step, as a refusal at create would be
    entries.append(_entry(agent, "balance_low", error_code=error_code, error_message=error_message[:300],
                          note=f"reported {raw_status} after accepting the call, before dialing"))
    from_number = following.from_number if call.from_number == agent.from_number else call.from_number
    instructions = (following.instructions or call.instructions) if call.instructions == agent.instructions \
        else call.instructions
    now = timezone.now()
    with transaction.atomic():
        moved = Call.objects.filter(pk=call.pk, status=CallStatus.QUEUED, provider_call_id=call.provider_call_id).update(
            agent=following, provider_account=following.provider_account, provider=following.provider_account.kind,
            from_number=from_number, instructions=instructions, provider_call_id="", provider_job_id="",
            provider_status=raw_status[:100], dial_claimed_at=None, scheduled_at=now, next_sync_at=None,
            routing=entries[-MAX_ROUTING_ENTRIES:], updated_at=now)
        if not moved:
            return None
        return CallEvent.objects.create(
            call=call, source=EventSource.SYSTEM, kind=CallEvent.Kind.NOTE, from_status=call.status,
            raw_status=raw_status[:100],
            note=(f"routing: {agent.name} ({agent.provider_account.get_kind_display()}) reported {raw_status} before "
                  f"dialing anyone; trying {following.name}")[:300],
            payload={"error_code": error_code, "error_message": error_message[:300],
                     "provider_call_id": call.provider_call_id, "report": payload})


def settle_interrupted(entries: list[dict[str, Any]] | None, outcome: str, *, note: str = "",
                       error_code: str = "") -> list[dict[str, Any]]:
    """`Call.routing` with the attempt a dead worker left `sending` settled as `outcome` by the
    interrupted-placement sweep (`placed` when the provider had the call). Unchanged without one."""
    entries = [dict(e) for e in (entries or [])]
    if entries and entries[-1].get("outcome") == SENDING:
        last = entries[-1]
        last.update(outcome=outcome, at=iso(timezone.now()))
        last.update({k: v for k, v in (("note", note), ("error_code", error_code)) if v})
    return entries


# --- fallback configuration ---------------------------------------------------------------------

class RoutingConfigError(ValueError):
    """Routing settings that cannot work (an agent of another organization, a loop, ...)."""


def set_fallbacks(agent: Agent, fallbacks: list[Agent]) -> None:
    """Replace the agent's fallback agents with `fallbacks`, in order."""
    seen: set[int] = set()
    for fb in fallbacks:
        if fb.organization_id != agent.organization_id:
            raise RoutingConfigError(f"no agent {fb.public_id} in this organization")
        if fb.pk == agent.pk:
            raise RoutingConfigError("an agent cannot be its own fallback")
        if fb.pk in seen:
            raise RoutingConfigError(f"agent {fb.name} is listed twice")
        seen.add(fb.pk)
    if len(fallbacks) > MAX_FALLBACKS:
        raise RoutingConfigError(f"at most {MAX_FALLBACKS} fallback agents")
    with transaction.atomic():
        AgentFallback.objects.filter(agent=agent).delete()
        AgentFallback.objects.bulk_create(
            [AgentFallback(agent=agent, fallback=fb, position=i) for i, fb in enumerate(fallbacks)])


def fallbacks_of(agent: Agent) -> list[Agent]:
    return chain(agent)[1:]


# --- weighted profiles --------------------------------------------------------------------------

def bucket(call_id: uuid.UUID, total: int) -> int:
    """A stable point in [0, total) for a call id: the same call always lands on the same agent."""
    digest = hashlib.sha256(call_id.bytes).digest()
    return int.from_bytes(digest[:8], "big") % total


def pick(profile: RoutingProfile, call_id: uuid.UUID) -> Agent:
    """The profile's agent for this call id, by weight."""
    # Read once per profile instance: a batch tick picks for many calls with the same one.
    weights = getattr(profile, "_picked_weights", None)
    if weights is None:
        weights = [(w.agent, w.weight) for w in profile.weights.select_related("agent__provider_account")
                   .order_by("position") if w.weight > 0]
        profile._picked_weights = weights  # type: ignore[attr-defined]
    if not weights:
        raise RoutingConfigError(f"routing profile {profile.name} has no agent with a weight above 0")
    point = bucket(call_id, sum(weight for _, weight in weights))
    for agent, weight in weights:
        if point < weight:
            return agent
        point -= weight
    raise AssertionError("unreachable: point is below the total")
