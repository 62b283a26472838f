"""The comparison's rollup measures, kept by real status changes in their own transaction and
equal to what `manage.py rollups --check` recounts from the calls: routing profile and currency
dimensions, estimated costs, failovers, time to answer and the talk time histogram."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from callops.analytics import comparison, periods
from callops.calls import rollup_reconcile, services
from callops.calls.models import Call, CallRollup, CallStatus, EventSource, RoutingProfile
from callops.calls.rollups import TALK_BUCKETS, TALK_EDGES, talk_bucket

pytestmark = pytest.mark.django_db

MEASURES = ("n", "answered", "billed", "cost_milli_cents", "estimated", "failovers", "answer_waited",
            "answer_wait_seconds", "answered_talk_seconds", *TALK_BUCKETS)


def counters(org):
    rows = CallRollup.objects.filter(organization=org, n__gt=0).order_by("currency", "status")
    return [{"status": r.status, "currency": r.currency, "routing_profile_pk": r.routing_profile_pk,
             **{k: getattr(r, k) for k in MEASURES if getattr(r, k)}} for r in rows]


def check_command() -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("rollups", "--check", stdout=out, stderr=io.StringIO())
        return 0, out.getvalue()
    except SystemExit as exc:
        return exc.code, out.getvalue()


def walk(call, clock, *, wait, talk, fields=None):
    services.apply_status(call, CallStatus.RINGING, source=EventSource.POLL)
    clock.advance(wait)
    services.apply_status(call, CallStatus.IN_PROGRESS, source=EventSource.POLL)
    clock.advance(talk)
    services.apply_status(call, CallStatus.COMPLETED, source=EventSource.CALLBACK,
                          fields={"duration_seconds": talk, **(fields or {})})


def test_status_changes_keep_the_new_measures_and_check_finds_no_drift(personas, sandbox_agent, clock):
    profile = RoutingProfile.objects.create(organization=personas.org, name="A/B")
    account = sandbox_agent.provider_account
    account.price_currency, account.price_per_call_milli_cents = "EUR", 700
    account.save()

    reported = services.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550100")
    Call.objects.filter(pk=reported.pk).update(routing_profile=profile)
    walk(reported, clock, wait=7, talk=95, fields={"billing_amount_milli_cents": 2000})
    assert counters(personas.org) == [{
        "status": "completed", "currency": "USD", "routing_profile_pk": profile.pk, "n": 1, "answered": 1,
        "billed": 1, "cost_milli_cents": 2000, "answer_waited": 1, "answer_wait_seconds": 7,
        "answered_talk_seconds": 95, "talk_b06": 1}]

    # Priced from the table (EUR, estimated), and routed twice: a failover.
    estimated = services.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550101")
    Call.objects.filter(pk=estimated.pk).update(routing=[{"outcome": "provider_unavailable"}, {"outcome": "placed"}])
    walk(estimated, clock, wait=0, talk=1300)
    # Not answered: in no talk or answer measure; the table's per-call price still applies.
    missed = services.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550102")
    services.apply_status(missed, CallStatus.RINGING, source=EventSource.POLL)
    clock.advance(30)
    services.apply_status(missed, CallStatus.NO_ANSWER, source=EventSource.POLL)

    assert counters(personas.org) == [
        {"status": "completed", "currency": "EUR", "routing_profile_pk": 0, "n": 1, "answered": 1, "billed": 1,
         "cost_milli_cents": 700, "estimated": 1, "failovers": 1, "answer_waited": 1,
         "answered_talk_seconds": 1300, "talk_b11": 1},
        {"status": "no_answer", "currency": "EUR", "routing_profile_pk": 0, "n": 1, "billed": 1,
         "cost_milli_cents": 700, "estimated": 1},
        {"status": "completed", "currency": "USD", "routing_profile_pk": profile.pk, "n": 1, "answered": 1,
         "billed": 1, "cost_milli_cents": 2000, "answer_waited": 1, "answer_wait_seconds": 7,
         "answered_talk_seconds": 95, "talk_b06": 1},
    ]
    assert check_command() == (0, "rollups match the calls\n")
    assert rollup_reconcile.check() == []

    # Both currencies side by side, never summed together.
    now = datetime.now(UTC)
    result = comparison.compare(personas.org, "provider", periods.period(None, None, now=now)).as_dict()
    assert result["data"][0]["cost"] == [
        {"currency": "EUR", "total_milli_cents": 1400, "per_call_milli_cents": 467,
         "per_completed_call_milli_cents": 700, "estimated": True},
        {"currency": "USD", "total_milli_cents": 2000, "per_call_milli_cents": 667,
         "per_completed_call_milli_cents": 1000, "estimated": False}]
    assert result["data"][0]["talk_time"] == {"calls": 2, "average_seconds": 697.5, "p90_seconds": 1200}


def test_a_drifted_measure_is_reported_and_rebuilt(personas, sandbox_agent, clock):
    call = services.create_call(org=personas.org, agent=sandbox_agent, to_number="+14155550100")
    walk(call, clock, wait=3, talk=50)  # talk_b04: 45-60 s
    CallRollup.objects.filter(organization=personas.org, n__gt=0).update(talk_b04=0, talk_b03=1)
    code, out = check_command()
    assert code == 1
    assert "talk_b03 1 -> 0" in out and "talk_b04 0 -> 1" in out
    call_command("rollups", "--rebuild", stdout=io.StringIO())
    assert rollup_reconcile.check() == []
    assert CallRollup.objects.get(organization=personas.org, n__gt=0).talk_b04 == 1


@pytest.mark.parametrize(("seconds", "bucket"), [(0, 0), (9, 0), (10, 1), (44, 3), (45, 4), (119, 6), (120, 7),
                                                 (599, 9), (600, 10), (1199, 10), (1200, 11), (86400, 11)])
def test_talk_buckets_have_fixed_edges(seconds, bucket):
    assert talk_bucket(seconds) == bucket
    assert TALK_EDGES[bucket] <= seconds


@pytest.mark.parametrize(("histogram", "p90"), [
    ([0] * 12, None),
    ([1] + [0] * 11, 10),
    ([9, 1] + [0] * 10, 10),  # the 9th of 10 calls is in the first bucket
    ([8, 2] + [0] * 10, 20),
    ([0] * 11 + [3], 1200),  # the open last bucket gives its lower edge
])
def test_p90_is_the_upper_edge_of_its_bucket(histogram, p90):
    assert comparison.percentile(histogram, 0.9) == p90


def test_time_to_answer_is_whole_seconds_between_truncated_times_in_sql_too(personas, sandbox_agent):
    started = datetime(2026, 3, 10, 12, 0, 0, 900_000, tzinfo=UTC)
    Call.objects.create(organization=personas.org, agent=sandbox_agent, provider="sandbox",
                        provider_account=sandbox_agent.provider_account, to_number="+14155550100",
                        status="in_progress", created_at=started, started_at=started,
                        answered_at=started + timedelta(seconds=4, milliseconds=200))
    # 12:00:00.9 to 12:00:05.1: whole seconds 0 to 5.
    assert CallRollup.objects.get(organization=personas.org, n__gt=0).answer_wait_seconds == 5
    assert rollup_reconcile.check() == []


def test_deleting_a_routing_profile_moves_its_calls_to_no_profile_without_drift(personas, sandbox_agent):
    from callops.calls import routing_profiles

    profile = RoutingProfile.objects.create(organization=personas.org, name="Gone soon")
    call = Call.objects.create(organization=personas.org, agent=sandbox_agent, provider="sandbox",
                               provider_account=sandbox_agent.provider_account, to_number="+14155550100",
                               routing_profile=profile)
    assert list(CallRollup.objects.filter(n__gt=0).values_list("routing_profile_pk", "n")) == [(profile.pk, 1)]
    routing_profiles.delete(profile)
    call.refresh_from_db()
    assert call.routing_profile_id is None
    assert list(CallRollup.objects.filter(n__gt=0).values_list("routing_profile_pk", "n")) == [(0, 1)]
    assert rollup_reconcile.check() == []
