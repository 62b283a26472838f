"""Provider circuits: outcomes of placements and polls per account, open past the threshold, a
cool-down, one half-open probe, then closed; routing skips an open circuit; the provider page
shows it; triage explains it."""

import pytest
from django.urls import reverse

from callops.calls import services
from callops.calls.models import Call, CallStatus
from callops.providers import circuits
from callops.providers.emulators.core import Faults
from callops.triage import explanations

from .conftest import new_call

pytestmark = pytest.mark.django_db


def _fail(account_id, n, outcome=circuits.ERROR):
    for _ in range(n):
        circuits.record(account_id, outcome, 0.2)


def test_the_circuit_opens_cools_down_half_opens_for_one_probe_and_closes(sandbox_agent, clock, settings):
    settings.PROVIDER_CIRCUIT_COOLDOWN_SECONDS = 60
    pk = sandbox_agent.provider_account.pk
    _fail(pk, 9)
    _fail(pk, 10, circuits.OK)
    assert circuits.health(pk).state == circuits.CLOSED  # 19 requests: under the 20 a verdict needs
    circuits.record(pk, circuits.THROTTLED, 0.1)  # the 20th: 10 of 20 went wrong, the 50 % threshold
    health = circuits.health(pk)
    assert (health.state, health.samples, health.errors, health.throttled, health.error_percent) == (
        circuits.OPEN, 20, 9, 1, 50)
    assert health.reason == "9 errors and 1 429s in the last 20 requests"
    assert not circuits.allow(pk)
    clock.advance(59)
    assert not circuits.allow(pk) and circuits.health(pk).state == circuits.OPEN
    clock.advance(1)
    assert circuits.health(pk).state == circuits.HALF_OPEN
    assert circuits.allow(pk)       # the one probe
    assert not circuits.allow(pk)   # everyone else waits for its outcome
    circuits.record(pk, circuits.OK, 0.1)
    health = circuits.health(pk)
    assert (health.state, health.samples) == (circuits.CLOSED, 0)  # the bad window is forgotten
    assert circuits.allow(pk) and circuits.allow(pk)


def test_a_failed_probe_opens_the_circuit_for_another_cool_down(sandbox_agent, clock, settings):
    settings.PROVIDER_CIRCUIT_COOLDOWN_SECONDS = 30
    pk = sandbox_agent.provider_account.pk
    _fail(pk, 20)
    clock.advance(30)
    assert circuits.allow(pk)
    circuits.record(pk, circuits.ERROR, 1.0)
    assert circuits.health(pk).state == circuits.OPEN
    assert circuits.health(pk).reason == "the probe after the cool-down failed (error)"
    clock.advance(29)
    assert not circuits.allow(pk)
    clock.advance(1)
    assert circuits.allow(pk)


def test_the_window_is_bounded_and_a_refused_request_is_not_the_providers_fault(sandbox_agent, settings):
    settings.PROVIDER_CIRCUIT_WINDOW = 30
    pk = sandbox_agent.provider_account.pk
    _fail(pk, 14)
    _fail(pk, 100, circuits.OK)
    assert circuits.health(pk).samples == 30
    from callops.providers.base import ProviderError

    bad_number = ProviderError("CallingBox answered 400", permanent=True, code="invalid_request", http_status=400)
    assert circuits.outcome_of(bad_number) == circuits.OK
    assert circuits.outcome_of(ProviderError("x", permanent=False, code="rate_limited", http_status=429)) == "429"
    assert circuits.outcome_of(ProviderError("x", permanent=False, code="timeout")) == circuits.ERROR
    # Our own spent budget is not the provider's answer: nothing to record.
    assert circuits.outcome_of(ProviderError("x", permanent=False, code="rate_limited")) == circuits.OK


def test_failing_placements_open_the_circuit_and_then_no_request_is_sent(emulators, make_agent, settings):
    settings.PROVIDER_CIRCUIT_MIN_SAMPLES = 5
    emu = emulators("callingbox", faults=Faults(p500=1.0))
    agent = make_agent("callingbox", emu)
    for i in range(5):
        call = services.place_call(new_call(agent, f"+1415555018{i}"))
        assert call.error_code == "provider_unavailable"
    sent = sum(emu.requests.values())
    assert circuits.health(agent.provider_account.pk).state == circuits.OPEN
    call = services.place_call(new_call(agent, "+14155550189"))
    assert call.status == CallStatus.FAILED and call.error_code == "circuit_open"
    assert sum(emu.requests.values()) == sent  # skipped: not asked at all
    assert [e["outcome"] for e in Call.objects.get(pk=call.pk).routing] == ["circuit_open"]
    cause = explanations.for_call("failed", "circuit_open", "")
    assert cause.title == "Provider circuit open" and "fallback agent" in cause.fix


def test_a_background_call_waits_out_an_open_circuit(emulators, make_agent, settings):
    from django.utils import timezone

    emu = emulators("callingbox")
    agent = make_agent("callingbox", emu)
    _fail(agent.provider_account.pk, 20)
    call = new_call(agent, "+14155550190", scheduled_at=timezone.now())
    services.place_call(call, retry_transient=True)
    call.refresh_from_db()
    assert call.status == CallStatus.QUEUED and call.dial_claimed_at is None and call.scheduled_at > timezone.now()
    assert emu.creates["+14155550190"] == 0


def test_the_provider_page_shows_each_accounts_health_and_closes_a_circuit(personas, sandbox_agent, make_agent,
                                                                         emulators, outsider_agent):
    healthy = make_agent("bolna", emulators("bolna"))
    _fail(sandbox_agent.provider_account.pk, 20)
    _fail(healthy.provider_account.pk, 3, circuits.OK)
    page = personas.viewer.client().get(reverse("dashboard:providers")).content.decode()
    assert f'data-testid="health-{sandbox_agent.provider_account.name}" data-circuit="open"' in page
    assert f'data-testid="health-{healthy.provider_account.name}" data-circuit="closed"' in page
    assert "20 errors and 0 429s in the last 20 requests" in page and "100%" in page
    assert "Close circuit" not in page  # viewers see, admins act
    fragment = personas.viewer.client().get(reverse("dashboard:provider_health"))
    assert fragment.status_code == 200 and 'id="provider-health"' in fragment.content.decode()
    url = reverse("dashboard:provider_circuit_reset", args=[sandbox_agent.provider_account.public_id])
    assert personas.viewer.client().post(url).status_code == 403
    outsider_url = reverse("dashboard:provider_circuit_reset", args=[outsider_agent.provider_account.public_id])
    assert personas.admin.client().post(outsider_url).status_code == 404
    assert personas.outsider.client().post(url).status_code == 404
    assert circuits.health(sandbox_agent.provider_account.pk).state == circuits.OPEN
    response = personas.admin.client().post(url)
    assert response.status_code == 302
    assert circuits.health(sandbox_agent.provider_account.pk).state == circuits.CLOSED

